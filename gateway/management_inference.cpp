#include "gateway/management_inference.hpp"

#include "gateway/core/json_scan.hpp"
#include "gateway/core/json_text.hpp"
#include "gateway/core/model_name.hpp"
#include "gateway/join_all.hpp"
#include "gateway/preset_store.hpp"
#include "gateway/presets.hpp"
#include "gateway/proxy.hpp"
#include "gateway/request_admission.hpp"
#include "policies/policy_chain.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>

#include <sys/socket.h>

namespace corral {
namespace net = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view json_type = "application/json; charset=utf-8";

// --- Text ----------------------------------------------------------------------------------------

// Writes one JSON object member by member, straight into its text: Ollama's request and the
// answers are made once per request (or per token), so no intermediate json::object is built.
class member_writer {
 public:
  explicit member_writer(std::string& out) : out_(out) { out_ += '{'; }
  void close() { out_ += '}'; }
  // `k` is one of the answer's own names (plain ASCII, nothing to escape).
  std::string& key(std::string_view k) {
    // ,"name": in one append (the names are short; a call per piece showed in profiles).
    char buf[48];
    if (k.size() > sizeof buf - 4) {
      out_.append(first_ ? "\"" : ",\"").append(k).append("\":");
    } else {
      std::size_t n = 0;
      if (!first_) buf[n++] = ',';
      buf[n++] = '"';
      std::memcpy(buf + n, k.data(), k.size());
      n += k.size();
      buf[n++] = '"';
      buf[n++] = ':';
      out_.append(buf, n);
    }
    first_ = false;
    return out_;
  }
  void str(std::string_view k, std::string_view v) { append_json_string(key(k), v); }
  // A number given in tenths, written with one decimal (123 as 12.3): integer arithmetic, where a
  // shortest-decimal conversion of a double costs more than reading the record.
  void tenths(std::string_view k, std::int64_t v) {
    auto& out = key(k);
    std::uint64_t magnitude = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    if (v < 0) out += '-';
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, magnitude / 10);
    out.append(buf, static_cast<std::size_t>(end - buf));
    out += '.';
    out += static_cast<char>('0' + magnitude % 10);
  }
  void count(std::string_view k, std::uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    key(k).append(buf, static_cast<std::size_t>(end - buf));
  }
  void boolean(std::string_view k, bool v) { key(k) += v ? "true" : "false"; }
  void value(std::string_view k, const json::value& v) { append_json_text(key(k), v); }
  // A member whose name came from a client (escaped as any string).
  void member(std::string_view k, const json::value& v) {
    if (!first_) out_ += ',';
    first_ = false;
    append_json_string(out_, k);
    out_ += ':';
    append_json_text(out_, v);
  }
  void null(std::string_view k) { key(k) += "null"; }
  // A value's JSON text as the backend wrote it (checked by json_cursor).
  void raw(std::string_view k, std::string_view json) { key(k) += json; }

 private:
  std::string& out_;
  bool first_ = true;
};

// --- Requests --------------------------------------------------------------------------------

// The fields each kind accepts; anything else is refused, naming it.
constexpr std::array<std::string_view, 13> generate_fields{"model",   "preset",  "prompt",    "system", "temperature",
                                                           "max_tokens", "top_p", "options", "variables", "format",
                                                           "images",  "keep_alive", "think"};
constexpr std::array<std::string_view, 14> chat_fields{"model",      "preset", "messages", "prompt",    "system",
                                                       "temperature", "max_tokens", "top_p", "options", "variables",
                                                       "format",     "tools",  "keep_alive", "think"};
constexpr std::array<std::string_view, 8> embedding_fields{"model", "preset",     "input",    "prompt",
                                                           "options", "keep_alive", "truncate", "dimensions"};

template <std::size_t N>
bool listed(const std::array<std::string_view, N>& names, std::string_view k) {
  return std::find(names.begin(), names.end(), k) != names.end();
}

bool known_field(inference_kind kind, std::string_view k) {
  switch (kind) {
    case inference_kind::generate: return listed(generate_fields, k);
    case inference_kind::chat: return listed(chat_fields, k);
    case inference_kind::embeddings: return listed(embedding_fields, k);
  }
  return false;
}

