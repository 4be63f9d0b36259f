package mockcloud

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	gptOSS     = "openai.gpt-oss-20b-1:0"
)

// TestSigV4Vectors checks the hand-written signer against both vectors of §3.5.
func TestSigV4Vectors(t *testing.T) {
	hdrs := func(m map[string]string) func(string) []string {
		return func(n string) []string { return []string{m[n]} }
	}
	cases := []struct {
		name, service, path, body string
		headers                   map[string]string
		signed                    []string
		canonicalURI, payloadHash string
		canonicalHash, signature  string
	}{
		{
			name: "A mantle", service: "bedrock-mantle", path: "/openai/v1/responses", body: `{"model":"gpt-4o","input":"hello"}`,
			headers: map[string]string{"content-type": "application/json", "host": "bedrock-mantle.us-east-1.api.aws", "x-amz-content-sha256": "50329e51ad520f21b77bad0b01999930ff556cd1bf18434701251ba6c9f877bc",
				"x-amz-date": "20250102T030405Z", "x-amz-security-token": "fixture-session-token"},
			signed:       []string{"content-type", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"},
			canonicalURI: "/openai/v1/responses", payloadHash: "50329e51ad520f21b77bad0b01999930ff556cd1bf18434701251ba6c9f877bc",
			canonicalHash: "1b69b17ef7548a7bf16a6ee749acfd44b7793e04216345dddd6cfaf4c01bfde5",
			signature:     "dc20c8fbe516daf0ccae7e5b7a78fc2936870413a9f1af6e1b2d44b970ce411f",
		},
		{
			name: "B runtime colon", service: "bedrock", path: "/model/openai.gpt-oss-20b-1%3A0/converse",
			body:         `{"messages":[{"role":"user","content":[{"text":"Hello"}]}],"inferenceConfig":{"maxTokens":64}}`,
			headers:      map[string]string{"content-type": "application/json", "host": "bedrock-runtime.us-east-1.amazonaws.com", "x-amz-date": "20250102T030405Z"},
			signed:       []string{"content-type", "host", "x-amz-date"},
			canonicalURI: "/model/openai.gpt-oss-20b-1%253A0/converse", payloadHash: "f5b802cc64a01910fd197a46e9e959f3a5795f7728fa5710fb28f1ec3019f545",
			signature: "e6f2440416f24461d850de763cafb588f0c22f543f05f4548f9656cc4e57cfb2",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := sha256Hex([]byte(tc.body)); got != tc.payloadHash {
				t.Fatalf("payload hash %s", got)
			}
			if got := canonicalURI(tc.path); got != tc.canonicalURI {
				t.Errorf("canonical URI %s", got)
			}
			r := &sigv4Request{method: "POST", rawPath: tc.path, header: hdrs(tc.headers), signedHeaders: tc.signed, payloadHash: tc.payloadHash}
			canon := r.canonical()
			if tc.canonicalHash != "" && sha256Hex([]byte(canon)) != tc.canonicalHash {
				t.Errorf("canonical request hash %s\n%s", sha256Hex([]byte(canon)), canon)
			}
			if got := sigv4Sign(testSecret, "20250102T030405Z", "us-east-1", tc.service, canon); got != tc.signature {
				t.Errorf("signature %s, want %s", got, tc.signature)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	cases := map[string]string{
		"":                     "",
		"b=2&a=1":              "a=1&b=2",
		"a=x%20y&a=b":          "a=b&a=x%20y",
		"k=a+b":                "k=a%20b",
		"api-version=v1&x=%3A": "api-version=v1&x=%3A",
	}
	for in, want := range cases {
		if got := canonicalQuery(in); got != want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEventStreamVectors checks the framing against §3.3: the two byte vectors of the
// event-stream spec, and the replayable Bedrock frames rebuilt from our payload builders.
func TestEventStreamVectors(t *testing.T) {
	fe := newFrameEncoder()
	payload := []byte(`{"foo": "bar"}`)
	want := append(append([]byte{0, 0, 0, 0x1e, 0, 0, 0, 0, 0xba, 0xf2, 0xf6, 0x8a}, payload...), 0xae, 0x72, 0x58, 0xe4)
	if got := fe.frame(nil, payload); !bytes.Equal(got, want) {
		t.Errorf("no headers:\n got %x\nwant %x", got, want)
	}
	want = []byte{0, 0, 0, 0x3e, 0, 0, 0, 0x20, 0x40, 0x5d, 0xf9, 0x46, 0x0c}
	want = append(want, "content-type"...)
	want = append(want, 7, 0, 0x10)
	want = append(want, "application/json"...)
	want = append(append(want, payload...), 0x6f, 0xa2, 0xbf, 0x3b)
	got := fe.frame(eventstream.Headers{{Name: "content-type", Value: eventstream.StringValue("application/json")}}, payload)
	if !bytes.Equal(got, want) {
		t.Errorf("content-type header:\n got %x\nwant %x", got, want)
	}

	pad := func(n int) string { return padAlphabet[:n] }
	frames := []struct {
		name string
		got  []byte
		hex  string
	}{
		{"messageStart", bytes.Clone(fe.event("messageStart", evMessageStart(pad(34)))), "0000009f00000052b3115f700b3a6576656e742d7479706507000c6d65737361676553746172740d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b2270223a226162636465666768696a6b6c6d6e6f707172737475767778797a4142434445464748222c22726f6c65223a22617373697374616e74227d22f70541"},
		{"contentBlockDelta", bytes.Clone(fe.event("contentBlockDelta", evTextDelta(0, "Hello", pad(30)))), "000000bc00000057451afe2b0b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c74610d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a2248656c6c6f227d2c2270223a226162636465666768696a6b6c6d6e6f707172737475767778797a41424344227dd4873a8b"},
		{"contentBlockStop", bytes.Clone(fe.event("contentBlockStop", evBlockStop(0, pad(17)))), "0000009500000056fecc83c80b3a6576656e742d74797065070010636f6e74656e74426c6f636b53746f700d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2270223a226162636465666768696a6b6c6d6e6f7071227d8dc2956d"},
		{"messageStop", bytes.Clone(fe.event("messageStop", evMessageStop("end_turn", pad(36)))), "000000a500000051c189aeed0b3a6576656e742d7479706507000b6d65737361676553746f700d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b2270223a226162636465666768696a6b6c6d6e6f707172737475767778797a4142434445464748494a222c2273746f70526561736f6e223a22656e645f7475726e227d49fb9fa7"},
		{"metadata", bytes.Clone(fe.event("metadata", evMetadata(12, 2, 412, pad(14)))), "000000cd0000004ee5c39f940b3a6576656e742d747970650700086d657461646174610d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b226d657472696373223a7b226c6174656e63794d73223a3431327d2c2270223a226162636465666768696a6b6c6d6e222c227573616765223a7b22696e707574546f6b656e73223a31322c226f7574707574546f6b656e73223a322c22746f74616c546f6b656e73223a31347d7d73a388ad"},
		{"exception", bytes.Clone(fe.exception("throttlingException", "Too many requests, please wait before trying again.")), "000000b2000000613590d5d30f3a657863657074696f6e2d747970650700137468726f74746c696e67457863657074696f6e0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d74797065070009657863657074696f6e7b226d657373616765223a22546f6f206d616e792072657175657374732c20706c656173652077616974206265666f726520747279696e6720616761696e2e227de8ffb26a"},
	}
	for _, f := range frames {
		if h := hex.EncodeToString(f.got); h != f.hex {
			t.Errorf("%s:\n got %s\nwant %s", f.name, h, f.hex)
		}
	}
}

func bedrockClient(s *Server, akid, secret, token string, retryer aws.Retryer) *bedrockruntime.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, token),
		HTTPClient:  rawClient,
	}
	return bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.BaseEndpoint = aws.String(s.URL())
		if retryer != nil {
			o.Retryer = retryer
		} else {
			o.Retryer = aws.NopRetryer{}
		}
	})
}

func converseInput(prompt string) *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{
		ModelId:  aws.String(gptOSS),
		System:   []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "Be brief."}},
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: prompt}}}},
	}
}

