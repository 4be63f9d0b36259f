package telemetry_test

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/router/telemetry"
)

// The core's side: one Telemetry per process; Handles resolved when a
// generation is built; a request records through them.
func Example() {
	tel, err := telemetry.New(telemetry.Config{NoProcessMetrics: true}) // tracing off: Tracing.Endpoint unset
	if err != nil {
		panic(err)
	}
	defer tel.Close(context.Background())

	// Generation build: one Handles per (endpoint, tenant, model, upstream).
	azure := tel.Handles(telemetry.Labels{Endpoint: "chat", Tenant: "acme", Model: "gpt-5.5", Upstream: "azure-eu", Provider: "azure"})
	bedrock := tel.Handles(telemetry.Labels{Endpoint: "chat", Tenant: "acme", Model: "gpt-5.5", Upstream: "bedrock-us", Provider: "bedrock"})
	redact := tel.Plugin("pii", "redact")

	// One request: a plugin call, a failed attempt, a fallback, a good
	// attempt, the answer.
	ctx, span := tel.StartRequest(context.Background(), nil, "chat", "acme", "gpt-5.5")
	redact.Call(40*time.Microsecond, false)
	bedrock.Attempt(telemetry.ResultServerError, 80*time.Millisecond)
	bedrock.Fallback(telemetry.ResultServerError)
	_, attempt := tel.StartAttempt(ctx, "chat", "azure-eu", "azure", "gpt55-prod", 2)
	azure.Attempt(telemetry.ResultOK, 300*time.Millisecond)
	attempt.EndAttempt(200, telemetry.ResultOK)
	o := telemetry.Outcome{Status: 200, Cache: telemetry.CacheMiss, Duration: 420 * time.Millisecond, TTFT: 180 * time.Millisecond,
		Usage: telemetry.Usage{Input: 120, Output: 40, CostUSD: 0.0011}}
	azure.Record(&o)
	span.End(200, "")

	for _, r := range tel.AppendTraffic(nil) {
		fmt.Printf("%s %s: %d requests, %d input tokens\n", r.Tenant, r.Upstream, r.Requests, r.InputTokens)
	}
	// Output:
	// acme azure-eu: 1 requests, 120 input tokens
	// acme bedrock-us: 0 requests, 0 input tokens
}
