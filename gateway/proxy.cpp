#include "gateway/proxy.hpp"

#include "gateway/backend_monitor.hpp"
#include "gateway/balancer.hpp"
#include "gateway/join_all.hpp"
#include "gateway/line_framer.hpp"
#include "gateway/log.hpp"
#include "gateway/upstream_client.hpp"
#include "gateway/wait_deadline.hpp"
#include "policies/policy_chain.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <array>
#include <charconv>
#include <cstring>
#include <memory>
#include <vector>

#include <sys/socket.h>

namespace corral {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {

constexpr std::size_t relay_buffer_initial = 64 * 1024;
constexpr std::size_t relay_buffer_max = 16u << 20;  // the longest NDJSON line / SSE event relayed
constexpr std::size_t token_tail_bytes = 1024;


bool is_hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 10> names{
      "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
      "upgrade", "content-length", "proxy-authenticate", "x-request-id"};
  for (auto n : names)
    if (beast::iequals(n, name)) return true;
  return false;
}

// The backend's response fields as they go to the client: "Name: value\r\n" each, without
// hop-by-hop fields (and without Content-Type unless asked).
std::string relayed_headers(const http::response_header<>& res, bool with_content_type) {
  std::string out;
  for (const auto& f : res) {
    auto name = f.name_string();
    if (is_hop_by_hop(name) || (!with_content_type && beast::iequals(name, "content-type"))) continue;
    out.append(name).append(": ").append(f.value()).append("\r\n");
  }
  return out;
}

struct in_flight_guard {
  explicit in_flight_guard(backend& b) : b_(b) { b_.begin_request(); }
  ~in_flight_guard() { b_.end_request(); }
  in_flight_guard(const in_flight_guard&) = delete;
  in_flight_guard& operator=(const in_flight_guard&) = delete;
  backend& b_;
};

enum class outcome { done, retry, failed };

struct attempt {
  outcome result = outcome::done;
  unsigned status = 0;           // failed: what to answer
  std::string message;           // failed/retry: why
  std::string upstream_body;     // retry on 503: the backend's own answer, kept for the client
  std::string upstream_type;
};

// Keeps the last bytes of what was relayed: the final chunk carries the token counts.
void keep_tail(std::string& tail, std::string_view data) {
  if (data.size() >= token_tail_bytes) {
    tail.assign(data.substr(data.size() - token_tail_bytes));
    return;
  }
  tail.append(data);
  if (tail.size() > 2 * token_tail_bytes) tail.erase(0, tail.size() - token_tail_bytes);
}

std::uint64_t number_after(std::string_view text, std::string_view key) {
  auto pos = text.rfind(key);
  if (pos == std::string_view::npos) return 0;
  pos += key.size();
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == ':')) ++pos;
  std::uint64_t v = 0;
  std::from_chars(text.data() + pos, text.data() + text.size(), v);
  return v;
}

// Watches the client while its request is proxied. A plain completion handler rather than a
// second coroutine raced with `||`: that costs two co_spawns and a parallel group per request,
// which showed in profiles. Shared, because the handler may run after the request is over.
struct client_watch {
  explicit client_watch(const net::any_io_executor& ex) : delay(ex) {}
  net::steady_timer delay;                  // the watch starts after watch_delay
  net::cancellation_signal stop;            // ends the wait when the request is done
  net::ip::tcp::socket* client = nullptr;
  net::ip::tcp::socket* upstream = nullptr; // the backend connection in use, if any
  bool done = false;                        // the request is over: touch nothing
  bool gone = false;                        // the client closed its connection
};

void arm_watch(const std::shared_ptr<client_watch>& st) {
  st->client->async_wait(
      net::ip::tcp::socket::wait_read,
      net::bind_cancellation_slot(st->stop.slot(), [st](const boost::system::error_code& ec) {
        if (ec || st->done) return;
        char byte;
        auto n = ::recv(st->client->native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) return;  // a pipelined request: the client is there; stop watching
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          arm_watch(st);
          return;
        }
        // Closed or reset: close the backend connection now, which makes Ollama stop.
        st->gone = true;
        if (st->upstream) {
          boost::system::error_code ignored;
          st->upstream->close(ignored);
        }
      }));
}

