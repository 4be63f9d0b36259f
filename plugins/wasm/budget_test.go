package wasm

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
)

// bigBody is a chat request of about size bytes whose user message holds n
// e-mail addresses (distinct of them) spread evenly through filler text.
func bigBody(size, n, distinct int) []byte {
	filler := []byte("Please summarise the thread below and keep every name as written. ")
	var msg []byte
	per := (size - 200) / max(n, 1)
	for i := range max(n, 1) {
		for len(msg) < (i+1)*per-40 {
			msg = append(msg, filler...)
		}
		if n > 0 {
			msg = append(msg, "user"+strconv.Itoa(i%distinct)+"@example.com "...)
		}
	}
	return []byte(`{"model":"gpt-5.5","messages":[{"role":"user","content":"` + string(msg) + `"}]}`)
}

// The default budget lets a 1 MiB body with 2,000 addresses (20 distinct)
// through the Go redact-email example (regression: a fixed 10M budget failed
// a 65 KB body with 43 addresses), and every address is in the vault. The
// same for 64 KiB with 43 distinct addresses, the body from the report.
func TestBigBodyRedactsWithinDefaultBudget(t *testing.T) {
	p := loadPath(t, Config{Name: "pii", Kind: plugins.KindRedact, Wasm: goExample(t, "redact-email"), PoolSize: 1})
	for _, tc := range []struct{ size, n, distinct int }{{1 << 20, 2000, 20}, {64 << 10, 43, 43}} {
		body := bigBody(tc.size, tc.n, tc.distinct)
		v := new(plugins.Vault)
		out, err := p.Redact(context.Background(), body, nil, v)
		if err != nil {
			t.Fatalf("Redact(%d bytes, %d addresses): %v", len(body), tc.n, err)
		}
		if v.Len() != tc.distinct || bytes.Contains(out, []byte("@example.com")) {
			t.Fatalf("vault %d pairs, addresses left: %v", v.Len(), bytes.Contains(out, []byte("@example.com")))
		}
		if got := v.Restore(nil, out); !bytes.Equal(got, body) {
			t.Fatal("restoring the redacted body does not give the body back")
		}
	}
}

// A runaway loop on a small body is still cut by fuel (the per-byte
// allowance adds little for a small record).
func TestLoopStillCutWithPerByteBudget(t *testing.T) {
	p := load(t, "loop", nil)
	req, ups := testRequest(0), testUpstreams()
	if b := p.cfg.budget(routeRecordSize(req, ups)); b > DefaultBaseFuel+DefaultBaseFuel/10 {
		t.Fatalf("budget of a small route record %d, want about the base %d", b, DefaultBaseFuel)
	}
	t0 := time.Now()
	_, err := p.Route(context.Background(), req, ups, nil)
	if !errors.Is(err, ErrFuelExhausted) {
		t.Fatalf("Route = %v, want ErrFuelExhausted", err)
	}
	t.Logf("cut after %v", time.Since(t0))
}

// BenchmarkFuelPerMatch reports the fuel the Go redact-email example spends
// on a 1 MiB body with 2,000 addresses (20 distinct) and without any, so the per-byte
// allowance and the per-match cost can be read off (fuel/op, match-fuel).
func BenchmarkFuelPerMatch(b *testing.B) {
	p := benchPlugin(b, Config{Name: "pii", Kind: plugins.KindRedact, Wasm: goExample(b, "redact-email"), BaseFuel: 1 << 40, MaxFuel: 1 << 40})
	ctx := context.Background()
	spent := func(body []byte) int64 {
		in, err := p.get(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer p.put(in, false)
		v := new(plugins.Vault)
		if _, err := p.redact(ctx, in, body, nil, v); err != nil {
			b.Fatal(err)
		}
		return int64(1<<40) - p.fuelLeft(in)
	}
	with, without := bigBody(1<<20, 2000, 20), bigBody(1<<20, 0, 1)
	var fw, fo int64
	for b.Loop() {
		fw, fo = spent(with), spent(without)
	}
	b.ReportMetric(float64(fo)/float64(len(without)), "fuel/byte")
	b.ReportMetric(float64(fw-fo)/2000, "fuel/match")
	b.ReportMetric(float64(fw), "fuel-1MiB-2000")
}
