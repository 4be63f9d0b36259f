package openai

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// render prints the fields of r that are present, in a fixed order, so that tests compare one string.
func render(r *Request) string {
	var b strings.Builder
	if r.Model != nil || r.ModelStart >= 0 {
		fmt.Fprintf(&b, "model=%+q@%d:%d ", r.Model, r.ModelStart, r.ModelEnd)
	}
	if r.Messages >= 0 {
		fmt.Fprintf(&b, "messages=%d ", r.Messages)
	}
	if r.Stream {
		b.WriteString("stream ")
	}
	if r.HasStreamOptions || r.StreamOptionsStart >= 0 || r.IncludeUsage {
		fmt.Fprintf(&b, "stream_options(%v,usage=%v)@%d:%d ", r.HasStreamOptions, r.IncludeUsage, r.StreamOptionsStart, r.StreamOptionsEnd)
	}
	if r.HasTemperature {
		fmt.Fprintf(&b, "temperature=%v ", r.Temperature)
	}
	if r.HasTopP {
		fmt.Fprintf(&b, "top_p=%v ", r.TopP)
	}
	if r.HasSeed {
		fmt.Fprintf(&b, "seed=%d ", r.Seed)
	}
	if r.HasN {
		fmt.Fprintf(&b, "n=%d ", r.N)
	}
	if r.HasMaxTokens {
		fmt.Fprintf(&b, "max_tokens=%d ", r.MaxTokens)
	}
	if r.HasInput {
		b.WriteString("input ")
	}
	if r.HasPrompt {
		b.WriteString("prompt ")
	}
	return strings.TrimSpace(b.String())
}

// errKind condenses a Scan error for comparison: "" (nil), "syntax", "not-object" or "type:<param>".
func errKind(err error) string {
	var fe *FieldError
	var se *SyntaxError
	var de *DuplicateError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &de):
		if !errors.Is(err, ErrSyntax) {
			return "duplicate-not-wrapping-ErrSyntax"
		}
		return "syntax"
	case errors.As(err, &se):
		if !errors.Is(err, ErrSyntax) {
			return "syntax-not-wrapping-ErrSyntax"
		}
		return "syntax"
	case errors.Is(err, ErrNotObject):
		return "not-object"
	case errors.As(err, &fe):
		if !errors.Is(err, ErrType) {
			return "type-not-wrapping-ErrType"
		}
		return "type:" + fe.Param
	default:
		return "unexpected:" + err.Error()
	}
}