struct refusal {
  unsigned status = 0;
  std::string error;
};

// Type and range checks of the management fields (Ollama checks what it passes on itself; a
// configured validation policy checks the translated request as it would /api/generate's).
refusal check_fields(inference_kind kind, const json::object& req) {
  auto bad = [](std::string_view field, std::string_view expected) {
    return refusal{400, "field \"" + std::string(field) + "\": expected " + std::string(expected)};
  };
  for (const auto& kv : req) {
    std::string_view k = kv.key();
    const json::value& v = kv.value();
    if (!known_field(kind, k)) return {400, "unknown field \"" + std::string(k) + "\""};
    if (v.is_null()) continue;
    if ((k == "model" || k == "preset" || k == "system") && !v.is_string()) return bad(k, "a string");
    if (k == "prompt" && !v.is_string()) return bad(k, "a string");
    if ((k == "options" || k == "variables") && !v.is_object()) return bad(k, "an object");
    if (k == "temperature") {
      if (!v.is_number()) return bad(k, "a number from 0 to 2");
      double t = v.to_number<double>();
      if (t < 0 || t > 2) return bad(k, "a number from 0 to 2");
    }
    if (k == "top_p") {
      if (!v.is_number()) return bad(k, "a number from 0 to 1");
      double t = v.to_number<double>();
      if (t < 0 || t > 1) return bad(k, "a number from 0 to 1");
    }
    if (k == "max_tokens") {
      bool integral = v.is_int64() || v.is_uint64() || (v.is_double() && std::floor(v.get_double()) == v.get_double());
      if (!integral || v.to_number<double>() < 1 || v.to_number<double>() > 1e6)
        return bad(k, "an integer from 1 to 1000000");
    }
    if (k == "messages") {
      if (!v.is_array()) return bad(k, "an array of messages");
      for (const auto& m : v.get_array())
        if (!m.is_object()) return bad(k, "an array of message objects");
    }
    if ((k == "images" || k == "tools") && !v.is_array()) return bad(k, "an array");
    if (k == "input" && !v.is_string() && !v.is_array()) return bad(k, "a string or an array of strings");
    if (k == "truncate" && !v.is_bool()) return bad(k, "true or false");
    if (k == "dimensions" && !(v.is_int64() || v.is_uint64())) return bad(k, "an integer");
  }
  return {};
}

std::string_view string_field(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

// Ollama's "options": the request's own, its temperature, top_p and max_tokens (as
// num_predict), then what the preset adds where the request set nothing. A null option is left
// out, as Ollama reads it the same as an absent one.
void write_options(member_writer& body, const json::object& req, const preset* p, bool sampling) {
  const json::object* given = nullptr;
  if (auto* o = req.if_contains("options"); o && o->is_object()) given = &o->get_object();
  const json::value* temperature = sampling ? req.if_contains("temperature") : nullptr;
  const json::value* top_p = sampling ? req.if_contains("top_p") : nullptr;
  const json::value* max_tokens = sampling ? req.if_contains("max_tokens") : nullptr;
  auto number = [](const json::value* v) { return v && v->is_number() ? v : nullptr; };
  temperature = number(temperature);
  top_p = number(top_p);
  max_tokens = number(max_tokens);
  auto from_fields = [&](std::string_view k) {
    return (k == "temperature" && temperature) || (k == "top_p" && top_p) || (k == "num_predict" && max_tokens);
  };
  auto set = [&](std::string_view k) {
    if (from_fields(k)) return true;
    auto* v = given ? given->if_contains(k) : nullptr;
    return v && !v->is_null();
  };
  bool any = (given && !given->empty()) || temperature || top_p || max_tokens;
  if (!any && !p) return;
  std::string text;
  member_writer options(text);
  bool empty = true;
  if (given)
    for (const auto& kv : *given)
      if (!kv.value().is_null() && !from_fields(kv.key())) {
        options.member(kv.key(), kv.value());
        empty = false;
      }
  if (temperature) options.value("temperature", *temperature);
  if (top_p) options.value("top_p", *top_p);
  if (max_tokens) options.value("num_predict", json::value(max_tokens->to_number<std::int64_t>()));
  empty = empty && !temperature && !top_p && !max_tokens;
  if (p)
    for_each_ollama_option(*p, sampling, [&](std::string_view k, const json::value& v) {
      if (set(k)) return;
      options.member(k, v);
      empty = false;
    });
  if (empty) return;  // nothing to say: no "options" at all
  options.close();
  body.raw("options", text);
}

void copy_fields(const json::object& req, member_writer& body, std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (auto* v = req.if_contains(n); v && !v->is_null()) body.value(n, *v);
}

}  // namespace

