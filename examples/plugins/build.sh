#!/bin/sh
# build.sh builds every example plugin and the host's WAT test fixtures.
#
#   examples/plugins/build.sh           Go plugins -> <folder>/plugin.wasm (gitignored);
#                                       C, Rust, AssemblyScript and WAT -> the committed
#                                       <folder>/plugin.wasm and fixture .wasm
#   examples/plugins/build.sh --check   rebuild C, Rust, AssemblyScript and WAT into a temp
#                                       dir and fail if a byte differs from the committed
#                                       modules (CI, with every toolchain installed)
#
# Go is always installed; a machine with only Go uses the committed modules of
# the other languages (docs/RATIONALE.md "Why commit the non-Go example modules?").
# Toolchains: clang lld wasi-libc libclang-rt-dev-wasm32 (C), rustc cargo
# libstd-rust-dev-wasm32 (Rust, Debian's, by full path), wabt (WAT), and npm ci in
# sdk/assemblyscript (the pinned AssemblyScript compiler).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
check=0
[ "${1:-}" = "--check" ] && check=1

CFLAGS="--target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-all -I $root/sdk/c"
# Debian's rustc and cargo, by full path: a rustup toolchain on PATH has no wasm std.
RUSTC=${RUSTC:-/usr/bin/rustc}
CARGO=${CARGO:-/usr/bin/cargo}
# The SDK is a path dependency outside each crate, so cargo hands rustc its
# absolute path, which panic messages embed: map the checkout to a fixed name
# so that every checkout builds the same bytes.
RUSTFLAGS="--remap-path-prefix=$root=/switchyard"
ASC="$root/sdk/assemblyscript/node_modules/.bin/asc"
ASFLAGS="--exportStart _initialize --use abort= -O3 --noAssert"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# out FILE: where to write FILE's build (the temp dir with --check).
out() {
	if [ $check = 1 ]; then
		echo "$tmp/$(echo "$1" | sed 's|/|_|g')"
	else
		echo "$1"
	fi
}

compare() { # built committed
	if [ $check = 1 ] && ! cmp -s "$1" "$2"; then
		echo "build.sh: $2 differs from its source; run examples/plugins/build.sh and commit" >&2
		fail=1
	fi
}

missing() { # what
	echo "build.sh: $1 not found; using the committed modules" >&2
	[ $check = 1 ] && fail=1
	return 0
}

if [ $check = 0 ]; then
	for d in "$here"/go/*/; do
		echo "go    ${d#$root/}"
		(cd "$d" && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .)
	done
fi

if command -v clang >/dev/null 2>&1; then
	for d in "$here"/c/*/; do
		echo "clang ${d#$root/}"
		o=$(out "$d/plugin.wasm")
		# shellcheck disable=SC2086
		clang $CFLAGS -o "$o" "$d/plugin.c"
		compare "$o" "$d/plugin.wasm"
	done
else
	missing clang
fi

if [ -x "$RUSTC" ] && [ -x "$CARGO" ] && [ -d /usr/lib/rustlib/wasm32-unknown-unknown ]; then
	for d in "$here"/rust/*/; do
		[ -f "$d/Cargo.toml" ] || continue
		echo "rust  ${d#$root/}"
		crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$d/Cargo.toml" | head -1 | tr - _)
		(cd "$d" && RUSTC="$RUSTC" RUSTFLAGS="$RUSTFLAGS" "$CARGO" build --quiet --offline --release \
			--target wasm32-unknown-unknown)
		o=$(out "$d/plugin.wasm")
		cp "$d/target/wasm32-unknown-unknown/release/$crate.wasm" "$o"
		compare "$o" "$d/plugin.wasm"
	done
else
	missing "rustc/cargo with the wasm32 std (apt-get install rustc cargo libstd-rust-dev-wasm32)"
fi

if [ -x "$ASC" ]; then
	for d in "$here"/assemblyscript/*/; do
		echo "asc   ${d#$root/}"
		o=$(out "$d/plugin.wasm")
		# shellcheck disable=SC2086
		"$ASC" "$d/assembly/index.ts" $ASFLAGS -o "$o"
		compare "$o" "$d/plugin.wasm"
	done
else
	missing "the AssemblyScript compiler (cd sdk/assemblyscript && npm ci)"
fi

if command -v wat2wasm >/dev/null 2>&1; then
	for w in "$here"/wat/*/plugin.wat "$root"/plugins/wasm/testdata/*.wat; do
		echo "wat   ${w#$root/}"
		o=$(out "${w%.wat}.wasm")
		wat2wasm "$w" -o "$o"
		compare "$o" "${w%.wat}.wasm"
	done
else
	missing wat2wasm
fi

exit $fail
