package limits_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/switchyard-dev/switchyard/router/limits"
)

// The instance opens the key file and the limiter once; each generation
// builds its Rules; each request looks its key up, reserves, and settles.
func Example() {
	dir, _ := os.MkdirTemp("", "keys")
	defer os.RemoveAll(dir)
	keys, _ := limits.OpenKeys(limits.KeysConfig{Path: filepath.Join(dir, "keys.json")})
	defer keys.Close()
	// A fixed clock keeps the example's output exact (a real one may tick
	// between requests: "Please try again in 29.999s").
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	limiter, _ := limits.New(limits.Config{Now: func() time.Time { return now }})
	defer limiter.Close()

	// Admin: a key for tenant acme, allowed one model, 2 requests a minute.
	_, secret, _ := keys.Create(limits.KeySpec{Tenant: "acme", Models: []string{"gpt-5*"},
		Limits: limits.Limits{RequestsPerMinute: 2}})

	// Generation: the numbers from the config.
	rules, _ := limiter.Rules(limits.RulesConfig{Tenants: []limits.TenantConfig{
		{Name: "acme", Limits: limits.Limits{TokensPerMinute: 10_000, DailyBudget: 25}}}})

	for range 3 {
		k, err := keys.Lookup([]byte(secret)) // identify
		if err != nil || !k.AllowsModel([]byte("gpt-5.5")) {
			fmt.Println("401/404")
			continue
		}
		res, d := rules.Tenant(k.Tenant()).Reserve(k, limits.Estimate{InputTokens: 120, OutputTokens: 800}) // after parse
		if !d.Allowed() {
			fmt.Printf("%d %s\n", d.Status(), d.AppendErrorBody(nil))
			continue
		}
		fmt.Println("forward; requests left this minute:", d.Requests().Remaining, "of", d.Requests().Limit)
		res.Settle(limits.Usage{InputTokens: 120, OutputTokens: 300, Price: limits.Price{Input: 1.25, Output: 10}}) // record
	}
	// Output:
	// forward; requests left this minute: 1 of 2
	// forward; requests left this minute: 0 of 2
	// 429 {"error":{"message":"Rate limit reached for requests per min (RPM) on this key: Limit 2, Used 2, Requested 1. Please try again in 30s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}
}