json::object* parse_planned(std::string_view text, json::value& tree, json::storage_ptr sp) {
  boost::system::error_code ec;
  json::parse_options depth;
  depth.max_depth = json_max_depth;
  tree = json::parse(text, ec, std::move(sp), depth);
  return !ec && tree.is_object() ? &tree.get_object() : nullptr;
}

inference_kind kind_of(mgmt_op op) {
  switch (op) {
    case mgmt_op::chat:
    case mgmt_op::chat_stream: return inference_kind::chat;
    case mgmt_op::embeddings:
    case mgmt_op::batch_embeddings: return inference_kind::embeddings;
    default: return inference_kind::generate;
  }
}

bool streams(mgmt_op op) { return op == mgmt_op::generate_stream || op == mgmt_op::chat_stream; }

inference_plan plan_inference(inference_kind kind, bool stream, const json::object& req, const preset_set& presets,
                              const ollama_config& cfg) {
  inference_plan plan;
  auto refuse = [&](unsigned status, std::string why) {
    plan.status = status;
    plan.error = std::move(why);
    plan.body.clear();
    return plan;
  };
  if (auto r = check_fields(kind, req); r.status) return refuse(r.status, std::move(r.error));

  // The preset: named, or given as a virtual model name ("@coding").
  std::string_view preset_name = string_field(req, "preset");
  std::string_view model_name = string_field(req, "model");
  if (auto virt = preset_of_model_name(model_name)) {
    if (!preset_name.empty() && preset_name != *virt)
      return refuse(400, "model \"" + std::string(model_name) + "\" names preset '" + std::string(*virt) +
                             "' but preset is '" + std::string(preset_name) + "'");
    preset_name = *virt;
    model_name = {};
  }
  const preset* p = nullptr;
  if (!preset_name.empty()) {
    p = presets.find(preset_name);
    if (!p) return refuse(404, "preset '" + std::string(preset_name) + "' not found");
    plan.preset = p->name;
  }
  std::string_view model = model_name;
  if (model.empty() && p) model = p->model;
  if (model.empty()) model = kind == inference_kind::embeddings ? cfg.embedding_model : cfg.default_model;
  if (model.empty())
    return refuse(400, kind == inference_kind::embeddings
                           ? "no model: name a model or a preset, or configure ollama.embedding_model"
                           : "no model: name a model or a preset, or configure ollama.default_model");
  if (!is_valid_model_name(model))
    return refuse(400, "field \"model\": invalid model name \"" + std::string(model) + "\"");
  plan.model = normalize_model_name(model);

  const json::object* variables = nullptr;
  if (auto* v = req.if_contains("variables"); v && v->is_object()) variables = &v->get_object();
  std::string_view prompt = string_field(req, "prompt");
  const bool templated = p && !p->template_text.empty();
  // The system prompt: the request's, else the preset's.
  std::string_view system = string_field(req, "system");
  if (system.empty() && p) system = p->system_prompt;

  // Ollama's request, written as text: the request's model wins over its preset's, and what the
  // request sets wins over what the preset would fill in (apply_preset's rules).
  plan.body.reserve(256 + prompt.size() + system.size());
  member_writer body(plan.body);
  body.str("model", model);
  switch (kind) {
    case inference_kind::generate: {
      plan.api_route = "/api/generate";
      rendered_prompt rendered;
      if (templated) {
        rendered = render_template(*p, prompt, variables);
        if (!rendered.ok()) return refuse(400, rendered.error);
        prompt = rendered.text;
      }
      if (prompt.empty() && !req.contains("images")) return refuse(400, "field \"prompt\" is required");
      body.str("prompt", prompt);
      if (!system.empty()) body.str("system", system);
      copy_fields(req, body, {"format", "images", "keep_alive", "think"});
      write_options(body, req, p, true);
      body.boolean("stream", stream);
      break;
    }
    case inference_kind::chat: {
      plan.api_route = "/api/chat";
      static const json::array none;
      const json::array* given = &none;
      if (auto* m = req.if_contains("messages"); m && m->is_array()) given = &m->get_array();
      // The prompt, when given (or when a template has no message to shape), is the last message.
      const bool prompt_message = !prompt.empty() || (given->empty() && templated);
      if (given->empty() && !prompt_message) return refuse(400, "field \"messages\" (or \"prompt\") is required");
      auto role_of = [](const json::value& m) { return string_field(m.get_object(), "role"); };
      // The template shapes the last user message.
      std::size_t shaped = std::string::npos;
      rendered_prompt rendered;
      if (templated) {
        std::string_view content;
        if (prompt_message) {
          shaped = given->size();
          content = prompt;
        } else {
          for (std::size_t i = given->size(); i-- > 0;)
            if (role_of((*given)[i]) == "user") {
              shaped = i;
              content = string_field((*given)[i].get_object(), "content");
              break;
            }
        }
        if (shaped != std::string::npos) {
          rendered = render_template(*p, content, variables);
          if (!rendered.ok()) return refuse(400, rendered.error);
        }
      }
      std::string& text = body.key("messages");
      text += '[';
      bool has_system = std::any_of(given->begin(), given->end(), [&](const json::value& m) { return role_of(m) == "system"; });
      bool first = true;
      auto next = [&] {
        if (!first) text += ',';
        first = false;
      };
      auto message = [&](std::string_view role, std::string_view content) {
        next();
        member_writer m(text);
        m.str("role", role);
        m.str("content", content);
        m.close();
      };
      if (!has_system && !system.empty()) message("system", system);
      for (std::size_t i = 0; i < given->size(); ++i) {
        const auto& m = (*given)[i].get_object();
        if (i != shaped) {
          next();
          append_json_text(text, m);
          continue;
        }
        next();
        member_writer w(text);
        for (const auto& kv : m)
          if (kv.key() != "content") w.member(kv.key(), kv.value());
        w.str("content", rendered.text);
        w.close();
      }
      if (prompt_message) message("user", shaped == given->size() ? std::string_view(rendered.text) : prompt);
      text += ']';
      copy_fields(req, body, {"format", "tools", "keep_alive", "think"});
      write_options(body, req, p, true);
      body.boolean("stream", stream);
      break;
    }
    case inference_kind::embeddings: {
      plan.api_route = "/api/embed";
      const json::value* input = req.if_contains("input");
      if (input && !input->is_null()) body.value("input", *input);
      else if (!prompt.empty()) body.str("input", prompt);
      else return refuse(400, "field \"input\" (or \"prompt\") is required");
      copy_fields(req, body, {"keep_alive", "truncate", "dimensions"});
      write_options(body, req, p, false);
      break;
    }
  }
  body.close();
  return plan;
}

