module my-router

go 1.26.0

require github.com/switchyard-dev/switchyard v0.0.0

// The Go SDK (sdk/go) from your Switchyard checkout.
replace github.com/switchyard-dev/switchyard => /work/wt-sdks
