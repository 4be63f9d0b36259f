#!/bin/sh
# build.sh builds every example plugin and the host's WAT test fixtures.
#
#   examples/plugins/build.sh           Go plugins -> <folder>/plugin.wasm (gitignored);
#                                       C and WAT  -> committed plugin.wasm / fixture .wasm
#   examples/plugins/build.sh --check   rebuild C and WAT into a temp dir and fail if the
#                                       bytes differ from the committed ones (CI, with clang
#                                       and wabt installed)
#
# Go is always installed; a machine with only Go uses the committed C and WAT modules.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
check=0
[ "${1:-}" = "--check" ] && check=1

CFLAGS="--target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-all -I $root/sdk/c"
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
	echo "build.sh: clang not found; using the committed C plugins" >&2
	[ $check = 1 ] && fail=1
fi

if command -v wat2wasm >/dev/null 2>&1; then
	for w in "$here"/wat/*/plugin.wat "$root"/plugins/wasm/testdata/*.wat; do
		echo "wat   ${w#$root/}"
		o=$(out "${w%.wat}.wasm")
		wat2wasm "$w" -o "$o"
		compare "$o" "${w%.wat}.wasm"
	done
else
	echo "build.sh: wat2wasm not found; using the committed WAT modules" >&2
	[ $check = 1 ] && fail=1
fi

exit $fail
