package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/test/codex"
)

// responsesClouds are one upstream per way the Responses API is served:
// natively (OpenAI, Azure v1, Bedrock Mantle, Vertex partner model) and
// translated onto Chat Completions (Bedrock Converse, Vertex Gemini). Each
// serves the public model "codex".
func responsesClouds(t *testing.T) map[string]config.Upstream {
	t.Helper()
	ups := map[string]config.Upstream{}
	o := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test"})
	ups["openai-native"] = config.Upstream{Name: "openai", Provider: "openai", BaseURL: o.URL(), Auth: config.Auth{APIKey: "sk-test"},
		Models: map[string]string{"codex": "gpt-oss-120b"}}
	a := startMock(t, mockcloud.Options{Provider: "azure", APIKey: "az-test"})
	ups["azure-native"] = config.Upstream{Name: "azure", Provider: "azure", BaseURL: a.URL(), API: "v1", Auth: config.Auth{APIKey: "az-test"},
		Models: map[string]string{"codex": "gpt-oss-prod"}}
	b := startMock(t, mockcloud.Options{Provider: "bedrock", AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret"})
	sig := config.Auth{AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret"}
	ups["bedrock-mantle"] = config.Upstream{Name: "bedrock-mantle", Provider: "bedrock", BaseURL: b.URL(), Region: "us-east-1", Auth: sig,
		Models: map[string]string{"codex": "openai.gpt-oss-120b-1:0"}, Responses: "native"}
	ups["bedrock-converse"] = config.Upstream{Name: "bedrock-converse", Provider: "bedrock", BaseURL: b.URL(), Region: "us-east-1", API: "converse", Auth: sig,
		Models: map[string]string{"codex": "openai.gpt-oss-120b-1:0"}}
	vu, _ := vertexUpstream(t, "vertex-native")
	vu.Models = map[string]string{"codex": "openai/gpt-oss-120b-maas"}
	ups["vertex-native"] = vu
	vt, _ := vertexUpstream(t, "vertex-translated")
	vt.Models = map[string]string{"codex": "google/gemini-2.5-flash"}
	ups["vertex-translated"] = vt
	return ups
}

// openai-go's Responses client, JSON and streamed, with a function-call round
// trip and usage, through every cloud, native or translated, with the
// pipeline's redaction in force.
func TestResponsesOnEveryCloud(t *testing.T) {
	for name, u := range responsesClouds(t) {
		t.Run(name, func(t *testing.T) {
			base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}})
			c := openai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("sk-any"), option.WithMaxRetries(0))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tools := []responses.ToolUnionParam{responses.ToolParamOfFunction("exec_command",
				map[string]any{"type": "object", "properties": map[string]any{"cmd": map[string]any{"type": "string"}}}, false)}
			prompt := `[[call exec_command {"cmd":"echo hi"}]]`
			var raw *http.Response
			res, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "codex", Tools: tools,
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(prompt)}}, option.WithResponseInto(&raw))
			if err != nil {
				t.Fatal(err)
			}
			if raw.Header.Get("x-switchyard-upstream") != u.Name {
				t.Fatalf("served by %q", raw.Header.Get("x-switchyard-upstream"))
			}
			var call responses.ResponseFunctionToolCall
			for _, it := range res.Output {
				if it.Type == "function_call" {
					call = it.AsFunctionCall()
				}
			}
			if call.Name != "exec_command" || call.Arguments != `{"cmd":"echo hi"}` || call.CallID == "" || res.Usage.TotalTokens == 0 {
				t.Fatalf("response %s", res.RawJSON())
			}
			out := responses.ResponseInputItemParamOfFunctionCallOutput("hi")
			out.OfFunctionCallOutput.CallID = openai.String(call.CallID)
			history := responses.ResponseInputParam{
				responses.ResponseInputItemParamOfMessage(prompt, responses.EasyInputMessageRoleUser),
				responses.ResponseInputItemParamOfFunctionCall(call.Arguments, call.CallID, call.Name),
				out,
			}
			res, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "codex", Tools: tools,
				Input: responses.ResponseNewParamsInputUnion{OfInputItemList: history}})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.OutputText(); got != "Tool exec_command returned: hi" {
				t.Fatalf("text %q in %s", got, res.RawJSON())
			}
			st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "codex",
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("stream me please")}})
			var deltas string
			var final *responses.Response
			for st.Next() {
				switch ev := st.Current(); ev.Type {
				case "response.output_text.delta":
					deltas += ev.Delta
				case "response.completed":
					r := ev.AsResponseCompleted().Response
					final = &r
				}
			}
			if err := st.Err(); err != nil {
				t.Fatal(err)
			}
			if final == nil || final.OutputText() != deltas || !strings.Contains(deltas, "stream me please") || final.Usage.OutputTokens == 0 {
				t.Fatalf("deltas %q final %+v", deltas, final)
			}
		})
	}
}

