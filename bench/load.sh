#!/usr/bin/env bash
# bench/load.sh — side-by-side load run on loopback with wrk (issue 6).
#
#   bench/load.sh                       # full run, ~4 minutes; writes bench/RESULTS.md
#   DURATION=2s ROUNDS=1 bench/load.sh  # quick look (RESULTS.md is still rewritten)
#
# Every target runs in the same invocation, interleaved A B C … A B C … over
# ROUNDS rounds, and the table reports medians, so that the figures are ratios
# taken under the same machine state rather than absolute numbers:
#   (a) direct   the mock cloud (internal/mockcloud via `switchyard mock`)
#   (b) nginx    nginx as a plain keep-alive reverse proxy to the mock: one proxy hop
#   (c) miss     Switchyard, cache miss (temperature 0.7), no plugins
#   (d) plugins  the same with the C routing plugin and the Go redaction plugin
#   (e) hit      Switchyard, cache hit (temperature 0)
#   (f) bare     bench/cmd/bare replaying the hit's exact bytes: the ceiling for a hit
#   (g) bare+lim the same with Switchyard's default read/write/idle timeouts: the
#                like-for-like ceiling (a production server keeps its limits)
# Concurrency 1 gives latency (p50/p99 and the added p50/p99 over direct);
# concurrency 64 gives throughput. Servers are pinned to the first half of
# the cores and wrk to the rest (2 cores: servers on 0, wrk on 1).
#
# It is a manual tool, not run in CI: it needs wrk, nginx and curl, and
# installs wrk and nginx with apt-get when they are missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
HIGH=${HIGH:-64}          # the throughput concurrency
PORT=${PORT:-18380}       # first of seven consecutive loopback ports
RESULTS=${RESULTS:-$root/bench/RESULTS.md}

p_mock=$PORT p_mock2=$((PORT + 1)) p_nginx=$((PORT + 2)) p_miss=$((PORT + 3)) p_plug=$((PORT + 4)) p_bare=$((PORT + 5)) p_barelim=$((PORT + 6))

# --- tools -------------------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	echo "load.sh: installing ${need[*]} with apt-get" >&2
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get install -y "${need[@]}" >&2
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# --- cores -------------------------------------------------------------------
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
	half=$((ncpu / 2))
	srv_cpus="0-$((half - 1))"
	wrk_cpus="$half-$((ncpu - 1))"
	srv_pin=(taskset -c "$srv_cpus")
	wrk_pin=(taskset -c "$wrk_cpus")
	wrk_threads=$((ncpu - half))
	pinning="servers on cores $srv_cpus, wrk on cores $wrk_cpus"
else
	half=$ncpu
	srv_pin=()
	wrk_pin=()
	wrk_threads=1
	pinning="not pinned (one core or no taskset)"
fi

# --- scratch and cleanup: every process we start is killed by its own pid ---
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

start() { # name cmd…: start a server in the background, pinned, logging to $tmp/name.log
	local name=$1
	shift
	"${srv_pin[@]}" "$@" >"$tmp/$name.log" 2>&1 &
	pids+=($!)
}

