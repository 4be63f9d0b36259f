package bedrock

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// golden compares got with the file, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		var buf bytes.Buffer
		if err := json.Indent(&buf, got, "", "  "); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, got)
		}
		buf.WriteByte('\n')
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, compact.Bytes()) {
		t.Fatalf("%s\n got %s\nwant %s", path, got, compact.Bytes())
	}
}

// TestConverseRequestGolden translates each testdata/request/*.openai.json
// and compares with the .converse.json beside it.
func TestConverseRequestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/request/*.openai.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".openai.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var p fastjson.Parser
			got, err := appendConverseRequest(nil, &p, body)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			golden(t, strings.TrimSuffix(in, ".openai.json")+".converse.json", got)
		})
	}
}

var idRe = regexp.MustCompile(`^\{"id":"chatcmpl-[A-Za-z0-9]{24}"`)

// TestConverseResponseGolden translates each testdata/response/*.converse.json
// and compares with the .openai.json beside it (the random id is fixed first).
func TestConverseResponseGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/response/*.converse.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".converse.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var p fastjson.Parser
			got, err := appendConverseResponse([]byte("keep:"), &p, body, "gpt-oss-20b", 1700000000)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := bytes.CutPrefix(got, []byte("keep:"))
			if !ok {
				t.Fatal("dst prefix lost")
			}
			if !idRe.Match(got) {
				t.Fatalf("id: %s", got)
			}
			got = idRe.ReplaceAll(got, []byte(`{"id":"chatcmpl-ID"`))
			golden(t, strings.TrimSuffix(in, ".converse.json")+".openai.json", got)
		})
	}
}

func TestConverseRequestErrors(t *testing.T) {
	for name, body := range map[string]string{
		"not json":        `{`,
		"not object":      `[]`,
		"no messages":     `{"model":"m"}`,
		"unknown role":    `{"messages":[{"role":"wizard","content":"x"}]}`,
		"remote image":    `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`,
		"image type":      `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/tiff;base64,AA=="}}]}]}`,
		"audio part":      `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}`,
		"system image":    `{"messages":[{"role":"system","content":[{"type":"image_url"}]}]}`,
		"bad arguments":   `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"[1]"}}]}]}`,
		"temperature str": `{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}`,
		"stop number":     `{"messages":[{"role":"user","content":"x"}],"stop":5}`,
		"custom tool":     `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom","custom":{"name":"g"}}]}`,
		"choice unknown":  `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}`,
	} {
		var p fastjson.Parser
		if _, err := appendConverseRequest(nil, &p, []byte(body)); !errors.Is(err, ErrTranslate) {
			t.Errorf("%s: err = %v, want ErrTranslate", name, err)
		}
	}
}

// FuzzConverseRequest: any input either fails with ErrTranslate or yields
// valid JSON.
func FuzzConverseRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/request/*.openai.json")
	for _, in := range files {
		b, _ := os.ReadFile(in)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p fastjson.Parser
		out, err := appendConverseRequest(nil, &p, body)
		if err != nil {
			if !errors.Is(err, ErrTranslate) {
				t.Fatalf("error %v is not ErrTranslate", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %q", out, body)
		}
	})
}

// FuzzConverseResponse: any answer either fails or yields valid JSON.
func FuzzConverseResponse(f *testing.F) {
	files, _ := filepath.Glob("testdata/response/*.converse.json")
	for _, in := range files {
		b, _ := os.ReadFile(in)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p fastjson.Parser
		out, err := appendConverseResponse(nil, &p, body, "m", 1)
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %q", out, body)
		}
	})
}
