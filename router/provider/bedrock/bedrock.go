// Package bedrock is the AWS Bedrock adapter: it forwards OpenAI chat
// completions either to Bedrock's OpenAI-compatible endpoint
// (POST /openai/v1/chat/completions, bodies passed through) or to the native
// Converse API (POST /model/{id}/converse and /converse-stream, translated both
// ways, streams decoded from AWS event-stream frames).
//
// Auth is a Bedrock API key (Authorization: Bearer) or SigV4 signed with
// aws-sdk-go-v2's signer on every attempt, over static credentials from the
// config or the default AWS chain.
//
// The fasthttp client that sends Prepare'd requests must be built with
// DisablePathNormalizing: true. Model ids contain ':' (and ARNs '/'), which
// must reach AWS percent-encoded exactly as signed; a normalizing client would
// decode them and every SigV4 request would fail with InvalidSignatureException.
package bedrock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchyard-dev/switchyard/router/config"
	sse "github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// Errors returned by New and Prepare.
var (
	ErrConfig      = errors.New("bedrock: invalid upstream config")
	ErrCredentials = errors.New("bedrock: AWS credentials unavailable")
	ErrUnsupported = errors.New("bedrock: endpoint not supported")
	ErrTranslate   = fmt.Errorf("bedrock: request cannot be translated to Converse (%w)", provider.ErrInvalidRequest)
	ErrStream      = errors.New("bedrock: corrupt event stream")
)

// Signing service names: bedrock-runtime, and the Mantle endpoint that serves OpenAI's Responses
// API (https://bedrock-mantle.{region}.api.aws/openai/v1/responses).
const (
	signingService       = "bedrock"
	mantleSigningService = "bedrock-mantle"
)

// mantleRegions are the regions with a Mantle endpoint (codex-rs
// model-provider/src/amazon_bedrock/mantle.rs lists the same twelve). Elsewhere Responses is
// translated onto the runtime's chat endpoints.
var mantleRegions = map[string]bool{
	"us-east-1": true, "us-east-2": true, "us-west-2": true, "ap-southeast-3": true,
	"ap-south-1": true, "ap-northeast-1": true, "eu-central-1": true, "eu-west-1": true,
	"eu-west-2": true, "eu-south-1": true, "eu-north-1": true, "sa-east-1": true,
}

// credentialTimeout bounds one credential retrieval from the default AWS chain.
const credentialTimeout = 10 * time.Second

// Adapter speaks to one Bedrock upstream. It is built once by New and is safe
// for concurrent use; it holds no background goroutines.
type Adapter struct {
	name     string
	converse bool
	scheme   string
	host     string // as sent in Host and signed: lowercase, no default port
	basePath string // escaped path prefix of base_url, no trailing slash
	region   string
	// mantle is where native Responses go: bedrock-mantle.{region}.api.aws, or base_url itself
	// when one is configured (a proxy or the mock serves both). mantleOK is false when the
	// region has no Mantle endpoint or the upstream speaks Converse.
	mantle   endpoint
	mantleOK bool

	bearer string // "Bearer <key>", or "" for SigV4
	creds  aws.CredentialsProvider
	signer *v4.Signer
	// credErr is the last credential failure seen by Prepare; Ready reports it.
	credErr atomic.Pointer[error]
	// renew makes Refresh single-flight (default chain only).
	renew provider.Renewal

	// public maps an upstream model id back to its public name, when exactly
	// one public name maps to it, so answers name the model the client asked for.
	public map[string]string

	now    func() time.Time // the clock; tests fix it
	closed atomic.Bool
}