struct relay_state {
  byte_buffer& buf;
  std::string tail;
  client_watch* watch = nullptr;
  std::string filtered;  // records changed by the policy chain, as they go out
  std::string blocked;   // why a policy ended the stream ("" while it runs)
  std::string shaped;    // records reshaped for the client (response_shaper)
};

// Passes complete records through the response shaper; a final record without its terminator
// counts when `last`.
std::string_view shape_records(response_shaper& shaper, framing kind, std::string_view out, bool last,
                               relay_state& rs) {
  rs.shaped.clear();
  std::size_t consumed = 0;
  for_each_record(kind, out, [&](std::string_view rec) {
    shaper.on_record(rec, rs.shaped);
    consumed += rec.size();
  });
  if (last && consumed < out.size()) shaper.on_record(out.substr(consumed), rs.shaped);
  return rs.shaped;
}

// Passes the complete records in `out` through the chain's chunk hooks. Returns what goes out:
// `out` itself when nothing changed, else rs.filtered. On a block, rs.blocked says why and the
// result holds only the records before the blocked one. `last` marks the end of the body, whose
// final record may lack its terminator.
std::string_view filter_records(const policy_chain& chain, request_context& ctx, framing kind, std::string_view out,
                                bool last, relay_state& rs) {
  auto record_kind = kind == framing::sse ? chunk_kind::sse_event : chunk_kind::ndjson_line;
  bool changed = false;
  std::size_t consumed = 0;
  auto one = [&](std::string_view rec) {
    if (!rs.blocked.empty()) return;
    auto r = chain.on_response_chunk(ctx, record_kind, rec);
    if (r.act == chunk_result::action::block) {
      rs.blocked = r.message.empty() ? std::string("response blocked by a policy") : std::move(r.message);
      return;
    }
    if (r.act == chunk_result::action::replace && !changed) {
      rs.filtered.assign(out.data(), consumed);
      changed = true;
    }
    if (changed) rs.filtered.append(r.act == chunk_result::action::replace ? r.data : rec);
    consumed += rec.size();
  };
  for_each_record(kind, out, one);
  if (last && consumed < out.size()) one(out.substr(consumed));
  if (changed) return rs.filtered;
  return out.substr(0, consumed);
}

// Marks the backend connection in use for the watch, for as long as this object lives.
struct watched_upstream {
  watched_upstream(relay_state& rs, net::ip::tcp::socket& s) : rs_(rs) {
    if (rs_.watch) rs_.watch->upstream = &s;
  }
  ~watched_upstream() {
    if (rs_.watch) rs_.watch->upstream = nullptr;
  }
  watched_upstream(const watched_upstream&) = delete;
  watched_upstream& operator=(const watched_upstream&) = delete;
  relay_state& rs_;
};

bool client_gone(const relay_state& rs) { return rs.watch && rs.watch->gone; }

