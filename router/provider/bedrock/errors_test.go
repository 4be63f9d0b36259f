package bedrock

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
)

func TestError(t *testing.T) {
	a, err := New(config.Upstream{Name: "b", Region: "us-east-1", Auth: config.Auth{BearerToken: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		status     int
		errType    string // x-amzn-ErrorType header
		retryAfter string
		body       string
		wantStatus int
		wantType   string
		wantCode   string
		wantMsg    string
		retry      bool
		wantAfter  time.Duration
	}{
		{"throttle header", 429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", "",
			`{"message":"Too many requests, please wait before trying again."}`,
			429, "rate_limit_error", "ThrottlingException", "Too many requests, please wait before trying again.", true, 0},
		{"model not ready in body", 429, "", "", `{"__type":"ModelNotReadyException","message":"warming"}`,
			429, "server_error", "ModelNotReadyException", "warming", true, 0},
		{"type with namespace", 503, "", "", `{"__type":"com.amazon.coral#ServiceUnavailableException","Message":"busy"}`,
			503, "server_error", "ServiceUnavailableException", "busy", true, 0},
		{"internal", 500, "InternalServerException", "", `{"message":"oops"}`, 500, "server_error", "InternalServerException", "oops", true, 0},
		{"model timeout", 408, "ModelTimeoutException", "", `{"message":"slow"}`, 408, "server_error", "ModelTimeoutException", "slow", true, 0},
		{"validation", 400, "ValidationException:http://x/", "", `{"message":"bad input"}`, 400, "invalid_request_error", "ValidationException", "bad input", false, 0},
		{"access denied", 403, "AccessDeniedException", "", `{"message":"no"}`, 403, "permission_error", "AccessDeniedException", "no", false, 0},
		{"not found", 404, "ResourceNotFoundException", "", `{"message":"no model"}`, 404, "invalid_request_error", "ResourceNotFoundException", "no model", false, 0},
		{"bad signature", 403, "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/", "",
			`{"message":"The request signature we calculated does not match the signature you provided."}`,
			403, "authentication_error", "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.", false, 0},
		{"expired token", 403, "ExpiredTokenException", "", `{"message":"expired"}`, 403, "authentication_error", "ExpiredTokenException", "expired", false, 0},
		{"unknown code 502", 502, "", "", `<html>bad gateway</html>`, 502, "server_error", "", "bedrock returned HTTP 502", true, 0},
		{"unknown 400", 400, "", "", ``, 400, "invalid_request_error", "", "bedrock returned HTTP 400", false, 0},
		{"retry-after honoured", 429, "ThrottlingException", "2", `{"message":"x"}`, 429, "rate_limit_error", "ThrottlingException", "x", true, 2 * time.Second},
		{"openai-style body", 429, "", "", `{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`,
			429, "rate_limit_error", "rate_limit_exceeded", "slow down", true, 0},
		{"openai-style quota", 429, "", "", `{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}`,
			429, "insufficient_quota", "insufficient_quota", "quota", false, 0},
		{"openai-style 400 no type", 400, "", "", `{"error":{"message":"bad"}}`, 400, "invalid_request_error", "", "bad", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h fasthttp.ResponseHeader
			h.SetStatusCode(tc.status)
			if tc.errType != "" {
				h.Set("x-amzn-ErrorType", tc.errType)
			}
			if tc.retryAfter != "" {
				h.Set("Retry-After", tc.retryAfter)
			}
			e := a.Error(tc.status, &h, []byte(tc.body))
			if e.Status != tc.wantStatus || e.Type != tc.wantType || e.Code != tc.wantCode || e.Message != tc.wantMsg ||
				e.Retryable != tc.retry || e.RetryAfter != tc.wantAfter {
				t.Fatalf("got %+v", *e)
			}
		})
	}
}
