package mockcloud

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// This file is Google Vertex AI (§4): the OAuth2 token endpoint of the JWT-bearer grant
// (RFC 7523) that verifies assertions signed with the service account's key, and the
// OpenAI-compatible chat endpoint that accepts only tokens it minted, with google.rpc error
// bodies and Google's HTML 404 page.

const (
	jwtBearerGrant  = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	cloudPlatform   = "https://www.googleapis.com/auth/cloud-platform"
	jwtClockSkew    = 60 * time.Second
	maxAssertionTTL = time.Hour
)

// vertexAuth verifies assertions and remembers the tokens it minted. Safe for concurrent use.
type vertexAuth struct {
	tokenURL    string
	clientEmail string
	keyID       string
	pub         *rsa.PublicKey
	ttl         time.Duration
	now         func() time.Time

	mu     sync.Mutex
	tokens map[string]time.Time // access token → expiry
	minted atomic.Int64         // tokens minted by /token
}

type serviceAccount struct {
	Type         string `json:"type"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
}

func newVertexAuth(saJSON []byte, ttl time.Duration) (*vertexAuth, error) {
	var sa serviceAccount
	if err := json.Unmarshal(saJSON, &sa); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrServiceAccount, err)
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" {
		return nil, fmt.Errorf("%w: need type service_account and client_email", ErrServiceAccount)
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return nil, fmt.Errorf("%w: private_key is not PEM", ErrServiceAccount)
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: private_key is not RSA", ErrServiceAccount)
		}
		key = rk
	} else if rk, err2 := x509.ParsePKCS1PrivateKey(block.Bytes); err2 == nil {
		key = rk
	} else {
		return nil, fmt.Errorf("%w: private_key: %v", ErrServiceAccount, err)
	}
	return &vertexAuth{
		clientEmail: sa.ClientEmail, keyID: sa.PrivateKeyID, pub: &key.PublicKey,
		ttl: ttl, now: time.Now, tokens: make(map[string]time.Time),
	}, nil
}

type jwtClaims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Aud   string `json:"aud"`
	Scope string `json:"scope"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

// verifyJWT checks an RS256 JWT signed by the service account and returns its claims.
func (va *vertexAuth) verifyJWT(tok string) (*jwtClaims, string) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, "Invalid JWT: malformed assertion."
	}
	hdrJSON, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, "Invalid JWT: malformed header."
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(hdrJSON, &hdr) != nil || hdr.Alg != "RS256" {
		return nil, "Invalid JWT: unsupported algorithm."
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, "Invalid JWT Signature."
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(va.pub, crypto.SHA256, sum[:], sig) != nil {
		return nil, "Invalid JWT Signature."
	}
	claimsJSON, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, "Invalid JWT: malformed claims."
	}
	var c jwtClaims
	if json.Unmarshal(claimsJSON, &c) != nil {
		return nil, "Invalid JWT: malformed claims."
	}
	now := va.now()
	iat, exp := time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
	if c.Iat == 0 || c.Exp == 0 || now.Before(iat.Add(-jwtClockSkew)) || now.After(exp.Add(jwtClockSkew)) || exp.Sub(iat) > maxAssertionTTL+jwtClockSkew {
		return nil, "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
	}
	return &c, ""
}

func hasScope(scopes, want string) bool {
	for _, s := range strings.Fields(scopes) {
		if s == want {
			return true
		}
	}
	return false
}

func writeOAuthError(ctx *fasthttp.RequestCtx, status int, code, desc string) {
	b := append([]byte(`{"error":`), appendJSONString(nil, code)...)
	b = append(b, `,"error_description":`...)
	b = appendJSONString(b, desc)
	b = append(b, '}')
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.SetBody(b)
}

