#include "gateway/management_models.hpp"

#include "gateway/backend_monitor.hpp"
#include "gateway/core/json_text.hpp"
#include "gateway/core/model_name.hpp"
#include "gateway/fleet_routes.hpp"
#include "gateway/join_all.hpp"
#include "gateway/log.hpp"
#include "gateway/model_info_cache.hpp"
#include "gateway/upstream_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace corral {
namespace net = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view json_type = "application/json; charset=utf-8";

std::string_view str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

// Refreshes every healthy backend's entry in the catalog at once.
net::awaitable<void> refresh_fleet(worker& w) {
  std::vector<net::awaitable<void>> tasks;
  for (auto* b : members(w, w.state.healthy_mask())) tasks.push_back(refresh_models(w, *b));
  co_await join_all(std::move(tasks));
}

// /api/show for one model on one backend, into the cache.
net::awaitable<void> show_into_cache(worker& w, backend& b, std::string name, std::string digest) {
  json::object req;
  req["model"] = name;
  auto reply = co_await fetch(w, b, "POST", "/api/show", json_text(req), w.cfg()->ollama.timeout);
  if (reply.ec || reply.status != 200) co_return;
  boost::system::error_code ec;
  auto v = json::parse(reply.body, ec);
  if (ec || !v.is_object()) co_return;
  w.state.model_info().put(name, digest, std::move(v.get_object()));
}

struct fleet_model {
  json::object tag;  // the newest /api/tags entry seen for it
  std::vector<std::string> backends;
  std::vector<std::string> loaded_on;
  int first_backend = -1;
};

// Every model of the catalog, keyed by normalized name, with where it is and is loaded.
std::map<std::string, fleet_model> fleet_models(worker& w) {
  std::map<std::string, fleet_model> out;
  auto catalog = w.catalog();
  auto healthy = w.state.healthy_mask();
  const auto& per = catalog->per_backend();
  const auto& backends = w.state.backends();
  for (std::size_t i = 0; i < per.size() && i < backends.size(); ++i) {
    if (!((healthy >> i) & 1)) continue;
    for (const auto& t : per[i].tags) {
      if (!t.is_object()) continue;
      auto name = str(t.get_object(), "name");
      if (name.empty()) name = str(t.get_object(), "model");
      if (name.empty()) continue;
      auto& m = out[normalize_model_name(name)];
      if (m.tag.empty() || str(t.get_object(), "modified_at") > str(m.tag, "modified_at")) m.tag = t.get_object();
      m.backends.push_back(backends[i]->name());
      if (m.first_backend < 0) m.first_backend = static_cast<int>(i);
    }
    for (const auto& r : per[i].running) {
      if (!r.is_object()) continue;
      auto name = str(r.get_object(), "name");
      if (name.empty()) continue;
      auto it = out.find(normalize_model_name(name));
      if (it != out.end()) it->second.loaded_on.push_back(backends[i]->name());
    }
  }
  return out;
}

json::object model_entry(const fleet_model& m, const json::object* show) {
  json::object o;
  o["name"] = str(m.tag, "name");
  o["size"] = m.tag.contains("size") ? m.tag.at("size") : json::value(nullptr);
  o["digest"] = str(m.tag, "digest");
  o["modified_at"] = str(m.tag, "modified_at");
  json::object details;
  if (auto* d = m.tag.if_contains("details"); d && d->is_object()) details = d->get_object();
  if (show)
    if (auto* d = show->if_contains("details"); d && d->is_object())
      for (const auto& kv : d->get_object()) details[kv.key()] = kv.value();
  o["family"] = str(details, "family");
  o["families"] = details.contains("families") ? details.at("families") : json::value(nullptr);
  o["parameter_size"] = str(details, "parameter_size");
  o["quantization"] = str(details, "quantization_level");
  o["format"] = str(details, "format");
  json::value caps = nullptr;  // unknown when no backend answered /api/show
  if (show)
    if (auto* c = show->if_contains("capabilities"); c && c->is_array()) caps = *c;
  o["capabilities"] = caps;
  json::array backends, loaded;
  for (const auto& b : m.backends) backends.push_back(json::string(b));
  for (const auto& b : m.loaded_on) loaded.push_back(json::string(b));
  o["backends"] = std::move(backends);
  o["loaded_on"] = std::move(loaded);
  return o;
}