// Relays the upstream body after its head was read: framed (NDJSON/SSE, forwarded record by
// record) or raw. Returns "" on a clean end, else what broke.
net::awaitable<std::string> relay_body(worker& w, downstream& client, upstream_connection& c,
                                       http::response_parser<http::buffer_body>& p, bool framed,
                                       framing kind, bool chunked_out, relay_state& rs, const backend& b,
                                       wait_deadline& wait, const policy_chain* filters = nullptr,
                                       response_shaper* shaper = nullptr) {
  auto timeout = w.cfg()->ollama.timeout;
  line_framer framer(kind);
  auto& buf = rs.buf;
  buf.grow(relay_buffer_initial, 0);
  std::size_t pending = 0;
  std::size_t scanned = 0;
  while (!p.is_done()) {
    if (pending == buf.size) {
      if (buf.size >= relay_buffer_max) co_return "a streamed record exceeded " + std::to_string(relay_buffer_max) + " bytes";
      buf.grow(std::min(buf.size * 2, relay_buffer_max), pending);
    }
    p.get().body().data = buf.data.get() + pending;
    p.get().body().size = buf.size - pending;
    wait.begin();
    auto [ec, n] = co_await http::async_read_some(c.stream.socket(), c.buffer, p, net::as_tuple(net::use_awaitable));
    wait.end();
    if (ec == http::error::need_buffer) ec = {};
    if (ec && wait.expired()) ec = beast::error::timeout;
    // A read returns after one chunk; more lines the backend already sent may wait in
    // c.buffer. Take them now, without reading again, so one client write carries them all.
    // (Not the parser's eager mode: that reads on until the buffer is full, holding lines back.)
    while (!ec && !p.is_done() && c.buffer.size() != 0 && p.get().body().size != 0) {
      beast::error_code pec;
      auto used = p.put(c.buffer.data(), pec);
      c.buffer.consume(used);
      if (pec == http::error::need_buffer) pec = {};
      if (pec == http::error::need_more || (used == 0 && !pec)) break;
      if (pec) {
        ec = pec;
        break;
      }
    }
    std::size_t got = (buf.size - pending) - p.get().body().size;
    pending += got;
    std::size_t ready = pending;
    if (framed && !p.is_done()) {
      ready = framer.complete_prefix(std::string_view(buf.data.get(), pending), scanned);
      scanned = pending;
    }
    if (ready > 0) {
      std::string_view out(buf.data.get(), ready);
      if (!shaper) keep_tail(rs.tail, out);
      if (filters) out = filter_records(*filters, client.ctx, kind, out, p.is_done(), rs);
      if (shaper) out = shape_records(*shaper, kind, out, p.is_done(), rs);
      if (!out.empty()) {
        if (chunked_out) co_await client.write_chunk(out);
        else co_await client.write_body(out);
      }
      if (client.broken) co_return "client went away";
      if (!rs.blocked.empty()) co_return "blocked";
      std::memmove(buf.data.get(), buf.data.get() + ready, pending - ready);
      pending -= ready;
      scanned = pending;
    }
    if (ec) {
      if (client_gone(rs)) co_return "client went away";
      if (ec == beast::error::timeout)
        co_return "backend " + b.name() + " sent nothing for " + format_duration(timeout) + " mid-stream";
      co_return "backend " + b.name() + " broke the stream: " + ec.message();
    }
  }
  co_return std::string{};
}

struct whole_body {
  std::string body;
  std::string error;       // "" when the body was read to its end
  bool too_large = false;  // the backend is fine; the answer is just too big to filter
};

// Reads a whole response body, up to `limit` bytes (a 503's answer kept for the client; a
// body a policy filters as one). Each wait is bounded by ollama.timeout, as in the relay.
net::awaitable<whole_body> read_whole_body(upstream_connection& c, http::response_parser<http::buffer_body>& p,
                                           wait_deadline& wait, relay_state& rs, std::size_t limit) {
  whole_body out;
  auto& buf = rs.buf;
  buf.grow(relay_buffer_initial, 0);
  while (!p.is_done()) {
    if (out.body.size() >= limit) {
      out.error = "the response is over " + std::to_string(limit) + " bytes";
      out.too_large = true;
      co_return out;
    }
    p.get().body().data = buf.data.get();
    p.get().body().size = buf.size;
    wait.begin();
    auto [ec, n] = co_await http::async_read_some(c.stream.socket(), c.buffer, p, net::as_tuple(net::use_awaitable));
    wait.end();
    if (ec == http::error::need_buffer) ec = {};
    if (ec && wait.expired()) ec = beast::error::timeout;
    out.body.append(buf.data.get(), buf.size - p.get().body().size);
    if (ec) {
      out.error = ec.message();
      co_return out;
    }
  }
  co_return out;
}

