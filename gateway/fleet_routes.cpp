#include "gateway/fleet_routes.hpp"

#include "gateway/backend_monitor.hpp"
#include "gateway/core/model_name.hpp"
#include "gateway/join_all.hpp"
#include "gateway/log.hpp"
#include "gateway/preset_store.hpp"
#include "gateway/presets.hpp"
#include "gateway/upstream_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <optional>

namespace corral {
namespace net = boost::asio;
namespace json = boost::json;
using namespace net::experimental::awaitable_operators;

namespace {

constexpr std::string_view json_type = "application/json; charset=utf-8";

// fetch() into a slot, with its arguments owned by the task (it may outlive its caller).
net::awaitable<void> fetch_into(std::shared_ptr<std::vector<upstream_reply>> out, std::size_t slot, worker& w,
                                const backend& b, std::string method, std::string target, std::string body,
                                millis timeout, std::string request_id) {
  (*out)[slot] = co_await fetch(w, b, method, target, body, timeout, request_id);
}

}  // namespace

net::awaitable<std::vector<upstream_reply>> fan_out(worker& w, backend_mask mask, std::string_view method,
                                                    std::string_view target, std::string_view body,
                                                    std::string_view request_id) {
  auto timeout = w.cfg()->ollama.timeout;
  std::size_t n = 0;
  for (auto& b : w.state.backends()) n += (mask >> b->index()) & 1;
  auto out = std::make_shared<std::vector<upstream_reply>>(n);
  std::vector<net::awaitable<void>> tasks;
  std::size_t slot = 0;
  for (auto& b : w.state.backends())
    if ((mask >> b->index()) & 1)
      tasks.push_back(fetch_into(out, slot++, w, *b, std::string(method), std::string(target), std::string(body), timeout,
                                 std::string(request_id)));
  co_await join_all(std::move(tasks));
  co_return std::move(*out);
}

std::vector<backend*> members(worker& w, backend_mask mask) {
  std::vector<backend*> out;
  for (auto& b : w.state.backends())
    if ((mask >> b->index()) & 1) out.push_back(b.get());
  return out;
}

std::string message_of(const upstream_reply& r) {
  if (r.ec) return r.error_message();
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (!ec && v.is_object())
    if (auto* e = v.get_object().if_contains("error"); e && e->is_string()) return std::string(e->get_string());
  return r.body.empty() ? "status " + std::to_string(r.status) : r.body;
}

namespace {

// Compares dotted versions numerically ("0.9.10" > "0.9.9"); non-numeric parts compare as text.
bool version_less(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    auto da = a.find('.'), db = b.find('.');
    auto pa = a.substr(0, da), pb = b.substr(0, db);
    long na = 0, nb = 0;
    bool numeric = !pa.empty() && !pb.empty() && pa.find_first_not_of("0123456789") == std::string_view::npos &&
                   pb.find_first_not_of("0123456789") == std::string_view::npos;
    if (numeric) {
      std::from_chars(pa.data(), pa.data() + pa.size(), na);
      std::from_chars(pb.data(), pb.data() + pb.size(), nb);
      if (na != nb) return na < nb;
    } else if (pa != pb) {
      return pa < pb;
    }
    a = da == std::string_view::npos ? std::string_view{} : a.substr(da + 1);
    b = db == std::string_view::npos ? std::string_view{} : b.substr(db + 1);
  }
  return false;
}

}  // namespace

namespace {

// The "models" lists of /api/tags or /api/ps from every backend in `mask`, asked at once.
struct model_lists {
  std::vector<upstream_reply> replies;  // in backend order
  std::vector<json::array> lists;       // parsed, parallel to replies
  std::vector<const json::array*> answered;
};

net::awaitable<model_lists> gather_models(worker& w, backend_mask mask, std::string_view target,
                                          std::string_view request_id) {
  model_lists out;
  out.replies = co_await fan_out(w, mask, "GET", target, {}, request_id);
  out.lists.resize(out.replies.size());
  for (std::size_t i = 0; i < out.replies.size(); ++i) {
    if (out.replies[i].ec || out.replies[i].status != 200) continue;
    out.lists[i] = models_in(out.replies[i].body);
    out.answered.push_back(&out.lists[i]);
  }
  co_return out;
}

}  // namespace

