package mockcloud

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// This file verifies AWS Signature Version 4 the way Bedrock does (§3.5), written by hand on
// purpose: the mock must rebuild the canonical request from the raw request URI the client sent,
// so that a client which signs the decoded path, or forgets to double-encode `%3A` in a model
// id, is rejected exactly like the real service rejects it. Using the SDK's signer here would
// share its assumptions with the client under test.

const (
	sigv4Algorithm = "AWS4-HMAC-SHA256"
	amzDateLayout  = "20060102T150405Z"
	// maxSkew is how far x-amz-date may be from the server clock.
	maxSkew = 5 * time.Minute
)

// bedrockAuth holds the credentials the Bedrock mock accepts.
type bedrockAuth struct {
	apiKey string
	akid   string
	secret string
	now    func() time.Time
}

func newBedrockAuth(o Options) (*bedrockAuth, error) {
	return &bedrockAuth{apiKey: o.APIKey, akid: o.AccessKeyID, secret: o.SecretAccessKey, now: time.Now}, nil
}

// awsErr is a Bedrock error: the x-amzn-ErrorType code, HTTP status, message, and the coral
// namespace the header carries.
type awsErr struct {
	code   string
	status int
	msg    string
	coral  string // "" = com.amazon.bedrock
}

const coralService = "com.amazon.coral.service"

var (
	errMissingToken = &awsErr{code: "MissingAuthenticationTokenException", status: 403, msg: "Missing Authentication Token", coral: coralService}
	errUnrecognized = &awsErr{code: "UnrecognizedClientException", status: 403, msg: "The security token included in the request is invalid.", coral: coralService}
	errBadSignature = &awsErr{code: "InvalidSignatureException", status: 403, msg: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.", coral: coralService}
)

func incompleteSignature(msg string) *awsErr {
	return &awsErr{code: "IncompleteSignatureException", status: 403, msg: msg, coral: coralService}
}

// sigv4Request is everything the canonical request is built from.
type sigv4Request struct {
	method        string
	rawPath       string // as sent on the wire, still percent-encoded
	rawQuery      string
	header        func(name string) []string // values of a lowercase header name
	signedHeaders []string                   // lowercase, sorted
	payloadHash   string                     // hex sha256 of the body
}

// awsURIEncode encodes s per RFC 3986 as SigV4 wants: unreserved characters stay, everything
// else becomes %XX with uppercase hex; '/' is encoded too unless keepSlash.
func awsURIEncode(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		}
	}
	return b.String()
}

// canonicalURI encodes each segment of the wire path once more (the non-S3 rule), so
// `/model/a%3A0/converse` becomes `/model/a%253A0/converse`.
func canonicalURI(rawPath string) string {
	if rawPath == "" {
		return "/"
	}
	return awsURIEncode(rawPath, true)
}

func canonicalQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		pairs = append(pairs, kv{awsURIEncode(k, false), awsURIEncode(v, false)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.k + "=" + p.v
	}
	return strings.Join(out, "&")
}

// canonicalHeaderValue trims a value and collapses inner runs of spaces.
func canonicalHeaderValue(v string) string {
	return strings.Join(strings.Fields(v), " ")
}

