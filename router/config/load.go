package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// EnvPrefix starts every environment variable that overrides a config value.
const EnvPrefix = "SWITCHYARD_"

// delim is koanf's key delimiter. "." is safe although map keys such as
// "gpt-4.1" contain dots: koanf keeps the merged tree nested, and this package
// only ever reads the whole tree (never a dotted path), so the flattened view,
// the one place the delimiter would split such a key, is not used. Env and
// flag keys are generated from the schema and never contain a map key.
// See TestDottedModelNames and "Why koanf's "." delimiter when model names contain dots?" in docs/RATIONALE.md.
const delim = "."

// Load reads the configuration in layers, each overriding the one before:
// the built-in defaults, the YAML file at path, SWITCHYARD_* environment
// variables, and the flags registered by RegisterFlags in flags (may be nil;
// only flags set on the command line count). It then expands ${ENV}
// references in string values, resolves plugin paths relative to the file's
// folder, applies defaults and validates.
//
// A file that cannot be read is returned as a plain error wrapping the
// os error; anything wrong with its content, every problem at once, as a
// *ValidationError. The returned Config is new and owned by the caller.
func Load(path string, flags *pflag.FlagSet) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return load(file.Provider(abs), filepath.Dir(abs), os.LookupEnv, flags)
}

// Parse does what Load does with the YAML document in data: relative plugin
// paths are resolved against baseDir (the current directory when empty), and
// environment variables, for SWITCHYARD_* overrides and ${ENV} references
// alike, are looked up with env (nil: none is set). Tests and the demo use it
// so that nothing depends on the process environment.
func Parse(data []byte, baseDir string, env func(string) (string, bool), flags *pflag.FlagSet) (*Config, error) {
	return load(bytesProvider(data), baseDir, env, flags)
}

// RegisterFlags adds the flags that override config values: --listen,
// --pprof and --log-level. Pass the same FlagSet to Load after parsing it.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("listen", "", "address to listen on, host:port (overrides listen)")
	fs.String("pprof", "", "serve net/http/pprof on this host:port (overrides pprof)")
	fs.String("log-level", "", "debug, info, warn or error (overrides log.level)")
}

// flagPaths maps the flags of RegisterFlags to config paths.
var flagPaths = map[string]string{
	"listen":    "listen",
	"pprof":     "pprof",
	"log-level": "log.level",
}

// bytesProvider is a koanf.Provider over a YAML document in memory.
type bytesProvider []byte

func (b bytesProvider) ReadBytes() ([]byte, error) { return b, nil }
func (b bytesProvider) Read() (map[string]any, error) {
	return nil, errors.New("config: bytesProvider needs a parser")
}

func load(src koanf.Provider, baseDir string, lookup func(string) (string, bool), flags *pflag.FlagSet) (*Config, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	k := koanf.New(delim)
	if err := k.Load(src, yaml.Parser()); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("config: %w", err)
		}
		return nil, &ValidationError{Problems: []Problem{{Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}

	var ps problems
	if err := k.Load(env.Provider(delim, env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ(lookup) },
		TransformFunc: func(name, value string) (string, any) {
			return envPaths[name], value
		},
	}), nil); err != nil {
		return nil, fmt.Errorf("config: environment: %w", err)
	}
	if flags != nil {
		if err := k.Load(posflag.ProviderWithFlag(flags, delim, k, func(f *pflag.Flag) (string, any) {
			if !f.Changed {
				return "", nil
			}
			return flagPaths[f.Name], f.Value.String()
		}), nil); err != nil {
			return nil, fmt.Errorf("config: flags: %w", err)
		}
	}

	// Raw is a deep copy of the merged tree, still nested: map keys with
	// dots are intact here.
	tree := k.Raw()
	expandTree(tree, "", lookup, &ps)
	checkKeys(tree, reflect.TypeFor[Config](), "", &ps)

	var c Config
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: decodeHook,
		TagName:    "koanf",
		Result:     &c,
		// Keys match exactly; checkKeys has already reported "Listen" as unknown.
		MatchName: func(mapKey, fieldName string) bool { return mapKey == fieldName },
	})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := dec.Decode(tree); err != nil {
		decodeProblems(err, &ps)
	}

	// Files named in the config are relative to the config file's folder.
	resolve := func(p *string) {
		if *p != "" && baseDir != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(baseDir, *p)
		}
	}
	for i := range c.Plugins {
		resolve(&c.Plugins[i].Wasm)
		resolve(&c.Plugins[i].Native)
	}
	for i := range c.Upstreams {
		resolve(&c.Upstreams[i].Auth.CredentialsFile)
	}
	resolve(&c.Keys.File)
	c.ApplyDefaults()
	c.validate(&ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// envPaths maps every overriding environment variable to its config path.
// It is derived from the schema: each scalar field reachable from Config
// through struct fields only (not lists or maps) gets
// SWITCHYARD_ + its path, upper case, dots replaced by underscores.
var envPaths = func() map[string]string {
	m := make(map[string]string)
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			tag := f.Tag.Get("koanf")
			if tag == "" {
				continue
			}
			path := prefix + tag
			switch {
			case f.Type == durationType || f.Type == byteSizeType:
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, path+delim)
				continue
			case f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Map:
				continue
			}
			m[EnvPrefix+strings.ToUpper(strings.ReplaceAll(path, delim, "_"))] = path
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return m
}()

