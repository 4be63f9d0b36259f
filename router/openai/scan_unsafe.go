package openai

import "unsafe"

// b2s views b as a string without copying. This is the package's only unsafe conversion. The result
// must not outlive b or be kept while b can change: it is used only to hand a number's bytes to
// strconv, which does not retain its argument on success.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