func TestScan(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // render(r), or errKind when wantErr is set
		err  string
	}{
		{name: "minimal chat",
			body: `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`,
			want: `model="gpt-5"@9:16 messages=1`},
		{name: "whitespace everywhere",
			body: " \t\r\n{ \"model\" :\n\"m\" , \"messages\" : [ 1 , 2 , {} ] , \"stream\" : true }\n ",
			want: `model="m"@16:19 messages=3 stream`},
		{name: "all fields",
			body: `{"model":"m","stream":true,"stream_options":{"include_usage":true},"temperature":0.7,"top_p":0.9,"seed":-3,"n":2,"max_tokens":100,"input":"x","prompt":["a"]}`,
			want: `model="m"@9:12 stream stream_options(true,usage=true)@44:66 temperature=0.7 top_p=0.9 seed=-3 n=2 max_tokens=100 input prompt`},
		{name: "nested model keys are ignored",
			body: `{"messages":[{"role":"user","model":"evil","content":{"model":"x"}}],"metadata":{"model":"y"},"model":"real"}`,
			want: `model="real"@102:108 messages=1`},
		{name: "nested stream keys are ignored",
			body: `{"tools":[{"stream":"nope","temperature":"hot","messages":5}],"response_format":{"stream":1}}`,
			want: ``},
		{name: "escaped model",
			body: `{"model":"gpt\u002d4o\/mini\"q\\"}`,
			want: `model="gpt-4o/mini\"q\\"@9:33`},
		{name: "surrogate pair in model",
			body: `{"model":"\ud83d\ude00-x"}`,
			want: `model="\U0001f600-x"@9:25`},
		{name: "lone high surrogate is refused", body: `{"model":"a\ud800b"}`, err: "syntax"},
		{name: "lone low surrogate is refused", body: `{"model":"a\udc00b"}`, err: "syntax"},
		{name: "reversed surrogate pair is refused", body: `{"model":"\ude00\ud83d"}`, err: "syntax"},
		{name: "invalid UTF-8 is refused", body: "{\"model\":\"a\xffb\"}", err: "syntax"},
		{name: "UTF-8 encoded surrogate is refused", body: "{\"x\":\"\xed\xa0\x80\"}", err: "syntax"},
		{name: "non-ASCII text is accepted",
			body: `{"model":"mé-日本"}`,
			want: `model="m\u00e9-\u65e5\u672c"@9:21`},
		{name: "escaped key",
			body: `{"mod\u0065l":"m","\u0073tream":true}`,
			want: `model="m"@14:17 stream`},
		{name: "keys are case-sensitive",
			body: `{"Model":"m","STREAM":true}`,
			want: ``},
		{name: "duplicate model is refused", body: `{"model":"a","model":"bb"}`, err: "syntax"},
		{name: "duplicate under an escape is refused", body: `{"model":"a","mod\u0065l":"bb"}`, err: "syntax"},
		{name: "duplicate null is refused", body: `{"model":"a","model":null}`, err: "syntax"},
		{name: "duplicate in a nested object is refused",
			body: `{"model":"m","messages":[{"role":"user","content":"a","content":"b"}]}`, err: "syntax"},
		{name: "same name in sibling objects is fine",
			body: `{"model":"m","messages":[{"content":"a"},{"content":"b"}],"x":{"model":1}}`,
			want: `model="m"@9:12 messages=2`},
		{name: "nulls count as absent",
			body: `{"model":null,"stream":null,"stream_options":null,"temperature":null,"top_p":null,"seed":null,"n":null,"max_tokens":null,"messages":null,"input":null,"prompt":null}`,
			want: ``},
		{name: "duplicate stream_options is refused",
			body: `{"stream_options":{"include_usage":true},"stream_options":{}}`, err: "syntax"},
		{name: "stream_options nested keys ignored",
			body: `{"stream_options":{"x":{"include_usage":true},"include_usage":false}}`,
			want: `stream_options(true,usage=false)@18:68`},
		{name: "max_completion_tokens", body: `{"max_completion_tokens":7}`, want: `max_tokens=7`},
		{name: "max_output_tokens", body: `{"max_output_tokens":8}`, want: `max_tokens=8`},
		{name: "last max_* key wins", body: `{"max_tokens":1,"max_completion_tokens":2}`, want: `max_tokens=2`},
		{name: "empty messages", body: `{"messages":[]}`, want: `messages=0`},
		{name: "empty object", body: `{}`, want: ``},
		{name: "numbers", body: `{"temperature":-0,"top_p":1E-2,"seed":9223372036854775807}`,
			want: `temperature=-0 top_p=0.01 seed=9223372036854775807`},
		{name: "deep but within limit",
			body: `{"a":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`,
			want: ``},

		// Wrong types name the param.
		{name: "model number", body: `{"model":5}`, err: "type:model"},
		{name: "model object", body: `{"model":{"a":[1]}}`, err: "type:model"},
		{name: "messages object", body: `{"messages":{}}`, err: "type:messages"},
		{name: "messages string", body: `{"messages":"hi"}`, err: "type:messages"},
		{name: "stream string", body: `{"stream":"true"}`, err: "type:stream"},
		{name: "stream number", body: `{"stream":1}`, err: "type:stream"},
		{name: "temperature string", body: `{"temperature":"0.5"}`, err: "type:temperature"},
		{name: "temperature overflow", body: `{"temperature":1e400}`, err: "type:temperature"},
		{name: "top_p bool", body: `{"top_p":true}`, err: "type:top_p"},
		{name: "seed fraction", body: `{"seed":1.5}`, err: "type:seed"},
		{name: "seed overflow", body: `{"seed":9223372036854775808}`, err: "type:seed"},
		{name: "n exponent", body: `{"n":1e2}`, err: "type:n"},
		{name: "n float zero fraction", body: `{"n":1.0}`, err: "type:n"},
		{name: "max_completion_tokens string", body: `{"max_completion_tokens":"5"}`, err: "type:max_completion_tokens"},
		{name: "stream_options array", body: `{"stream_options":[]}`, err: "type:stream_options"},
		{name: "include_usage string", body: `{"stream_options":{"include_usage":"yes"}}`, err: "type:stream_options.include_usage"},
		{name: "first wrong type is reported", body: `{"n":"a","model":1}`, err: "type:n"},
		{name: "wrong type then duplicate is a duplicate", body: `{"model":1,"model":"m"}`, err: "syntax"},
		{name: "syntax error beats type error", body: `{"model":1,"x":}`, err: "syntax"},

		// Malformed JSON.
		{name: "empty body", body: ``, err: "syntax"},
		{name: "only whitespace", body: " \n", err: "syntax"},
		{name: "truncated after brace", body: `{`, err: "syntax"},
		{name: "truncated in key", body: `{"mod`, err: "syntax"},
		{name: "truncated after key", body: `{"model"`, err: "syntax"},
		{name: "truncated after colon", body: `{"model":`, err: "syntax"},
		{name: "truncated in string", body: `{"model":"gp`, err: "syntax"},
		{name: "truncated in escape", body: `{"model":"\u00`, err: "syntax"},
		{name: "truncated in messages", body: `{"messages":[{"role":"user"`, err: "syntax"},
		{name: "truncated literal", body: `{"stream":tru`, err: "syntax"},
		{name: "truncated number", body: `{"n":1.`, err: "syntax"},
		{name: "missing close", body: `{"model":"m"`, err: "syntax"},
		{name: "trailing comma", body: `{"model":"m",}`, err: "syntax"},
		{name: "trailing comma in array", body: `{"messages":[1,]}`, err: "syntax"},
		{name: "trailing garbage", body: `{"model":"m"} x`, err: "syntax"},
		{name: "two objects", body: `{}{}`, err: "syntax"},
		{name: "single quotes", body: `{'model':'m'}`, err: "syntax"},
		{name: "unquoted key", body: `{model:"m"}`, err: "syntax"},
		{name: "control char in string", body: "{\"model\":\"a\nb\"}", err: "syntax"},
		{name: "bad escape", body: `{"model":"\x41"}`, err: "syntax"},
		{name: "bad unicode escape", body: `{"model":"\u12G4"}`, err: "syntax"},
		{name: "leading zero", body: `{"n":01}`, err: "syntax"},
		{name: "plus sign", body: `{"n":+1}`, err: "syntax"},
		{name: "bare minus", body: `{"n":-}`, err: "syntax"},
		{name: "NaN", body: `{"temperature":NaN}`, err: "syntax"},
		{name: "hex number", body: `{"n":0x10}`, err: "syntax"},
		{name: "capitalised literal", body: `{"stream":True}`, err: "syntax"},
		{name: "missing colon", body: `{"model" "m"}`, err: "syntax"},
		{name: "too deep",
			body: `{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`,
			err:  "syntax"},
		{name: "very deep never overflows the stack", body: strings.Repeat("[", 1<<20), err: "syntax"},
		{name: "malformed beats not-object", body: `[1,`, err: "syntax"},

		// Well-formed but not an object.
		{name: "array", body: `[{"model":"m"}]`, err: "not-object"},
		{name: "string", body: `"model"`, err: "not-object"},
		{name: "null", body: `null`, err: "not-object"},
		{name: "number", body: ` 1 `, err: "not-object"},
	}
	var r Request
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Scan([]byte(tt.body), &r)
			if got := errKind(err); got != tt.err {
				t.Fatalf("Scan error = %q (%v), want %q", got, err, tt.err)
			}
			if err != nil {
				return
			}
			if got := render(&r); got != tt.want {
				t.Errorf("Scan fields:\n got  %s\n want %s", got, tt.want)
			}
			if r.ModelStart >= 0 && tt.body[r.ModelStart] != '"' || r.ModelEnd >= 0 && tt.body[r.ModelEnd-1] != '"' {
				t.Errorf("model offsets %d:%d do not delimit a string", r.ModelStart, r.ModelEnd)
			}
			if r.End < 0 || tt.body[r.End] != '}' {
				t.Errorf("End = %d, not the closing brace", r.End)
			}
			// Every table case must also agree with the encoding/json reference.
			checkAgainstReference(t, []byte(tt.body), &r, err)
		})
	}
}