// environ lists the overriding variables that lookup reports as set and
// non-empty, in os.Environ's "NAME=value" form. Empty values are skipped so
// that `SWITCHYARD_LISTEN= switchyard serve` means "not set", as in most tools.
func environ(lookup func(string) (string, bool)) []string {
	var out []string
	for name := range envPaths {
		if v, ok := lookup(name); ok && v != "" {
			out = append(out, name+"="+v)
		}
	}
	return out
}

// expandTree replaces ${NAME} in every string of the tree, in place.
func expandTree(v any, path string, lookup func(string) (string, bool), ps *problems) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = expandTree(e, joinKey(path, k), lookup, ps)
		}
	case []any:
		for i, e := range t {
			t[i] = expandTree(e, index(path, i), lookup, ps)
		}
	case string:
		s, err := expand(t, lookup)
		if err != nil {
			ps.add(path, "%s", err.Error())
		}
		return s
	}
	return v
}

// expand replaces ${NAME} with the variable's value and $${ with a literal ${.
// A lone $ and $NAME without braces are left alone. Errors name the variable,
// never a value.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var missing []string
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return s, errors.New("unterminated ${ (write $${ for a literal ${)")
			}
			name := s[i+2 : i+2+end]
			if !validEnvName(name) {
				return s, fmt.Errorf("invalid environment variable name %q in ${…} (write $${ for a literal ${)", name)
			}
			v, ok := lookup(name)
			if !ok {
				missing = append(missing, name)
			}
			b.WriteString(v)
			i += 2 + end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	switch len(missing) {
	case 0:
		return b.String(), nil
	case 1:
		return s, fmt.Errorf("environment variable %s is not set", missing[0])
	default:
		return s, fmt.Errorf("environment variables %s are not set", strings.Join(missing, ", "))
	}
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// checkKeys reports every key of the tree that the schema does not know.
// Maps in the schema (models, plugin config) take any key; values of the
// wrong shape are left for the decoder to report.
func checkKeys(v any, t reflect.Type, path string, ps *problems) {
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		fields := make(map[string]reflect.Type, t.NumField())
		for f := range t.Fields() {
			if tag := f.Tag.Get("koanf"); tag != "" {
				fields[tag] = f.Type
			}
		}
		for _, k := range sortedKeys(m) {
			ft, ok := fields[k]
			if !ok {
				msg := "unknown key"
				if s := suggest(k, fields); s != "" {
					msg += "; did you mean " + s + "?"
				}
				ps.add(joinKey(path, k), "%s", msg)
				continue
			}
			checkKeys(m[k], ft, joinKey(path, k), ps)
		}
	case reflect.Slice:
		if l, ok := v.([]any); ok {
			for i, e := range l {
				checkKeys(e, t.Elem(), index(path, i), ps)
			}
		}
	}
}

