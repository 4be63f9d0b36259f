//go:build !wasip1

package sdk

import (
	"fmt"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins/abi"
)

var testReq = Request{Model: "gpt-5.5", Tenant: "acme", Path: "/v1/chat/completions", PoP: "fra1", Region: "eu-central",
	Stream: true, PromptTokens: 42, Headers: []Header{{"user-agent", "curl"}}}

// routeRecord encodes testReq and ups in the order docs/abi.md gives.
func routeRecord(ups ...Upstream) []byte { return encodeRoute(&testReq, ups) }

func encodeRoute(req *Request, ups []Upstream) []byte {
	b := make([]byte, 1<<16)
	var w abi.Writer
	w.Reset(b)
	var f uint32
	if req.Stream {
		f |= abi.FlagStream
	}
	if req.Deterministic {
		f |= abi.FlagDeterministic
	}
	w.U32(f)
	w.U32(uint32(req.PromptTokens))
	for _, s := range []string{req.Model, req.Tenant, req.Path, req.PoP, req.Region} {
		w.String(s)
	}
	w.U32(uint32(len(req.Headers)))
	for _, h := range req.Headers {
		w.String(h.Name)
		w.String(h.Value)
	}
	w.U32(uint32(len(ups)))
	for _, u := range ups {
		w.String(u.Name)
		w.String(u.Provider)
		w.String(u.Region)
		var f uint32
		if u.Healthy {
			f = abi.UpstreamHealthy
		}
		w.U32(f)
		w.U32(u.LatencyUS)
		w.U32(u.TTFBUS)
		w.U32(u.InFlight)
		w.F32(u.ErrorRate)
		w.F32(u.PriceIn)
		w.F32(u.PriceOut)
		w.U32(u.Weight)
	}
	if !w.Ok() {
		panic("record too large")
	}
	return b[:w.Off]
}

var testUps = []Upstream{
	{Name: "a", Provider: "azure", Region: "westeurope", Healthy: true, LatencyUS: 1, TTFBUS: 2, InFlight: 3, ErrorRate: 0.5, PriceIn: 1.25, PriceOut: 10, Weight: 7},
	{Name: "b", Provider: "bedrock", Region: "us-east-1"},
}

func TestRouteDecodeAndEncode(t *testing.T) {
	var g guest
	var seen Request
	var seenUps []Upstream
	HandleRoute(func(req *Request, ups []Upstream) Decision {
		seen, seenUps = *req, append([]Upstream(nil), ups...)
		return []int{1, 0}
	})
	t.Cleanup(func() { HandleRoute(nil) })
	if r := g.route(routeRecord(testUps...)); r <= 0 {
		t.Fatalf("route result %d", r)
	}
	if seen.Model != "gpt-5.5" || seen.Tenant != "acme" || seen.PoP != "fra1" || seen.Region != "eu-central" ||
		!seen.Stream || seen.Deterministic || seen.PromptTokens != 42 || seen.Header("user-agent") != "curl" {
		t.Fatalf("request %+v", seen)
	}
	if fmt.Sprint(seenUps) != fmt.Sprint(testUps) {
		t.Fatalf("upstreams\n%+v\nwant\n%+v", seenUps, testUps)
	}
	if len(g.out) != 8 || abi.U32(g.out) != 1 || abi.U32(g.out[4:]) != 0 {
		t.Fatalf("output % x", g.out)
	}
	HandleRoute(func(*Request, []Upstream) Decision { return nil })
	if r := g.route(routeRecord(testUps...)); r != 0 {
		t.Fatalf("no opinion result %d", r)
	}
	HandleRoute(func(*Request, []Upstream) Decision { return []int{2} })
	if r := g.route(routeRecord(testUps...)); r != -abi.ErrCodeFailed {
		t.Fatalf("bad index result %d", r)
	}
	if r := g.route(routeRecord(testUps...)[:30]); r != -abi.ErrCodeBadInput {
		t.Fatalf("truncated record result %d", r)
	}
	HandleRoute(nil)
	if r := g.route(routeRecord()); r != -abi.ErrCodeNotHandled {
		t.Fatalf("no handler result %d", r)
	}
}

