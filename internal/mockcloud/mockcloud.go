// Package mockcloud runs faithful loopback imitations of the four clouds Switchyard forwards to —
// OpenAI, Azure OpenAI, AWS Bedrock and Google Vertex AI — at the wire level: the same paths, the
// same auth checks with each cloud's own error bodies and headers, the same JSON and streaming
// formats (SSE, AWS event-stream), realistic ids and usage, and injectable faults.
//
// Tests, `switchyard demo`, `switchyard mock` and the load benchmarks use it; nothing else in the
// project is mocked (DESIGN §5). The byte shapes follow each cloud's published wire format
// (request and response bodies, headers, error shapes, stream framing). The servers are fasthttp servers bound to loopback only; streams are written event by event
// with a flush after each, never buffered, because they are also the upstream in load benchmarks.
//
// Every cloud also serves the Responses API where the real one does (OpenAI /v1/responses, Azure
// /openai/v1/responses, Bedrock Mantle /openai/v1/responses with SigV4 service bedrock-mantle,
// Vertex …/endpoints/openapi/responses), and every dialect follows the agent-loop directive: when
// the newest user text carries
//
//	[[call NAME {"json":"arguments"}]]   (or [[call NAME "raw input"]] for a freeform tool)
//
// the mock answers with that tool call (Responses function_call or custom_tool_call, chat
// tool_calls, Converse toolUse), and when the newest input is the call's result it answers with
// the text "Tool NAME returned: OUTPUT" (directive.go, docs/responses.md).
//
// Owned by the mockcloud package; a Server is safe for concurrent use by many clients and by the
// test goroutine that injects faults.
package mockcloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Provider names the cloud a Server imitates.
type Provider string

// The four clouds.
const (
	OpenAI  Provider = "openai"
	Azure   Provider = "azure"
	Bedrock Provider = "bedrock"
	Vertex  Provider = "vertex"
)

// Sentinel errors returned by Start.
var (
	ErrUnknownProvider = errors.New("mockcloud: unknown provider")
	ErrNotLoopback     = errors.New("mockcloud: address is not a loopback address")
	ErrNoCredentials   = errors.New("mockcloud: no credentials configured")
	ErrServiceAccount  = errors.New("mockcloud: invalid service account JSON")
)

// Options configures one mock cloud. The zero value of every field means its default; Start
// validates the options once and never modifies the caller's copy.
type Options struct {
	// Addr is the listen address; it must be a loopback address. Default "127.0.0.1:0".
	Addr string
	// Provider selects the cloud to imitate.
	Provider Provider
	// APIKey is the OpenAI Bearer key, the Azure api-key (also accepted as a Bearer token on both
	// Azure path forms), or the Bedrock API key (Bearer).
	APIKey string
	// AccessKeyID and SecretAccessKey are the Bedrock SigV4 credentials accepted. A session token
	// is accepted with any value, but when present it must be among the signed headers.
	AccessKeyID, SecretAccessKey string
	// ServiceAccountJSON is the Vertex service account whose public key verifies the JWT
	// assertions posted to /token (see examples/configs/mock-service-account.json).
	ServiceAccountJSON []byte
	// TokenTTL is the lifetime of access tokens minted by the Vertex token endpoint. Default 1h.
	TokenTTL time.Duration
	// TokenDelay delays every answer of the Vertex token endpoint (Google's takes 50–200 ms):
	// requests refused meanwhile pile up, as they do behind a real token fetch. Default 0.
	TokenDelay time.Duration
	// Models lists the models (OpenAI, Bedrock, Vertex ids) or deployment names (Azure) served.
	// A request for any other model gets the cloud's own 404 body. Empty means every model is served.
	Models []string
	// Reply computes the answer text from the last user message's text.
	// Default: "You said: " + that text, so tests can see round trips.
	Reply func(prompt string) string
	// ChunkDelay is the pause between stream events. Default 0.
	ChunkDelay time.Duration
}

