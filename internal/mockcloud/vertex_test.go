package mockcloud

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

const vertexModel = "google/gemini-2.5-flash"

func mockSA(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../examples/configs/mock-service-account.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func startVertex(t *testing.T, ttl time.Duration) *Server {
	return start(t, Options{Provider: Vertex, ServiceAccountJSON: mockSA(t), TokenTTL: ttl, Models: []string{vertexModel, "openai/gpt-oss-120b-maas"}})
}

// googleToken fetches a token through golang.org/x/oauth2/google, as the router does.
func googleToken(t *testing.T, saJSON []byte, scope string) (*oauth2.Token, error) {
	t.Helper()
	ctx := context.WithValue(testCtx(t), oauth2.HTTPClient, rawClient)
	creds, err := google.CredentialsFromJSON(ctx, saJSON, scope)
	if err != nil {
		t.Fatalf("CredentialsFromJSON: %v", err)
	}
	return creds.TokenSource.Token()
}

func vertexClient(s *Server, token string) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(s.URL()+"/v1/projects/switchyard-mock/locations/us-central1/endpoints/openapi/"),
		option.WithAPIKey(token), option.WithMaxRetries(0), option.WithHTTPClient(rawClient))
}

func TestVertexTokenAndChat(t *testing.T) {
	s := startVertex(t, 0)
	if s.TokenURL() != s.URL()+"/token" {
		t.Fatalf("TokenURL %s", s.TokenURL())
	}
	tok, err := googleToken(t, s.ServiceAccountJSON(), cloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.AccessToken, "ya29.") || tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 59*time.Minute {
		t.Errorf("token %+v", tok)
	}
	c := vertexClient(s, tok.AccessToken)
	p := chatParams("hi vertex")
	p.Model = vertexModel
	res, err := c.Chat.Completions.New(testCtx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].Message.Content != "You said: hi vertex" || res.Model != vertexModel || res.Usage.CompletionTokens != 4 {
		t.Errorf("%+v", res)
	}
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	st := c.Chat.Completions.NewStreaming(testCtx(t), p)
	var acc openai.ChatCompletionAccumulator
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if st.Err() != nil || acc.Choices[0].Message.Content != "You said: hi vertex" || acc.Usage.TotalTokens == 0 {
		t.Errorf("stream: %v %q", st.Err(), acc.Choices[0].Message.Content)
	}
	// v1beta1 is served too; Calls counts the chat requests only, not /token.
	resp, _ := post(t, s.URL()+"/v1beta1/projects/p/locations/global/endpoints/openapi/chat/completions",
		map[string]string{"Authorization": "Bearer " + tok.AccessToken}, `{"model":"openai/gpt-oss-120b-maas","messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != 200 || s.Calls() != 3 {
		t.Errorf("v1beta1 %d, Calls %d", resp.StatusCode, s.Calls())
	}
}

func otherKeySA(t *testing.T, saJSON []byte) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	var m map[string]any
	if err := json.Unmarshal(saJSON, &m); err != nil {
		t.Fatal(err)
	}
	m["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	b, _ := json.Marshal(m)
	return b
}

func TestVertexTokenErrors(t *testing.T) {
	s := startVertex(t, 0)
	sa := s.ServiceAccountJSON()
	wrongAud, _ := WithTokenURI(sa, s.URL()+"/token?aud=other")
	var other map[string]any
	_ = json.Unmarshal(sa, &other)
	other["client_email"] = "intruder@evil.iam.gserviceaccount.com"
	wrongIss, _ := json.Marshal(other)
	cases := []struct {
		name  string
		sa    []byte
		scope string
		code  string
		desc  string
	}{
		{"bad signature", otherKeySA(t, sa), cloudPlatform, "invalid_grant", "Invalid JWT Signature."},
		{"wrong audience", wrongAud, cloudPlatform, "invalid_grant", "Failed audience check"},
		{"wrong issuer", wrongIss, cloudPlatform, "invalid_grant", "Failed issuer check"},
		{"wrong scope", sa, "https://www.googleapis.com/auth/userinfo.email", "invalid_scope", "Invalid OAuth scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := googleToken(t, tc.sa, tc.scope)
			// x/oauth2's JWT flow keeps the raw body rather than parsing error/error_description.
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.Response.StatusCode != 400 {
				t.Fatalf("err = %v", err)
			}
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			mustUnmarshal(t, string(re.Body), &body)
			if body.Error != tc.code || !strings.Contains(body.Description, tc.desc) {
				t.Errorf("body %s", re.Body)
			}
		})
	}
	resp, b := post(t, s.TokenURL(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "grant_type=client_credentials")
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"error":"unsupported_grant_type"`) {
		t.Errorf("grant type: %d %s", resp.StatusCode, b)
	}
	if s.Calls() != 0 {
		t.Errorf("Calls = %d", s.Calls())
	}
}