func (r *sigv4Request) canonical() string {
	var b strings.Builder
	b.WriteString(r.method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.rawPath))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.rawQuery))
	b.WriteByte('\n')
	for _, h := range r.signedHeaders {
		vals := r.header(h)
		for i, v := range vals {
			vals[i] = canonicalHeaderValue(v)
		}
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(strings.Join(vals, ","))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(r.signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(r.payloadHash)
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sigv4Sign returns the hex signature of the canonical request for the scope date/region/service.
func sigv4Sign(secret, amzDate, region, service, canonical string) string {
	day := amzDate[:8]
	sts := sigv4Algorithm + "\n" + amzDate + "\n" + day + "/" + region + "/" + service + "/aws4_request\n" + sha256Hex([]byte(canonical))
	k := hmacSHA256([]byte("AWS4"+secret), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, sts))
}

// sigv4Auth is the parsed Authorization header.
type sigv4Auth struct {
	akid, day, region, service string
	signedHeaders              []string
	signature                  string
}

func parseSigV4Header(h string) (*sigv4Auth, *awsErr) {
	rest, ok := strings.CutPrefix(h, sigv4Algorithm+" ")
	if !ok {
		return nil, incompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	a := &sigv4Auth{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return nil, incompleteSignature("Authorization header requires 'Credential' parameter. Authorization=" + sigv4Algorithm)
			}
			a.akid, a.day, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.akid == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return nil, incompleteSignature("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
	}
	return a, nil
}

// verify checks the request's auth: a Bedrock API key as Bearer, or a SigV4 signature scoped to
// service ("bedrock" for bedrock-runtime, "bedrock-mantle" for the Mantle endpoint). It returns
// nil when the request may proceed.
func (ba *bedrockAuth) verify(ctx *fasthttp.RequestCtx, service string) *awsErr {
	authz := string(ctx.Request.Header.Peek("Authorization"))
	switch {
	case authz == "":
		return errMissingToken
	case len(authz) > 7 && strings.EqualFold(authz[:7], "bearer "):
		if ba.apiKey == "" || strings.TrimSpace(authz[7:]) != ba.apiKey {
			return errUnrecognized
		}
		return nil
	}
	a, e := parseSigV4Header(authz)
	if e != nil {
		return e
	}
	if ba.akid == "" || a.akid != ba.akid {
		return errUnrecognized
	}
	if a.service != service {
		return &awsErr{code: "InvalidSignatureException", status: 403, msg: "Credential should be scoped to correct service: '" + service + "'. ", coral: coralService}
	}
	amzDate := string(ctx.Request.Header.Peek("X-Amz-Date"))
	t, err := time.Parse(amzDateLayout, amzDate)
	if err != nil {
		return incompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	now := ba.now().UTC()
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return &awsErr{code: "InvalidSignatureException", status: 403, coral: coralService,
			msg: "Signature expired: " + amzDate + " is now earlier than " + now.Add(-maxSkew).Format(amzDateLayout) + " (" + now.Format(amzDateLayout) + " - 5 min.)"}
	}
	if a.day != amzDate[:8] {
		return &awsErr{code: "InvalidSignatureException", status: 403, coral: coralService,
			msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + a.day + "' != '" + amzDate[:8] + "', from '" + amzDate + "'."}
	}
	signed := make(map[string]bool, len(a.signedHeaders))
	for _, h := range a.signedHeaders {
		signed[h] = true
	}
	if !signed["host"] {
		return incompleteSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if len(ctx.Request.Header.Peek("X-Amz-Security-Token")) > 0 && !signed["x-amz-security-token"] {
		return incompleteSignature("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.")
	}
	body := ctx.PostBody()
	payload := sha256Hex(body)
	switch h := string(ctx.Request.Header.Peek("X-Amz-Content-Sha256")); h {
	case "", payload:
	case "UNSIGNED-PAYLOAD":
		payload = h
	default:
		return &awsErr{code: "InvalidSignatureException", status: 403, coral: coralService, msg: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	uri := string(ctx.Request.Header.RequestURI())
	rawPath, rawQuery, _ := strings.Cut(uri, "?")
	req := &sigv4Request{
		method:        string(ctx.Method()),
		rawPath:       rawPath,
		rawQuery:      rawQuery,
		signedHeaders: a.signedHeaders,
		payloadHash:   payload,
		header: func(name string) []string {
			if name == "host" {
				return []string{string(ctx.Request.Header.Host())}
			}
			var vals []string
			for k, v := range ctx.Request.Header.All() {
				if strings.EqualFold(string(k), name) {
					vals = append(vals, string(v))
				}
			}
			return vals
		},
	}
	want := sigv4Sign(ba.secret, amzDate, a.region, a.service, req.canonical())
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return errBadSignature
	}
	return nil
}
