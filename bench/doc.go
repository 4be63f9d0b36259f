// Package bench holds Switchyard's whole-path benchmarks and load tools; it
// has no library code. Owned by the bench harness (issue 6).
//
//   - *_test.go: Go benchmarks of whole request paths through the real
//     router.Server, over an in-memory listener (fasthttputil) and over
//     loopback TCP, each next to a baseline measured in the same run (a bare
//     fasthttp handler writing the same bytes, or the mock cloud called
//     directly), so that results read as ratios rather than absolute numbers.
//   - load.sh: a side-by-side wrk run of the mock, nginx, Switchyard (miss,
//     miss with plugins, hit) and cmd/bare; it writes RESULTS.md.
//   - cmd/bare: the ceiling for a cache hit, a fasthttp server that answers
//     every request with fixed bytes.
//
// See README.md for how to run them and how to read the ratios.
package bench
