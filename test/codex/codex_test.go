package codex

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
)

// Codex 0.169, pointed straight at the OpenAI mock's native Responses endpoint, runs the shell
// command the mock's directive asks for, gets the tool output back to the mock and finishes with
// the mock's answer quoting it.
func TestCodexExecAgainstMock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv, err := mockcloud.Start(mockcloud.Options{Provider: mockcloud.OpenAI, APIKey: "sk-mock"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	res, err := Exec(ctx, Run{
		BaseURL: srv.URL() + "/v1", Model: "gpt-oss-120b", APIKey: "sk-mock", Dir: t.TempDir(),
		Prompt: `Write the file. [[call exec_command {"cmd":"printf 'hi from codex' > out.txt"}]]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("codex exited %d\nstdout: %s\nstderr: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	got, err := os.ReadFile(filepath.Join(res.Dir, "out.txt"))
	if err != nil || string(got) != "hi from codex" {
		t.Fatalf("out.txt = %q, %v\nstderr: %s", got, err, res.Stderr)
	}
	if !strings.Contains(res.LastMessage, "Tool exec_command returned") {
		t.Fatalf("last message %q", res.LastMessage)
	}
	if calls := srv.Calls(); calls < 2 {
		t.Fatalf("mock saw %d requests, want the call and the tool result", calls)
	}
	last := srv.LastRequest()
	if last.Path != "/v1/responses" || !strings.Contains(string(last.Body), `"function_call_output"`) {
		t.Fatalf("last request %s %s", last.Path, last.Body[:min(len(last.Body), 200)])
	}
}

// The config Exec writes names one responses provider at the given base URL.
func TestConfig(t *testing.T) {
	c := Config(Run{BaseURL: "http://127.0.0.1:1/v1", Model: "m"})
	for _, want := range []string{`model = "m"`, `wire_api = "responses"`, `base_url = "http://127.0.0.1:1/v1"`, `env_key = "SWITCHYARD_API_KEY"`} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %s:\n%s", want, c)
		}
	}
}
