package provider

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestOpenAIError(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		headers   map[string]string
		body      string
		retryable bool
		code      string
		typ       string
		after     time.Duration
	}{
		{"rate limit", 429, map[string]string{"retry-after": "2"}, `{"error":{"message":"Rate limit reached","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`, true, "rate_limit_exceeded", "tokens", 2 * time.Second},
		{"quota is final", 429, nil, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`, false, "insufficient_quota", "insufficient_quota", 0},
		{"azure 429 ms hint wins", 429, map[string]string{"retry-after": "6", "retry-after-ms": "1500"}, `{"error":{"code":"429","message":"Requests … exceeded token rate limit"}}`, true, "429", "rate_limit_error", 1500 * time.Millisecond},
		{"azure content filter", 400, nil, `{"error":{"message":"filtered","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}`, false, "content_filter", "invalid_request_error", 0},
		{"bad key", 401, nil, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, false, "invalid_api_key", "invalid_request_error", 0},
		{"overloaded", 503, nil, `{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}`, true, "", "server_error", 0},
		{"html body", 502, nil, `<html>bad gateway</html>`, true, "", "server_error", 0},
		{"x-should-retry false", 500, map[string]string{"x-should-retry": "false"}, `{}`, false, "", "server_error", 0},
		{"numeric code", 404, nil, `{"error":{"message":"nope","code":404}}`, false, "404", "invalid_request_error", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h fasthttp.ResponseHeader
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			e := OpenAIError(tt.status, &h, []byte(tt.body))
			if e.Retryable != tt.retryable || e.Code != tt.code || e.Type != tt.typ || e.RetryAfter != tt.after || e.Message == "" || e.Status != tt.status {
				t.Fatalf("got %+v", e)
			}
		})
	}
}

// In-stream errors are classified like answers: a 429 other than
// insufficient_quota and a 5xx may succeed on another upstream.
func TestStreamErrorRetryable(t *testing.T) {
	for payload, retry := range map[string]bool{
		`{"error":{"message":"boom","type":"server_error"}}`:                                   true,
		`{"error":{"message":"slow","type":"rate_limit_error","code":"rate_limit_exceeded"}}`:  true,
		`{"error":{"message":"paid","type":"insufficient_quota","code":"insufficient_quota"}}`: false,
		`{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}`:  true,
		`{"error":{"message":"bad","type":"invalid_request_error"}}`:                           false,
		`[{"error":{"code":503,"message":"Unavailable","status":"UNAVAILABLE"}}]`:              true,
	} {
		if e := StreamError([]byte(payload)); e.Retryable != retry || e.Type == "" {
			t.Errorf("%s: %+v, want retryable %v", payload, e, retry)
		}
	}
}

func TestParseResponsesMode(t *testing.T) {
	for _, c := range []struct {
		in   string
		mode ResponsesMode
		def  bool
		err  bool
	}{
		{"", ResponsesUnsupported, true, false}, {"native", ResponsesNative, false, false},
		{"translated", ResponsesTranslated, false, false}, {"off", ResponsesUnsupported, false, false},
		{"sometimes", 0, false, true},
	} {
		m, def, err := ParseResponsesMode(c.in)
		if m != c.mode || def != c.def || (err != nil) != c.err {
			t.Errorf("ParseResponsesMode(%q) = %v, %v, %v", c.in, m, def, err)
		}
	}
	if ResponsesTranslated.String() != "translated" || ResponsesMode(9).String() != "unknown" {
		t.Error("String")
	}
}

// A 401 from an OpenAI-shaped cloud is a refused credential; a 403 is not.
func TestOpenAIErrorCredential(t *testing.T) {
	var h fasthttp.ResponseHeader
	if e := OpenAIError(401, &h, []byte(`{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`)); !e.Credential || e.Retryable {
		t.Fatalf("401: %+v", *e)
	}
	if e := OpenAIError(403, &h, []byte(`{"error":{"message":"no","type":"permission_error"}}`)); e.Credential {
		t.Fatalf("403: %+v", *e)
	}
}
