package responses

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
)

// eventsByItem groups a stream's event types by output_index (-1 for lifecycle events),
// collapsing runs of the same delta type, and returns the terminal event's response.
func eventsByItem(t *testing.T, frames []byte) (map[int][]string, []byte) {
	t.Helper()
	out := map[int][]string{}
	var terminal []byte
	var c Converter
	for rest := frames; len(rest) > 0; {
		name, data, r, ok := SplitEvent(rest)
		if !ok {
			t.Fatalf("trailing %q", rest)
		}
		rest = r
		var ev struct {
			Index *int `json:"output_index"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		idx := -1
		if ev.Index != nil {
			idx = *ev.Index
		}
		if l := out[idx]; len(l) == 0 || l[len(l)-1] != string(name) || !bytes.HasSuffix(name, []byte(".delta")) {
			out[idx] = append(out[idx], string(name))
		}
		if resp, ok := c.Completed(data); ok {
			terminal = append([]byte(nil), resp...)
		}
	}
	return out, terminal
}

// A stored answer replayed as a stream carries the same items, in the same per-item event
// sequence, and the same final Response, as the stream that produced it.
func TestConverterRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/stream/*.chunks")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			orig := translateStream(t, answerTranslator(t), readFile(t, f))
			want, resp := eventsByItem(t, orig)
			if resp == nil {
				t.Fatal("no terminal event")
			}
			var c Converter
			replay, err := c.Events(nil, resp)
			if err != nil {
				t.Fatal(err)
			}
			got, resp2 := eventsByItem(t, replay)
			if bytes.Contains(resp, []byte(`"status":"failed"`)) {
				// A failed stream's open item is not in its output (and failures are never
				// cached): only the lifecycle events compare.
				got, want = map[int][]string{-1: got[-1]}, map[int][]string{-1: want[-1]}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("replayed events\n got %v\nwant %v", got, want)
			}
			if !bytes.Equal(resp, resp2) {
				t.Fatalf("final response differs:\n%s\n%s", resp, resp2)
			}
		})
	}
	var c Converter
	if _, err := c.Events(nil, []byte(`{"id":"x"}`)); err == nil {
		t.Fatal("an object without output must be refused")
	}
	if _, ok := c.Completed([]byte(`{"type":"response.output_text.delta","delta":"x"}`)); ok {
		t.Fatal("a delta is not terminal")
	}
}

// Every stored JSON answer (the response goldens) replays as a well-formed event stream whose
// sequence numbers count from 0 and whose last event carries the answer itself.
func TestConverterFromJSON(t *testing.T) {
	files, _ := filepath.Glob("testdata/response/*.response.golden")
	for _, f := range files {
		var compact bytes.Buffer
		if err := json.Compact(&compact, readFile(t, f)); err != nil {
			t.Fatal(err)
		}
		var c Converter
		frames, err := c.Events(nil, compact.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		seq, last := 0, []byte(nil)
		for rest := frames; len(rest) > 0; seq++ {
			name, data, r, ok := SplitEvent(rest)
			var ev struct {
				Type string `json:"type"`
				Seq  int    `json:"sequence_number"`
			}
			if !ok || json.Unmarshal(data, &ev) != nil || ev.Type != string(name) || ev.Seq != seq {
				t.Fatalf("%s: event %d %q", f, seq, data)
			}
			rest, last = r, data
		}
		resp, ok := c.Completed(last)
		if !ok || !bytes.Equal(resp, compact.Bytes()) {
			t.Fatalf("%s: terminal %s", f, last)
		}
	}
}