func startBedrock(t *testing.T) *Server {
	return start(t, Options{Provider: Bedrock, AccessKeyID: testAKID, SecretAccessKey: testSecret, APIKey: "bedrock-api-key-1", Models: []string{gptOSS}})
}

func TestBedrockConverseWithSDK(t *testing.T) {
	s := startBedrock(t)
	for _, token := range []string{"", "session-token-xyz"} {
		c := bedrockClient(s, testAKID, testSecret, token, nil)
		out, err := c.Converse(testCtx(t), converseInput("hello bedrock"))
		if err != nil {
			t.Fatalf("token %q: %v", token, err)
		}
		msg := out.Output.(*types.ConverseOutputMemberMessage).Value
		if got := msg.Content[0].(*types.ContentBlockMemberText).Value; got != "You said: hello bedrock" {
			t.Errorf("text %q", got)
		}
		if out.StopReason != types.StopReasonEndTurn || *out.Usage.OutputTokens != 4 || *out.Usage.TotalTokens != *out.Usage.InputTokens+4 || out.Metrics == nil {
			t.Errorf("stop %s usage %+v", out.StopReason, out.Usage)
		}
	}
	last := s.LastRequest()
	if last.Path != "/model/openai.gpt-oss-20b-1%3A0/converse" || !strings.HasPrefix(last.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") {
		t.Errorf("last request %s %s", last.Path, last.Header.Get("Authorization"))
	}
	if last.Header.Get("X-Amz-Security-Token") != "session-token-xyz" {
		t.Errorf("session token not sent: %v", last.Header)
	}
}

