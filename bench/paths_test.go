package bench_test

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// pathSet is every whole-request path of issue 6 with its baseline, built
// once per benchmark function and shared by its sub-benchmarks.
type pathSet struct {
	direct                   *fasthttp.HostClient // the mock, over loopback
	plain, goR, cR, red, cRR served               // routers: no plugins; Go route; C route; redact; C route + redact
	bareJSON, bareSSE        served               // bare fasthttp answering with the hit's bytes
}

// buildPaths starts two mocks, five routers and the two bare servers. The
// bare servers answer with exactly the bytes (status, headers, body) of a
// cache hit captured from the plain router, so the hit/bare ratio measures
// the router's work and nothing else.
func buildPaths(tb testing.TB) *pathSet {
	tb.Helper()
	ma, mb := startMock(tb, nil), startMock(tb, nil)
	p := &pathSet{direct: directClient(ma)}
	p.plain = startRouter(tb, benchConfig(tb, ma, mb))
	p.goR = startRouter(tb, benchConfig(tb, ma, mb, goRoute(tb)))
	p.cR = startRouter(tb, benchConfig(tb, ma, mb, cRoute(tb)))
	p.red = startRouter(tb, benchConfig(tb, ma, mb, redact(tb)))
	p.cRR = startRouter(tb, benchConfig(tb, ma, mb, cRoute(tb), redact(tb)))
	p.bareJSON = serveBare(tb, target{c: p.plain.loopback, body: hitJSON, cache: "hit"}.warm(tb))
	p.bareSSE = serveBare(tb, target{c: p.plain.loopback, body: hitSSE, cache: "hit"}.warm(tb))
	return p
}

// namedTarget is a sub-benchmark: name is "<case>/<arm>", where the arm
// "bare" or "direct" is the baseline the other arms of the case divide by.
type namedTarget struct {
	name string
	t    target
}

// targets lists the paths over one transport ("inmem" or "loopback": how
// the client reaches the router and the bare server; the router always
// reaches the mock over loopback, and "direct" is always loopback).
func (p *pathSet) targets(transport string) []namedTarget {
	d := target{c: p.direct, auth: true}
	via := func(s served, body []byte, cache string) target {
		return target{c: s.client(transport), body: body, cache: cache}
	}
	with := func(t target, body []byte) target { t.body = body; return t }
	return []namedTarget{
		{"hit-json/bare", via(p.bareJSON, hitJSON, "hit")},
		{"hit-json/switchyard", via(p.plain, hitJSON, "hit")},
		{"hit-sse/bare", via(p.bareSSE, hitSSE, "hit")},
		{"hit-sse/switchyard", via(p.plain, hitSSE, "hit")},
		{"miss-json/direct", with(d, missJSON)},
		{"miss-json/switchyard", via(p.plain, missJSON, "")},
		{"miss-json/route-go", via(p.goR, missJSON, "")},
		{"miss-json/route-c", via(p.cR, missJSON, "")},
		{"miss-json/redact", via(p.red, redactJSON, "")},
		{"miss-json/route-c+redact", via(p.cRR, redactJSON, "")},
		{"miss-sse/direct", with(d, missSSE)},
		{"miss-sse/switchyard", via(p.plain, missSSE, "")},
	}
}

// BenchmarkPaths measures one request at a time through the real server for
// each path, next to its baseline in the same run:
//
//	go test -run '^$' -bench BenchmarkPaths -benchmem ./bench/
//
// Read hit-*/switchyard against hit-*/bare (the same bytes from a bare
// fasthttp handler) and miss-*/X against miss-*/direct (the mock without the
// router). B/op and allocs/op count the whole process: client, router and
// mock; subtract the baseline's to get the router's share.
func BenchmarkPaths(b *testing.B) {
	p := buildPaths(b)
	for _, tr := range []string{"inmem", "loopback"} {
		b.Run(tr, func(b *testing.B) {
			for _, nt := range p.targets(tr) {
				b.Run(nt.name, nt.t.run)
			}
		})
	}
}

// BenchmarkPathsParallel is the throughput view: GOMAXPROCS clients, each
// on its own keep-alive connection over loopback.
//
//	go test -run '^$' -bench BenchmarkPathsParallel -benchmem ./bench/
func BenchmarkPathsParallel(b *testing.B) {
	p := buildPaths(b)
	for _, nt := range p.targets("loopback") {
		switch nt.name {
		case "hit-json/bare", "hit-json/switchyard", "miss-json/direct", "miss-json/switchyard", "miss-json/route-c+redact":
			b.Run(nt.name, nt.t.runParallel)
		}
	}
}
