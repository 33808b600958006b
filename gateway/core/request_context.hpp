#pragma once
// What corral knows about one request while it is served: carried from the session through the
// policy chain, the balancer and the relay to the access log and the metrics. Owned by the
// session coroutine; lives exactly as long as the request.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace corral {

struct request_context {
  using clock = std::chrono::steady_clock;

  std::string id;              // X-Request-Id: the client's, or one we made
  std::string client;          // peer address "ip:port"
  std::string_view method;
  std::string target;
  std::string_view route;      // route label for metrics and logs ("/api/chat", "other")
  std::string model;           // normalized, when the request names one
  std::string backend;         // name of the backend that served it ("" if none)
  unsigned status = 0;
  std::uint64_t bytes_in = 0;  // request body
  std::uint64_t bytes_out = 0; // response body
  int attempts = 0;            // backends tried
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  std::string error;           // what went wrong, for the log ("" when nothing did)

  clock::time_point accepted{};    // the request's head was read
  clock::time_point first_byte{};  // first body byte to the client (epoch when none)
  clock::time_point done{};
};

}  // namespace corral
