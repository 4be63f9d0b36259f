#!/usr/bin/env bash
# bench/soak.sh — a soak run (issue 11 item 9): DURATION (60s) at CONC (64)
# connections against `switchyard serve` with the example plugins (the C
# lowest-latency router and an e-mail redactor) and two loopback mock clouds
# (`switchyard mock --config`), mixing JSON and streamed requests, cache hits
# (temperature 0) and misses (temperature 0.7, with an address to redact).
# While the load runs:
#   - every RELOAD (5s) a value in the config file is rewritten (an upstream's
#     price) and the server gets SIGHUP;
#   - every SWAP (10s) the redactor's module file is replaced atomically (mv of
#     a copy) by another valid build of the same plugin (C and Rust alternate),
#     which the router's plugin watch picks up.
# It prints the non-2xx count (wrk's status errors plus socket errors), p50
# and p99, the requests served, the reloads and swaps done, and the server's
# RSS (VmRSS from /proc, sampled every second): its mean over the last two
# swap periods of a WARMUP (40s) that runs the same load, reloads and swaps,
# against its mean over the last two swap periods of the run. Why not two
# single readings? RSS swings by ±15% within a swap cycle (the Go heap cycles
# between collections, and the Rust and C builds of the redactor differ in
# size), so a reading at one instant says more about the phase than about
# growth; a window of one cycle of each build compares like with like.
# Exit status 1 when there was any non-2xx answer or a reload was refused.
# With PROFILE=DIR the server also serves pprof, and DIR receives, at start
# and at end, a heap profile with its MemStats (heap-*.txt), the goroutine
# count, and the process's memory map summary (smaps-*.txt), to tell heap,
# stacks and mmap'd memory (wazero's compiled code) apart.
#
#   bench/soak.sh                    # the full run
#   DURATION=15s bench/soak.sh       # a short look
#
# A manual tool like bench/load.sh: not in `make test`; needs wrk and curl.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

DURATION=${DURATION:-60s}
WARMUP=${WARMUP:-40s}
CONC=${CONC:-64}
RELOAD=${RELOAD:-5}
SWAP=${SWAP:-10}
PORT=${PORT:-18480} # mock, mock2, switchyard
p_mock=$PORT p_mock2=$((PORT + 1)) p_sy=$((PORT + 2)) p_pprof=$((PORT + 3))
PROFILE=${PROFILE:-}