namespace {

// --- Answers ---------------------------------------------------------------------------------

constexpr std::string_view empty_string = R"("")";

// What one of Ollama's records says: the text of the values the answer takes as they are, and
// the numbers it reads. One pass over the record, no JSON tree: looking each field up would
// compare every key a dozen times, and parsing then writing the values again cost more than
// relaying the record (json_scan.hpp).
struct ollama_record {
  std::string_view error, done, response, thinking, message, created_at, embeddings, done_reason;
  std::uint64_t prompt_tokens = 0, completion_tokens = 0, load_ns = 0;
  // Durations in tenths of a millisecond (Ollama's are in nanoseconds): written as 12.3.
  std::int64_t total = 0, load = 0, prompt_eval = 0, eval = 0;

  // False when `text` is not one well-formed JSON object.
  bool read(std::string_view text) {
    auto ms = [](std::string_view v) -> std::int64_t {
      if (auto ns = json_count(v); ns && *ns < (1ull << 62)) return static_cast<std::int64_t>((*ns + 50'000) / 100'000);
      auto ns = json_number(v);  // a fraction, or negative: not what Ollama sends, read all the same
      return ns && std::abs(*ns) < 1e18 ? std::llround(*ns / 1e5) : 0;
    };
    auto count = [](std::string_view v) { return json_count(v).value_or(0); };
    json_cursor c(text);
    std::string_view k, v;
    while (c.next_member(k, v)) {
      // By length first: most keys are then told apart by one comparison.
      switch (k.size()) {
        case 4:
          if (k == "done") done = v;
          break;
        case 5:
          if (k == "error") error = v;
          break;
        case 7:
          if (k == "message") message = v;
          break;
        case 8:
          if (k == "response") response = v;
          else if (k == "thinking") thinking = v;
          break;
        case 10:
          if (k == "created_at") created_at = v;
          else if (k == "eval_count") completion_tokens = count(v);
          else if (k == "embeddings") embeddings = v;
          break;
        case 11:
          if (k == "done_reason") done_reason = v;
          break;
        case 13:
          if (k == "eval_duration") {
            eval = ms(v);
          } else if (k == "load_duration") {
            load_ns = count(v);
            load = ms(v);
          }
          break;
        case 14:
          if (k == "total_duration") total = ms(v);
          break;
        case 17:
          if (k == "prompt_eval_count") prompt_tokens = count(v);
          break;
        case 20:
          if (k == "prompt_eval_duration") prompt_eval = ms(v);
          break;
        default:
          break;
      }
    }
    return c.ok();
  }
};

class inference_shaper final : public response_shaper {
 public:
  inference_shaper(inference_kind kind, bool stream, bool sse, const request_context& ctx)
      : kind_(kind), stream_(stream), sse_(sse), ctx_(ctx) {}

  std::string_view stream_content_type() const override {
    return sse_ ? "text/event-stream" : "application/x-ndjson";
  }
  std::string_view whole_content_type() const override { return stream_ ? stream_content_type() : json_type; }

  void on_record(std::string_view record, std::string& out) override {
    ollama_record r;
    if (!r.read(record)) return;  // a blank or broken line carries nothing for the client
    if (!r.error.empty()) {
      begin(out, true);
      member_writer m(out);
      m.raw("error", r.error);
      m.close();
      end(out);
      return;
    }
    bool done = r.done == "true";
    if (done) counted(r);
    begin(out, false);
    member_writer m(out);
    if (done) summary(r, m);
    else piece(r, m);
    m.boolean("done", done);
    m.close();
    end(out);
  }

  std::string on_whole(std::string_view body) override {
    ollama_record r;
    if (!r.read(body)) return std::string(body);
    counted(r);
    std::string out;
    out.reserve(body.size() + 256);
    if (stream_) begin(out, false);
    member_writer m(out);
    summary(r, m);
    if (stream_) m.boolean("done", true);
    m.close();
    if (stream_) end(out);
    return out;
  }

  std::string error_record(std::string_view message) override {
    std::string out;
    begin(out, true);
    member_writer m(out);
    m.str("error", message);
    m.close();
    end(out);
    return out;
  }

  void usage(request_context& ctx) const override {
    ctx.prompt_tokens = prompt_tokens_;
    ctx.completion_tokens = completion_tokens_;
    ctx.load_ns = load_ns_;
  }

 private:
  void counted(const ollama_record& r) {
    prompt_tokens_ = r.prompt_tokens;
    completion_tokens_ = r.completion_tokens;
    load_ns_ = r.load_ns;
  }

  void begin(std::string& out, bool error) const {
    if (!sse_) return;
    if (error) out += "event: error\n";
    out += "data: ";
  }
  void end(std::string& out) const { out += sse_ ? "\n\n" : "\n"; }

