package config

// ByteSize is a size in bytes, written in YAML as a number or with a unit:
// "512", "64KiB", "4MiB", "1GiB", "10MB" (decimal units are powers of 1000).
type ByteSize int64
