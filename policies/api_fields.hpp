#pragma once
// The documented request fields of every JSON route, per API dialect, as data: which field
// holds what (shared/ollama-api.md §4–5 and the Ollama decoder's types). request_schema.cpp
// walks a body against these tables. Static storage; nothing here allocates.
#include "policies/request_schema.hpp"

#include <cstdint>
#include <span>
#include <string_view>

namespace corral {

enum class api_dialect : std::uint8_t { ollama, openai };

// What a field must hold. Every kind accepts `null` as "absent".
enum class field_kind : std::uint8_t {
  string, boolean, number, integer,
  count,              // integer >= 0
  positive,           // integer >= 1
  integers,           // array of integers
  string_or_strings,  // string or array of strings
  string_or_object,   // string or any object
  string_map,         // object whose values are strings
  any_object,         // any object (held to the nesting limit only)
  one_of,             // a string among `values` (exact)
  role,               // a string among `values`, any case (Ollama lower-cases roles)
  model,              // a model name (is_valid_model_name)
  prompt,             // a string counted toward the prompt limits
  input,              // string or array of strings, counted; OpenAI: the array not empty
  base64,             // a base64 string
  images,             // array of base64 strings
  image_url,          // OpenAI: a URL string or {url, detail}
  image_link,         // OpenAI: a data: URL with base64 or http(s)
  format,             // "json", "" or a JSON schema object
  think,              // boolean or a string among `values`
  keep_alive,         // number of seconds or a Go duration string
  ranged,             // a number (integer when the option is) within the option's range
  stop,               // array of strings (OpenAI: or one string); its count within stop's range
  top_logprobs,       // integer 0..20
  record,             // an object whose members follow `nested`
  records,            // an array of such objects
  messages,           // an array of messages following `nested`; count limit; OpenAI: not empty
  content,            // OpenAI message content: string (counted), or array of parts (`nested`)
};

struct field_spec {
  std::string_view name;
  field_kind kind = field_kind::string;
  bool required = false;                      // "missing" when absent or null
  option_id option = option_id::num_ctx;      // ranged, stop
  std::span<const field_spec> nested = {};    // record, records, messages, content
  std::span<const std::string_view> values = {};  // one_of, role, think
};

// The fields of one route. Every table: at most 64 fields (the walker keeps which it saw in a
// bit mask), required ones first, the most common early (looked up by a linear scan).
struct route_schema {
  std::string_view route;
  api_dialect dialect = api_dialect::ollama;
  bool counts_prompt = false;  // inference routes: prompt text counts toward the prompt limits
  std::span<const field_spec> fields;
};

// The schema of `route` (a route label), or null when it has none.
const route_schema* find_route_schema(std::string_view route) noexcept;

}  // namespace corral