func TestVertexAuthAndPaths(t *testing.T) {
	s := startVertex(t, time.Nanosecond) // every minted token is already expired
	chat := s.URL() + "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions"
	body := `{"model":"google/gemini-2.5-flash","messages":[{"role":"user","content":"x"}]}`
	tok, err := googleToken(t, s.ServiceAccountJSON(), cloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]string{"expired": "Bearer " + tok.AccessToken, "foreign": "Bearer ya29.not-minted-here", "none": ""} {
		resp, b := post(t, chat, map[string]string{"Authorization": auth}, body)
		if resp.StatusCode != 401 || !strings.Contains(string(b), `"code":401`) || !strings.Contains(string(b), `"status":"UNAUTHENTICATED"`) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	// A self-signed service-account JWT (google.JWTAccessTokenSourceWithScope) is accepted.
	ts, err := google.JWTAccessTokenSourceWithScope(s.ServiceAccountJSON(), cloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if resp, b := post(t, chat, map[string]string{"Authorization": "Bearer " + jwt.AccessToken}, body); resp.StatusCode != 200 {
		t.Errorf("self-signed JWT: %d %s", resp.StatusCode, b)
	}
	auth := map[string]string{"Authorization": "Bearer " + jwt.AccessToken}
	resp, b := post(t, s.URL()+"/v1/projects/p/locations/l/endpoints/openapi/chat/complete", auth, body)
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "<title>Error 404 (Not Found)!!1</title>") {
		t.Errorf("wrong path: %d %s", resp.StatusCode, b)
	}
	resp, b = post(t, chat, auth, `{"model":"google/gemini-0","messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != 404 || !strings.Contains(string(b), `"status":"NOT_FOUND"`) {
		t.Errorf("unknown model: %d %s", resp.StatusCode, b)
	}
	resp, b = post(t, chat, auth, `{"model":`)
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"status":"INVALID_ARGUMENT"`) {
		t.Errorf("bad json: %d %s", resp.StatusCode, b)
	}
}

func TestVertexFaults(t *testing.T) {
	s := startVertex(t, 0)
	tok, err := googleToken(t, s.ServiceAccountJSON(), cloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	chat := s.URL() + "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions"
	auth := map[string]string{"Authorization": "Bearer " + tok.AccessToken}
	body := `{"model":"google/gemini-2.5-flash","messages":[{"role":"user","content":"a b c"}]}`
	cases := []struct {
		f    Fault
		code int
		want string
	}{
		{Fault{Code: "RESOURCE_EXHAUSTED"}, 429, `{"error":{"code":429,"message":"Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.","status":"RESOURCE_EXHAUSTED"}}`},
		{Fault{Status: 429, RetryAfter: 28 * time.Second}, 429, `"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"28s"}]`},
		{Fault{Status: 503}, 503, `"status":"UNAVAILABLE"`},
		{Fault{Status: 500}, 500, `"status":"INTERNAL"`},
	}
	for _, tc := range cases {
		s.Inject(tc.f)
		resp, b := post(t, chat, auth, body)
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) || resp.Header.Get("Retry-After") != "" {
			t.Errorf("%+v: %d %s", tc.f, resp.StatusCode, b)
		}
	}
	s.Inject(Fault{ResetAfterChunks: 2, Code: "RESOURCE_EXHAUSTED"})
	_, b := post(t, chat, auth, strings.Replace(body, `"messages"`, `"stream":true,"messages"`, 1))
	data := sseData(b)
	if len(data) != 3 || !strings.Contains(data[2], `"status":"RESOURCE_EXHAUSTED"`) {
		t.Errorf("in-stream: %q", data)
	}
	s.Inject(Fault{ResetBeforeResponse: true})
	req, _ := http.NewRequest("POST", chat, strings.NewReader(body))
	req.Header.Set("Authorization", auth["Authorization"])
	if resp, err := rawClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("reset before response: got a response")
	}
}

func TestVertexBadServiceAccount(t *testing.T) {
	for name, sa := range map[string]string{
		"not json": `{`, "wrong type": `{"type":"authorized_user","client_email":"a@b"}`,
		"bad key": `{"type":"service_account","client_email":"a@b","private_key":"nope"}`,
	} {
		if _, err := Start(Options{Provider: Vertex, ServiceAccountJSON: []byte(sa)}); !errors.Is(err, ErrServiceAccount) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t))
	got := make(chan []*Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []Options{{Provider: OpenAI, APIKey: "k"}, {Provider: Azure, APIKey: "k"}, {Provider: Bedrock, APIKey: "k"}, {Provider: Vertex, ServiceAccountJSON: mockSA(t)}}, func(s []*Server) { got <- s })
	}()
	servers := <-got
	if len(servers) != 4 || servers[3].Provider() != Vertex {
		t.Fatalf("servers %v", servers)
	}
	resp, _ := post(t, servers[0].URL()+"/v1/chat/completions", map[string]string{"Authorization": "Bearer k"}, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != 200 {
		t.Errorf("openai via Run: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), []Options{{Provider: OpenAI, APIKey: "k"}, {Provider: "nope"}}, nil); !errors.Is(err, ErrUnknownProvider) {
		t.Errorf("Run with a bad entry: %v", err)
	}
}
