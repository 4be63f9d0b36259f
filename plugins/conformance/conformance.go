// Package conformance holds the shared test vectors every plugin SDK's
// examples must pass, and the runner that applies them to a loaded plugin.
//
// A vector is an input (a request view and an upstream table, or a request
// body and the placeholders earlier redactors took) and, per behaviour, the
// exact output: "lowest-latency" → [2 0], "redact-email" → body and pairs. A
// plugin whose plugin_name is a behaviour must produce that output exactly;
// every plugin, whatever it does, must pass the invariants on every vector:
// no failure, the same answer twice, and for redaction a body that restores to
// the input and placeholders of the form <KIND_n> that skip the taken ones.
//
// The vectors live in vectors/*.json (embedded). `switchyard plugin test
// --conformance` and this package's tests run them; the runner talks to the
// plugin through plugins.Router and plugins.Redactor only, so it imports no
// Wasm runtime.
package conformance

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/switchyard-dev/switchyard/plugins"
)

// ErrVectors reports an embedded vector file that does not parse.
var ErrVectors = errors.New("conformance: bad vector file")

//go:embed vectors/*.json
var vectorFiles embed.FS

// Target is a loaded plugin as the runner sees it; *wasm.Plugin is one.
type Target interface {
	plugins.Router
	plugins.Redactor
	ModuleName() string
	Kinds() plugins.Kind
}

// RouteVector is a request view and an upstream table with, per behaviour,
// the expected candidate list (empty = no opinion).
type RouteVector struct {
	Name      string           `json:"name"`
	Doc       string           `json:"doc"`
	Request   Request          `json:"request"`
	Upstreams []Upstream       `json:"upstreams"`
	Expect    map[string][]int `json:"expect"`
}

// Request is the JSON form of plugins.Request.
type Request struct {
	Model         string      `json:"model"`
	Tenant        string      `json:"tenant"`
	Path          string      `json:"path"`
	PoP           string      `json:"pop"`
	Region        string      `json:"region"`
	Stream        bool        `json:"stream"`
	Deterministic bool        `json:"deterministic"`
	PromptTokens  int32       `json:"prompt_tokens"`
	Headers       [][2]string `json:"headers"`
}

// Upstream is the JSON form of plugins.Upstream.
type Upstream struct {
	Name      string  `json:"name"`
	Provider  string  `json:"provider"`
	Region    string  `json:"region"`
	Healthy   bool    `json:"healthy"`
	LatencyUS uint32  `json:"latency_us"`
	TTFBUS    uint32  `json:"ttfb_us"`
	InFlight  uint32  `json:"in_flight"`
	ErrorRate float32 `json:"error_rate"`
	PriceIn   float32 `json:"price_in"`
	PriceOut  float32 `json:"price_out"`
	Weight    uint32  `json:"weight"`
}

// RedactVector is a request body and the pairs earlier redactors of the
// request made, with, per behaviour, the expected output (nil = nothing
// matched).
type RedactVector struct {
	Name   string                     `json:"name"`
	Doc    string                     `json:"doc"`
	Body   Text                       `json:"body"`
	Taken  [][2]string                `json:"taken"`
	Expect map[string]*RedactExpected `json:"expect"`
}

// RedactExpected is a redaction's exact output.
type RedactExpected struct {
	Body  Text        `json:"body"`
	Pairs [][2]string `json:"pairs"`
}

// Text is a byte string written in JSON as a string, or as an array of parts
// that are strings or {"repeat": s, "times": n}, so a 1 MiB body fits in a
// few lines.
type Text []byte

// UnmarshalJSON accepts the forms described on Text.
func (t *Text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = Text(s)
		return nil
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return err
	}
	var out []byte
	for _, p := range parts {
		if err := json.Unmarshal(p, &s); err == nil {
			out = append(out, s...)
			continue
		}
		var r struct {
			Repeat string `json:"repeat"`
			Times  int    `json:"times"`
		}
		if err := json.Unmarshal(p, &r); err != nil {
			return err
		}
		if r.Times < 0 || r.Times > 1<<24 {
			return fmt.Errorf("repeat times %d out of range", r.Times)
		}
		out = append(out, strings.Repeat(r.Repeat, r.Times)...)
	}
	*t = out
	return nil
}

// Vectors is every vector of both kinds.
type Vectors struct {
	Route  []RouteVector
	Redact []RedactVector
}

