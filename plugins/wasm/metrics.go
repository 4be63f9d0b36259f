package wasm

import "strconv"

// AppendMetrics appends the plugins' counters to b in Prometheus' text format,
// labelled by plugin name (config names only: never request content). The
// router's /metrics calls it through a small interface, so the core does not
// import this package.
func (s *Set) AppendMetrics(b []byte) []byte {
	stats := s.Stats(nil)
	family := func(name, typ, help string, v func(Stats) uint64) {
		b = append(b, "# HELP "+name+" "+help+"\n# TYPE "+name+" "+typ+"\n"...)
		for _, st := range stats {
			b = append(b, name+`{plugin="`+st.Name+`"} `...)
			b = strconv.AppendUint(b, v(st), 10)
			b = append(b, '\n')
		}
	}
	family("switchyard_plugin_failures_total", "counter", "Failed plugin calls of the current module.", func(s Stats) uint64 { return s.Failures })
	family("switchyard_plugin_skipped_total", "counter", "Calls skipped under on_error: open.", func(s Stats) uint64 { return s.Skipped })
	family("switchyard_plugin_pool_rebuilds_total", "counter", "Instance pools rebuilt after repeated failures.", func(s Stats) uint64 { return s.Rebuilds })
	family("switchyard_plugin_healthy", "gauge", "1 unless the plugin failed repeatedly in a row.", func(s Stats) uint64 {
		if s.Healthy {
			return 1
		}
		return 0
	})
	return b
}