// Fallback crosses clouds and translation: Azure answers 429 with
// retry-after, the same request completes on Bedrock Converse (translated
// afresh for it).
func TestResponsesFallbackAzureToBedrock(t *testing.T) {
	ups := responsesClouds(t)
	az, br := ups["azure-native"], ups["bedrock-converse"]
	m := startMock(t, mockcloud.Options{Provider: "azure", APIKey: "az-test"})
	az.BaseURL = m.URL()
	m.Inject(mockcloud.Fault{Status: 429, RetryAfter: 30 * time.Second})
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{az, br}})
	for _, stream := range []bool{false, true} {
		if stream {
			m.Inject(mockcloud.Fault{Status: 429, RetryAfter: 30 * time.Second})
		}
		status, h, body := postPath(t, base, "/v1/responses", `{"model":"codex","stream":`+map[bool]string{false: "false", true: "true"}[stream]+`,"input":"fall back please"}`)
		if status != 200 || h.Get("x-switchyard-upstream") != "bedrock-converse" || !strings.Contains(body, "fall back please") {
			t.Fatalf("stream=%v: %d %s %s", stream, status, h.Get("x-switchyard-upstream"), body)
		}
		if stream && !strings.Contains(body, "event: response.completed") {
			t.Fatalf("stream did not complete: %s", body)
		}
	}
}

// Bad Responses input is a 400 in OpenAI's shape naming the field.
func TestResponsesBadInput(t *testing.T) {
	ups := responsesClouds(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{ups["bedrock-converse"]}})
	for body, param := range map[string]string{
		`{"model":"codex","input":[{"type":"bogus_item"}]}`:                         "input[0]",
		`{"model":"codex","input":[{"type":"message","role":"user","content":42}]}`: "input[0].content",
		`{"model":"codex","input":"x","tools":[{"type":"image_generation"}]}`:       "tools[0]",
		`{"model":"codex","input":"x","previous_response_id":"resp_1"}`:             "previous_response_id",
		`{"model":"codex","input":"x","background":true}`:                           "background",
		`{"model":"codex","input":"x","input":"y"}`:                                 "input",
	} {
		status, _, resp := postPath(t, base, "/v1/responses", body)
		if e := decodeErr(t, resp); status != 400 || !strings.HasPrefix(e.Error.Param, param) {
			t.Errorf("%s: %d %+v", body, status, e)
		}
	}
}

func postPath(t *testing.T, base, path, body string) (int, http.Header, string) {
	t.Helper()
	return post(t, base+strings.TrimSuffix(path, "/v1/chat/completions"), body)
}

// The Codex CLI (0.169, from npm) completes an agent task against
// Switchyard on every cloud: the mock asks for one shell command that writes
// a file, Codex runs it, sends the output back, and prints the final answer.
// Runs share one Codex install and go in parallel.
func TestCodexOnEveryCloud(t *testing.T) {
	if _, err := codex.Install(context.Background()); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clouds := responsesClouds(t)
	for name, u := range clouds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mu.Lock()
			base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}})
			mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			dir := t.TempDir()
			res, err := codex.Exec(ctx, codex.Run{BaseURL: base + "/v1", Model: "codex", APIKey: "sk-any", Dir: dir,
				Prompt: `Write the file. [[call exec_command {"cmd":"printf 'hi from ` + name + `' > out.txt"}]]`})
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != 0 {
				t.Fatalf("codex exited %d\nstderr: %s", res.ExitCode, res.Stderr)
			}
			got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
			if err != nil || string(got) != "hi from "+name {
				t.Fatalf("out.txt = %q, %v\nstderr: %s", got, err, res.Stderr)
			}
			if !strings.Contains(res.LastMessage, "Tool exec_command returned") {
				t.Fatalf("final message %q", res.LastMessage)
			}
		})
	}
}

