#!/usr/bin/env bash
# What the management API's inference layer costs: corral's CPU per request on
# /api/v1/generate with a preset against /api/generate sending the very request the preset
# makes (same model, system prompt and temperature), side by side in one run over one
# fake-ollama, alternating the routes round by round so that a noisy machine weighs on both
# alike. The backend gets the same request either way; what differs is corral's work: checking
# and translating the management request, and reshaping the answer.
#
#   bash bench/management_overhead.sh [--build-dir DIR] [--rounds N (11)] [--duration S (3)] [--tokens N (10)]
#                                     [--control] [--instructions [--requests N (400)]]
#
# Each round runs wrk (one thread, 32 connections) for S seconds on each route, non-streamed and
# streamed, reading corral's utime+stime from /proc before and after. Prints a table of CPU per
# request and the ratio per round, then each ratio's median and middle half (quartiles).
# --control also measures /api/generate a second time each round and prints that ratio too: an
# A/A ratio whose spread is this machine's noise. corral runs on one thread, without its access
# log; the fake answers N tokens at once.
# --instructions counts instead of timing: corral runs under valgrind's callgrind, and each route
# gets N requests over one connection; prints the instructions corral executes per request (its
# own code and libraries, not the kernel's) and their ratio. Exact and repeatable where CPU time
# on a shared machine is not, but blind to cache misses and to time in the kernel.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
ROUNDS=11
DURATION=3
TOKENS=10
CONNECTIONS=32
CONTROL=0
INSTRUCTIONS=0
REQUESTS=400

while (($#)); do
  case $1 in
    --build-dir) BUILD=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --duration) DURATION=${2:?}; shift 2 ;;
    --tokens) TOKENS=${2:?}; shift 2 ;;
    --control) CONTROL=1; shift ;;
    --instructions) INSTRUCTIONS=1; shift ;;
    --requests) REQUESTS=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "management_overhead.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done

command -v wrk >/dev/null || { echo "management_overhead.sh: wrk is not installed (deploy/build.sh deps)" >&2; exit 1; }
LAUNCH=()
STARTUP_TRIES=100
if ((INSTRUCTIONS)); then
  command -v callgrind_control >/dev/null ||
    { echo "management_overhead.sh: --instructions needs valgrind (apt-get install valgrind)" >&2; exit 1; }
  LAUNCH=(valgrind --tool=callgrind --callgrind-out-file="%q{CALLGRIND_OUT}")
  STARTUP_TRIES=600  # a start under valgrind takes seconds
