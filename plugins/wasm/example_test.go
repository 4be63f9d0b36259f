package wasm_test

import (
	"context"
	"fmt"
	"log"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/wasm"
)

// A Set owns the configured plugins; the router asks it for a tenant's
// routing chain once and calls it per request.
func ExampleSet() {
	ctx := context.Background()
	set, err := wasm.NewSet(ctx, []wasm.Config{
		{Name: "healthy", Kind: plugins.KindRoute, Wasm: "../../examples/plugins/wat/healthy-only/plugin.wasm"},
	}, wasm.Options{PollInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer set.Close()

	router := set.Router(nil) // all plugins; a tenant may name a subset
	ups := []plugins.Upstream{
		{Name: "azure-eu", Healthy: false},
		{Name: "bedrock-us", Healthy: true},
		{Name: "openai", Healthy: true},
	}
	order, err := router.Route(ctx, &plugins.Request{Model: []byte("gpt-5.5")}, ups, nil)
	fmt.Println(order, err)
	// Output: [1 2] <nil>
}

// A plugin that fails follows its on_error policy; "closed" turns the
// failure into a 503 the router sends as an OpenAI error.
func ExampleSet_Redactor() {
	ctx := context.Background()
	set, err := wasm.NewSet(ctx, []wasm.Config{
		{Name: "pii", Kind: plugins.KindRedact, Wasm: "testdata/loop.wasm", OnError: plugins.OnErrorClosed},
	}, wasm.Options{PollInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer set.Close()

	v := plugins.AcquireVault()
	defer plugins.ReleaseVault(v)
	_, err = set.Redactor(nil).Redact(ctx, []byte(`{"messages":[]}`), nil, v)
	if pe, ok := err.(*plugins.Error); ok {
		fmt.Println(pe.Status, pe.Code, pe.Message)
	}
	// Output: 503 plugin_failed redaction plugin "pii" failed: fuel exhausted
}
