package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is a loopback OTLP/HTTP trace receiver: it decodes each
// ExportTraceServiceRequest with the OTLP protobuf types and keeps the spans.
type receiver struct {
	url     string
	mu      sync.Mutex
	spans   []*tracepb.Span
	res     []*commonpb.KeyValue
	arrived chan struct{} // signalled after each export
	bad     error
}

func newReceiver(tb testing.TB) *receiver {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &receiver{url: "http://" + ln.Addr().String(), arrived: make(chan struct{}, 1)}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(io.LimitReader(body, 64<<20))
	var ex coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &ex)
	}
	r.mu.Lock()
	switch {
	case req.URL.Path != "/v1/traces":
		r.bad = errors.New("export to " + req.URL.Path)
	case req.Header.Get("Content-Type") != "application/x-protobuf":
		r.bad = errors.New("content type " + req.Header.Get("Content-Type"))
	case err != nil:
		r.bad = err
	}
	for _, rs := range ex.GetResourceSpans() {
		r.res = rs.GetResource().GetAttributes()
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
	select {
	case r.arrived <- struct{}{}:
	default:
	}
}

func attrs(kv []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := map[string]*commonpb.AnyValue{}
	for _, a := range kv {
		m[a.GetKey()] = a.GetValue()
	}
	return m
}