// The npm `openai` package's responses.create (with a function-call round
// trip) and responses.stream, through every Responses cloud.
func TestNodeOpenAIResponses(t *testing.T) {
	node, dir := nodeClient(t)
	for name, u := range responsesClouds(t) {
		t.Run(name, func(t *testing.T) {
			base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, node, filepath.Join(dir, "responses.mjs"), base, "codex").Output()
			if err != nil {
				t.Fatalf("node client: %v\n%s", err, out)
			}
			var got struct {
				Call, Args, Answer, Streamed, Final string
				Usage                               int
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got.Call != "exec_command" || got.Args != `{"cmd":"echo hi"}` || got.Answer != "Tool exec_command returned: hi" ||
				!strings.Contains(got.Streamed, "stream from node") || got.Final != got.Streamed || got.Usage == 0 {
				t.Fatalf("node saw %+v", got)
			}
		})
	}
}

// Redaction sees every text a Responses request carries — instructions,
// message text parts, function call arguments and function call outputs — on
// native and translated upstreams alike; the cloud never sees the address and
// the client gets it back, in JSON and streamed answers.
func TestResponsesRedaction(t *testing.T) {
	redact := []config.Plugin{{Name: "pii", Kind: "redact", Wasm: examplePlugin(t, "redact-email")}}
	clouds := responsesClouds(t)
	for _, name := range []string{"openai-native", "bedrock-converse"} {
		t.Run(name, func(t *testing.T) {
			m := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test"})
			u := clouds[name]
			if name == "openai-native" {
				u.BaseURL = m.URL()
			}
			base := startRouterWithPlugins(t, &config.Config{Upstreams: []config.Upstream{u}, Plugins: redact, Cache: config.Cache{Policy: "off"}})
			body := `{"model":"codex","instructions":"Mail ops@corp.example when done.","input":[` +
				`{"type":"message","role":"user","content":[{"type":"input_text","text":"I am ann@a.example"}]},` +
				`{"type":"function_call","call_id":"c1","name":"lookup","arguments":"{\"who\":\"bob@b.example\"}"},` +
				`{"type":"function_call_output","call_id":"c1","output":"bob@b.example is away"},` +
				`{"type":"message","role":"user","content":"Reply to ann@a.example"}]}`
			for _, stream := range []string{"false", "true"} {
				status, _, resp := postPath(t, base, "/v1/responses", strings.Replace(body, `{"model":"codex",`, `{"model":"codex","stream":`+stream+`,`, 1))
				// The mocks echo the newest user text or quote the tool result:
				// either way an address comes back restored, and no
				// placeholder is left.
				restored := strings.Contains(resp, "ann@a.example") || strings.Contains(resp, "bob@b.example is away")
				if status != 200 || !restored || strings.Contains(resp, "EMAIL_") {
					t.Fatalf("stream=%s: %d %s", stream, status, resp)
				}
			}
			if name == "openai-native" {
				sent := string(m.LastRequest().Body)
				for _, addr := range []string{"ops@corp.example", "ann@a.example", "bob@b.example"} {
					if strings.Contains(sent, addr) {
						t.Fatalf("the cloud saw %s in %s", addr, sent)
					}
				}
			}
		})
	}
}

