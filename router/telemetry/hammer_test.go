package telemetry

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// Many goroutines record on shared handles (first uses of (status, cache)
// pairs racing), build handles and scrape at once; every request is counted
// exactly once.
func TestHammerRecordAndScrape(t *testing.T) {
	tel := newTel(t, Config{NoProcessMetrics: true})
	const workers, per = 8, 2000
	statuses := []int{200, 429, 502, 418}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				h := tel.Handles(Labels{Endpoint: "chat", Tenant: "t" + strconv.Itoa(i%2), Model: "m", Upstream: "u", Provider: "openai"})
				h.Record(&Outcome{Status: statuses[(w+i)%len(statuses)], Cache: Cache(i % int(numCache)), Duration: time.Millisecond, Usage: Usage{Input: 1}})
				h.Attempt(Result(i%int(numResult)), time.Millisecond)
			}
		}(w)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			scrape(t, tel)
			tel.AppendTraffic(nil)
		}
	}()
	wg.Wait()
	var total, input uint64
	for _, r := range tel.AppendTraffic(nil) {
		total += r.Requests
		input += r.InputTokens
	}
	if total != workers*per || input != workers*per {
		t.Fatalf("counted %d requests, %d input tokens; want %d", total, input, workers*per)
	}
	m := scrape(t, tel)
	mustLine(t, m, `switchyard_upstream_attempts_total{result="ok",upstream="u"}`, strconv.Itoa(workers*((per+int(numResult)-1)/int(numResult)))) // i%numResult == 0 in [0, per)
}