  // The text (and thinking, tool calls) of one record.
  void piece(const ollama_record& r, member_writer& m) const {
    std::string_view text = r.response, thinking = r.thinking, tool_calls;
    if (kind_ == inference_kind::chat) {
      text = thinking = {};
      if (json_is_object(r.message)) {
        json_cursor c(r.message);
        std::string_view k, v;
        while (c.next_member(k, v)) {
          if (k == "content") text = v;
          else if (k == "thinking") thinking = v;
          else if (k == "tool_calls") tool_calls = v;
        }
      }
    }
    m.raw("text", json_is_string(text) ? text : empty_string);
    if (json_is_string(thinking) && thinking != empty_string) m.raw("thinking", thinking);
    if (!tool_calls.empty()) m.raw("tool_calls", tool_calls);
  }

  // The answer's identity, text, counts and durations (a whole answer, or a stream's end).
  void summary(const ollama_record& r, member_writer& m) const {
    m.str("model", ctx_.model);
    if (ctx_.preset.empty()) m.null("preset");
    else m.str("preset", ctx_.preset);
    m.str("backend", ctx_.backend);
    m.str("request_id", ctx_.id);
    if (!r.created_at.empty()) m.raw("created_at", r.created_at);
    if (kind_ == inference_kind::embeddings) {
      if (!r.embeddings.empty()) {
        m.raw("embeddings", r.embeddings);
        if (json_is_array(r.embeddings)) {
          json_cursor c(r.embeddings);
          std::string_view first;
          if (c.next_element(first) && json_is_array(first)) m.count("dimensions", json_array_size(first));
        }
      }
      auto& u = m.key("usage");
      member_writer usage(u);
      usage.count("prompt_tokens", r.prompt_tokens);
      usage.count("total_tokens", r.prompt_tokens);
      usage.close();
      auto& d = m.key("durations_ms");
      member_writer durations(d);
      durations.tenths("total", r.total);
      durations.tenths("load", r.load);
      durations.close();
      return;
    }
    piece(r, m);
    if (kind_ == inference_kind::chat && !r.message.empty()) m.raw("message", r.message);
    if (!r.done_reason.empty()) m.raw("done_reason", r.done_reason);
    {
      auto& u = m.key("usage");
      member_writer usage(u);
      usage.count("prompt_tokens", r.prompt_tokens);
      usage.count("completion_tokens", r.completion_tokens);
      usage.count("total_tokens", r.prompt_tokens + r.completion_tokens);
      usage.close();
    }
    {
      auto& d = m.key("durations_ms");
      member_writer durations(d);
      durations.tenths("total", r.total);
      durations.tenths("load", r.load);
      durations.tenths("prompt_eval", r.prompt_eval);
      durations.tenths("eval", r.eval);
      durations.close();
    }
    // completion tokens per second: tokens / (eval / 10 / 1000 s), in tenths
    double per_second = r.eval > 0 ? static_cast<double>(r.completion_tokens) * 1e5 / static_cast<double>(r.eval) : 0;
    m.tenths("tokens_per_second", std::llround(std::min(per_second, 1e18)));  // absurd counts stay a number
  }