func TestSpansReachAnOTLPReceiver(t *testing.T) {
	rcv := newReceiver(t)
	tel := newTel(t, Config{NoProcessMetrics: true, PoP: "fra1",
		Tracing: TracingConfig{Endpoint: rcv.url, BatchTimeout: time.Hour, Headers: map[string]string{"x-collector": "1"}}})
	if !tel.Tracing() {
		t.Fatal("tracing off with an endpoint")
	}
	const clientTrace, clientSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	var in, up fasthttp.RequestHeader
	in.Set("traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	in.Set("tracestate", "vendor=x")

	rctx, rs := tel.StartRequest(context.Background(), &in, "chat", "acme", "gpt-5.5")
	if !rs.Recording() {
		t.Fatal("request span not recording")
	}
	ps := tel.StartPlugin(rctx, "pii", "redact")
	ps.End(0, "")
	a1ctx, a1 := tel.StartAttempt(rctx, "chat", "bedrock-us", "bedrock", "openai.gpt-oss-120b-1:0", 1)
	a1.EndAttempt(503, ResultServerError)
	_ = a1ctx
	a2ctx, a2 := tel.StartAttempt(rctx, "chat", "azure-eu", "azure", "gpt55-prod", 2)
	tel.Inject(a2ctx, &up)
	a2.SetResponse("gpt-5.5-2026-01-01", []string{"stop"})
	a2.SetUsage(Usage{Input: 12, Output: 34})
	a2.EndAttempt(200, ResultOK)
	rs.SetResponse("gpt-5.5-2026-01-01", []string{"stop"})
	rs.SetUsage(Usage{Input: 12, Output: 34, Cached: 4, CostUSD: 0.002})
	rs.SetTTFT(250 * time.Millisecond)
	rs.SetCache(CacheMiss)
	rs.SetUpstream("azure-eu", "azure")
	rs.End(200, "")

	// The upstream request carries the second attempt's span as parent.
	tp := string(up.Peek("traceparent"))
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || parts[0] != "00" || parts[1] != clientTrace || parts[3] != "01" {
		t.Fatalf("upstream traceparent %q", tp)
	}
	if got := string(up.Peek("tracestate")); got != "vendor=x" {
		t.Fatalf("tracestate %q", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tel.Close(ctx); err != nil { // flushes the batch
		t.Fatal(err)
	}
	if err := tel.Close(ctx); err != nil {
		t.Fatal("second Close:", err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.bad != nil {
		t.Fatal(rcv.bad)
	}
	if len(rcv.spans) != 4 {
		t.Fatalf("%d spans", len(rcv.spans))
	}
	if ra := attrs(rcv.res); ra["service.name"].GetStringValue() != "switchyard" || ra["switchyard.pop"].GetStringValue() != "fra1" {
		t.Fatalf("resource %v", rcv.res)
	}
	by := map[string]*tracepb.Span{}
	for _, s := range rcv.spans {
		if hex.EncodeToString(s.GetTraceId()) != clientTrace {
			t.Fatalf("span %q in trace %x", s.GetName(), s.GetTraceId())
		}
		by[s.GetName()] = s
	}
	req, plug, att1, att2 := by["chat gpt-5.5"], by["plugin redact pii"], by["chat openai.gpt-oss-120b-1:0"], by["chat gpt55-prod"]
	if req == nil || plug == nil || att1 == nil || att2 == nil {
		t.Fatalf("span names: %v", by)
	}
	if hex.EncodeToString(req.GetParentSpanId()) != clientSpan || req.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Fatalf("request span parent %x kind %v", req.GetParentSpanId(), req.GetKind())
	}
	for _, c := range []*tracepb.Span{plug, att1, att2} {
		if !bytes.Equal(c.GetParentSpanId(), req.GetSpanId()) {
			t.Fatalf("%s: parent %x, want the request span %x", c.GetName(), c.GetParentSpanId(), req.GetSpanId())
		}
	}
	if parts[2] != hex.EncodeToString(att2.GetSpanId()) {
		t.Fatalf("upstream parent %s, want attempt 2's span %x", parts[2], att2.GetSpanId())
	}
	if att2.GetKind() != tracepb.Span_SPAN_KIND_CLIENT || plug.GetKind() != tracepb.Span_SPAN_KIND_INTERNAL {
		t.Fatal("span kinds")
	}
	ra := attrs(req.GetAttributes())
	for k, want := range map[string]string{"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-5.5",
		"gen_ai.response.model": "gpt-5.5-2026-01-01", "switchyard.tenant": "acme", "switchyard.cache": "miss",
		"gen_ai.provider.name": "azure.ai.openai", "switchyard.upstream": "azure-eu"} {
		if got := ra[k].GetStringValue(); got != want {
			t.Errorf("request %s = %q, want %q", k, got, want)
		}
	}
	if ra["gen_ai.usage.input_tokens"].GetIntValue() != 12 || ra["gen_ai.usage.output_tokens"].GetIntValue() != 34 ||
		ra["gen_ai.usage.cache_read.input_tokens"].GetIntValue() != 4 || ra["http.response.status_code"].GetIntValue() != 200 {
		t.Errorf("request usage/status attributes: %v", req.GetAttributes())
	}
	if ra["gen_ai.response.time_to_first_chunk"].GetDoubleValue() != 0.25 {
		t.Errorf("ttft %v", ra["gen_ai.response.time_to_first_chunk"])
	}
	if fr := ra["gen_ai.response.finish_reasons"].GetArrayValue().GetValues(); len(fr) != 1 || fr[0].GetStringValue() != "stop" {
		t.Errorf("finish reasons %v", fr)
	}
	a1a, a2a := attrs(att1.GetAttributes()), attrs(att2.GetAttributes())
	if a1a["gen_ai.provider.name"].GetStringValue() != "aws.bedrock" || a1a["error.type"].GetStringValue() != "server_error" ||
		att1.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR || a1a["switchyard.attempt"].GetIntValue() != 1 {
		t.Errorf("attempt 1: %v %v", att1.GetAttributes(), att1.GetStatus())
	}
	if a2a["gen_ai.provider.name"].GetStringValue() != "azure.ai.openai" || a2a["switchyard.upstream"].GetStringValue() != "azure-eu" ||
		att2.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR || a2a["gen_ai.usage.output_tokens"].GetIntValue() != 34 {
		t.Errorf("attempt 2: %v %v", att2.GetAttributes(), att2.GetStatus())
	}
}

// A new trace (no client traceparent) gets a fresh root; a client's
// unsampled flag is honoured (parent-based sampling).
func TestTraceparentSampling(t *testing.T) {
	rcv := newReceiver(t)
	tel := newTel(t, Config{NoProcessMetrics: true, Tracing: TracingConfig{Endpoint: rcv.url + "/v1/traces"}})
	var unsampled fasthttp.RequestHeader
	unsampled.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")
	_, s := tel.StartRequest(context.Background(), &unsampled, "chat", "acme", "m")
	if s.Recording() {
		t.Fatal("recorded a trace the client did not sample")
	}
	s.End(200, "")
	_, root := tel.StartRequest(context.Background(), nil, "embeddings", "acme", "emb")
	if !root.Recording() {
		t.Fatal("new trace not recorded at ratio 1")
	}
	root.End(200, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tel.Close(ctx)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.spans) != 1 || rcv.spans[0].GetName() != "embeddings emb" || len(rcv.spans[0].GetParentSpanId()) != 0 {
		t.Fatalf("spans %v", rcv.spans)
	}
}

func TestBadTracingEndpoint(t *testing.T) {
	for _, ep := range []string{"127.0.0.1:4318", "ftp://x/v1/traces", "http://", "::"} {
		if _, err := New(Config{Tracing: TracingConfig{Endpoint: ep}}); !errors.Is(err, ErrBadEndpoint) {
			t.Errorf("%q: %v", ep, err)
		}
	}
}
