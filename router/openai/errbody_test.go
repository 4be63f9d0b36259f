package openai

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"
)

func TestParseErrorBody(t *testing.T) {
	cases := []struct {
		name string
		body string
		ok   bool
		want ErrorBody
	}{
		{"google object", `{"error":{"code":429,"message":"Resource exhausted.","status":"RESOURCE_EXHAUSTED"}}`, true,
			ErrorBody{Message: "Resource exhausted.", NumCode: 429, Status: "RESOURCE_EXHAUSTED"}},
		{"google array with RetryInfo", `[{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure"},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"28s"}]}}]`, true,
			ErrorBody{Message: "m", NumCode: 429, Status: "RESOURCE_EXHAUSTED", RetryDelay: 28 * time.Second}},
		{"openai", `{"error":{"message":"m","type":"invalid_request_error","param":"model","code":"model_not_found"}}`, true,
			ErrorBody{Message: "m", Type: "invalid_request_error", Param: "model", Code: "model_not_found"}},
		{"azure string code", `{"error":{"code":"429","message":"m"}}`, true, ErrorBody{Message: "m", Code: "429", NumCode: 429}},
		{"string error", `{"error":"invalid_grant"}`, true, ErrorBody{Message: "invalid_grant"}},
		{"html", `<html><body>404</body></html>`, false, ErrorBody{}},
		{"aws", `{"message":"x"}`, false, ErrorBody{}},
		{"empty array", `[]`, false, ErrorBody{}},
		{"empty", ``, false, ErrorBody{}},
	}
	for _, tc := range cases {
		var p fastjson.Parser
		got, ok := ParseErrorBody(&p, []byte(tc.body))
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTruncate(t *testing.T) {
	s := strings.Repeat("é", MaxMessageBytes)
	got := Truncate(s)
	if len(got) > MaxMessageBytes+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "éé") {
		t.Fatalf("len %d", len(got))
	}
	if Truncate("short") != "short" {
		t.Fatal("short changed")
	}
}

// FuzzParseErrorBody: never panics.
func FuzzParseErrorBody(f *testing.F) {
	f.Add([]byte(`[{"error":{"code":429,"details":[{"@type":"google.rpc.RetryInfo","retryDelay":"1s"}]}}]`))
	f.Add([]byte(`{"error":{"message":"m","type":"t","code":"c"}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var p fastjson.Parser
		ParseErrorBody(&p, in)
	})
}