// serveToken answers POST /token with the JWT-bearer grant (§4.3).
func (s *Server) serveToken(ctx *fasthttp.RequestCtx) {
	va := s.vertex
	if !s.sleep(s.opts.TokenDelay) {
		return
	}
	form, err := url.ParseQuery(string(ctx.PostBody()))
	if err != nil {
		writeOAuthError(ctx, 400, "invalid_request", "Could not parse the request body.")
		return
	}
	if g := form.Get("grant_type"); g != jwtBearerGrant {
		writeOAuthError(ctx, 400, "unsupported_grant_type", "Invalid grant_type: "+g)
		return
	}
	c, problem := va.verifyJWT(form.Get("assertion"))
	switch {
	case c == nil:
		writeOAuthError(ctx, 400, "invalid_grant", problem)
		return
	case c.Iss != va.clientEmail:
		writeOAuthError(ctx, 400, "invalid_grant", "Invalid JWT: Failed issuer check.")
		return
	case c.Aud != va.tokenURL:
		writeOAuthError(ctx, 400, "invalid_grant", "Invalid JWT: Failed audience check. The right audience is "+va.tokenURL)
		return
	case !hasScope(c.Scope, cloudPlatform):
		writeOAuthError(ctx, 400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	tok := randAlnum("ya29.c.b0Aa", 120)
	now := va.now()
	va.mu.Lock()
	for t, exp := range va.tokens {
		if now.After(exp) {
			delete(va.tokens, t)
		}
	}
	va.tokens[tok] = now.Add(va.ttl)
	va.mu.Unlock()
	va.minted.Add(1)
	b := append([]byte(`{"access_token":`), appendJSONString(nil, tok)...)
	b = append(b, `,"expires_in":`...)
	b = appendInt(b, int64(va.ttl/time.Second))
	b = append(b, `,"token_type":"Bearer"}`...)
	ctx.SetStatusCode(200)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.SetBody(b)
}

// validToken accepts a token the mock minted and that has not expired, or (like the lenient
// real service) a self-signed service-account JWT with the cloud-platform scope.
func (va *vertexAuth) validToken(tok string) bool {
	if tok == "" {
		return false
	}
	va.mu.Lock()
	exp, ok := va.tokens[tok]
	va.mu.Unlock()
	if ok {
		return va.now().Before(exp)
	}
	if strings.Count(tok, ".") == 2 {
		c, _ := va.verifyJWT(tok)
		return c != nil && c.Iss == va.clientEmail && hasScope(c.Scope, cloudPlatform)
	}
	return false
}

// googleStatus maps HTTP statuses to google.rpc codes and back.
var googleStatus = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED",
	503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}

func googleHTTPStatus(code string) int {
	for st, c := range googleStatus {
		if c == code {
			return st
		}
	}
	return 0
}

// googleErrorJSON renders a google.rpc.Status error; retry > 0 adds a RetryInfo detail.
func googleErrorJSON(status int, rpc, msg string, retry time.Duration) []byte {
	b := append([]byte(`{"error":{"code":`), strconv.Itoa(status)...)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, rpc)
	if retry > 0 {
		b = append(b, `,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"`...)
		b = strconv.AppendFloat(b, retry.Seconds(), 'f', -1, 64)
		b = append(b, `s"}]`...)
	}
	return append(b, "}}"...)
}

func vertexFault(f Fault) (status int, rpc, msg string) {
	status = f.Status
	if status == 0 {
		status = googleHTTPStatus(f.Code)
	}
	if status == 0 {
		status = faultStatus(f)
	}
	rpc = f.Code
	if rpc == "" || googleHTTPStatus(rpc) == 0 {
		rpc = googleStatus[status]
		if rpc == "" {
			rpc = "UNKNOWN"
		}
	}
	switch rpc {
	case "RESOURCE_EXHAUSTED":
		msg = "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
	case "UNAVAILABLE":
		msg = "The service is currently unavailable."
	case "INTERNAL":
		msg = "Internal error encountered."
	case "INVALID_ARGUMENT":
		msg = "Request contains an invalid argument."
	default:
		msg = "The request failed."
	}
	return status, rpc, msg
}

