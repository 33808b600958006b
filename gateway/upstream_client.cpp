#include "gateway/upstream_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <array>

namespace corral {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string upstream_reply::error_message() const {
  if (ec) {
    if (ec == beast::error::timeout) return "timed out";
    return ec.message();
  }
  return "status " + std::to_string(status) + (body.empty() ? "" : ": " + body);
}

std::string request_head(std::string_view method, std::string_view target, const backend& b,
                         std::string_view request_id, std::size_t body_size, bool has_body,
                         std::string_view extra) {
  std::string head;
  head.reserve(256 + extra.size());
  head.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(b.host_header()).append("\r\n");
  if (!request_id.empty()) head.append("X-Request-Id: ").append(request_id).append("\r\n");
  head.append(extra);
  if (has_body) {
    if (extra.empty()) head.append("Content-Type: application/json\r\n");
    head.append("Content-Length: ").append(std::to_string(body_size)).append("\r\n");
  }
  head.append("\r\n");
  return head;
}

namespace {

// A pooled (or new) connection to `b` with `head` and `body` written to it. On failure the
// reply says why, and the connection is null.
struct sent_request {
  upstream_connection_ptr conn;
  upstream_reply failure;
};

net::awaitable<sent_request> send_request(worker& w, const backend& b, const std::string& head, std::string_view body,
                                          millis timeout) {
  sent_request out;
  auto acquired = co_await w.pool.acquire(b, w.cfg()->ollama.connect_timeout);
  if (acquired.ec) {
    out.failure.ec = acquired.ec;
    out.failure.kind = acquired.ec == beast::error::timeout ? upstream_error_kind::timeout : upstream_error_kind::connect;
    co_return out;
  }
  acquired.conn->stream.expires_after(timeout);
  std::array<net::const_buffer, 2> bufs{net::buffer(head), net::buffer(body.data(), body.size())};
  auto [ec, n] = co_await net::async_write(acquired.conn->stream, bufs, net::as_tuple(net::use_awaitable));
  if (ec) {
    out.failure.ec = ec;
    out.failure.kind = upstream_error_kind::connect;
  }
  out.conn = std::move(acquired.conn);
  co_return out;
}

}  // namespace

net::awaitable<upstream_reply> fetch(worker& w, const backend& b, std::string_view method,
                                     std::string_view target, std::string_view body, millis timeout,
                                     std::string_view request_id) {
  upstream_reply reply;
  bool has_body = method == "POST" || method == "DELETE" || !body.empty();
  auto head = request_head(method, target, b, request_id, body.size(), has_body);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto sent = co_await send_request(w, b, head, body, timeout);
    if (!sent.conn) co_return sent.failure;
    auto& c = *sent.conn;
    beast::error_code wec = sent.failure.ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    parser.header_limit(64 * 1024);
    beast::error_code rec = wec;
    if (!rec) {
      auto [ec2, rn] = co_await http::async_read(c.stream, c.buffer, parser, net::as_tuple(net::use_awaitable));
      rec = ec2;
    }
    if (rec) {
      // A pooled connection the backend closed meanwhile: try once more on a fresh one.
      if (c.reused && attempt == 0 && rec != beast::error::timeout && !parser.got_some()) continue;
      reply.ec = rec;
      reply.kind = rec == beast::error::timeout ? upstream_error_kind::timeout : upstream_error_kind::protocol;
      co_return reply;
    }
    auto res = parser.release();
    reply.status = res.result_int();
    reply.content_type = std::string(res[http::field::content_type]);
    reply.body = std::move(res.body());
    if (res.keep_alive()) w.pool.release(b.index(), std::move(sent.conn));
    if (reply.status >= 500) reply.kind = upstream_error_kind::status_5xx;
    co_return reply;
  }
  co_return reply;
}

}  // namespace corral

#include <boost/beast/http/buffer_body.hpp>

namespace corral {

net::awaitable<upstream_reply> fetch_lines(worker& w, const backend& b, std::string_view method,
                                           std::string_view target, std::string_view body,
                                           millis idle_timeout,
                                           const std::function<void(std::string_view)>& on_line,
                                           std::string_view request_id) {
  upstream_reply reply;
  auto head = request_head(method, target, b, request_id, body.size(), true);
  auto sent = co_await send_request(w, b, head, body, idle_timeout);
  if (!sent.conn || sent.failure.ec) co_return sent.failure;
  auto& c = *sent.conn;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  auto [hec, hn] = co_await http::async_read_header(c.stream, c.buffer, parser, net::as_tuple(net::use_awaitable));
  if (hec) {
    reply.ec = hec;
    reply.kind = hec == beast::error::timeout ? upstream_error_kind::timeout : upstream_error_kind::protocol;
    co_return reply;
  }
  reply.status = parser.get().result_int();
  reply.content_type = std::string(parser.get()[http::field::content_type]);
  bool ok = reply.status / 100 == 2;
  std::string pending;
  char chunk[16 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    c.stream.expires_after(idle_timeout);
    auto [ec, n] = co_await http::async_read_some(c.stream, c.buffer, parser, net::as_tuple(net::use_awaitable));
    if (ec == http::error::need_buffer) ec = {};
    auto got = sizeof chunk - parser.get().body().size;
    if (!ok) {
      reply.body.append(chunk, got);
    } else {
      pending.append(chunk, got);
      std::size_t start = 0;
      for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
        std::string_view line(pending.data() + start, nl - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty()) on_line(line);
        start = nl + 1;
      }
      pending.erase(0, start);
    }
    if (ec) {
      reply.ec = ec;
      reply.kind = ec == beast::error::timeout ? upstream_error_kind::timeout : upstream_error_kind::broken_stream;
      co_return reply;
    }
  }
  if (ok && !pending.empty()) on_line(pending);
  if (parser.keep_alive()) w.pool.release(b.index(), std::move(sent.conn));
  co_return reply;
}

}  // namespace corral