func TestScanSyntaxErrorOffset(t *testing.T) {
	tests := []struct {
		body   string
		offset int
	}{
		{`{"model":"m",}`, 13},
		{`{"model":"m"`, 12},
		{`{"n":01}`, 6},
		{"{\"model\":\"a\nb\"}", 11},
		{`{} x`, 3},
	}
	var r Request
	for _, tt := range tests {
		var se *SyntaxError
		if err := Scan([]byte(tt.body), &r); !errors.As(err, &se) {
			t.Fatalf("Scan(%q) = %v, want *SyntaxError", tt.body, err)
		}
		if se.Offset != tt.offset {
			t.Errorf("Scan(%q) offset = %d, want %d", tt.body, se.Offset, tt.offset)
		}
	}
}

func TestFieldErrorMessage(t *testing.T) {
	var r Request
	err := Scan([]byte(`{"temperature":"hot"}`), &r)
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want *FieldError", err)
	}
	if got, want := fe.Message(), "Invalid type for 'temperature': expected a number."; got != want {
		t.Errorf("Message() = %q, want %q", got, want)
	}
	if strings.Contains(err.Error(), "hot") {
		t.Errorf("error %q leaks the request value", err)
	}
}

// TestScanReuse guards the scratch buffer: a Request scanned again must not keep stale fields, and a
// model unescaped into scratch must be overwritten, not appended to.
func TestScanReuse(t *testing.T) {
	var r Request
	if err := Scan([]byte(`{"model":"a\u0062c","stream":true,"n":3,"messages":[1]}`), &r); err != nil {
		t.Fatal(err)
	}
	if err := Scan([]byte(`{"model":"x\u0079"}`), &r); err != nil {
		t.Fatal(err)
	}
	if got, want := render(&r), `model="xy"@9:18`; got != want {
		t.Errorf("after reuse: %s, want %s", got, want)
	}
	r.Reset()
	if got := render(&r); got != "" || r.End != -1 {
		t.Errorf("after Reset: %q End=%d", got, r.End)
	}
}

