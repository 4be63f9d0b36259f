package router_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/router/config"
)

// The npm `openai` package completes a chat and consumes a stream through
// Switchyard, through an OpenAI and an Azure upstream. The test installs the
// package (test/node, pinned in package-lock.json) when it is missing; node
// itself is part of the machine (.ci/run installs it where it is not).
func TestNodeOpenAIClient(t *testing.T) {
	node, dir := nodeClient(t)
	for _, kind := range []string{"openai", "azure"} {
		t.Run(kind, func(t *testing.T) {
			u := openaiUpstream("up", openaiMock(t))
			if kind == "azure" {
				u = azureUpstream("up", azureMock(t), "deployments")
			}
			base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, node, filepath.Join(dir, "client.mjs"), base, "gpt-4o-mini").Output()
			if err != nil {
				t.Fatalf("node client: %v\n%s", err, out)
			}
			var got struct {
				Content, Streamed, Finish string
				Usage                     int
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got.Content != "You said: Hello from node" || got.Streamed != got.Content || got.Finish != "stop" || got.Usage == 0 {
				t.Fatalf("node saw %+v", got)
			}
		})
	}
}

// nodeClient returns node and test/node with the pinned npm `openai` package
// installed (npm ci from its lock file when it is missing).
func nodeClient(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the npm client test: run `make test`, which installs it")
	}
	dir, _ = filepath.Abs("../test/node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	return node, dir
}
