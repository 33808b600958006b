#pragma once
// A bound on each wait for a peer, for a whole exchange, with one timer.
//
// beast::tcp_stream arms and cancels a timer for every read and write; on a stream of many
// small chunks that bookkeeping showed in profiles. Here the timer is armed once: the caller
// says when a wait begins and ends (a clock read each), and the timer, when it fires, either
// finds the current wait older than the limit and cancels the socket's operations, or re-arms
// for the current wait's own deadline.
//
// Single-threaded: use from the coroutine that owns the socket, on the socket's io_context.
// The handler keeps the shared state alive; the socket must outlive the object.
#include "gateway/core/duration.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

namespace corral {

class wait_deadline {
 public:
  wait_deadline(const boost::asio::any_io_executor& ex, boost::asio::ip::tcp::socket& socket, millis limit);
  ~wait_deadline();
  wait_deadline(const wait_deadline&) = delete;
  wait_deadline& operator=(const wait_deadline&) = delete;

  // A wait for the peer begins now / has ended.
  void begin() noexcept;
  void end() noexcept;
  // True once a wait outlasted the limit (its operation was cancelled).
  bool expired() const noexcept;

 private:
  struct state;
  static void arm(const std::shared_ptr<state>& st, std::chrono::steady_clock::time_point at);
  std::shared_ptr<state> st_;
};

}  // namespace corral
