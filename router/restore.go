package router

import (
	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/router/openai"
)

// Streamed answers carry the model's text in JSON strings spread over many
// chunks, and a placeholder such as <EMAIL_1> can be split across two of
// them. Each text being streamed — a choice's content (chat) or text
// (completions), each tool call's arguments, each Responses output part or
// function call — gets its own plugins.StreamRestorer, which holds back a
// possible partial placeholder until that same text continues, so bytes held
// back from one choice or call never leak into another (issue 15).
//
// Why splice strings rather than decode chunks? Splicing keeps every other
// byte as the cloud sent it and costs no allocation once buffers have grown.

// Text kinds, part of a slot's identity.
const (
	slotContent = iota // choices[i].delta.content, choices[i].text, Responses text deltas
	slotArgs           // choices[i].delta.tool_calls[j].function.arguments, Responses argument deltas
)

// slot is one streamed text and its restorer.
type slot struct {
	kind, a, b int // kind, choice (or output_index), tool call (or content_index)
	r          plugins.StreamRestorer
}

// edit is one change to the current chunk: restore the string whose raw
// contents are data[start:end], or (insert) put a choice's held-back content
// at start.
type edit struct {
	start, end int
	kind, a, b int
	insert     bool
	comma      bool // insert: the delta object has other members
}

// choiceMark is what the walk learnt about one choice of the current chunk.
type choiceMark struct {
	index    int
	delta    int // offset just after its delta object's '{', or -1
	empty    bool
	finished bool
}

// chunkRestorer restores one stream's chunks. Owned by one exchange; reused
// across requests without allocating once its slices have grown.
type chunkRestorer struct {
	v       *plugins.Vault
	slots   []slot
	edits   []edit
	choices []choiceMark
	lex     openai.Lexer
}

func (c *chunkRestorer) reset(v *plugins.Vault) {
	c.v = v
	c.slots = c.slots[:0]
}

func (c *chunkRestorer) slot(kind, a, b int) *slot {
	for i := range c.slots {
		if s := &c.slots[i]; s.kind == kind && s.a == a && s.b == b {
			return s
		}
	}
	if len(c.slots) < cap(c.slots) {
		c.slots = c.slots[:len(c.slots)+1]
	} else {
		c.slots = append(c.slots, slot{})
	}
	s := &c.slots[len(c.slots)-1]
	s.kind, s.a, s.b = kind, a, b
	s.r.Reset(c.v)
	return s
}

// restoreChunk returns data (one event's JSON payload) with placeholders
// restored, using x.restored as the buffer.
func restoreChunk(x *exchange, data []byte) []byte {
	c := &x.chunks
	c.edits, c.choices = c.edits[:0], c.choices[:0]
	c.lex.Reset(data)
	if !c.walk() {
		// Not a payload we understand: restore complete placeholders only.
		x.restored = x.vault.Restore(x.restored[:0], data)
		return x.restored
	}
	c.addInserts()
	out := x.restored[:0]
	last := 0
	for _, e := range c.edits {
		out = append(out, data[last:e.start]...)
		last = e.start
		if e.insert {
			s := c.pendingSlot(slotContent, e.a)
			out = append(out, `"content":"`...)
			out = s.r.Flush(out)
			out = append(out, '"')
			if e.comma {
				out = append(out, ',')
			}
			continue
		}
		s := c.slot(e.kind, e.a, e.b)
		out = s.r.Restore(out, data[e.start:e.end])
		if c.finished(e.a) {
			out = s.r.Flush(out) // nothing more can complete a placeholder
		}
		last = e.end
	}
	x.restored = append(out, data[last:]...)
	return x.restored
}

// addInserts adds, for each finished choice whose held-back content has no
// string in this chunk, an insert at the start of its delta object; edits
// stay in offset order.
func (c *chunkRestorer) addInserts() {
	for _, m := range c.choices {
		if !m.finished || m.delta < 0 || c.pendingSlot(slotContent, m.index) == nil || c.hasEdit(slotContent, m.index) {
			continue
		}
		e := edit{start: m.delta, end: m.delta, a: m.index, insert: true, comma: !m.empty}
		i := len(c.edits)
		for i > 0 && c.edits[i-1].start > e.start {
			i--
		}
		c.edits = append(c.edits, edit{})
		copy(c.edits[i+1:], c.edits[i:])
		c.edits[i] = e
	}
}

func (c *chunkRestorer) finished(choice int) bool {
	for _, m := range c.choices {
		if m.index == choice {
			return m.finished
		}
	}
	return false
}

func (c *chunkRestorer) hasEdit(kind, a int) bool {
	for _, e := range c.edits {
		if !e.insert && e.kind == kind && e.a == a {
			return true
		}
	}
	return false
}

func (c *chunkRestorer) pendingSlot(kind, a int) *slot {
	for i := range c.slots {
		if s := &c.slots[i]; s.kind == kind && s.a == a && s.r.Pending() {
			return s
		}
	}
	return nil
}

