#!/usr/bin/env bash
# compare.sh: corral against nginx and haproxy (plain reverse proxies) and against no proxy at
# all, in one run on this machine, all in front of the same fake-ollama. A benchmark, not a test.
#
# For each path it measures, with wrk:
#   (a) non-streaming POST /api/generate ("stream":false): requests/s, and the proxy's CPU time
#       per request;
#   (b) streaming POST /api/generate ("stream":true, --tokens tokens per answer, no delay):
#       chunks/s (responses/s x NDJSON lines per response), and the proxy's CPU time per chunk.
#       The fake writes the lines back to back, so a proxy that reads several of them at once
#       may forward them as one HTTP chunk (nginx does): its CPU per line is then flattered;
#   (c) the same stream, paced as real Ollama paces tokens: the fake waits --token-delay-ms
#       between lines (request header X-Fake-Token-Delay-Ms), with --paced-connections streams
#       at once. Each line then reaches the proxy alone and costs it a read and a write: this
#       is the realistic CPU per chunk. A curl through each path, idle and again in the middle of
#       the run, counts the HTTP chunks per response, so the report shows whether lines merged.
# Then, with corral-bench against each path:
#   (d) time to first token: --ttft-streams paced streams for --bench-duration; TTFT p50/p99 and
#       the overhead over the direct path;
#   (e) memory: --memory-streams slow streams at once; each proxy's RSS in the middle of the run
#       and its peak (VmHWM) from /proc/<pid>/status.
# CPU time is utime+stime from /proc/<pid>/stat, taken just before and just after each wrk run
# (nginx: master + worker). The table ends with ratios against nginx; corral's goal is <= 1.5x.
# With --policies FILE a fifth path, corral+policies (the same config plus FILE), is measured too
# and compared with plain corral.
#
# Fairness: nginx runs 1 worker, haproxy 1 thread, corral 1 worker thread; none writes an access
# log; all keep up to 64 idle keep-alive connections to the fake; nginx and haproxy stream
# unbuffered. See bench/nginx.conf.in and bench/haproxy.cfg.in.
#
# usage: bench/compare.sh [--duration S] [--connections N] [--tokens N] [--token-delay-ms D]
#                         [--paced-connections N] [--bench-duration S] [--ttft-streams N]
#                         [--memory-streams N] [--policies FILE [--api-key KEY]] [--out FILE] [--keep]
# Environment: CORRAL_BIN, FAKE_BIN, BENCH_BIN (default: build/corral, build/fake-ollama,
# build/corral-bench), NGINX_BIN, HAPROXY_BIN.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CORRAL_BIN=${CORRAL_BIN:-$ROOT/build/corral}
FAKE_BIN=${FAKE_BIN:-$ROOT/build/fake-ollama}
BENCH_BIN=${BENCH_BIN:-$ROOT/build/corral-bench}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
HAPROXY_BIN=${HAPROXY_BIN:-/usr/sbin/haproxy}
LUA_SCRIPT=$HERE/wrk_generate.lua
NGINX_TEMPLATE=$HERE/nginx.conf.in
HAPROXY_TEMPLATE=$HERE/haproxy.cfg.in

DURATION=10        # seconds per measured wrk run
CONNECTIONS=32     # wrk connections (wrk runs one thread: -t1)
TOKENS=64          # tokens per streamed answer (X-Fake-Tokens)
TOKEN_DELAY_MS=5   # paced run: ms between streamed lines (X-Fake-Token-Delay-Ms)
PACED_CONNECTIONS=256  # paced run: wrk connections, i.e. streams in flight at once
WARMUP=1           # seconds of unmeasured load before each run (opens upstream keep-alives)
FAKE_THREADS=1     # the fake's settings are fixed, and the same for all three paths
FAKE_TOKENS=10     # tokens in a non-streaming answer
BENCH_DURATION=5   # seconds per corral-bench run (TTFT, memory)
TTFT_STREAMS=32    # TTFT run: streams at once, paced like (c)
MEMORY_STREAMS=1000  # memory run: streams at once, each line 50 ms apart
MEMORY_TOKEN_DELAY_MS=50
POLICIES=""        # a YAML file with a top-level policies: block, for the corral+policies path
API_KEY=""         # sent as "Authorization: Bearer KEY" on every path (for an auth policy)
OUT=""
KEEP=0

usage() {
  echo "usage: bench/compare.sh [--duration S] [--connections N] [--tokens N] [--token-delay-ms D]" >&2
  echo "                        [--paced-connections N] [--bench-duration S] [--ttft-streams N]" >&2
  echo "                        [--memory-streams N] [--policies FILE [--api-key KEY]] [--out FILE] [--keep]" >&2
  echo "  --duration S     seconds per measured run (default $DURATION)" >&2
  echo "  --connections N  concurrent wrk connections, unpaced runs (default $CONNECTIONS)" >&2
  echo "  --tokens N       tokens per streamed answer (default $TOKENS)" >&2
  echo "  --token-delay-ms D  paced stream: ms between lines (default $TOKEN_DELAY_MS)" >&2
  echo "  --paced-connections N  paced stream: concurrent wrk connections (default $PACED_CONNECTIONS)" >&2
  echo "  --bench-duration S  seconds per corral-bench run, TTFT and memory (default $BENCH_DURATION)" >&2
  echo "  --ttft-streams N    TTFT run: paced streams at once (default $TTFT_STREAMS)" >&2
  echo "  --memory-streams N  memory run: slow streams at once (default $MEMORY_STREAMS)" >&2
  echo "  --policies FILE  also measure corral with FILE (a top-level policies: block) appended to its config" >&2
  echo "  --api-key KEY    send 'Authorization: Bearer KEY' on every path (bench/policies_full.yaml: bench-key)" >&2
  echo "  --out FILE       also write the markdown report to FILE" >&2
  echo "  --keep           keep the temp dir (configs, logs) after the run" >&2
}