// New builds the adapter for one configured Bedrock upstream. It resolves
// credentials once (from u.Auth, or from the default AWS chain for u.Region)
// and fails if none can be found, so a misconfigured upstream is refused at
// startup rather than on the first request.
func New(u config.Upstream) (*Adapter, error) {
	a := &Adapter{name: u.Name, region: u.Region, now: time.Now, signer: v4.NewSigner()}
	switch u.API {
	case "", "openai":
	case "converse":
		a.converse = true
	default:
		return nil, fmt.Errorf("%w: upstream %q: api %q (want openai or converse)", ErrConfig, u.Name, u.API)
	}
	base := u.BaseURL
	if base == "" {
		if u.Region == "" {
			return nil, fmt.Errorf("%w: upstream %q: region is required", ErrConfig, u.Name)
		}
		base = "https://bedrock-runtime." + u.Region + ".amazonaws.com"
	}
	if err := a.setBase(base); err != nil {
		return nil, fmt.Errorf("%w: upstream %q: %v", ErrConfig, u.Name, err)
	}
	a.mantle = endpoint{a.scheme, a.host, a.basePath}
	a.mantleOK = !a.converse && (u.BaseURL != "" || mantleRegions[u.Region])
	if u.BaseURL == "" && a.mantleOK {
		a.mantle = endpoint{"https", "bedrock-mantle." + u.Region + ".api.aws", ""}
	}
	a.public = reverseModels(u.Models)

	switch {
	case u.Auth.BearerToken != "":
		a.bearer = "Bearer " + u.Auth.BearerToken
	default:
		if u.Region == "" {
			return nil, fmt.Errorf("%w: upstream %q: region is required for SigV4", ErrConfig, u.Name)
		}
		if u.Auth.AccessKeyID != "" || u.Auth.SecretAccessKey != "" {
			if u.Auth.AccessKeyID == "" || u.Auth.SecretAccessKey == "" {
				return nil, fmt.Errorf("%w: upstream %q: access_key_id and secret_access_key go together", ErrConfig, u.Name)
			}
			a.creds = staticCredentials{aws.Credentials{
				AccessKeyID: u.Auth.AccessKeyID, SecretAccessKey: u.Auth.SecretAccessKey,
				SessionToken: u.Auth.SessionToken, Source: "switchyard config",
			}}
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), credentialTimeout)
			cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(u.Region))
			cancel()
			if err != nil {
				return nil, fmt.Errorf("%w: upstream %q: %v", ErrCredentials, u.Name, err)
			}
			if cfg.Credentials == nil {
				return nil, fmt.Errorf("%w: upstream %q: default chain has no provider", ErrCredentials, u.Name)
			}
			// LoadDefaultConfig already wraps the chain in a CredentialsCache;
			// wrapping again is harmless and makes the caching explicit.
			if _, ok := cfg.Credentials.(*aws.CredentialsCache); ok {
				a.creds = cfg.Credentials
			} else {
				a.creds = aws.NewCredentialsCache(cfg.Credentials)
			}
		}
		if _, err := a.retrieve(); err != nil {
			return nil, fmt.Errorf("upstream %q: %w", u.Name, err)
		}
	}
	return a, nil
}

// endpoint is one host the adapter sends to, as signed.
type endpoint struct{ scheme, host, basePath string }

type staticCredentials struct{ c aws.Credentials }

func (s staticCredentials) Retrieve(context.Context) (aws.Credentials, error) { return s.c, nil }

func (a *Adapter) setBase(base string) error {
	pu, err := url.Parse(base)
	if err != nil {
		return err
	}
	if pu.Scheme != "http" && pu.Scheme != "https" {
		return fmt.Errorf("base_url %q: scheme must be http or https", base)
	}
	if pu.Host == "" {
		return fmt.Errorf("base_url %q: no host", base)
	}
	if pu.RawQuery != "" || pu.Fragment != "" {
		return fmt.Errorf("base_url %q: no query or fragment allowed", base)
	}
	host := strings.ToLower(pu.Host)
	// SigV4 signs the Host without a default port; fasthttp sends the host as
	// given. Strip it here so both agree.
	if pu.Scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}
	a.scheme, a.host = pu.Scheme, host
	a.basePath = strings.TrimRight(pu.EscapedPath(), "/")
	return nil
}

func reverseModels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	dup := map[string]bool{}
	for public, id := range m {
		if _, ok := out[id]; ok {
			dup[id] = true
		}
		out[id] = public
	}
	for id := range dup {
		delete(out, id)
	}
	return out
}

