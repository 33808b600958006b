#include "policies/api_fields.hpp"

#include <array>

namespace corral {

namespace {

using k = field_kind;
using values_t = std::span<const std::string_view>;

constexpr field_spec field(std::string_view name, field_kind kind) { return {name, kind}; }
constexpr field_spec required(std::string_view name, field_kind kind, values_t values = {}) {
  return {name, kind, true, option_id::num_ctx, {}, values};
}
constexpr field_spec ranged(std::string_view name, option_id option) {
  return {name, field_kind::ranged, false, option};
}
constexpr field_spec stop(std::string_view name) { return {name, field_kind::stop, false, option_id::stop}; }
constexpr field_spec nested(std::string_view name, field_kind kind, std::span<const field_spec> fields) {
  return {name, kind, false, option_id::num_ctx, fields};
}
constexpr field_spec choice(std::string_view name, field_kind kind, values_t values) {
  return {name, kind, false, option_id::num_ctx, {}, values};
}

// --- value sets -------------------------------------------------------------------------------
constexpr std::string_view ollama_roles[] = {"system", "user", "assistant", "tool"};
constexpr std::string_view openai_roles[] = {"system", "user", "assistant", "tool", "developer", "function"};
constexpr std::string_view think_levels[] = {"low", "medium", "high", "max"};
// What Ollama maps reasoning_effort to; anything else it answers with 400.
constexpr std::string_view reasoning_efforts[] = {"none", "minimal", "low", "medium", "high", "max", "xhigh", "ultra"};
constexpr std::string_view part_types[] = {"text", "image_url", "input_audio"};
constexpr std::string_view encoding_formats[] = {"float", "base64"};

// --- native -----------------------------------------------------------------------------------
// Documented options Ollama type-checks; unknown ones it ignores, so do we.
constexpr field_spec ollama_options[] = {
    ranged("num_ctx", option_id::num_ctx),           ranged("num_predict", option_id::num_predict),
    ranged("temperature", option_id::temperature),   ranged("top_p", option_id::top_p),
    ranged("top_k", option_id::top_k),               ranged("min_p", option_id::min_p),
    ranged("repeat_penalty", option_id::repeat_penalty), ranged("repeat_last_n", option_id::repeat_last_n),
    ranged("presence_penalty", option_id::presence_penalty),
    ranged("frequency_penalty", option_id::frequency_penalty),
    ranged("num_batch", option_id::num_batch),       ranged("num_keep", option_id::num_keep),
    ranged("seed", option_id::seed),                 stop("stop"),
    field("num_gpu", k::integer),                    field("main_gpu", k::integer),
    field("num_thread", k::integer),                 field("use_mmap", k::boolean),
    field("typical_p", k::number),
};

constexpr field_spec ollama_function[] = {
    field("name", k::string), field("arguments", k::any_object), field("index", k::integer)};
constexpr field_spec ollama_tool_call[] = {field("id", k::string), nested("function", k::record, ollama_function)};
constexpr field_spec ollama_message[] = {
    required("role", k::role, ollama_roles), field("content", k::prompt), field("thinking", k::string),
    field("images", k::images), nested("tool_calls", k::records, ollama_tool_call),
    field("tool_name", k::string), field("tool_call_id", k::string),
};

constexpr field_spec generate_fields[] = {
    field("model", k::model),          field("prompt", k::prompt),         field("suffix", k::prompt),
    field("system", k::prompt),        field("template", k::string),       field("images", k::images),
    field("format", k::format),        nested("options", k::record, ollama_options),
    field("context", k::integers),     field("stream", k::boolean),        field("raw", k::boolean),
    field("keep_alive", k::keep_alive), choice("think", k::think, think_levels),
    field("truncate", k::boolean),     field("shift", k::boolean),         field("logprobs", k::boolean),
    field("top_logprobs", k::top_logprobs), field("_debug_render_only", k::boolean),
};
constexpr field_spec chat_fields[] = {
    field("model", k::model),          nested("messages", k::messages, ollama_message),
    nested("tools", k::records, {}),   field("format", k::format),
    nested("options", k::record, ollama_options), field("stream", k::boolean),
    field("keep_alive", k::keep_alive), choice("think", k::think, think_levels),
    field("truncate", k::boolean),     field("shift", k::boolean),         field("logprobs", k::boolean),
    field("top_logprobs", k::top_logprobs), field("_debug_render_only", k::boolean),
};
constexpr field_spec embed_fields[] = {
    field("model", k::model), field("input", k::input), field("truncate", k::boolean),
    field("dimensions", k::count), field("keep_alive", k::keep_alive), nested("options", k::record, ollama_options),
};
constexpr field_spec embeddings_fields[] = {
    field("model", k::model), field("prompt", k::prompt), field("keep_alive", k::keep_alive),
    nested("options", k::record, ollama_options),
};
constexpr field_spec show_fields[] = {
    field("model", k::model), field("name", k::model), field("verbose", k::boolean),
    field("system", k::string), field("template", k::string), field("options", k::any_object),
};
constexpr field_spec transfer_fields[] = {  // pull, push
    field("model", k::model), field("name", k::model), field("insecure", k::boolean), field("stream", k::boolean),
    field("username", k::string), field("password", k::string),
};
constexpr field_spec create_fields[] = {
    field("model", k::model),          field("name", k::model),            field("from", k::model),
    field("files", k::string_map),     field("adapters", k::string_map),   field("template", k::string),
    field("license", k::string_or_strings), field("system", k::string),    field("parameters", k::any_object),
    nested("messages", k::messages, ollama_message), field("quantize", k::string), field("stream", k::boolean),
    field("renderer", k::string),      field("parser", k::string),         field("requires", k::string),
    field("info", k::any_object),      field("remote_host", k::string),    field("draft_files", k::string_map),
    field("draft_quantize", k::string),
};
constexpr field_spec copy_fields[] = {field("source", k::model), field("destination", k::model)};
constexpr field_spec delete_fields[] = {field("model", k::model), field("name", k::model)};

// --- OpenAI -----------------------------------------------------------------------------------
constexpr field_spec openai_function[] = {field("name", k::string), field("arguments", k::string)};
constexpr field_spec openai_tool_call[] = {
    field("id", k::string), field("type", k::string), nested("function", k::record, openai_function)};
constexpr field_spec image_url_object[] = {required("url", k::image_link), field("detail", k::string)};
constexpr field_spec input_audio[] = {required("data", k::base64), field("format", k::string)};
constexpr field_spec content_part[] = {
    required("type", k::one_of, part_types), field("text", k::prompt),
    nested("image_url", k::image_url, image_url_object), nested("input_audio", k::record, input_audio),
};
constexpr field_spec openai_message[] = {
    required("role", k::role, openai_roles), nested("content", k::content, content_part),
    field("name", k::string), nested("tool_calls", k::records, openai_tool_call),
    field("tool_call_id", k::string), field("reasoning", k::string),
};
constexpr field_spec stream_options[] = {field("include_usage", k::boolean)};
constexpr field_spec response_format[] = {field("type", k::string), field("json_schema", k::any_object)};
constexpr field_spec reasoning[] = {choice("effort", k::one_of, reasoning_efforts)};

constexpr field_spec chat_completion_fields[] = {
    {"messages", k::messages, true, option_id::num_ctx, openai_message},
    field("model", k::model),
    field("stream", k::boolean),       nested("stream_options", k::record, stream_options),
    ranged("max_tokens", option_id::num_predict), ranged("max_completion_tokens", option_id::num_predict),
    ranged("temperature", option_id::temperature), ranged("top_p", option_id::top_p),
    ranged("seed", option_id::seed),   stop("stop"),
    ranged("frequency_penalty", option_id::frequency_penalty),
    ranged("presence_penalty", option_id::presence_penalty),
    nested("response_format", k::record, response_format), nested("tools", k::records, {}),
    choice("reasoning_effort", k::one_of, reasoning_efforts), nested("reasoning", k::record, reasoning),
    field("logprobs", k::boolean),     field("top_logprobs", k::top_logprobs),
    field("tool_choice", k::string_or_object), field("n", k::positive), field("user", k::string),
    field("logit_bias", k::any_object),
};
constexpr field_spec completion_fields[] = {
    field("model", k::model),          field("prompt", k::prompt),         field("suffix", k::prompt),
    ranged("max_tokens", option_id::num_predict), ranged("temperature", option_id::temperature),
    ranged("top_p", option_id::top_p), ranged("seed", option_id::seed),    stop("stop"),
    ranged("frequency_penalty", option_id::frequency_penalty),
    ranged("presence_penalty", option_id::presence_penalty),
    field("stream", k::boolean),       nested("stream_options", k::record, stream_options),
    field("logprobs", k::top_logprobs), field("echo", k::boolean),         field("best_of", k::positive),
    field("n", k::positive),           field("user", k::string),
};
constexpr field_spec embedding_fields[] = {
    field("model", k::model), field("input", k::input), field("dimensions", k::count),
    choice("encoding_format", k::one_of, encoding_formats), field("user", k::string),
};

constexpr route_schema routes[] = {
    {"/api/chat", api_dialect::ollama, true, chat_fields},
    {"/api/generate", api_dialect::ollama, true, generate_fields},
    {"/v1/chat/completions", api_dialect::openai, true, chat_completion_fields},
    {"/api/embed", api_dialect::ollama, true, embed_fields},
    {"/v1/embeddings", api_dialect::openai, true, embedding_fields},
    {"/v1/completions", api_dialect::openai, true, completion_fields},
    {"/api/embeddings", api_dialect::ollama, true, embeddings_fields},
    {"/api/show", api_dialect::ollama, false, show_fields},
    {"/api/pull", api_dialect::ollama, false, transfer_fields},
    {"/api/push", api_dialect::ollama, false, transfer_fields},
    {"/api/create", api_dialect::ollama, false, create_fields},
    {"/api/copy", api_dialect::ollama, false, copy_fields},
    {"/api/delete", api_dialect::ollama, false, delete_fields},
};

// The walker keeps the fields it saw in a 64-bit mask and looks for missing required ones only
// up to the first optional field.
constexpr bool well_formed(std::span<const field_spec> fields) {
  bool optional_seen = false;
  for (const auto& f : fields) {
    if (f.required && optional_seen) return false;
    optional_seen = optional_seen || !f.required;
  }
  return fields.size() <= 64;
}
static_assert(well_formed(create_fields) && well_formed(chat_completion_fields) && well_formed(ollama_options) &&
              well_formed(openai_message) && well_formed(ollama_message) && well_formed(content_part) &&
              well_formed(image_url_object) && well_formed(input_audio));

}  // namespace

const route_schema* find_route_schema(std::string_view route) noexcept {
  for (const auto& r : routes)
    if (r.route == route) return &r;
  return nullptr;
}

}  // namespace corral
