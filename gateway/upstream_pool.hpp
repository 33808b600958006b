#pragma once
// Keep-alive connections to backends, one pool per worker thread (no locks: a pool is only
// touched by coroutines on its own io_context). Bounded: at most `max_idle` idle connections per
// backend; beyond that a released connection is closed.
#include "gateway/backend.hpp"
#include "gateway/wait_deadline.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <memory>
#include <vector>

namespace corral {

struct upstream_connection {
  explicit upstream_connection(const boost::asio::any_io_executor& ex) : stream(ex) {}
  boost::beast::tcp_stream stream;
  boost::beast::flat_buffer buffer;  // bytes read past the last response (empty when pooled)
  bool reused = false;               // came from the pool (it may have been closed meanwhile)
  std::chrono::steady_clock::time_point idle_since{};  // when it went back to the pool
  // Bounds each wait on this connection; kept with it so that its one timer is not set up and
  // torn down per request (see relay in proxy.cpp).
  std::unique_ptr<wait_deadline> deadline;
};

using upstream_connection_ptr = std::unique_ptr<upstream_connection>;

struct acquire_result {
  boost::system::error_code ec;
  upstream_connection_ptr conn;
};

class upstream_pool {
 public:
  upstream_pool(boost::asio::any_io_executor ex, std::size_t backends, int max_idle);

  // An idle connection that still looks open, else a new one connected within
  // `connect_timeout`. On failure `ec` says why (timeout → boost::beast::error::timeout).
  boost::asio::awaitable<acquire_result> acquire(const backend& b, millis connect_timeout);

  // A connection whose last response was read completely and may be reused.
  void release(int backend_index, upstream_connection_ptr conn);


 private:
  boost::asio::any_io_executor ex_;
  std::vector<std::vector<upstream_connection_ptr>> idle_;
  std::size_t max_idle_;
};

}  // namespace corral
