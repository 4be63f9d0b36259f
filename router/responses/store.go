package responses

// ForceStore appends body to dst with a top-level "store": false turned into "store": true, and
// reports whether it changed anything (when not, dst is returned unchanged and the caller sends
// body as it is). Azure's Responses API refuses store:false; Codex itself sends store:true to
// Azure (codex-rs core/src/client.rs), and so does the Azure adapter for every client — see
// docs/responses.md "Azure and store". body must be valid JSON (the router's scanner checked it).
// Allocation-free when dst has room.
func ForceStore(dst, body []byte) ([]byte, bool) {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return dst, false
	}
	i++
	for {
		i = skipWS(body, i)
		if i >= len(body) || body[i] != '"' {
			return dst, false
		}
		keyStart := i
		i = skipString(body, i)
		key := body[keyStart:i]
		i = skipWS(body, i)
		if i >= len(body) || body[i] != ':' {
			return dst, false
		}
		i = skipWS(body, i+1)
		valStart := i
		i = skipValue(body, i)
		if string(key) == `"store"` && string(body[valStart:i]) == "false" {
			dst = append(dst, body[:valStart]...)
			dst = append(dst, "true"...)
			return append(dst, body[i:]...), true
		}
		i = skipWS(body, i)
		if i >= len(body) || body[i] != ',' {
			return dst, false
		}
		i++
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\t' && b[i] != '\r' {
		i++
	}
	return i
}
