package native_test

import (
	"context"
	"log"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/native"
)

// Start a native routing plugin and use it as the router's plugins.Router.
// (Compiled, not run: it needs a built plugin binary.)
func ExampleLoad() {
	p, err := native.Load(context.Background(), native.Config{
		Name:         "price",
		Kind:         plugins.KindRoute,
		Binary:       "./price-router",
		OnError:      plugins.OnErrorOpen,
		Timeout:      200 * time.Millisecond,
		Env:          []string{"PRICES_API_TOKEN"}, // nothing else of the router's environment
		PluginConfig: []byte(`{"prices_file": "prices.json"}`),
	})
	if err != nil {
		log.Fatal(err) // the binary did not start, failed the handshake or its Init
	}
	defer p.Close()

	var r plugins.Router = p
	ups := []plugins.Upstream{{Name: "azure-eu", Region: "westeurope", Healthy: true}}
	order, err := r.Route(context.Background(), &plugins.Request{Model: []byte("gpt-5.5")}, ups, nil)
	_, _ = order, err // err is a 503 *plugins.Error only with on_error: closed
	_ = p.Healthy()   // for /readyz
	_ = p.Stats()     // for metrics
}
