#!/usr/bin/env bash
# bench/streams/run.sh — thousands of concurrent SSE streams through nginx
# (proxy_buffering off) and Switchyard, side by side in one run (issue 16).
#
#   bench/streams/run.sh                          # 1,000 and 5,000 streams, ~2 minutes
#   STREAMS="50" EVENTS=20 bench/streams/run.sh   # quick look
#   STREAMS="1000 5000 9000" bench/streams/run.sh # more, where the fd limit allows
#   BASE_BIN=/tmp/switchyard-main bench/streams/run.sh  # also an older build, as "switchyard-base"
#
# For every stream count, three targets read the same streaming upstream
# (bench/streams upstream: EVENTS events, one per INTERVAL, each carrying its
# send time): direct, nginx → upstream, switchyard → upstream. The load
# generator reports streams ok/broken, each event's delay (upstream send →
# client receive) p50/p99/max, the proxy's RSS per stream (peak minus idle,
# /proc/PID/status) and CPU per 1,000 events (/proc/PID/stat utime+stime).
# At STRACE_C streams it also counts the proxies' system calls for STRACE_S
# seconds with strace -c -f (skipped when strace is missing or not allowed),
# in a separate run, divided by the events the clients received meanwhile.
# Loopback only; every process is stopped on exit. The table is printed and
# written to OUT (default: a temp file; paste it into bench/RESULTS.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

STREAMS=${STREAMS:-"1000 5000"}
EVENTS=${EVENTS:-100}
INTERVAL=${INTERVAL:-100ms}
RAMP=${RAMP:-2s}
STRACE_C=${STRACE_C:-1000}
STRACE_S=${STRACE_S:-3}
UP_PORT=${UP_PORT:-18301}
NGINX_PORT=${NGINX_PORT:-18302}
SY_PORT=${SY_PORT:-18303}

# Every stream costs the proxy two descriptors (client and upstream side):
# raise the limit to FD_LIMIT (default: the largest count asked for, ×2, plus
# room), which needs privileges past the hard limit; else to the hard limit.
want=${FD_LIMIT:-$(( $(printf '%s\n' $STREAMS | sort -n | tail -1) * 2 + 1024 ))}
if [ "$want" -gt "$(ulimit -Hn)" ]; then
	ulimit -Hn "$want" 2>/dev/null || echo "fd limit: cannot raise the hard limit to $want (not permitted); using $(ulimit -Hn)"
fi
if [ "$want" -gt "$(ulimit -Hn)" ]; then want=$(ulimit -Hn); fi
ulimit -n "$want"
echo "fd limit: $(ulimit -n)"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d /tmp/bench-streams.XXXXXX)
OUT=${OUT:-$tmp/table.md}
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

go build -o "$tmp/streams" ./bench/streams
go build -o "$tmp/switchyard" ./cmd/switchyard

"$tmp/streams" upstream -addr "127.0.0.1:$UP_PORT" -events "$EVENTS" -interval "$INTERVAL" &
pids+=($!)

mkdir -p "$tmp/nginx/logs"
cat >"$tmp/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_rlimit_nofile $(ulimit -n);
error_log $tmp/nginx/logs/error.log warn;
pid $tmp/nginx/nginx.pid;
events { worker_connections $(ulimit -n); }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	upstream streams { server 127.0.0.1:$UP_PORT; keepalive 1024; }
	server {
		listen 127.0.0.1:$NGINX_PORT backlog=16384;
		location / {
			proxy_pass http://streams;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;
			proxy_read_timeout 120s;
		}
	}
}
CONF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
nginx_pid=$!
pids+=($nginx_pid)

cat >"$tmp/switchyard.yaml" <<CONF
listen: 127.0.0.1:$SY_PORT
upstreams:
  - name: streams
    provider: openai
    base_url: http://127.0.0.1:$UP_PORT
    auth: { api_key: sk-bench-upstream }
    models: { bench: bench }
CONF
"$tmp/switchyard" serve --config "$tmp/switchyard.yaml" >"$tmp/switchyard.log" 2>&1 &
sy_pid=$!
pids+=($sy_pid)

