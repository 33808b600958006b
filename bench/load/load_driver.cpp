#include "bench/load/load_driver.hpp"

#include "bench/load/response_tokens.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <thread>

namespace corral::bench {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

double seconds_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// One keep-alive connection with the buffers it reuses for every answer.
struct connection {
  explicit connection(net::io_context& ioc) : stream(ioc) {}
  beast::tcp_stream stream;
  bool open = false;
  beast::flat_buffer read_buffer;
  std::string pending;  // bytes of an incomplete line, or a whole non-streamed body
  char chunk[16 * 1024];
};

// What every thread shares for one point.
struct shared_run {
  const bench_options& opts;
  const std::vector<std::string>& requests;
  tcp::resolver::results_type endpoints;
  clock_type::time_point start;
  clock_type::time_point deadline;  // time_point::max() without --duration
  std::atomic<std::uint64_t> issued{0};
  live_counters& live;

  // The ticket of the next request, or false when the run's bounds are reached.
  bool claim(std::uint64_t& ticket, clock_type::time_point now) {
    if (now >= deadline) return false;
    ticket = issued.fetch_add(1, std::memory_order_relaxed);
    return opts.requests == 0 || ticket < opts.requests;
  }
};

struct thread_state {
  net::io_context ioc{1};
  std::vector<request_sample> samples;
  std::vector<double> inter_token;
  std::vector<std::unique_ptr<connection>> idle;  // open loop: connections between requests
  std::mt19937_64 rng;
};

// The per-answer bookkeeping of the bytes as they arrive.
struct answer {
  clock_type::time_point start;
  clock_type::time_point last_piece;
  bool sse = false;
  bool streamed = false;
  bool done = false;
  bool error = false;
  double ttft = -1;
  token_tally tally;
};

void on_piece(thread_state& ts, answer& a, const piece_info& info, clock_type::time_point now, bool timed) {
  a.tally.add(info);
  if (info.done) a.done = true;
  if (info.error || info.malformed) a.error = true;
  if (!info.content || !timed) return;
  if (a.ttft < 0) a.ttft = seconds_between(a.start, now);
  else ts.inter_token.push_back(seconds_between(a.last_piece, now));
  a.last_piece = now;
}

// Hands every complete line in `pending` to the reader; keeps the incomplete tail. Only the
// lines are parsed: the bytes between are never copied again.
void take_lines(thread_state& ts, answer& a, std::string& pending, clock_type::time_point now) {
  std::size_t start = 0;
  for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
    std::string_view line(pending.data() + start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!a.sse) {
      on_piece(ts, a, read_ollama_piece(line), now, true);
    } else if (line.starts_with("data:")) {
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      on_piece(ts, a, read_openai_piece(line), now, true);
    }
  }
  pending.erase(0, start);
}

error_kind io_error_kind(const boost::system::error_code& ec) {
  return ec == beast::error::timeout ? error_kind::timeout : error_kind::broken_stream;
}

net::awaitable<error_kind> connect(shared_run& run, connection& c) {
  c.stream.expires_after(std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(run.opts.timeout_s)));
  auto [ec, ep] = co_await c.stream.async_connect(run.endpoints, use_tuple);
  if (ec) co_return ec == beast::error::timeout ? error_kind::timeout : error_kind::connect;
  c.stream.socket().set_option(tcp::no_delay(true));
  c.open = true;
  c.read_buffer.clear();
  co_return error_kind::none;
}

// One request and its whole answer on `c`; the connection stays open for the next one when
// the server keeps it alive.
net::awaitable<void> exchange(shared_run& run, thread_state& ts, connection& c, const std::string& request,
                              clock_type::time_point due) {
  request_sample sample;
  sample.start = seconds_between(run.start, due);
  answer a;
  a.start = due;
  bool reused = c.open;
  for (int attempt = 0;; ++attempt) {
    if (!c.open) {
      auto kind = co_await connect(run, c);
      if (kind != error_kind::none) {
        sample.error = kind;
        break;
      }
    }
    c.stream.expires_after(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(run.opts.timeout_s)));
    auto [wec, wn] = co_await net::async_write(c.stream, net::buffer(request), use_tuple);
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    boost::system::error_code hec = wec;
    if (!hec) {
      auto [ec, n] = co_await http::async_read_header(c.stream, c.read_buffer, parser, use_tuple);
      hec = ec;
    }
    if (hec) {
      c.stream.close();
      c.open = false;
      // A kept-alive connection the server closed while idle (nothing of an answer came back):
      // send again on a new one. Any other failure is the server's, and counted.
      bool stale = hec == net::error::eof || hec == http::error::end_of_stream || hec == net::error::connection_reset ||
                   hec == net::error::broken_pipe;
      if (reused && attempt == 0 && stale && !parser.got_some()) continue;
      sample.error = io_error_kind(hec);
      break;
    }
    auto& head = parser.get();
    sample.status = head.result_int();
    a.sse = head[http::field::content_type].starts_with("text/event-stream");
    a.streamed = a.sse || head[http::field::content_type].starts_with("application/x-ndjson");
    bool timed = a.streamed && sample.status >= 200 && sample.status < 300;
    c.pending.clear();
    boost::system::error_code bec;
    while (!parser.is_done()) {
      head.body().data = c.chunk;
      head.body().size = sizeof c.chunk;
      auto [ec, n] = co_await http::async_read_some(c.stream, c.read_buffer, parser, use_tuple);
      if (ec && ec != http::error::need_buffer) {
        bec = ec;
        break;
      }
      std::size_t got = sizeof c.chunk - head.body().size;
      if (got == 0) continue;
      c.pending.append(c.chunk, got);
      if (timed) take_lines(ts, a, c.pending, clock_type::now());
    }
    auto now = clock_type::now();
    if (bec) {
      sample.error = io_error_kind(bec);
    } else if (sample.status < 200 || sample.status >= 300) {
      sample.error = error_kind::status;  // a redirect or an error is not an answer
    } else if (timed) {
      c.pending.push_back('\n');  // a last line without its newline still counts
      take_lines(ts, a, c.pending, now);
      if (!a.done || a.error) sample.error = error_kind::broken_stream;
    } else {
      piece_info info;
      if (is_openai(run.opts.api)) info = read_openai_piece(c.pending);
      else info = read_ollama_piece(c.pending);
      on_piece(ts, a, info, now, false);
      if (a.error) sample.error = error_kind::broken_stream;
    }
    if (bec || !head.keep_alive()) {
      c.stream.close();
      c.open = false;
    }
    break;
  }
  auto end = clock_type::now();
  sample.end = seconds_between(run.start, end);
  sample.ttft = a.ttft;
  sample.output_tokens = a.tally.output_tokens();
  sample.prompt_tokens = a.tally.prompt_tokens();
  ts.samples.push_back(sample);
  run.live.completed.fetch_add(1, std::memory_order_relaxed);
  run.live.output_tokens.fetch_add(sample.output_tokens, std::memory_order_relaxed);
  if (sample.error != error_kind::none) run.live.failed.fetch_add(1, std::memory_order_relaxed);
}

