package mockcloud

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func TestParseDirective(t *testing.T) {
	for _, c := range []struct {
		text, name, args string
		freeform, none   bool
	}{
		{text: `run [[call shell {"command":["bash","-lc","echo hi > out.txt"]}]] now`, name: "shell", args: `{"command":["bash","-lc","echo hi > out.txt"]}`},
		{text: `[[call f {"a":"]]}","b":{"c":[[1]]}}]]`, name: "f", args: `{"a":"]]}","b":{"c":[[1]]}}`},
		{text: `[[call apply_patch "*** Begin Patch\n*** End Patch"]]`, name: "apply_patch", args: "*** Begin Patch\n*** End Patch", freeform: true},
		{text: `[[call broken {"a":]] then [[call g {}]]`, name: "g", args: `{}`},
		{text: `[[call nospace]]`, none: true},
		{text: `[[call f {"a":1}`, none: true},
		{text: `plain text`, none: true},
	} {
		d := parseDirective(c.text)
		if c.none {
			if d != nil {
				t.Errorf("%q: got %+v, want none", c.text, d)
			}
			continue
		}
		if d == nil || d.name != c.name || d.args != c.args || d.freeform != c.freeform {
			t.Errorf("%q: got %+v, want %s %s", c.text, d, c.name, c.args)
		}
	}
	ft := forcedTool{name: "p", args: `a"b`, freeform: true}
	if got := ft.chatArgs(); got != `{"input":"a\"b"}` {
		t.Errorf("chatArgs %s", got)
	}
}

const directivePrompt = `[[call exec_command {"cmd":"echo hi"}]]`

// The Responses directive round trip on the native endpoint: a function_call item, its streamed
// event sequence, then (given its output) text quoting it.
func TestResponsesAgentLoop(t *testing.T) {
	s := start(t, Options{Provider: OpenAI, APIKey: "sk-test"})
	auth := map[string]string{"Authorization": "Bearer sk-test"}
	ask := `{"model":"gpt-oss-120b","input":` + jsonString(directivePrompt) + `,"tools":[{"type":"function","name":"exec_command","parameters":{"type":"object"}}]`
	resp, b := post(t, s.URL()+"/v1/responses", auth, ask+`}`)
	var r struct {
		Output []struct {
			ID, Type, Name, Arguments string
			CallID                    string `json:"call_id"`
		} `json:"output"`
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		}
	}
	_ = json.Unmarshal(b, &r)
	if resp.StatusCode != 200 || len(r.Output) != 1 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	o := r.Output[0]
	if o.Type != "function_call" || o.Name != "exec_command" || !strings.HasPrefix(o.ID, "fc_") || o.CallID == "" || r.Usage.TotalTokens == 0 {
		t.Fatalf("output %s", b)
	}
	if o.Arguments != `{"cmd":"echo hi"}` {
		t.Fatalf("arguments %q", o.Arguments)
	}

	resp, b = post(t, s.URL()+"/v1/responses", auth, ask+`,"stream":true}`)
	got := strings.Join(sseEvents(b), " ")
	want := "response.created response.in_progress response.output_item.added response.function_call_arguments.delta"
	if resp.StatusCode != 200 || !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "response.function_call_arguments.done response.output_item.done response.completed") {
		t.Fatalf("events %s", got)
	}
	for i, d := range sseData(b) {
		var ev struct {
			Seq *int `json:"sequence_number"`
		}
		if json.Unmarshal([]byte(d), &ev) != nil || ev.Seq == nil || *ev.Seq != i {
			t.Fatalf("event %d: %s", i, d)
		}
	}

	body := `{"model":"gpt-oss-120b","input":[{"role":"user","content":` + jsonString(directivePrompt) + `},` +
		`{"type":"function_call","call_id":"` + o.CallID + `","name":"exec_command","arguments":"{}"},` +
		`{"type":"function_call_output","call_id":"` + o.CallID + `","output":"hi\n"}]}`
	resp, b = post(t, s.URL()+"/v1/responses", auth, body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"text":"Tool exec_command returned: hi\n"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	// A custom (freeform) tool gets a custom_tool_call with the raw input.
	custom := `{"model":"m","input":"[[call apply_patch \"*** Begin Patch\"]]","tools":[{"type":"custom","name":"apply_patch"}]}`
	if resp, b = post(t, s.URL()+"/v1/responses", auth, custom); !strings.Contains(string(b), `"type":"custom_tool_call"`) || !strings.Contains(string(b), `"input":"*** Begin Patch"`) {
		t.Fatalf("custom: %d %s", resp.StatusCode, b)
	}
}

