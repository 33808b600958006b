#include "gateway/session.hpp"

#include "gateway/access_log.hpp"
#include "gateway/blob_upload.hpp"
#include "gateway/core/model_name.hpp"
#include "gateway/core/json_scan.hpp"
#include "gateway/core/json_text.hpp"
#include "gateway/downstream.hpp"
#include "gateway/fleet_routes.hpp"
#include "gateway/log.hpp"
#include "gateway/management_inference.hpp"
#include "gateway/management_routes.hpp"
#include "gateway/presets.hpp"
#include "gateway/preset_store.hpp"
#include "gateway/proxy.hpp"
#include "gateway/usage_stats.hpp"
#include "gateway/request_admission.hpp"
#include "gateway/route_table.hpp"
#include "policies/policy_chain.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <random>

namespace corral {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace {

constexpr std::string_view json_type = "application/json; charset=utf-8";

// A deadline on the client socket's reads that, unlike beast::tcp_stream's, cancels the read
// instead of closing the socket, so the client still gets its 408. Single-threaded: the
// session's own io_context runs the handler; a generation number ignores stale expiries.
class read_deadline {
 public:
  read_deadline(const net::any_io_executor& ex, tcp::socket& sock) : st_(std::make_shared<state>(ex, sock)) {}
  ~read_deadline() {
    st_->sock = nullptr;
    st_->timer.cancel();
  }
  read_deadline(const read_deadline&) = delete;
  read_deadline& operator=(const read_deadline&) = delete;

  void arm(millis d) {
    st_->fired = false;
    auto gen = ++st_->generation;
    st_->timer.expires_after(d);
    st_->timer.async_wait([st = st_, gen](const boost::system::error_code& ec) {
      if (ec || gen != st->generation || !st->sock) return;
      st->fired = true;
      boost::system::error_code ignored;
      st->sock->cancel(ignored);
    });
  }
  void disarm() {
    ++st_->generation;
    st_->timer.cancel();
  }
  bool fired() const { return st_->fired; }

 private:
  struct state {
    state(const net::any_io_executor& ex, tcp::socket& s) : timer(ex), sock(&s) {}
    net::steady_timer timer;
    tcp::socket* sock;
    std::uint64_t generation = 0;
    bool fired = false;
  };
  std::shared_ptr<state> st_;
};

std::string make_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  thread_local std::uint64_t counter = 0;
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(++counter & 0xffffffff));
  return buf;
}

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

// The routing name of a JSON request: "model", else "name" ("source" for /api/copy).
struct model_field {
  std::string normalized;
  std::string error;  // 400 message when unusable
};

model_field model_from(const json::object& body, route_kind kind) {
  const json::value* v = nullptr;
  if (kind == route_kind::copy) v = body.if_contains("source");
  else {
    v = body.if_contains("model");
    if (!v || (v->is_string() && v->get_string().empty())) v = body.if_contains("name");
  }
  model_field out;
  if (!v || (v->is_string() && v->get_string().empty())) {
    out.error = kind == route_kind::copy ? "source is required" : "model is required";
    return out;
  }
  if (!v->is_string()) {
    out.error = std::string(kind == route_kind::copy ? "source" : "model") + " must be a string";
    return out;
  }
  std::string_view name = v->get_string();
  if (!is_valid_model_name(name)) {
    out.error = "invalid model name";
    return out;
  }
  out.normalized = normalize_model_name(name);
  return out;
}

net::awaitable<void> serve_ready(worker& w, downstream& client) {
  json::object out;
  json::object reasons;
  int healthy = 0;
  auto now = steady_clock::now();
  for (auto& b : w.state.backends()) {
    auto why = b->unhealthy_reason(now);
    if (why.empty()) ++healthy;
    else reasons[b->name()] = why;
  }
  out["healthy_backends"] = healthy;
  out["backends"] = static_cast<std::int64_t>(w.state.backends().size());
  if (healthy > 0) {
    out["status"] = "ready";
    co_await client.reply(200, json_type, json::serialize(out));
  } else {
    out["status"] = "not ready";
    out["error"] = "no healthy backend";
    out["unhealthy"] = std::move(reasons);
    client.ctx.error = "no healthy backend";
    co_await client.reply(503, json_type, json::serialize(out));
  }
}

