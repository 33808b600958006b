#include "gateway/management_routes.hpp"

#include "gateway/config_reload.hpp"
#include "gateway/core/json_text.hpp"
#include "gateway/core/model_name.hpp"
#include "gateway/management_models.hpp"
#include "gateway/preset_store.hpp"
#include "gateway/presets.hpp"
#include "gateway/usage_stats.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <ctime>
#include <functional>

namespace corral {
namespace net = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view json_type = "application/json; charset=utf-8";

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json::array names_of(const json::array& entries) {
  json::array out;
  for (const auto& e : entries)
    if (e.is_object())
      if (auto* n = e.get_object().if_contains("name"); n && n->is_string()) out.push_back(*n);
  return out;
}

// --- Presets ---------------------------------------------------------------------------------

// Runs a preset change (which writes and fsyncs the store) on the blocking thread; the
// coroutine resumes on its worker when it is done.
net::awaitable<preset_change> off_the_loop(worker& w, const std::function<preset_change()>& change) {
  co_return co_await net::co_spawn(
      w.state.blocking(), [&]() -> net::awaitable<preset_change> { co_return change(); }, net::use_awaitable);
}

net::awaitable<void> serve_presets(worker& w, downstream& client, const route_match& route, const json::object* body) {
  auto& registry = w.state.presets();
  std::string name = percent_decode(route.path_param);
  switch (route.op) {
    case mgmt_op::presets_list: {
      json::array list;
      for (const auto& p : registry.snapshot()->all) list.push_back(to_json(p));
      json::object out;
      out["presets"] = std::move(list);
      co_await client.reply(200, json_type, json_text(out));
      co_return;
    }
    case mgmt_op::preset_get: {
      auto set = registry.snapshot();
      const preset* p = set->find(name);
      if (!p) {
        co_await client.reply_error(api_flavor::ollama, 404, "preset '" + name + "' not found");
        co_return;
      }
      co_await client.reply(200, json_type, json_text(to_json(*p)));
      co_return;
    }
    case mgmt_op::preset_create:
    case mgmt_op::preset_replace: {
      bool create = route.op == mgmt_op::preset_create;
      auto parsed = parse_preset(json::value(*body), create ? std::string_view{} : std::string_view(name));
      if (!parsed.ok()) {
        co_await client.reply_error(api_flavor::ollama, 400, parsed.error);
        co_return;
      }
      auto doc = json_text(to_json(parsed.value));
      auto change = co_await off_the_loop(w, [&] {
        return create ? registry.create(std::move(parsed.value)) : registry.replace(name, std::move(parsed.value));
      });
      if (!change.error.empty()) {
        co_await client.reply_error(api_flavor::ollama, change.status, change.error);
        co_return;
      }
      co_await client.reply(change.status, json_type, doc);
      co_return;
    }
    case mgmt_op::preset_delete: {
      auto change = co_await off_the_loop(w, [&] { return registry.remove(name); });
      if (!change.error.empty()) {
        co_await client.reply_error(api_flavor::ollama, change.status, change.error);
        co_return;
      }
      json::object out;
      out["deleted"] = name;
      co_await client.reply(200, json_type, json_text(out));
      co_return;
    }
    default:
      break;
  }
}

// --- Status ----------------------------------------------------------------------------------

json::object status_document(worker& w) {
  auto now = steady_clock::now();
  auto catalog = w.catalog();
  json::array backends;
  std::size_t healthy = 0;
  for (auto& b : w.state.backends()) {
    json::object o;
    o["name"] = b->name();
    o["url"] = b->config().url;
    bool ok = b->healthy(now);
    healthy += ok ? 1 : 0;
    o["healthy"] = ok;
    auto why = b->unhealthy_reason(now);
    o["unhealthy_reason"] = why.empty() ? json::value(nullptr) : json::value(why);
    auto version = b->version();
    o["ollama_version"] = version.empty() ? json::value(nullptr) : json::value(version);
    auto idx = static_cast<std::size_t>(b->index());
    if (idx < catalog->per_backend().size() && catalog->per_backend()[idx].known) {
      o["models"] = names_of(catalog->per_backend()[idx].tags);
      o["loaded_models"] = names_of(catalog->per_backend()[idx].running);
    } else {
      o["models"] = nullptr;  // never listed yet
      o["loaded_models"] = nullptr;
    }
    o["in_flight"] = b->in_flight();
    auto last = b->last_error();
    o["last_error"] = last.empty() ? json::value(nullptr) : json::value(last);
    o["ejections"] = b->ejections();
    backends.push_back(std::move(o));
  }
  json::object out;
  out["version"] = w.state.version();
  auto uptime = std::chrono::duration<double>(now - w.state.started()).count();
  out["uptime_s"] = std::round(uptime * 10) / 10;
  out["started_at"] = rfc3339(std::chrono::system_clock::now() -
                              std::chrono::duration_cast<std::chrono::system_clock::duration>(now - w.state.started()));
  std::size_t total = w.state.backends().size();
  out["status"] = healthy == total ? "ok" : (healthy == 0 ? "down" : "degraded");
  out["healthy_backends"] = healthy;
  out["backends"] = std::move(backends);
  out["in_flight"] = w.state.metrics().in_flight().load(std::memory_order_relaxed);
  // External parts corral depends on (Redis, PostgreSQL) appear here once configured; the
  // preset store is the one it has today.
  json::array deps;
  json::object store;
  store["name"] = "preset_store";
  store["kind"] = "file";
  store["where"] = w.state.presets().store_description();
  store["ok"] = true;
  deps.push_back(std::move(store));
  out["dependencies"] = std::move(deps);
  out["policies"] = w.chain()->describe();
  return out;
}

// --- Config ----------------------------------------------------------------------------------

net::awaitable<void> serve_config(worker& w, downstream& client, const route_match& route, const json::object* body) {
  auto running = w.state.cfg();
  if (route.op == mgmt_op::config_get) {
    co_await client.reply(200, json_type, json_text(config_to_json(*running, true)));
    co_return;
  }
  std::shared_ptr<const config> next;
  auto update = apply_config(w.state, [&](const config& current) {
    auto doc = config_to_json(current, false);
    merge_config_document(doc, *body);
    auto parsed = parse_config_document(doc, "PUT /api/v1/config");
    parsed.source = current.source;
    next = std::make_shared<const config>(std::move(parsed));
    return next;
  });
  if (!update.error.empty()) {
    co_await client.reply_error(api_flavor::ollama, update.status, update.error);
    co_return;
  }
  json::object out;
  out["applied"] = true;
  out["config"] = config_to_json(*next, true);
  co_await client.reply(200, json_type, json_text(out));
}

}  // namespace

