#pragma once
// Reads what an answer says about itself: which stream pieces carry output text, the API's own
// token counters, errors inside a stream. Pure functions over one NDJSON line, one SSE `data:`
// payload or one whole non-streamed body; the caller does the framing.
//
// Counting rule: the API's counter wins when the answer has one (Ollama's final `eval_count` /
// `prompt_eval_count`; OpenAI's `usage`, where the last one seen wins because streamed
// completions carry zeroed usage on every chunk and the real one last); otherwise one output
// token per piece that carries text (Ollama and its OpenAI layer send one token per piece).
//
// Parsing uses a fixed stack buffer, so a token costs no heap allocation unless the piece is
// larger than that buffer.
#include <cstdint>
#include <optional>
#include <string_view>

namespace corral::bench {

// What one stream piece or body says.
struct piece_info {
  bool content = false;   // carries output text (a token, for the time-to-first-token clock)
  bool error = false;     // an {"error": ...} in place of an answer
  bool done = false;      // the stream's last piece: Ollama's done:true or SSE's [DONE]
  bool malformed = false; // not JSON
  std::optional<std::uint64_t> output_tokens;  // the API's own count, when it gives one
  std::optional<std::uint64_t> prompt_tokens;
};

// One NDJSON line of /api/generate, /api/chat (content: `response` / `message.content` not
// empty), or a whole non-streamed native body (including /api/embed's prompt_eval_count).
piece_info read_ollama_piece(std::string_view json_text);

// One SSE `data:` payload (without the `data:` prefix) of /v1/chat/completions or
// /v1/completions, `[DONE]` included, or a whole non-streamed OpenAI body (usage counters).
piece_info read_openai_piece(std::string_view json_text);

// Running count for one answer.
struct token_tally {
  std::uint64_t content_pieces = 0;
  std::optional<std::uint64_t> api_output;
  std::optional<std::uint64_t> api_prompt;

  void add(const piece_info& p) {
    if (p.content) ++content_pieces;
    if (p.output_tokens) api_output = p.output_tokens;
    if (p.prompt_tokens) api_prompt = p.prompt_tokens;
  }
  std::uint64_t output_tokens() const { return api_output.value_or(content_pieces); }
  std::uint64_t prompt_tokens() const { return api_prompt.value_or(0); }
};

}  // namespace corral::bench