die() { echo "compare.sh: $*" >&2; exit 1; }
info() { echo "# $*" >&2; }

parse_args() {
  while [[ $# -gt 0 ]]; do
    case $1 in
      --duration) DURATION=${2:?}; shift 2 ;;
      --connections) CONNECTIONS=${2:?}; shift 2 ;;
      --tokens) TOKENS=${2:?}; shift 2 ;;
      --token-delay-ms) TOKEN_DELAY_MS=${2:?}; shift 2 ;;
      --paced-connections) PACED_CONNECTIONS=${2:?}; shift 2 ;;
      --bench-duration) BENCH_DURATION=${2:?}; shift 2 ;;
      --ttft-streams) TTFT_STREAMS=${2:?}; shift 2 ;;
      --memory-streams) MEMORY_STREAMS=${2:?}; shift 2 ;;
      --policies) POLICIES=${2:?}; shift 2 ;;
      --api-key) API_KEY=${2:?}; shift 2 ;;
      --out) OUT=${2:?}; shift 2 ;;
      --keep) KEEP=1; shift ;;
      -h|--help) usage; exit 0 ;;
      *) usage; die "unknown option: $1" ;;
    esac
  done
  [[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "--duration wants whole seconds >= 1, got '$DURATION'"
  [[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "--connections wants a number >= 1, got '$CONNECTIONS'"
  [[ $TOKENS =~ ^[1-9][0-9]*$ ]] || die "--tokens wants a number >= 1, got '$TOKENS'"
  [[ $TOKEN_DELAY_MS =~ ^[1-9][0-9]*$ ]] || die "--token-delay-ms wants a number >= 1, got '$TOKEN_DELAY_MS'"
  [[ $PACED_CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "--paced-connections wants a number >= 1, got '$PACED_CONNECTIONS'"
  [[ $BENCH_DURATION =~ ^[1-9][0-9]*$ ]] || die "--bench-duration wants whole seconds >= 1, got '$BENCH_DURATION'"
  [[ $TTFT_STREAMS =~ ^[1-9][0-9]*$ ]] || die "--ttft-streams wants a number >= 1, got '$TTFT_STREAMS'"
  [[ $MEMORY_STREAMS =~ ^[1-9][0-9]*$ ]] || die "--memory-streams wants a number >= 1, got '$MEMORY_STREAMS'"
  if [[ -n $POLICIES ]]; then
    [[ -r $POLICIES ]] || die "--policies: cannot read '$POLICIES'"
    POLICIES=$(cd "$(dirname "$POLICIES")" && pwd)/$(basename "$POLICIES")
  fi
  # wrk's --timeout bounds a whole response; a paced one takes at least TOKENS x TOKEN_DELAY_MS.
  # Four times that plus 10 s leaves room for a loaded machine without hiding a stuck stream.
  PACED_TIMEOUT=$(( (4 * TOKENS * TOKEN_DELAY_MS + 999) / 1000 + 10 ))
}

# The tools are checked first so a missing one costs nothing and says how to get it.
check_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  [[ -x $NGINX_BIN ]] || command -v nginx >/dev/null || missing+=(nginx)
  command -v curl >/dev/null || missing+=(curl)
  [[ -x $HAPROXY_BIN ]] || command -v haproxy >/dev/null || missing+=(haproxy)
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "compare.sh needs: ${missing[*]}" >&2
    echo "install them with: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  [[ -x $NGINX_BIN ]] || NGINX_BIN=$(command -v nginx)
  [[ -x $HAPROXY_BIN ]] || HAPROXY_BIN=$(command -v haproxy)
  [[ -x $CORRAL_BIN ]] || die "no corral binary at $CORRAL_BIN (build: ninja -C build corral)"
  [[ -x $FAKE_BIN ]] || die "no fake-ollama binary at $FAKE_BIN (build: ninja -C build fake-ollama)"
  [[ -x $BENCH_BIN ]] || die "no corral-bench binary at $BENCH_BIN (build: ninja -C build corral-bench)"
  CLK_TCK=$(getconf CLK_TCK)
}

# --- processes ---------------------------------------------------------------------------------

WORK=""
PIDS=()         # every process this script started, killed in reverse order on exit
LATE_PIDS=()    # nginx's worker: killed only after its master is gone (else the master respawns it)
FAILED=1        # cleared at the very end; a failed run keeps its temp dir for the logs

cleanup() {
  local pid i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    # Give it up to 3 s to stop (nginx's master takes its worker down with it), then SIGKILL.
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for pid in "${LATE_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [[ -n $WORK ]]; then
    if [[ $KEEP == 1 || $FAILED == 1 ]]; then info "logs and configs kept in $WORK"
    else rm -rf "$WORK"; fi
  fi
}

# Children of a process (nginx's worker): scan /proc, which needs no extra tool.
children_of() {
  local parent=$1 f stat ppid
  for f in /proc/[0-9]*/stat; do
    { stat=$(<"$f"); } 2>/dev/null || continue
    stat=${stat##*) }                  # drop "pid (comm) ": comm may hold spaces
    read -r _ ppid _ <<<"$stat"
    [[ $ppid == "$parent" ]] && { f=${f#/proc/}; echo "${f%/stat}"; }
  done
  return 0
}

# Sum of utime+stime, in clock ticks, over the given pids (all their threads included).
cpu_ticks() {
  local total=0 pid stat fields   # no pid at all: 0
  for pid in "$@"; do
    stat=$(<"/proc/$pid/stat") || die "process $pid is gone (crashed?)"
    stat=${stat##*) }
    read -r -a fields <<<"$stat"
    # After "pid (comm) ", field 14 (utime) is at index 11 and field 15 (stime) at 12.
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

# A port that nothing listens on now. The fake binds port 0 itself; nginx and corral cannot, so
# they get one of these, and start_* retries with another port if the bind still loses a race.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  die "found no free port"
}

# Waits until URL answers 200, or fails if the process died or 10 s passed.
wait_ready() {
  local name=$1 pid=$2 url=$3 log=$4 code
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 ${API_KEY:+-H "Authorization: Bearer $API_KEY"} "$url" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.1
  done
  tail -n 20 "$log" >&2
  die "$name did not answer 200 on $url within 10 s"
}

start_fake() {
  local log=$WORK/fake.log
  "$FAKE_BIN" --host 127.0.0.1 --port 0 --threads "$FAKE_THREADS" --tokens "$FAKE_TOKENS" \
    --models llama2 >"$log" 2>&1 &
  FAKE_PID=$!
  PIDS+=("$FAKE_PID")
  for _ in $(seq 100); do
    FAKE_PORT=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$log")
    [[ -n $FAKE_PORT ]] && break
    kill -0 "$FAKE_PID" 2>/dev/null || { cat "$log" >&2; die "fake-ollama exited"; }
    sleep 0.1
  done
  [[ -n $FAKE_PORT ]] || die "fake-ollama did not print its port"
  info "fake-ollama pid $FAKE_PID on port $FAKE_PORT (--threads $FAKE_THREADS)"
}

start_nginx() {
  local dir=$WORK/nginx user_line="" attempt
  mkdir -p "$dir"
  # As root, nginx would otherwise run its worker as "nobody", which cannot use the temp dir.
  [[ $(id -u) == 0 ]] && user_line="user root;"
  for attempt in 1 2 3 4 5; do
    NGINX_PORT=$(free_port)
    sed -e "s|@PREFIX@|$dir|g" -e "s|@USER_LINE@|$user_line|" \
        -e "s|@LISTEN_PORT@|$NGINX_PORT|" -e "s|@UPSTREAM_PORT@|$FAKE_PORT|" \
        "$NGINX_TEMPLATE" >"$dir/nginx.conf"
    # -e: the log nginx writes before it has read the config, also kept in the prefix.
    "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    if wait_ready nginx "$NGINX_PID" "http://127.0.0.1:$NGINX_PORT/api/version" "$dir/error.log"; then
      NGINX_PIDS=("$NGINX_PID" $(children_of "$NGINX_PID"))
      LATE_PIDS+=("${NGINX_PIDS[@]:1}")
      [[ ${#NGINX_PIDS[@]} == 2 ]] || die "expected nginx master + 1 worker, found pids ${NGINX_PIDS[*]}"
      info "nginx master $NGINX_PID, worker ${NGINX_PIDS[1]}, on port $NGINX_PORT"
      return
    fi
    grep -q "Address already in use" "$dir/error.log" || { cat "$dir/error.log" >&2; die "nginx exited"; }
  done
  die "nginx could not bind a port after 5 attempts"
}

start_haproxy() {
  local dir=$WORK/haproxy attempt
  mkdir -p "$dir"
  for attempt in 1 2 3 4 5; do
    HAPROXY_PORT=$(free_port)
    sed -e "s|@LISTEN_PORT@|$HAPROXY_PORT|" -e "s|@UPSTREAM_PORT@|$FAKE_PORT|" \
        "$HAPROXY_TEMPLATE" >"$dir/haproxy.cfg"
    # -db: foreground, no daemon; one process, whose thread count the config sets to 1.
    (cd "$dir" && exec "$HAPROXY_BIN" -db -f "$dir/haproxy.cfg") >"$dir/haproxy.log" 2>&1 &
    HAPROXY_PID=$!
    PIDS+=("$HAPROXY_PID")
    if wait_ready haproxy "$HAPROXY_PID" "http://127.0.0.1:$HAPROXY_PORT/api/version" "$dir/haproxy.log"; then
      info "haproxy pid $HAPROXY_PID on port $HAPROXY_PORT (nbthread 1, http-reuse always)"
      return
    fi
    grep -qi "address already in use\|cannot bind" "$dir/haproxy.log" || { cat "$dir/haproxy.log" >&2; die "haproxy exited"; }
  done
  die "haproxy could not bind a port after 5 attempts"
}

# start_corral NAME [EXTRA_YAML]: a corral on one worker thread over the fake; EXTRA_YAML is
# appended verbatim to its config (the policies: block of the corral+policies path).
# Sets STARTED_PORT and STARTED_PID.
start_corral() {
  local name=$1 extra=${2:-} cfg=$WORK/$1.yaml log=$WORK/$1.log attempt
  for attempt in 1 2 3 4 5; do
    STARTED_PORT=$(free_port)
    cat >"$cfg" <<EOF
# Written by bench/compare.sh: one worker thread, no access log, the fake as the only backend.
server: {host: 127.0.0.1, port: $STARTED_PORT, threads: 1}
ollama: {base_url: "http://127.0.0.1:$FAKE_PORT"}
log: {access_log: false}
EOF
    [[ -z $extra ]] || cat "$extra" >>"$cfg"
    "$CORRAL_BIN" --config "$cfg" >"$log" 2>&1 &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
    if wait_ready "$name" "$STARTED_PID" "http://127.0.0.1:$STARTED_PORT/api/version" "$log"; then
      info "$name pid $STARTED_PID on port $STARTED_PORT (threads: 1, access_log: false${extra:+, plus $extra})"
      return
    fi
    grep -qi "in use" "$log" || { cat "$log" >&2; die "$name exited"; }
  done
  die "$name could not bind a port after 5 attempts"
}

# --- checks and measurements -------------------------------------------------------------------

# One streamed answer through curl: stream_curl NAME BASE_URL DELAY_MS LABEL writes the response
# as it came over the wire (head, then the raw chunked body) to $WORK/stream-NAME-LABEL.raw and
# the HTTP status (or "curl exit N") to .code next to it. DELAY_MS 0 sends no
# X-Fake-Token-Delay-Ms. It may run in the background.
stream_curl() {
  local name=$1 base=$2 delay=$3 label=$4 out=$WORK/stream-$1-$4 code rc=0
  local hdrs=(-H 'Content-Type: application/json' -H "X-Fake-Tokens: $TOKENS")
  [[ $delay == 0 ]] || hdrs+=(-H "X-Fake-Token-Delay-Ms: $delay")
  [[ -z $API_KEY ]] || hdrs+=(-H "Authorization: Bearer $API_KEY")
  code=$(curl -s -i --raw --max-time "$PACED_TIMEOUT" -o "$out.raw" -w '%{http_code}' -X POST \
    "${hdrs[@]}" --data '{"model":"llama2","prompt":"Why is the sky blue?","stream":true}' \
    "$base/api/generate") || rc=$?
  ((rc == 0)) || code="curl exit $rc"
  echo "$code" >"$out.code"
}

# stream_parse NAME LABEL checks what stream_curl wrote: HTTP 200, TOKENS+1 NDJSON lines (one per
# token, then the final "done":true line). Sets S_LINES, S_HTTP_CHUNKS (the HTTP chunks the path
# sent, fewer than the lines when a proxy merged lines that arrived together) and S_BYTES (the
# size of the whole response, head included: what wrk counts as read for one answer).
stream_parse() {
  local name=$1 label=$2 out=$WORK/stream-$1-$2 code lines http_chunks
  code=$(<"$out.code")
  [[ $code == 200 ]] || die "$name: $label stream check got HTTP $code: $(head -c 300 "$out.raw")"
  # In the raw chunked body the size lines are the only lines made of hex digits alone.
  http_chunks=$(grep -c $'^[0-9a-fA-F]\+\r$' "$out.raw" || true)
  http_chunks=$((http_chunks - 1))   # the terminating 0-size chunk
  lines=$(grep -c '^{"model"' "$out.raw" || true)
  [[ $lines == $((TOKENS + 1)) ]] || die "$name: $label stream has $lines NDJSON lines, expected $((TOKENS + 1))"
  grep '^{"model"' "$out.raw" | tail -n 1 | grep -q '"done":true' \
    || die "$name: $label stream does not end with done:true"
  S_LINES=$lines
  S_HTTP_CHUNKS=$http_chunks
  S_BYTES=$(wc -c <"$out.raw")
}

# One curl per path and mode, before any load: the answer must be a real 200 from the fake, and
# a stream must carry tokens+1 NDJSON lines. That line count is the "chunks per response" used for
# chunks/s. The HTTP chunks curl sees are kept too, unpaced and paced (IDLE_PACED_HTTP_CHUNKS).
check_path() {
  local name=$1 base=$2 out=$WORK/check-$1 code
  code=$(curl -s -o "$out.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' ${API_KEY:+-H "Authorization: Bearer $API_KEY"} \
    --data '{"model":"llama2","prompt":"Why is the sky blue?","stream":false}' "$base/api/generate") || true
  [[ $code == 200 ]] || die "$name: non-streaming check got HTTP $code: $(head -c 300 "$out.json")"
  grep -q '"done":true' "$out.json" || die "$name: non-streaming answer is not a finished generation"

  stream_curl "$name" "$base" 0 unpaced
  stream_parse "$name" unpaced
  CHUNKS_PER_RESPONSE=$S_LINES
  HTTP_CHUNKS=$S_HTTP_CHUNKS
  info "$name: 200 OK; a stream of $TOKENS tokens = $S_LINES NDJSON lines in $S_HTTP_CHUNKS HTTP chunks"
  stream_curl "$name" "$base" "$TOKEN_DELAY_MS" paced-idle
  stream_parse "$name" paced-idle
  IDLE_PACED_HTTP_CHUNKS=$S_HTTP_CHUNKS
  PACED_RESPONSE_BYTES=$S_BYTES
  info "$name: paced ${TOKEN_DELAY_MS} ms: $S_LINES NDJSON lines in $S_HTTP_CHUNKS HTTP chunks"
}

# The fake's count of fully written responses, to prove the proxy really forwarded each request.
fake_completed() {
  curl -s "http://127.0.0.1:$FAKE_PORT/fake/stats" | grep -o '"completed":[0-9]*' | cut -d: -f2
}

# run_wrk NAME BASE_URL MODE [PROXY_PID...], MODE one of
#   plain   stream:false, --connections;
#   stream  stream:true, --tokens, no delay, --connections;
#   paced   stream:true, --tokens, --token-delay-ms, --paced-connections; a curl in the middle
#           of the run counts the HTTP chunks of one answer under load (LOADED_HTTP_CHUNKS).
# Sets R_REQS R_SECS R_P50 R_P99 (µs) R_PROXY_TICKS R_FAKE_TICKS. Fails on any wrk error.
# With no proxy pid (the direct path) R_PROXY_TICKS is 0.
run_wrk() {
  local name=$1 base=$2 mode=$3; shift 3
  local pids=("$@") log=$WORK/wrk-$name-$mode.txt
  local conns=$CONNECTIONS timeout=10
  export BENCH_STREAM=true BENCH_TOKENS=$TOKENS BENCH_TOKEN_DELAY_MS="" BENCH_STAGGER_MS="" BENCH_API_KEY=$API_KEY
  export BENCH_CONNECTIONS=""
  case $mode in
    plain) BENCH_STREAM=false BENCH_TOKENS="" ;;
    stream) ;;
    paced)
      # The streams start spread over one answer's length, so their tokens interleave.
      BENCH_TOKEN_DELAY_MS=$TOKEN_DELAY_MS BENCH_STAGGER_MS=$((TOKENS * TOKEN_DELAY_MS))
      BENCH_CONNECTIONS=$PACED_CONNECTIONS conns=$PACED_CONNECTIONS timeout=$PACED_TIMEOUT ;;
    *) die "run_wrk: unknown mode $mode" ;;
  esac
  local args=(-t1 -c"$conns" --timeout "${timeout}s" -s "$LUA_SCRIPT" "$base/api/generate")

  # Warm-up, unmeasured: connections to the fake are opened here, not inside the window.
  wrk -d"${WARMUP}s" "${args[@]}" >/dev/null
  sleep 0.3

  local p0 f0 c0 p1 f1 c1 probe=""
  c0=$(fake_completed)
  p0=$(cpu_ticks "${pids[@]}")
  f0=$(cpu_ticks "$FAKE_PID")
  if [[ $mode == paced ]]; then
    # Halfway through the run, one more paced answer through the same path, counted by curl.
    { sleep "$(calc "$DURATION / 2" 1)"; stream_curl "$name" "$base" "$TOKEN_DELAY_MS" paced-loaded; } &
    probe=$!
  fi
  wrk -d"${DURATION}s" "${args[@]}" >"$log" 2>&1 || { cat "$log" >&2; die "wrk failed on $name"; }
  p1=$(cpu_ticks "${pids[@]}")
  f1=$(cpu_ticks "$FAKE_PID")
  if [[ -n $probe ]]; then
    wait "$probe" || true
    stream_parse "$name" paced-loaded
    LOADED_HTTP_CHUNKS=$S_HTTP_CHUNKS
  fi
  sleep 0.2   # the fake updates its counters right after each response ends
  c1=$(fake_completed)

  # done() in wrk_generate.lua printed "BENCH_RESULT key=value ...".
  local result kv
  local requests duration_us bytes err_connect err_read err_write err_status err_timeout p50_us p99_us
  result=$(grep '^BENCH_RESULT ' "$log") || { cat "$log" >&2; die "no result from wrk on $name"; }
  for kv in ${result#BENCH_RESULT }; do
    [[ $kv =~ ^[a-z0-9_]+=[0-9]+$ ]] || die "unexpected wrk result field: $kv"
    local "$kv"
  done
  local errors=$((err_connect + err_read + err_write + err_status + err_timeout))
  if ((errors > 0 || requests == 0)); then
    cat "$log" >&2
    die "$name ($mode): $requests requests; errors: connect $err_connect, read $err_read," \
        "write $err_write, timeout $err_timeout, HTTP status >= 400: $err_status"
  fi
  # wrk counts 3xx as success; the fake never redirects this route, so every counted response
  # must have been completed by the fake (it may complete a few more that wrk cut off at the end).
  ((c1 - c0 >= requests)) || die "$name ($mode): wrk counted $requests responses but" \
    "the fake completed only $((c1 - c0)): some answers did not come from the backend"

  R_REQS=$requests
  R_BYTES=$bytes
  R_SECS=$(calc "$duration_us / 1e6" 6)
  R_P50=$p50_us R_P99=$p99_us
  R_PROXY_TICKS=$((p1 - p0))
  R_FAKE_TICKS=$((f1 - f0))
  info "$name $mode: $requests responses in ${R_SECS}s; CPU ticks: proxy $R_PROXY_TICKS, fake $R_FAKE_TICKS"
}

# bench_field FILE OBJECT FIELD: FIELD of the first "OBJECT":{...} in corral-bench's one-line JSON
# (OBJECT "" for the first FIELD anywhere). No JSON tool needed: corral-bench writes flat objects.
bench_field() {
  local text
  text=$(<"$1")
  [[ -z $2 ]] || text=$(grep -o "\"$2\":{[^{}]*}" <<<"$text" | head -n 1)
  grep -o "\"$3\":[-0-9.eE+]*" <<<"$text" | head -n 1 | cut -d: -f2
}

# Sum of a /proc/<pid>/status field (VmRSS, VmHWM; kB) over the given pids.
mem_kb() {
  local field=$1 total=0 pid v; shift
  for pid in "$@"; do
    v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status") || die "process $pid is gone (crashed?)"
    total=$((total + v))
  done
  echo "$total"
}

# run_bench NAME BASE_URL MODE [PROXY_PID...] with corral-bench, MODE one of
#   ttft    --ttft-streams streams at once, paced like the wrk paced run: time to first token;
#   memory  --memory-streams slow streams at once (lines MEMORY_TOKEN_DELAY_MS apart): the
#           proxy's RSS halfway through (B_RSS_KB) and its peak since it started (B_HWM_KB).
# Sets B_TTFT_P50 B_TTFT_P99 (ms) B_RPS B_TPS. Fails unless every request succeeded.
run_bench() {
  local name=$1 base=$2 mode=$3; shift 3
  local pids=("$@") json=$WORK/bench-$name-$mode.json log=$WORK/bench-$name-$mode.log
  local streams delay probe=""
  case $mode in
    ttft) streams=$TTFT_STREAMS delay=$TOKEN_DELAY_MS ;;
    memory) streams=$MEMORY_STREAMS delay=$MEMORY_TOKEN_DELAY_MS ;;
    *) die "run_bench: unknown mode $mode" ;;
  esac
  B_RSS_KB="" B_HWM_KB=""
  if [[ $mode == memory && ${#pids[@]} -gt 0 ]]; then
    { sleep "$(calc "$BENCH_DURATION / 2" 1)"; mem_kb VmRSS "${pids[@]}" >"$WORK/rss-$name"; } &
    probe=$!
  fi
  "$BENCH_BIN" --url "$base" --concurrency "$streams" --duration "${BENCH_DURATION}s" \
    --header "X-Fake-Tokens: $TOKENS" --header "X-Fake-Token-Delay-Ms: $delay" ${API_KEY:+--api-key "$API_KEY"} \
    --timeout "$PACED_TIMEOUT" --json "$json" >"$log" 2>&1 || { cat "$log" >&2; die "corral-bench failed on $name ($mode)"; }
  if [[ -n $probe ]]; then
    wait "$probe" || die "$name: could not read its memory"
    B_RSS_KB=$(<"$WORK/rss-$name")
    # The kernel updates VmHWM lazily, so it can trail an RSS read earlier: keep the larger.
    B_HWM_KB=$(mem_kb VmHWM "${pids[@]}")
    ((B_HWM_KB >= B_RSS_KB)) || B_HWM_KB=$B_RSS_KB
  fi
  local sent ok
  sent=$(bench_field "$json" "" requests); ok=$(bench_field "$json" "" ok)
  [[ $sent == "$ok" && $ok -gt 0 ]] || { cat "$log" >&2; die "$name ($mode): corral-bench sent $sent, $ok succeeded"; }
  B_TTFT_P50=$(bench_field "$json" ttft p50)
  B_TTFT_P99=$(bench_field "$json" ttft p99)
  B_RPS=$(bench_field "$json" "" requests_per_s)
  B_TPS=$(bench_field "$json" "" output_tokens_per_s)
  info "$name $mode: $ok streams, TTFT p50 $(calc "$B_TTFT_P50" 2) ms${B_HWM_KB:+, RSS $B_RSS_KB kB, peak $B_HWM_KB kB}"
}

# Which corral was measured: the tree's commit (with "+dirty" for local changes) and when the
# binary was built, since it may be rebuilt between runs.
binary_info() {
  local rev
  rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
  git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"
  echo "(tree $rev, binary built $(date -u -r "$1" +%Y-%m-%dT%H:%MZ))"
}

# Floating-point helper: calc 'expression' with awk.
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }

# ratio A B: A / B with two decimals and a ×, or – when either is missing or B is not > 0.
ratio() {
  [[ -n ${1:-} && -n ${2:-} ]] || { echo "–"; return; }
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "–" }'
}

# --- main --------------------------------------------------------------------------------------

main() {
  parse_args "$@"
  check_tools
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/corral-compare.XXXXXX")

  LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
  start_fake
  start_nginx
  start_haproxy
  start_corral corral
  CORRAL_PORT=$STARTED_PORT CORRAL_PID=$STARTED_PID

  local names=(direct nginx haproxy corral)
  declare -A URL PIDLIST
  URL[direct]=http://127.0.0.1:$FAKE_PORT
  URL[nginx]=http://127.0.0.1:$NGINX_PORT
  URL[haproxy]=http://127.0.0.1:$HAPROXY_PORT
  URL[corral]=http://127.0.0.1:$CORRAL_PORT
  PIDLIST[direct]=""                    # no proxy: the fake's own CPU is the baseline
  PIDLIST[nginx]="${NGINX_PIDS[*]}"
  PIDLIST[haproxy]=$HAPROXY_PID
  PIDLIST[corral]=$CORRAL_PID
  if [[ -n $POLICIES ]]; then
    start_corral corral+policies "$POLICIES"
    names+=(corral+policies)
    URL[corral+policies]=http://127.0.0.1:$STARTED_PORT
    PIDLIST[corral+policies]=$STARTED_PID
  fi
  local proxies=("${names[@]:1}")

  # Memory before any load: what each proxy holds idle.
  declare -A IDLE_RSS
  for n in "${proxies[@]}"; do IDLE_RSS[$n]=$(mem_kb VmRSS ${PIDLIST[$n]}); done

  local n http_chunks_note=""
  declare -A IDLE_PHC LOAD_PHC          # HTTP chunks per paced response: idle, under load
  declare -A PACED_BYTES                # bytes of one paced response, head included
  for n in "${names[@]}"; do
    check_path "$n" "${URL[$n]}"
    http_chunks_note+="${http_chunks_note:+, }$n $HTTP_CHUNKS"
    IDLE_PHC[$n]=$IDLE_PACED_HTTP_CHUNKS
    PACED_BYTES[$n]=$PACED_RESPONSE_BYTES
  done
  local chunks=$CHUNKS_PER_RESPONSE

  # Measured runs: every path, non-streaming, then streaming unpaced, then paced. The direct run
  # measures the fake alone; its "proxy" CPU column is then empty.
  declare -A RPS P50 P99 CPU_REQ UTIL FAKE_REQ CPS CPU_CHUNK SUTIL FAKE_CHUNK SP50 SP99
  declare -A PCPS PP50 PP99 PCPU_CHUNK PUTIL PFAKE_CHUNK PFAKE_UTIL PRESP
  declare -A TTFT50 TTFT99 TTFT_OVER MEM_RSS MEM_HWM
  local ms_per_tick total_chunks proxy
  ms_per_tick=$(calc "1000 / $CLK_TCK" 6)
  for n in "${names[@]}"; do
    run_wrk "$n" "${URL[$n]}" plain ${PIDLIST[$n]}
    RPS[$n]=$(calc "$R_REQS / $R_SECS" 0)
    P50[$n]=$(calc "$R_P50 / 1000" 2); P99[$n]=$(calc "$R_P99 / 1000" 2)
    FAKE_REQ[$n]=$(calc "$R_FAKE_TICKS * $ms_per_tick * 1000 / $R_REQS" 1)
    if [[ $n != direct ]]; then
      proxy=$R_PROXY_TICKS
      CPU_REQ[$n]=$(calc "$proxy * $ms_per_tick * 1000 / $R_REQS" 1)
      UTIL[$n]=$(calc "100 * $proxy / $CLK_TCK / $R_SECS" 0)
    fi

    run_wrk "$n" "${URL[$n]}" stream ${PIDLIST[$n]}
    total_chunks=$((R_REQS * chunks))
    CPS[$n]=$(calc "$total_chunks / $R_SECS" 0)
    SP50[$n]=$(calc "$R_P50 / 1000" 2); SP99[$n]=$(calc "$R_P99 / 1000" 2)
    FAKE_CHUNK[$n]=$(calc "$R_FAKE_TICKS * $ms_per_tick * 1000 / $total_chunks" 2)
    if [[ $n != direct ]]; then
      proxy=$R_PROXY_TICKS
      CPU_CHUNK[$n]=$(calc "$proxy * $ms_per_tick * 1000 / $total_chunks" 2)
      SUTIL[$n]=$(calc "100 * $proxy / $CLK_TCK / $R_SECS" 0)
    fi

    run_wrk "$n" "${URL[$n]}" paced ${PIDLIST[$n]}
    # Lines are counted from the bytes wrk read, not from its finished responses: when wrk stops,
    # every stream is partway through an answer (with 256 streams of 0.3 s each that is several
    # percent of a 5 s run), and the proxy spent CPU on those lines too.
    total_chunks=$(calc "$R_BYTES * $chunks / ${PACED_BYTES[$n]}" 0)
    PRESP[$n]=$R_REQS
    LOAD_PHC[$n]=$LOADED_HTTP_CHUNKS
    PCPS[$n]=$(calc "$total_chunks / $R_SECS" 0)
    PP50[$n]=$(calc "$R_P50 / 1000" 2); PP99[$n]=$(calc "$R_P99 / 1000" 2)
    PFAKE_CHUNK[$n]=$(calc "$R_FAKE_TICKS * $ms_per_tick * 1000 / $total_chunks" 2)
    PFAKE_UTIL[$n]=$(calc "100 * $R_FAKE_TICKS / $CLK_TCK / $R_SECS" 0)
    if [[ $n != direct ]]; then
      proxy=$R_PROXY_TICKS
      PCPU_CHUNK[$n]=$(calc "$proxy * $ms_per_tick * 1000 / $total_chunks" 2)
      PUTIL[$n]=$(calc "100 * $proxy / $CLK_TCK / $R_SECS" 0)
    fi

    run_bench "$n" "${URL[$n]}" ttft ${PIDLIST[$n]}
    TTFT50[$n]=$(calc "$B_TTFT_P50" 2); TTFT99[$n]=$(calc "$B_TTFT_P99" 2)
    TTFT_OVER[$n]=$(calc "($B_TTFT_P50 - ${TTFT50[direct]}) * 1000" 0)   # µs over direct
    run_bench "$n" "${URL[$n]}" memory ${PIDLIST[$n]}
    if [[ $n != direct ]]; then
      MEM_RSS[$n]=$(calc "$B_RSS_KB / 1024" 1); MEM_HWM[$n]=$(calc "$B_HWM_KB / 1024" 1)
    fi
  done

  verdict() { awk -v r="${1%×}" 'BEGIN { print (r != "–" && r <= 1.5 ? "meets the goal (<= 1.5x)" : "misses the goal (<= 1.5x)") }'; }
  # The most a paced run can reach: every stream busy all the time, each answer taking exactly
  # TOKENS x TOKEN_DELAY_MS (the first line is not delayed).
  local paced_limit
  paced_limit=$(calc "$PACED_CONNECTIONS * $chunks * 1000 / ($TOKENS * $TOKEN_DELAY_MS)" 0)

  local report=$WORK/report.md
  {
    echo "## corral vs nginx vs haproxy vs direct ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r))"
    echo
    echo "wrk -t1 -c$CONNECTIONS (paced: -c$PACED_CONNECTIONS --timeout ${PACED_TIMEOUT}s), ${DURATION}s per run after ${WARMUP}s warm-up; fake-ollama --threads $FAKE_THREADS;"
    echo "corral-bench runs of ${BENCH_DURATION}s: $TTFT_STREAMS paced streams (TTFT), $MEMORY_STREAMS streams with lines ${MEMORY_TOKEN_DELAY_MS} ms apart (memory);"
    echo "nginx $("$NGINX_BIN" -v 2>&1 | sed 's|.*/||'): 1 worker, proxy_buffering off, upstream keepalive 64, access_log off;"
    echo "haproxy $("$HAPROXY_BIN" -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p'): nbthread 1, http-reuse always, pool-max-conn 64, no log;"
    echo "corral $(binary_info "$CORRAL_BIN"): threads 1, access_log off${POLICIES:+; corral+policies: the same plus $(basename "$POLICIES")}."
    echo "CPU = utime+stime of the proxy (nginx: master+worker) during the run."
    echo "Load average before the run: $LOAD_AT_START (a busy machine skews every number)."
    echo
    echo "### Non-streaming: POST /api/generate, stream:false ($FAKE_TOKENS tokens)"
    echo
    echo "| path | req/s | p50 ms | p99 ms | proxy CPU µs/req | proxy CPU % | fake CPU µs/req |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for n in "${names[@]}"; do
      echo "| $n | ${RPS[$n]} | ${P50[$n]} | ${P99[$n]} | ${CPU_REQ[$n]:-–} | ${UTIL[$n]:-–} | ${FAKE_REQ[$n]} |"
    done
    echo
    echo "### Streaming, unpaced (proxies may merge lines): stream:true, $TOKENS tokens = $chunks chunks per response, no delay"
    echo
    echo "| path | chunks/s | p50 ms | p99 ms | proxy CPU µs/chunk | proxy CPU % | fake CPU µs/chunk |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for n in "${names[@]}"; do
      echo "| $n | ${CPS[$n]} | ${SP50[$n]} | ${SP99[$n]} | ${CPU_CHUNK[$n]:-–} | ${SUTIL[$n]:-–} | ${FAKE_CHUNK[$n]} |"
    done
    echo
    echo "HTTP chunks in one unpaced response as curl saw it (idle): $http_chunks_note"
    echo "(a proxy may merge lines already waiting in its socket into one chunk; chunks/s counts NDJSON lines.)"
    echo
    echo "### Streaming, paced: X-Fake-Token-Delay-Ms $TOKEN_DELAY_MS, $PACED_CONNECTIONS streams at once, $chunks chunks per response"
    echo
    echo "| path | chunks/s | p50 ms | p99 ms | proxy CPU µs/chunk | proxy CPU % | fake CPU µs/chunk | fake CPU % | HTTP chunks/response idle | under load |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for n in "${names[@]}"; do
      echo "| $n | ${PCPS[$n]} | ${PP50[$n]} | ${PP99[$n]} | ${PCPU_CHUNK[$n]:-–} | ${PUTIL[$n]:-–} | ${PFAKE_CHUNK[$n]} | ${PFAKE_UTIL[$n]} | ${IDLE_PHC[$n]} | ${LOAD_PHC[$n]} |"
    done
    echo
    echo "Pacing limit: $PACED_CONNECTIONS x $chunks lines / ($TOKENS x $TOKEN_DELAY_MS ms) = $paced_limit chunks/s; a p50 near $((TOKENS * TOKEN_DELAY_MS)) ms means the"
    echo "streams ran at the fake's pace. HTTP chunks/response: $chunks = every line forwarded on its own (idle: one curl"
    echo "before the runs; under load: one curl halfway through this path's paced run)."
    echo "Paced chunks are counted from the bytes wrk read (bytes / bytes of one answer x $chunks), so the lines of"
    local finished=""
    for n in "${names[@]}"; do finished+="${finished:+, }$n ${PRESP[$n]}"; done
    echo "answers cut off when wrk stops count too; finished answers per path: $finished."
    echo
    echo "### Time to first token and memory (corral-bench)"
    echo
    echo "| path | TTFT p50 ms | TTFT p99 ms | p50 over direct µs | RSS idle MiB | RSS with $MEMORY_STREAMS streams MiB | peak RSS (VmHWM) MiB |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for n in "${names[@]}"; do
      local idle="–"
      [[ -z ${IDLE_RSS[$n]:-} ]] || idle=$(calc "${IDLE_RSS[$n]} / 1024" 1)
      echo "| $n | ${TTFT50[$n]} | ${TTFT99[$n]} | $([[ $n == direct ]] && echo – || echo "${TTFT_OVER[$n]}") | $idle | ${MEM_RSS[$n]:-–} | ${MEM_HWM[$n]:-–} |"
    done
    echo
    echo "TTFT: $TTFT_STREAMS streams at once, $TOKENS tokens ${TOKEN_DELAY_MS} ms apart, from sending the request to the first"
    echo "token's line. Peak RSS is the most the process held since it started, all runs included."
    echo
    echo "### Against nginx (path / nginx; lower is better for CPU, TTFT overhead and memory)"
    echo
    local header="| metric | nginx" sep="| --- | ---:" p
    for p in "${proxies[@]}"; do [[ $p == nginx ]] || { header+=" | $p | $p / nginx"; sep+=" | ---: | ---:"; }; done
    echo "$header | corral goal |"
    echo "$sep | --- |"
    row() {   # row LABEL ARRAY-NAME [goal]
      local -n values=$2
      local line="| $1 | ${values[nginx]:-–}" r=""
      for p in "${proxies[@]}"; do
        [[ $p == nginx ]] && continue
        line+=" | ${values[$p]:-–} | $(ratio "${values[$p]:-}" "${values[nginx]:-}")"
      done
      [[ -z ${3:-} ]] || r=$(verdict "$(ratio "${values[corral]:-}" "${values[nginx]:-}")")
      echo "$line | $r |"
    }
    row "CPU per request (µs)" CPU_REQ goal
    row "CPU per chunk (µs), unpaced: proxies may merge lines" CPU_CHUNK goal
    row "CPU per chunk (µs), paced ${TOKEN_DELAY_MS} ms" PCPU_CHUNK goal
    row "req/s" RPS
    row "chunks/s, unpaced" CPS
    row "chunks/s, paced ${TOKEN_DELAY_MS} ms" PCPS
    row "TTFT p50 overhead over direct (µs)" TTFT_OVER
    row "peak RSS (MiB), $MEMORY_STREAMS streams" MEM_HWM
    if [[ -n $POLICIES ]]; then
      echo
      echo "### corral+policies / corral ($(basename "$POLICIES"))"
      echo
      echo "| metric | corral | corral+policies | ratio |"
      echo "| --- | ---: | ---: | ---: |"
      echo "| CPU per request (µs) | ${CPU_REQ[corral]} | ${CPU_REQ[corral+policies]} | $(ratio "${CPU_REQ[corral+policies]}" "${CPU_REQ[corral]}") |"
      echo "| CPU per chunk (µs), unpaced | ${CPU_CHUNK[corral]} | ${CPU_CHUNK[corral+policies]} | $(ratio "${CPU_CHUNK[corral+policies]}" "${CPU_CHUNK[corral]}") |"
      echo "| CPU per chunk (µs), paced ${TOKEN_DELAY_MS} ms | ${PCPU_CHUNK[corral]} | ${PCPU_CHUNK[corral+policies]} | $(ratio "${PCPU_CHUNK[corral+policies]}" "${PCPU_CHUNK[corral]}") |"
      echo "| TTFT p50 (ms) | ${TTFT50[corral]} | ${TTFT50[corral+policies]} | $(ratio "${TTFT50[corral+policies]}" "${TTFT50[corral]}") |"
    fi
    echo
    echo "Every response was a 200 answered by the fake (wrk errors and non-2xx: 0 on every run; corral-bench: every request succeeded)."
    echo "On a machine with few cores wrk, the fake and the proxy share them: compare CPU per request, not only req/s."
  } >"$report"

  cat "$report"
  [[ -z $OUT ]] || cp "$report" "$OUT"
  FAILED=0
}

main "$@"