// walk reads the payload's structure and records the strings to restore. It
// understands chat and completion chunks (choices[]) and Responses events
// (top-level delta with output_index and content_index); it returns false for
// anything else, or for a payload that is not one JSON object.
func (c *chunkRestorer) walk() bool {
	l := &c.lex
	b := l.B
	i := l.WS(0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	known := false
	delta, output, content := -1, -1, 0
	var deltaStart, deltaEnd int
	args := false
	end := c.members(i, func(key []byte, v int) int {
		switch string(key) {
		case "choices":
			known = true
			return c.choicesArray(v)
		case "delta":
			if b[v] == '"' {
				e, _ := l.String(v)
				delta, deltaStart, deltaEnd = 1, v+1, e-1
				return e
			}
		case "type":
			if b[v] == '"' {
				e, _ := l.String(v)
				if string(b[v+1:e-1]) == "response.function_call_arguments.delta" {
					args = true
				}
				return e
			}
		case "output_index":
			e, n := c.int(v)
			output = n
			return e
		case "content_index":
			e, n := c.int(v)
			content = n
			return e
		}
		return c.skip(v)
	})
	if end < 0 {
		return false
	}
	if delta > 0 && output >= 0 {
		kind := slotContent
		if args {
			kind = slotArgs
		}
		c.edits = append(c.edits, edit{start: deltaStart, end: deltaEnd, kind: kind, a: output, b: content})
		known = true
	}
	return known
}

// members calls fn for each member of the object at i with the offset of its
// value; fn returns the offset after the value (or -1). members returns the
// offset after the object, or -1.
func (c *chunkRestorer) members(i int, fn func(key []byte, v int) int) int {
	l := &c.lex
	b := l.B
	i = l.WS(i + 1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for i < len(b) {
		if b[i] != '"' {
			return -1
		}
		ke, esc := l.String(i)
		if ke < 0 || esc {
			return -1
		}
		key := b[i+1 : ke-1]
		i = l.WS(ke)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		v := l.WS(i + 1)
		if v >= len(b) {
			return -1
		}
		if i = fn(key, v); i < 0 {
			return -1
		}
		i = l.WS(i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = l.WS(i + 1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
	return -1
}

// elements calls fn for each element of the array at i.
func (c *chunkRestorer) elements(i int, fn func(v int) int) int {
	l := &c.lex
	b := l.B
	if b[i] != '[' {
		return c.skip(i)
	}
	i = l.WS(i + 1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for i < len(b) {
		if i = fn(i); i < 0 {
			return -1
		}
		i = l.WS(i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = l.WS(i + 1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
	return -1
}

func (c *chunkRestorer) choicesArray(i int) int {
	return c.elements(i, func(v int) int {
		if c.lex.B[v] != '{' {
			return c.skip(v)
		}
		m := choiceMark{delta: -1}
		first := len(c.edits)
		e := c.members(v, func(key []byte, w int) int {
			b := c.lex.B
			switch string(key) {
			case "index":
				e, n := c.int(w)
				m.index = n
				return e
			case "text":
				return c.str(w, slotContent, 0)
			case "finish_reason":
				m.finished = b[w] != 'n'
				return c.skip(w)
			case "delta":
				if b[w] != '{' {
					return c.skip(w)
				}
				m.delta = w + 1
				m.empty = c.lex.B[c.lex.WS(w+1)] == '}'
				return c.members(w, func(key []byte, u int) int {
					switch string(key) {
					case "content":
						return c.str(u, slotContent, 0)
					case "tool_calls":
						return c.toolCalls(u)
					}
					return c.skip(u)
				})
			}
			return c.skip(w)
		})
		// The choice's index may come after its strings: fix them up.
		for k := first; k < len(c.edits); k++ {
			c.edits[k].a = m.index
		}
		c.choices = append(c.choices, m)
		return e
	})
}

func (c *chunkRestorer) toolCalls(i int) int {
	return c.elements(i, func(v int) int {
		if c.lex.B[v] != '{' {
			return c.skip(v)
		}
		first := len(c.edits)
		tool := 0
		e := c.members(v, func(key []byte, w int) int {
			switch string(key) {
			case "index":
				e, n := c.int(w)
				tool = n
				return e
			case "function":
				if c.lex.B[w] != '{' {
					return c.skip(w)
				}
				return c.members(w, func(key []byte, u int) int {
					if string(key) == "arguments" {
						return c.str(u, slotArgs, 0)
					}
					return c.skip(u)
				})
			}
			return c.skip(w)
		})
		for k := first; k < len(c.edits); k++ {
			c.edits[k].b = tool
		}
		return e
	})
}

// str records the string value at i as an edit of kind (choice and tool are
// filled in by the enclosing object) and returns the offset after it.
func (c *chunkRestorer) str(i, kind, b int) int {
	if c.lex.B[i] != '"' {
		return c.skip(i)
	}
	e, _ := c.lex.String(i)
	if e < 0 {
		return -1
	}
	c.edits = append(c.edits, edit{start: i + 1, end: e - 1, kind: kind, b: b})
	return e
}

// int reads a small non-negative integer value.
func (c *chunkRestorer) int(i int) (int, int) {
	b := c.lex.B
	n := 0
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 9 {
		n = n*10 + int(b[j]-'0')
		j++
	}
	if j == i {
		return c.skip(i), 0
	}
	return j, n
}

// skip passes over any value.
func (c *chunkRestorer) skip(i int) int {
	l := &c.lex
	b := l.B
	switch c := b[i]; {
	case c == '"':
		e, _ := l.String(i)
		return e
	case c == '{', c == '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, _ := l.String(j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	case c == 't':
		return l.Literal(i, "true")
	case c == 'f':
		return l.Literal(i, "false")
	case c == 'n':
		return l.Literal(i, "null")
	default:
		e, _ := l.Number(i)
		return e
	}
}
