#pragma once
// The client side of one request: the connection, its read buffer (which may already hold the
// next pipelined request) and how to answer. Owned by the session coroutine; handlers borrow it
// for one request.
#include "gateway/core/error_reply.hpp"
#include "gateway/core/request_context.hpp"
#include "gateway/wait_deadline.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace corral {

class policy_chain;

// Reshapes a backend's 2xx answer for a route that does not relay Ollama's records as they are
// (the management API's inference routes). Set on the downstream before proxy(); the policy
// chain's response hooks see the backend's records first, the shaper what they let through.
class response_shaper {
 public:
  virtual ~response_shaper() = default;
  // The Content-Type of the reshaped stream.
  virtual std::string_view stream_content_type() const = 0;
  // One complete NDJSON record of a streamed answer: appends what the client gets to `out`.
  virtual void on_record(std::string_view record, std::string& out) = 0;
  // A whole answer (the backend did not stream): the client's body, and its Content-Type.
  virtual std::string on_whole(std::string_view body) = 0;
  virtual std::string_view whole_content_type() const = 0;
  // The record that ends a stream that broke (or that a policy blocked).
  virtual std::string error_record(std::string_view message) = 0;
  // The answer's token counts and model load time, read while reshaping it, into `ctx` (the
  // relay then does not search the answer for them again).
  virtual void usage(request_context& ctx) const = 0;
};

// A growable byte buffer that is not zero-filled (the relay's, reused for a connection's life).
struct byte_buffer {
  std::unique_ptr<char[]> data;
  std::size_t size = 0;
  // Grows to at least `n` bytes, keeping the first `keep` bytes.
  void grow(std::size_t n, std::size_t keep) {
    if (n <= size) return;
    auto bigger = std::unique_ptr<char[]>(new char[n]);
    if (keep) std::memcpy(bigger.get(), data.get(), keep);
    data = std::move(bigger);
    size = n;
  }
};

struct downstream {
  downstream(boost::beast::tcp_stream& s, boost::beast::flat_buffer& b, request_context& c)
      : stream(s), buffer(b), ctx(c) {}

  boost::beast::tcp_stream& stream;
  boost::beast::flat_buffer& buffer;  // bytes read past the current request
  request_context& ctx;
  bool keep_alive = true;
  bool head_only = false;             // HEAD: headers without a body
  bool http10 = false;                // an HTTP/1.0 client: no chunked encoding; streams end at close
  bool head_sent = false;             // a response head went out: no second answer possible
  bool broken = false;                // a write failed: the client is gone
  byte_buffer* relay = nullptr;       // the connection's relay buffer
  wait_deadline* send_deadline = nullptr;  // bounds each write (server.send_timeout)
  const policy_chain* policies = nullptr;  // set when a policy filters this request's response
  response_shaper* shaper = nullptr;       // set when the answer is reshaped (management API)
  // When set, the answer is kept here instead of being written to the connection (one item of
  // a batch); the status is ctx.status.
  std::string* capture = nullptr;
  // A response head not yet written: it goes out with the first body bytes, in one write.
  std::string pending_head;

  // A complete response with Content-Length. `extra_headers` are "Name: value\r\n" lines.
  boost::asio::awaitable<void> reply(unsigned status, std::string_view content_type, std::string_view body,
                                     std::string_view extra_headers = {});
  // An error in the route's flavor ({"error": "..."} or OpenAI's object).
  boost::asio::awaitable<void> reply_error(api_flavor flavor, unsigned status, std::string_view message,
                                           std::string_view extra_headers = {});

  // A chunked response: head, then chunks, then the end.
  boost::asio::awaitable<void> begin_chunked(unsigned status, std::string_view headers);
  boost::asio::awaitable<void> write_chunk(std::string_view data);
  boost::asio::awaitable<void> end_chunked();

  // Body bytes of a Content-Length answer (counted for the log and the metrics).
  boost::asio::awaitable<void> write_body(std::string_view data);
  // Raw bytes (a hand-made head or a Content-Length body), after any pending head.
  boost::asio::awaitable<void> write_raw(std::string_view a, std::string_view b = {});
};

// "HTTP/1.1 <status> <reason>\r\n" + Date-less common headers (X-Request-Id, Connection).
std::string response_head_start(unsigned status, const downstream& d);

}  // namespace corral