func writeVertexError(ctx *fasthttp.RequestCtx, e apiErr) {
	var (
		status int
		body   []byte
	)
	switch e.kind {
	case errAuthMissing, errAuthInvalid:
		status = 401
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		body = googleErrorJSON(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", 0)
	case errBadRequest:
		status = 400
		msg := e.msg
		if msg == errBadJSON.msg {
			msg = "Invalid JSON payload received."
		}
		body = googleErrorJSON(400, "INVALID_ARGUMENT", msg, 0)
	case errModelNotFound:
		status = 404
		body = googleErrorJSON(404, "NOT_FOUND", "Publisher Model `"+e.model+"` was not found or your project does not have access to it. Please ensure you are using a valid model version.", 0)
	case errFault:
		var rpc, msg string
		status, rpc, msg = vertexFault(e.fault)
		body = googleErrorJSON(status, rpc, msg, e.fault.RetryAfter)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json; charset=UTF-8")
	ctx.SetBody(body)
}

// writeGoogle404 is the HTML page Google's front end returns for an unknown path (§4.4).
func writeGoogle404(ctx *fasthttp.RequestCtx, path string) {
	ctx.SetStatusCode(404)
	ctx.SetContentType("text/html; charset=UTF-8")
	b := append([]byte(nil), `<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">
  <title>Error 404 (Not Found)!!1</title>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>404.</b> <ins>That’s an error.</ins>
  <p>The requested URL <code>`...)
	b = append(b, htmlEscape(path)...)
	b = append(b, "</code> was not found on this server.  <ins>That’s all we know.</ins>\n"...)
	ctx.SetBody(b)
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// isVertexChatPath matches /{v1|v1beta1}/projects/{p}/locations/{l}/endpoints/openapi/chat/completions.
func isVertexChatPath(p string) bool {
	seg := strings.Split(p, "/")
	return len(seg) == 10 && isVertexOpenAPI(seg) && seg[8] == "chat" && seg[9] == "completions"
}

// isVertexResponsesPath matches /{v1|v1beta1}/projects/{p}/locations/{l}/endpoints/openapi/responses.
func isVertexResponsesPath(p string) bool {
	seg := strings.Split(p, "/")
	return len(seg) == 9 && isVertexOpenAPI(seg) && seg[8] == "responses"
}

func isVertexOpenAPI(seg []string) bool {
	return seg[0] == "" && (seg[1] == "v1" || seg[1] == "v1beta1") &&
		seg[2] == "projects" && seg[3] != "" && seg[4] == "locations" && seg[5] != "" &&
		seg[6] == "endpoints" && seg[7] == "openapi"
}

func (s *Server) handleVertex(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	ep := epChat
	switch {
	case ctx.IsPost() && path == "/token":
		s.serveToken(ctx)
		return
	case ctx.IsPost() && isVertexChatPath(path):
	case ctx.IsPost() && isVertexResponsesPath(path):
		ep = epResponses
	default:
		writeGoogle404(ctx, path)
		return
	}
	s.record(ctx)
	if !s.vertex.validToken(bearer(ctx)) {
		writeVertexError(ctx, apiErr{kind: errAuthInvalid})
		return
	}
	f, ok := s.admit(ctx)
	if !ok {
		return
	}
	if hasFaultStatus(f) && !(f.ResetAfterChunks > 0 && isStreamBody(ctx.PostBody())) {
		writeVertexError(ctx, apiErr{kind: errFault, fault: f})
		return
	}
	s.serveOpenAIShaped(ctx, styleVertex, ep, "", true, f)
}

// WithTokenURI returns a copy of a service-account JSON whose token_uri is tokenURL, so Google's
// client libraries fetch tokens from a mock (examples/configs/mock-service-account.json carries a
// placeholder). Every other field is kept as is.
func WithTokenURI(saJSON []byte, tokenURL string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(saJSON, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrServiceAccount, err)
	}
	m["token_uri"] = tokenURL
	return json.Marshal(m)
}

// ServiceAccountJSON returns the Vertex mock's service account with token_uri pointing at its own
// /token endpoint (nil for other clouds): hand it to golang.org/x/oauth2/google or to the router.
func (s *Server) ServiceAccountJSON() []byte {
	if s.vertex == nil {
		return nil
	}
	b, err := WithTokenURI(s.opts.ServiceAccountJSON, s.vertex.tokenURL)
	if err != nil { // newVertexAuth already parsed this JSON
		return nil
	}
	return b
}
