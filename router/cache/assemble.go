package cache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Assembler rebuilds a complete answer from a streamed one, chunk by chunk, so
// that a streamed upstream answer can be stored and later served to both
// streamed and non-streamed requests.
//
// Feed it the payload of every SSE data line, in order, including the final
// "[DONE]"; Entry then returns the entry, or an error if the stream was not
// complete. An Assembler is for one stream and one goroutine; it is not on the
// zero-allocation path (it runs once per stored miss). The zero value is ready.
type Assembler struct {
	id, created, model, fingerprint, tier json.RawMessage
	usage                                 json.RawMessage
	choices                               map[int]*asmChoice
	done                                  bool
	err                                   error
}

type asmChoice struct {
	content, refusal       []byte
	hasContent, hasRefusal bool
	tools                  map[int]*asmTool
	finish                 string
}

type asmTool struct {
	id, typ, name string
	args          []byte
}

type streamChunk struct {
	ID                json.RawMessage `json:"id"`
	Created           json.RawMessage `json:"created"`
	Model             json.RawMessage `json:"model"`
	SystemFingerprint json.RawMessage `json:"system_fingerprint"`
	ServiceTier       json.RawMessage `json:"service_tier"`
	Choices           []struct {
		Index        int                        `json:"index"`
		Delta        map[string]json.RawMessage `json:"delta"`
		Logprobs     json.RawMessage            `json:"logprobs"`
		FinishReason *string                    `json:"finish_reason"`
	} `json:"choices"`
	Usage json.RawMessage `json:"usage"`
	Error json.RawMessage `json:"error"`
}

type deltaToolCall struct {
	Index    int     `json:"index"`
	ID       *string `json:"id"`
	Type     *string `json:"type"`
	Function struct {
		Name      *string `json:"name"`
		Arguments *string `json:"arguments"`
	} `json:"function"`
}

// Add consumes one data payload (the bytes after "data:", trimmed). The
// payload is not kept. After the first error every later call returns it.
func (a *Assembler) Add(payload []byte) error {
	if a.err != nil {
		return a.err
	}
	a.err = a.add(bytes.TrimSpace(payload))
	return a.err
}

func (a *Assembler) add(p []byte) error {
	if a.done {
		return fmt.Errorf("%w: data after [DONE]", ErrInvalidJSON)
	}
	if bytes.HasPrefix(p, []byte("[DONE]")) {
		a.done = true
		return nil
	}
	var c streamChunk
	if err := json.Unmarshal(p, &c); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	if !isNull(c.Error) {
		return fmt.Errorf("%w: error event", ErrIncomplete)
	}
	// Azure's first chunk has empty id/model and created 0: keep the first
	// meaningful values.
	keep := func(dst *json.RawMessage, v json.RawMessage, empty string) {
		if *dst == nil && !isNull(v) && string(v) != empty {
			*dst = bytes.Clone(v)
		}
	}
	keep(&a.id, c.ID, `""`)
	keep(&a.created, c.Created, `0`)
	keep(&a.model, c.Model, `""`)
	keep(&a.fingerprint, c.SystemFingerprint, `""`)
	keep(&a.tier, c.ServiceTier, `""`)
	if !isNull(c.Usage) {
		a.usage = bytes.Clone(c.Usage)
	}
	for _, ch := range c.Choices {
		if !isNull(ch.Logprobs) {
			return fmt.Errorf("%w: logprobs", ErrUnsupported)
		}
		if a.choices == nil {
			a.choices = map[int]*asmChoice{}
		}
		st := a.choices[ch.Index]
		if st == nil {
			st = &asmChoice{}
			a.choices[ch.Index] = st
		}
		if st.finish != "" {
			return fmt.Errorf("%w: delta after finish_reason", ErrInvalidJSON)
		}
		for name, v := range ch.Delta {
			if isNull(v) {
				continue
			}
			switch name {
			case "role":
			case "content", "refusal":
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					return fmt.Errorf("%w: %s: %v", ErrUnsupported, name, err)
				}
				if name == "content" {
					st.content, st.hasContent = append(st.content, s...), true
				} else {
					st.refusal, st.hasRefusal = append(st.refusal, s...), true
				}
			case "tool_calls":
				var tcs []deltaToolCall
				if err := json.Unmarshal(v, &tcs); err != nil {
					return fmt.Errorf("%w: tool_calls: %v", ErrInvalidJSON, err)
				}
				for _, tc := range tcs {
					if st.tools == nil {
						st.tools = map[int]*asmTool{}
					}
					t := st.tools[tc.Index]
					if t == nil {
						t = &asmTool{}
						st.tools[tc.Index] = t
					}
					if tc.ID != nil {
						t.id += *tc.ID
					}
					if tc.Type != nil {
						t.typ = *tc.Type
					}
					if tc.Function.Name != nil {
						t.name += *tc.Function.Name
					}
					if tc.Function.Arguments != nil {
						t.args = append(t.args, *tc.Function.Arguments...)
					}
				}
			default:
				return fmt.Errorf("%w: delta field %q", ErrUnsupported, name)
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			st.finish = *ch.FinishReason
		}
	}
	return nil
}

