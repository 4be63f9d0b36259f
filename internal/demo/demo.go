// Package demo starts the mock clouds a config points at, so that the demo,
// `switchyard mock` and end-to-end tests run the whole product on loopback.
package demo

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"

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
		if err != nil || pu.Host == "" {
			continue
		}
		ip := net.ParseIP(pu.Hostname())
		if pu.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
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
		for _, id := range u.Models {
			if !slices.Contains(o.Models, id) {
				o.Models = append(o.Models, id)
			}
		}
		out = append(out, o)
	}
	return out, nil
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
