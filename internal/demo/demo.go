// Package demo starts the mock clouds a config points at, so that the demo,
// `switchyard mock` and end-to-end tests run the whole product on loopback.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

// MockOptions returns one mock per upstream whose base_url is a loopback
// address, listening there and accepting exactly that upstream's credentials
// and models. Upstreams elsewhere are left alone.
func MockOptions(cfg *config.Config) ([]mockcloud.Options, error) {
	var out []mockcloud.Options
	for _, u := range cfg.Upstreams {
		pu, err := url.Parse(u.BaseURL)
		if err != nil || pu.Host == "" || !isLoopback(u.BaseURL) {
			continue
		}
		o := mockcloud.Options{
			Addr:            pu.Host,
			Provider:        mockcloud.Provider(u.Provider),
			APIKey:          u.Auth.APIKey,
			AccessKeyID:     u.Auth.AccessKeyID,
			SecretAccessKey: u.Auth.SecretAccessKey,
		}
		if u.Provider == "bedrock" && u.Auth.BearerToken != "" {
			o.APIKey = u.Auth.BearerToken
		}
		if u.Provider == "azure" && o.APIKey == "" {
			o.APIKey = u.Auth.BearerToken
		}
		if u.Auth.CredentialsFile != "" {
			sa, err := os.ReadFile(u.Auth.CredentialsFile)
			if err != nil {
				return nil, fmt.Errorf("demo: upstream %s: %w", u.Name, err)
			}
			o.ServiceAccountJSON = sa
		}
		// Upstreams sharing one mock (Bedrock's two APIs) share its model list.
		if i := slices.IndexFunc(out, func(x mockcloud.Options) bool { return x.Addr == o.Addr }); i >= 0 {
			if out[i].Provider != o.Provider {
				return nil, fmt.Errorf("demo: upstreams %s and another provider share %s", u.Name, o.Addr)
			}
			for _, id := range u.Models {
				if !slices.Contains(out[i].Models, id) {
					out[i].Models = append(out[i].Models, id)
				}
			}
			continue
		}
		for _, id := range u.Models {
			if !slices.Contains(o.Models, id) {
				o.Models = append(o.Models, id)
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// PointCredentialsAtMocks makes every Vertex upstream served by a loopback
// mock use a copy of its service-account file whose token_uri is that mock's
// token endpoint (Google's libraries honour token_uri). The copies live in a
// temporary folder that cleanup removes.
func PointCredentialsAtMocks(cfg *config.Config) (cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "switchyard-demo-")
	if err != nil {
		return nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	for i := range cfg.Upstreams {
		u := &cfg.Upstreams[i]
		if u.Provider != "vertex" || u.Auth.CredentialsFile == "" || !isLoopback(u.BaseURL) {
			continue
		}
		raw, err := os.ReadFile(u.Auth.CredentialsFile)
		if err != nil {
			cleanup()
			return nil, err
		}
		var sa map[string]any
		if err := json.Unmarshal(raw, &sa); err != nil {
			cleanup()
			return nil, fmt.Errorf("demo: %s: %w", u.Auth.CredentialsFile, err)
		}
		sa["token_uri"] = strings.TrimRight(u.BaseURL, "/") + "/token"
		out, _ := json.Marshal(sa)
		path := filepath.Join(dir, u.Name+"-service-account.json")
		if err := os.WriteFile(path, out, 0o600); err != nil {
			cleanup()
			return nil, err
		}
		u.Auth.CredentialsFile = path
	}
	return cleanup, nil
}

func isLoopback(base string) bool {
	pu, err := url.Parse(base)
	if err != nil {
		return false
	}
	ip := net.ParseIP(pu.Hostname())
	return pu.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
}

// RunMocks serves the mocks for cfg until ctx is done; ready is called once
// all listen.
func RunMocks(ctx context.Context, cfg *config.Config, ready func([]*mockcloud.Server)) error {
	opts, err := MockOptions(cfg)
	if err != nil {
		return err
	}
	return mockcloud.Run(ctx, opts, ready)
}