// Provider returns "bedrock".
func (a *Adapter) Provider() string { return "bedrock" }

// Supports reports true for chat completions (bedrock-runtime's OpenAI-compatible endpoint or
// Converse) and, where the region has Mantle, Responses.
func (a *Adapter) Supports(e provider.Endpoint) bool {
	return e == provider.ChatCompletions || (e == provider.Responses && a.mantleOK)
}

// ResponsesMode is native on Mantle where the region has it (and the upstream is not a Converse
// one), translated onto the chat endpoint or Converse otherwise.
func (a *Adapter) ResponsesMode(string) provider.ResponsesMode {
	if a.mantleOK {
		return provider.ResponsesNative
	}
	return provider.ResponsesTranslated
}

// Ready is nil with a bearer key or static keys; with the default chain it
// reports the last credential failure, until a retrieval succeeds again.
func (a *Adapter) Ready() error {
	if p := a.credErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Close is a no-op kept for the interface: the adapter owns no goroutines
// (the AWS credentials cache refreshes lazily). Safe to call twice.
func (a *Adapter) Close() error {
	a.closed.Store(true)
	return nil
}

func (a *Adapter) retrieve() (aws.Credentials, error) {
	if s, ok := a.creds.(staticCredentials); ok {
		return s.c, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), credentialTimeout)
	c, err := a.creds.Retrieve(ctx)
	cancel()
	if err == nil && !c.HasKeys() {
		err = errors.New("credentials have no keys")
	}
	if err != nil {
		err = fmt.Errorf("%w: %v", ErrCredentials, err)
		a.credErr.Store(&err)
		return c, err
	}
	if a.credErr.Load() != nil {
		a.credErr.Store(nil)
	}
	return c, nil
}

// Refresh renews the credentials after Bedrock refused them (an expired or
// unrecognised token): the default chain's cache is invalidated and read
// again, and nil is returned only if the chain gave different credentials.
// A Bedrock API key and keys from the config have no source that could
// give newer ones, so their refusal is final (ErrNotRenewed).
func (a *Adapter) Refresh(ctx context.Context, since time.Time) error {
	cache, ok := a.creds.(*aws.CredentialsCache)
	if !ok {
		return provider.ErrNotRenewed
	}
	return a.renew.Do(ctx, since, func() error {
		old, _ := a.retrieve() // the cached credentials the refused attempt was signed with
		cache.Invalidate()
		c, err := a.retrieve()
		switch {
		case err != nil:
			return err
		case c.AccessKeyID == old.AccessKeyID && c.SecretAccessKey == old.SecretAccessKey && c.SessionToken == old.SessionToken:
			return provider.ErrNotRenewed
		}
		return nil
	})
}