// Load parses the embedded vector files.
func Load() (*Vectors, error) {
	var v Vectors
	var r struct {
		Route []RouteVector `json:"route"`
	}
	var d struct {
		Redact []RedactVector `json:"redact"`
	}
	for _, f := range []struct {
		name string
		dst  any
	}{{"vectors/route.json", &r}, {"vectors/redact.json", &d}} {
		b, err := vectorFiles.ReadFile(f.name)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrVectors, err)
		}
		if err := json.Unmarshal(b, f.dst); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrVectors, f.name, err)
		}
	}
	v.Route, v.Redact = r.Route, d.Redact
	return &v, nil
}

// Behaviours returns every behaviour some vector has an expectation for.
func (v *Vectors) Behaviours() []string {
	var out []string
	for _, r := range v.Route {
		for b := range r.Expect {
			out = append(out, b)
		}
	}
	for _, r := range v.Redact {
		for b := range r.Expect {
			out = append(out, b)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// View converts the vector's request to the router's form.
func (r *Request) View() *plugins.Request {
	v := &plugins.Request{
		Model: []byte(r.Model), Tenant: r.Tenant, Path: r.Path, PoP: r.PoP, Region: r.Region,
		Stream: r.Stream, Deterministic: r.Deterministic, PromptTokens: r.PromptTokens,
	}
	for _, h := range r.Headers {
		v.Headers = append(v.Headers, plugins.Header{Name: []byte(h[0]), Value: []byte(h[1])})
	}
	return v
}

// Table converts the vector's upstreams to the router's form.
func Table(ups []Upstream) []plugins.Upstream {
	out := make([]plugins.Upstream, len(ups))
	for i, u := range ups {
		out[i] = plugins.Upstream(u)
	}
	return out
}

// Result is the outcome of one vector on one plugin.
type Result struct {
	Kind   plugins.Kind
	Vector string
	Exact  bool   // the behaviour's exact expectation was checked, not only the invariants
	Err    string // "" = passed
}

// Report is the outcome of a run.
type Report struct {
	Plugin    string
	Behaviour string // "" when only the invariants apply
	Results   []Result
}

// Failed returns the results that did not pass.
func (r *Report) Failed() []Result {
	var out []Result
	for _, x := range r.Results {
		if x.Err != "" {
			out = append(out, x)
		}
	}
	return out
}

// WriteTo writes one line per vector and a summary.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	mode := "invariants only (plugin_name is no known behaviour; pass --behaviour to check one)"
	if r.Behaviour != "" {
		mode = "exact outputs of " + r.Behaviour + " and the invariants"
	}
	fmt.Fprintf(&b, "conformance %s: %s\n", r.Plugin, mode)
	for _, x := range r.Results {
		status := "ok  "
		if x.Err != "" {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %-6s %s", status, x.Kind, x.Vector)
		if x.Err != "" {
			fmt.Fprintf(&b, ": %s", x.Err)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "conformance %s: %d of %d vectors passed\n", r.Plugin, len(r.Results)-len(r.Failed()), len(r.Results))
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

// Run applies every vector of the kinds t serves. behaviour names the exact
// expectations to check; "" uses t's plugin_name when it is a known behaviour.
func Run(ctx context.Context, t Target, v *Vectors, behaviour string) *Report {
	if behaviour == "" && slices.Contains(v.Behaviours(), t.ModuleName()) {
		behaviour = t.ModuleName()
	}
	rep := &Report{Plugin: t.ModuleName(), Behaviour: behaviour}
	if t.Kinds().Has(plugins.KindRoute) {
		for i := range v.Route {
			rep.Results = append(rep.Results, runRoute(ctx, t, &v.Route[i], behaviour))
		}
	}
	if t.Kinds().Has(plugins.KindRedact) {
		for i := range v.Redact {
			rep.Results = append(rep.Results, runRedact(ctx, t, &v.Redact[i], behaviour))
		}
	}
	return rep
}

func runRoute(ctx context.Context, t Target, rv *RouteVector, behaviour string) Result {
	res := Result{Kind: plugins.KindRoute, Vector: rv.Name}
	req, ups := rv.Request.View(), Table(rv.Upstreams)
	got, err := t.Route(ctx, req, ups, nil)
	if err != nil {
		res.Err = "route failed: " + err.Error()
		return res
	}
	again, err := t.Route(ctx, req, ups, nil)
	if err != nil || !slices.Equal(got, again) {
		res.Err = fmt.Sprintf("not deterministic: %v then %v (%v)", got, again, err)
		return res
	}
	if want, ok := rv.Expect[behaviour]; ok {
		res.Exact = true
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			res.Err = fmt.Sprintf("got %v, want %v", got, want)
		}
	}
	return res
}

// placeholderForm is what a placeholder must look like (docs/abi.md §5).
var placeholderForm = regexp.MustCompile(`^<[A-Z][A-Z0-9_]*_[1-9][0-9]*>$`)

func runRedact(ctx context.Context, t Target, rv *RedactVector, behaviour string) Result {
	res := Result{Kind: plugins.KindRedact, Vector: rv.Name}
	body, pairs, err := redactOnce(ctx, t, rv)
	if err != nil && !json.Valid(rv.Body) {
		// The router never hands a redactor a body that is not JSON (it is a
		// 400 first): a JSON-aware redactor may refuse one.
		return res
	}
	if err != nil {
		res.Err = "redact failed: " + err.Error()
		return res
	}
	body2, pairs2, err := redactOnce(ctx, t, rv)
	if err != nil || !bytes.Equal(body, body2) || !slices.Equal(pairs, pairs2) {
		res.Err = fmt.Sprintf("not deterministic (%v)", err)
		return res
	}
	if msg := checkInvariants(rv, body, pairs); msg != "" {
		res.Err = msg
		return res
	}
	want, ok := rv.Expect[behaviour]
	if !ok {
		return res
	}
	res.Exact = true
	switch {
	case want == nil && body != nil:
		res.Err = fmt.Sprintf("expected nothing matched, got %d pair(s)", len(pairs))
	case want != nil && body == nil:
		res.Err = "nothing matched, expected a rewrite"
	case want != nil && !bytes.Equal(body, want.Body):
		res.Err = fmt.Sprintf("body differs: got %s", clip(body))
	case want != nil && !slices.Equal(pairs, want.Pairs):
		res.Err = fmt.Sprintf("pairs %q, want %q", clipPairs(pairs), clipPairs(want.Pairs))
	}
	return res
}

// redactOnce runs one call with the vector's taken pairs in the vault and
// returns the rewritten body (nil = nothing matched) and the new pairs.
func redactOnce(ctx context.Context, t Target, rv *RedactVector) ([]byte, [][2]string, error) {
	v := plugins.AcquireVault()
	defer plugins.ReleaseVault(v)
	for _, p := range rv.Taken {
		v.Add([]byte(p[0]), []byte(p[1]))
	}
	out, err := t.Redact(ctx, rv.Body, nil, v)
	if err != nil {
		return nil, nil, err
	}
	if len(out) == 0 {
		if v.Len() != len(rv.Taken) {
			return nil, nil, fmt.Errorf("nothing matched but %d pair(s) added", v.Len()-len(rv.Taken))
		}
		return nil, nil, nil
	}
	var pairs [][2]string
	for i := len(rv.Taken); i < v.Len(); i++ {
		ph, orig := v.Pair(i)
		pairs = append(pairs, [2]string{string(ph), string(orig)})
	}
	return out, pairs, nil
}

// checkInvariants holds for every redactor: well-formed placeholders that
// skip the taken ones, and a body that restores to the input.
func checkInvariants(rv *RedactVector, body []byte, pairs [][2]string) string {
	if body == nil {
		return ""
	}
	restored := string(body)
	for _, p := range pairs {
		if !placeholderForm.MatchString(p[0]) {
			return fmt.Sprintf("placeholder %q is not of the form <KIND_n>", clip([]byte(p[0])))
		}
		for _, tk := range rv.Taken {
			if tk[0] == p[0] {
				return fmt.Sprintf("placeholder %s was taken by an earlier redactor", p[0])
			}
		}
		restored = strings.ReplaceAll(restored, p[0], p[1])
	}
	if restored != string(rv.Body) && !sameJSON(body, rv.Body, pairs) {
		return "restoring the placeholders does not give back the input body"
	}
	return ""
}

// sameJSON reports whether redacted, with each placeholder replaced by its
// original JSON-escaped (as the router's vault restores it), is the same JSON
// document as the input: a JSON-aware redactor decodes escapes before it
// matches (`jane\u0040x.io` is an e-mail), so its restored body may spell a
// string differently, never say something else.
func sameJSON(redacted, input []byte, pairs [][2]string) bool {
	var v plugins.Vault
	for _, p := range pairs {
		if v.Add([]byte(p[0]), []byte(p[1])) != nil {
			return false
		}
	}
	var a, b any
	if json.Unmarshal(v.Restore(nil, redacted), &a) != nil || json.Unmarshal(input, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

func clip(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}

func clipPairs(p [][2]string) [][2]string {
	if len(p) > 4 {
		return append(p[:4:4], [2]string{"…", fmt.Sprintf("%d more", len(p)-4)})
	}
	return p
}