func TestScanChatFixture(t *testing.T) {
	body, err := os.ReadFile("testdata/chat_2k.json")
	if err != nil {
		t.Fatal(err)
	}
	var r Request
	if err := Scan(body, &r); err != nil {
		t.Fatal(err)
	}
	want := `model="gpt-5.5"@13:22 messages=6 stream stream_options(true,usage=true)@2129:2152 temperature=0.2 top_p=1 seed=42 max_tokens=512`
	if got := render(&r); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	checkAgainstReference(t, body, &r, nil)
}

// FuzzScan checks that Scan never panics and agrees with encoding/json on validity, on the error
// reported, and on every extracted field and offset.
func FuzzScan(f *testing.F) {
	seeds := []string{
		`{"model":"gpt-5","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"m\u00e9\ud83d\ude00","temperature":0.5,"top_p":1e-3,"seed":-1,"n":2,"max_completion_tokens":10}`,
		`{"model":"a","model":null,"input":["x"],"prompt":null,"max_output_tokens":5}`,
		`{"messages":[[[[{"model":1}]]]],"model":"\"\\\/\b\f\n\r\t"}`,
		`{"seed":1.0}`, `{"n":1e400}`, `{"stream":"x"}`, `{"stream_options":{"include_usage":1}}`,
		`[1,2]`, `"s"`, `{"a":}`, `{"model":"\ud800\u0041"}`, "{\"model\":\"\xed\xa0\x80\"}",
		` { } `, `{"a":[` + strings.Repeat("{\"b\":[", 70) + strings.Repeat("]}", 70) + `]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	if body, err := os.ReadFile("testdata/chat_2k.json"); err == nil {
		f.Add(body)
	}
	var r Request
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		err := Scan(body, &r)
		if !bytes.Equal(body, orig) {
			t.Fatal("Scan modified the body")
		}
		checkAgainstReference(t, body, &r, err)
	})
}

// checkAgainstReference compares a Scan result with refScan.
func checkAgainstReference(t *testing.T, body []byte, r *Request, err error) {
	t.Helper()
	want, wantErr := refScan(body)
	if got := errKind(err); got != wantErr {
		t.Fatalf("Scan(%q) error = %q (%v), reference says %q", body, got, err, wantErr)
	}
	if err != nil {
		return
	}
	if got, w := render(r), render(want); got != w {
		t.Fatalf("Scan(%q):\n got  %s\n want %s", body, got, w)
	}
	if r.End != want.End {
		t.Fatalf("Scan(%q) End = %d, want %d", body, r.End, want.End)
	}
}

// refScan is the reference implementation built on encoding/json: json.Valid for validity, a
// json.Decoder walking the top-level members (keeping duplicates, in order, with offsets), and
// json.Unmarshal for each known field's value. It returns the expected Request and errKind.
func refScan(body []byte) (*Request, string) {
	if !json.Valid(body) || refDepth(body) > MaxDepth || !refStrict(body) {
		return nil, "syntax"
	}
	if bytes.TrimLeft(body, " \t\r\n")[0] != '{' {
		return nil, "not-object"
	}
	r := new(Request)
	r.Reset()
	typeErr := ""
	fail := func(param string) {
		if typeErr == "" {
			typeErr = "type:" + param
		}
	}
	end := refMembers(body, func(key string, raw json.RawMessage, start, end int) {
		isNull := string(raw) == "null"
		intField := func(dst *int64, has *bool) {
			var v int64
			if isNull {
				*dst, *has = 0, false
			} else if json.Unmarshal(raw, &v) != nil {
				fail(key)
			} else {
				*dst, *has = v, true
			}
		}
		floatField := func(dst *float64, has *bool) {
			var v float64
			if isNull {
				*dst, *has = 0, false
			} else if json.Unmarshal(raw, &v) != nil {
				fail(key)
			} else {
				*dst, *has = v, true
			}
		}
		switch key {
		case "model":
			var s string
			switch {
			case isNull:
				r.Model, r.ModelStart, r.ModelEnd = nil, -1, -1
			case raw[0] != '"' || json.Unmarshal(raw, &s) != nil:
				fail(key)
			default:
				r.Model, r.ModelStart, r.ModelEnd = []byte(s), start, end
			}
		case "messages":
			var a []json.RawMessage
			switch {
			case isNull:
				r.Messages = -1
			case raw[0] != '[' || json.Unmarshal(raw, &a) != nil:
				fail(key)
			default:
				r.Messages = len(a)
			}
		case "stream":
			var v bool
			if !isNull && json.Unmarshal(raw, &v) != nil {
				fail(key)
			}
			r.Stream = v
		case "stream_options":
			switch {
			case isNull:
				r.HasStreamOptions, r.IncludeUsage, r.StreamOptionsStart, r.StreamOptionsEnd = false, false, -1, -1
			case raw[0] != '{':
				fail(key)
			default:
				r.HasStreamOptions, r.IncludeUsage, r.StreamOptionsStart, r.StreamOptionsEnd = true, false, start, end
				refMembers(raw, func(k string, v json.RawMessage, _, _ int) {
					if k != "include_usage" {
						return
					}
					var u bool
					if string(v) != "null" && json.Unmarshal(v, &u) != nil {
						fail("stream_options.include_usage")
					}
					r.IncludeUsage = u
				})
			}
		case "temperature":
			floatField(&r.Temperature, &r.HasTemperature)
		case "top_p":
			floatField(&r.TopP, &r.HasTopP)
		case "seed":
			intField(&r.Seed, &r.HasSeed)
		case "n":
			var v int64
			intField(&v, &r.HasN)
			r.N = int(v)
		case "max_tokens", "max_completion_tokens", "max_output_tokens":
			var v int64
			intField(&v, &r.HasMaxTokens)
			r.MaxTokens = int(v)
		case "input":
			r.HasInput = !isNull
		case "prompt":
			r.HasPrompt = !isNull
		}
	})
	if typeErr != "" {
		return nil, typeErr
	}
	r.End = end - 1
	return r, ""
}

// refMembers calls fn for each member of the object in data (valid JSON) in order, duplicates
// included, with the value's offsets in data; it returns the offset just past the closing brace.
func refMembers(data []byte, fn func(key string, raw json.RawMessage, start, end int)) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		panic(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			panic(err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			panic(err)
		}
		end := int(dec.InputOffset())
		fn(tok.(string), raw, end-len(raw), end)
	}
	if _, err := dec.Token(); err != nil {
		panic(err)
	}
	return int(dec.InputOffset())
}

// refStrict applies the Lexer's strict rules to valid JSON with encoding/json and plain loops:
// valid UTF-8, no lone surrogate escape, no object repeating a member name.
func refStrict(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		i++
		if data[i] != 'u' {
			continue
		}
		v, _ := strconv.ParseUint(string(data[i+1:i+5]), 16, 32)
		i += 4
		switch {
		case v >= 0xdc00 && v <= 0xdfff:
			return false
		case v >= 0xd800 && v < 0xdc00:
			if i+6 >= len(data) || data[i+1] != '\\' || data[i+2] != 'u' {
				return false
			}
			w, _ := strconv.ParseUint(string(data[i+3:i+7]), 16, 32)
			if w < 0xdc00 || w > 0xdfff {
				return false
			}
			i += 6
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []map[string]bool // one per open container; nil for arrays
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, map[string]bool{})
				expectKey = true
				continue
			case '[':
				stack = append(stack, nil)
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top := len(stack) - 1; top >= 0 && stack[top] != nil && expectKey {
				if stack[top][v] {
					return false
				}
				stack[top][v] = true
				expectKey = false
				continue
			}
		}
		expectKey = len(stack) > 0 && stack[len(stack)-1] != nil
	}
}

// refDepth returns the deepest nesting of objects and arrays in valid JSON.
func refDepth(data []byte) int {
	depth, maxDepth, inStr := 0, 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
			maxDepth = max(maxDepth, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return maxDepth
}

func ExampleScan() {
	body := []byte(`{"model":"gpt-5","messages":[{"role":"user","content":"hi"}],"stream":true,"temperature":0}`)
	var r Request // reuse one per request so Scan does not allocate
	if err := Scan(body, &r); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("model=%s messages=%d stream=%v temperature=%v (set: %v)\n", r.Model, r.Messages, r.Stream, r.Temperature, r.HasTemperature)
	fmt.Printf("rewrite span: %s\n", body[r.ModelStart:r.ModelEnd])

	err := Scan([]byte(`{"model":"gpt-5","n":"2"}`), &r)
	var fe *FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Param, "->", fe.Message())
	}
	// Output:
	// model=gpt-5 messages=1 stream=true temperature=0 (set: true)
	// rewrite span: "gpt-5"
	// n -> Invalid type for 'n': expected an integer.
}

// TestSpecial8 checks the SWAR string fast path against the byte table: a false negative would let
// a quote or control character slip through unvalidated.
func TestSpecial8(t *testing.T) {
	naive := func(b []byte) bool {
		for _, c := range b {
			if strSpecial[c] {
				return true
			}
		}
		return false
	}
	for _, fill := range []byte{'a', 0x7f, 0x80, 0xff, 0x21, '!' + 1} {
		for c := 0; c < 256; c++ {
			for p := 0; p < 8; p++ {
				b := bytes.Repeat([]byte{fill}, 8)
				b[p] = byte(c)
				if got, want := special8(binary.LittleEndian.Uint64(b)), naive(b); got != want {
					t.Fatalf("special8(%x) = %v, want %v", b, got, want)
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 8)
	for range 200000 {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if got, want := special8(binary.LittleEndian.Uint64(b)), naive(b); got != want {
			t.Fatalf("special8(%x) = %v, want %v", b, got, want)
		}
	}
}