net::awaitable<void> serve_metrics(worker& w, downstream& client) {
  std::vector<backend_gauges> gauges;
  auto now = steady_clock::now();
  for (auto& b : w.state.backends()) gauges.push_back({b->name(), b->healthy(now), b->in_flight(), b->ejections()});
  auto text = w.state.metrics().render(gauges);
  text += render_policy_decisions(w.state.decisions().snapshot());
  co_await client.reply(200, "text/plain; version=0.0.4; charset=utf-8", text);
}

// Ollama decodes bodies with Go's encoding/json, which matches field names case-insensitively
// and lets a later duplicate win: {"model":"a","MODEL":"b"} runs b. Policies check the exact
// names, so a body that spells a field another way is refused when a chain is configured.
std::string case_variant_field(const json::object& body) {
  for (const auto& kv : body) {
    std::string_view k = kv.key();
    bool upper = false;
    for (char c : k) upper = upper || (c >= 'A' && c <= 'Z');
    if (!upper || k.size() > 32) continue;
    std::string lowered(k);
    for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return "field \"" + std::string(k) + "\": field names are case-sensitive here; use \"" + lowered + "\"";
  }
  return {};
}

// Routes whose body is a JSON object naming the model.
bool has_json_body(const route_match& route) {
  switch (route.kind) {
    case route_kind::inference:
    case route_kind::show:
    case route_kind::pull:
    case route_kind::delete_model:
    case route_kind::copy:
      return true;
    case route_kind::primary:
      return route.label != "/api/blobs/{digest}";
    case route_kind::management:
      return management_takes_body(route.op);
    default:
      return false;
  }
}

bool is_management_inference(mgmt_op op) {
  return op == mgmt_op::generate || op == mgmt_op::chat || op == mgmt_op::embeddings ||
         op == mgmt_op::generate_stream || op == mgmt_op::chat_stream;
}

// The shape of a request on an Ollama or OpenAI inference route, for applying a preset.
preset_route preset_route_of(std::string_view label) {
  if (label == "/api/chat") return preset_route::ollama_chat;
  if (label == "/api/embed" || label == "/api/embeddings") return preset_route::ollama_embed;
  if (label == "/v1/chat/completions") return preset_route::openai_chat;
  if (label == "/v1/completions") return preset_route::openai_completion;
  if (label == "/v1/embeddings") return preset_route::openai_embeddings;
  return preset_route::ollama_generate;
}

// A preset's virtual model name ("@coding") on an Ollama or OpenAI route: the body becomes the
// preset's request. Returns "" or why not (the preset does not exist).
std::string expand_virtual_model(worker& w, const route_match& route, json::object& body, request_context& ctx) {
  auto* m = body.if_contains("model");
  if (!m || !m->is_string()) return {};
  auto name = preset_of_model_name(m->get_string());
  if (!name) return {};
  auto presets = w.state.presets().snapshot();
  const preset* p = presets->find(*name);
  if (!p) return "model \"" + std::string(m->get_string()) + "\" not found: there is no preset named '" + std::string(*name) + "'";
  if (route.kind == route_kind::show) body["model"] = p->model;
  else apply_preset(*p, body, preset_route_of(route.label));
  ctx.preset = p->name;
  return {};
}

void finish(worker& w, request_context& ctx, const policy_chain& chain);