for tool in wrk curl; do
	command -v "$tool" >/dev/null || { echo "soak.sh: needs $tool (apt-get install $tool)" >&2; exit 1; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

echo "building switchyard…" >&2
go build -trimpath -o "$tmp/switchyard" ./cmd/switchyard
redact_a=$root/examples/plugins/c/redact-email/plugin.wasm
redact_b=$root/examples/plugins/rust/redact-email/plugin.wasm
route=$root/examples/plugins/c/lowest-latency/plugin.wasm
for f in "$redact_a" "$redact_b" "$route"; do
	[ -f "$f" ] || { echo "soak.sh: $f is missing (examples/plugins/build.sh)" >&2; exit 1; }
done
cp "$redact_a" "$tmp/redact.wasm"

write_config() { # price of openai-b: the value each reload rewrites
	cat >"$tmp/soak.yaml.new" <<EOC
listen: 127.0.0.1:$p_sy
upstreams:
  - { name: openai-a, provider: openai, base_url: "http://127.0.0.1:$p_mock", auth: { api_key: sk-soak },
      models: { gpt-4o-mini: gpt-4o-mini }, price: { input: 0.15, output: 0.60 } }
  - { name: openai-b, provider: openai, base_url: "http://127.0.0.1:$p_mock2", auth: { api_key: sk-soak },
      models: { gpt-4o-mini: gpt-4o-mini }, price: { input: $1, output: 1.20 } }
cache: { max_bytes: 64MiB, ttl: 1h, policy: deterministic }
plugins:
  - { name: lowest-latency, kind: route, wasm: $route }
  - { name: pii, kind: redact, wasm: $tmp/redact.wasm, config: { entities: [email] } }
log: { level: warn }
EOC
	if [ -n "$PROFILE" ]; then echo "pprof: 127.0.0.1:$p_pprof" >>"$tmp/soak.yaml.new"; fi
	mv "$tmp/soak.yaml.new" "$tmp/soak.yaml"
}
write_config 0.30
# The mocks listen on the two upstreams' ports.
cat >"$tmp/mock.yaml" <<EOC
listen: 127.0.0.1:$((PORT + 9))
upstreams:
  - { name: openai-a, provider: openai, base_url: "http://127.0.0.1:$p_mock", auth: { api_key: sk-soak }, models: { gpt-4o-mini: gpt-4o-mini } }
  - { name: openai-b, provider: openai, base_url: "http://127.0.0.1:$p_mock2", auth: { api_key: sk-soak }, models: { gpt-4o-mini: gpt-4o-mini } }
EOC

wait_http() { # url: bounded wait (15s) until it answers at all
	for _ in $(seq 150); do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.1
	done
	echo "soak.sh: $1 did not come up" >&2
	tail -n 20 "$tmp"/*.log >&2 || true
	exit 1
}
"$tmp/switchyard" mock --config "$tmp/mock.yaml" >"$tmp/mock.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$p_mock/"
wait_http "http://127.0.0.1:$p_mock2/"
"$tmp/switchyard" serve --config "$tmp/soak.yaml" >"$tmp/serve.log" 2>&1 &
sy=$!
pids+=($sy)
wait_http "http://127.0.0.1:$p_sy/"

# Four bodies in rotation: JSON hit, JSON miss, stream hit, stream miss.
cat >"$tmp/soak.lua" <<'EOL'
local bodies = {
	'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello from the soak"}],"temperature":0}',
	'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Write to jane.doe@example.com about the soak"}],"temperature":0.7}',
	'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Stream hello from the soak"}],"temperature":0,"stream":true}',
	'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Stream to jane.doe@example.com"}],"temperature":0.7,"stream":true}',
}
local n = 0
request = function()
	n = n + 1
	return wrk.format("POST", "/v1/chat/completions",
		{ ["Content-Type"] = "application/json", ["Authorization"] = "Bearer sk-soak" }, bodies[n % 4 + 1])
end
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %d %d %.1f %.1f %d %d\n", summary.requests, summary.duration,
		latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
EOL

# Every body must answer 200 before the run, and the redactor must restore.
for b in '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Write to jane.doe@example.com"}],"temperature":0.7}'; do
	out=$(curl -s --max-time 5 -H 'Content-Type: application/json' -d "$b" "http://127.0.0.1:$p_sy/v1/chat/completions")
	grep -q 'jane.doe@example.com' <<<"$out" || { echo "soak.sh: no restored answer: $out" >&2; exit 1; }
done

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
secs() { local d=$1; case $d in *s) d=${d%s} ;; esac; echo "$d"; }
snapshot() { # name: profiles and memory map into $PROFILE
	[ -n "$PROFILE" ] || return 0
	mkdir -p "$PROFILE"
	curl -s --max-time 10 "http://127.0.0.1:$p_pprof/debug/pprof/heap?debug=1" >"$PROFILE/heap-$1.txt"
	curl -s --max-time 10 "http://127.0.0.1:$p_pprof/debug/pprof/heap" >"$PROFILE/heap-$1.pb.gz"
	curl -s --max-time 10 "http://127.0.0.1:$p_pprof/debug/pprof/goroutine?debug=1" | head -1 >"$PROFILE/goroutines-$1.txt"
	{ cat "/proc/$sy/smaps_rollup"; echo "mappings: $(wc -l <"/proc/$sy/maps")";
	  echo "executable mappings: $(awk '$2 ~ /x/' "/proc/$sy/maps" | wc -l)"; } >"$PROFILE/smaps-$1.txt"
}

# drive N: for N seconds (or until wrk ends), reload every RELOAD s and swap
# the plugin every SWAP s on one clock t shared by the warm-up and the soak
# (so the C and Rust builds keep alternating), sampling RSS every second
# into samples[].
reloads=0 swaps=0 t=0
drive() {
	local n=$1 i=0
	samples=()
	while [ $i -lt "$n" ] && kill -0 $wrk_pid 2>/dev/null; do
		sleep 1
		i=$((i + 1)) t=$((t + 1))
		if [ $((t % RELOAD)) -eq 0 ] && [ $i -lt "$n" ]; then
			write_config "0.3$((t % 10))"
			kill -HUP $sy
			reloads=$((reloads + 1))
		fi
		if [ $((t % SWAP)) -eq 0 ] && [ $i -lt "$n" ]; then
			if [ $((swaps % 2)) -eq 0 ]; then src=$redact_b; else src=$redact_a; fi
			cp "$src" "$tmp/redact.wasm.new"
			mv "$tmp/redact.wasm.new" "$tmp/redact.wasm"
			swaps=$((swaps + 1))
		fi
		samples+=("$(rss $sy)")
	done
}
# window: "mean min max" of the last 2×SWAP samples, a window that holds one
# reload-and-swap cycle of each plugin build.
window() {
	printf '%s\n' "${samples[@]}" | tail -n $((2 * SWAP)) |
		awk 'NR == 1 || $1 < lo { lo = $1 } $1 > hi { hi = $1 } { sum += $1 } END { printf "%.0f %d %d\n", sum / NR, lo, hi }'
}

# Warm-up: the same load, reloads and swaps. The steady state of the heap is
# reached only once reloads and plugin swaps ran (each builds a generation or
# a plugin beside the serving one, and the Go heap grows to its goal then),
# and each plugin build was live (the Rust one's instances hold 17 pages of
# linear memory, the C one's 2): see bench/RESULTS.md "Soak".
echo "warm-up $WARMUP at c=$CONC with the same reloads and swaps…" >&2
wrk -t2 -c"$CONC" -d"$WARMUP" -s "$tmp/soak.lua" "http://127.0.0.1:$p_sy" >"$tmp/warmup.txt" &
wrk_pid=$!
pids+=($wrk_pid)
drive "$(secs "$WARMUP")"
wait $wrk_pid
read -r rss_start start_lo start_hi < <(window)
rss_start_now=$(rss $sy)
snapshot start

echo "soak $DURATION at c=$CONC, reload every ${RELOAD}s, plugin swap every ${SWAP}s…" >&2
reloads=0 swaps_warm=$swaps
wrk -t2 -c"$CONC" -d"$DURATION" --latency -s "$tmp/soak.lua" "http://127.0.0.1:$p_sy" >"$tmp/soak.txt" &
wrk_pid=$!
pids+=($wrk_pid)
drive "$(secs "$DURATION")"
wait $wrk_pid
read -r rss_end end_lo end_hi < <(window)
rss_end_now=$(rss $sy)
rss_trace=$(printf '%s\n' "${samples[@]}" | awk -v s="$SWAP" 'NR % s == 0 { printf " %s", $1 }')
swaps=$((swaps - swaps_warm))
snapshot end

read -r _ reqs dur_us p50 p99 non2xx sockerr < <(grep '^RESULT' "$tmp/soak.txt")
read -r _ _ _ _ _ warm_non2xx warm_sockerr < <(grep '^RESULT' "$tmp/warmup.txt")
refused=$(grep -ci 'reload.*\(refused\|failed\)\|refus' "$tmp/serve.log" || true)
growth=$(awk -v a="$rss_start" -v b="$rss_end" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
cat <<EOR
soak: $DURATION at c=$CONC, JSON and streams, hits and misses, C lowest-latency router + e-mail redactor
requests      $reqs ($(awk -v r="$reqs" -v d="$dur_us" 'BEGIN { printf "%.0f", r / (d / 1e6) }') req/s)
non-2xx       $non2xx
socket errors $sockerr
p50 / p99     ${p50} us / ${p99} us
reloads       $reloads (SIGHUP after rewriting a price), refused: $refused
plugin swaps  $swaps (C and Rust redact-email alternating)
RSS           mean of the last $((2 * SWAP))s: start ${rss_start} KiB (${start_lo}–${start_hi}, end of the ${WARMUP} warm-up), end ${rss_end} KiB (${end_lo}–${end_hi}), growth ${growth}%
RSS now       start ${rss_start_now} KiB, end ${rss_end_now} KiB
RSS every ${SWAP}s (KiB):${rss_trace}
warm-up       non-2xx $warm_non2xx, socket errors $warm_sockerr
EOR
if [ "$non2xx" != 0 ] || [ "$sockerr" != 0 ] || [ "$refused" != 0 ] || [ "$warm_non2xx" != 0 ] || [ "$warm_sockerr" != 0 ]; then
	echo "soak.sh: FAILED (non-2xx, socket errors or refused reloads); server log tail:" >&2
	tail -n 20 "$tmp/serve.log" >&2
	exit 1
fi
