// Package sdk is the Go guest SDK for Switchyard plugins (ABI v1,
// docs/abi.md). A plugin is a main package built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// that registers its hooks in an init function (a c-shared module's main is
// never run):
//
//	func init() {
//		sdk.Info("cheapest-healthy", "1.0.0")
//		sdk.HandleRoute(Route)
//	}
//
//	func Route(req *sdk.Request, ups []sdk.Upstream) sdk.Decision { … }
//	func main() {}
//
// The SDK owns the ABI: it exports alloc, init, the hooks and the version
// marker, decodes the host's input record into Request and Upstream values,
// and encodes the result. Strings and slices it hands to a hook are views into
// the input record, valid until the hook returns: copy what you keep.
package sdk

import (
	"bytes"
	"runtime/debug"
	"unsafe"

	"github.com/switchyard-dev/switchyard/plugins/abi"
)

// Request is the routing view of one request.
type Request struct {
	Model         string // public model name the client asked for
	Tenant        string
	Path          string // e.g. "/v1/chat/completions"
	PoP           string // name of the PoP routing the request
	Region        string // the PoP's region
	Stream        bool
	Deterministic bool  // the response may be cached
	PromptTokens  int32 // estimate
	Headers       []Header
}

// Header is one selected request header.
type Header struct{ Name, Value string }

