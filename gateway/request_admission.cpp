#include "gateway/request_admission.hpp"

#include "policies/policy_chain.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

namespace corral {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {

bool is_hop_by_hop_request(std::string_view name) {
  static constexpr std::array<std::string_view, 11> names{
      "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
      "content-length", "host", "expect", "x-request-id"};
  for (auto n : names)
    if (beast::iequals(n, name)) return true;
  return false;
}

// True when `name` is listed in the Connection header's value (also hop-by-hop, RFC 9110 7.6.1).
bool named_in_connection(std::string_view connection, std::string_view name) {
  while (!connection.empty()) {
    auto comma = connection.find(',');
    auto token = connection.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (beast::iequals(token, name)) return true;
    if (comma == std::string_view::npos) break;
    connection.remove_prefix(comma + 1);
  }
  return false;
}

// The client's headers as they go upstream: hop-by-hop ones dropped (also those the
// Connection header names, and the credentials a policy consumed), the client's address
// appended to X-Forwarded-For.
}  // namespace

void forwarded_headers(const http::fields& fields, const std::string& client_ip, std::string& out,
                       const std::array<std::string_view, 2>& consumed) {
  out.clear();
  std::string_view connection = fields[http::field::connection];
  std::string_view prior_xff;
  for (const auto& f : fields) {
    auto name = f.name_string();
    if (is_hop_by_hop_request(name) || (!connection.empty() && named_in_connection(connection, name))) continue;
    if ((!consumed[0].empty() && beast::iequals(name, consumed[0])) ||
        (!consumed[1].empty() && beast::iequals(name, consumed[1])))
      continue;
    if (beast::iequals(name, "x-forwarded-for")) {
      prior_xff = f.value();
      continue;
    }
    out.append(name).append(": ").append(f.value()).append("\r\n");
  }
  if (!client_ip.empty() || !prior_xff.empty()) {
    out.append("X-Forwarded-For: ").append(prior_xff);
    if (!prior_xff.empty() && !client_ip.empty()) out.append(", ");
    out.append(client_ip).append("\r\n");
  }
}


namespace {

std::string_view header_of(const void* fields, std::string_view name) {
  const auto& f = *static_cast<const http::fields*>(fields);
  auto it = f.find(name);
  return it == f.end() ? std::string_view{} : std::string_view(it->value());
}

}  // namespace

bool is_loopback(std::string_view ip) {
  return ip.starts_with("127.") || ip == "::1" || ip.starts_with("::ffff:127.");
}

// Runs the chain's request hooks, then the rule for fleet-changing routes without API keys.
// Returns true when it answered the client instead of letting the request go on.
net::awaitable<bool> admit(const policy_chain& chain, downstream& client, const route_match& route,
                           const http::fields& headers, std::string_view client_ip, json::object* body,
                           bool& body_changed, std::array<std::string_view, 2>& consumed) {
  auto& ctx = client.ctx;
  if (!chain.empty()) {
    policy_request preq(ctx);
    preq.method = ctx.method;
    preq.flavor = route.flavor;
    preq.client_ip = client_ip;
    preq.body = body;
    preq.header_fn = header_of;
    preq.headers = &headers;
    auto v = co_await chain.on_request(preq);
    if (v.rejected()) {
      ctx.error = v.message;
      co_await client.reply_error(route.flavor, v.status, v.message, v.headers);
      co_return true;
    }
    body_changed = preq.body_changed;
    consumed = preq.consumed_headers;
  }
  bool changes_things = ctx.cls == route_class::fleet_change ||
                        (ctx.cls == route_class::management && ctx.method != "GET" && ctx.method != "HEAD");
  // Unless it comes from this machine, a change needs a caller the auth policy identified (whose
  // role it checked): keys that guard other routes do not open these.
  if (changes_things && !ctx.who && !is_loopback(client_ip)) {
    constexpr std::string_view why =
        "routes that change the fleet or corral's configuration are served to loopback clients only while no API "
        "keys are configured (configure an auth policy with admin keys)";
    ctx.error = why;
    co_await client.reply_error(route.flavor, 403, why);
    co_return true;
  }
  co_return false;
}


}  // namespace corral