net::awaitable<attempt> try_backend(worker& w, downstream& client, const proxy_request& req, backend& b,
                                    bool may_retry, relay_state& rs) {
  const auto cfg = w.cfg();
  auto& metrics = w.state.metrics();
  bool has_body = !req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "DELETE";
  auto head = request_head(req.method, req.target, b, client.ctx.id, req.body.size(), has_body, req.forwarded_headers);
  in_flight_guard guard(b);
  auto fail = [&](upstream_error_kind kind, std::string why) {
    b.report_failure(why);
    metrics.count_upstream_error(static_cast<std::size_t>(w.index), b.index(), kind);
    attempt a;
    a.result = outcome::retry;
    a.message = std::move(why);
    return a;
  };

  for (int fresh = 0; fresh < 2; ++fresh) {
    auto acquired = co_await w.pool.acquire(b, cfg->ollama.connect_timeout);
    if (acquired.ec) {
      bool timed_out = acquired.ec == beast::error::timeout;
      std::string why = "cannot connect to backend " + b.name() + ": ";
      if (timed_out) why += "timed out after " + format_duration(cfg->ollama.connect_timeout);
      else why += acquired.ec.message();
      co_return fail(timed_out ? upstream_error_kind::timeout : upstream_error_kind::connect, std::move(why));
    }
    auto& c = *acquired.conn;
    watched_upstream watched(rs, c.stream.socket());
    if (client_gone(rs)) {
      client.broken = true;
      co_return attempt{};
    }
    // ollama.timeout bounds each wait for the backend: sending, the first byte, every gap.
    if (!c.deadline)
      c.deadline = std::make_unique<wait_deadline>(c.stream.get_executor(), c.stream.socket(), cfg->ollama.timeout);
    auto& wait = *c.deadline;
    wait.begin();
    std::array<net::const_buffer, 2> bufs{net::buffer(head), net::buffer(req.body.data(), req.body.size())};
    auto [wec, wn] = co_await net::async_write(c.stream.socket(), bufs, net::as_tuple(net::use_awaitable));
    http::response_parser<http::buffer_body> p;
    p.header_limit(64 * 1024);
    p.body_limit(boost::none);
    if (req.method == "HEAD") p.skip(true);
    beast::error_code ec = wec;
    if (!ec) {
      auto [hec, hn] = co_await http::async_read_header(c.stream.socket(), c.buffer, p, net::as_tuple(net::use_awaitable));
      ec = hec;
    }
    wait.end();
    if (ec && wait.expired()) ec = beast::error::timeout;
    if (ec && client_gone(rs)) {
      client.broken = true;
      co_return attempt{};
    }
    if (ec) {
      if (c.reused && fresh == 0 && ec != beast::error::timeout && !p.got_some()) continue;  // stale keep-alive
      if (ec == beast::error::timeout) {
        // The first-byte wait is bounded by ollama.timeout; another backend would likely wait as
        // long (a model loading), so this answers 504 rather than failing over.
        b.report_failure("first-byte timeout");
        metrics.count_upstream_error(static_cast<std::size_t>(w.index), b.index(), upstream_error_kind::timeout);
        attempt a;
        a.result = outcome::failed;
        a.status = 504;
        a.message = "backend " + b.name() + " did not answer within " + format_duration(cfg->ollama.timeout);
        co_return a;
      }
      co_return fail(upstream_error_kind::protocol, "backend " + b.name() + " failed before answering: " + ec.message());
    }

    auto& res = p.get();
    unsigned status = res.result_int();
    if (status == 503 && may_retry) {
      // Ollama's "server busy" (queue full): safe to send elsewhere. A busy backend is not a
      // broken one, so this does not count towards ejection.
      metrics.count_upstream_error(static_cast<std::size_t>(w.index), b.index(), upstream_error_kind::status_5xx);
      attempt a;
      a.result = outcome::retry;
      a.message = "backend " + b.name() + " answered 503";
      a.upstream_type = std::string(res[http::field::content_type]);
      auto busy = co_await read_whole_body(c, p, wait, rs, 64 * 1024);
      a.upstream_body = std::move(busy.body);
      if (p.is_done() && p.keep_alive()) w.pool.release(b.index(), std::move(acquired.conn));
      co_return a;
    }
    if (status == 502 || status == 504) {
      b.report_failure("status " + std::to_string(status));
      metrics.count_upstream_error(static_cast<std::size_t>(w.index), b.index(), upstream_error_kind::status_5xx);
    } else {
      b.report_success();
    }
    client.ctx.backend = b.name();

    // The response head, relayed without hop-by-hop fields.
    std::string headers = relayed_headers(res, true);
    std::string_view content_type = res[http::field::content_type];
    bool sse = content_type.find("event-stream") != std::string_view::npos;
    bool ndjson = content_type.find("ndjson") != std::string_view::npos;
    bool bodyless = req.method == "HEAD" || status == 204 || status == 304 || p.is_done();
    auto length = p.content_length();
    attempt done;
    const policy_chain* filters = bodyless ? nullptr : client.policies;
    if (filters) {
      filters->on_response_head(client.ctx, {status, content_type});
      if (client.ctx.chunk_policies == 0) filters = nullptr;
    }
    // A 2xx answer is reshaped when the route asks for it; errors go out as the backend said them.
    response_shaper* shaper = (bodyless || status / 100 != 2) ? nullptr : client.shaper;
    if ((filters || shaper) && !(sse || ndjson)) {
      // A filtered or reshaped non-streaming body: read whole, changed as one, sent with its new
      // length.
      auto whole = co_await read_whole_body(c, p, wait, rs, relay_buffer_max);
      if (!whole.error.empty()) {
        if (client_gone(rs)) {
          client.broken = true;
          co_return done;
        }
        if (whole.too_large) {
          client.ctx.error = whole.error + ", too large for the output filter";
          co_await client.reply_error(req.route.flavor, 502, client.ctx.error);
          co_return done;  // the connection, its body unread, is dropped
        }
        co_return fail(upstream_error_kind::broken_stream, "backend " + b.name() + " broke the body: " + whole.error);
      }
      if (!shaper) keep_tail(rs.tail, whole.body);
      chunk_result r;
      if (filters) r = filters->on_response_chunk(client.ctx, chunk_kind::whole_body, whole.body);
      if (r.act == chunk_result::action::block) {
        client.ctx.error = r.message;
        co_await client.reply_error(req.route.flavor, 403, r.message);
      } else {
        client.ctx.status = status;
        std::string_view out = r.act == chunk_result::action::replace ? r.data : std::string_view(whole.body);
        // reply() writes the Content-Type itself; a reshaped answer keeps none of the backend's.
        std::string extra = shaper ? std::string() : relayed_headers(res, false);
        std::string shaped;
        std::string_view type = content_type;
        if (shaper) {
          shaped = shaper->on_whole(out);
          out = shaped;
          type = shaper->whole_content_type();
        }
        co_await client.reply(status, type, out, extra);
      }
      if (shaper) shaper->usage(client.ctx);
      else count_tokens(rs.tail, client.ctx);
      if (p.is_done() && p.keep_alive() && c.buffer.size() == 0) w.pool.release(b.index(), std::move(acquired.conn));
      co_return done;
    }
    if (!filters && !shaper && (bodyless || (length && !p.chunked()))) {
      // Same framing as the backend: Content-Length (or no body).
      client.ctx.status = status;
      auto out = response_head_start(status, client);
      out.append(headers);
      if (length) out.append("Content-Length: ").append(std::to_string(*length)).append("\r\n");
      else if (!bodyless) out.append("Content-Length: 0\r\n");
      out.append("\r\n");
      client.head_sent = true;
      client.pending_head = std::move(out);  // goes out with the first body bytes
      if (bodyless) co_await client.write_raw({});
      if (!bodyless && !client.broken) {
        auto broke = co_await relay_body(w, client, c, p, false, framing::ndjson, false, rs, b, wait);
        if (!broke.empty() && !client.pending_head.empty() && !client.broken && !client_gone(rs)) {
          // Broke before its first body byte: nothing reached the client, so another backend may
          // still serve it.
          client.pending_head.clear();
          client.head_sent = false;
          client.ctx.status = 0;
          co_return fail(upstream_error_kind::broken_stream, broke);
        }
        if (!broke.empty()) {
          // A Content-Length body cannot carry an error record: the connection must close.
          client.keep_alive = false;
          client.broken = true;
          if (!client.ctx.error.size()) client.ctx.error = broke;
          if (broke != "client went away") {
            b.report_failure(broke);
            metrics.count_upstream_error(static_cast<std::size_t>(w.index), b.index(), upstream_error_kind::broken_stream);
          }
          co_return done;
        }
      }
    } else {
      if (shaper) headers = "Content-Type: " + std::string(shaper->stream_content_type()) + "\r\n";
      co_await client.begin_chunked(status, headers);
      if (!client.broken) {
        auto kind = sse ? framing::sse : framing::ndjson;
        auto broke = co_await relay_body(w, client, c, p, sse || ndjson, kind, true, rs, b, wait, filters, shaper);
        if (!rs.blocked.empty()) {
          // A policy ended the stream: one error record, and the backend connection is dropped
          // (closing it stops the generation). Blocked before anything went out: an error answer.
          client.ctx.error = rs.blocked;
          if (!client.broken && !client.pending_head.empty()) {
            client.pending_head.clear();
            client.head_sent = false;
            co_await client.reply_error(req.route.flavor, 403, rs.blocked);
            co_return done;
          }
          if (!client.broken) {
            // Built before the co_await (GCC 12 and conditional temporaries).
            std::string last = shaper ? shaper->error_record(rs.blocked) : stream_error_record(req.route.flavor, sse, rs.blocked);
            co_await client.write_chunk(last);
            co_await client.end_chunked();
          }
          co_return done;
        }
        if (!broke.empty() && !client.pending_head.empty() && !client.broken && !client_gone(rs)) {
          client.pending_head.clear();  // nothing reached the client: fail over
          client.head_sent = false;
          client.ctx.status = 0;
          co_return fail(upstream_error_kind::broken_stream, broke);
        }
        if (!broke.empty()) {
          client.ctx.error = broke;
          if (broke == "client went away") co_return done;
          if (!(sse || ndjson)) {
            // Not a line stream: an error record would corrupt the body. End the connection
            // without the last chunk, so the client sees an incomplete answer.
            b.report_failure(broke);
            metrics.count_upstream_error(static_cast<std::size_t>(w.index), b.index(), upstream_error_kind::broken_stream);
            client.keep_alive = false;
            client.broken = true;
            co_return done;
          }
          b.report_failure(broke);
          metrics.count_upstream_error(static_cast<std::size_t>(w.index), b.index(),
                                       broke.find("sent nothing") != std::string::npos ? upstream_error_kind::timeout
                                                                                        : upstream_error_kind::broken_stream);
          log(log_level::warn, "stream broke after its first byte",
              {{"request_id", client.ctx.id}, {"backend", b.name()}, {"error", broke}});
          // The partial record (if any) is dropped: clients parse whole lines only.
          std::string last = shaper ? shaper->error_record(broke) : stream_error_record(req.route.flavor, sse, broke);
          co_await client.write_chunk(last);
          co_await client.end_chunked();
          co_return done;
        }
      }
      co_await client.end_chunked();
    }
    if (shaper) shaper->usage(client.ctx);
    else count_tokens(rs.tail, client.ctx);
    if (p.is_done() && p.keep_alive() && c.buffer.size() == 0) w.pool.release(b.index(), std::move(acquired.conn));
    co_return done;
  }
  co_return fail(upstream_error_kind::protocol, "backend " + b.name() + " closed the connection");
}