// Header returns the value of the first header named name (lower case), or "".
func (r *Request) Header(name string) string {
	for _, h := range r.Headers {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// Upstream is one row of the live upstream table.
type Upstream struct {
	Name      string
	Provider  string // openai, azure, bedrock, vertex
	Region    string
	Healthy   bool
	LatencyUS uint32  // EWMA of whole-answer latency, µs
	TTFBUS    uint32  // EWMA of time to first byte, µs
	InFlight  uint32  // attempts in flight
	ErrorRate float32 // EWMA of failed attempts, 0..1
	PriceIn   float32 // per million input tokens
	PriceOut  float32 // per million output tokens
	Weight    uint32
}

// Decision is a routing hook's answer: indices into the upstream table, best
// first (the rest are fallbacks). Empty means "no opinion": the router's
// configured order applies. The names Request, Upstream, Decision and
// Redaction are the same in every Switchyard SDK (sdk/README.md).
type Decision []int

// RouteFunc chooses upstreams. The Decision may be a buffer the plugin reuses
// across calls: the SDK encodes it before the next call.
type RouteFunc func(req *Request, ups []Upstream) Decision

// RedactFunc returns the rewritten body, recording each placeholder it put in
// with r.Placeholder. Returning body itself (or nil) with no placeholder means
// nothing was redacted.
type RedactFunc func(body []byte, r *Redaction) []byte

// InitFunc receives the plugin's config (the YAML's config block as JSON)
// once per instance. An error refuses the module at load.
type InitFunc func(config []byte) error

var (
	name, version      = "unnamed", "0.0.0"
	routeFn            RouteFunc
	redactFn           RedactFunc
	initFn             InitFunc
	state              guest
	errNotHandledValue = -int64(abi.ErrCodeNotHandled)
)

// Info declares the plugin's name and version, shown by `switchyard plugin
// test` and in metrics.
func Info(pluginName, pluginVersion string) { name, version = pluginName, pluginVersion }

// HandleRoute registers the route hook.
func HandleRoute(f RouteFunc) { routeFn = f }

// HandleRedact registers the redact hook.
func HandleRedact(f RedactFunc) { redactFn = f }

// Init registers the function that receives the plugin's config.
func Init(f InitFunc) { initFn = f }

// Level is a log level, the same numbers as log/slog's.
type Level int32

// Log levels.
const (
	LevelDebug Level = abi.LevelDebug
	LevelInfo  Level = abi.LevelInfo
	LevelWarn  Level = abi.LevelWarn
	LevelError Level = abi.LevelError
)

// Log writes one line to the host's log. Never log request content: the
// host's logs must not hold prompts or PII.
func Log(level Level, msg string) { hostLog(level, msg) }

func init() {
	// Why no garbage collector? A GC cycle runs inside whichever call
	// crosses the heap goal and costs that call millions of fuel units,
	// more than the default budget: calls would fail at random. With the
	// collector off, each call costs what its own code costs; the host
	// recycles the instance when its memory passes ¾ of max_memory (and
	// after max_calls calls), which frees everything at once. Handlers that
	// allocate little per call (reuse buffers, as the examples do) keep
	// instances alive longer. See docs/RATIONALE.md.
	debug.SetGCPercent(-1)
}

// guest is the SDK's per-instance state; buffers are reused across calls.
type guest struct {
	req     Request
	allocs  [][]byte // buffers handed to the host; kept alive for the GC
	out     []byte   // the last result, read by the host after the call
	headers []Header
	ups     []Upstream
	vault   Redaction
}

// kinds returns the abi.Kind* bits of the registered hooks.
func kinds() int32 {
	var k int32
	if routeFn != nil {
		k |= abi.KindRoute
	}
	if redactFn != nil {
		k |= abi.KindRedact
	}
	return k
}

// alloc returns a buffer of n bytes that stays alive for the instance's life.
func (g *guest) alloc(n int32) []byte {
	b := make([]byte, max(n, 1))
	g.allocs = append(g.allocs, b)
	return b
}

func (g *guest) init(config []byte) int32 {
	if initFn == nil {
		return 0
	}
	if err := initFn(config); err != nil {
		Log(LevelError, "init: "+err.Error())
		return abi.ErrCodeBadConfig
	}
	return 0
}

// decodeRoute decodes a route record into req and g.ups; false if malformed.
func (g *guest) decodeRoute(rec []byte, req *Request) bool {
	var r abi.Reader
	r.Reset(rec)
	flags := r.U32()
	*req = Request{
		Stream:        flags&abi.FlagStream != 0,
		Deterministic: flags&abi.FlagDeterministic != 0,
		PromptTokens:  int32(r.U32()),
		Model:         str(r.Bytes()),
		Tenant:        str(r.Bytes()),
		Path:          str(r.Bytes()),
		PoP:           str(r.Bytes()),
		Region:        str(r.Bytes()),
	}
	n := r.U32()
	if !r.Ok() || uint64(n)*8 > uint64(len(rec)) {
		return false
	}
	g.headers = g.headers[:0]
	for range n {
		g.headers = append(g.headers, Header{Name: str(r.Bytes()), Value: str(r.Bytes())})
	}
	req.Headers = g.headers
	n = r.U32()
	if !r.Ok() || uint64(n)*(12+abi.UpstreamFixedSize) > uint64(len(rec)) {
		return false
	}
	g.ups = g.ups[:0]
	for range n {
		u := Upstream{Name: str(r.Bytes()), Provider: str(r.Bytes()), Region: str(r.Bytes())}
		u.Healthy = r.U32()&abi.UpstreamHealthy != 0
		u.LatencyUS, u.TTFBUS, u.InFlight = r.U32(), r.U32(), r.U32()
		u.ErrorRate, u.PriceIn, u.PriceOut = r.F32(), r.F32(), r.F32()
		u.Weight = r.U32()
		g.ups = append(g.ups, u)
	}
	return r.Done()
}

// route runs the route hook on a record and returns the packed result.
func (g *guest) route(rec []byte) int64 {
	if routeFn == nil {
		return errNotHandledValue
	}
	if !g.decodeRoute(rec, &g.req) {
		return -abi.ErrCodeBadInput
	}
	idx := routeFn(&g.req, g.ups)
	if len(idx) == 0 {
		return 0
	}
	g.out = g.out[:0]
	for _, i := range idx {
		if i < 0 || i >= len(g.ups) {
			Log(LevelError, "route: index out of range")
			return -abi.ErrCodeFailed
		}
		g.out = append(g.out, 0, 0, 0, 0)
		abi.PutU32(g.out[len(g.out)-4:], uint32(i))
	}
	return pack(g.out)
}

// redact runs the redact hook on a record and returns the packed result.
func (g *guest) redact(rec []byte) int64 {
	if redactFn == nil {
		return errNotHandledValue
	}
	var r abi.Reader
	r.Reset(rec)
	r.U32() // flags, reserved
	body := r.Bytes()
	g.vault.reset()
	taken := r.U32()
	if !r.Ok() || uint64(taken)*4 > uint64(len(rec)) {
		return -abi.ErrCodeBadInput
	}
	for range taken {
		g.vault.taken = append(g.vault.taken, str(r.Bytes()))
	}
	if !r.Done() {
		return -abi.ErrCodeBadInput
	}
	res := redactFn(body, &g.vault)
	if res == nil || (g.vault.Len() == 0 && bytes.Equal(res, body)) {
		return 0
	}
	g.out = appendBytes(g.out[:0], res)
	g.out = appendU32(g.out, uint32(len(g.vault.pairs)))
	for _, p := range g.vault.pairs {
		g.out = appendBytes(g.out, g.vault.buf[p.ph0:p.ph1])
		g.out = appendBytes(g.out, g.vault.buf[p.or0:p.or1])
	}
	return pack(g.out)
}

func appendU32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

func appendBytes(b, s []byte) []byte { return append(appendU32(b, uint32(len(s))), s...) }

// str views b as a string without copying; b is part of the input record,
// which the host does not touch during the call.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Vault is the former name of Redaction, kept so that plugins written
// against it still build.
//
// Deprecated: use Redaction, the name every Switchyard SDK uses.
type Vault = Redaction

// Redaction collects the placeholder → original pairs of one redact call.
// Placeholders are <KIND_n>, numbered per kind from 1 in order of first
// appearance; the same original gets the same placeholder.
type Redaction struct {
	buf    []byte
	pairs  []pair
	counts []kindCount
	taken  []string // placeholders earlier redactors of this request used
}

type pair struct {
	kind               string
	ph0, ph1, or0, or1 int
}

type kindCount struct {
	kind string
	n    int
}

func (v *Redaction) reset() {
	v.buf, v.pairs, v.counts, v.taken = v.buf[:0], v.pairs[:0], v.counts[:0], v.taken[:0]
}

// Len returns the number of placeholders handed out in this call.
func (v *Redaction) Len() int { return len(v.pairs) }

// Placeholder returns the placeholder standing for original, of the given
// kind (upper case by convention: EMAIL, PHONE, CARD): <EMAIL_1>, <EMAIL_2>, …
// The same original always gets the same placeholder within a request. The
// original is the text as the client wrote it inside the JSON string; the
// host JSON-escapes it again when it restores the answer.
func (v *Redaction) Placeholder(kind string, original []byte) []byte {
	for _, p := range v.pairs {
		if p.kind == kind && bytes.Equal(v.buf[p.or0:p.or1], original) {
			return v.buf[p.ph0:p.ph1]
		}
	}
	c := -1
	for i := range v.counts {
		if v.counts[i].kind == kind {
			c = i
			break
		}
	}
	if c < 0 {
		c = len(v.counts)
		v.counts = append(v.counts, kindCount{kind: kind})
	}
	p := pair{kind: kind, ph0: len(v.buf)}
	for {
		v.counts[c].n++
		v.buf = append(v.buf[:p.ph0], '<')
		v.buf = append(v.buf, kind...)
		v.buf = append(v.buf, '_')
		v.buf = appendInt(v.buf, v.counts[c].n)
		v.buf = append(v.buf, '>')
		if !v.isTaken(v.buf[p.ph0:]) {
			break
		}
	}
	p.ph1, p.or0 = len(v.buf), len(v.buf)
	v.buf = append(v.buf, original...)
	p.or1 = len(v.buf)
	v.pairs = append(v.pairs, p)
	return v.buf[p.ph0:p.ph1:p.ph1]
}

func (v *Redaction) isTaken(ph []byte) bool {
	for _, t := range v.taken {
		if t == string(ph) {
			return true
		}
	}
	return false
}

func appendInt(b []byte, n int) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}
