package bedrock

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

const (
	vecAKID   = "AKIDEXAMPLE"
	vecSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	vecBody   = `{"messages":[{"role":"user","content":[{"text":"Hello"}]}],"inferenceConfig":{"maxTokens":64}}`
	vecAuthB  = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250102/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=e6f2440416f24461d850de763cafb588f0c22f543f05f4548f9656cc4e57cfb2"
)

var vecTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// TestSigV4VectorB guards the double-encoded colon: the request path carries
// %3A, the canonical URI %253A (reference §3.5, vector B, botocore-checked).
func TestSigV4VectorB(t *testing.T) {
	a, err := New(config.Upstream{Name: "b", Provider: "bedrock", Region: "us-east-1", API: "converse",
		Auth: config.Auth{AccessKeyID: vecAKID, SecretAccessKey: vecSecret}})
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return vecTime }
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	// The OpenAI body that translates to exactly the vector's Converse body.
	c := &provider.Call{Endpoint: provider.ChatCompletions, Model: "openai.gpt-oss-20b-1:0",
		Body: []byte(`{"model":"openai.gpt-oss-20b-1:0","messages":[{"role":"user","content":"Hello"}],"max_tokens":64}`)}
	if err := a.Prepare(req, c); err != nil {
		t.Fatal(err)
	}
	if got := string(req.Body()); got != vecBody {
		t.Fatalf("body\n got %s\nwant %s", got, vecBody)
	}
	if got := string(req.Header.Peek("Authorization")); got != vecAuthB {
		t.Fatalf("Authorization\n got %s\nwant %s", got, vecAuthB)
	}
	if got := string(req.Header.Peek("X-Amz-Date")); got != "20250102T030405Z" {
		t.Fatalf("X-Amz-Date = %s", got)
	}
	if got := string(req.URI().FullURI()); got != "https://bedrock-runtime.us-east-1.amazonaws.com/model/openai.gpt-oss-20b-1%3A0/converse" {
		t.Fatalf("URI = %s", got)
	}
	// What goes on the wire: the request line must keep %3A.
	wire := req.String()
	if !strings.HasPrefix(wire, "POST /model/openai.gpt-oss-20b-1%3A0/converse HTTP/1.1\r\n") {
		t.Fatalf("request line: %q", wire[:min(len(wire), 80)])
	}
}

func TestSigV4SessionTokenSigned(t *testing.T) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetContentType("application/json")
	req.SetBodyString(vecBody)
	a, _ := New(config.Upstream{Region: "us-east-1", Auth: config.Auth{AccessKeyID: "A", SecretAccessKey: "S"}})
	creds := aws.Credentials{AccessKeyID: vecAKID, SecretAccessKey: vecSecret, SessionToken: "tok"}
	if err := signRequest(a.signer, creds, req, "https", "bedrock-runtime.us-east-1.amazonaws.com", "/openai/v1/chat/completions", "us-east-1", signingService, vecTime); err != nil {
		t.Fatal(err)
	}
	if got := string(req.Header.Peek("X-Amz-Security-Token")); got != "tok" {
		t.Fatalf("X-Amz-Security-Token = %q", got)
	}
	if auth := string(req.Header.Peek("Authorization")); !strings.Contains(auth, "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,") {
		t.Fatalf("session token not signed: %s", auth)
	}
}

func TestEscapedSegment(t *testing.T) {
	for in, want := range map[string]string{
		"openai.gpt-oss-20b-1:0":                               "openai.gpt-oss-20b-1%3A0",
		"arn:aws:bedrock:us-east-1:123:inference-profile/us.x": "arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fus.x",
		"a b~_.-": "a%20b~_.-",
	} {
		if got := string(appendEscapedSegment(nil, in)); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
}
