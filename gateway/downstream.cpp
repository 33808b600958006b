#include "gateway/downstream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>

namespace corral {
namespace net = boost::asio;

std::string response_head_start(unsigned status, const downstream& d) {
  std::string head;
  head.reserve(256);
  head.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(status_reason(status)).append("\r\n");
  if (!d.ctx.id.empty()) head.append("X-Request-Id: ").append(d.ctx.id).append("\r\n");
  if (!d.keep_alive) head.append("Connection: close\r\n");
  else if (d.http10) head.append("Connection: keep-alive\r\n");
  return head;
}

net::awaitable<void> downstream::write_raw(std::string_view a, std::string_view b) {
  if (broken) co_return;
  if (capture) {  // a hand-made head (pending_head) is not part of the kept answer
    pending_head.clear();
    co_return;
  }
  std::array<net::const_buffer, 3> bufs{net::buffer(pending_head), net::buffer(a.data(), a.size()),
                                        net::buffer(b.data(), b.size())};
  if (send_deadline) send_deadline->begin();
  auto [ec, n] = co_await net::async_write(stream.socket(), bufs, net::as_tuple(net::use_awaitable));
  if (send_deadline) send_deadline->end();
  pending_head.clear();
  if (ec) broken = true;
}

net::awaitable<void> downstream::write_body(std::string_view data) {
  if (!data.empty() && ctx.first_byte == request_context::clock::time_point{})
    ctx.first_byte = request_context::clock::now();
  ctx.bytes_out += data.size();
  if (capture) capture->append(data);
  co_await write_raw(data);
}

net::awaitable<void> downstream::reply(unsigned status, std::string_view content_type, std::string_view body,
                                       std::string_view extra_headers) {
  ctx.status = status;
  auto head = response_head_start(status, *this);
  if (!content_type.empty()) head.append("Content-Type: ").append(content_type).append("\r\n");
  head.append(extra_headers);
  head.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
  head_sent = true;
  if (capture) {
    capture->assign(body);
    ctx.bytes_out += body.size();
    co_return;
  }
  if (!head_only) {
    if (!body.empty() && ctx.first_byte == request_context::clock::time_point{})
      ctx.first_byte = request_context::clock::now();
    ctx.bytes_out += body.size();
    co_await write_raw(head, body);
  } else {
    co_await write_raw(head);
  }
}

net::awaitable<void> downstream::reply_error(api_flavor flavor, unsigned status, std::string_view message,
                                             std::string_view extra_headers) {
  if (ctx.error.empty()) ctx.error = message;
  co_await reply(status, "application/json; charset=utf-8", error_body(flavor, status, message), extra_headers);
}

net::awaitable<void> downstream::begin_chunked(unsigned status, std::string_view headers) {
  ctx.status = status;
  if (http10) keep_alive = false;  // HTTP/1.0 has no chunked encoding: the body ends at close
  auto head = response_head_start(status, *this);
  head.append(headers);
  head.append(http10 ? "\r\n" : "Transfer-Encoding: chunked\r\n\r\n");
  head_sent = true;
  pending_head = std::move(head);  // goes out with the first chunk
  co_return;
}

net::awaitable<void> downstream::write_chunk(std::string_view data) {
  if (data.empty() || broken) co_return;
  if (ctx.first_byte == request_context::clock::time_point{}) ctx.first_byte = request_context::clock::now();
  ctx.bytes_out += data.size();
  if (capture) {
    capture->append(data);
    pending_head.clear();
    co_return;
  }
  if (http10) {
    co_await write_raw(data);
    co_return;
  }
  // The chunk-size line, in hex, written backwards into a small buffer.
  char size_line[24];
  char* end = size_line + sizeof size_line;
  char* p = end;
  *--p = '\n';
  *--p = '\r';
  for (auto v = data.size(); v != 0 || p == end - 2; v >>= 4) *--p = "0123456789abcdef"[v & 15];
  auto n = end - p;
  std::array<net::const_buffer, 4> bufs{net::buffer(pending_head), net::buffer(p, static_cast<std::size_t>(n)),
                                        net::buffer(data.data(), data.size()), net::buffer("\r\n", 2)};
  if (send_deadline) send_deadline->begin();
  auto [ec, written] = co_await net::async_write(stream.socket(), bufs, net::as_tuple(net::use_awaitable));
  if (send_deadline) send_deadline->end();
  pending_head.clear();
  if (ec) broken = true;
}

net::awaitable<void> downstream::end_chunked() {
  if (capture) co_return;
  if (!http10) co_await write_raw("0\r\n\r\n");
  else if (!pending_head.empty()) co_await write_raw({});
}

}  // namespace corral
