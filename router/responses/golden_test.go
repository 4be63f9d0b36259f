package responses

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// ids are random: goldens hold them as <prefix>X.
var idPattern = regexp.MustCompile(`\b(resp_|msg_|fc_|ctc_|rs_)[0-9a-f]{48}\b`)

func normalize(b []byte) []byte { return idPattern.ReplaceAll(b, []byte("${1}X")) }

// pretty indents one JSON document, failing the test when it is not valid JSON.
func pretty(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", " "); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	got = normalize(got)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n got: %s", path, got)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every request in testdata/request translates to the chat body in its .chat.golden file.
func TestGoldenRequests(t *testing.T) {
	files, _ := filepath.Glob("testdata/request/*.json")
	if len(files) < 4 {
		t.Fatalf("only %d request cases", len(files))
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".chat.json") {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			var tr Translator
			chat, err := tr.AppendChatRequest(nil, readFile(t, f), Options{Optional: DefaultOptional})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(f, ".json")+".chat.golden", pretty(t, chat))
		})
	}
}

func answerTranslator(t *testing.T) *Translator {
	t.Helper()
	tr := new(Translator)
	if _, err := tr.AppendChatRequest(nil, readFile(t, "testdata/answer_request.json"), Options{Optional: DefaultOptional}); err != nil {
		t.Fatal(err)
	}
	return tr
}

// Every chat.completion in testdata/response translates to the Response object in its golden.
func TestGoldenResponses(t *testing.T) {
	files, _ := filepath.Glob("testdata/response/*.chat.json")
	if len(files) < 4 {
		t.Fatalf("only %d response cases", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			tr := answerTranslator(t)
			resp, err := tr.AppendResponse(nil, readFile(t, f))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(f, ".chat.json")+".response.golden", pretty(t, resp))
		})
	}
}

// translateStream feeds each line of a .chunks file to a Stream and ends it with Done.
func translateStream(t *testing.T, tr *Translator, chunks []byte) []byte {
	t.Helper()
	var s Stream
	s.Reset(tr)
	var out []byte
	sc := bufio.NewScanner(bytes.NewReader(chunks))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var err error
		if out, err = s.Chunk(out, sc.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	out, _ = s.Done(out)
	return out
}

// Every chat stream in testdata/stream translates to the Responses events in its golden; each
// event's data is JSON with its type and a sequence_number counting from 0.
func TestGoldenStreams(t *testing.T) {
	files, _ := filepath.Glob("testdata/stream/*.chunks")
	if len(files) < 4 {
		t.Fatalf("only %d stream cases", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out := translateStream(t, answerTranslator(t), readFile(t, f))
			var pretty bytes.Buffer
			seq := 0
			for rest := out; len(rest) > 0; seq++ {
				name, data, r, ok := SplitEvent(rest)
				if !ok {
					t.Fatalf("trailing bytes %q", rest)
				}
				rest = r
				var ev struct {
					Type string `json:"type"`
					Seq  *int   `json:"sequence_number"`
				}
				if err := json.Unmarshal(data, &ev); err != nil {
					t.Fatalf("event %d: %v\n%s", seq, err, data)
				}
				if ev.Type != string(name) || ev.Seq == nil || *ev.Seq != seq {
					t.Fatalf("event %d: name %q type %q seq %v", seq, name, ev.Type, ev.Seq)
				}
				pretty.WriteString("event: " + string(name) + "\n")
				pretty.Write(data)
				pretty.WriteString("\n\n")
			}
			golden(t, strings.TrimSuffix(f, ".chunks")+".events.golden", pretty.Bytes())
		})
	}
}

func readFileBytes(p string) ([]byte, error) { return os.ReadFile(p) }
