#include "gateway/server.hpp"

#include "gateway/backend_monitor.hpp"
#include "gateway/config_reload.hpp"
#include "gateway/gateway_state.hpp"
#include "gateway/log.hpp"
#include "gateway/management_models.hpp"
#include "gateway/session.hpp"
#include "gateway/usage_stats.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace corral {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

tcp::acceptor open_listener(net::io_context& ioc, const tcp::endpoint& ep) {
  tcp::acceptor acc(ioc);
  acc.open(ep.protocol());
  acc.set_option(net::socket_base::reuse_address(true));
  int one = 1;
  if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    throw std::runtime_error("SO_REUSEPORT is not available");
  acc.bind(ep);
  acc.listen(net::socket_base::max_listen_connections);
  return acc;
}

// CPU and memory samples for /api/v1/monitoring/performance.
net::awaitable<void> sample_process_usage(worker& w) {
  net::steady_timer timer(w.ioc);
  for (;;) {
    w.state.usage().sample_process(std::chrono::system_clock::now());
    timer.expires_after(std::chrono::seconds(5));
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
  }
}

net::awaitable<void> accept_loop(worker& w, tcp::acceptor& acc) {
  for (;;) {
    auto [ec, sock] = co_await acc.async_accept(net::as_tuple(net::use_awaitable));
    if (ec) {
      if (ec == net::error::operation_aborted || !acc.is_open()) co_return;
      // Out of descriptors and the like: say so, and keep serving the connections we have.
      log(log_level::error, "accept failed", {{"error", ec.message()}});
      net::steady_timer pause(w.ioc, std::chrono::milliseconds(50));
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    net::co_spawn(w.ioc, run_session(w, std::move(sock)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log(log_level::error, "session ended by an exception", {{"error", ex.what()}});
      }
    });
  }
}

}  // namespace

void run_server(std::shared_ptr<const config> cfg, std::string version, std::function<config()> reread) {
  int threads = cfg->server.threads > 0 ? cfg->server.threads
                                        : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  gateway_state state(cfg, static_cast<std::size_t>(threads), std::move(version));
  std::vector<std::unique_ptr<worker>> workers;
  for (int i = 0; i < threads; ++i) workers.push_back(std::make_unique<worker>(state, i));

  boost::system::error_code ec;
  auto address = net::ip::make_address(cfg->server.host, ec);
  if (ec) throw std::runtime_error("server.host: '" + cfg->server.host + "' is not an IP address");
  tcp::endpoint ep(address, cfg->server.port);
  std::vector<tcp::acceptor> acceptors;
  try {
    for (auto& w : workers) acceptors.push_back(open_listener(w->ioc, ep));
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + cfg->server.host + ":" + std::to_string(cfg->server.port) + ": " +
                             e.code().message());
  }

  // First health round before accepting, so the first requests see a populated catalog.
  std::mutex mu;
  std::condition_variable cv;
  std::size_t checked = 0;
  auto& w0 = *workers[0];
  for (auto& b : state.backends()) {
    net::co_spawn(w0.ioc, monitor_backend(w0, *b, [&] {
      std::lock_guard lock(mu);
      ++checked;
      cv.notify_all();
    }), net::detached);
  }

  std::vector<std::thread> pool;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto& w : workers) guards.push_back(net::make_work_guard(w->ioc));
  for (auto& w : workers) pool.emplace_back([&ioc = w->ioc] { ioc.run(); });

  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, cfg->ollama.connect_timeout * 2 + std::chrono::seconds(1),
                [&] { return checked >= state.backends().size(); });
  }
  int healthy = 0;
  for (auto& b : state.backends()) healthy += b->healthy() ? 1 : 0;
  if (healthy == 0) {
    std::string urls;
    for (auto& b : state.backends()) urls += (urls.empty() ? "" : ", ") + b->config().url;
    log(log_level::warn,
        "no Ollama backend is reachable; corral answers 503 until one is. Start Ollama, set OLLAMA_BASE_URL, "
        "or try it without GPUs: corral --fake-backends 2",
        {{"backends", urls}});
  }

  for (std::size_t i = 0; i < workers.size(); ++i)
    net::co_spawn(workers[i]->ioc, accept_loop(*workers[i], acceptors[i]), net::detached);
  net::co_spawn(w0.ioc, sample_process_usage(w0), net::detached);
  if (cfg->ollama.auto_pull && !cfg->ollama.models.empty())
    net::co_spawn(w0.ioc, pull_configured_models(w0), net::detached);
  log(log_level::info, "corral is listening",
      {{"address", cfg->server.host + ":" + std::to_string(cfg->server.port)},
       {"threads", std::to_string(threads)},
       {"backends", std::to_string(state.backends().size())},
       {"healthy", std::to_string(healthy)},
       {"config", cfg->source},
       {"policies", state.chain()->describe()}});

  // Stop: close the listeners, give requests in flight up to 10 s, then stop every loop.
  net::io_context signal_ioc;
  net::signal_set signals(signal_ioc, SIGINT, SIGTERM, SIGHUP);
  for (;;) {
    int signo = 0;
    signals.async_wait([&signo](const boost::system::error_code& ec, int s) { signo = ec ? SIGTERM : s; });
    signal_ioc.restart();
    signal_ioc.run();
    if (signo != SIGHUP) break;
    if (!reread) {
      log(log_level::warn, "SIGHUP: no configuration file to reload (corral runs on its embedded defaults)");
      continue;
    }
    try {
      auto update = apply_config(state, [&](const config&) { return std::make_shared<const config>(reread()); });
      if (update.error.empty()) log(log_level::info, "configuration reloaded", {{"policies", state.chain()->describe()}});
      else log(log_level::error, "configuration not reloaded", {{"error", update.error}});
    } catch (const std::exception& e) {
      log(log_level::error, "configuration not reloaded", {{"error", e.what()}});
    }
  }
  log(log_level::info, "stopping: no new connections; waiting for requests in flight");
  state.stopping.store(true);  // answers from now on say "Connection: close"
  for (std::size_t i = 0; i < workers.size(); ++i)
    net::post(workers[i]->ioc, [&acc = acceptors[i]] {
      boost::system::error_code ignored;
      acc.close(ignored);
    });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (state.metrics().in_flight().load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (auto& w : workers) w->ioc.stop();
  for (auto& t : pool) t.join();
  log(log_level::info, "stopped");
}

}  // namespace corral
