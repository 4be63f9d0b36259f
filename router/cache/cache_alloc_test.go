//go:build !race

package cache

import (
	"testing"
	"time"
)

func TestGetAllocs(t *testing.T) {
	c := newTestCache(t, Config{})
	k := keyOf(t, "acme", "gpt", baseBody)
	c.Set("acme", "gpt", k, testEntry(t), time.Hour)
	miss := k
	miss[0] ^= 1
	if n := testing.AllocsPerRun(1000, func() {
		if _, ok := c.Get("acme", k); !ok {
			t.Fatal("miss")
		}
	}); n != 0 {
		t.Errorf("Get (hit) allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { c.Get("acme", miss) }); n != 0 {
		t.Errorf("Get (miss) allocates %v times", n)
	}
}

func TestControlAllocs(t *testing.T) {
	cc, x := []byte("no-cache, max-age=60"), []byte("refresh")
	var p Params
	p.HasSeed = true
	pol := &Policies{tenants: map[string]Policy{"acme": Always}, models: map[string]Policy{}}
	model := []byte("gpt")
	if n := testing.AllocsPerRun(1000, func() {
		ParseControl(cc, x)
		pol.For("acme", model).Cacheable(&p)
	}); n != 0 {
		t.Errorf("ParseControl/For/Cacheable allocate %v times", n)
	}
}
