// Package sdk carries the single-file guest SDKs, embedded, so that
// `switchyard plugin new` can copy them into a new project: the C header
// (sdk/c/switchyard.h) and the WAT template (sdk/wat/template.wat). The Go,
// Rust and AssemblyScript SDKs are packages a project depends on by path
// (sdk/go, sdk/rust, sdk/assemblyscript); see sdk/README.md.
package sdk

import _ "embed"

// CHeader is sdk/c/switchyard.h.
//
//go:embed c/switchyard.h
var CHeader []byte

// WATTemplate is sdk/wat/template.wat.
//
//go:embed wat/template.wat
var WATTemplate []byte
