package main

import (
	"slices"
	"testing"

	sdk "github.com/switchyard-dev/switchyard/sdk/go"
)

func TestRouteFastestHealthyFirst(t *testing.T) {
	ups := []sdk.Upstream{
		{Name: "slow", Healthy: true, TTFBUS: 900},
		{Name: "down", Healthy: false, TTFBUS: 10},
		{Name: "fast", Healthy: true, TTFBUS: 100},
	}
	if got := Route(&sdk.Request{Model: "gpt-4o-mini"}, ups); !slices.Equal(got, sdk.Decision{2, 0}) {
		t.Fatalf("Route = %v, want [2 0]", got)
	}
	if got := Route(&sdk.Request{}, ups[1:2]); len(got) != 0 {
		t.Fatalf("all unhealthy: Route = %v, want no opinion", got)
	}
}