ports=("$UP_PORT" "$NGINX_PORT" "$SY_PORT")
if [ -n "${BASE_BIN:-}" ]; then
	BASE_PORT=$((SY_PORT + 1))
	"$BASE_BIN" serve --config "$tmp/switchyard.yaml" --listen "127.0.0.1:$BASE_PORT" >"$tmp/base.log" 2>&1 &
	base_pid=$!
	pids+=($base_pid)
	ports+=("$BASE_PORT")
fi
for port in "${ports[@]}"; do
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		[ "$i" = 100 ] && { echo "nothing listens on $port"; cat "$tmp/switchyard.log"; exit 1; }
		sleep 0.1
	done
done

results=$tmp/results.jsonl
: >"$results"
load() { # label port pid streams [load flags]
	"$tmp/streams" load "${@:5}" -label "$1" -url "http://127.0.0.1:$2/v1/chat/completions" -pid "$3" -c "$4" -ramp "$RAMP" \
		-timeout 5m
}

strace_window() { # label pid streams: syscalls per event over STRACE_S seconds
	command -v strace >/dev/null || return 0
	tasks=$(ls "/proc/$2/task" | paste -sd,)
	e0=$(cat "$tmp/progress")
	timeout -s INT "$STRACE_S" strace -c -f -S calls -q -p "$tasks" -o "$tmp/strace.$1" 2>/dev/null || true
	e1=$(cat "$tmp/progress")
	[ -s "$tmp/strace.$1" ] || { echo "strace did not attach to $1"; return 0; }
	# Events relayed in the window = the proxy's writes to clients (one write
	# or writev per relayed event, checked with strace -e write); the clients'
	# own count (ev) is printed beside it because tracing slows the proxy.
	awk -v label="$1" -v c="$3" -v ev="$((e1 - e0))" '
		$NF == "total" { total = $4 }
		$NF == "write" || $NF == "writev" { if ($4 > w) w = $4 }
		$NF == "read" || $NF == "recvfrom" { r = $4; re = ($5 ~ /^[0-9]+$/) ? $5 : 0 }
		$1 ~ /^[0-9.]+$/ && $NF != "total" && n < 4 { top = top sprintf("%s%s(%s)", (n ? ", " : ""), $NF, $4); n++ }
		END { if (w < 1) w = 1
			printf "strace %s\t%d\t%d\t%d\t%.2f\t%.2f\t%s\n", label, c, ev, w, total / w, (r - re) / w, top }' "$tmp/strace.$1" >>"$results"
}

for c in $STREAMS; do
	echo "== $c streams"
	load direct "$UP_PORT" 0 "$c" | tee -a "$results"
	load nginx "$NGINX_PORT" "$nginx_pid" "$c" | tee -a "$results"
	load switchyard "$SY_PORT" "$sy_pid" "$c" | tee -a "$results"
	if [ -n "${BASE_BIN:-}" ]; then load switchyard-base "$BASE_PORT" "$base_pid" "$c" | tee -a "$results"; fi
	if [ "$c" = "$STRACE_C" ]; then
		for t in "nginx $NGINX_PORT $nginx_pid" "switchyard $SY_PORT $sy_pid"; do
			set -- $t
			echo 0 >"$tmp/progress"
			load "$1+strace" "$2" 0 "$c" -progress "$tmp/progress" >/dev/null &
			lp=$!
			sleep "${RAMP%s}"; sleep 1
			strace_window "$1" "$3" "$c"
			wait "$lp" || true
		done
	fi
done

{
	echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),"
	echo "$(uname -sr), $(go version | cut -d' ' -f3), $(nginx -v 2>&1 | cut -d' ' -f3). Streams of $EVENTS events, one per $INTERVAL,"
	echo "opened over $RAMP. Load average (1/5/15 min) before the run: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "RSS per stream: (peak − idle RSS of the proxy) / streams."
	echo
	"$tmp/streams" table <"$results"
} | tee "$OUT"
echo "table written to $OUT"
