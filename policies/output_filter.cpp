#include "policies/output_filter.hpp"

#include "policies/output_filter_config.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serializer.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace corral {
namespace json = boost::json;

namespace {

enum decision : std::size_t { redact, block };
constexpr std::array<std::string_view, 2> decision_names{"redact", "block"};

enum class body_format : std::uint8_t { ndjson, sse, json };

enum ndjson_field : std::size_t { response, thinking, message_content, message_thinking };

// The per-choice fields of an OpenAI-style stream.
struct choice_streams {
  text_stream content;    // delta.content
  text_stream reasoning;  // delta.reasoning
  text_stream text;       // text (/v1/completions)
  bool has_pending() const noexcept { return content.has_pending() || reasoning.has_pending() || text.has_pending(); }
};

// Everything one response needs, allocated once: records are parsed into `arena` (released per
// record), replacements are serialized into `scratch`.
struct filter_state final : policy_state {
  filter_state() : mr(arena.data(), arena.size()), parser(json::storage_ptr(), lenient(), parse_stack.data(), parse_stack.size()) {}

  // Invalid UTF-8 must not let a record pass unfiltered: RE2 matches around it.
  static json::parse_options lenient() {
    json::parse_options o;
    o.allow_invalid_utf8 = true;
    return o;
  }

  bool blocked = false;
  std::size_t block_rule = 0;
  std::array<text_stream, 4> fields;   // NDJSON, by ndjson_field
  std::vector<choice_streams> choices;  // indexed by choice index
  text_stream whole;                    // one field of a whole body at a time

  // The last SSE chunk's identity, for the event that carries text released at [DONE].
  std::string id, object, model, fingerprint;
  std::int64_t created = 0;

  std::string released;                // what one field lets go
  std::vector<std::uint32_t> redacted;  // rules that redacted in one field
  std::string payload;                 // an SSE event's data lines joined
  std::string scratch;                 // the replacement record

  alignas(std::max_align_t) std::array<unsigned char, 8192> arena;
  json::monotonic_resource mr;
  std::array<unsigned char, 2048> parse_stack;
  json::parser parser;
  json::serializer serializer;

  bool any_pending() const noexcept {
    for (const auto& f : fields)
      if (f.has_pending()) return true;
    for (const auto& c : choices)
      if (c.has_pending()) return true;
    return false;
  }

  // A record as JSON in `arena`, or null when it is none. The previous record's value must be gone.
  json::value parse(std::string_view text) {
    mr.release();
    parser.reset(json::storage_ptr(&mr));
    boost::system::error_code ec;
    parser.write(text.data(), text.size(), ec);
    if (ec) return nullptr;
    return parser.release();
  }

