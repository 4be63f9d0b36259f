//go:build !race

package cache

import (
	"testing"
)

func TestKeyAllocs(t *testing.T) {
	body := benchBody(2048)
	unsorted := []byte(`{"z":{"y":[{"b":1,"a":2}],"x":"\u0041"},"a":1.50}`)
	var k Keyer
	for _, b := range [][]byte{body, unsorted} {
		b := b
		k.Key("acme", "/v1/chat/completions", []byte("gpt-5.5"), b) // grow the scratch buffers
		if n := testing.AllocsPerRun(100, func() {
			if _, err := k.Key("acme", "/v1/chat/completions", []byte("gpt-5.5"), b); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Key allocates %v times per call", n)
		}
	}
}

func TestKeyerPoolAllocs(t *testing.T) {
	body := benchBody(2048)
	model := []byte("gpt-5.5")
	run := func() {
		k := AcquireKeyer()
		if _, err := k.Key("acme", "/v1/chat/completions", model, body); err != nil {
			t.Fatal(err)
		}
		ReleaseKeyer(k)
	}
	run()
	if n := testing.AllocsPerRun(100, run); n > 0.05 { // sync.Pool may drop an item at a GC
		t.Errorf("Acquire/Key/Release allocates %v times per call", n)
	}
}

// A memoised key costs no allocation.
func TestMemoKeyAllocs(t *testing.T) {
	c, _ := New(Config{})
	defer c.Close()
	var k Keyer
	body := []byte(baseBody)
	c.Key(&k, "t", "chat/completions", []byte("m"), body)
	if n := testing.AllocsPerRun(500, func() { c.Key(&k, "t", "chat/completions", []byte("m"), body) }); n != 0 {
		t.Fatalf("%.1f allocs", n)
	}
}
