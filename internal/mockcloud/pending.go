package mockcloud

// Bedrock and Vertex are being written; until they land, Start refuses those providers with
// ErrUnsupported instead of serving something that does not behave like the cloud.

import (
	"errors"
	"time"

	"github.com/valyala/fasthttp"
)

// ErrUnsupported is returned by Start for clouds this build does not imitate yet.
var ErrUnsupported = errors.New("mockcloud: provider not implemented in this build")

type bedrockAuth struct{}

type vertexAuth struct{ tokenURL string }

func newBedrockAuth(Options) (*bedrockAuth, error) { return nil, ErrUnsupported }

func newVertexAuth([]byte, time.Duration) (*vertexAuth, error) { return nil, ErrUnsupported }

func (s *Server) handleBedrock(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(501) }

func (s *Server) handleVertex(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(501) }

func writeVertexError(ctx *fasthttp.RequestCtx, _ apiErr) { ctx.SetStatusCode(501) }
