#include "gateway/upstream_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

namespace corral {
namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

upstream_pool::upstream_pool(net::any_io_executor ex, std::size_t backends, int max_idle)
    : ex_(std::move(ex)), idle_(backends), max_idle_(static_cast<std::size_t>(max_idle)) {}

namespace {
// An idle keep-alive connection the backend has closed shows as readable with 0 bytes. One
// non-blocking peek tells, and saves a failed request on most stale connections.
bool still_open(upstream_connection& c) {
  auto& sock = c.stream.socket();
  if (!sock.is_open()) return false;
  char byte;
  auto n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return false;                            // orderly close
  if (n > 0) return false;                             // unsolicited bytes: not trustworthy
  return errno == EAGAIN || errno == EWOULDBLOCK;
}
}  // namespace

net::awaitable<acquire_result> upstream_pool::acquire(const backend& b, millis connect_timeout) {
  // Connections idle longer than this are dropped rather than trusted: a firewall or NAT on
  // the way may have forgotten them without telling either end.
  constexpr auto max_idle_age = std::chrono::seconds(60);
  auto& idle = idle_[b.index()];
  auto now = std::chrono::steady_clock::now();
  while (!idle.empty()) {
    auto conn = std::move(idle.back());
    idle.pop_back();
    if (now - conn->idle_since < max_idle_age && still_open(*conn)) {
      conn->reused = true;
      co_return acquire_result{{}, std::move(conn)};
    }
  }
  auto endpoints = b.endpoints();
  if (endpoints.empty()) co_return acquire_result{net::error::host_not_found, nullptr};
  auto conn = std::make_unique<upstream_connection>(ex_);
  // Beast sizes each read by the buffer's spare capacity (at least 512 bytes): give it room for
  // a whole answer head and body, or a burst of stream lines, in one read.
  conn->buffer.reserve(16 * 1024);
  conn->stream.expires_after(connect_timeout);
  auto [ec, ep] = co_await conn->stream.async_connect(endpoints, net::as_tuple(net::use_awaitable));
  if (ec) co_return acquire_result{ec, nullptr};
  conn->stream.socket().set_option(tcp::no_delay(true));
  conn->stream.expires_never();
  co_return acquire_result{{}, std::move(conn)};
}

void upstream_pool::release(int backend_index, upstream_connection_ptr conn) {
  if (!conn || conn->buffer.size() != 0) return;
  auto& idle = idle_[backend_index];
  if (idle.size() >= max_idle_) return;
  conn->stream.expires_never();
  conn->idle_since = std::chrono::steady_clock::now();
  idle.push_back(std::move(conn));
}

}  // namespace corral
