#include "gateway/blob_upload.hpp"

#include "gateway/fleet_routes.hpp"
#include "gateway/log.hpp"
#include "gateway/upstream_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <vector>

namespace corral {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

net::awaitable<void> proxy_blob_upload(worker& w, downstream& client, http::request_parser<http::buffer_body>& p,
                                       std::string_view forwarded) {
  const auto cfg = w.cfg();
  // Whatever happens, the client's body may be left unread: this connection ends here.
  client.keep_alive = false;
  auto only = primary_backend(w.state, 0);
  backend* target = nullptr;
  for (auto& b : w.state.backends())
    if (only & (backend_mask{1} << b->index())) target = b.get();
  if (!target) {
    co_await client.reply_error(api_flavor::ollama, 503, "no healthy backend");
    co_return;
  }
  auto& b = *target;
  auto length = p.content_length();
  std::string extra(forwarded);
  if (!length) extra.append("Transfer-Encoding: chunked\r\n");
  auto head = request_head("POST", p.get().target(), b, client.ctx.id, length.value_or(0), length.has_value(), extra);

  auto acquired = co_await w.pool.acquire(b, cfg->ollama.connect_timeout);
  if (acquired.ec) {
    b.report_failure("connect: " + acquired.ec.message());
    co_await client.reply_error(api_flavor::ollama, 502, "cannot connect to backend " + b.name() + ": " + acquired.ec.message());
    co_return;
  }
  auto& up = *acquired.conn;
  client.ctx.backend = b.name();
  b.begin_request();
  struct end_guard {
    backend& b;
    ~end_guard() { b.end_request(); }
  } guard{b};

  up.stream.expires_after(cfg->ollama.timeout);
  auto [hec, hn] = co_await net::async_write(up.stream, net::buffer(head), net::as_tuple(net::use_awaitable));
  if (hec) {
    co_await client.reply_error(api_flavor::ollama, 502, "backend " + b.name() + " refused the upload: " + hec.message());
    co_return;
  }

  std::vector<char> buf(256 * 1024);
  while (!p.is_done()) {
    p.get().body().data = buf.data();
    p.get().body().size = buf.size();
    client.stream.expires_after(cfg->server.body_timeout);
    auto [ec, n] = co_await http::async_read_some(client.stream, client.buffer, p, net::as_tuple(net::use_awaitable));
    client.stream.expires_never();
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      client.broken = true;
      client.ctx.error = "client upload broke: " + ec.message();
      co_return;  // the upstream connection closes with this frame: the backend drops the partial blob
    }
    std::size_t got = buf.size() - p.get().body().size;
    client.ctx.bytes_in += got;
    if (got == 0) continue;
    up.stream.expires_after(cfg->ollama.timeout);
    beast::error_code wec;
    if (length) {
      auto [e, m] = co_await net::async_write(up.stream, net::buffer(buf.data(), got), net::as_tuple(net::use_awaitable));
      wec = e;
    } else {
      char size_line[24];
      int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", got);
      std::array<net::const_buffer, 3> parts{net::buffer(size_line, static_cast<std::size_t>(len)),
                                             net::buffer(buf.data(), got), net::buffer("\r\n", 2)};
      auto [e, m] = co_await net::async_write(up.stream, parts, net::as_tuple(net::use_awaitable));
      wec = e;
    }
    if (wec) {
      b.report_failure("upload: " + wec.message());
      co_await client.reply_error(api_flavor::ollama, 502, "backend " + b.name() + " broke the upload: " + wec.message());
      co_return;
    }
  }
  if (!length) {
    auto [e, m] = co_await net::async_write(up.stream, net::buffer("0\r\n\r\n", 5), net::as_tuple(net::use_awaitable));
    if (e) {
      co_await client.reply_error(api_flavor::ollama, 502, "backend " + b.name() + " broke the upload: " + e.message());
      co_return;
    }
  }

  http::response_parser<http::string_body> res;
  res.body_limit(1u << 20);
  up.stream.expires_after(cfg->ollama.timeout);
  auto [rec, rn] = co_await http::async_read(up.stream, up.buffer, res, net::as_tuple(net::use_awaitable));
  if (rec) {
    b.report_failure("upload answer: " + rec.message());
    co_await client.reply_error(api_flavor::ollama, 502, "backend " + b.name() + " did not answer the upload: " + rec.message());
    co_return;
  }
  b.report_success();
  auto& r = res.get();
  std::string content_type(r[http::field::content_type]);
  std::string headers;
  for (const auto& f : r) {
    auto name = f.name_string();
    if (beast::iequals(name, "content-type") || beast::iequals(name, "content-length") ||
        beast::iequals(name, "connection") || beast::iequals(name, "keep-alive") ||
        beast::iequals(name, "transfer-encoding") || beast::iequals(name, "x-request-id"))
      continue;
    headers.append(name).append(": ").append(f.value()).append("\r\n");
  }
  std::string body = r.body();
  co_await client.reply(r.result_int(), content_type, body, headers);
}

}  // namespace corral