// Dispatches one complete request: reads what policies need (the JSON body, the model), runs the
// policy chain, then serves the route.
net::awaitable<void> dispatch(worker& w, downstream& client, http::request<http::string_body>& req,
                              const route_match& route, std::string& forwarded, const std::string& client_ip,
                              const std::shared_ptr<const policy_chain>& chain_ptr) {
  auto& ctx = client.ctx;
  const policy_chain& chain = *chain_ptr;

  // The body is parsed before the chain runs (policies see it), but a parse error is answered
  // after it: a client without a valid key learns nothing about its request.
  unsigned char scratch[4096];
  json::monotonic_resource mr(scratch, sizeof scratch);
  json::value parsed;
  json::object* body = nullptr;
  std::string body_error;
  unsigned body_status = 400;
  bool rewrite = false;  // corral changed the body (a preset): it goes upstream re-serialized
  bool json_route = has_json_body(route);
  if (json_route || (route.kind == route_kind::passthrough && !req.body().empty())) {
    boost::system::error_code ec;
    json::parse_options opts;
    opts.max_depth = json_max_depth;
    if (req.body().empty()) {
      body_error = "missing request body";
    } else {
      parsed = json::parse(req.body(), ec, &mr, opts);
      if (ec) body_error = "invalid JSON in request body: " + ec.message();
      else if (!parsed.is_object()) body_error = "request body must be a JSON object";
      else body = &parsed.get_object();
    }
    if (!json_route) {
      // Other routes are passed through as they are; the body's model routes them when named
      // (/v1/responses, /v1/messages, ...).
      body_error.clear();
      if (body)
        if (auto* m = body->if_contains("model"); m && m->is_string() && is_valid_model_name(m->get_string()))
          ctx.model = normalize_model_name(m->get_string());
    } else if (body && route.kind != route_kind::management) {
      if (route.kind == route_kind::inference || route.kind == route_kind::show) {
        body_error = expand_virtual_model(w, route, *body, ctx);
        if (!body_error.empty()) body_status = 404;
        rewrite = !ctx.preset.empty();
      }
      if (body_error.empty()) {
        auto model = model_from(*body, route.kind);
        if (model.error.empty()) ctx.model = model.normalized;
        else body_error = model.error;
      }
    }
  }
  // A model named in a management path meets the chain too (a key limited to some models).
  if (route.kind == route_kind::management &&
      (route.op == mgmt_op::model_get || route.op == mgmt_op::model_info || route.op == mgmt_op::model_delete)) {
    auto name = percent_decode(route.path_param);
    if (is_valid_model_name(name)) ctx.model = normalize_model_name(name);
  }
  // Management inference: translated into Ollama's request, which the chain then sees.
  inference_plan plan;        // when made, its body is the one sent
  json::value planned_tree;   // plan.body as the policies read it
  if (route.kind == route_kind::management && body && body_error.empty() && is_management_inference(route.op)) {
    plan = plan_inference(kind_of(route.op), streams(route.op), *body, *w.state.presets().snapshot(), w.cfg()->ollama);
    if (plan.status) {
      body_error = plan.error;
      body_status = plan.status;
    } else {
      ctx.model = plan.model;
      ctx.preset = plan.preset;
      ctx.api_route = plan.api_route;
      body = nullptr;
      if (!chain.empty()) {
        // The policies see Ollama's request as it will be sent.
        body = parse_planned(plan.body, planned_tree, &mr);
        if (!body) {
          body_error = "the translated request could not be read back";
          body_status = 500;
        }
      }
    }
  }
  std::string v1_model_name;
  const preset* v1_preset = nullptr;
  std::shared_ptr<const preset_set> preset_snapshot;
  if (route.kind == route_kind::v1_model) {
    v1_model_name = percent_decode(route.path_param);
    if (auto name = preset_of_model_name(v1_model_name)) {
      preset_snapshot = w.state.presets().snapshot();
      v1_preset = preset_snapshot->find(*name);
      if (v1_preset) ctx.model = normalize_model_name(v1_preset->model);
    } else if (is_valid_model_name(v1_model_name)) {
      ctx.model = normalize_model_name(v1_model_name);
    }
  }

  if (!chain.empty() && body && body_error.empty()) body_error = case_variant_field(*body);
  bool body_changed = false;
  std::array<std::string_view, 2> consumed{};
  bool answered = co_await admit(chain, client, route, req.base(), client_ip, body_error.empty() ? body : nullptr,
                                 body_changed, consumed);
  if (answered) co_return;
  std::string rewritten_body;
  if (body_changed && body) rewritten_body = json_text(*body);
  else if (!plan.body.empty()) rewritten_body = std::move(plan.body);
  else if (rewrite && body) rewritten_body = json_text(*body);
  if (!chain.empty() && chain.filters_responses(ctx)) {
    if (route.kind == route_kind::passthrough) {
      // The output filter knows Ollama's and OpenAI's chat/completion records, not these
      // routes' (Responses, Anthropic Messages): refusing is safer than passing text unfiltered.
      std::string why = "route " + std::string(route.label) + " is not served while an output filter applies to it";
      ctx.error = why;
      co_await client.reply_error(route.flavor, 403, why);
      co_return;
    }
    client.policies = &chain;
  }

  switch (route.kind) {
    case route_kind::root:
      co_await client.reply(200, "text/plain; charset=utf-8", "Ollama is running");
      co_return;
    case route_kind::health:
      co_await client.reply(200, json_type, "{\"status\":\"ok\"}");
      co_return;
    case route_kind::ready:
      co_await serve_ready(w, client);
      co_return;
    case route_kind::metrics:
      co_await serve_metrics(w, client);
      co_return;
    case route_kind::version:
      co_await serve_version(w, client);
      co_return;
    case route_kind::tags:
      co_await serve_tags(w, client, false);
      co_return;
    case route_kind::v1_models:
      co_await serve_tags(w, client, true);
      co_return;
    case route_kind::ps:
      co_await serve_ps(w, client);
      co_return;
    case route_kind::not_found:
      // Ollama answers unknown routes in plain text; the management API speaks JSON throughout.
      if (path_of(req.target()).starts_with("/api/v1/")) {
        co_await client.reply_error(api_flavor::ollama, 404, "404 page not found");
        co_return;
      }
      co_await client.reply(404, "text/plain", "404 page not found");
      co_return;
    case route_kind::method_not_allowed:
      if (route.label.starts_with("/api/v1/")) {
        co_await client.reply_error(api_flavor::ollama, 405, "405 method not allowed");
        co_return;
      }
      co_await client.reply(405, "text/plain", "405 method not allowed");
      co_return;
    default:
      break;
  }

  forwarded_headers(req, client_ip, forwarded, consumed);  // credentials a policy consumed stay here
  proxy_request preq;
  preq.method = ctx.method;
  preq.target = req.target();
  preq.forwarded_headers = forwarded;
  preq.body = rewritten_body.empty() ? std::string_view(req.body()) : std::string_view(rewritten_body);
  preq.route = route;
  preq.model = ctx.model;

  if (route.kind == route_kind::management) {
    if (!body_error.empty()) {
      co_await client.reply_error(api_flavor::ollama, body_status, body_error);
      co_return;
    }
    if (route.op == mgmt_op::batch_generate || route.op == mgmt_op::batch_embeddings) {
      batch_env env{req.base(), client_ip, chain_ptr, [&w, chain_ptr](request_context& c) { finish(w, c, *chain_ptr); }};
      co_await serve_batch(w, client, *body, kind_of(route.op), route, std::move(env));
      co_return;
    }
    if (!is_management_inference(route.op)) {
      auto target = std::string_view(req.target());
      auto q = target.find('?');
      std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
      co_await serve_management(w, client, route, body, query);
      co_return;
    }
    bool sse = std::string_view(req[http::field::accept]).find("text/event-stream") != std::string_view::npos;
    auto shaper = make_inference_shaper(kind_of(route.op), streams(route.op), sse, ctx);
    client.shaper = shaper.get();
    preq.target = plan.api_route;
    preq.route = route_match{route_kind::inference, route.label, api_flavor::ollama, {}, mgmt_op::none};
    co_await proxy(w, client, preq);
    co_return;
  }

  if (route.kind == route_kind::v1_model) {
    if (v1_preset) {
      json::object o;
      o["id"] = v1_model_name;
      o["object"] = "model";
      o["created"] = 0;
      o["owned_by"] = "corral-preset";
      co_await client.reply(200, "application/json; charset=utf-8", json::serialize(o));
      co_return;
    }
    if (ctx.model.empty()) {
      co_await client.reply_error(api_flavor::openai, 404, "model \"" + v1_model_name + "\" not found");
      co_return;
    }
    co_await proxy(w, client, preq);
    co_return;
  }
  if (route.kind == route_kind::passthrough ||
      (route.kind == route_kind::primary && route.label == "/api/blobs/{digest}")) {
    if (route.kind == route_kind::primary) {
      preq.only = primary_backend(w.state, 0);
      if (!preq.only) {
        co_await client.reply_error(api_flavor::ollama, 503, "no healthy backend");
        co_return;
      }
    }
    co_await proxy(w, client, preq);
    co_return;
  }

  // JSON routes: the body names the model.
  if (!body_error.empty()) {
    co_await client.reply_error(route.flavor, body_status, body_error);
    co_return;
  }

  switch (route.kind) {
    case route_kind::pull:
      co_await serve_pull(w, client, *body, ctx.model);
      co_return;
    case route_kind::delete_model:
    case route_kind::copy:
      co_await serve_delete_or_copy(w, client, preq, ctx.model);
      co_return;
    case route_kind::primary: {
      // /api/create and /api/push; see fleet_routes.hpp for the rule.
      backend_mask must_have = 0;
      if (route.label == "/api/push") {
        must_have = co_await backends_with_model(w, ctx.model, false);
        if (!must_have) {
          co_await client.reply_error(api_flavor::ollama, 404, "model '" + ctx.model + "' not found");
          co_return;
        }
      } else if (auto* from = body->if_contains("from"); from && from->is_string() && !body->contains("files")) {
        must_have = co_await backends_with_model(w, normalize_model_name(from->get_string()), false);
      }
      preq.only = primary_backend(w.state, must_have);
      // create `from` a model no healthy backend has: the primary backend answers for itself.
      if (!preq.only && route.label != "/api/push") preq.only = primary_backend(w.state, 0);
      if (!preq.only) {
        co_await client.reply_error(api_flavor::ollama, 503, "no healthy backend");
        co_return;
      }
      preq.model.clear();
      co_await proxy(w, client, preq);
      co_return;
    }
    default:
      co_await proxy(w, client, preq);
      co_return;
  }
}

