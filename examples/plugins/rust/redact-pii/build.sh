#!/bin/sh
# build.sh builds plugin.wasm from source with Debian's Rust toolchain, offline
# (.cargo/config.toml: crates from /usr/share/cargo/registry, target
# wasm32-unknown-unknown from libstd-rust-dev-wasm32).
#
#   ./build.sh           build and copy to plugin.wasm (committed)
#   ./build.sh --check   build into a temporary target dir and fail if the bytes
#                        differ from the committed plugin.wasm (CI with cargo)
#
# The build is reproducible: the same sources and toolchain give the same bytes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ "${1:-}" = "--check" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	CARGO_TARGET_DIR="$tmp" /usr/bin/cargo build --release --locked --quiet
	if ! cmp -s "$tmp/wasm32-unknown-unknown/release/redact_pii.wasm" plugin.wasm; then
		echo "redact-pii: plugin.wasm differs from its source; run $here/build.sh and commit" >&2
		exit 1
	fi
	exit 0
fi
/usr/bin/cargo build --release --locked --quiet
cp target/wasm32-unknown-unknown/release/redact_pii.wasm plugin.wasm