namespace {

// A key limited to some models sees only those (auth policy, identity::models).
void keep_allowed(json::object& merged, const request_context& ctx) {
  if (!ctx.who || ctx.who->models.empty()) return;
  auto* list = merged.if_contains("models");
  if (!list || !list->is_array()) return;
  auto& models = list->get_array();
  json::array kept;
  for (auto& m : models) {
    const json::value* name = m.is_object() ? m.get_object().if_contains("name") : nullptr;
    if (name && name->is_string() && ctx.who->may_use(normalize_model_name(name->get_string()))) kept.push_back(std::move(m));
  }
  models = std::move(kept);
}

// Presets whose model the list has appear as models of their own, under their virtual names
// ("@coding"), so unmodified Ollama and OpenAI clients can pick them.
void add_presets(json::object& merged, const preset_set& presets) {
  auto* list = merged.if_contains("models");
  if (!list || !list->is_array()) return;
  auto& models = list->get_array();
  std::vector<json::value> extra;
  for (const auto& p : presets.all) {
    auto wanted = normalize_model_name(p.model);
    for (const auto& m : models) {
      const json::value* name = m.is_object() ? m.get_object().if_contains("name") : nullptr;
      if (!name || !name->is_string() || normalize_model_name(name->get_string()) != wanted) continue;
      json::object entry = m.get_object();
      entry["name"] = virtual_model_name(p.name);
      entry["model"] = virtual_model_name(p.name);
      extra.push_back(std::move(entry));
      break;
    }
  }
  for (auto& e : extra) models.push_back(std::move(e));
}

}  // namespace

net::awaitable<void> serve_tags(worker& w, downstream& client, bool openai) {
  auto healthy = w.state.healthy_mask();
  auto flavor = openai ? api_flavor::openai : api_flavor::ollama;
  if (!healthy) {
    co_await client.reply_error(flavor, 503, "no healthy backend");
    co_return;
  }
  auto targets = members(w, healthy);
  auto got = co_await gather_models(w, healthy, "/api/tags", client.ctx.id);
  if (got.answered.empty()) {
    auto message = "no backend answered /api/tags: " + message_of(got.replies.front());
    co_await client.reply_error(flavor, 502, message);
    co_return;
  }
  // What the backends just said is the freshest catalog there is: keep it.
  auto current = w.catalog();
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (got.replies[i].ec || got.replies[i].status != 200) continue;
    auto index = static_cast<std::size_t>(targets[i]->index());
    backend_models m;
    m.known = true;
    m.tags = got.lists[i];
    if (index < current->per_backend().size()) m.running = current->per_backend()[index].running;
    w.state.update_backend_models(index, std::move(m));
  }
  auto merged = merge_tags(got.answered);
  keep_allowed(merged, client.ctx);
  add_presets(merged, *w.state.presets().snapshot());
  // Built before the co_await: GCC 12 double-destroys conditional temporaries across co_await.
  std::string text = openai ? json::serialize(openai_model_list(merged)) : json::serialize(merged);
  co_await client.reply(200, json_type, text);
}

net::awaitable<void> serve_ps(worker& w, downstream& client) {
  auto healthy = w.state.healthy_mask();
  if (!healthy) {
    co_await client.reply_error(api_flavor::ollama, 503, "no healthy backend");
    co_return;
  }
  auto got = co_await gather_models(w, healthy, "/api/ps", client.ctx.id);
  if (got.answered.empty()) {
    auto message = "no backend answered /api/ps: " + message_of(got.replies.front());
    co_await client.reply_error(api_flavor::ollama, 502, message);
    co_return;
  }
  auto running = merge_running(got.answered);
  keep_allowed(running, client.ctx);
  co_await client.reply(200, json_type, json::serialize(running));
}