func redactRecord(body string, taken ...string) []byte {
	b := make([]byte, 1024)
	var w abi.Writer
	w.Reset(b)
	w.U32(0)
	w.String(body)
	w.U32(uint32(len(taken)))
	for _, t := range taken {
		w.String(t)
	}
	return b[:w.Off]
}

func TestRedactAndRedaction(t *testing.T) {
	var g guest
	HandleRedact(func(body []byte, v *Redaction) []byte {
		if string(body) == "same" {
			return body
		}
		var out []byte
		out = append(out, v.Placeholder("EMAIL", []byte("a@b.c"))...)
		out = append(out, v.Placeholder("PHONE", []byte("+1"))...)
		out = append(out, v.Placeholder("EMAIL", []byte("d@e.f"))...)
		out = append(out, v.Placeholder("EMAIL", []byte("a@b.c"))...)
		return out
	})
	t.Cleanup(func() { HandleRedact(nil) })
	if r := g.redact(redactRecord("same")); r != 0 {
		t.Fatalf("unchanged body result %d", r)
	}
	if r := g.redact(redactRecord("x")); r <= 0 {
		t.Fatalf("result %d", r)
	}
	var rd abi.Reader
	rd.Reset(g.out)
	body := string(rd.Bytes())
	if body != "<EMAIL_1><PHONE_1><EMAIL_2><EMAIL_1>" {
		t.Fatalf("body %q", body)
	}
	n := rd.U32()
	var pairs []string
	for range n {
		pairs = append(pairs, string(rd.Bytes())+"="+string(rd.Bytes()))
	}
	if !rd.Done() || fmt.Sprint(pairs) != "[<EMAIL_1>=a@b.c <PHONE_1>=+1 <EMAIL_2>=d@e.f]" {
		t.Fatalf("pairs %v (done %v)", pairs, rd.Done())
	}
	// Placeholders taken by an earlier redactor are skipped.
	g.redact(redactRecord("z", "<EMAIL_1>", "<EMAIL_3>"))
	rd.Reset(g.out)
	if b := string(rd.Bytes()); b != "<EMAIL_2><PHONE_1><EMAIL_4><EMAIL_2>" {
		t.Fatalf("with taken placeholders: body %q", b)
	}
	if r := g.redact(redactRecord("z")[:12]); r != -abi.ErrCodeBadInput {
		t.Fatalf("truncated record result %d", r)
	}
	// The vault is per call: numbering restarts.
	g.redact(redactRecord("y"))
	rd.Reset(g.out)
	if b := string(rd.Bytes()); b != "<EMAIL_1><PHONE_1><EMAIL_2><EMAIL_1>" {
		t.Fatalf("second call body %q", b)
	}
}

func TestInitAndKinds(t *testing.T) {
	var g guest
	if kinds() != 0 || g.init(nil) != 0 {
		t.Fatal("defaults")
	}
	Init(func([]byte) error { return fmt.Errorf("nope") })
	HandleRoute(func(*Request, []Upstream) Decision { return nil })
	t.Cleanup(func() { Init(nil); HandleRoute(nil) })
	var logged string
	LogSink = func(_ Level, msg string) { logged = msg }
	t.Cleanup(func() { LogSink = nil })
	if g.init([]byte("{}")) != abi.ErrCodeBadConfig || logged != "init: nope" {
		t.Fatalf("init error not reported: %q", logged)
	}
	if kinds() != abi.KindRoute {
		t.Fatalf("kinds %d", kinds())
	}
}

// FuzzDecodeRoute: no input record makes the decoder panic or read out of
// bounds, and a record it accepts re-encodes to the same bytes, except for
// the flag bits and float NaN payloads the decoder does not keep.
func FuzzDecodeRoute(f *testing.F) {
	f.Add(routeRecord(testUps...))
	f.Add(routeRecord())
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, rec []byte) {
		var g guest
		var req Request
		if !g.decodeRoute(rec, &req) {
			return
		}
		if len(rec) > 1<<15 {
			return
		}
		got := encodeRoute(&req, g.ups)
		if len(got) != len(rec) {
			t.Fatalf("re-encoded %d bytes from %d", len(got), len(rec))
		}
	})
}