net::awaitable<void> refresh_all_healthy(worker& w) {
  std::vector<net::awaitable<void>> tasks;
  auto healthy = w.state.healthy_mask();
  for (auto& b : w.state.backends())
    if ((healthy >> b->index()) & 1) tasks.push_back(refresh_models(w, *b));
  co_await join_all(std::move(tasks));
}

net::awaitable<void> proxy_attempts(worker& w, downstream& client, const proxy_request& req, client_watch* watch) {
  const auto cfg = w.cfg();
  auto& metrics = w.state.metrics();
  auto& backends = w.state.backends();
  auto flavor = req.route.flavor;

  backend_mask has = 0;
  backend_mask loaded = 0;
  if (!req.model.empty()) {
    has = co_await backends_with_model(w, req.model, true);
    loaded = w.catalog()->loaded_on(req.model);
  } else {
    for (auto& b : backends) has |= backend_mask{1} << b->index();
  }
  if (req.only) has &= req.only;

  std::vector<balancer_candidate> candidates;
  candidates.reserve(backends.size());
  byte_buffer own_buffer;  // only when the caller gave none
  relay_state rs{client.relay ? *client.relay : own_buffer, {}, watch, {}, {}, {}};
  backend_mask tried = 0;
  attempt last;
  int max_attempts = 1 + cfg->ollama.max_retries;
  for (int i = 0; i < max_attempts; ++i) {
    candidates.clear();
    auto now = steady_clock::now();
    for (auto& b : backends) {
      auto bit = backend_mask{1} << b->index();
      candidates.push_back({b->index(), b->healthy(now), (has & bit) != 0, (loaded & bit) != 0, b->in_flight(),
                            b->config().weight});
    }
    auto choice = choose_backend(candidates, tried, cfg->ollama.max_concurrent, w.rotation++);
    if (choice.index < 0) {
      if (i > 0) break;  // every candidate failed: answer with the last failure below
      using r = balancer_choice::none_reason;
      // Messages are built before the co_await: GCC 12 mishandles conditional temporaries in
      // co_await expressions.
      std::string message;
      unsigned status = 503;
      std::string_view retry_after = "Retry-After: 1\r\n";
      if (choice.reason == r::unknown_model) {
        status = 404;
        retry_after = {};
        message = "model \"" + req.model + "\" not found, try pulling it first";
      } else if (choice.reason == r::all_busy) {
        message = "server busy, please try again.  every backend";
        if (!req.model.empty()) message += " with model \"" + req.model + "\"";
        message += " is at ollama.max_concurrent (" + std::to_string(cfg->ollama.max_concurrent) + ")";
      } else {
        message = "no healthy backend";
        if (!req.model.empty()) message += " has model \"" + req.model + "\"";
      }
      co_await client.reply_error(flavor, status, message, retry_after);
      co_return;
    }
    auto& b = *backends[choice.index];
    tried |= backend_mask{1} << choice.index;
    if (i > 0) metrics.count_retry(static_cast<std::size_t>(w.index));
    ++client.ctx.attempts;
    last = co_await try_backend(w, client, req, b, i + 1 < max_attempts, rs);
    if (last.result == outcome::done || client_gone(rs)) co_return;
    if (last.result == outcome::failed) {
      co_await client.reply_error(flavor, last.status, last.message);
      co_return;
    }
    log(log_level::warn, "backend failed before the first byte",
        {{"request_id", client.ctx.id}, {"backend", b.name()}, {"error", last.message}});
  }
  client.ctx.error = last.message;
  if (!last.upstream_body.empty()) {
    co_await client.reply(503, last.upstream_type, last.upstream_body);
    co_return;
  }
  if (last.message.empty()) last.message = "no backend could serve the request";
  co_await client.reply_error(flavor, 502, last.message);
}

}  // namespace

