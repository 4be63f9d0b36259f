package router

import (
	"context"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
	"github.com/switchyard-dev/switchyard/router/provider/azure"
	"github.com/switchyard-dev/switchyard/router/provider/bedrock"
	"github.com/switchyard-dev/switchyard/router/provider/openai"
	"github.com/switchyard-dev/switchyard/router/provider/vertex"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

// BuildAdapter makes the adapter for one upstream by its provider name. It is
// the default upstream.Builder.
func BuildAdapter(u config.Upstream) (provider.Adapter, error) {
	switch u.Provider {
	case "openai":
		return openai.New(u)
	case "azure":
		return azure.New(u)
	case "bedrock":
		return bedrock.New(u)
	case "vertex":
		// The token refresher lives until the adapter is closed, not for the
		// duration of a context.
		return vertex.New(context.Background(), u)
	}
	return nil, upstream.ErrUnknownProvider
}
