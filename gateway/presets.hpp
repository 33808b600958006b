#pragma once
// Presets: named inference recipes (a model, sampling values, a system prompt, a prompt
// template). A client names one in the management API ("preset": "coding") or as a virtual
// model name ("@coding") on the Ollama and OpenAI routes; the gateway then fills the request
// from the preset, leaving every value the client set alone.
//
// This file is the pure part: parsing and printing a preset, rendering its template, applying
// it to a request body. Where presets live and how they change is preset_store.hpp.
#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

struct preset {
  std::string name;
  std::string model;                  // an Ollama model name as written (is_valid_model_name)
  std::optional<double> temperature;  // 0..2
  std::optional<int> max_tokens;      // 1..1'000'000, Ollama's options.num_predict
  std::optional<double> top_p;        // 0..1
  std::string system_prompt;          // at most 64 KiB
  std::string description;            // at most 1 KiB
  std::string template_text;          // JSON "template", at most 64 KiB, placeholders {{name}}
  boost::json::object options;        // other Ollama options: scalars or arrays of scalars
  bool builtin = false;               // one of builtin_presets(); never changed through the API
  bool read_only = false;             // built-in or from the config file
};

// ^[a-z0-9][a-z0-9_.-]{0,63}$: safe in a URL path, a file and after the '@' of a model name.
bool valid_preset_name(std::string_view name);

// A parsed preset, or why the document is not one (`error` non-empty, naming the field).
struct preset_parse {
  preset value;
  std::string error;
  bool ok() const noexcept { return error.empty(); }
};

// Reads a preset from a JSON document. `path_name` is the name from the URL (PUT
// /api/v1/presets/{name}), or "" when the document must carry "name" itself (POST). When both
// are given they must match. Unknown fields are rejected by name; "builtin" and "read_only" are
// accepted and ignored, so a document from GET can be PUT back. null stands for an absent
// optional field. A template whose "{{" does not open a well-formed {{name}} is refused.
preset_parse parse_preset(const boost::json::value& doc, std::string_view path_name);

// Every field, absent optionals as null (parse_preset reads it back to the same preset).
boost::json::object to_json(const preset& p);

// general, coding, security, creative: builtin and read_only.
const std::vector<preset>& builtin_presets();

// Virtual model names are "@" + preset name. '@' never appears in an Ollama model name, so a
// virtual name cannot shadow a real model.
// "@coding" → "coding" (whatever follows the '@', valid or not, so the caller can answer
// "unknown preset"); a name without the leading '@' → nullopt.
std::optional<std::string_view> preset_of_model_name(std::string_view model);
// "coding" → "@coding".
std::string virtual_model_name(std::string_view preset_name);

// The prompt a preset's template makes, or why it cannot (`error` non-empty).
struct rendered_prompt {
  std::string text;
  std::string error;
  bool ok() const noexcept { return error.empty(); }
};

// Fills the template's {{name}} placeholders from `variables` (strings as they are, numbers and
// booleans as their JSON text) and {{prompt}} from `prompt`, the request's own prompt. Without a
// template the prompt is returned unchanged. A placeholder with no value, a variable that is
// null, an object or an array, and a "prompt" variable (reserved) are errors naming the
// variable and the preset. `variables` may be null.
rendered_prompt render_template(const preset& p, std::string_view prompt,
                                const boost::json::object* variables);

enum class preset_route {
  ollama_generate, ollama_chat, ollama_embed, openai_chat, openai_completion, openai_embeddings
};

// Fills `body` (the request in the route's shape) from the preset: "model" always; the rest
// only where the client set nothing (a missing key or null). Ollama routes get "options"
// (temperature, top_p, num_predict and the free options; embeddings only the free options);
// OpenAI routes get top-level temperature, top_p, max_tokens, seed and stop, the only options
// Ollama's /v1 routes read. The system prompt goes to "system" (ollama_generate) or to a first
// system message when the chat has none. An "options" that is not an object is left for the
// validation policy to report.
void apply_preset(const preset& p, boost::json::object& body, preset_route route);

// What a preset puts into Ollama's "options" where the request set nothing, one key at a time:
// its free options, and with `sampling` (generate, chat) its temperature, top_p and max_tokens
// as num_predict, which win over the same keys among its free options.
template <class F>
void for_each_ollama_option(const preset& p, bool sampling, F&& f) {
  auto own = [&](std::string_view k) {
    return sampling && ((k == "temperature" && p.temperature) || (k == "top_p" && p.top_p) ||
                        (k == "num_predict" && p.max_tokens));
  };
  for (const auto& kv : p.options)
    if (!own(kv.key())) f(std::string_view(kv.key()), kv.value());
  if (!sampling) return;
  if (p.temperature) f(std::string_view("temperature"), boost::json::value(*p.temperature));
  if (p.top_p) f(std::string_view("top_p"), boost::json::value(*p.top_p));
  if (p.max_tokens) f(std::string_view("num_predict"), boost::json::value(*p.max_tokens));
}

}  // namespace corral