void count_tokens(std::string_view tail, request_context& ctx) {
  if (tail.find("\"eval_count\"") != std::string_view::npos || tail.find("\"prompt_eval_count\"") != std::string_view::npos) {
    ctx.prompt_tokens = number_after(tail, "\"prompt_eval_count\"");
    ctx.completion_tokens = number_after(tail, "\"eval_count\"");
    ctx.load_ns = number_after(tail, "\"load_duration\"");
  } else if (tail.find("\"usage\"") != std::string_view::npos) {
    ctx.prompt_tokens = number_after(tail, "\"prompt_tokens\"");
    ctx.completion_tokens = number_after(tail, "\"completion_tokens\"");
  }
}

net::awaitable<backend_mask> backends_with_model(worker& w, const std::string& model, bool allow_auto_pull) {
  auto has = w.catalog()->installed_on(model);
  if (has) co_return has;
  // A model pulled behind corral's back is found by asking the backends again, but at most
  // once a second per worker: unknown names must not turn into a storm of /api/tags.
  auto now = steady_clock::now();
  if (now - w.last_catalog_refresh >= std::chrono::seconds(1)) {
    w.last_catalog_refresh = now;
    co_await refresh_all_healthy(w);
  }
  has = w.catalog()->installed_on(model);
  if (has || !allow_auto_pull || !w.cfg()->ollama.auto_pull) co_return has;

  // Auto-pull onto the least-loaded healthy backend.
  backend* target = nullptr;
  now = steady_clock::now();
  for (auto& b : w.state.backends())
    if (b->healthy(now) && (!target || b->in_flight() < target->in_flight())) target = b.get();
  if (!target) co_return 0;
  log(log_level::info, "auto-pulling model", {{"model", model}, {"backend", target->name()}});
  json::object body;
  body["model"] = model;
  body["stream"] = true;
  std::string last_error;
  auto reply = co_await fetch_lines(w, *target, "POST", "/api/pull", json::serialize(body), w.cfg()->ollama.timeout,
                                    [&](std::string_view line) {
                                      if (line.find("\"error\"") != std::string_view::npos) last_error = line;
                                    });
  if (reply.ec || reply.status != 200 || !last_error.empty()) {
    log(log_level::warn, "auto-pull failed",
        {{"model", model}, {"backend", target->name()}, {"error", last_error.empty() ? reply.error_message() : last_error}});
    co_return 0;
  }
  co_await refresh_models(w, *target);
  co_return w.catalog()->installed_on(model);
}

