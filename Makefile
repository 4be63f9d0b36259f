# Switchyard — the two commands a newcomer needs are `make demo` and `make test`.
GO      ?= go
PKGS    ?= ./...

.PHONY: demo test plugins plugins-check bench build vet fmt clean

## demo: mock clouds + router + example plugins on loopback (127.0.0.1:8080)
demo: plugins
	$(GO) run ./cmd/switchyard demo

## test: every test, including the openai-go and npm-client end-to-end ones
test: plugins
	./scripts/test-deps.sh
	cd sdk/rust && RUSTC=/usr/bin/rustc /usr/bin/cargo test --offline --quiet
	cd sdk/assemblyscript && npm test
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 15m $(PKGS)
	$(GO) test -race -count=1 -timeout 10m ./router/... ./plugins/...

## plugins: build the example plugins (Go with Go; C and WAT use the committed
## .wasm unless clang / wat2wasm are installed)
plugins:
	./examples/plugins/build.sh

## plugins-check: rebuild C and WAT plugins and fail if they differ from the committed ones (CI)
plugins-check:
	./examples/plugins/build.sh --check

## bench: the Go benchmarks of whole request paths and hot functions
bench: plugins
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./bench/ ./router/... ./plugins/...
	@echo "(plugins/native: per-call cost of an out-of-process plugin, beside plugins/conformance's Wasm figures)"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o switchyard ./cmd/switchyard

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -l -w .

clean:
	rm -f switchyard
