package plugins

import "strconv"

// RouteChain is a tenant's routing plugins, called in config order: the
// first with an opinion wins. It follows plugin reloads.
type RouteChain interface {
	Router
	// Empty reports whether the chain has no routing plugin right now, so the
	// router can skip the stage (and building the upstream table) entirely.
	Empty() bool
}

// RedactChain is a tenant's redaction plugins, applied in config order, each
// to the output of the one before. It follows plugin reloads.
type RedactChain interface {
	Redactor
	// Empty reports whether the chain has no redaction plugin right now.
	Empty() bool
}

// Host is what the router core needs from a plugin runtime (plugins/wasm's
// Set implements it). Safe for concurrent use.
type Host interface {
	// Router returns the routing chain for a tenant's plugin list (empty =
	// every plugin). Build it once per tenant and keep it.
	Router(tenantPlugins []string) RouteChain
	// Redactor likewise for redaction plugins.
	Redactor(tenantPlugins []string) RedactChain
	// Healthy is nil unless a plugin keeps failing; /readyz reports it.
	Healthy() error
	// Stats appends one snapshot per configured plugin, in config order.
	Stats(dst []Stats) []Stats
}

// Stats is a snapshot of one plugin's counters, for metrics and the admin
// API. Names are config names and module metadata: never request content.
type Stats struct {
	Name         string // configured name
	Kinds        Kind
	Module       string // the module's declared name
	Version      string // the module's declared version
	ModuleSHA256 string // hex digest of the module file as loaded
	Calls        uint64 // hook calls of the current module
	Failures     uint64 // failed calls of the current module
	Skipped      uint64 // calls skipped by on_error: open, across reloads
	Rebuilds     uint64 // pool rebuilds after repeated failures
	Recycled     uint64 // instances replaced after max_calls or their memory cap
	PoolSize     int    // configured instances
	Instances    int    // instances serving now (busy or idle)
	InUse        int    // instances in a call now
	Healthy      bool
}

// AppendMetrics appends stats in Prometheus' text format, labelled by plugin
// name, for the router's /metrics.
func AppendMetrics(b []byte, stats []Stats) []byte {
	family := func(name, typ, help string, v func(*Stats) uint64) {
		b = append(b, "# HELP "+name+" "+help+"\n# TYPE "+name+" "+typ+"\n"...)
		for i := range stats {
			b = append(b, name+`{plugin="`...)
			b = append(b, stats[i].Name...)
			b = append(b, `"} `...)
			b = strconv.AppendUint(b, v(&stats[i]), 10)
			b = append(b, '\n')
		}
	}
	family("switchyard_plugin_calls_total", "counter", "Hook calls of the current module.", func(s *Stats) uint64 { return s.Calls })
	family("switchyard_plugin_failures_total", "counter", "Failed plugin calls of the current module.", func(s *Stats) uint64 { return s.Failures })
	family("switchyard_plugin_skipped_total", "counter", "Calls skipped under on_error: open.", func(s *Stats) uint64 { return s.Skipped })
	family("switchyard_plugin_pool_rebuilds_total", "counter", "Instance pools rebuilt after repeated failures.", func(s *Stats) uint64 { return s.Rebuilds })
	family("switchyard_plugin_recycled_total", "counter", "Instances replaced after max_calls or their memory cap.", func(s *Stats) uint64 { return s.Recycled })
	family("switchyard_plugin_instances", "gauge", "Instances serving now.", func(s *Stats) uint64 { return uint64(s.Instances) })
	family("switchyard_plugin_instances_in_use", "gauge", "Instances in a call now.", func(s *Stats) uint64 { return uint64(s.InUse) })
	family("switchyard_plugin_healthy", "gauge", "1 unless the plugin failed repeatedly in a row.", func(s *Stats) uint64 {
		if s.Healthy {
			return 1
		}
		return 0
	})
	return b
}
