package plugins_test

import (
	"fmt"

	"github.com/switchyard-dev/switchyard/plugins"
)

// A redaction plugin filled the vault; the answer is restored before it goes
// back to the client, JSON-escaped, also when a placeholder is split across
// streamed fragments.
func ExampleVault() {
	v := plugins.AcquireVault()
	defer plugins.ReleaseVault(v)
	v.Add([]byte("<EMAIL_1>"), []byte(`bob "the builder"@example.com`))

	fmt.Printf("%s\n", v.Restore(nil, []byte(`{"content":"Wrote to <EMAIL_1>."}`)))

	var r plugins.StreamRestorer
	r.Reset(v)
	out := r.Restore(nil, []byte("Hi <EMA"))
	out = r.Restore(out, []byte("IL_1>!"))
	out = r.Flush(out)
	fmt.Printf("%s\n", out)
	// Output:
	// {"content":"Wrote to bob \"the builder\"@example.com."}
	// Hi bob \"the builder\"@example.com!
}