func weatherToolConfig(choice types.ToolChoice) *types.ToolConfiguration {
	return &types.ToolConfiguration{
		Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
			Name: aws.String("get_weather"),
			InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{
				"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"},
			})},
		}}},
		ToolChoice: choice,
	}
}

func TestBedrockToolUse(t *testing.T) {
	s := startBedrock(t)
	c := bedrockClient(s, testAKID, testSecret, "", nil)
	choices := map[string]types.ToolChoice{
		"any":  &types.ToolChoiceMemberAny{Value: types.AnyToolChoice{}},
		"tool": &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String("get_weather")}},
	}
	for name, choice := range choices {
		t.Run(name, func(t *testing.T) {
			in := converseInput("Paris")
			in.ToolConfig = weatherToolConfig(choice)
			out, err := c.Converse(testCtx(t), in)
			if err != nil {
				t.Fatal(err)
			}
			tu := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberToolUse).Value
			var args map[string]any
			if err := tu.Input.UnmarshalSmithyDocument(&args); err != nil {
				t.Fatal(err)
			}
			if *tu.Name != "get_weather" || !strings.HasPrefix(*tu.ToolUseId, "tooluse_") || args["city"] != "Paris" || out.StopReason != types.StopReasonToolUse {
				t.Errorf("tool use %+v args %v stop %s", tu, args, out.StopReason)
			}

			sin := &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, ToolConfig: in.ToolConfig}
			so, err := c.ConverseStream(testCtx(t), sin)
			if err != nil {
				t.Fatal(err)
			}
			st := so.GetStream()
			defer st.Close()
			var input strings.Builder
			var started string
			var stop types.StopReason
			for ev := range st.Events() {
				switch v := ev.(type) {
				case *types.ConverseStreamOutputMemberContentBlockStart:
					started = *v.Value.Start.(*types.ContentBlockStartMemberToolUse).Value.Name
				case *types.ConverseStreamOutputMemberContentBlockDelta:
					input.WriteString(*v.Value.Delta.(*types.ContentBlockDeltaMemberToolUse).Value.Input)
				case *types.ConverseStreamOutputMemberMessageStop:
					stop = v.Value.StopReason
				}
			}
			if st.Err() != nil || started != "get_weather" || input.String() != `{"city":"Paris"}` || stop != types.StopReasonToolUse {
				t.Errorf("stream: err %v start %q input %q stop %s", st.Err(), started, input.String(), stop)
			}
		})
	}
}

