package piitest

import (
	"strings"
)

// filler is entity-free prose used to pad benchmark bodies.
const filler = "Hello, I ordered a pair of running shoes two weeks ago and they still have not arrived. " +
	"The tracking page says the parcel is in transit since last Monday. Can you write a short message " +
	"to the courier asking where the parcel is and when it will be delivered? Please mention that the " +
	"delivery address is correct and that I need the shoes before the race next weekend. "

// ChatBody returns a chat completions body whose user messages hold texts,
// one message each, in the router's usual shape.
func ChatBody(texts []string) []byte {
	msgs := make([]any, 0, len(texts)+1)
	msgs = append(msgs, map[string]any{"role": "system", "content": "You are a helpful assistant for an online shop."})
	for _, t := range texts {
		msgs = append(msgs, map[string]any{"role": "user", "content": t})
	}
	return marshal(map[string]any{"model": "gpt-5.5", "temperature": 0, "messages": msgs})
}

// BigBody returns a chat body of about 1 MiB with n entities of mixed kinds
// (taken in order from samples' labels), one every ~1 KiB of prose.
func BigBody(samples []Sample, n int) (body []byte, entities int) {
	var texts []string
	var ents []Label
	for _, s := range samples {
		ents = append(ents, s.Entities...)
	}
	per := (1<<20)/n - 64
	for i := range n {
		e := ents[i%len(ents)]
		pad := strings.Repeat(filler, per/len(filler)+1)[:per]
		texts = append(texts, pad+" contact "+e.Value+" please.")
	}
	return ChatBody(texts), n
}

// SmallBody returns a chat body of about 2 KB with the given entities in it
// (none for a body that matches nothing).
func SmallBody(entities ...string) []byte {
	text := strings.Repeat(filler, 5)[:1800]
	for i, e := range entities {
		at := (i + 1) * 1800 / (len(entities) + 1)
		for at < len(text) && text[at] != ' ' {
			at++
		}
		text = text[:at] + " " + e + text[at:]
	}
	return ChatBody([]string{text})
}
