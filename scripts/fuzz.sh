#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target in the repository for a short time each,
# one target at a time (go test -fuzz takes one target per run), and stops at
# the first failure: the crashing input is then in the package's
# testdata/fuzz/<Target>/ directory, where `go test` replays it from then on.
#
#   FUZZTIME=3s   how long each target is fuzzed (any -fuzztime value)
#   FUZZPAR=2     fuzzing workers per target (CI has 2 cores)
#   scripts/fuzz.sh [PATTERN]   only targets whose package path or name
#                               contains PATTERN (grep -E)
#
# The targets are found, not listed, so a new Fuzz function is run without
# touching this file. Not part of `make test`; CI runs it after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
par=${FUZZPAR:-2}
filter=${1:-}

# "dir Name" per target, sorted so packages are built once each in a row.
targets=$(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . |
	sed -E 's#^\./##; s#/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\($# \1#; s#^[^/ ]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\($#. \1#' |
	grep -v '^\.mirror\|/node_modules/' | sort -u)
if [ -n "$filter" ]; then
	targets=$(printf '%s\n' "$targets" | grep -E -- "$filter" || true)
fi
if [ -z "$targets" ]; then
	echo "fuzz.sh: no fuzz targets found${filter:+ matching $filter}" >&2
	exit 1
fi

n=$(printf '%s\n' "$targets" | wc -l)
echo "fuzz.sh: $n targets, $fuzztime each"
start=$(date +%s)
i=0
while read -r dir name; do
	i=$((i + 1))
	printf '[%d/%d] %s %s ... ' "$i" "$n" "$dir" "$name"
	t0=$(date +%s)
	corpus="$dir/testdata/fuzz/$name"
	before=$({ ls "$corpus" 2>/dev/null || true; } | wc -l)
	if ! out=$(go test "./$dir" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel "$par" 2>&1); then
		# A crash always leaves its input in testdata/fuzz. Go's fuzzer can also
		# stop with "context deadline exceeded" when the time is up while a
		# worker is busy: no input, nothing found. That is not a failure.
		after=$({ ls "$corpus" 2>/dev/null || true; } | wc -l)
		if [ "$after" = "$before" ] && printf '%s\n' "$out" | grep -q 'context deadline exceeded'; then
			echo "ok, stopped at the deadline without a crash ($(($(date +%s) - t0))s)"
			continue
		fi
		echo "FAIL"
		printf '%s\n' "$out"
		echo "fuzz.sh: $dir $name failed; the input is under $dir/testdata/fuzz/$name/" >&2
		exit 1
	fi
	echo "ok ($(($(date +%s) - t0))s)"
done <<<"$targets"
echo "fuzz.sh: all $n targets passed in $(($(date +%s) - start))s"