// modelName is the name put in answers: the public name when known.
func (a *Adapter) modelName(id string) string {
	if p, ok := a.public[id]; ok {
		return p
	}
	return id
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// parserPool holds fastjson parsers for the translation paths.
var parserPool fastjson.ParserPool

// Prepare writes one attempt: URL, headers, body and auth (a fresh SigV4
// signature each call). c.Body is copied; it is not kept.
func (a *Adapter) Prepare(req *fasthttp.Request, c *provider.Call) error {
	if c.Endpoint == provider.Responses {
		return a.prepareMantle(req, c)
	}
	if !a.Supports(c.Endpoint) {
		return fmt.Errorf("%w: %s", ErrUnsupported, c.Endpoint)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	path := append((*bp)[:0], a.basePath...)
	accept := "application/json"
	if a.converse {
		path = append(path, "/model/"...)
		path = appendEscapedSegment(path, c.Model)
		if c.Stream {
			path = append(path, "/converse-stream"...)
			accept = "application/vnd.amazon.eventstream"
		} else {
			path = append(path, "/converse"...)
		}
	} else {
		path = append(path, "/openai/v1/chat/completions"...)
		if c.Stream {
			accept = "text/event-stream"
		}
	}
	*bp = path

	req.Header.SetMethod(fasthttp.MethodPost)
	uri := req.URI()
	uri.SetScheme(a.scheme)
	uri.SetHost(a.host)
	uri.SetPathBytes(path)
	uri.SetQueryString("")
	// Send the path exactly as built (and signed): %3A must stay %3A.
	uri.DisablePathNormalizing = true
	req.Header.SetContentType("application/json")
	req.Header.Set(fasthttp.HeaderAccept, accept)

	if a.converse {
		p := parserPool.Get()
		tb := bufPool.Get().(*[]byte)
		body, err := appendConverseRequest((*tb)[:0], p, c.Body)
		parserPool.Put(p)
		if err != nil {
			bufPool.Put(tb)
			return err
		}
		req.SetBody(body)
		*tb = body
		bufPool.Put(tb)
	} else {
		req.SetBody(c.Body)
	}

	if a.bearer != "" {
		req.Header.Set(fasthttp.HeaderAuthorization, a.bearer)
		return nil
	}
	return a.sign(req, a.scheme, a.host, string(path), signingService)
}

// prepareMantle writes a native Responses attempt to the Mantle endpoint, signed for
// bedrock-mantle (or with the Bedrock API key). Used whatever ResponsesMode says, so an
// operator's override to native works where the default is translated.
func (a *Adapter) prepareMantle(req *fasthttp.Request, c *provider.Call) error {
	if a.converse {
		return fmt.Errorf("%w: %s on a converse upstream", ErrUnsupported, c.Endpoint)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	path := append((*bp)[:0], a.mantle.basePath...)
	path = append(path, "/openai/v1/responses"...)
	*bp = path
	req.Header.SetMethod(fasthttp.MethodPost)
	uri := req.URI()
	uri.SetScheme(a.mantle.scheme)
	uri.SetHost(a.mantle.host)
	uri.SetPathBytes(path)
	uri.SetQueryString("")
	uri.DisablePathNormalizing = true
	req.Header.SetContentType("application/json")
	if c.Stream {
		req.Header.Set(fasthttp.HeaderAccept, "text/event-stream")
	} else {
		req.Header.Set(fasthttp.HeaderAccept, "application/json")
	}
	req.SetBody(c.Body)
	if a.bearer != "" {
		req.Header.Set(fasthttp.HeaderAuthorization, a.bearer)
		return nil
	}
	return a.sign(req, a.mantle.scheme, a.mantle.host, string(path), mantleSigningService)
}

// appendEscapedSegment percent-encodes s as one path segment the way the AWS
// SDKs do: everything but RFC 3986 unreserved characters, so ':' → %3A and
// '/' → %2F.
func appendEscapedSegment(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hex[c>>4], hex[c&0xF])
	}
	return dst
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// appendID appends a fresh "chatcmpl-…" id. DecodeJSON does not see the
// response headers, so x-amzn-RequestId cannot be used; a random id is.
func appendID(dst []byte) []byte {
	dst = append(dst, "chatcmpl-"...)
	for range 24 {
		dst = append(dst, idAlphabet[rand.IntN(len(idAlphabet))])
	}
	return dst
}

// DecodeJSON returns body untouched in openai mode; in converse mode it
// appends the chat.completion translation of a Converse answer to dst.
func (a *Adapter) DecodeJSON(dst []byte, c *provider.Call, body []byte) ([]byte, error) {
	if !a.converse || (c != nil && c.Endpoint == provider.Responses) {
		return body, nil
	}
	p := parserPool.Get()
	defer parserPool.Put(p)
	return appendConverseResponse(dst, p, body, a.modelName(c.Model), a.now().Unix())
}

// Events reads a streamed answer: OpenAI SSE in openai mode, AWS event-stream
// frames translated to chat.completion.chunk events in converse mode.
func (a *Adapter) Events(c *provider.Call, body io.Reader) provider.EventReader {
	if c != nil && c.Endpoint == provider.Responses {
		return sse.AcquireSSEReader(body, false) // named events, no [DONE]
	}
	if !a.converse {
		return sse.AcquireSSEReader(body, true)
	}
	return newStreamReader(body, a.modelName(c.Model), a.now().Unix())
}
