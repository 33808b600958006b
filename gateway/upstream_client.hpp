#pragma once
// Small whole-body exchanges with one backend (health checks, fleet fan-out): send a request,
// read the complete response within a deadline. Streaming relays live in proxy.cpp.
#include "gateway/gateway_state.hpp"
#include "gateway/metrics.hpp"

#include <boost/asio/awaitable.hpp>
#include <functional>

#include <string>
#include <string_view>

namespace corral {

struct upstream_reply {
  boost::system::error_code ec;   // transport failure (status is 0 then)
  upstream_error_kind kind = upstream_error_kind::connect;
  unsigned status = 0;
  std::string content_type;
  std::string body;
  std::string error_message() const;  // a readable cause for logs and reports
};

// Serialises a request head for `b`: method, target, Host: host:port, X-Request-Id when given,
// Content-Type: application/json and Content-Length when a body is given, plus `extra` (already
// formatted "Name: value\r\n" lines).
std::string request_head(std::string_view method, std::string_view target, const backend& b,
                         std::string_view request_id, std::size_t body_size, bool has_body,
                         std::string_view extra = {});

boost::asio::awaitable<upstream_reply> fetch(worker& w, const backend& b, std::string_view method,
                                             std::string_view target, std::string_view body,
                                             millis timeout, std::string_view request_id = {});

}  // namespace corral

namespace corral {

// Streams an NDJSON answer line by line (pull progress): `on_line` sees each complete line
// without its '\n'. Each wait for the backend is bounded by `idle_timeout`, never the whole
// exchange. A non-2xx answer is returned whole in `body`. A stream that breaks sets `ec`.
boost::asio::awaitable<upstream_reply> fetch_lines(worker& w, const backend& b, std::string_view method,
                                                   std::string_view target, std::string_view body,
                                                   millis idle_timeout,
                                                   const std::function<void(std::string_view)>& on_line,
                                                   std::string_view request_id = {});

}  // namespace corral
