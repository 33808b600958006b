#include "gateway/backend_monitor.hpp"

#include "gateway/log.hpp"
#include "gateway/upstream_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

namespace corral {
namespace net = boost::asio;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace {

net::awaitable<bool> resolve(backend& b) {
  auto ex = co_await net::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [ec, results] = co_await resolver.async_resolve(b.config().host, std::to_string(b.config().port),
                                                        net::as_tuple(net::use_awaitable));
  if (ec) {
    b.set_active_result(false, "cannot resolve " + b.config().host + ": " + ec.message(), "");
    co_return false;
  }
  std::vector<tcp::endpoint> eps;
  for (const auto& r : results) eps.push_back(r.endpoint());
  b.set_endpoints(std::move(eps));
  co_return true;
}

}  // namespace

net::awaitable<void> refresh_models(worker& w, backend& b) {
  auto timeout = w.cfg()->ollama.connect_timeout * 2;
  auto tags = co_await fetch(w, b, "GET", "/api/tags", {}, timeout);
  auto ps = co_await fetch(w, b, "GET", "/api/ps", {}, timeout);
  if (tags.ec || tags.status != 200) co_return;
  backend_models m;
  m.known = true;
  m.tags = models_in(tags.body);
  if (!ps.ec && ps.status == 200) m.running = models_in(ps.body);
  w.state.update_backend_models(b.index(), std::move(m));
}

net::awaitable<bool> poll_backend(worker& w, backend& b) {
  // GCC 12 miscompiles co_await inside a condition: await into a variable first.
  bool resolved = co_await resolve(b);
  if (!resolved) co_return false;
  const auto cfg = w.cfg();
  auto timeout = cfg->ollama.connect_timeout * 2;
  auto version = co_await fetch(w, b, "GET", "/api/version", {}, timeout);
  if (version.ec || version.status != 200) {
    b.set_active_result(false, "GET /api/version: " + version.error_message(), "");
    co_return false;
  }
  std::string v;
  boost::system::error_code ec;
  auto parsed = json::parse(version.body, ec);
  if (!ec && parsed.is_object())
    if (auto* s = parsed.get_object().if_contains("version"); s && s->is_string()) v = s->get_string();
  co_await refresh_models(w, b);
  b.set_active_result(true, {}, std::move(v));
  co_return true;
}

net::awaitable<void> monitor_backend(worker& w, backend& b, std::function<void()> first_round_done) {
  net::steady_timer timer(w.ioc);
  bool was_healthy = false;
  bool first = true;
  for (;;) {
    bool ok = co_await poll_backend(w, b);
    if (ok != was_healthy || first) {
      if (ok)
        log(log_level::info, "backend is up", {{"backend", b.name()}, {"url", b.config().url}, {"version", b.version()}});
      else
        log(first ? log_level::warn : log_level::error, "backend is down",
            {{"backend", b.name()}, {"url", b.config().url}, {"error", b.last_error()}});
    }
    was_healthy = ok;
    if (first) {
      first = false;
      if (first_round_done) first_round_done();
    }
    timer.expires_after(w.cfg()->ollama.health_check_period);
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace corral