// Fault is one injected misbehaviour. Faults are queued by Server.Inject; each authenticated model
// request consumes the head of the queue (Times requests per fault). A fault's effects apply in this
// order: Latency and FirstByteDelay (both before any response byte), ResetBeforeResponse, Status (an
// error response in the cloud's own shape), ResetAfterChunks (streams only).
type Fault struct {
	// Status is the HTTP status of an error response in the cloud's own shape (e.g. 429, 500, 503, 400).
	// Combined with ResetAfterChunks on a streaming request it is sent in-stream instead: an
	// OpenAI-style error event on SSE clouds, an exception frame on Bedrock's event stream.
	Status int
	// Code selects the error variant: "insufficient_quota" (openai 429), "content_filter" (azure 400),
	// "ThrottlingException", "ValidationException", … (bedrock), "RESOURCE_EXHAUSTED" (vertex).
	// With Status 0 the status follows from the code where the cloud defines one.
	Code string
	// RetryAfter is announced the way the cloud does: OpenAI retry-after; Azure retry-after and
	// retry-after-ms; Bedrock not at all; Vertex a google.rpc.RetryInfo detail in the body.
	RetryAfter time.Duration
	// FirstByteDelay delays the first byte of the response (headers included).
	FirstByteDelay time.Duration
	// Latency is a fixed extra delay before the answer.
	Latency time.Duration
	// ResetBeforeResponse closes the TCP connection (RST) without sending any response.
	ResetBeforeResponse bool
	// ResetAfterChunks, on streaming requests, sends N events and then closes the connection
	// mid-body, so the stream is cut short without its terminator (or, with Status/Code set, sends the cloud's in-stream error and ends the stream). 0 = off.
	ResetAfterChunks int
	// TruncateBody, on non-streamed answers, sends a 200 whose JSON body is
	// cut in half (with a matching Content-Length): a broken cloud or proxy.
	TruncateBody bool
	// ExpireCredential makes the credential the request carried expire now: the request gets the
	// cloud's own authentication error (OpenAI and Azure 401, Bedrock 403 ExpiredTokenException,
	// Vertex 401 UNAUTHENTICATED). On Vertex every access token minted so far is revoked too, so
	// only a client that fetches a new token from /token is accepted again; on the clouds with
	// static keys the next request is accepted as before.
	ExpireCredential bool
	// Times is the number of requests the fault applies to (0 = 1).
	Times int
}

// Received is a copy of one model request as the mock saw it.
type Received struct {
	Method string
	// Path is the path exactly as sent on the wire (still percent-encoded, e.g. %3A in Bedrock ids).
	Path     string
	RawQuery string
	// Header holds every request header, auth headers included, canonicalised by net/http rules.
	Header http.Header
	Body   []byte
}

// Server is one running mock cloud. Create it with Start and stop it with Close.
type Server struct {
	opts   Options
	models map[string]bool
	reply  func(string) string

	ln   net.Listener
	srv  *fasthttp.Server
	url  string
	done chan struct{}
	// serveErr receives the result of Serve once.
	serveErr chan error
	closed   atomic.Bool

	calls atomic.Int64
	// active counts model requests being answered: from the handler's start until the handler,
	// or the stream writer it handed the body to, returns.
	active atomic.Int64

	mu     sync.Mutex
	faults []Fault
	last   Received

	bedrock *bedrockAuth
	vertex  *vertexAuth
}

// Start validates opts, binds the listener and serves until Close.
func Start(opts Options) (*Server, error) {
	o := opts
	o.Models = append([]string(nil), opts.Models...)
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if err := checkLoopback(o.Addr); err != nil {
		return nil, err
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	s := &Server{opts: o, done: make(chan struct{}), serveErr: make(chan error, 1), reply: o.Reply}
	if s.reply == nil {
		s.reply = defaultReply
	}
	if len(o.Models) > 0 {
		s.models = make(map[string]bool, len(o.Models))
		for _, m := range o.Models {
			s.models[m] = true
		}
	}
	switch o.Provider {
	case OpenAI, Azure:
		if o.APIKey == "" {
			return nil, fmt.Errorf("%w: %s needs APIKey", ErrNoCredentials, o.Provider)
		}
	case Bedrock:
		if o.APIKey == "" && (o.AccessKeyID == "" || o.SecretAccessKey == "") {
			return nil, fmt.Errorf("%w: bedrock needs APIKey or AccessKeyID+SecretAccessKey", ErrNoCredentials)
		}
		ba, err := newBedrockAuth(o)
		if err != nil {
			return nil, err
		}
		s.bedrock = ba
	case Vertex:
		va, err := newVertexAuth(o.ServiceAccountJSON, o.TokenTTL)
		if err != nil {
			return nil, err
		}
		s.vertex = va
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, o.Provider)
	}

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("mockcloud: listen %s: %w", o.Addr, err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	if s.vertex != nil {
		s.vertex.tokenURL = s.url + "/token"
	}
	s.srv = &fasthttp.Server{
		Handler:               s.handle,
		Name:                  "",
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		ReadTimeout:           time.Minute,
		MaxRequestBodySize:    64 << 20,
		// Fault injection closes connections on purpose; fasthttp's log lines about them are noise.
		Logger:          nopLogger{},
		CloseOnShutdown: true,
	}
	go func() { s.serveErr <- s.srv.Serve(ln) }()
	return s, nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("mockcloud: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	return nil
}

// URL returns the base URL, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.url }

// Addr returns the bound address, "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// TokenURL returns the Vertex token endpoint, "<URL>/token" (empty for other clouds).
func (s *Server) TokenURL() string {
	if s.vertex == nil {
		return ""
	}
	return s.vertex.tokenURL
}

// Provider returns the cloud this server imitates.
func (s *Server) Provider() Provider { return s.opts.Provider }

// Close stops the server: in-flight delays and streams are aborted, connections closed.
// It is safe to call more than once; later calls return nil.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.done)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.ShutdownWithContext(ctx)
	// Serve may not have registered the listener yet when Close follows Start at once; closing it
	// here makes that Serve return instead of blocking forever.
	_ = s.ln.Close()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("mockcloud: shutdown: %w", err)
	}
	<-s.serveErr
	return nil
}

