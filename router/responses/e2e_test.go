package responses_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
	"github.com/switchyard-dev/switchyard/router/provider/azure"
	"github.com/switchyard-dev/switchyard/router/provider/bedrock"
	"github.com/switchyard-dev/switchyard/router/provider/vertex"
	"github.com/switchyard-dev/switchyard/router/responses"
	"github.com/switchyard-dev/switchyard/test/codex"
)

// translatingProxy serves POST /v1/responses over one chat-only upstream exactly as the router
// is meant to (see docs/responses.md "How the router calls it"): translate the request, Prepare a
// ChatCompletions call, decode the answer, translate it back — JSON or event by event.
type translatingProxy struct {
	a      provider.Adapter
	model  string // the upstream's model id
	client *fasthttp.Client
}

func writeError(ctx *fasthttp.RequestCtx, status int, msg, typ, param, code string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(openai.AppendError(nil, msg, typ, param, code))
}

func (p *translatingProxy) handle(ctx *fasthttp.RequestCtx) {
	tr := new(responses.Translator)
	chat, err := tr.AppendChatRequest(nil, ctx.PostBody(), responses.Options{Optional: responses.DefaultOptional})
	var re *responses.Error
	if errors.As(err, &re) {
		writeError(ctx, re.Status, re.Message, re.Type, re.Param, re.Code)
		return
	}
	call := &provider.Call{Endpoint: provider.ChatCompletions, Model: p.model, Body: chat, Stream: tr.Stream()}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	if err := p.a.Prepare(req, call); err != nil {
		fasthttp.ReleaseResponse(resp)
		writeError(ctx, 400, err.Error(), "invalid_request_error", "", "")
		return
	}
	if err := p.client.Do(req, resp); err != nil {
		fasthttp.ReleaseResponse(resp)
		writeError(ctx, 502, "upstream unreachable", "server_error", "", "server_error")
		return
	}
	if resp.StatusCode() != 200 {
		body, _ := io.ReadAll(resp.BodyStream())
		e := p.a.Error(resp.StatusCode(), &resp.Header, body)
		fasthttp.ReleaseResponse(resp)
		writeError(ctx, e.Status, e.Message, e.Type, e.Param, e.Code)
		return
	}
	if !call.Stream {
		defer fasthttp.ReleaseResponse(resp)
		body, _ := io.ReadAll(resp.BodyStream())
		if body, err = p.a.DecodeJSON(nil, call, body); err == nil {
			body, err = tr.AppendResponse(nil, body)
		}
		if err != nil {
			writeError(ctx, 502, "bad upstream answer", "server_error", "", "server_error")
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
		return
	}
	ctx.SetContentType("text/event-stream")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer fasthttp.ReleaseResponse(resp)
		var st responses.Stream
		st.Reset(tr)
		out := st.Begin(nil)
		events := p.a.Events(call, resp.BodyStream())
		var ev provider.Event
		for !st.Finished() {
			err := events.Next(&ev)
			var pe *provider.Error
			var ae *openai.APIError
			switch {
			case err == io.EOF:
				out, _ = st.Done(out)
			case errors.As(err, &pe):
				out = st.Fail(out, responses.FailCode(pe.Status, pe.Code), pe.Message)
			case errors.As(err, &ae): // an error the cloud reported inside the SSE stream
				out = st.Fail(out, responses.FailCode(ae.Status, ae.Code), ae.Message)
			case err != nil:
				out = st.Fail(out, "server_error", "The upstream stream broke off.")
			default:
				if out, err = st.Chunk(out, ev.Data); err != nil {
					out = st.Fail(out, "server_error", "The upstream sent a malformed event.")
				}
			}
			w.Write(out)
			w.Flush()
			out = out[:0]
		}
	})
}

// serve starts the proxy on loopback.
func serve(t *testing.T, p *translatingProxy) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: p.handle}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

var upstreamClient = &fasthttp.Client{DisablePathNormalizing: true, StreamResponseBody: true,
	ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}

