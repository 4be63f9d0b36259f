// Package wire is what the native plugin host (package native) and the guest
// SDK (package native/sdk) share: go-plugin's handshake, the name the plugin
// is dispensed under, the gRPC service generated from native.proto, and the
// go-plugin GRPCPlugin that connects the two. Nothing here is exported
// outside plugins/native.
package wire

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Handshake is go-plugin's handshake: a binary started without the cookie
// (by hand, or by another go-plugin host) refuses to run, and a guest built
// for another protocol version is refused at start.
//
// Why a magic cookie at all? It is not a security measure; it stops a user
// from running a plugin binary directly and a host from starting a binary
// that is not a Switchyard plugin (go-plugin's own reasoning).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "SWITCHYARD_NATIVE_PLUGIN",
	MagicCookieValue: "7d0c3f0e-switchyard-native-v1",
}

// PluginName is the key the one plugin is dispensed under.
const PluginName = "switchyard"

// MaxMessage bounds one gRPC message either way; a redact request carries a
// whole request body.
const MaxMessage = 64 << 20

// GRPCPlugin is go-plugin's glue for the Plugin service: the guest sets
// Impl, the host dispenses a PluginClient.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl PluginServer // guest side only
}

// GRPCServer registers the guest's service.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterPluginServer(s, p.Impl)
	return nil
}

// GRPCClient returns the host's stub.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewPluginClient(c), nil
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)