// Inject queues a fault; each authenticated model request consumes the next one.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// Calls returns how many model requests arrived with valid auth, faulted ones included: each is
// one attempt by the client (used by fallback and coalescing tests).
func (s *Server) Calls() int64 { return s.calls.Load() }

// RevokeTokens revokes every access token the Vertex token endpoint has minted so far (a no-op
// on other clouds), as Google does when a key is disabled or a token is revoked before its
// expiry: every request carrying one gets 401 UNAUTHENTICATED until the client fetches a new
// token. Unlike Fault.ExpireCredential it consumes no request, so a test can make a whole
// burst of requests arrive with a revoked token.
func (s *Server) RevokeTokens() {
	if s.vertex == nil {
		return
	}
	s.vertex.mu.Lock()
	clear(s.vertex.tokens)
	s.vertex.mu.Unlock()
}

// TokensMinted returns how many access tokens the Vertex token endpoint has minted (0 for
// other clouds): tests count a client's token fetches with it.
func (s *Server) TokensMinted() int64 {
	if s.vertex == nil {
		return 0
	}
	return s.vertex.minted.Load()
}

// InFlight returns how many model requests are being answered right now: a request counts
// until its answer is fully written or abandoned, including a stream's body and a fault's delay.
// A delay ends early when the client closes the connection, so after every client of the mock
// went away InFlight drops to 0 (tests use it to show no upstream call outlives its request).
func (s *Server) InFlight() int64 { return s.active.Load() }

// LastRequest returns a copy of the last model request received (valid auth or not).
func (s *Server) LastRequest() Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.last
	r.Header = r.Header.Clone()
	r.Body = append([]byte(nil), r.Body...)
	return r
}

// nextFault pops the fault the current request consumes, if any.
func (s *Server) nextFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return Fault{}, false
	}
	f := s.faults[0]
	s.faults[0].Times--
	if s.faults[0].Times <= 0 {
		s.faults = s.faults[1:]
	}
	return f, true
}

func (s *Server) record(ctx *fasthttp.RequestCtx) {
	uri := string(ctx.Request.Header.RequestURI())
	path, query, _ := strings.Cut(uri, "?")
	h := make(http.Header, 12)
	for k, v := range ctx.Request.Header.All() {
		h.Add(string(k), string(v))
	}
	if h.Get("Host") == "" && len(ctx.Request.Header.Host()) > 0 {
		h.Set("Host", string(ctx.Request.Header.Host()))
	}
	r := Received{
		Method:   string(ctx.Method()),
		Path:     path,
		RawQuery: query,
		Header:   h,
		Body:     append([]byte(nil), ctx.PostBody()...),
	}
	s.mu.Lock()
	s.last = r
	s.mu.Unlock()
}

// sleep waits d or until the server closes; it reports false when the server closed.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// handoffKey marks, in a request's user values, that its body went to a stream writer, which
// then owns the request's place in Server.active.
const handoffKey = "mockcloud.handoff"