// The same directive on chat dialects: tool_calls, then the tool message is quoted.
func TestChatAgentLoop(t *testing.T) {
	s := start(t, Options{Provider: OpenAI, APIKey: "sk-test"})
	auth := map[string]string{"Authorization": "Bearer sk-test"}
	resp, b := post(t, s.URL()+"/v1/chat/completions", auth, `{"model":"m","messages":[{"role":"user","content":`+jsonString(directivePrompt)+`}]}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"tool_calls":[{"id":"call_`) || !strings.Contains(string(b), `"arguments":"{\"cmd\":\"echo hi\"}"`) || !strings.Contains(string(b), `"finish_reason":"tool_calls"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	resp, b = post(t, s.URL()+"/v1/chat/completions", auth, `{"model":"m","stream":true,"messages":[{"role":"user","content":`+jsonString(directivePrompt)+`}]}`)
	if !strings.Contains(string(b), `"name":"exec_command"`) || !strings.Contains(string(b), `"finish_reason":"tool_calls"`) {
		t.Fatalf("stream %s", b)
	}
	resp, b = post(t, s.URL()+"/v1/chat/completions", auth, `{"model":"m","messages":[{"role":"user","content":"x"},`+
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"exec_command","arguments":"{}"}}]},`+
		`{"role":"tool","tool_call_id":"call_1","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"content":"Tool exec_command returned: hi"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// Converse: toolUse with the directive's arguments as a JSON object, then the toolResult quoted.
func TestConverseAgentLoop(t *testing.T) {
	s := start(t, Options{Provider: Bedrock, APIKey: "br-key"})
	auth := map[string]string{"Authorization": "Bearer br-key"}
	url := s.URL() + "/model/" + strings.ReplaceAll(gptOSS, ":", "%3A") + "/converse"
	resp, b := post(t, url, auth, `{"messages":[{"role":"user","content":[{"text":`+jsonString(directivePrompt)+`}]}]}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"toolUse":{"toolUseId":`) || !strings.Contains(string(b), `"input":{"cmd":"echo hi"}`) || !strings.Contains(string(b), `"stopReason":"tool_use"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	resp, b = post(t, url, auth, `{"messages":[{"role":"user","content":[{"text":"x"}]},`+
		`{"role":"assistant","content":[{"toolUse":{"toolUseId":"tu1","name":"exec_command","input":{}}}]},`+
		`{"role":"user","content":[{"toolResult":{"toolUseId":"tu1","content":[{"text":"hi"}]}}]}]}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"text":"Tool exec_command returned: hi"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// Bedrock Mantle: native Responses at /openai/v1/responses, SigV4 scoped to bedrock-mantle
// (a bedrock-scoped signature is refused) or the API key as Bearer.
func TestBedrockMantleResponses(t *testing.T) {
	s := start(t, Options{Provider: Bedrock, APIKey: "br-key", AccessKeyID: testAKID, SecretAccessKey: testSecret})
	body := `{"model":"openai.gpt-oss-120b","input":"mantle","stream":true}`
	sign := func(service string) *http.Request {
		req, _ := http.NewRequest("POST", s.URL()+"/openai/v1/responses", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if err := v4.NewSigner().SignHTTP(testCtx(t), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, req, sha256Hex([]byte(body)), service, "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		return req
	}
	resp, b := doRaw(t, sign("bedrock-mantle"))
	if resp.StatusCode != 200 || !strings.Contains(string(b), "event: response.completed") || !strings.Contains(string(b), "You said: mantle") {
		t.Fatalf("mantle: %d %s", resp.StatusCode, b)
	}
	if resp, b = doRaw(t, sign("bedrock")); resp.StatusCode != 403 || !strings.Contains(string(b), "bedrock-mantle") {
		t.Fatalf("wrong scope: %d %s", resp.StatusCode, b)
	}
	if resp, b = post(t, s.URL()+"/openai/v1/responses", map[string]string{"Authorization": "Bearer br-key"}, body); resp.StatusCode != 200 {
		t.Fatalf("bearer: %d %s", resp.StatusCode, b)
	}
}

// Vertex serves Responses at endpoints/openapi/responses with its own tokens.
func TestVertexResponses(t *testing.T) {
	s := startVertex(t, 0)
	tok, err := googleToken(t, s.ServiceAccountJSON(), cloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	url := s.URL() + "/v1/projects/p/locations/us-central1/endpoints/openapi/responses"
	resp, b := post(t, url, map[string]string{"Authorization": "Bearer " + tok.AccessToken}, `{"model":"openai/gpt-oss-120b-maas","input":"v"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"object":"response"`) || !strings.Contains(string(b), "You said: v") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if resp, _ = post(t, url, map[string]string{"Authorization": "Bearer nope"}, `{"model":"openai/gpt-oss-120b-maas","input":"v"}`); resp.StatusCode != 401 {
		t.Fatalf("bad token: %d", resp.StatusCode)
	}
}

// Azure's v1 Responses refuses store:false, as the real service does.
func TestAzureResponsesStore(t *testing.T) {
	s := start(t, Options{Provider: Azure, APIKey: "az-key"})
	h := map[string]string{"api-key": "az-key"}
	resp, b := post(t, s.URL()+"/openai/v1/responses", h, `{"model":"dep","input":"x","store":false}`)
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"param":"store"`) {
		t.Fatalf("store:false %d %s", resp.StatusCode, b)
	}
	if resp, b = post(t, s.URL()+"/openai/v1/responses", h, `{"model":"dep","input":"x","store":true}`); resp.StatusCode != 200 {
		t.Fatalf("store:true %d %s", resp.StatusCode, b)
	}
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }
