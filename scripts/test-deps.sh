#!/bin/sh
# test-deps.sh installs what `make test` needs beyond Go, when it is missing:
#   - node and npm: the npm `openai` client test and the Codex CLI test (their
#     packages are installed by the tests from their lock files), AssemblyScript;
#   - the plugin toolchains, for the `plugin new -> build -> test` test of all
#     five languages (cmd/switchyard): clang lld wasi-libc libclang-rt-dev-wasm32
#     (C), rustc cargo libstd-rust-dev-wasm32 (Rust, Debian's, used by full path),
#     wabt (WAT);
#   - chromium (the admin dashboard test) and prometheus (promtool, the metrics
#     format check);
#   - the pinned AssemblyScript compiler: npm ci in sdk/assemblyscript.
# The example plugins' modules are committed, so the conformance tests and
# `make demo` need none of this (docs/RATIONALE.md "Why commit the non-Go
# example modules?"). Runs apt-get as root or through sudo.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
need=""
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || need="$need nodejs npm"
command -v clang >/dev/null 2>&1 && command -v wasm-ld >/dev/null 2>&1 || need="$need clang lld"
[ -d /usr/include/wasm32-wasi ] || need="$need wasi-libc libclang-rt-dev-wasm32"
command -v wat2wasm >/dev/null 2>&1 || need="$need wabt"
[ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] || need="$need rustc cargo"
[ -d /usr/lib/rustlib/wasm32-unknown-unknown ] || need="$need libstd-rust-dev-wasm32"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v promtool >/dev/null 2>&1 || need="$need prometheus"
if [ -n "$need" ]; then
	echo "test-deps: installing$need with apt-get" >&2
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if [ ! -x "$root/sdk/assemblyscript/node_modules/.bin/asc" ]; then
	echo "test-deps: npm ci in sdk/assemblyscript (the pinned AssemblyScript compiler)" >&2
	(cd "$root/sdk/assemblyscript" && npm ci --no-audit --no-fund >/dev/null)
fi