// handle dispatches to the provider's router.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	s.active.Add(1)
	handed := false
	ctx.SetUserValue(handoffKey, &handed)
	defer func() {
		if !handed {
			s.active.Add(-1)
		}
	}()
	switch s.opts.Provider {
	case OpenAI:
		s.handleOpenAI(ctx)
	case Azure:
		s.handleAzure(ctx)
	case Bedrock:
		s.handleBedrock(ctx)
	case Vertex:
		s.handleVertex(ctx)
	}
}

// admit runs the steps every authenticated model request shares once auth passed: count the
// attempt, take the next fault and apply its delays and connection reset. It reports the fault
// (zero when none) and whether the handler should go on; when it returns false the request was
// already answered or the connection dropped.
func (s *Server) admit(ctx *fasthttp.RequestCtx) (Fault, bool) {
	s.calls.Add(1)
	f, ok := s.nextFault()
	if !ok {
		return Fault{}, true
	}
	if !s.sleepConn(ctx, f.Latency) || !s.sleepConn(ctx, f.FirstByteDelay) {
		resetConn(ctx)
		return f, false
	}
	if f.ResetBeforeResponse {
		resetConn(ctx)
		return f, false
	}
	if f.ExpireCredential {
		s.expireCredential(ctx)
		return f, false
	}
	return f, true
}

// handOff tells handle that a stream writer now owns the request's place in s.active; the
// writer calls the returned func when it is done.
func (s *Server) handOff(ctx *fasthttp.RequestCtx) func() {
	if p, _ := ctx.UserValue(handoffKey).(*bool); p != nil && !*p {
		*p = true
		return func() { s.active.Add(-1) }
	}
	return func() {}
}

// sleepConn is sleep that also ends, reporting false, when the client closes the connection:
// a real cloud stops working on a request whose caller went away, and a delay fault must not
// keep a request in flight after its client gave up. The peer's close is seen by a one-byte read
// while the request is answered; no client of a mock pipelines requests, so nothing is lost.
func (s *Server) sleepConn(ctx *fasthttp.RequestCtx, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	c := ctx.Conn()
	gone := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				close(gone)
			}
		}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	ok := false
	select {
	case <-t.C:
		ok = true
	case <-gone:
	case <-s.done:
	}
	_ = c.SetReadDeadline(time.Now())
	<-stopped
	_ = c.SetReadDeadline(time.Time{})
	select {
	case <-gone:
		return false
	default:
		return ok
	}
}

// expireCredential answers with the cloud's own error for an expired credential (see
// Fault.ExpireCredential); on Vertex it revokes every token minted so far.
func (s *Server) expireCredential(ctx *fasthttp.RequestCtx) {
	switch s.opts.Provider {
	case OpenAI:
		s.writeError(ctx, styleOpenAI, apiErr{kind: errAuthInvalid, status: 401, key: bearer(ctx)})
	case Azure:
		s.writeError(ctx, styleAzure, apiErr{kind: errAuthInvalid, status: 401})
	case Bedrock:
		writeAWSError(ctx, &awsErr{code: "ExpiredTokenException", status: 403,
			msg: "The security token included in the request is expired"})
	case Vertex:
		s.vertex.mu.Lock()
		clear(s.vertex.tokens)
		s.vertex.mu.Unlock()
		writeVertexError(ctx, apiErr{kind: errAuthInvalid})
	}
}

// resetConn drops the connection without any response: fasthttp hands the connection over and we
// close it with SO_LINGER 0, so the client sees a reset rather than a clean EOF.
func resetConn(ctx *fasthttp.RequestCtx) {
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) { abortConn(c) })
}

func abortConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// serves reports whether model is served.
func (s *Server) serves(model string) bool {
	return s.models == nil || s.models[model]
}

func defaultReply(prompt string) string { return "You said: " + prompt }

// Run starts one mock per entry, calls ready with them, and blocks until ctx is done; then it
// closes them all. Used by `switchyard mock` and `switchyard demo`.
func Run(ctx context.Context, opts []Options, ready func([]*Server)) error {
	servers := make([]*Server, 0, len(opts))
	closeAll := func() error {
		var errs []error
		for _, s := range servers {
			errs = append(errs, s.Close())
		}
		return errors.Join(errs...)
	}
	for i, o := range opts {
		s, err := Start(o)
		if err != nil {
			_ = closeAll()
			return fmt.Errorf("mockcloud: mock %d (%s): %w", i, o.Provider, err)
		}
		servers = append(servers, s)
	}
	if ready != nil {
		ready(servers)
	}
	<-ctx.Done()
	return closeAll()
}
