package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

func startMock(t *testing.T, provider, key string) *mockcloud.Server {
	t.Helper()
	m, err := mockcloud.Start(mockcloud.Options{Provider: mockcloud.Provider(provider), APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func cfgFor(name, provider, url, key string) *config.Config {
	c := &config.Config{Listen: "127.0.0.1:0", Upstreams: []config.Upstream{{Name: name, Provider: provider, BaseURL: url,
		Auth: config.Auth{APIKey: key}, Models: map[string]string{"gpt-4o-mini": "gpt-4o-mini"}}}}
	c.ApplyDefaults()
	return c
}

// SIGHUP reloads the config: new requests go to the new upstreams; a config
// that does not load is refused and the previous one keeps serving.
func TestServeReloadOnSIGHUP(t *testing.T) {
	a, b := startMock(t, "openai", "ka"), startMock(t, "openai", "kb")
	first := cfgFor("a", "openai", a.URL(), "ka")
	var step atomic.Int32
	reload := func() (*config.Config, error) {
		if step.Add(1) == 1 {
			return cfgFor("b", "openai", b.URL(), "kb"), nil
		}
		return nil, errors.New("upstreams[0].provider: expected one of openai, azure, bedrock, vertex")
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, first, reload, func(a, _ string) { addr <- a }) }()
	base := "http://" + <-addr
	servedBy := func() string {
		resp, err := http.Post(base+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("x-switchyard-upstream")
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for servedBy() != want {
			if time.Now().After(deadline) {
				t.Fatalf("not served by %s after reload", want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got := servedBy(); got != "a" {
		t.Fatalf("served by %q", got)
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGHUP)
	waitFor("b")
	syscall.Kill(syscall.Getpid(), syscall.SIGHUP) // this one does not load
	for step.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	for range 5 {
		if got := servedBy(); got != "b" {
			t.Fatalf("a refused reload changed the config: served by %q", got)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop")
	}
}