// "100 Continue": the client may send the body. False when the client is gone.
net::awaitable<bool> send_continue(beast::tcp_stream& stream) {
  static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
  auto [ec, n] = co_await net::async_write(stream.socket(), net::buffer(cont.data(), cont.size()),
                                           net::as_tuple(net::use_awaitable));
  co_return !ec;
}

// Closes after an answer whose request body is left unread: stop sending, then read and drop
// what the client still sends for a moment, so it reads the answer instead of a reset.
net::awaitable<void> linger_close(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  char sink[4096];
  std::size_t drained = 0;
  stream.expires_after(std::chrono::milliseconds(500));
  while (drained < (1u << 20)) {
    auto [rec, n] = co_await stream.async_read_some(net::buffer(sink), net::as_tuple(net::use_awaitable));
    if (rec) break;
    drained += n;
  }
}

// Answers a request that cannot be read (limits, timeouts, malformed), then closes: the
// connection's framing is unknown past this point. Lingers briefly so the client reads the
// answer instead of a reset.
net::awaitable<void> reject_and_close(worker& w, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                      request_context& ctx, unsigned status, std::string message) {
  downstream client{stream, buffer, ctx};
  client.keep_alive = false;
  ctx.route = ctx.route.empty() ? std::string_view("other") : ctx.route;
  co_await client.reply_error(api_flavor::ollama, status, message);
  co_await linger_close(stream);
  (void)w;
}

}  // namespace

