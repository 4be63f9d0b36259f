package bedrock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/valyala/fasthttp"
)

// sign adds X-Amz-Date, X-Amz-Security-Token (temporary credentials) and the
// SigV4 Authorization header to req, whose body and path are final. path is
// the escaped path as it goes on the wire.
//
// aws-sdk-go-v2's signer only signs *http.Request, so each attempt builds a
// small one carrying exactly the headers to sign (content-type, host,
// x-amz-date, x-amz-security-token) and copies the result back. See
// docs/RATIONALE.md "Why sign Bedrock requests through net/http types?" for the cost.
func (a *Adapter) sign(req *fasthttp.Request, scheme, host, path, service string) error {
	creds, err := a.retrieve()
	if err != nil {
		return err
	}
	return signRequest(a.signer, creds, req, scheme, host, path, a.region, service, a.now())
}

// signRequest is sign with every input explicit, for the test vectors.
func signRequest(s *v4.Signer, creds aws.Credentials, req *fasthttp.Request, scheme, host, path, region, service string, t time.Time) error {
	sum := sha256.Sum256(req.Body())
	hr := &http.Request{
		Method: fasthttp.MethodPost,
		// Opaque carries the escaped path verbatim: the signer reads it as the
		// wire path and escapes it once more for the canonical URI
		// (/model/x%3A0 → /model/x%253A0), the non-S3 SigV4 rule.
		URL:    &url.URL{Scheme: scheme, Host: host, Opaque: "//" + host + path},
		Host:   host,
		Header: http.Header{"Content-Type": {string(req.Header.ContentType())}},
	}
	if err := s.SignHTTP(context.Background(), creds, hr, hex.EncodeToString(sum[:]), service, region, t); err != nil {
		return fmt.Errorf("%w: sign: %v", ErrCredentials, err)
	}
	req.Header.Set("X-Amz-Date", hr.Header.Get("X-Amz-Date"))
	if tok := hr.Header.Get("X-Amz-Security-Token"); tok != "" {
		req.Header.Set("X-Amz-Security-Token", tok)
	} else {
		req.Header.Del("X-Amz-Security-Token")
	}
	req.Header.Set(fasthttp.HeaderAuthorization, hr.Header.Get("Authorization"))
	return nil
}
