package provider

import "time"

// Upstream is one cloud endpoint serving some models.
type Upstream struct {
	// Name is unique; it appears in x-switchyard-upstream and metrics.
	Name string `koanf:"name"`
	// Provider is one of openai, azure, bedrock, vertex.
	Provider string `koanf:"provider"`
	// BaseURL overrides the provider's default host, e.g. "https://acme.openai.azure.com"
	// or a loopback mock. For openai the default is the public API; it includes no /v1.
	BaseURL string `koanf:"base_url"`
	// Region is the cloud region (bedrock: also the SigV4 region; vertex: the location).
	Region string `koanf:"region"`
	// API selects the wire API where a provider has several:
	// azure: "deployments" (classic, default) or "v1"; bedrock: "openai" (default) or "converse".
	API string `koanf:"api"`
	// APIVersion is Azure's api-version for the classic form. Default 2024-10-21.
	APIVersion string `koanf:"api_version"`
	// Project is the Google Cloud project (vertex).
	Project string `koanf:"project"`
	// Auth holds credentials; every secret is a ${ENV} reference.
	Auth Auth `koanf:"auth"`
	// Models maps public model names to this upstream's model or deployment id.
	Models map[string]string `koanf:"models"`
	// Weight is this upstream's share of primary traffic when no routing plugin
	// decides: the primary is drawn among healthy upstreams in proportion to
	// their weights, and the rest follow as fallbacks in configured order.
	// 0 (the default) takes no share: with no weights at all, the configured
	// order is the priority order; a weight-0 upstream among weighted ones is
	// a fallback only.
	Weight int `koanf:"weight"`
	// Responses says how this upstream serves the Responses API: "native",
	// "translated" (onto its Chat Completions endpoint) or "off"; "" is the
	// provider's default per model (docs/responses.md).
	Responses string `koanf:"responses"`
	// Price is what this upstream charges, per million tokens; routing plugins see it.
	Price Price `koanf:"price"`
	// Timeout bounds one attempt to this upstream until the first byte. Zero
	// means the upstream package's default (60s).
	Timeout time.Duration `koanf:"timeout"`
	// MaxConns bounds connections to this upstream. Zero means the upstream
	// package's default.
	MaxConns int `koanf:"max_conns"`
}

// Auth is an upstream's credentials. Which fields apply depends on the provider.
type Auth struct {
	APIKey          string `koanf:"api_key"`           // openai: Bearer; azure: api-key header
	BearerToken     string `koanf:"bearer_token"`      // azure Entra token, bedrock API key
	AccessKeyID     string `koanf:"access_key_id"`     // bedrock SigV4; empty = default AWS chain
	SecretAccessKey string `koanf:"secret_access_key"` // bedrock SigV4
	SessionToken    string `koanf:"session_token"`     // bedrock SigV4, temporary credentials
	CredentialsFile string `koanf:"credentials_file"`  // vertex: service-account JSON file
}

// Price is a cost per million tokens.
type Price struct {
	Input  float64 `koanf:"input"`
	Output float64 `koanf:"output"`
}