// chatClouds starts one chat-only mock per translated route and returns a proxy for each.
func chatClouds(t *testing.T) map[string]*translatingProxy {
	t.Helper()
	start := func(o mockcloud.Options) *mockcloud.Server {
		s, err := mockcloud.Start(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	out := map[string]*translatingProxy{}
	must := func(a provider.Adapter, err error) provider.Adapter {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
	br := start(mockcloud.Options{Provider: mockcloud.Bedrock, AccessKeyID: "AKID", SecretAccessKey: "secret"})
	sig := config.Auth{AccessKeyID: "AKID", SecretAccessKey: "secret"}
	out["bedrock-converse"] = &translatingProxy{model: "openai.gpt-oss-120b-1:0", a: must(bedrock.New(config.Upstream{BaseURL: br.URL(), Region: "us-east-1", API: "converse", Auth: sig}))}
	out["bedrock-chat"] = &translatingProxy{model: "openai.gpt-oss-120b-1:0", a: must(bedrock.New(config.Upstream{BaseURL: br.URL(), Region: "us-east-1", Auth: sig}))}

	sa, err := os.ReadFile("../../examples/configs/mock-service-account.json")
	if err != nil {
		t.Fatal(err)
	}
	vx := start(mockcloud.Options{Provider: mockcloud.Vertex, ServiceAccountJSON: sa})
	cred := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(cred, vx.ServiceAccountJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	out["vertex-chat"] = &translatingProxy{model: "google/gemini-2.5-flash", a: must(vertex.New(context.Background(), config.Upstream{BaseURL: vx.URL(), Region: "us-central1", Project: "p", Auth: config.Auth{CredentialsFile: cred}}))}

	az := start(mockcloud.Options{Provider: mockcloud.Azure, APIKey: "az"})
	out["azure-chat"] = &translatingProxy{model: "gpt-4o", a: must(azure.New(config.Upstream{BaseURL: az.URL(), API: "v1", Auth: config.Auth{APIKey: "az"}}))}
	for _, p := range out {
		p.client = upstreamClient
	}
	return out
}

// Codex 0.169's default request (17 tools, one web_search, namespaces, developer messages)
// runs a shell command through every chat-only route: translated up, the mock's tool call
// translated back as a function_call Codex executes, its output sent back as a tool message.
func TestCodexThroughTranslation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for name, p := range chatClouds(t) {
		t.Run(name, func(t *testing.T) {
			url := serve(t, p)
			res, err := codex.Exec(ctx, codex.Run{BaseURL: url + "/v1", Model: "gpt-oss-120b", APIKey: "sk-any", Dir: t.TempDir(),
				Prompt: `[[call exec_command {"cmd":"printf 'via ` + name + `' > out.txt"}]]`})
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != 0 {
				t.Fatalf("codex exited %d\n%s\n%s", res.ExitCode, res.Stdout, res.Stderr)
			}
			got, err := os.ReadFile(filepath.Join(res.Dir, "out.txt"))
			if err != nil || string(got) != "via "+name {
				t.Fatalf("out.txt %q %v\n%s", got, err, res.Stderr)
			}
			if !strings.Contains(res.LastMessage, "Tool exec_command returned") {
				t.Fatalf("last message %q", res.LastMessage)
			}
		})
	}
}

// A translated stream the upstream cuts mid-way ends with response.failed (never a bare cut),
// and a JSON request comes back as a complete Response object with usage.
func TestTranslatedCutAndJSON(t *testing.T) {
	br, err := mockcloud.Start(mockcloud.Options{Provider: mockcloud.Bedrock, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	for _, api := range []string{"", "converse"} {
		a, err := bedrock.New(config.Upstream{BaseURL: br.URL(), Region: "us-east-1", API: api, Auth: config.Auth{BearerToken: "k"}})
		if err != nil {
			t.Fatal(err)
		}
		url := serve(t, &translatingProxy{a: a, model: "openai.gpt-oss-120b-1:0", client: upstreamClient}) + "/v1/responses"

		status, body := postJSON(t, url, `{"model":"gpt-oss-120b","input":"hello there"}`)
		if status != 200 || !strings.Contains(body, `"status":"completed"`) || !strings.Contains(body, `"text":"You said: hello there"`) || !strings.Contains(body, `"total_tokens":`) {
			t.Fatalf("%s json: %d %s", api, status, body)
		}
		br.Inject(mockcloud.Fault{ResetAfterChunks: 3})
		status, body = postJSON(t, url, `{"model":"gpt-oss-120b","input":"a longer prompt to cut","stream":true}`)
		events := strings.Split(strings.TrimSpace(body), "\n\n")
		last := events[len(events)-1]
		if status != 200 || !strings.HasPrefix(last, "event: response.failed") || !strings.Contains(last, `"code":"server_error"`) {
			t.Fatalf("%s cut: %d %s", api, status, body)
		}
		br.Inject(mockcloud.Fault{Status: 429, ResetAfterChunks: 3})
		_, body = postJSON(t, url, `{"model":"gpt-oss-120b","input":"a longer prompt to throttle","stream":true}`)
		if !strings.Contains(body, "event: response.failed") || !strings.Contains(body, `"code":"rate_limit_exceeded"`) {
			t.Fatalf("%s in-stream 429: %s", api, body)
		}
		status, body = postJSON(t, url, `{"model":"gpt-oss-120b","input":"x","previous_response_id":"resp_1"}`)
		if status != 400 || !strings.Contains(body, `"param":"previous_response_id"`) {
			t.Fatalf("%s previous_response_id: %d %s", api, status, body)
		}
		a.Close()
	}
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	if err := fasthttp.DoTimeout(req, resp, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode(), string(resp.Body())
}