// suggest returns the known key closest to k, if it is a likely typo.
func suggest(k string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for _, f := range sortedKeys(fields) {
		if d := editDistance(k, f); d < bestD {
			best, bestD = f, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

// decodeHook converts what YAML, the environment and flags produce into the
// schema's types, strictly: durations need a unit ("30s"), integers must be
// whole, sizes parse with ParseByteSize. Strings from the environment are
// parsed into numbers and booleans here, which is why the decoder does not
// need (and does not use) mapstructure's WeaklyTypedInput.
func decodeHook(from, to reflect.Value) (any, error) {
	if !from.IsValid() {
		return nil, nil
	}
	data := from.Interface()
	switch to.Type() {
	case durationType:
		switch d := data.(type) {
		case string:
			v, err := time.ParseDuration(strings.TrimSpace(d))
			if err != nil {
				return nil, fmt.Errorf("expected a duration such as \"30s\" or \"1h30m\"; got %q", d)
			}
			return v, nil
		case int:
			if d != 0 {
				return nil, fmt.Errorf("expected a duration with a unit such as \"30s\"; got the bare number %d", d)
			}
			return time.Duration(0), nil
		case float64:
			return nil, fmt.Errorf("expected a duration with a unit such as \"30s\"; got the bare number %v", d)
		}
		return data, nil
	case byteSizeType:
		switch d := data.(type) {
		case string:
			v, err := ParseByteSize(d)
			if err != nil {
				return nil, fmt.Errorf("expected a size such as 512, \"64KiB\" or \"4MiB\"; %s", strings.TrimPrefix(err.Error(), ErrByteSize.Error()+": "))
			}
			return v, nil
		case int:
			return ByteSize(d), nil
		case float64:
			if d != math.Trunc(d) || math.Abs(d) > 1<<62 {
				return nil, fmt.Errorf("expected a whole number of bytes; got %v", d)
			}
			return ByteSize(d), nil
		}
		return data, nil
	}
	switch to.Kind() {
	case reflect.Slice:
		if _, ok := data.([]any); !ok && data != nil {
			return nil, fmt.Errorf("expected a list, got %s", describeValue(data))
		}
	case reflect.Map, reflect.Struct:
		if _, ok := data.(map[string]any); !ok && data != nil {
			return nil, fmt.Errorf("expected a mapping, got %s", describeValue(data))
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		switch d := data.(type) {
		case string:
			v, err := strconv.ParseInt(strings.TrimSpace(d), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("expected an integer; got %q", d)
			}
			return v, nil
		case float64:
			if d != math.Trunc(d) || math.Abs(d) > 1<<62 {
				return nil, fmt.Errorf("expected an integer; got %v", d)
			}
			return int64(d), nil
		}
	case reflect.Float64:
		if d, ok := data.(string); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(d), 64)
			if err != nil {
				return nil, fmt.Errorf("expected a number; got %q", d)
			}
			return v, nil
		}
	case reflect.Bool:
		if d, ok := data.(string); ok {
			v, err := strconv.ParseBool(strings.TrimSpace(d))
			if err != nil {
				return nil, fmt.Errorf("expected true or false; got %q", d)
			}
			return v, nil
		}
	case reflect.String:
		// YAML reads `api_version: 2024-10-21` as a timestamp and `name: 1`
		// as a number; the author meant the text.
		switch d := data.(type) {
		case time.Time:
			return formatTime(d), nil
		case int, int64, float64, bool:
			return fmt.Sprint(d), nil
		}
	}
	return data, nil
}

// decodeProblems turns mapstructure's joined errors into Problems.
func decodeProblems(err error, ps *problems) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			decodeProblems(e, ps)
		}
		return
	}
	de, ok := err.(*mapstructure.DecodeError)
	if !ok {
		// mapstructure wraps the joined list once ("decoding failed due to …").
		if inner := errors.Unwrap(err); inner != nil {
			decodeProblems(inner, ps)
		} else {
			ps.add("", "%s", err.Error())
		}
		return
	}
	inner := de.Unwrap()
	if _, ok := inner.(interface{ Unwrap() []error }); ok {
		decodeProblems(inner, ps)
		return
	}
	var ue *mapstructure.UnconvertibleTypeError
	if errors.As(inner, &ue) {
		ps.add(de.Name(), "expected %s, got %s", describeType(ue.Expected.Type()), describeValue(ue.Value))
		return
	}
	ps.add(de.Name(), "%s", inner.Error())
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

func describeValue(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return describeType(reflect.TypeOf(v))
}