net::awaitable<void> serve_version(worker& w, downstream& client) {
  std::optional<std::string> oldest;
  auto now = steady_clock::now();
  for (auto& b : w.state.backends()) {
    if (!b->healthy(now)) continue;
    auto v = b->version();
    if (!v.empty() && (!oldest || version_less(v, *oldest))) oldest = v;
  }
  if (!oldest) {
    co_await client.reply_error(api_flavor::ollama, 503, "no healthy backend");
    co_return;
  }
  json::object o;
  o["version"] = *oldest;
  co_await client.reply(200, json_type, json::serialize(o));
}

backend_mask primary_backend(const gateway_state& s, backend_mask must_have) {
  auto now = steady_clock::now();
  for (auto& b : s.backends()) {
    auto bit = backend_mask{1} << b->index();
    if (b->healthy(now) && (!must_have || (must_have & bit))) return bit;
  }
  return 0;
}

namespace {

struct pull_progress {
  explicit pull_progress(net::any_io_executor ex, std::size_t n)
      : wake(ex, steady_clock::time_point::max()), errors(n), succeeded(n, false) {}
  std::string outbox;
  int running = 0;
  bool forward = true;
  net::steady_timer wake;
  std::vector<std::string> errors;
  std::vector<bool> succeeded;
};

net::awaitable<void> pull_one(worker& w, backend& b, std::size_t slot, std::string body, std::string request_id,
                              std::shared_ptr<pull_progress> st) {
  auto on_line = [&](std::string_view line) {
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) return;
    auto& o = v.get_object();
    if (auto* e = o.if_contains("error")) {
      st->errors[slot] = e->is_string() ? std::string(e->get_string()) : json::serialize(*e);
      return;
    }
    if (auto* s = o.if_contains("status"); s && s->is_string() && s->get_string() == "success") {
      st->succeeded[slot] = true;
      return;
    }
    if (!st->forward) return;
    o["backend"] = b.name();
    st->outbox += json::serialize(o);
    st->outbox += '\n';
    st->wake.cancel();
  };
  auto reply = co_await fetch_lines(w, b, "POST", "/api/pull", body, w.cfg()->ollama.timeout, on_line, request_id);
  if (reply.ec || reply.status / 100 != 2) st->errors[slot] = message_of(reply);
  else if (!st->succeeded[slot] && st->errors[slot].empty()) st->errors[slot] = "stream ended without success";
  if (st->succeeded[slot]) co_await refresh_models(w, b);
  --st->running;
  st->wake.cancel();
}

// Writes merged progress as it arrives. A client that goes away is noticed at the next line;
// the pulls themselves run to their end (each bounded by ollama.timeout between lines).
net::awaitable<void> pump_progress(downstream& client, std::shared_ptr<pull_progress> ps) {
  auto& st = *ps;
  std::string sending;
  for (;;) {
    if (!st.outbox.empty()) {
      sending.swap(st.outbox);
      st.outbox.clear();
      co_await client.write_chunk(sending);
      sending.clear();
      if (client.broken) {
        st.forward = false;  // the pulls run on; their progress goes nowhere
        st.outbox.clear();
        co_return;
      }
      continue;
    }
    if (st.running == 0) co_return;
    st.wake.expires_at(steady_clock::time_point::max());
    co_await st.wake.async_wait(net::as_tuple(net::use_awaitable));
  }
}

}  // namespace

namespace {

std::string failure_summary(const std::vector<backend*>& targets, const std::vector<std::string>& errors,
                            std::string_view what) {
  std::string msg;
  int failed = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (errors[i].empty()) continue;
    ++failed;
    msg += (msg.empty() ? "" : "; ") + targets[i]->name() + ": " + errors[i];
  }
  return std::string(what) + " failed on " + std::to_string(failed) + " of " + std::to_string(targets.size()) +
         " backends: " + msg;
}

}  // namespace