namespace {

void finish(worker& w, request_context& ctx, const policy_chain& chain) {
  ctx.done = request_context::clock::now();
  using secs = std::chrono::duration<double>;
  request_sample s;
  s.route = ctx.route;
  // Only models a backend has become labels, so label sets stay bounded.
  if (!ctx.backend.empty() && !ctx.model.empty() && w.catalog()->installed_on(ctx.model) != 0) s.model = ctx.model;
  s.status = ctx.status;
  s.duration_s = secs(ctx.done - ctx.accepted).count();
  if (ctx.first_byte != request_context::clock::time_point{}) s.ttfb_s = secs(ctx.first_byte - ctx.accepted).count();
  s.prompt_tokens = ctx.prompt_tokens;
  s.completion_tokens = ctx.completion_tokens;
  w.state.metrics().record(static_cast<std::size_t>(w.index), s);
  usage_sample u;
  u.at = std::chrono::system_clock::now();
  u.route = s.route;
  u.model = s.model;
  u.preset = ctx.preset;
  if (ctx.who) u.key = ctx.who->key_name;
  u.backend = ctx.backend;
  u.status = ctx.status;
  u.duration_s = s.duration_s;
  u.ttft_s = s.ttfb_s;
  u.load_s = ctx.load_ns ? static_cast<double>(ctx.load_ns) / 1e9 : -1;
  u.prompt_tokens = ctx.prompt_tokens;
  u.completion_tokens = ctx.completion_tokens;
  w.state.usage().record(static_cast<std::size_t>(w.index), u);
  if (!chain.empty()) chain.on_complete(ctx);
  write_access_log(ctx, w.cfg()->log.access_log);
}

}  // namespace

