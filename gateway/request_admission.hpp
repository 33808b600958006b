#pragma once
// Admitting a request: the policy chain's request hooks and the loopback rule for routes that
// change the fleet or corral itself; and the client headers that go upstream once admitted.
#include "gateway/downstream.hpp"
#include "gateway/route_table.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/json/fwd.hpp>

#include <array>
#include <string>
#include <string_view>

namespace corral {

class policy_chain;

// Runs the chain's request hooks, then the rule for fleet-changing routes (and management
// writes) without API keys. Returns true when it answered the client instead of letting the
// request go on. `body_changed` and `consumed` report what the chain did.
boost::asio::awaitable<bool> admit(const policy_chain& chain, downstream& client, const route_match& route,
                                   const boost::beast::http::fields& headers, std::string_view client_ip,
                                   boost::json::object* body, bool& body_changed,
                                   std::array<std::string_view, 2>& consumed);

// The client's headers as they go upstream: hop-by-hop ones dropped (also those the
// Connection header names, and the credentials a policy consumed), the client's address
// appended to X-Forwarded-For. "Name: value\r\n" each, into `out`.
void forwarded_headers(const boost::beast::http::fields& fields, const std::string& client_ip, std::string& out,
                       const std::array<std::string_view, 2>& consumed = {});

bool is_loopback(std::string_view ip);

}  // namespace corral