net::awaitable<std::vector<std::string>> pull_on(worker& w, std::vector<backend*> targets, std::string body,
                                                 std::string request_id, downstream* progress_to) {
  auto st = std::make_shared<pull_progress>(co_await net::this_coro::executor, targets.size());
  st->forward = progress_to != nullptr;
  st->running = static_cast<int>(targets.size());
  std::vector<net::awaitable<void>> tasks;
  for (std::size_t i = 0; i < targets.size(); ++i) tasks.push_back(pull_one(w, *targets[i], i, body, request_id, st));
  if (progress_to) {
    tasks.push_back(pump_progress(*progress_to, st));
    co_await join_all(std::move(tasks));
  } else {
    co_await join_all(std::move(tasks));
  }
  co_return std::move(st->errors);
}

net::awaitable<void> serve_pull(worker& w, downstream& client, const json::object& body, const std::string& model) {
  auto healthy = w.state.healthy_mask();
  if (!healthy) {
    co_await client.reply_error(api_flavor::ollama, 503, "no healthy backend");
    co_return;
  }
  bool stream = true;
  if (auto* s = body.if_contains("stream"); s && s->is_bool()) stream = s->get_bool();
  auto targets = members(w, healthy);
  // Each backend streams its own progress; corral merges them into one stream.
  json::object upstream_body = body;
  upstream_body["stream"] = true;
  auto text = json::serialize(upstream_body);
  log(log_level::info, "pulling model on every healthy backend",
      {{"request_id", client.ctx.id}, {"model", model}, {"backends", std::to_string(targets.size())}});
  if (stream) co_await client.begin_chunked(200, "Content-Type: application/x-ndjson\r\n");
  auto errors = co_await pull_on(w, targets, text, client.ctx.id, stream ? &client : nullptr);
  if (stream && client.broken) {
    client.ctx.error = "client closed the connection";
    co_return;
  }
  bool all_ok = std::all_of(errors.begin(), errors.end(), [](const auto& e) { return e.empty(); });
  std::string final_line;
  if (all_ok) {
    final_line = "{\"status\":\"success\"}";
  } else {
    client.ctx.error = failure_summary(targets, errors, "pull");
    final_line = error_body(api_flavor::ollama, 500, client.ctx.error);
  }
  if (stream) {
    co_await client.write_chunk(final_line + "\n");
    co_await client.end_chunked();
  } else {
    co_await client.reply(all_ok ? 200 : 500, json_type, final_line);
  }
}

net::awaitable<void> serve_delete_or_copy(worker& w, downstream& client, const proxy_request& req,
                                          const std::string& model) {
  bool is_copy = req.route.kind == route_kind::copy;
  auto has = co_await backends_with_model(w, model, false);
  if (!has) {
    co_await client.reply_error(api_flavor::ollama, 404, "model '" + model + "' not found");
    co_return;
  }
  auto healthy = w.state.healthy_mask();
  auto targets = members(w, has);
  auto replies = co_await fan_out(w, has & healthy, req.method, req.target, req.body, client.ctx.id);
  std::vector<std::string> errors(targets.size());
  json::array report;
  unsigned first_failure = 0;
  std::size_t r = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    json::object row;
    row["backend"] = targets[i]->name();
    if (!((healthy >> targets[i]->index()) & 1)) {
      errors[i] = "backend is unhealthy: " + targets[i]->unhealthy_reason();
      row["error"] = errors[i];
      if (!first_failure) first_failure = 503;
    } else {
      auto& rep = replies[r++];
      row["status"] = rep.status;
      if (rep.ec || rep.status / 100 != 2) {
        errors[i] = message_of(rep);
        row["error"] = errors[i];
        if (!first_failure) first_failure = rep.ec ? 502 : rep.status;
      }
      co_await refresh_models(w, *targets[i]);
    }
    report.push_back(std::move(row));
  }
  if (!first_failure) {
    co_await client.reply(200, {}, {});
    co_return;
  }
  client.ctx.error = failure_summary(targets, errors, is_copy ? "copy" : "delete");
  json::object out;
  out["error"] = client.ctx.error;
  out["backends"] = std::move(report);
  co_await client.reply(first_failure, json_type, json::serialize(out));
}

}  // namespace corral
