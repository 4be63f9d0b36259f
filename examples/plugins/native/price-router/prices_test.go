package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
)

func TestCheapest(t *testing.T) {
	p := &Prices{
		Regions:   map[string]Price{"westeurope": {In: 2.5, Out: 10}, "us-east-1": {In: 2, Out: 8}},
		Upstreams: map[string]Price{"azure-ptu": {In: 1, Out: 1}},
	}
	ups := []plugins.Upstream{
		{Name: "azure-eu", Region: "westeurope", Healthy: true},
		{Name: "bedrock-us", Region: "us-east-1", Healthy: true},
		{Name: "azure-ptu", Region: "westeurope", Healthy: true},
		{Name: "vertex", Region: "nowhere", Healthy: true, PriceIn: 3, PriceOut: 3},
		{Name: "unpriced-fast", Region: "nowhere", Healthy: true, LatencyUS: 1},
		{Name: "down", Region: "us-east-1", Healthy: false},
	}
	for _, tc := range []struct {
		name     string
		ups      []plugins.Upstream
		in, out  int
		dst, got []int
	}{
		{"by cost; names beat regions; table prices; unpriced last; unhealthy out", ups, 1000, 256, nil, []int{2, 3, 1, 0, 4}},
		{"output-heavy request", ups, 10, 10000, []int{9}, []int{9, 2, 3, 1, 0, 4}},
		{"none healthy: no opinion", ups[5:], 1000, 256, []int{9}, []int{9}},
		{"empty table", nil, 1000, 256, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.cheapest(tc.dst, tc.ups, tc.in, tc.out); fmt.Sprint(got) != fmt.Sprint(tc.got) {
				t.Fatalf("cheapest = %v, want %v", got, tc.got)
			}
		})
	}
}

func TestReadPrices(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, body, err string }{
		{"ok", `{"regions":{"a":{"in":1,"out":2}}}`, ""},
		{"shipped example", "", ""},
		{"not JSON", `{"regions":`, "unexpected end"},
		{"negative", `{"regions":{"a":{"in":-1,"out":2}}}`, `negative price for "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "prices.json"
			if tc.body != "" {
				path = filepath.Join(dir, tc.name+".json")
				if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := readPrices(path)
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("readPrices = %v, want error %q", err, tc.err)
			}
		})
	}
}