wait_http() { # url [curl args…]: wait (bounded, 15s) until url answers at all
	local url=$1
	shift
	for _ in $(seq 150); do
		if curl -s -o /dev/null --max-time 1 "$@" "$url"; then return 0; fi
		sleep 0.1
	done
	echo "load.sh: $url did not come up; logs in $tmp:" >&2
	tail -n 20 "$tmp"/*.log >&2 || true
	exit 1
}

# --- build -------------------------------------------------------------------
echo "building switchyard, bench/cmd/bare and the example plugins…" >&2
go build -trimpath -o "$tmp/switchyard" ./cmd/switchyard
go build -trimpath -o "$tmp/bare" ./bench/cmd/bare
for d in examples/plugins/go/redact-email; do
	[ -f "$d/plugin.wasm" ] || ./examples/plugins/build.sh >&2
done

# --- configs -----------------------------------------------------------------
upstreams="upstreams:
  - { name: openai-a, provider: openai, base_url: \"http://127.0.0.1:$p_mock\", auth: { api_key: sk-bench },
      models: { gpt-4o-mini: gpt-4o-mini }, price: { input: 0.15, output: 0.60 } }
  - { name: openai-b, provider: openai, base_url: \"http://127.0.0.1:$p_mock2\", auth: { api_key: sk-bench },
      models: { gpt-4o-mini: gpt-4o-mini }, price: { input: 0.30, output: 1.20 } }
cache: { max_bytes: 64MiB, ttl: 1h, policy: deterministic }
log: { level: warn }"
cat >"$tmp/miss.yaml" <<EOF
listen: 127.0.0.1:$p_miss
$upstreams
EOF
cat >"$tmp/plugins.yaml" <<EOF
listen: 127.0.0.1:$p_plug
$upstreams
plugins:
  - { name: lowest-latency, kind: route, wasm: $root/examples/plugins/c/lowest-latency/plugin.wasm }
  - { name: pii, kind: redact, wasm: $root/examples/plugins/go/redact-email/plugin.wasm, config: { entities: [email] } }
EOF
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes $half;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	upstream mock {
		server 127.0.0.1:$p_mock;
		keepalive 128;
	}
	server {
		listen 127.0.0.1:$p_nginx;
		location / {
			proxy_pass http://mock;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;
		}
	}
}
EOF

# Request bodies: the miss carries an e-mail address so that (d)'s redaction
# plugin rewrites and the router restores; every miss target gets the same body.
miss_body='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Write to jane.doe@example.com about the benchmark"}],"temperature":0.7}'
hit_body='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello from the benchmark"}],"temperature":0}'
lua() { # file body: a wrk script that POSTs body and prints one RESULT line
	cat >"$1" <<EOF
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %d %d %.1f %.1f %d\n", summary.requests, summary.duration,
		latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
EOF
}
lua "$tmp/miss.lua" "$miss_body"
lua "$tmp/hit.lua" "$hit_body"

# --- servers -----------------------------------------------------------------
echo "starting mock, nginx, switchyard ×2…" >&2
start mock "$tmp/switchyard" mock --config "$tmp/miss.yaml"
wait_http "http://127.0.0.1:$p_mock/"
start nginx "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf"
start miss "$tmp/switchyard" serve --config "$tmp/miss.yaml"
start plugins "$tmp/switchyard" serve --config "$tmp/plugins.yaml"
for p in $p_nginx $p_miss $p_plug; do wait_http "http://127.0.0.1:$p/"; done

post() { # port body [curl args…]
	local port=$1 body=$2
	shift 2
	curl -s --max-time 5 -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-bench' \
		-d "$body" "$@" "http://127.0.0.1:$port/v1/chat/completions"
}
for p in $p_mock $p_nginx $p_miss $p_plug; do
	if ! post "$p" "$miss_body" | grep -q '"chat.completion"'; then
		echo "load.sh: port $p does not answer a chat completion" >&2
		exit 1
	fi
done
if ! post "$p_plug" "$miss_body" | grep -q 'jane.doe@example.com'; then
	echo "load.sh: the plugin target did not restore the redacted address" >&2
	exit 1
fi

# Fill the cache, wait (bounded) for the hit, and capture its exact bytes for bare.
hit=""
for _ in $(seq 50); do
	post "$p_miss" "$hit_body" -D "$tmp/hit.head" -o "$tmp/hit.body"
	if grep -qi '^x-switchyard-cache: hit' "$tmp/hit.head"; then hit=1; break; fi
	sleep 0.1
done
[ -n "$hit" ] || { echo "load.sh: no cache hit after 50 tries" >&2; cat "$tmp/hit.head" >&2; exit 1; }
start bare "$tmp/bare" -listen "127.0.0.1:$p_bare" -headers "$tmp/hit.head" -body "$tmp/hit.body"
wait_http "http://127.0.0.1:$p_bare/"
start barelim "$tmp/bare" -limits -listen "127.0.0.1:$p_barelim" -headers "$tmp/hit.head" -body "$tmp/hit.body"
wait_http "http://127.0.0.1:$p_barelim/"

# --- the run -----------------------------------------------------------------
targets=(direct nginx miss plugins hit bare barelim)
declare -A port=([direct]=$p_mock [nginx]=$p_nginx [miss]=$p_miss [plugins]=$p_plug [hit]=$p_miss [bare]=$p_bare [barelim]=$p_barelim)
declare -A script=([direct]=miss [nginx]=miss [miss]=miss [plugins]=miss [hit]=hit [bare]=hit [barelim]=hit)
declare -A label=(
	[direct]="(a) mock, direct"
	[nginx]="(b) nginx → mock"
	[miss]="(c) switchyard miss"
	[plugins]="(d) switchyard miss + route + redact"
	[hit]="(e) switchyard hit"
	[bare]="(f) bare fasthttp, hit bytes"
	[barelim]="(g) bare fasthttp + the router's timeouts"
)

raw="$tmp/raw.tsv"
: >"$raw"
for t in "${targets[@]}"; do # warm every path (pools, JIT-free but caches and conns)
	"${wrk_pin[@]}" wrk -t1 -c4 -d1s -s "$tmp/${script[$t]}.lua" "http://127.0.0.1:${port[$t]}/v1/chat/completions" >/dev/null
done
total=$((ROUNDS * 2 * ${#targets[@]}))
n=0
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$ROUNDS"); do
	# Odd rounds run A…F, even rounds F…A, so no target always follows the same one.
	order=("${targets[@]}")
	if [ $((r % 2)) = 0 ]; then
		order=()
		for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[$i]}"); done
	fi
	for c in 1 "$HIGH"; do
		th=$wrk_threads
		[ "$c" -lt "$th" ] && th=$c
		for t in "${order[@]}"; do
			n=$((n + 1))
			printf '\r[%d/%d] round %d, c=%d, %-8s' "$n" "$total" "$r" "$c" "$t" >&2
			line=$("${wrk_pin[@]}" wrk -t"$th" -c"$c" -d"$DURATION" --timeout 5s -s "$tmp/${script[$t]}.lua" \
				"http://127.0.0.1:${port[$t]}/v1/chat/completions" | grep '^RESULT')
			# RESULT requests duration_us p50_us p99_us errors
			read -r _ reqs dur p50 p99 errs <<<"$line"
			if [ "$errs" != 0 ]; then
				echo >&2
				echo "load.sh: $t at c=$c had $errs errors (non-2xx, timeouts or socket errors)" >&2
				exit 1
			fi
			echo "$t $c $r $(awk -v n="$reqs" -v d="$dur" 'BEGIN{printf "%.0f", n / (d / 1e6)}') $p50 $p99" >>"$raw"
		done
	done
done
echo >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- medians and the table ---------------------------------------------------
med() { # target conc column(4=rps 5=p50 6=p99): median over rounds
	awk -v t="$1" -v c="$2" -v k="$3" '$1 == t && $2 == c { print $k }' "$raw" | sort -n |
		awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
declare -A rps p50 p99
for t in "${targets[@]}"; do
	rps[$t]=$(med "$t" "$HIGH" 4)
	p50[$t]=$(med "$t" 1 5)
	p99[$t]=$(med "$t" 1 6)
done
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
paired() { # fmt a b conc column op(/ or -): median over rounds of a op b, each round's pair taken together
	awk -v a="$2" -v b="$3" -v c="$4" -v k="$5" -v op="$6" '
		$2 == c && $1 == a { x[$3] = $k }
		$2 == c && $1 == b { y[$3] = $k }
		END { for (r in x) print (op == "/" ? x[r] / y[r] : x[r] - y[r]) }' "$raw" | sort -g |
		awk -v f="$1" '{ a[NR] = $1 } END { printf f, (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Streaming time to first byte comes from the Go benchmark (wrk cannot time
# the first event): median over 3 runs of the loopback overhead-ns metric.
echo "running BenchmarkStreamTTFB for the streaming figure…" >&2
ttfb=$(go test -run '^$' -bench 'BenchmarkStreamTTFB/loopback' -benchtime 2000x -count 3 ./bench/ |
	awk '/^BenchmarkStreamTTFB\/loopback/ { for (i = 2; i < NF; i++) if ($(i + 1) == "overhead-ns") print $i }' |
	sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
	echo "# Load results (bench/load.sh)"
	echo
	echo "Latest run: $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $ncpu × $cpu, Linux $(uname -r),"
	echo "$(go version | cut -d' ' -f3), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $("$NGINX" -v 2>&1 | cut -d' ' -f3)."
	echo "Loopback only; $pinning. wrk runs of $DURATION, targets interleaved over $ROUNDS rounds, medians shown."
	echo "Load average (1/5/15 min) before the run: $load_before; after: $load_after — other work on the machine shows here."
	echo "Main table: medians over rounds of each figure. Goals table: median over rounds of the per-round"
	echo "ratio or difference (each round's pair was measured minutes apart at most, so pairing cancels drift)."
	echo "Miss requests: temperature 0.7 with an e-mail address in the prompt; hit requests: temperature 0."
	echo
	echo "| target | c=1 p50 µs | c=1 p99 µs | added p50 over (a) | added p99 over (a) | c=$HIGH req/s | × (a) |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for t in "${targets[@]}"; do
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${label[$t]}" "${p50[$t]}" "${p99[$t]}" \
			"$(calc '%+.1f' "${p50[$t]} - ${p50[direct]}")" "$(calc '%+.1f' "${p99[$t]} - ${p99[direct]}")" \
			"${rps[$t]}" "$(calc '%.2f' "${rps[$t]} / ${rps[direct]}")"
	done
	echo
	echo "| goal (issue 6) | measured | target |"
	echo "|---|---:|---:|"
	echo "| cache-hit throughput, (e) / (f) | $(paired '%.2f×' hit bare "$HIGH" 4 /) | ≥ 0.9× |"
	echo "| cache-hit throughput vs a ceiling with the same limits, (e) / (g) | $(paired '%.2f×' hit barelim "$HIGH" 4 /) | (reference) |"
	echo "| added p50 of a miss with route + redact, (d) − (a) | $(paired '%.1f µs' plugins direct 1 5 -) | ≤ 50 µs |"
	echo "| miss throughput vs nginx, (c) / (b) | $(paired '%.2f×' miss nginx "$HIGH" 4 /) | ≥ 1.0× |"
	echo "| miss + plugins throughput vs nginx, (d) / (b) | $(paired '%.2f×' plugins nginx "$HIGH" 4 /) | (≥ 1.0× for (c)) |"
	echo "| added p50 of nginx's hop, (b) − (a), for reference | $(paired '%.1f µs' nginx direct 1 5 -) | |"
	echo "| streaming TTFB overhead (Go benchmark, loopback) | $(calc '%.1f µs' "${ttfb:-0} / 1000") | ≤ 100 µs |"
	echo
	echo "Raw per-round figures (target, concurrency, round, req/s, p50 µs, p99 µs):"
	echo
	echo '```'
	cat "$raw"
	echo '```'
	echo
	echo "Reproduce: \`bench/load.sh\` (DURATION=$DURATION ROUNDS=$ROUNDS HIGH=$HIGH); streaming figure:"
	echo "\`go test -run '^\$' -bench 'BenchmarkStreamTTFB/loopback' -benchtime 2000x -count 3 ./bench/\`."
} >"$tmp/results.md"
cat "$tmp/results.md"
# RESULTS.md also holds the sections other tools write (## Streams from
# bench/streams/run.sh, ## Soak from bench/soak.sh): everything from the first
# "## " heading on is kept as it was; this run replaces only the part above it.
if [ -f "$RESULTS" ]; then
	awk 'found || /^## / { found = 1; print }' "$RESULTS" >"$tmp/kept.md"
	if [ -s "$tmp/kept.md" ]; then
		echo >>"$tmp/results.md"
		cat "$tmp/kept.md" >>"$tmp/results.md"
	fi
fi
cp "$tmp/results.md" "$RESULTS"
echo "wrote $RESULTS" >&2
