package config

import "time"

// Defaults of the router's own settings. ApplyDefaults uses them for zero
// values; docs/config.md lists them. The settings of a part that has its own
// package keep their defaults there, in one place: upstream pools
// (router/upstream), cache sizes and TTLs (router/cache), plugin budgets and
// pools (plugins/wasm), failure policies (plugins.OnErrorDefault).
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultMaxBodyBytes    = 4 * MiB
	DefaultMaxHeaderBytes  = 16 * KiB
	DefaultReadTimeout     = 30 * time.Second
	DefaultWriteTimeout    = 60 * time.Second
	DefaultIdleTimeout     = 120 * time.Second
	DefaultRequestTimeout  = 10 * time.Minute
	DefaultMaxAttempts     = 3
	DefaultMaxRetryAfter   = 2 * time.Second
	DefaultMaxInFlight     = 25_000
	DefaultMaxStreams      = 20_000
	DefaultAzureAPIVersion = "2024-10-21"
	DefaultCachePolicy     = PolicyDeterministic
	DefaultLogLevel        = "info"
	DefaultOpenAIBaseURL   = "https://api.openai.com"
)

// Provider names (Upstream.Provider).
const (
	ProviderOpenAI  = "openai"
	ProviderAzure   = "azure"
	ProviderBedrock = "bedrock"
	ProviderVertex  = "vertex"
)

// Wire APIs (Upstream.API).
const (
	APIAzureDeployments = "deployments"
	APIAzureV1          = "v1"
	APIBedrockOpenAI    = "openai"
	APIBedrockConverse  = "converse"
)

// Plugin kinds (Plugin.Kind) and failure policies (Plugin.OnError).
const (
	KindRoute       = "route"
	KindRedact      = "redact"
	KindRouteRedact = "route,redact"
	OnErrorOpen     = "open"
	OnErrorClosed   = "closed"
)

// Cache policies (Cache.Policy, Cache.Models values, Tenant.CachePolicy).
const (
	PolicyDeterministic = "deterministic"
	PolicyAlways        = "always"
	PolicyOff           = "off"
)

// ApplyDefaults replaces every zero value that has a documented default with
// that default, in place. It is idempotent and never fails; values it cannot
// derive (a bedrock base_url without a region) stay empty for Validate to report.
// Tenants stay as written: an empty list means one implicit "default" tenant,
// which the server, not the config, provides.
func (c *Config) ApplyDefaults() {
	setStr(&c.Listen, DefaultListen)

	l := &c.Limits
	setNum(&l.MaxBodyBytes, DefaultMaxBodyBytes)
	setNum(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setNum(&l.ReadTimeout, DefaultReadTimeout)
	setNum(&l.WriteTimeout, DefaultWriteTimeout)
	setNum(&l.IdleTimeout, DefaultIdleTimeout)
	setNum(&l.RequestTimeout, DefaultRequestTimeout)
	setNum(&l.MaxAttempts, DefaultMaxAttempts)
	setNum(&l.MaxRetryAfter, DefaultMaxRetryAfter)
	setNum(&l.MaxInFlight, DefaultMaxInFlight)
	setNum(&l.MaxStreams, DefaultMaxStreams)

	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		switch u.Provider {
		case ProviderOpenAI:
			setStr(&u.BaseURL, DefaultOpenAIBaseURL)
		case ProviderAzure:
			setStr(&u.API, APIAzureDeployments)
			if u.API == APIAzureDeployments {
				setStr(&u.APIVersion, DefaultAzureAPIVersion)
			}
		case ProviderBedrock:
			setStr(&u.API, APIBedrockOpenAI)
			if u.Region != "" {
				setStr(&u.BaseURL, "https://bedrock-runtime."+u.Region+".amazonaws.com")
			}
		case ProviderVertex:
			switch u.Region {
			case "":
			case "global":
				setStr(&u.BaseURL, "https://aiplatform.googleapis.com")
			default:
				setStr(&u.BaseURL, "https://"+u.Region+"-aiplatform.googleapis.com")
			}
		}
	}

	setStr(&c.Cache.Policy, DefaultCachePolicy)

	setStr(&c.Log.Level, DefaultLogLevel)
}

func setStr(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setNum[T ~int | ~int64](p *T, def T) {
	if *p == 0 {
		*p = def
	}
}