fi
CORRAL_BIN=$BUILD/corral
FAKE_BIN=$BUILD/fake-ollama
[[ -x $CORRAL_BIN && -x $FAKE_BIN ]] || { echo "management_overhead.sh: build first (deploy/build.sh test)" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

cpu_ticks() {
  local stat fields
  stat=$(<"/proc/$1/stat")
  stat=${stat##*) }
  read -r -a fields <<<"$stat"
  echo $((fields[11] + fields[12]))
}

"$FAKE_BIN" --host 127.0.0.1 --port 0 --threads 1 --tokens "$TOKENS" --models llama2 >"$WORK/fake.log" 2>&1 &
PIDS+=($!)
FAKE_PORT=""
for _ in $(seq 100); do
  FAKE_PORT=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$WORK/fake.log")
  [[ -n $FAKE_PORT ]] && break
  sleep 0.1
done
[[ -n $FAKE_PORT ]] || { cat "$WORK/fake.log" >&2; exit 1; }

# A port nothing listens on; the bind may still lose a race, so start-up is tried up to 5 times.
CORRAL_PID=""
for attempt in 1 2 3 4 5; do
  PORT=$((20000 + RANDOM % 40000))
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && continue
  cat >"$WORK/corral.yaml" <<YAML
server: {host: 127.0.0.1, port: $PORT, threads: 1}
ollama: {base_url: "http://127.0.0.1:$FAKE_PORT"}
log: {access_log: false}
management: {state_dir: "$WORK/state"}
YAML
  CALLGRIND_OUT=$WORK/callgrind.out "${LAUNCH[@]}" "$CORRAL_BIN" --config "$WORK/corral.yaml" >"$WORK/corral.log" 2>&1 &
  CORRAL_PID=$!
  PIDS+=("$CORRAL_PID")
  for _ in $(seq "$STARTUP_TRIES"); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/api/version" && break 2
    kill -0 "$CORRAL_PID" 2>/dev/null || break
    sleep 0.1
  done
  grep -qi "in use" "$WORK/corral.log" || { cat "$WORK/corral.log" >&2; exit 1; }
  CORRAL_PID=""
done
[[ -n $CORRAL_PID ]] || { echo "management_overhead.sh: corral could not bind a port" >&2; exit 1; }

# The preset under test, and the same request written for Ollama's API.
PROMPT="Why is the sky blue?"
SYSTEM="You are a helpful, knowledgeable assistant. Answer clearly and accurately, and keep the answer as short as the question allows. When you are not sure of something, say so instead of guessing."
code=$(curl -s -o "$WORK/preset.txt" -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/presets" \
  -d "{\"name\":\"bench\",\"model\":\"llama2\",\"temperature\":0.7,\"system_prompt\":\"$SYSTEM\"}")
[[ $code == 201 ]] || { cat "$WORK/preset.txt" >&2; echo "management_overhead.sh: creating the preset answered $code" >&2; exit 1; }
OLLAMA_BODY="\"model\":\"llama2\",\"prompt\":\"$PROMPT\",\"system\":\"$SYSTEM\",\"options\":{\"temperature\":0.7}"
declare -A PATHS=(
  [ollama-plain]=/api/generate [v1-plain]=/api/v1/generate
  [ollama-stream]=/api/generate [v1-stream]=/api/v1/generate/stream
  [control]=/api/generate)
declare -A BODIES=(
  [ollama-plain]="{$OLLAMA_BODY,\"stream\":false}"
  [control]="{$OLLAMA_BODY,\"stream\":false}"
  [v1-plain]="{\"preset\":\"bench\",\"prompt\":\"$PROMPT\"}"
  [ollama-stream]="{$OLLAMA_BODY,\"stream\":true}"
  [v1-stream]="{\"preset\":\"bench\",\"prompt\":\"$PROMPT\"}")

# Checks each route answers 200 before measuring it.
for name in "${!PATHS[@]}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT${PATHS[$name]}" -d "${BODIES[$name]}")
  [[ $code == 200 ]] || { echo "management_overhead.sh: $name answered $code" >&2; exit 1; }
done

if ((INSTRUCTIONS)); then
  # count NAME: sets IR (instructions per request), from N requests on one connection between a
  # reset of callgrind's counters and a dump.
  count() {
    local name=$1 args=() i total
    for ((i = 0; i < REQUESTS; i++)); do args+=(--next -s -o /dev/null "http://127.0.0.1:$PORT${PATHS[$name]}" -d "${BODIES[$name]}"); done
    curl "${args[@]:1:$((50 * 7 - 1))}"  # warm-up: 50 requests (7 arguments each)
    callgrind_control -z "$CORRAL_PID" >/dev/null 2>&1
    curl "${args[@]:1}"
    callgrind_control -d "$CORRAL_PID" >/dev/null 2>&1
    total=$(cat "$WORK"/callgrind.out.* | awk '$1 == "totals:" { t = $2 } END { print t + 0 }')
    rm -f "$WORK"/callgrind.out.*
    IR=$((total / REQUESTS))
  }
  declare -A IRS=()
  for name in ollama-plain v1-plain ollama-stream v1-stream; do
    count "$name"
    IRS[$name]=$IR
  done
  echo "| instructions per request | /api/generate | /api/v1/generate (preset) | ratio |"
  echo "| --- | ---: | ---: | ---: |"
  for kind in plain stream; do
    ratio=$(awk -v a="${IRS[v1-$kind]}" -v b="${IRS[ollama-$kind]}" 'BEGIN { printf "%.3f", a / b }')
    label=$([[ $kind == plain ]] && echo "whole answer" || echo "streamed ($TOKENS tokens)")
    echo "| $label | ${IRS[ollama-$kind]} | ${IRS[v1-$kind]} | $ratio |"
  done
  exit 0
fi

HZ=$(getconf CLK_TCK)
# measure NAME: sets US (corral CPU µs per request) and REQS.
measure() {
  local name=$1 log=$WORK/wrk-$1.txt c0 c1 result requests=0 err_status=0 err_read=0 err_connect=0 err_write=0 err_timeout=0 kv
  export BENCH_PATH=${PATHS[$name]} BENCH_BODY=${BODIES[$name]}
  wrk -t1 -c"$CONNECTIONS" -d1s -s "$ROOT/bench/wrk_generate.lua" "http://127.0.0.1:$PORT" >/dev/null
  c0=$(cpu_ticks "$CORRAL_PID")
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$ROOT/bench/wrk_generate.lua" "http://127.0.0.1:$PORT" >"$log" 2>&1
  c1=$(cpu_ticks "$CORRAL_PID")
  result=$(grep '^BENCH_RESULT ' "$log") || { cat "$log" >&2; exit 1; }
  for kv in ${result#BENCH_RESULT }; do local "$kv"; done
  if ((requests == 0 || err_status + err_read + err_connect + err_write + err_timeout > 0)); then
    cat "$log" >&2
    echo "management_overhead.sh: errors on $name" >&2
    exit 1
  fi
  REQS=$requests
  US=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$requests" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
}

# Sorted values' median and quartiles: "median (first quartile–third quartile)".
summary() {
  sort -g | awk '
    function at(q,   i, f) { i = 1 + (NR - 1) * q; f = int(i); return a[f] + (i - f) * (a[f + 1] - a[f]) }
    { a[NR] = $1 }
    END { a[NR + 1] = a[NR]; printf "%.3f (%.3f–%.3f)\n", at(0.5), at(0.25), at(0.75) }'
}

header="| round | /api/generate µs/req | /api/v1/generate (preset) µs/req | ratio | stream: /api/generate | /api/v1/generate/stream | ratio |"
rule="| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
if ((CONTROL)); then
  header+=" control: /api/generate again | A/A ratio |"
  rule+=" ---: | ---: |"
fi
echo "$header"
echo "$rule"
PLAIN_RATIOS=()
STREAM_RATIOS=()
CONTROL_RATIOS=()
for ((r = 1; r <= ROUNDS; r++)); do
  # The order alternates between rounds, so neither route always runs first.
  if ((r % 2)); then order=(ollama-plain v1-plain ollama-stream v1-stream); else order=(v1-plain ollama-plain v1-stream ollama-stream); fi
  if ((CONTROL)); then
    if ((r % 2)); then order=(control "${order[@]}"); else order+=(control); fi
  fi
  declare -A R=()
  for name in "${order[@]}"; do
    measure "$name"
    R[$name]=$US
  done
  pr=$(awk -v a="${R[v1-plain]}" -v b="${R[ollama-plain]}" 'BEGIN { printf "%.3f", a / b }')
  sr=$(awk -v a="${R[v1-stream]}" -v b="${R[ollama-stream]}" 'BEGIN { printf "%.3f", a / b }')
  PLAIN_RATIOS+=("$pr")
  STREAM_RATIOS+=("$sr")
  line="| $r | ${R[ollama-plain]} | ${R[v1-plain]} | $pr | ${R[ollama-stream]} | ${R[v1-stream]} | $sr |"
  if ((CONTROL)); then
    cr=$(awk -v a="${R[control]}" -v b="${R[ollama-plain]}" 'BEGIN { printf "%.3f", a / b }')
    CONTROL_RATIOS+=("$cr")
    line+=" ${R[control]} | $cr |"
  fi
  echo "$line"
done
echo
echo "ratio, whole answers: median (middle half) $(printf '%s\n' "${PLAIN_RATIOS[@]}" | summary)"
echo "ratio, streamed ($TOKENS tokens): median (middle half) $(printf '%s\n' "${STREAM_RATIOS[@]}" | summary)"
if ((CONTROL)); then
  echo "A/A control, /api/generate twice: median (middle half) $(printf '%s\n' "${CONTROL_RATIOS[@]}" | summary)"
fi
