package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/router/cache"
)

// Example shows the router's use of the cache for one request: policy and
// controls, key, lookup, coalesced upstream call, store, and a hit answered
// in the other mode.
func Example() {
	c, err := cache.New(cache.Config{TTL: time.Hour})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	policies, _ := cache.NewPolicies(cache.PolicyConfig{})

	body := []byte(`{"model":"gpt-5.5","temperature":0,"messages":[{"role":"user","content":"hi"}]}`)
	model := []byte("gpt-5.5")
	params := cache.Params{Temperature: 0, HasTemperature: true} // from the router's scanner
	ctl, maxAge, hasMaxAge := cache.ParseControl(nil, nil)       // request headers

	if !policies.For("acme", model).Cacheable(&params) || !ctl.Lookup() {
		return // forward without the cache
	}
	kr := cache.AcquireKeyer()
	k, err := kr.Key("acme", "/v1/chat/completions", model, body)
	cache.ReleaseKeyer(kr)
	if err != nil {
		return // uncacheable body: forward
	}
	if _, ok := c.Get("acme", k); !ok {
		f, leader := c.Join("acme", k)
		if leader {
			// ... the upstream call; a complete 200 answer:
			upstream := []byte(`{"id":"c1","object":"chat.completion","created":1,"model":"gpt-5.5",` +
				`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"logprobs":null,"finish_reason":"stop"}],` +
				`"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`)
			e, err := cache.NewEntryFromJSON(upstream)
			if err == nil && ctl.Store() {
				c.Set("acme", "gpt-5.5", k, e, c.TTL(maxAge, hasMaxAge))
			}
			f.Done(e) // nil on failure: waiters go upstream themselves
			fmt.Println("x-switchyard-cache: miss")
		} else if _, ok := f.Wait(context.Background()); ok {
			fmt.Println("x-switchyard-cache: coalesced")
		}
	}
	// The same request, streamed this time: a hit, served as SSE.
	if e, ok := c.Get("acme", k); ok {
		fmt.Println("x-switchyard-cache: hit; Age:", int(e.Age(time.Now()).Seconds()))
		fmt.Printf("%s", e.SSEBody(false)[len(e.SSEBody(false))-14:])
	}
	// Output:
	// x-switchyard-cache: miss
	// x-switchyard-cache: hit; Age: 0
	// data: [DONE]
}
