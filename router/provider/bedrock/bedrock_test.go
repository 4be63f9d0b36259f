package bedrock

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

func TestNewConfig(t *testing.T) {
	for name, u := range map[string]config.Upstream{
		"bad api":         {Region: "us-east-1", API: "invoke", Auth: config.Auth{BearerToken: "k"}},
		"no region":       {Auth: config.Auth{BearerToken: "k"}},
		"sigv4 no region": {BaseURL: "http://127.0.0.1:1", Auth: config.Auth{AccessKeyID: "a", SecretAccessKey: "s"}},
		"half keys":       {Region: "us-east-1", Auth: config.Auth{AccessKeyID: "a"}},
		"bad scheme":      {Region: "us-east-1", BaseURL: "ftp://x", Auth: config.Auth{BearerToken: "k"}},
		"query in base":   {Region: "us-east-1", BaseURL: "https://x/?a=b", Auth: config.Auth{BearerToken: "k"}},
	} {
		if _, err := New(u); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// TestDefaultChain: without keys in the config, credentials come from the
// AWS default chain (here: the environment).
func TestDefaultChain(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "envtok")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	a, err := New(config.Upstream{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	if err := a.Prepare(req, &provider.Call{Endpoint: provider.ChatCompletions, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	auth := string(req.Header.Peek("Authorization"))
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDENV/") || !strings.Contains(auth, "/eu-west-1/bedrock/aws4_request") {
		t.Fatalf("Authorization %s", auth)
	}
	if string(req.Header.Peek("X-Amz-Security-Token")) != "envtok" || a.Ready() != nil {
		t.Fatal("session token or readiness")
	}
}

func TestPrepareOpenAIMode(t *testing.T) {
	a, err := New(config.Upstream{Region: "us-west-2", Auth: config.Auth{BearerToken: "brk-key"},
		Models: map[string]string{"gpt-oss-120b": "openai.gpt-oss-120b-1:0", "a": "dup", "b": "dup"}})
	if err != nil {
		t.Fatal(err)
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	body := []byte(`{"model":"openai.gpt-oss-120b-1:0","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	c := &provider.Call{Endpoint: provider.ChatCompletions, Model: "openai.gpt-oss-120b-1:0", Body: body, Stream: true}
	if err := a.Prepare(req, c); err != nil {
		t.Fatal(err)
	}
	if got := string(req.URI().FullURI()); got != "https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1/chat/completions" {
		t.Fatalf("URL %s", got)
	}
	if string(req.Header.Peek("Authorization")) != "Bearer brk-key" || string(req.Body()) != string(body) ||
		string(req.Header.Peek("Accept")) != "text/event-stream" || len(req.Header.Peek("X-Amz-Date")) != 0 {
		t.Fatalf("request:\n%s", req)
	}
	body[0] = 'X' // Prepare must have copied the body
	if req.Body()[0] != '{' {
		t.Fatal("body not copied")
	}
	if out, _ := a.DecodeJSON(nil, c, body); &out[0] != &body[0] {
		t.Fatal("openai mode must return the body itself")
	}
	if err := a.Prepare(req, &provider.Call{Endpoint: provider.Embeddings}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("embeddings: %v", err)
	}
	if a.modelName("openai.gpt-oss-120b-1:0") != "gpt-oss-120b" || a.modelName("dup") != "dup" {
		t.Fatal("public model names")
	}
	r := a.Events(c, strings.NewReader("data: {\"choices\":[]}\n\ndata: [DONE]\n\n"))
	var ev provider.Event
	if err := r.Next(&ev); err != nil || string(ev.Data) != `{"choices":[]}` {
		t.Fatalf("%v %s", err, ev.Data)
	}
	if err := r.Next(&ev); err != io.EOF {
		t.Fatal(err)
	}
}

func TestPrepareConverseTranslateError(t *testing.T) {
	a, _ := New(config.Upstream{Region: "us-east-1", API: "converse", Auth: config.Auth{BearerToken: "k"}})
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	err := a.Prepare(req, &provider.Call{Endpoint: provider.ChatCompletions, Model: "m", Body: []byte(`{"messages":[]}`)})
	if !errors.Is(err, ErrTranslate) {
		t.Fatalf("%v", err)
	}
}

// TestWirePathNeedsDisablePathNormalizing guards the package doc's rule: only
// a client with DisablePathNormalizing sends the %3A that was signed.
func TestWirePathNeedsDisablePathNormalizing(t *testing.T) {
	ln := fasthttputil.NewInmemoryListener()
	defer ln.Close()
	paths := make(chan string, 2)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		paths <- string(ctx.Request.Header.RequestURI())
	}}
	go srv.Serve(ln)
	defer srv.Shutdown()

	a, err := New(config.Upstream{Region: "us-east-1", BaseURL: "http://bedrock.test", API: "converse",
		Auth: config.Auth{AccessKeyID: vecAKID, SecretAccessKey: vecSecret}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		disable bool
		want    string
	}{
		{true, "/model/openai.gpt-oss-20b-1%3A0/converse"},
		{false, "/model/openai.gpt-oss-20b-1:0/converse"}, // what a default client would send: a bad signature
	} {
		c := &fasthttp.HostClient{Addr: "bedrock.test", DisablePathNormalizing: tc.disable,
			Dial: func(string) (net.Conn, error) { return ln.Dial() }}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		if err := a.Prepare(req, &provider.Call{Endpoint: provider.ChatCompletions, Model: "openai.gpt-oss-20b-1:0",
			Body: []byte(`{"messages":[{"role":"user","content":"Hello"}]}`)}); err != nil {
			t.Fatal(err)
		}
		if err := c.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if got := <-paths; got != tc.want {
			t.Errorf("DisablePathNormalizing=%v: sent %s, want %s", tc.disable, got, tc.want)
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
}

// ExampleAdapter_Prepare shows the request one Converse attempt sends.
func ExampleAdapter_Prepare() {
	a, err := New(config.Upstream{Name: "bedrock-us", Provider: "bedrock", Region: "us-east-1", API: "converse",
		Auth: config.Auth{BearerToken: "bedrock-api-key"}})
	if err != nil {
		panic(err)
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	err = a.Prepare(req, &provider.Call{Endpoint: provider.ChatCompletions, Model: "openai.gpt-oss-20b-1:0",
		Body: []byte(`{"model":"openai.gpt-oss-20b-1:0","messages":[{"role":"user","content":"Hello"}],"max_tokens":64}`)})
	if err != nil {
		panic(err)
	}
	fmt.Println(req.URI().String())
	fmt.Println(string(req.Body()))
	// Output:
	// https://bedrock-runtime.us-east-1.amazonaws.com/model/openai.gpt-oss-20b-1%3A0/converse
	// {"messages":[{"role":"user","content":[{"text":"Hello"}]}],"inferenceConfig":{"maxTokens":64}}
}
