// Command testplugin is the native plugin the tests of plugins/native start.
// Its config picks what it does:
//
//	{"mode": "first"}   Route picks upstream 0; Redact replaces every
//	                    "bob@example.com" with <EMAIL_n>
//	{"mode": "hang"}    Route and Redact never answer
//	{"mode": "env"}     Redact answers with the process's environment
//	{"mode": "output"}  Init writes test lines to stderr and stdout
//	{"mode": "fail"}    Init fails
//	{"mode": "crash"}   Route exits the process
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/native/sdk"
)

type config struct {
	Mode string `json:"mode"`
}

var mode string

func initPlugin(raw []byte) error {
	var c config
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	mode = c.Mode
	switch mode {
	case "fail":
		return errors.New("testplugin: init refused on purpose")
	case "output":
		fmt.Fprint(os.Stderr, "first half ")
		os.Stderr.Sync()
		fmt.Fprintln(os.Stderr, "second half")
		log.SetFlags(0)
		log.Print("via the log package")
		fmt.Fprintln(os.Stdout, "on stdout")
		fmt.Fprintln(os.Stderr, strings.Repeat("x", 20000))
		fmt.Fprintln(os.Stderr, "after the long line")
	}
	return nil
}

type hooks struct{}

var email = []byte("bob@example.com")

func (hooks) Route(ctx context.Context, req *plugins.Request, ups []plugins.Upstream, dst []int) ([]int, error) {
	switch mode {
	case "hang":
		select {}
	case "crash":
		os.Exit(3)
	}
	if len(ups) == 0 {
		return dst, nil
	}
	return append(dst, 0), nil
}

func (hooks) Redact(ctx context.Context, body, dst []byte, v *plugins.Vault) ([]byte, error) {
	switch mode {
	case "hang":
		select {}
	case "env":
		env, _ := json.Marshal(os.Environ())
		return append(dst, env...), nil
	}
	if !bytes.Contains(body, email) {
		return dst, nil
	}
	ph := sdk.Placeholder(nil, v, "EMAIL")
	v.Add(ph, email)
	return append(dst, bytes.ReplaceAll(body, email, ph)...), nil
}

func main() {
	sdk.Serve(sdk.Plugin{Name: "testplugin", Version: "0.0.1", Init: initPlugin, Router: hooks{}, Redactor: hooks{}})
}