// The fleet's models with /api/show's detail, asking only for models not yet in the cache.
// `whole_fleet`: `models` is every model there is, so cache entries for any other are dropped.
net::awaitable<json::array> describe_models(worker& w, const std::map<std::string, fleet_model>& models,
                                            bool whole_fleet) {
  std::vector<net::awaitable<void>> asks;
  std::set<std::string> live;
  for (const auto& [key, m] : models) {
    std::string name(str(m.tag, "name"));
    std::string digest(str(m.tag, "digest"));
    live.insert(name + '@' + digest);
    if (!w.state.model_info().find(name, digest) && m.first_backend >= 0)
      asks.push_back(show_into_cache(w, *w.state.backends()[static_cast<std::size_t>(m.first_backend)], name, digest));
  }
  co_await join_all(std::move(asks));
  if (whole_fleet) w.state.model_info().prune(live);
  json::array out;
  for (const auto& [key, m] : models) {
    auto show = w.state.model_info().find(std::string(str(m.tag, "name")), std::string(str(m.tag, "digest")));
    out.push_back(model_entry(m, show.get()));
  }
  co_return out;
}

// --- Lifecycle -------------------------------------------------------------------------------

struct target_choice {
  std::vector<backend*> backends;
  std::string error;     // why there are none to ask
  unsigned status = 400;
};

std::string backend_names(worker& w) {
  std::string out;
  for (auto& b : w.state.backends()) out += (out.empty() ? "" : ", ") + b->name();
  return out;
}

// `targets` as given (names, a comma-separated string, or "all"), else the default.
target_choice choose_targets(worker& w, const json::value* targets, backend_mask default_mask) {
  target_choice out;
  if (!targets || targets->is_null()) {
    out.backends = members(w, default_mask);
    return out;
  }
  std::vector<std::string> names;
  if (targets->is_string()) {
    std::string_view s = targets->get_string();
    while (!s.empty()) {
      auto comma = s.find(',');
      names.emplace_back(s.substr(0, comma));
      if (comma == std::string_view::npos) break;
      s.remove_prefix(comma + 1);
    }
  } else if (targets->is_array()) {
    for (const auto& t : targets->get_array()) {
      if (!t.is_string()) {
        out.error = "field \"targets\": expected backend names (strings) or \"all\"";
        return out;
      }
      names.emplace_back(t.get_string());
    }
  } else {
    out.error = "field \"targets\": expected a list of backend names or \"all\"";
    return out;
  }
  if (names.size() == 1 && names[0] == "all") {
    out.backends = members(w, ~backend_mask{0});
    return out;
  }
  if (names.empty()) {
    out.error = "field \"targets\": name at least one backend, or \"all\"";
    return out;
  }
  for (const auto& n : names) {
    backend* found = nullptr;
    for (auto& b : w.state.backends())
      if (b->name() == n) found = b.get();
    if (!found) {
      out.error = "field \"targets\": unknown backend '" + n + "' (backends: " + backend_names(w) + ")";
      return out;
    }
    if (std::find(out.backends.begin(), out.backends.end(), found) == out.backends.end()) out.backends.push_back(found);
  }
  return out;
}

// Targets of an operation on a model: those given, else every backend that has it (404 when
// none has it).
net::awaitable<target_choice> targets_having(worker& w, const json::value* given, std::string model) {
  auto has = co_await backends_with_model(w, normalize_model_name(model), false);
  auto out = choose_targets(w, given, has);
  if (out.error.empty() && out.backends.empty()) {
    out.status = 404;
    out.error = "model '" + model + "' not found";
  }
  co_return out;
}