net::awaitable<void> run_session(worker& w, tcp::socket socket) {
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto peer = socket.remote_endpoint(ec);
  std::string client_addr = ec ? std::string("unknown") : peer.address().to_string() + ":" + std::to_string(peer.port());
  std::string client_ip = ec ? std::string() : peer.address().to_string();
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  std::string forwarded;
  auto& metrics = w.state.metrics();
  read_deadline deadline(stream.get_executor(), stream.socket());
  stream.socket().non_blocking(true, ec);
  byte_buffer relay;  // reused by every request of this connection
  wait_deadline send_deadline(stream.get_executor(), stream.socket(), w.cfg()->server.send_timeout);

  for (;;) {
    const auto cfg = w.cfg();
    const auto& sc = cfg->server;
    if (buffer.size() == 0) {
      // Idle keep-alive: wait for the next request's first bytes.
      // Wait for readiness first: a read now would only find nothing and cost a system call.
      deadline.arm(sc.keepalive_timeout);
      auto [wec] = co_await stream.socket().async_wait(tcp::socket::wait_read, net::as_tuple(net::use_awaitable));
      deadline.disarm();
      if (wec) co_return;
      boost::system::error_code rec;
      auto n = stream.socket().read_some(buffer.prepare(16 * 1024), rec);
      if (rec == net::error::would_block) continue;
      if (rec || n == 0) co_return;
      buffer.commit(n);
    }
    // The policy chain this request runs through, start to end (a reload swaps in another one
    // for later requests).
    std::shared_ptr<const policy_chain> chain = w.chain();
    request_context ctx;
    ctx.worker = static_cast<unsigned>(w.index);
    ctx.client = client_addr;
    ctx.accepted = request_context::clock::now();
    ctx.id = make_request_id();  // replaced by the client's own once its head is read

    http::request_parser<http::empty_body> head_parser;
    head_parser.header_limit(static_cast<std::uint32_t>(sc.max_header_bytes));
    head_parser.body_limit(boost::none);
    // Usually the whole head came with the first read: then parsing cannot wait, and the
    // timer (and its bookkeeping) is not needed.
    auto buffered = std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size());
    bool head_buffered = buffered.find("\r\n\r\n") != std::string_view::npos;
    if (!head_buffered) deadline.arm(sc.header_timeout);
    auto [hec, hn] = co_await http::async_read_header(stream.socket(), buffer, head_parser, net::as_tuple(net::use_awaitable));
    if (!head_buffered) deadline.disarm();
    if (hec && deadline.fired()) hec = beast::error::timeout;
    if (hec) {
      if (hec == http::error::end_of_stream || hec == net::error::eof || hec == net::error::connection_reset) co_return;
      unsigned status = 400;
      std::string message = "malformed HTTP request: " + hec.message();
      if (hec == http::error::header_limit) {
        status = 431;
        message = "request header fields too large (limit " + std::to_string(sc.max_header_bytes) + " bytes)";
      } else if (hec == beast::error::timeout) {
        status = 408;
        message = "request header not received within " + format_duration(sc.header_timeout);
      }
      ctx.method = "";
      ctx.status = status;
      co_await reject_and_close(w, stream, buffer, ctx, status, message);
      finish(w, ctx, *chain);
      co_return;
    }

    metrics.in_flight().fetch_add(1, std::memory_order_relaxed);
    struct in_flight_end {
      metrics_registry& m;
      ~in_flight_end() { m.in_flight().fetch_sub(1, std::memory_order_relaxed); }
    } in_flight_end_guard{metrics};

    const auto& head = head_parser.get();
    auto route = match_route(head.method_string(), path_of(head.target()));
    ctx.route = route.label;
    ctx.api_route = route.label;
    ctx.cls = class_of(route);
    ctx.target = std::string(head.target());
    if (auto id = head["X-Request-Id"]; acceptable_request_id(id)) ctx.id = std::string(id);
    bool is_blob_upload = route.kind == route_kind::primary && route.label == "/api/blobs/{digest}";
    std::size_t body_cap = sc.max_body_bytes;  // blob uploads are streamed and have none

    if (auto cl = head_parser.content_length(); cl && *cl > body_cap && !is_blob_upload) {
      co_await reject_and_close(w, stream, buffer, ctx, 413,
                                "request body too large (limit " + std::to_string(sc.max_body_bytes) + " bytes)");
      finish(w, ctx, *chain);
      co_return;
    }
    bool expects_continue = beast::iequals(head[http::field::expect], "100-continue") && buffer.size() == 0;

    if (is_blob_upload && head.method() == http::verb::post) {
      // Streamed to the backend, never buffered whole; the connection closes after it. The
      // chain runs first, before 100 Continue invites the body.
      http::request_parser<http::buffer_body> upload(std::move(head_parser));
      upload.body_limit(boost::none);
      std::string method_storage(upload.get().method_string());
      ctx.method = method_storage;
      downstream client{stream, buffer, ctx};
      bool changed = false;
      std::array<std::string_view, 2> consumed{};
      client.keep_alive = false;
      bool refused = co_await admit(*chain, client, route, upload.get().base(), client_ip, nullptr, changed, consumed);
      if (refused) {
        co_await linger_close(stream);
        finish(w, ctx, *chain);
        co_return;
      }
      forwarded_headers(upload.get(), client_ip, forwarded, consumed);
      if (expects_continue) {
        bool continued = co_await send_continue(stream);
        if (!continued) co_return;
      }
      co_await proxy_blob_upload(w, client, upload, forwarded);
      finish(w, ctx, *chain);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    if (expects_continue) {
      bool continued = co_await send_continue(stream);
      if (!continued) co_return;
    }

    http::request_parser<http::string_body> parser(std::move(head_parser));
    parser.body_limit(body_cap);
    auto body_length = parser.content_length();
    bool body_buffered = !parser.chunked() && (!body_length || buffer.size() >= *body_length);
    if (!body_buffered) deadline.arm(sc.body_timeout);
    auto [bec, bn] = co_await http::async_read(stream.socket(), buffer, parser, net::as_tuple(net::use_awaitable));
    if (!body_buffered) deadline.disarm();
    if (bec && deadline.fired()) bec = beast::error::timeout;
    if (bec) {
      if (bec == net::error::eof || bec == http::error::end_of_stream || bec == http::error::partial_message ||
          bec == net::error::connection_reset)
        co_return;
      unsigned status = 400;
      std::string message = "malformed HTTP request body: " + bec.message();
      if (bec == http::error::body_limit) {
        status = 413;
        message = "request body too large (limit " + std::to_string(sc.max_body_bytes) + " bytes)";
      } else if (bec == beast::error::timeout) {
        status = 408;
        message = "request body not received within " + format_duration(sc.body_timeout);
      }
      co_await reject_and_close(w, stream, buffer, ctx, status, message);
      finish(w, ctx, *chain);
      co_return;
    }
    auto& req = parser.get();
    std::string method_storage(req.method_string());
    ctx.method = method_storage;
    ctx.bytes_in = req.body().size();

    downstream client{stream, buffer, ctx};
    client.relay = &relay;
    client.send_deadline = &send_deadline;
    client.keep_alive = req.keep_alive() && !w.state.stopping.load(std::memory_order_relaxed);
    client.head_only = req.method() == http::verb::head;
    client.http10 = req.version() < 11;
    co_await dispatch(w, client, req, route, forwarded, client_ip, chain);
    finish(w, ctx, *chain);
    if (relay.size > 64 * 1024) relay = byte_buffer{};  // one huge record must not pin memory
    if (client.broken || !client.keep_alive || w.state.stopping.load(std::memory_order_relaxed)) {
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
  }
}

}  // namespace corral
