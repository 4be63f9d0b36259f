package cache

import (
	"testing"
)

// The memo returns exactly the key Keyer derives, for repeats and for
// reformatted bodies (which miss the memo and are canonicalised), and keeps
// tenants apart.
func TestMemoKey(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var k Keyer
	bodies := []string{
		`{"messages":[{"role":"user","content":"a"}],"temperature":0}`,
		`{ "temperature": 0, "messages": [ {"content":"a","role":"user"} ] }`,
		`{"messages":[{"role":"user","content":"b"}],"temperature":0}`,
	}
	for range 3 {
		for _, b := range bodies {
			for _, tenant := range []string{"t1", "t2"} {
				want, err1 := k.Key(tenant, "chat/completions", []byte("m"), []byte(b))
				got, err2 := c.Key(&k, tenant, "chat/completions", []byte("m"), []byte(b))
				if err1 != nil || err2 != nil || got != want {
					t.Fatalf("%s %s: memo %x, keyer %x", tenant, b, got, want)
				}
			}
		}
	}
	a, _ := c.Key(&k, "t1", "chat/completions", []byte("m"), []byte(bodies[0]))
	b, _ := c.Key(&k, "t1", "chat/completions", []byte("m"), []byte(bodies[1]))
	d, _ := c.Key(&k, "t2", "chat/completions", []byte("m"), []byte(bodies[0]))
	if a != b || a == d {
		t.Fatal("memo broke equivalence or tenant separation")
	}
	if _, err := c.Key(&k, "t1", "chat/completions", []byte("m"), []byte(`{bad`)); err == nil {
		t.Fatal("invalid JSON keyed")
	}
}

// Filling more than a shard holds clears it and keeps answering correctly.
func TestMemoBounded(t *testing.T) {
	c, _ := New(Config{})
	defer c.Close()
	var k Keyer
	for i := range memoShards * memoPerShard * 2 {
		body := []byte(`{"n":` + itoa(i) + `}`)
		if _, err := c.Key(&k, "t", "e", nil, body); err != nil {
			t.Fatal(err)
		}
	}
	for i := range c.memo.shards {
		if n := len(c.memo.shards[i].m); n > memoPerShard {
			t.Fatalf("shard %d holds %d", i, n)
		}
	}
}

func itoa(i int) string { return string(appendInt(nil, int64(i))) }
