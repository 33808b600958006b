#pragma once
// The client side of one request: the connection, its read buffer (which may already hold the
// next pipelined request) and how to answer. Owned by the session coroutine; handlers borrow it
// for one request.
#include "gateway/core/error_reply.hpp"
#include "gateway/core/request_context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <string>
#include <string_view>

namespace corral {

struct downstream {
  boost::beast::tcp_stream& stream;
  boost::beast::flat_buffer& buffer;  // bytes read past the current request
  request_context& ctx;
  bool keep_alive = true;
  bool head_only = false;             // HEAD: headers without a body
  bool http10 = false;                // an HTTP/1.0 client: no chunked encoding; streams end at close
  bool head_sent = false;             // a response head went out: no second answer possible
  bool broken = false;                // a write failed: the client is gone

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

  // Raw bytes (a hand-made head or a Content-Length body).
  boost::asio::awaitable<void> write_raw(std::string_view a, std::string_view b = {});
};

// "HTTP/1.1 <status> <reason>\r\n" + Date-less common headers (X-Request-Id, Connection).
std::string response_head_start(unsigned status, const downstream& d);

}  // namespace corral
