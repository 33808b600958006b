#pragma once
// Reading JSON without building it. An answer that corral reshapes (the management API's, from
// Ollama's records) takes a few of the backend's values as they are and reads a few numbers:
// parsing it into a json::value and writing the values out again costs more than relaying the
// answer. A json_cursor walks one object's members (or one array's elements) and hands out
// each value's own text. Every value is checked as it is passed — RFC 8259 grammar, UTF-8,
// \u escapes that pair their surrogates, nesting depth — as strictly as Boost.JSON's parser, so
// the text handed out is well-formed JSON that may be copied into an answer unchanged (already
// escaped, already valid).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace corral {

// How deeply nested any JSON corral reads may be: requests, backends' answers, and corral's own
// text read back (Boost.JSON's parser takes it as parse_options::max_depth).
inline constexpr int json_max_depth = 256;

class json_cursor {
 public:
  // `text`: one object or array, with optional whitespace around it.
  explicit json_cursor(std::string_view text);

  // The next member of an object: its key as written between the quotes (escape sequences are
  // not decoded, so a key that spells a letter as \u0061 matches nothing) and its value's text,
  // without surrounding whitespace. False at the end of the object, or at malformed text.
  bool next_member(std::string_view& key, std::string_view& value);
  // The next element of an array.
  bool next_element(std::string_view& value);

  // False once malformed text was met. After next_*() returned false, true means the whole text
  // was one well-formed object (or array) and nothing but whitespace followed it.
  bool ok() const { return state_ != state::error; }

 private:
  enum class state { first, more, done, error };
  bool open(char opening);
  bool fail();
  bool value(std::string_view& out);

  const char* pos_;
  const char* end_;
  char close_ = 0;
  state state_ = state::first;
};

// What a value's text is.
inline bool json_is_string(std::string_view v) { return !v.empty() && v.front() == '"'; }
inline bool json_is_object(std::string_view v) { return !v.empty() && v.front() == '{'; }
inline bool json_is_array(std::string_view v) { return !v.empty() && v.front() == '['; }
// A number's value; nullopt when the text is not a number.
std::optional<double> json_number(std::string_view v);
// A count: a non-negative integer (an integral double included); nullopt otherwise.
std::optional<std::uint64_t> json_count(std::string_view v);
// How many elements an array's text holds; 0 when it is not an array.
std::size_t json_array_size(std::string_view v);

}  // namespace corral