struct outcome_row {
  backend* b = nullptr;
  unsigned http_status = 200;
  std::string error;  // "" = ok
};

// The per-backend report and its status (see the header).
net::awaitable<void> send_report(downstream& client, std::string_view operation, std::string_view model,
                                 const std::vector<outcome_row>& rows) {
  json::array results;
  std::size_t ok = 0;
  for (const auto& r : rows) {
    json::object row;
    row["backend"] = r.b->name();
    if (r.error.empty()) {
      row["status"] = "ok";
      ++ok;
    } else {
      row["status"] = "error";
      row["http_status"] = r.http_status;
      row["error"] = r.error;
    }
    results.push_back(std::move(row));
  }
  json::object out;
  out["operation"] = operation;
  out["model"] = model;
  out["results"] = std::move(results);
  out["succeeded"] = ok;
  out["failed"] = rows.size() - ok;
  unsigned status = 200;
  if (ok < rows.size()) {
    status = rows.size() == 1 ? rows[0].http_status : 207;
    std::string summary;
    for (const auto& r : rows)
      if (!r.error.empty()) summary += (summary.empty() ? "" : "; ") + r.b->name() + ": " + r.error;
    client.ctx.error = std::string(operation) + " failed on " + std::to_string(rows.size() - ok) + " of " +
                       std::to_string(rows.size()) + " backends: " + summary;
    if (rows.size() == 1) out["error"] = rows[0].error;
  }
  co_await client.reply(status, json_type, json_text(out));
}

// The same request on each target at once; unhealthy targets are reported, not asked.
net::awaitable<std::vector<outcome_row>> run_on(worker& w, downstream& client, const std::vector<backend*>& targets,
                                                std::string_view method, std::string_view path, std::string_view body) {
  auto healthy = w.state.healthy_mask();
  backend_mask ask = 0;
  for (auto* b : targets)
    if ((healthy >> b->index()) & 1) ask |= backend_mask{1} << b->index();
  auto replies = co_await fan_out(w, ask, method, path, body, client.ctx.id);
  // fan_out answers in backend order; rows keep the targets' order.
  std::map<int, const upstream_reply*> by_index;
  std::size_t r = 0;
  for (auto* b : members(w, ask)) by_index[b->index()] = &replies[r++];
  std::vector<outcome_row> rows;
  std::vector<net::awaitable<void>> refreshes;
  for (auto* b : targets) {
    outcome_row row;
    row.b = b;
    auto it = by_index.find(b->index());
    if (it == by_index.end()) {
      row.http_status = 503;
      row.error = "backend is unhealthy: " + b->unhealthy_reason();
    } else {
      const auto& rep = *it->second;
      if (rep.ec || rep.status / 100 != 2) {
        row.http_status = rep.ec ? 502 : rep.status;
        row.error = message_of(rep);
      }
      refreshes.push_back(refresh_models(w, *b));
    }
    rows.push_back(std::move(row));
  }
  co_await join_all(std::move(refreshes));
  co_return rows;
}

// Checks that `field` of `body` is a valid model name; returns it, or "" with `error` set.
std::string model_field(const json::object& body, std::string_view field, std::string& error,
                        std::string_view alt = {}) {
  const json::value* v = body.if_contains(field);
  if ((!v || v->is_null()) && !alt.empty()) {
    v = body.if_contains(alt);
    if (v) field = alt;
  }
  if (!v || v->is_null()) {
    error = "field \"" + std::string(field) + "\" is required";
    return {};
  }
  if (!v->is_string()) {
    error = "field \"" + std::string(field) + "\": expected a model name (a string)";
    return {};
  }
  if (!is_valid_model_name(v->get_string())) {
    error = "field \"" + std::string(field) + "\": invalid model name \"" + std::string(v->get_string()) + "\"";
    return {};
  }
  return std::string(v->get_string());
}

std::string unknown_field(const json::object& body, std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : body)
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end())
      return "unknown field \"" + std::string(kv.key()) + "\"";
  return {};
}

