// Package sdk is the guest side of Switchyard's native plugins: a plugin is
// a small Go program whose main calls Serve with a plugins.Router, a
// plugins.Redactor or both. The router starts the program (package
// plugins/native), talks to it over hashicorp/go-plugin's gRPC transport and
// restarts it if it dies.
//
//	func main() {
//		sdk.Serve(sdk.Plugin{Name: "nearest", Version: "1.0.0", Router: nearest{}})
//	}
//
// Rules for authors:
//   - One process serves many calls at once: Route and Redact must be safe
//     for concurrent use.
//   - Write diagnostics to stderr (log, slog or os.Stderr), one line each;
//     the router logs them as whole lines. Never print request content: the
//     router's logs must not carry prompts or keys.
//   - The process gets only the environment variables its config lists.
//   - Run by hand, the binary says it is a plugin and exits: only a
//     Switchyard router knows the handshake.
package sdk

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/native/internal/wire"
)

// Plugin is what one native plugin process serves. At least one of Router
// and Redactor must be set; the hooks set are the plugin's kinds.
type Plugin struct {
	// Name and Version are reported to the router at start, for its logs.
	Name, Version string
	// Init, when set, is called once per process, before any hook, with the
	// plugin's config from the router's config file as JSON ("{}" when it
	// has none). An error refuses the start; its text is logged by the
	// router, so it must not carry secrets.
	Init func(config []byte) error
	// Router serves the route hook; see plugins.Router. The upstream table
	// and request view are the plugin's own copies.
	Router plugins.Router
	// Redactor serves the redact hook; see plugins.Redactor. The vault it
	// gets already holds the placeholders earlier redactors of the request
	// gave out (with empty originals): number past them, e.g. with
	// Placeholder.
	Redactor plugins.Redactor
}

// Serve serves p until the router stops the process. It does not return
// when run by the router; run by hand it prints a notice and exits 1.
func Serve(p Plugin) {
	if p.Router == nil && p.Redactor == nil {
		fmt.Fprintln(os.Stderr, "sdk: Serve needs a Router, a Redactor or both")
		os.Exit(2)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		Plugins:         plugin.PluginSet{wire.PluginName: &wire.GRPCPlugin{Impl: &server{p: p}}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(wire.MaxMessage), grpc.MaxSendMsgSize(wire.MaxMessage))
			return grpc.NewServer(opts...)
		},
		// go-plugin's own chatter stays out of the router's logs; errors
		// still reach stderr as whole lines.
		Logger: hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Level: hclog.Error, Output: os.Stderr}),
	})
}

// Placeholder appends to dst the first placeholder <LABEL_n> (n = 1, 2, …)
// that v does not hold yet and returns it: deterministic numbering that
// continues past the placeholders earlier redactors took.
func Placeholder(dst []byte, v *plugins.Vault, label string) []byte {
	start := len(dst)
	for n := 1; ; n++ {
		dst = append(dst[:start], '<')
		dst = append(dst, label...)
		dst = append(dst, '_')
		dst = strconv.AppendInt(dst, int64(n), 10)
		dst = append(dst, '>')
		if _, taken := v.Lookup(dst[start:]); !taken {
			return dst
		}
	}
}

// server adapts Plugin to the generated gRPC service.
type server struct {
	wire.UnimplementedPluginServer
	p Plugin
}

func (s *server) Init(_ context.Context, req *wire.InitRequest) (*wire.InitResponse, error) {
	if s.p.Init != nil {
		if err := s.p.Init(req.Config); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	var k plugins.Kind
	if s.p.Router != nil {
		k |= plugins.KindRoute
	}
	if s.p.Redactor != nil {
		k |= plugins.KindRedact
	}
	return &wire.InitResponse{Kinds: uint32(k), Name: s.p.Name, Version: s.p.Version}, nil
}

func (s *server) Route(ctx context.Context, in *wire.RouteRequest) (_ *wire.RouteResponse, err error) {
	if s.p.Router == nil {
		return nil, status.Error(codes.Unimplemented, "plugin serves no route hook")
	}
	defer recoverTo("Route", &err)
	req := plugins.Request{
		Model: in.Model, Tenant: in.Tenant, Path: in.Path, PoP: in.Pop, Region: in.Region,
		Stream: in.Stream, Deterministic: in.Deterministic, PromptTokens: in.PromptTokens,
	}
	if len(in.Headers) > 0 {
		req.Headers = make([]plugins.Header, len(in.Headers))
		for i, h := range in.Headers {
			req.Headers[i] = plugins.Header{Name: h.Name, Value: h.Value}
		}
	}
	ups := make([]plugins.Upstream, len(in.Upstreams))
	for i, u := range in.Upstreams {
		ups[i] = plugins.Upstream{
			Name: u.Name, Provider: u.Provider, Region: u.Region, Healthy: u.Healthy,
			LatencyUS: u.LatencyUs, TTFBUS: u.TtfbUs, InFlight: u.InFlight, ErrorRate: u.ErrorRate,
			PriceIn: u.PriceIn, PriceOut: u.PriceOut, Weight: u.Weight,
		}
	}
	var buf [16]int
	out, err := s.p.Router.Route(ctx, &req, ups, buf[:0])
	if err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	resp := &wire.RouteResponse{Indices: make([]uint32, 0, len(out))}
	for _, i := range out {
		if i < 0 || i >= len(ups) {
			return nil, status.Error(codes.Internal, "route returned index "+strconv.Itoa(i)+" outside the upstream table")
		}
		resp.Indices = append(resp.Indices, uint32(i))
	}
	return resp, nil
}

func (s *server) Redact(ctx context.Context, in *wire.RedactRequest) (_ *wire.RedactResponse, err error) {
	if s.p.Redactor == nil {
		return nil, status.Error(codes.Unimplemented, "plugin serves no redact hook")
	}
	defer recoverTo("Redact", &err)
	v := plugins.AcquireVault()
	defer plugins.ReleaseVault(v)
	for _, ph := range in.Taken {
		v.Add(ph, nil)
	}
	taken := v.Len()
	body, err := s.p.Redactor.Redact(ctx, in.Body, nil, v)
	if err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	if len(body) == 0 && v.Len() == taken {
		return &wire.RedactResponse{}, nil
	}
	resp := &wire.RedactResponse{Changed: true, Body: body}
	for i := taken; i < v.Len(); i++ {
		ph, orig := v.Pair(i)
		resp.Pairs = append(resp.Pairs, &wire.Pair{Placeholder: bytes.Clone(ph), Original: bytes.Clone(orig)})
	}
	return resp, nil
}

// recoverTo turns a panic in a hook into an error answer, so one bad request
// does not take the process (and every call in flight) down. The panic value
// is not printed: it may hold request content.
func recoverTo(hook string, err *error) {
	if r := recover(); r != nil {
		fmt.Fprintf(os.Stderr, "sdk: %s panicked (%T); the call was answered with an error\n%s", hook, r, debug.Stack())
		*err = status.Error(codes.Internal, hook+" panicked")
	}
}
