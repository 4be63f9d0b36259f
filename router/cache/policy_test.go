package cache

import (
	"errors"
	"testing"
	"time"
)

func TestCacheable(t *testing.T) {
	temp := func(v float64) Params { return Params{Temperature: v, HasTemperature: true} }
	topP := func(v float64) Params { return Params{TopP: v, HasTopP: true} }
	tests := []struct {
		name   string
		params Params
		det    bool // under Deterministic
	}{
		{"nothing set (temperature defaults to 1)", Params{}, false},
		{"temperature 0", temp(0), true},
		{"temperature 0.0001", temp(0.0001), false},
		{"temperature 1", temp(1), false},
		{"temperature 0 with n 3", Params{Temperature: 0, HasTemperature: true, N: 3}, true},
		{"top_p 0", topP(0), true},
		{"top_p 1", topP(1), false},
		{"top_p 0 with temperature 1", Params{Temperature: 1, HasTemperature: true, TopP: 0, HasTopP: true}, true},
		{"seed", Params{HasSeed: true}, true},
		{"seed with temperature 1.5", Params{HasSeed: true, Temperature: 1.5, HasTemperature: true}, true},
		{"temperature absent but zero value", Params{Temperature: 0}, false},
	}
	for _, tt := range tests {
		if got := Deterministic.Cacheable(&tt.params); got != tt.det {
			t.Errorf("deterministic, %s: %v, want %v", tt.name, got, tt.det)
		}
		if !Always.Cacheable(&tt.params) {
			t.Errorf("always, %s: not cacheable", tt.name)
		}
		if Off.Cacheable(&tt.params) {
			t.Errorf("off, %s: cacheable", tt.name)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{"": Deterministic, "deterministic": Deterministic, "always": Always, "off": Off} {
		if got, err := ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %v, %v", in, got, err)
		}
		if in != "" && want.String() != in {
			t.Errorf("%v.String() = %q", want, want.String())
		}
	}
	if _, err := ParsePolicy("Always"); !errors.Is(err, ErrPolicy) {
		t.Errorf("ParsePolicy(Always): %v", err)
	}
}

func TestPolicies(t *testing.T) {
	cfg := PolicyConfig{
		Default: "deterministic", Models: map[string]string{"wild": "off", "stable": "always"},
		Tenants: map[string]string{"acme": "always", "private": "off", "plain": ""},
	}
	p, err := NewPolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tenant, model string
		want          Policy
	}{
		{"plain", "gpt", Deterministic},
		{"unknown", "gpt", Deterministic},
		{"acme", "gpt", Always},
		{"private", "gpt", Off},
		{"plain", "wild", Off},
		{"plain", "stable", Always},
		{"acme", "wild", Off},         // model off beats tenant always
		{"private", "stable", Off},    // tenant off beats model always
		{"acme", "stable", Always},    // both always
		{"unknown", "stable", Always}, // model only
		{"private", "unknown-model", Off},
	}
	for _, tt := range tests {
		if got := p.For(tt.tenant, []byte(tt.model)); got != tt.want {
			t.Errorf("For(%s, %s) = %v, want %v", tt.tenant, tt.model, got, tt.want)
		}
	}

	bad := PolicyConfig{Default: "sometimes", Models: map[string]string{"m": "never"},
		Tenants: map[string]string{"t": "maybe"}}
	_, err = NewPolicies(bad)
	if !errors.Is(err, ErrPolicy) {
		t.Fatalf("bad config: %v", err)
	}
	for _, want := range []string{"cache.policy", `tenant "t" cache_policy`, "cache.models.m"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestParseControl(t *testing.T) {
	tests := []struct {
		cc, x  string
		want   Control
		maxAge time.Duration
		hasAge bool
		lookup bool
		store  bool
	}{
		{"", "", Default, 0, false, true, true},
		{"no-cache", "", NoCache, 0, false, false, true},
		{"No-Cache", "", NoCache, 0, false, false, true},
		{"no-store", "", NoStore, 0, false, false, false},
		{"max-age=60", "", Default, time.Minute, true, true, true},
		{`max-age="120", no-cache`, "", NoCache, 2 * time.Minute, true, false, true},
		{"max-age=abc", "", Default, 0, false, true, true},
		{"max-age=", "", Default, 0, false, true, true},
		{"max-age=99999999999", "", Default, (1 << 31) * time.Second, true, true, true},
		{"private, only-if-cached", "", OnlyIfCached, 0, false, true, false},
		{"", "bypass", Bypass, 0, false, false, false},
		{"", "BYPASS", Bypass, 0, false, false, false},
		{"", "refresh", Refresh, 0, false, false, true},
		{"", " only-if-cached ", OnlyIfCached, 0, false, true, false},
		{"", "hit", Default, 0, false, true, true},
		{"no-cache", "bypass", Bypass, 0, false, false, false},
		{"no-store", "refresh", NoStore, 0, false, false, false},
		{"no-cache", "only-if-cached", OnlyIfCached, 0, false, true, false},
		{"no-store,\tno-cache , max-age=5", "", NoStore, 5 * time.Second, true, false, false},
	}
	for _, tt := range tests {
		c, age, has := ParseControl([]byte(tt.cc), []byte(tt.x))
		if c != tt.want || age != tt.maxAge || has != tt.hasAge {
			t.Errorf("ParseControl(%q, %q) = %v, %v, %v; want %v, %v, %v", tt.cc, tt.x, c, age, has, tt.want, tt.maxAge, tt.hasAge)
		}
		if c.Lookup() != tt.lookup || c.Store() != tt.store {
			t.Errorf("%v: Lookup %v Store %v", c, c.Lookup(), c.Store())
		}
	}
}

func FuzzParseControl(f *testing.F) {
	f.Add([]byte("no-cache, max-age=10"), []byte("bypass"))
	f.Add([]byte(`max-age="5"`), []byte("only-if-cached,refresh"))
	f.Fuzz(func(t *testing.T, cc, x []byte) {
		c, age, has := ParseControl(cc, x)
		if c > Bypass || age < 0 || (!has && age != 0) {
			t.Fatalf("ParseControl(%q, %q) = %v, %v, %v", cc, x, c, age, has)
		}
	})
}