// converseStream runs a ConverseStream call and returns the event kinds seen, the text, and the error.
func converseStream(t *testing.T, c *bedrockruntime.Client, prompt string) ([]string, string, *types.TokenUsage, error) {
	t.Helper()
	so, err := c.ConverseStream(testCtx(t), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(gptOSS), Messages: converseInput(prompt).Messages})
	if err != nil {
		return nil, "", nil, err
	}
	st := so.GetStream()
	defer st.Close()
	var kinds []string
	var text strings.Builder
	var usage *types.TokenUsage
	for ev := range st.Events() {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			kinds = append(kinds, "messageStart")
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			kinds = append(kinds, "contentBlockDelta")
			text.WriteString(v.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
		case *types.ConverseStreamOutputMemberContentBlockStop:
			kinds = append(kinds, "contentBlockStop")
		case *types.ConverseStreamOutputMemberMessageStop:
			kinds = append(kinds, "messageStop:"+string(v.Value.StopReason))
		case *types.ConverseStreamOutputMemberMetadata:
			kinds = append(kinds, "metadata")
			usage = v.Value.Usage
		}
	}
	return kinds, text.String(), usage, st.Err()
}

func TestBedrockConverseStreamWithSDK(t *testing.T) {
	s := startBedrock(t)
	c := bedrockClient(s, testAKID, testSecret, "", nil)
	kinds, text, usage, err := converseStream(t, c, "stream it")
	if err != nil {
		t.Fatal(err)
	}
	want := "messageStart,contentBlockDelta,contentBlockDelta,contentBlockDelta,contentBlockDelta,contentBlockStop,messageStop:end_turn,metadata"
	if strings.Join(kinds, ",") != want || text != "You said: stream it" || usage == nil || *usage.OutputTokens != 4 {
		t.Errorf("kinds %v text %q usage %+v", kinds, text, usage)
	}
	if ct := s.LastRequest().Path; ct != "/model/openai.gpt-oss-20b-1%3A0/converse-stream" {
		t.Errorf("path %s", ct)
	}
}

func awsCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestBedrockAuthFailures(t *testing.T) {
	s := startBedrock(t)
	ctx := testCtx(t)
	if _, err := bedrockClient(s, testAKID, "wrong-secret", "", nil).Converse(ctx, converseInput("x")); awsCode(err) != "InvalidSignatureException" {
		t.Errorf("wrong secret: %v", err)
	}
	if _, err := bedrockClient(s, "AKIDUNKNOWN", testSecret, "", nil).Converse(ctx, converseInput("x")); awsCode(err) != "UnrecognizedClientException" {
		t.Errorf("unknown key: %v", err)
	}
	if s.Calls() != 0 {
		t.Errorf("Calls = %d after auth failures", s.Calls())
	}

	body := `{"messages":[{"role":"user","content":[{"text":"Hello"}]}]}`
	url := s.URL() + "/model/openai.gpt-oss-20b-1%3A0/converse"
	sign := func(at time.Time, path string, signedToken bool) *http.Request {
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.URL.RawPath = path
		req.Header.Set("Content-Type", "application/json")
		err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, req, sha256Hex([]byte(body)), "bedrock", "us-east-1", at)
		if err != nil {
			t.Fatal(err)
		}
		if !signedToken {
			req.Header.Set("X-Amz-Security-Token", "added-after-signing")
		}
		return req
	}
	cases := []struct {
		name string
		req  *http.Request
		code string
	}{
		{"skew 10 min", sign(time.Now().Add(-10*time.Minute), "/model/openai.gpt-oss-20b-1%3A0/converse", true), "InvalidSignatureException"},
		{"unsigned session token", sign(time.Now(), "/model/openai.gpt-oss-20b-1%3A0/converse", false), "IncompleteSignatureException"},
		{"fresh", sign(time.Now().Add(-2*time.Minute), "/model/openai.gpt-oss-20b-1%3A0/converse", true), ""},
	}
	for _, tc := range cases {
		resp, err := rawClient.Do(tc.req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := strings.Split(resp.Header.Get("x-amzn-ErrorType"), ":")[0]
		if got != tc.code || (tc.code != "" && resp.StatusCode != 403) {
			t.Errorf("%s: %d %q", tc.name, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
		}
	}

	// A client that signs the decoded path (":" instead of "%3A" on the wire canonicalised once)
	// must fail: sign for one path, send another.
	req := sign(time.Now(), "/model/openai.gpt-oss-20b-1:0/converse", true)
	req.URL.RawPath = "/model/openai.gpt-oss-20b-1%3A0/converse"
	req.URL.Path = "/model/openai.gpt-oss-20b-1:0/converse"
	resp, b := doRaw(t, req)
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("x-amzn-ErrorType"), "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/") ||
		!strings.Contains(string(b), "The request signature we calculated does not match") {
		t.Errorf("mis-signed path: %d %v %s", resp.StatusCode, resp.Header, b)
	}

	// Bearer API key, and no auth at all.
	resp, b = post(t, url, map[string]string{"Authorization": "Bearer bedrock-api-key-1"}, body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"stopReason":"end_turn"`) {
		t.Errorf("bearer: %d %s", resp.StatusCode, b)
	}
	resp, _ = post(t, url, map[string]string{"Authorization": "Bearer nope"}, body)
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("x-amzn-ErrorType"), "UnrecognizedClientException") {
		t.Errorf("bad bearer: %d", resp.StatusCode)
	}
	resp, _ = post(t, url, nil, body)
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("x-amzn-ErrorType"), "MissingAuthenticationTokenException") {
		t.Errorf("no auth: %d", resp.StatusCode)
	}
}

func doRaw(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

func TestBedrockValidation(t *testing.T) {
	s := startBedrock(t)
	c := bedrockClient(s, testAKID, testSecret, "", nil)
	in := converseInput("x")
	in.ModelId = aws.String("anthropic.unknown-v1:0")
	if _, err := c.Converse(testCtx(t), in); awsCode(err) != "ValidationException" {
		t.Errorf("unknown model: %v", err)
	}
	resp, _ := post(t, s.URL()+"/model/x/converse", map[string]string{"Authorization": "Bearer bedrock-api-key-1"}, `{"messages":`)
	if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("x-amzn-ErrorType"), "ValidationException") {
		t.Errorf("bad json: %d", resp.StatusCode)
	}
	resp, _ = post(t, s.URL()+"/model/x/invoke-nothing", nil, `{}`)
	if resp.StatusCode != 404 {
		t.Errorf("unknown op: %d", resp.StatusCode)
	}
}

func TestBedrockFaults(t *testing.T) {
	s := startBedrock(t)
	noRetry := bedrockClient(s, testAKID, testSecret, "", nil)

	for _, tc := range []struct {
		f      Fault
		code   string
		status int
	}{
		{Fault{Status: 429}, "ThrottlingException", 429},
		{Fault{Code: "ThrottlingException"}, "ThrottlingException", 429},
		{Fault{Status: 503}, "ServiceUnavailableException", 503},
		{Fault{Status: 500}, "InternalServerException", 500},
		{Fault{Code: "ValidationException"}, "ValidationException", 400},
		{Fault{Code: "ModelNotReadyException"}, "ModelNotReadyException", 429},
	} {
		s.Inject(tc.f)
		_, err := noRetry.Converse(testCtx(t), converseInput("x"))
		var re interface{ HTTPStatusCode() int }
		if awsCode(err) != tc.code || !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
			t.Errorf("%+v: %v", tc.f, err)
		}
	}
	// No Retry-After on Bedrock throttles.
	s.Inject(Fault{Status: 429, RetryAfter: time.Second})
	resp, _ := post(t, s.URL()+"/model/x/converse", map[string]string{"Authorization": "Bearer bedrock-api-key-1"}, `{}`)
	if resp.Header.Get("Retry-After") != "" || !strings.HasPrefix(resp.Header.Get("x-amzn-ErrorType"), "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/") {
		t.Errorf("throttle headers %v", resp.Header)
	}

	// The SDK recognises the throttle code and retries (proof the error shape is the real one).
	retrying := bedrockClient(s, testAKID, testSecret, "", retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.RateLimiter = ratelimit.None
	}))
	before := s.Calls()
	s.Inject(Fault{Code: "ThrottlingException", Times: 2})
	if _, err := retrying.Converse(testCtx(t), converseInput("x")); err != nil || s.Calls()-before != 3 {
		t.Errorf("retry: %v after %d attempts", err, s.Calls()-before)
	}
	before = s.Calls()
	s.Inject(Fault{Code: "ValidationException"})
	if _, err := retrying.Converse(testCtx(t), converseInput("x")); err == nil || s.Calls()-before != 1 {
		t.Errorf("validation must not be retried: %d attempts", s.Calls()-before)
	}

	// Mid-stream: an exception frame after 2 events, surfaced by the SDK as the typed error.
	s.Inject(Fault{ResetAfterChunks: 2, Code: "ThrottlingException"})
	kinds, _, _, err := converseStream(t, noRetry, "a b c d")
	var te *types.ThrottlingException
	if len(kinds) != 2 || !errors.As(err, &te) {
		t.Errorf("in-stream exception: kinds %v err %v", kinds, err)
	}
	// Mid-stream: the connection is cut after 3 events. aws-sdk-go-v2 ends the event channel
	// without an error when the cut falls between frames, so a consumer must notice the missing
	// messageStop/metadata itself; a raw reader sees the chunked body cut short.
	s.Inject(Fault{ResetAfterChunks: 3})
	kinds, _, _, _ = converseStream(t, noRetry, "a b c d")
	if len(kinds) != 3 {
		t.Errorf("cut stream: kinds %v", kinds)
	}
	s.Inject(Fault{ResetAfterChunks: 3})
	req, _ := http.NewRequest("POST", s.URL()+"/model/openai.gpt-oss-20b-1%3A0/converse-stream", strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"a b c d"}]}]}`))
	req.Header.Set("Authorization", "Bearer bedrock-api-key-1")
	if resp, err := rawClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("raw read of cut stream: %v, want unexpected EOF", err)
		}
	}
	// Slow first byte.
	s.Inject(Fault{FirstByteDelay: 50 * time.Millisecond})
	t0 := time.Now()
	if _, err := noRetry.Converse(testCtx(t), converseInput("x")); err != nil || time.Since(t0) < 50*time.Millisecond {
		t.Errorf("first byte delay: %v after %v", err, time.Since(t0))
	}
	s.Inject(Fault{ResetBeforeResponse: true})
	if _, err := noRetry.Converse(testCtx(t), converseInput("x")); err == nil {
		t.Error("reset before response: no error")
	}
}

