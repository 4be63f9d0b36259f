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
# Debian's rustc, by full path: a rustup toolchain on PATH has no wasm std.
RUSTC=${RUSTC:-/usr/bin/rustc}
# Why rustc and not cargo here? Cargo hashes the SDK's absolute path into its
# crate metadata, which reorders functions: two checkouts would build
# different bytes. These are the flags of the examples' [profile.release];
# paths are mapped to a fixed name (panic messages embed them). +bulk-memory:
# memcpy becomes one memory.copy instead of a byte loop that pays fuel per byte.
RUSTFLAGS="--edition 2021 --target wasm32-unknown-unknown -C opt-level=3 -C panic=abort -C codegen-units=1
 -C target-feature=+bulk-memory -C metadata=switchyard --remap-path-prefix=$root=/switchyard"
ASC="$root/sdk/assemblyscript/node_modules/.bin/asc"
ASFLAGS="--exportStart _initialize --use abort= --runtime stub -O3 --noAssert"
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

if [ -x "$RUSTC" ] && [ -d /usr/lib/rustlib/wasm32-unknown-unknown ]; then
	# shellcheck disable=SC2086
	"$RUSTC" $RUSTFLAGS --crate-type rlib --crate-name switchyard -o "$tmp/libswitchyard.rlib" "$root/sdk/rust/src/lib.rs"
	for d in "$here"/rust/*/; do
		[ -f "$d/Cargo.toml" ] || continue
		crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$d/Cargo.toml" | head -1 | tr - _)
		# A crate with a build.sh of its own (crates from Debian's registry, say)
		# builds and checks itself the same way.
		if [ -f "$d/build.sh" ]; then
			echo "rust  ${d#$root/} (its build.sh)"
			if [ $check = 1 ]; then sh "$d/build.sh" --check || fail=1; else sh "$d/build.sh"; fi
			continue
		fi
		# Otherwise: crates whose one dependency is the SDK.
		deps=$(sed -n '/^\[dependencies\]/,/^\[/p' "$d/Cargo.toml" | grep -c '=' || true)
		if [ "$deps" != 1 ]; then
			echo "rust  ${d#$root/}: has crate dependencies and no build.sh, not built here" >&2
			continue
		fi
		echo "rust  ${d#$root/}"
		o=$(out "$d/plugin.wasm")
		# shellcheck disable=SC2086
		"$RUSTC" $RUSTFLAGS -C lto -C strip=symbols --crate-type cdylib --crate-name "$crate" \
			--extern switchyard="$tmp/libswitchyard.rlib" -o "$o" "$d/src/lib.rs"
		compare "$o" "$d/plugin.wasm"
	done
else
	missing "rustc with the wasm32 std (apt-get install rustc libstd-rust-dev-wasm32)"
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
