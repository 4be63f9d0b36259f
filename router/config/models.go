package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// ErrNoPlugin is returned by PluginConfigJSON for an index out of range.
var ErrNoPlugin = errors.New("config: no such plugin")

// Models returns the public model names served by any upstream, sorted and
// without duplicates. The slice is new on every call; the caller owns it.
func (c *Config) Models() []string {
	seen := make(map[string]bool)
	var out []string
	for _, u := range c.Upstreams {
		for m := range u.Models {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	sort.Strings(out)
	return out
}

// PluginConfigJSON returns plugins[i].config as the JSON object the plugin's
// init receives ("{}" when no config is given). YAML mappings with non-string
// keys are converted to string keys, and YAML timestamps to RFC 3339 strings
// (a bare date stays "2006-01-02"), so every config YAML can express encodes.
func (c *Config) PluginConfigJSON(i int) ([]byte, error) {
	if i < 0 || i >= len(c.Plugins) {
		return nil, fmt.Errorf("%w: index %d of %d", ErrNoPlugin, i, len(c.Plugins))
	}
	cfg := c.Plugins[i].Config
	if cfg == nil {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(jsonable(cfg))
	if err != nil {
		return nil, fmt.Errorf("config: plugins[%d].config: %w", i, err)
	}
	return b, nil
}

// jsonable returns a copy of v that encoding/json accepts.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = jsonable(e)
		}
		return out
	case time.Time:
		return formatTime(t)
	}
	return v
}

// formatTime writes a YAML timestamp back as text: "2024-10-21" for a bare date.
func formatTime(t time.Time) string {
	if t.Equal(t.Truncate(24*time.Hour)) && t.Location() == time.UTC {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339Nano)
}