  void serialize(const json::value& v) {
    serializer.reset(&v);
    char buf[1024];
    while (!serializer.done()) {
      auto part = serializer.read(buf);
      scratch.append(part.data(), part.size());
    }
  }
};

// A record without a text field's key needs no parse. One pass over the quotes: keys are
// compared only where a quote starts one.
bool may_have_text(std::string_view record) {
  for (auto q = record.find('"'); q != std::string_view::npos; q = record.find('"', q + 1)) {
    auto key = record.substr(q + 1);
    if (key.empty()) break;
    switch (key.front()) {
      case 'r':
        if (key.starts_with("response\"") || key.starts_with("reasoning\"")) return true;
        break;
      case 't':
        if (key.starts_with("thinking\"") || key.starts_with("text\"")) return true;
        break;
      case 'c':
        if (key.starts_with("content\"")) return true;
        break;
      default: break;
    }
  }
  return false;
}

json::object* object_at(json::object& parent, std::string_view key) {
  auto* v = parent.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

bool is_true(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

std::optional<body_format> format_of(std::string_view content_type) {
  auto media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  auto is = [&](std::string_view want) {
    if (media.size() != want.size()) return false;
    for (std::size_t i = 0; i < want.size(); ++i)
      if ((media[i] | 0x20) != want[i] && media[i] != want[i]) return false;
    return true;
  };
  if (is("application/x-ndjson")) return body_format::ndjson;
  if (is("text/event-stream")) return body_format::sse;
  if (is("application/json")) return body_format::json;
  return std::nullopt;
}

// One line of an SSE event: [begin, next) with its line end, `text` without it.
struct sse_line {
  std::size_t next = 0;
  std::string_view text;
};
sse_line line_at(std::string_view event, std::size_t begin) {
  auto nl = event.find('\n', begin);
  std::size_t next = nl == std::string_view::npos ? event.size() : nl + 1;
  auto text = event.substr(begin, (nl == std::string_view::npos ? event.size() : nl) - begin);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return {next, text};
}
bool data_line(std::string_view line) { return line.starts_with("data:"); }
std::string_view data_of(std::string_view line) {
  line.remove_prefix(5);
  if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  return line;
}

// A valid choice index names its own streams; anything else uses the position in the array.
std::size_t choice_index(const json::object& choice, std::size_t position) {
  auto* v = choice.if_contains("index");
  if (v && v->is_int64() && v->get_int64() >= 0 && v->get_int64() < 256) return static_cast<std::size_t>(v->get_int64());
  return position < 256 ? position : 255;
}

class output_filter final : public policy {
 public:
  explicit output_filter(output_filter_config c) : hold_back_(c.hold_back), rules_(std::move(c.rules)) {}

  unsigned hooks() const noexcept override { return rules_->empty() ? 0u : hook_response_head | hook_response_chunk; }
  std::span<const std::string_view> decisions() const noexcept override { return decision_names; }

  void on_response_head(request_context& ctx, const response_head_view& head) const override {
    if (rules_->empty()) return;
    auto format = format_of(head.content_type);
    // Embeddings carry numbers, not text: never worth holding a whole (possibly huge) body for.
    bool embeddings = ctx.api_route == "/api/embed" || ctx.api_route == "/api/embeddings" || ctx.api_route == "/v1/embeddings";
    if (head.status == 200 && format && !embeddings) {
      make_state<filter_state>(ctx);
    } else if (state<filter_state>(ctx)) {
      ctx.policy_states[slot()].reset();  // an earlier attempt's
    }
  }

  chunk_result on_response_chunk(request_context& ctx, chunk_kind kind, std::string_view chunk) const override {
    auto* st = state<filter_state>(ctx);
    if (!st) return chunk_result::forward();
    if (st->blocked) return blocked(*st);
    switch (kind) {
      case chunk_kind::ndjson_line: return on_ndjson_line(ctx, *st, chunk);
      case chunk_kind::sse_event: return on_sse_event(ctx, *st, chunk);
      case chunk_kind::whole_body: return on_whole_body(ctx, *st, chunk);
    }
    return chunk_result::forward();
  }

 private:
  chunk_result blocked(const filter_state& st) const {
    return chunk_result::block("response blocked by output filter rule \"" + rules_->rules()[st.block_rule].name + "\"");
  }

  // Runs `parent[key]` through `stream` and writes back what may go out now; sets `changed` when
  // that differs. With `last`, the field is created when withheld text is left and it is absent.
  // False on a block.
  bool filter_field(request_context& ctx, filter_state& st, text_stream& stream, json::object* parent,
                    std::string_view key, bool last, bool& changed) const {
    if (!parent) return true;
    auto* v = parent->if_contains(key);
    auto* s = v && v->is_string() ? &v->get_string() : nullptr;
    std::string_view piece = s ? std::string_view(*s) : std::string_view{};
    if (piece.empty() && !(last && stream.has_pending())) return true;
    st.redacted.clear();
    auto r = stream.feed(*rules_, hold_back_, piece, last, st.released, st.redacted);
    for (auto i : st.redacted) decide(ctx, redact, rules_->rules()[i].name);
    if (r.blocked) {
      st.blocked = true;
      st.block_rule = r.rule;
      decide(ctx, block, rules_->rules()[r.rule].name);
      return false;
    }
    if (st.released == piece) return true;
    if (s) s->assign(st.released.data(), st.released.size());
    else (*parent)[key] = json::string_view(st.released);
    changed = true;
    return true;
  }

  // The parent object of a field, created (with `init`) when text is to go into it.
  static json::object* parent_of(json::object& record, std::string_view key, bool create,
                                 std::string_view role = {}) {
    if (auto* o = object_at(record, key)) return o;
    if (!create) return nullptr;
    auto& o = record[key].emplace_object();
    if (!role.empty()) o["role"] = role;
    return &o;
  }

  chunk_result on_ndjson_line(request_context& ctx, filter_state& st, std::string_view line) const {
    auto body = line;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
    if (!may_have_text(body) && !st.any_pending()) return chunk_result::forward();
    auto jv = st.parse(body);
    if (!jv.is_object()) return chunk_result::forward();
    auto& record = jv.get_object();
    const bool last = is_true(record, "done");
    bool changed = false;
    auto& f = st.fields;
    auto* message = parent_of(record, "message",
                              last && (f[message_content].has_pending() || f[message_thinking].has_pending()), "assistant");
    if (!filter_field(ctx, st, f[response], &record, "response", last, changed) ||
        !filter_field(ctx, st, f[thinking], &record, "thinking", last, changed) ||
        !filter_field(ctx, st, f[message_content], message, "content", last, changed) ||
        !filter_field(ctx, st, f[message_thinking], message, "thinking", last, changed))
      return blocked(st);
    if (!changed) return chunk_result::forward();
    st.scratch.clear();
    st.serialize(jv);
    st.scratch.append(line.substr(body.size()));
    return chunk_result::replace(st.scratch);
  }

  chunk_result on_sse_event(request_context& ctx, filter_state& st, std::string_view event) const {
    std::size_t data_lines = 0;
    std::string_view payload;
    for (std::size_t at = 0; at < event.size();) {
      auto l = line_at(event, at);
      at = l.next;
      if (!data_line(l.text)) continue;
      if (++data_lines == 1) {
        payload = data_of(l.text);
        continue;
      }
      if (data_lines == 2) st.payload.assign(payload);
      st.payload.append("\n").append(data_of(l.text));
    }
    if (data_lines == 0) return chunk_result::forward();
    if (data_lines > 1) payload = st.payload;
    if (payload == "[DONE]") return on_sse_done(ctx, st, event);
    if (!may_have_text(payload) && !st.any_pending()) return chunk_result::forward();
    auto jv = st.parse(payload);
    if (!jv.is_object()) return chunk_result::forward();
    auto& chunk = jv.get_object();
    remember_identity(st, chunk);
    auto* list = chunk.if_contains("choices");
    if (!list || !list->is_array()) return chunk_result::forward();

    bool changed = false;
    auto& choices = list->get_array();
    for (std::size_t k = 0; k < choices.size(); ++k) {
      if (!choices[k].is_object()) continue;
      auto& choice = choices[k].get_object();
      auto index = choice_index(choice, k);
      if (st.choices.size() <= index) st.choices.resize(index + 1);
      auto& streams = st.choices[index];
      auto* reason = choice.if_contains("finish_reason");
      const bool last = reason && !reason->is_null();
      auto* delta = parent_of(choice, "delta", last && (streams.content.has_pending() || streams.reasoning.has_pending()));
      if (!filter_field(ctx, st, streams.content, delta, "content", last, changed) ||
          !filter_field(ctx, st, streams.reasoning, delta, "reasoning", last, changed) ||
          !filter_field(ctx, st, streams.text, &choice, "text", last, changed))
        return blocked(st);
    }
    if (!changed) return chunk_result::forward();

    // The event again, its data lines replaced by one carrying the new JSON.
    st.scratch.clear();
    bool written = false;
    for (std::size_t at = 0; at < event.size();) {
      auto begin = at;
      auto l = line_at(event, at);
      at = l.next;
      if (!data_line(l.text)) {
        st.scratch.append(event.substr(begin, at - begin));
      } else if (!written) {
        written = true;
        st.scratch.append("data: ");
        st.serialize(jv);
        st.scratch.append("\n");
      }
    }
    return chunk_result::replace(st.scratch);
  }

  static void remember_identity(filter_state& st, const json::object& chunk) {
    auto text = [&](std::string_view key, std::string& into) {
      auto* v = chunk.if_contains(key);
      if (v && v->is_string()) into.assign(v->get_string().data(), v->get_string().size());
    };
    text("id", st.id);
    text("object", st.object);
    text("model", st.model);
    text("system_fingerprint", st.fingerprint);
    if (auto* c = chunk.if_contains("created"); c && c->is_int64()) st.created = c->get_int64();
  }

  // `data: [DONE]`: text still withheld goes out first, in one chunk shaped like the others.
  chunk_result on_sse_done(request_context& ctx, filter_state& st, std::string_view event) const {
    if (!st.any_pending()) return chunk_result::forward();
    st.mr.release();
    json::value jv(json::object(json::storage_ptr(&st.mr)));
    auto& chunk = jv.get_object();
    chunk["id"] = json::string_view(st.id);
    chunk["object"] = json::string_view(st.object);
    chunk["created"] = st.created;
    chunk["model"] = json::string_view(st.model);
    if (!st.fingerprint.empty()) chunk["system_fingerprint"] = json::string_view(st.fingerprint);
    auto& choices = chunk["choices"].emplace_array();
    for (std::size_t index = 0; index < st.choices.size(); ++index) {
      auto& streams = st.choices[index];
      if (!streams.has_pending()) continue;
      json::object choice(json::storage_ptr(&st.mr));
      choice["index"] = index;
      json::object delta(json::storage_ptr(&st.mr));
      delta["role"] = "assistant";
      bool changed = false;
      if (!filter_field(ctx, st, streams.content, &delta, "content", true, changed) ||
          !filter_field(ctx, st, streams.reasoning, &delta, "reasoning", true, changed) ||
          !filter_field(ctx, st, streams.text, &choice, "text", true, changed))
        return blocked(st);
      if (delta.size() > 1) choice["delta"] = std::move(delta);
      choice["finish_reason"] = nullptr;
      choices.push_back(std::move(choice));
    }
    st.scratch.assign("data: ");
    st.serialize(jv);
    st.scratch.append("\n\n").append(event);
    return chunk_result::replace(st.scratch);
  }

  chunk_result on_whole_body(request_context& ctx, filter_state& st, std::string_view body) const {
    if (!may_have_text(body)) return chunk_result::forward();
    auto jv = st.parse(body);
    if (!jv.is_object()) return chunk_result::forward();
    auto& record = jv.get_object();
    bool changed = false;
    auto run = [&](json::object* parent, std::string_view key) {
      st.whole.reset();
      return filter_field(ctx, st, st.whole, parent, key, true, changed);
    };
    auto* message = object_at(record, "message");
    bool ok = run(&record, "response") && run(&record, "thinking") && run(message, "content") && run(message, "thinking");
    if (auto* list = record.if_contains("choices"); ok && list && list->is_array()) {
      for (auto& c : list->get_array()) {
        if (!c.is_object()) continue;
        auto* m = object_at(c.get_object(), "message");
        ok = ok && run(m, "content") && run(m, "reasoning") && run(&c.get_object(), "text");
      }
    }
    if (!ok) return blocked(st);
    if (!changed) return chunk_result::forward();
    st.scratch.clear();
    st.serialize(jv);
    return chunk_result::replace(st.scratch);
  }

  std::size_t hold_back_;
  std::unique_ptr<const text_rules> rules_;
};

}  // namespace

std::unique_ptr<policy> make_output_filter(const json::object& options) {
  return std::make_unique<output_filter>(read_output_filter_config(options));
}

}  // namespace corral