net::awaitable<void> closed_loop_worker(shared_run& run, thread_state& ts) {
  connection c(ts.ioc);
  for (;;) {
    auto now = clock_type::now();
    std::uint64_t ticket = 0;
    if (!run.claim(ticket, now)) break;
    co_await exchange(run, ts, c, run.requests[ticket % run.requests.size()], now);
  }
}

net::awaitable<void> open_loop_request(shared_run& run, thread_state& ts, std::uint64_t ticket,
                                       clock_type::time_point due) {
  std::unique_ptr<connection> c;
  if (!ts.idle.empty()) {
    c = std::move(ts.idle.back());
    ts.idle.pop_back();
  } else {
    c = std::make_unique<connection>(ts.ioc);
  }
  co_await exchange(run, ts, *c, run.requests[ticket % run.requests.size()], due);
  if (c->open) ts.idle.push_back(std::move(c));
}

void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

// Arrivals of one thread: its share of the rate, the threads' first arrivals staggered.
net::awaitable<void> arrivals_loop(shared_run& run, thread_state& ts, double rate, double first_offset) {
  net::steady_timer timer(ts.ioc);
  std::exponential_distribution<double> poisson_gap(rate);
  auto gap = [&] {
    double s = run.opts.arrival == arrivals::poisson ? poisson_gap(ts.rng) : 1.0 / rate;
    return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
  };
  auto due = run.start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(first_offset));
  for (;;) {
    timer.expires_at(due);
    auto [ec] = co_await timer.async_wait(use_tuple);
    std::uint64_t ticket = 0;
    if (ec || !run.claim(ticket, due)) break;
    net::co_spawn(ts.ioc, open_loop_request(run, ts, ticket, due), rethrow);
    due += gap();
  }
}

}  // namespace

std::string_view error_kind_name(error_kind k) {
  switch (k) {
    case error_kind::none: return "none";
    case error_kind::connect: return "connect";
    case error_kind::status: return "status";
    case error_kind::broken_stream: return "broken_stream";
    case error_kind::timeout: return "timeout";
  }
  return "?";
}

std::string load_point::label() const {
  if (!open_loop) return "c=" + std::to_string(concurrency);
  char buf[32];
  std::snprintf(buf, sizeof buf, "r=%g/s", rate);
  return buf;
}

point_samples run_load(const bench_options& o, const base_url& url, const std::vector<std::string>& requests,
                       const load_point& point, live_counters& live) {
  net::io_context resolve_ctx;
  tcp::resolver resolver(resolve_ctx);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(url.host, url.port, ec);
  if (ec) throw std::runtime_error("cannot resolve " + url.host + ": " + ec.message());

  shared_run run{o, requests, endpoints, clock_type::now(), clock_type::time_point::max(), {}, live};
  if (o.duration_s > 0)
    run.deadline = run.start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.duration_s));

  std::vector<std::unique_ptr<thread_state>> states;
  for (unsigned t = 0; t < o.threads; ++t) {
    states.push_back(std::make_unique<thread_state>());
    states.back()->rng.seed(o.seed + t);
  }
  if (point.open_loop) {
    const double per_thread = point.rate / o.threads;
    for (unsigned t = 0; t < o.threads; ++t)
      net::co_spawn(states[t]->ioc, arrivals_loop(run, *states[t], per_thread, t / point.rate), rethrow);
  } else {
    for (unsigned w = 0; w < point.concurrency; ++w)
      net::co_spawn(states[w % o.threads]->ioc, closed_loop_worker(run, *states[w % o.threads]), rethrow);
  }
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < o.threads; ++t) threads.emplace_back([&s = *states[t]] { s.ioc.run(); });
  states[0]->ioc.run();
  for (auto& t : threads) t.join();

  point_samples out;
  out.point = point;
  for (auto& s : states) {
    out.requests.insert(out.requests.end(), s->samples.begin(), s->samples.end());
    out.inter_token.insert(out.inter_token.end(), s->inter_token.begin(), s->inter_token.end());
  }
  // Rates are over the time the successful answers took: a request that failed or timed out
  // late must not stretch the window (and so shrink every rate).
  for (const auto& r : out.requests)
    if (r.error == error_kind::none) out.wall = std::max(out.wall, r.end);
  return out;
}

}  // namespace corral::bench
