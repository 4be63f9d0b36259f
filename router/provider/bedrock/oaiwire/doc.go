// Package oaiwire holds the few pieces of OpenAI wire format that the Bedrock
// and Vertex adapters both need: a server-sent-events reader for their
// OpenAI-compatible endpoints, the parsing of OpenAI- and Google-style error
// bodies, and JSON string quoting for hand-built bodies.
//
// It is owned by the bedrock adapter's maintainers and imported by
// router/provider/vertex; it lives beside the adapters rather than in
// router/openai so that the two adapters build without waiting on the core.
// Nothing here keeps state between requests: every Reader belongs to one
// streamed answer and is not safe for concurrent use.
package oaiwire