  inference_kind kind_;
  bool stream_;
  bool sse_;
  const request_context& ctx_;
  std::uint64_t prompt_tokens_ = 0, completion_tokens_ = 0, load_ns_ = 0;
};

}  // namespace

std::unique_ptr<response_shaper> make_inference_shaper(inference_kind kind, bool stream, bool sse,
                                                       const request_context& ctx) {
  return std::make_unique<inference_shaper>(kind, stream, sse, ctx);
}

namespace {

// --- Batches ---------------------------------------------------------------------------------

// True when the client has closed its connection (a read would see end of file).
bool client_closed(net::ip::tcp::socket& s) {
  char byte;
  auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

struct batch_state {
  explicit batch_state(std::size_t n) : results(n) {}
  std::vector<json::object> items;   // each item's request, defaults applied
  std::vector<json::object> results; // in input order
  std::size_t next = 0;
  std::size_t succeeded = 0;
  std::size_t failed = 0;
  bool cancelled = false;
  // Streaming: lines waiting to be written, and whether an item's coroutine is writing them.
  bool stream = false;
  std::deque<std::string> outbox;
  bool writing = false;
};

// One item: translated, admitted by the chain, proxied with its answer kept, then finished
// like any request (metrics, usage, access log).
net::awaitable<void> run_item(worker& w, downstream& parent, std::shared_ptr<batch_state> st, std::size_t index,
                              inference_kind kind, const route_match& route, const batch_env& env) {
  request_context ctx;
  ctx.id = parent.ctx.id + "." + std::to_string(index);
  ctx.client = parent.ctx.client;
  ctx.method = "POST";
  ctx.target = parent.ctx.target;
  ctx.route = route.label;
  ctx.cls = route_class::inference;
  ctx.worker = parent.ctx.worker;
  ctx.accepted = request_context::clock::now();
  std::string kept;
  downstream item(parent.stream, parent.buffer, ctx);
  item.capture = &kept;

  auto cfg = w.cfg();
  auto presets = w.state.presets().snapshot();
  auto plan = plan_inference(kind, false, st->items[index], *presets, cfg->ollama);
  std::unique_ptr<response_shaper> shaper;
  if (plan.status) {
    co_await item.reply_error(api_flavor::ollama, plan.status, plan.error);
  } else {
    ctx.model = plan.model;
    ctx.preset = plan.preset;
    ctx.api_route = plan.api_route;
    bool changed = false;
    std::array<std::string_view, 2> consumed{};
    // The policies see Ollama's request as it will be sent.
    json::value tree;
    json::object* body = env.chain->empty() ? nullptr : parse_planned(plan.body, tree);
    bool refused = false;
    if (!env.chain->empty() && !body) {
      ctx.error = "the translated request could not be read back";
      co_await item.reply_error(api_flavor::ollama, 500, ctx.error);
      refused = true;
    }
    if (!refused) refused = co_await admit(*env.chain, item, route, env.headers, env.client_ip, body, changed, consumed);
    if (!refused) {
      if (env.chain->filters_responses(ctx)) item.policies = env.chain.get();
      shaper = make_inference_shaper(kind, false, false, ctx);
      item.shaper = shaper.get();
      std::string forwarded;
      forwarded_headers(env.headers, env.client_ip, forwarded, consumed);
      std::string text = changed && body ? json_text(*body) : std::move(plan.body);
      proxy_request preq;
      preq.method = "POST";
      preq.target = plan.api_route;
      preq.forwarded_headers = forwarded;
      preq.body = text;
      preq.route = route_match{route_kind::inference, route.label, api_flavor::ollama, {}, mgmt_op::none};
      preq.model = ctx.model;
      co_await proxy(w, item, preq);
    }
  }
  if (item.broken && ctx.status == 499) st->cancelled = true;

  json::object result;
  result["index"] = index;
  result["status"] = ctx.status;
  boost::system::error_code ec;
  json::parse_options depth;
  depth.max_depth = json_max_depth;
  auto parsed = json::parse(kept, ec, {}, depth);
  if (!ec && parsed.is_object()) {
    for (auto& kv : parsed.get_object()) result[kv.key()] = kv.value();
  } else if (ctx.status / 100 != 2) {
    result["error"] = kept.empty() ? (ctx.error.empty() ? std::string("no answer") : ctx.error) : kept;
  }
  if (ctx.status / 100 == 2) ++st->succeeded;
  else ++st->failed;
  env.finish(ctx);

  if (st->stream) {
    st->outbox.push_back(json_text(result) + "\n");
    st->results[index] = {};
    if (!st->writing) {
      // This coroutine writes until the outbox is empty; items finishing meanwhile only queue.
      st->writing = true;
      while (!st->outbox.empty() && !parent.broken) {
        std::string line = std::move(st->outbox.front());
        st->outbox.pop_front();
        co_await parent.write_chunk(line);
      }
      st->writing = false;
      if (parent.broken) st->cancelled = true;
    }
  } else {
    st->results[index] = std::move(result);
  }
}

net::awaitable<void> batch_runner(worker& w, downstream& parent, std::shared_ptr<batch_state> st, inference_kind kind,
                                  route_match route, std::shared_ptr<batch_env> env) {
  while (st->next < st->items.size() && !st->cancelled) {
    if (client_closed(parent.stream.socket())) {
      st->cancelled = true;
      break;
    }
    auto index = st->next++;
    co_await run_item(w, parent, st, index, kind, route, *env);
  }
}

}  // namespace

net::awaitable<void> serve_batch(worker& w, downstream& client, const json::object& body, inference_kind kind,
                                 const route_match& route, batch_env env) {
  auto cfg = w.cfg();
  const json::value* items = body.if_contains("items");
  std::string why;
  if (!items) why = "field \"items\" is required";
  else if (!items->is_array()) why = "field \"items\": expected an array";
  else if (items->get_array().empty()) why = "field \"items\": the batch is empty";
  if (!why.empty()) {
    co_await client.reply_error(api_flavor::ollama, 400, why);
    co_return;
  }
  const auto& list = items->get_array();
  auto limit = static_cast<std::size_t>(cfg->management.batch_max_items);
  if (list.size() > limit) {
    why = "the batch has " + std::to_string(list.size()) + " items; the limit is " + std::to_string(limit) +
          " (management.batch_max_items)";
    co_await client.reply_error(api_flavor::ollama, 413, why);
    co_return;
  }
  bool stream = false;
  json::object defaults;
  for (const auto& kv : body) {
    if (kv.key() == "items") continue;
    if (kv.key() == "stream") {
      if (!kv.value().is_bool()) {
        co_await client.reply_error(api_flavor::ollama, 400, "field \"stream\": expected true or false");
        co_return;
      }
      stream = kv.value().get_bool();
      continue;
    }
    defaults[kv.key()] = kv.value();
  }
  // Defaults are checked once for the batch (each item is checked again with its own fields).
  if (auto r = check_fields(kind, defaults); r.status) {
    co_await client.reply_error(api_flavor::ollama, r.status, r.error);
    co_return;
  }

  auto st = std::make_shared<batch_state>(list.size());
  st->stream = stream;
  for (const auto& item : list) {
    json::object merged = defaults;
    if (item.is_string()) {
      merged[kind == inference_kind::embeddings ? "input" : "prompt"] = item;
    } else if (item.is_object()) {
      for (const auto& kv : item.get_object()) {
        // Options merge key by key; every other field of the item replaces the default.
        if (kv.key() == "options" && kv.value().is_object() && merged.contains("options") &&
            merged["options"].is_object()) {
          auto& opts = merged["options"].get_object();
          for (const auto& o : kv.value().get_object()) opts[o.key()] = o.value();
        } else {
          merged[kv.key()] = kv.value();
        }
      }
    } else {
      // Kept as is: its plan refuses it, as that item's error.
      merged["prompt"] = item;
    }
    st->items.push_back(std::move(merged));
  }

  // At most ollama.max_concurrent items of one batch in flight (4 when that is unlimited).
  std::size_t concurrency = cfg->ollama.max_concurrent > 0 ? static_cast<std::size_t>(cfg->ollama.max_concurrent) : 4;
  concurrency = std::min(concurrency, list.size());
  auto shared_env = std::make_shared<batch_env>(std::move(env));
  if (stream) co_await client.begin_chunked(200, "Content-Type: application/x-ndjson\r\n");
  std::vector<net::awaitable<void>> runners;
  for (std::size_t i = 0; i < concurrency; ++i) runners.push_back(batch_runner(w, client, st, kind, route, shared_env));
  co_await join_all(std::move(runners));  // every item, and the writing of its line, is done

  if (st->cancelled) {
    client.broken = true;
    client.ctx.status = 499;
    client.ctx.error = "client went away; " + std::to_string(list.size() - st->succeeded - st->failed) +
                       " items not run";
    co_return;
  }
  json::object summary;
  summary["items"] = list.size();
  summary["succeeded"] = st->succeeded;
  summary["failed"] = st->failed;
  summary["request_id"] = client.ctx.id;
  if (stream) {
    summary["done"] = true;
    co_await client.write_chunk(json_text(summary) + "\n");
    co_await client.end_chunked();
    co_return;
  }
  json::array results;
  for (auto& r : st->results) results.push_back(std::move(r));
  summary["results"] = std::move(results);
  co_await client.reply(200, json_type, json_text(summary));
}

}  // namespace corral