net::awaitable<void> serve_pull_op(worker& w, downstream& client, const json::object& body) {
  std::string error = unknown_field(body, {"name", "model", "targets", "stream", "insecure"});
  std::string model = error.empty() ? model_field(body, "name", error, "model") : std::string();
  bool stream = false;
  if (error.empty())
    if (auto* s = body.if_contains("stream"); s && !s->is_null()) {
      if (!s->is_bool()) error = "field \"stream\": expected true or false";
      else stream = s->get_bool();
    }
  target_choice targets;
  if (error.empty()) {
    targets = choose_targets(w, body.if_contains("targets"), w.state.healthy_mask());
    error = targets.error;
  }
  if (error.empty() && targets.backends.empty()) {
    co_await client.reply_error(api_flavor::ollama, 503, "no healthy backend");
    co_return;
  }
  if (!error.empty()) {
    co_await client.reply_error(api_flavor::ollama, 400, error);
    co_return;
  }
  client.ctx.model = normalize_model_name(model);
  json::object up;
  up["model"] = model;
  up["stream"] = true;
  if (auto* i = body.if_contains("insecure"); i && i->is_bool()) up["insecure"] = *i;
  // Unhealthy targets are reported without being asked.
  auto healthy = w.state.healthy_mask();
  std::vector<backend*> asked;
  for (auto* b : targets.backends)
    if ((healthy >> b->index()) & 1) asked.push_back(b);
  log(log_level::info, "pulling model",
      {{"request_id", client.ctx.id}, {"model", model}, {"backends", std::to_string(asked.size())}});
  if (stream) co_await client.begin_chunked(200, "Content-Type: application/x-ndjson\r\n");
  auto errors = co_await pull_on(w, asked, json_text(up), client.ctx.id, stream ? &client : nullptr);
  std::vector<outcome_row> rows;
  std::size_t a = 0;
  for (auto* b : targets.backends) {
    outcome_row row;
    row.b = b;
    if (a < asked.size() && asked[a] == b) {
      if (!errors[a].empty()) {
        row.http_status = 500;
        row.error = errors[a];
      }
      ++a;
    } else {
      row.http_status = 503;
      row.error = "backend is unhealthy: " + b->unhealthy_reason();
    }
    rows.push_back(std::move(row));
  }
  if (!stream) {
    co_await send_report(client, "pull", model, rows);
    co_return;
  }
  if (client.broken) {
    client.ctx.error = "client closed the connection";
    co_return;
  }
  // The stream ends with the report as its last line.
  json::object last;
  json::array results;
  std::size_t ok = 0;
  for (const auto& r : rows) {
    json::object row;
    row["backend"] = r.b->name();
    row["status"] = r.error.empty() ? "ok" : "error";
    if (!r.error.empty()) {
      row["http_status"] = r.http_status;
      row["error"] = r.error;
    } else {
      ++ok;
    }
    results.push_back(std::move(row));
  }
  last["operation"] = "pull";
  last["model"] = model;
  last["status"] = ok == rows.size() ? "success" : (ok == 0 ? "failed" : "partial");
  last["results"] = std::move(results);
  last["succeeded"] = ok;
  last["failed"] = rows.size() - ok;
  if (ok != rows.size()) client.ctx.error = "pull failed on " + std::to_string(rows.size() - ok) + " backends";
  co_await client.write_chunk(json_text(last) + "\n");
  co_await client.end_chunked();
}

json::value query_targets(std::string_view query) {
  // ?targets=a,b
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    if (part.starts_with("targets=")) return json::string(percent_decode(part.substr(8)));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return nullptr;
}

}  // namespace

