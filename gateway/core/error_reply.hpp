#pragma once
// The one mapping from an error to what the client sees: Ollama's {"error": "..."} on native
// routes, OpenAI's error object on /v1/*, and the in-stream forms once a body has started.
#include <string>
#include <string_view>

namespace corral {

enum class api_flavor { ollama, openai };

// A complete JSON error body for a response with `status`.
std::string error_body(api_flavor flavor, unsigned status, std::string_view message);

// The last record of a stream that broke after its first byte: one NDJSON line
// (`{"error":"..."}\n`) or one SSE event (`data: {"error":{...}}\n\n`).
std::string stream_error_record(api_flavor flavor, bool sse, std::string_view message);

// The reason phrase for a status, for hand-written status lines.
std::string_view status_reason(unsigned status);

}  // namespace corral
