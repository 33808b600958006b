-- wrk script for bench/compare.sh: POST /api/generate with a fixed JSON body.
--
-- Environment (read once when wrk loads the script):
--   BENCH_STREAM  "true" or "false" (default false): the body's "stream" field
--   BENCH_TOKENS  tokens per answer, sent as X-Fake-Tokens (default: the fake's --tokens)
--   BENCH_TOKEN_DELAY_MS  milliseconds between streamed lines, sent as X-Fake-Token-Delay-Ms
--                 (default: none, the fake's --token-delay-ms, which compare.sh leaves at 0)
--   BENCH_API_KEY  sent as "Authorization: Bearer <key>" when set (the policies path's auth)
--   BENCH_PATH, BENCH_BODY  another route and body (bench/management_overhead.sh); the body
--                 then replaces the generated one whole, BENCH_STREAM included
--   BENCH_STAGGER_MS, BENCH_CONNECTIONS  with both set, the first requests of the connections
--                 start spread evenly over BENCH_STAGGER_MS (see delay() below)
--
-- No request() or response() callback is defined, on purpose: wrk then builds the request
-- once and never enters Lua per request, so wrk spends as little CPU as possible. Only the paced
-- run defines delay(), which wrk calls before every request.
-- Errors are not lost: done() prints wrk's own error counters (socket errors, and statuses
-- above 399 under "status") on one line that compare.sh parses and checks.

local stream = os.getenv("BENCH_STREAM") == "true"
local tokens = os.getenv("BENCH_TOKENS")
local token_delay_ms = os.getenv("BENCH_TOKEN_DELAY_MS")

wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/api/generate"
wrk.body = os.getenv("BENCH_BODY") or ('{"model":"llama2","prompt":"Why is the sky blue?","stream":' ..
           (stream and "true" or "false") .. '}')
wrk.headers["Content-Type"] = "application/json"
if tokens and tokens ~= "" then
  wrk.headers["X-Fake-Tokens"] = tokens
end
if token_delay_ms and token_delay_ms ~= "" then
  wrk.headers["X-Fake-Token-Delay-Ms"] = token_delay_ms
end
local api_key = os.getenv("BENCH_API_KEY")
if api_key and api_key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. api_key
end

-- Paced streams: wrk opens every connection at once, so without this all streams would run in
-- lockstep, each token arriving for all of them in the same millisecond. Real clients are not
-- synchronised: the first request of connection i waits i/N of BENCH_STAGGER_MS (the length of
-- one answer), so the streams' tokens interleave evenly; later requests go out at once.
local stagger_ms = tonumber(os.getenv("BENCH_STAGGER_MS") or "")
local connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "")
if stagger_ms and connections and stagger_ms > 0 and connections > 0 then
  local started = 0
  function delay()
    if started >= connections then return 0 end
    started = started + 1
    return math.floor(stagger_ms * (started - 1) / connections)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d err_connect=%d err_read=%d " ..
    "err_write=%d err_status=%d err_timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