// Entry returns the assembled answer. It fails with ErrIncomplete unless the
// stream ended with [DONE], had at least one choice, and every choice got a
// finish_reason: a truncated or interrupted stream is never stored. The JSON
// form carries the stream's id, created, model, system_fingerprint,
// service_tier and usage (usage only when the upstream sent it).
func (a *Assembler) Entry() (*Entry, error) {
	if a.err != nil {
		return nil, a.err
	}
	if !a.done {
		return nil, fmt.Errorf("%w: no [DONE]", ErrIncomplete)
	}
	if len(a.choices) == 0 {
		return nil, fmt.Errorf("%w: no choices", ErrIncomplete)
	}
	b := []byte(`{"id":`)
	b = append(b, orDefault(a.id, `""`)...)
	b = append(b, `,"object":"chat.completion","created":`...)
	b = append(b, orDefault(a.created, `0`)...)
	b = append(b, `,"model":`...)
	b = append(b, orDefault(a.model, `""`)...)
	b = append(b, `,"choices":[`...)
	for n, idx := range sortedIndexes(a.choices) {
		st := a.choices[idx]
		if st.finish == "" {
			return nil, fmt.Errorf("%w: choice %d has no finish_reason", ErrIncomplete, idx)
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(idx), 10)
		b = append(b, `,"message":{"role":"assistant","content":`...)
		if st.hasContent || len(st.tools) == 0 {
			b = appendJSONString(b, string(st.content))
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"refusal":`...)
		if st.hasRefusal {
			b = appendJSONString(b, string(st.refusal))
		} else {
			b = append(b, "null"...)
		}
		if len(st.tools) > 0 {
			b = append(b, `,"tool_calls":[`...)
			for m, ti := range sortedIndexes(st.tools) {
				t := st.tools[ti]
				if t.typ == "" {
					t.typ = "function"
				}
				if m > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"id":`...)
				b = appendJSONString(b, t.id)
				b = append(b, `,"type":`...)
				b = appendJSONString(b, t.typ)
				b = append(b, `,"function":{"name":`...)
				b = appendJSONString(b, t.name)
				b = append(b, `,"arguments":`...)
				b = appendJSONString(b, string(t.args))
				b = append(b, "}}"...)
			}
			b = append(b, ']')
		}
		b = append(b, `},"logprobs":null,"finish_reason":`...)
		b = appendJSONString(b, st.finish)
		b = append(b, '}')
	}
	b = append(b, ']')
	if a.usage != nil {
		b = append(b, `,"usage":`...)
		b = append(b, a.usage...)
	}
	if a.fingerprint != nil {
		b = append(b, `,"system_fingerprint":`...)
		b = append(b, a.fingerprint...)
	}
	if a.tier != nil {
		b = append(b, `,"service_tier":`...)
		b = append(b, a.tier...)
	}
	b = append(b, '}')
	return NewEntryFromJSON(b)
}
