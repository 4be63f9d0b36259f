// Command switchyard is the edge router's CLI. It parses flags and calls
// packages; the logic lives in router/, plugins/ and internal/.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

var version = "dev"

const usage = `switchyard — an edge router for LLM APIs

Usage:
  switchyard serve    --config FILE [--listen ADDR] [--pprof ADDR] [--log-level LEVEL]
  switchyard validate --config FILE
  switchyard demo     [--listen ADDR]            mock clouds + router + example plugins on loopback
  switchyard mock     [--config FILE]            only the mock clouds a config points at
  switchyard plugin new --lang go|rust|c|assemblyscript|wat --kind route|redact NAME
  switchyard plugin build [DIR]              detect the language, build plugin.wasm, check it against ABI v1
  switchyard plugin test FILE.wasm --request req.json [--upstreams ups.json]
  switchyard plugin test --conformance FILE.wasm    the shared vectors of plugins/conformance
  switchyard version
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "serve":
		err = serve(args)
	case "validate":
		err = validate(args)
	case "demo":
		err = demoMain(args)
	case "mock":
		err = mock(args)
	case "plugin":
		err = pluginDispatch(args)
	case "version", "--version", "-v":
		fmt.Println("switchyard", version)
	case "help", "--help", "-h":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "switchyard: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "switchyard:", err)
		os.Exit(1)
	}
}

func parseJSONObject(b []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
