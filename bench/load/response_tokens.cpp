#include "bench/load/response_tokens.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace corral::bench {
namespace {

namespace json = boost::json;

std::optional<std::uint64_t> count_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  return std::nullopt;
}

bool non_empty_string(const json::value* v) { return v && v->is_string() && !v->get_string().empty(); }

// Parses `text` on a stack buffer and lets `fill` read the object; marks non-objects malformed
// and any object with an "error" field as an error.
piece_info read_piece(std::string_view text, void (*fill)(const json::object&, piece_info&)) {
  piece_info info;
  unsigned char scratch[2048];
  json::monotonic_resource mr(scratch, sizeof scratch);
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, &mr);
  if (ec || !v.is_object()) {
    info.malformed = true;
    return info;
  }
  const auto& o = v.get_object();
  info.error = o.contains("error");
  fill(o, info);
  return info;
}

void fill_ollama(const json::object& o, piece_info& info) {
  if (const auto* done = o.if_contains("done"); done && done->is_bool()) info.done = done->get_bool();
  if (non_empty_string(o.if_contains("response"))) info.content = true;
  if (const auto* msg = o.if_contains("message"); msg && msg->is_object()) {
    if (non_empty_string(msg->get_object().if_contains("content"))) info.content = true;
  }
  info.output_tokens = count_field(o, "eval_count");
  info.prompt_tokens = count_field(o, "prompt_eval_count");
}

void fill_openai(const json::object& o, piece_info& info) {
  if (const auto* choices = o.if_contains("choices"); choices && choices->is_array()) {
    for (const auto& c : choices->get_array()) {
      if (!c.is_object()) continue;
      const auto& choice = c.get_object();
      if (non_empty_string(choice.if_contains("text"))) info.content = true;
      for (std::string_view key : {"delta", "message"}) {
        const auto* d = choice.if_contains(key);
        if (d && d->is_object() && non_empty_string(d->get_object().if_contains("content"))) info.content = true;
      }
    }
  }
  if (const auto* usage = o.if_contains("usage"); usage && usage->is_object()) {
    info.output_tokens = count_field(usage->get_object(), "completion_tokens");
    info.prompt_tokens = count_field(usage->get_object(), "prompt_tokens");
    // Embeddings report prompt tokens only; their output count is zero, not unknown.
    if (!info.output_tokens) info.output_tokens = 0;
  }
}

}  // namespace

piece_info read_ollama_piece(std::string_view json_text) { return read_piece(json_text, fill_ollama); }

piece_info read_openai_piece(std::string_view json_text) {
  if (json_text == "[DONE]") {
    piece_info info;
    info.done = true;
    return info;
  }
  return read_piece(json_text, fill_openai);
}

}  // namespace corral::bench