bool management_takes_body(mgmt_op op) {
  switch (op) {
    case mgmt_op::models_pull:
    case mgmt_op::models_copy:
    case mgmt_op::models_create:
    case mgmt_op::models_push:
    case mgmt_op::generate:
    case mgmt_op::chat:
    case mgmt_op::embeddings:
    case mgmt_op::generate_stream:
    case mgmt_op::chat_stream:
    case mgmt_op::batch_generate:
    case mgmt_op::batch_embeddings:
    case mgmt_op::preset_create:
    case mgmt_op::preset_replace:
    case mgmt_op::config_put:
      return true;
    default:
      return false;
  }
}

net::awaitable<void> serve_management(worker& w, downstream& client, const route_match& route, const json::object* body,
                                      std::string_view query) {
  switch (route.op) {
    case mgmt_op::models_list:
    case mgmt_op::model_get:
    case mgmt_op::model_info:
    case mgmt_op::model_delete:
    case mgmt_op::models_pull:
    case mgmt_op::models_copy:
    case mgmt_op::models_create:
    case mgmt_op::models_push:
      co_await serve_models(w, client, route, body, query);
      co_return;
    case mgmt_op::presets_list:
    case mgmt_op::preset_get:
    case mgmt_op::preset_create:
    case mgmt_op::preset_replace:
    case mgmt_op::preset_delete:
      co_await serve_presets(w, client, route, body);
      co_return;
    case mgmt_op::status:
      co_await client.reply(200, json_type, json_text(status_document(w)));
      co_return;
    case mgmt_op::stats:
      co_await client.reply(200, json_type, json_text(w.state.usage().stats(std::chrono::system_clock::now())));
      co_return;
    case mgmt_op::config_get:
    case mgmt_op::config_put:
      co_await serve_config(w, client, route, body);
      co_return;
    case mgmt_op::performance:
      co_await client.reply(200, json_type,
                            json_text(w.state.usage().performance(std::chrono::system_clock::now())));
      co_return;
    case mgmt_op::usage: {
      auto now = std::chrono::system_clock::now();
      auto q = parse_usage_query(query, now);
      if (auto* why = std::get_if<std::string>(&q)) {
        std::string message = *why;
        co_await client.reply_error(api_flavor::ollama, 400, message);
        co_return;
      }
      auto doc = w.state.usage().usage(std::get<usage_query>(q), now);
      co_await client.reply(200, json_type, json_text(doc));
      co_return;
    }
    default:
      co_await client.reply_error(api_flavor::ollama, 404, "404 page not found");
      co_return;
  }
}

}  // namespace corral