func TestBedrockOpenAICompat(t *testing.T) {
	s := startBedrock(t)
	c := openai.NewClient(option.WithBaseURL(s.URL()+"/openai/v1/"), option.WithAPIKey("bedrock-api-key-1"), option.WithMaxRetries(0), option.WithHTTPClient(rawClient))
	p := chatParams("compat")
	p.Model = gptOSS
	res, err := c.Chat.Completions.New(context.Background(), p)
	if err != nil || res.Choices[0].Message.Content != "You said: compat" || res.Model != gptOSS {
		t.Fatalf("%v %+v", err, res)
	}
	st := c.Chat.Completions.NewStreaming(testCtx(t), p)
	var text strings.Builder
	for st.Next() {
		if ch := st.Current().Choices; len(ch) > 0 {
			text.WriteString(ch[0].Delta.Content)
		}
	}
	if st.Err() != nil || text.String() != "You said: compat" {
		t.Errorf("stream %q %v", text.String(), st.Err())
	}
	s.Inject(Fault{Status: 429})
	_, err = c.Chat.Completions.New(testCtx(t), p)
	if e := apiError(t, err); e.StatusCode != 429 {
		t.Errorf("fault: %v", err)
	}
	// SigV4 on the OpenAI-compatible path too.
	body := `{"model":"` + gptOSS + `","messages":[{"role":"user","content":"sig"}]}`
	req, _ := http.NewRequest("POST", s.URL()+"/openai/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if err := v4.NewSigner().SignHTTP(testCtx(t), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, req, sha256Hex([]byte(body)), "bedrock", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if resp, b := doRaw(t, req); resp.StatusCode != 200 || !strings.Contains(string(b), "You said: sig") {
		t.Errorf("sigv4 compat: %d %s", resp.StatusCode, b)
	}
}