net::awaitable<void> serve_models(worker& w, downstream& client, const route_match& route, const json::object* body,
                                  std::string_view query) {
  auto healthy = w.state.healthy_mask();
  std::string error;
  // The model a path names (/api/v1/models/{model}...), checked before anything is asked.
  std::string name;
  if (route.op == mgmt_op::model_get || route.op == mgmt_op::model_info || route.op == mgmt_op::model_delete) {
    name = percent_decode(route.path_param);
    if (!is_valid_model_name(name)) {
      co_await client.reply_error(api_flavor::ollama, 400, "invalid model name \"" + name + "\"");
      co_return;
    }
    client.ctx.model = normalize_model_name(name);
  }
  switch (route.op) {
    case mgmt_op::models_list:
    case mgmt_op::model_get: {
      if (!healthy) {
        co_await client.reply_error(api_flavor::ollama, 503, "no healthy backend");
        co_return;
      }
      co_await refresh_fleet(w);
      auto models = fleet_models(w);
      if (route.op == mgmt_op::model_get) {
        auto it = models.find(client.ctx.model);
        if (it == models.end()) {
          co_await client.reply_error(api_flavor::ollama, 404, "model '" + name + "' not found on any healthy backend");
          co_return;
        }
        std::map<std::string, fleet_model> one{*it};
        auto list = co_await describe_models(w, one, false);
        co_await client.reply(200, json_type, json_text(list[0]));
        co_return;
      }
      json::object out;
      auto list = co_await describe_models(w, models, true);
      // A key limited to some models sees only those, as in /api/tags.
      if (client.ctx.who && !client.ctx.who->models.empty()) {
        json::array kept;
        for (auto& m : list)
          if (client.ctx.who->may_use(normalize_model_name(m.at("name").as_string()))) kept.push_back(std::move(m));
        list = std::move(kept);
      }
      out["models"] = std::move(list);
      co_await client.reply(200, json_type, json_text(out));
      co_return;
    }
    case mgmt_op::model_info: {
      auto has = co_await backends_with_model(w, client.ctx.model, false);
      auto on = members(w, has & healthy);
      if (on.empty()) {
        co_await client.reply_error(api_flavor::ollama, 404, "model '" + name + "' not found on any healthy backend");
        co_return;
      }
      json::object req;
      req["model"] = name;
      auto reply = co_await fetch(w, *on[0], "POST", "/api/show", json_text(req), w.cfg()->ollama.timeout,
                                  client.ctx.id);
      client.ctx.backend = on[0]->name();
      if (reply.ec || reply.status != 200) {
        unsigned status = reply.ec ? 502 : reply.status;
        co_await client.reply_error(api_flavor::ollama, status, "backend " + on[0]->name() + ": " + message_of(reply));
        co_return;
      }
      boost::system::error_code ec;
      auto v = json::parse(reply.body, ec);
      json::object out;
      out["name"] = name;
      out["backend"] = on[0]->name();
      if (!ec && v.is_object())
        for (auto& kv : v.get_object()) out[kv.key()] = kv.value();
      co_await client.reply(200, json_type, json_text(out));
      co_return;
    }
    case mgmt_op::models_pull:
      co_await serve_pull_op(w, client, *body);
      co_return;
    case mgmt_op::model_delete: {
      auto given = query_targets(query);
      auto targets = co_await targets_having(w, given.is_null() ? nullptr : &given, name);
      if (!targets.error.empty()) {
        co_await client.reply_error(api_flavor::ollama, targets.status, targets.error);
        co_return;
      }
      json::object req;
      req["model"] = name;
      auto rows = co_await run_on(w, client, targets.backends, "DELETE", "/api/delete", json_text(req));
      co_await send_report(client, "delete", name, rows);
      co_return;
    }
    case mgmt_op::models_copy: {
      error = unknown_field(*body, {"source", "destination", "targets"});
      std::string source = error.empty() ? model_field(*body, "source", error) : std::string();
      std::string destination = error.empty() ? model_field(*body, "destination", error) : std::string();
      if (!error.empty()) {
        co_await client.reply_error(api_flavor::ollama, 400, error);
        co_return;
      }
      client.ctx.model = normalize_model_name(source);
      auto targets = co_await targets_having(w, body->if_contains("targets"), source);
      if (!targets.error.empty()) {
        co_await client.reply_error(api_flavor::ollama, targets.status, targets.error);
        co_return;
      }
      json::object req;
      req["source"] = source;
      req["destination"] = destination;
      auto rows = co_await run_on(w, client, targets.backends, "POST", "/api/copy", json_text(req));
      co_await send_report(client, "copy", destination, rows);
      co_return;
    }
    case mgmt_op::models_create:
    case mgmt_op::models_push: {
      bool push = route.op == mgmt_op::models_push;
      error = push ? unknown_field(*body, {"model", "name", "insecure", "targets"})
                   : unknown_field(*body, {"model", "name", "from", "files", "adapters", "template", "license", "system",
                                           "parameters", "messages", "quantize", "targets"});
      std::string model = error.empty() ? model_field(*body, "model", error, "name") : std::string();
      std::string from;
      if (error.empty() && !push && body->contains("from")) from = model_field(*body, "from", error);
      if (!error.empty()) {
        co_await client.reply_error(api_flavor::ollama, 400, error);
        co_return;
      }
      client.ctx.model = normalize_model_name(model);
      // Defaults: push from the first healthy backend that has the model; create `from` a
      // model on every healthy backend that has it; create from files (blobs) on the primary
      // backend, where /api/blobs uploads go.
      backend_mask default_mask = 0;
      if (push) {
        auto has = co_await backends_with_model(w, client.ctx.model, false);
        default_mask = primary_backend(w.state, has);
        if (!default_mask && !body->contains("targets")) {
          co_await client.reply_error(api_flavor::ollama, 404, "model '" + model + "' not found on any healthy backend");
          co_return;
        }
      } else if (!from.empty() && !body->contains("files")) {
        auto has = co_await backends_with_model(w, normalize_model_name(from), false);
        default_mask = has & healthy;
        if (!default_mask) default_mask = primary_backend(w.state, 0);
      } else {
        default_mask = primary_backend(w.state, 0);
      }
      auto targets = choose_targets(w, body->if_contains("targets"), default_mask);
      if (!targets.error.empty()) {
        co_await client.reply_error(api_flavor::ollama, 400, targets.error);
        co_return;
      }
      if (targets.backends.empty()) {
        co_await client.reply_error(api_flavor::ollama, 503, "no healthy backend");
        co_return;
      }
      json::object req = *body;
      req.erase("targets");
      req.erase("name");
      req["model"] = model;
      req["stream"] = false;
      auto rows = co_await run_on(w, client, targets.backends, "POST", push ? "/api/push" : "/api/create",
                                  json_text(req));
      co_await send_report(client, push ? "push" : "create", model, rows);
      co_return;
    }
    default:
      co_await client.reply_error(api_flavor::ollama, 404, "404 page not found");
      co_return;
  }
}

net::awaitable<void> pull_configured_models(worker& w) {
  auto cfg = w.cfg();
  co_await refresh_fleet(w);
  for (const auto& model : cfg->ollama.models) {
    auto has = w.catalog()->installed_on(normalize_model_name(model));
    std::vector<backend*> lacking;
    for (auto* b : members(w, w.state.healthy_mask()))
      if (!((has >> b->index()) & 1)) lacking.push_back(b);
    if (lacking.empty()) continue;
    json::object req;
    req["model"] = model;
    req["stream"] = true;
    log(log_level::info, "pulling a configured model (ollama.auto_pull)",
        {{"model", model}, {"backends", std::to_string(lacking.size())}});
    auto errors = co_await pull_on(w, lacking, json_text(req), {}, nullptr);
    for (std::size_t i = 0; i < lacking.size(); ++i) {
      if (errors[i].empty())
        log(log_level::info, "configured model pulled", {{"model", model}, {"backend", lacking[i]->name()}});
      else
        log(log_level::error, "configured model not pulled",
            {{"model", model}, {"backend", lacking[i]->name()}, {"error", errors[i]}});
    }
  }
}

}  // namespace corral