// The cache serves deterministic Responses requests from their own key space,
// converted between JSON and stream on a hit, after native and translated
// answers alike; a chat request with the same text never hits a Responses
// entry.
func TestResponsesCache(t *testing.T) {
	clouds := responsesClouds(t)
	for _, name := range []string{"openai-native", "bedrock-converse"} {
		for _, firstStream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/first-stream=%v", name, firstStream), func(t *testing.T) {
				base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{clouds[name]}})
				body := func(stream bool) string {
					return fmt.Sprintf(`{"model":"codex","temperature":0,"stream":%v,"input":"cache me %s %v"}`, stream, name, firstStream)
				}
				status, h, first := postPath(t, base, "/v1/responses", body(firstStream))
				if status != 200 || h.Get("x-switchyard-cache") != "miss" {
					t.Fatalf("first: %d %s %s", status, h.Get("x-switchyard-cache"), first)
				}
				for _, stream := range []bool{!firstStream, firstStream} {
					status, h, got := postPath(t, base, "/v1/responses", body(stream))
					if status != 200 || h.Get("x-switchyard-cache") != "hit" {
						t.Fatalf("stream=%v: %d %q", stream, status, h.Get("x-switchyard-cache"))
					}
					if want := fmt.Sprintf("cache me %s %v", name, firstStream); !strings.Contains(got, want) {
						t.Fatalf("stream=%v: the hit lost the text: %s", stream, got)
					}
					if stream != strings.Contains(got, "event: response.completed") {
						t.Fatalf("stream=%v answered in the wrong mode: %.200s", stream, got)
					}
				}
				c := client(base)
				var raw *http.Response
				if _, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "codex",
					Temperature: openai.Float(0), Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("cache me %s %v", name, firstStream))}},
					option.WithResponseInto(&raw)); err == nil && raw.Header.Get("x-switchyard-cache") == "hit" {
					t.Fatal("a chat request hit a Responses entry")
				}
			})
		}
	}
}

// The same Codex task completes when the first cloud throttles: Azure answers
// 429 with retry-after, the router falls back to Bedrock Converse (translated)
// before the first byte, and Codex never sees the 429.
func TestCodexFallsBackAzureToBedrock(t *testing.T) {
	if _, err := codex.Install(context.Background()); err != nil {
		t.Fatal(err)
	}
	ups := responsesClouds(t)
	az, br := ups["azure-native"], ups["bedrock-converse"]
	m := startMock(t, mockcloud.Options{Provider: "azure", APIKey: "az-test"})
	az.BaseURL = m.URL()
	m.Inject(mockcloud.Fault{Status: 429, RetryAfter: 30 * time.Second, Times: 1000})
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{az, br}})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	res, err := codex.Exec(ctx, codex.Run{BaseURL: base + "/v1", Model: "codex", APIKey: "sk-any", Dir: dir,
		Prompt: `Write the file. [[call exec_command {"cmd":"printf 'fell back' > out.txt"}]]`})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out.txt"))
	if res.ExitCode != 0 || string(got) != "fell back" || !strings.Contains(res.LastMessage, "Tool exec_command returned") {
		t.Fatalf("exit %d, out.txt %q, last %q\nstderr: %s", res.ExitCode, got, res.LastMessage, res.Stderr)
	}
	if m.Calls() == 0 {
		t.Fatal("Azure was never tried")
	}
}

// A translated stream cut mid-way by the cloud ends with response.failed, and
// an in-stream throttle with rate_limit_exceeded: never a cut connection.
func TestTranslatedStreamFailureIsResponseFailed(t *testing.T) {
	u := responsesClouds(t)["bedrock-converse"]
	m := startMock(t, mockcloud.Options{Provider: "bedrock", AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret"})
	u.BaseURL = m.URL()
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}, Cache: config.Cache{Policy: "off"}})
	for _, tc := range []struct {
		fault mockcloud.Fault
		code  string
	}{
		{mockcloud.Fault{ResetAfterChunks: 3}, "server_error"},
		{mockcloud.Fault{Status: 429, ResetAfterChunks: 3}, "rate_limit_exceeded"},
	} {
		m.Inject(tc.fault)
		status, _, body := postPath(t, base, "/v1/responses", `{"model":"codex","stream":true,"input":"a longer prompt for the stream to be cut"}`)
		events := strings.Split(strings.TrimSpace(body), "\n\n")
		last := events[len(events)-1]
		if status != 200 || !strings.HasPrefix(last, "event: response.failed") || !strings.Contains(last, `"code":"`+tc.code+`"`) {
			t.Fatalf("%+v: %d, last event %s", tc.fault, status, last)
		}
	}
}