net::awaitable<void> proxy(worker& w, downstream& client, const proxy_request& req) {
  // Most answers come back within milliseconds; watching the client costs a system call, so
  // the watch starts only once the request has run for watch_delay. A client that left before
  // then is seen at once when the watch starts (its socket is already readable), so a
  // disconnect is acted on within 100 ms either way.
  constexpr auto watch_delay = std::chrono::milliseconds(40);
  auto watch = std::make_shared<client_watch>(client.stream.get_executor());
  watch->client = &client.stream.socket();
  watch->delay.expires_after(watch_delay);
  watch->delay.async_wait([watch](const boost::system::error_code& ec) {
    if (!ec && !watch->done) arm_watch(watch);
  });
  struct end_watch {  // also on an exception: the handlers must never touch a dead socket
    client_watch& st;
    ~end_watch() {
      st.done = true;
      st.delay.cancel();
      st.stop.emit(net::cancellation_type::all);
    }
  };
  {
    end_watch ending{*watch};
    co_await proxy_attempts(w, client, req, watch.get());
  }
  if (watch->gone) {
    // The client went away: the backend connection was closed at that moment.
    client.broken = true;
    if (client.ctx.status == 0 || !client.head_sent) client.ctx.status = 499;
    if (client.ctx.error.empty()) client.ctx.error = "client closed the connection";
  }
}

}  // namespace corral
