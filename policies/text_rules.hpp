#pragma once
// Redaction rules over streamed text: a compiled set of patterns (built-in rule sets and user
// rules, RE2 syntax, linear time) and the hold-back algorithm that applies them to a text that
// arrives in pieces, as the output filter does with each text field of a response stream.
//
// Lengths and the hold-back are counted in bytes of UTF-8; text is never cut inside a sequence.
// Guarantee: every match of at most `hold_back` bytes is found however the text is split, and at
// most `hold_back` bytes of a field are withheld after each piece.
//
// A `text_rules` is immutable once built and may be shared by threads; a `text_stream` belongs
// to one request.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

enum class rule_action : std::uint8_t { redact, block };

// A check a candidate must pass besides the pattern (payment cards: the Luhn sum).
enum class rule_check : std::uint8_t { none, luhn, bearer_token };

struct text_rule {
  std::string name;  // in decisions and block messages
  std::string pattern;
  rule_action action = rule_action::redact;
  std::string mask;  // what replaces a redacted match
  bool case_insensitive = false;
  rule_check check = rule_check::none;
};

// The built-in rule sets, by name: email, card, secrets, ipv4.
std::span<const std::string_view> builtin_rule_sets();
// Appends the rules of built-in set `set` (named after the set); false if there is no such set.
bool append_builtin_rules(std::string_view set, rule_action action, const std::string& mask,
                          std::vector<text_rule>& out);

// Where `text_rules::find` stopped.
struct rule_hit {
  enum class kind : std::uint8_t { none, held, found };
  kind what = kind::none;
  std::size_t begin = 0;  // held: hold from here; found: the match
  std::size_t end = 0;
  std::size_t rule = 0;   // found: index into rules()
};

class text_rules {
 public:
  // Compiles every rule. Throws rule_error naming the rule's index on a bad pattern.
  explicit text_rules(std::vector<text_rule> rules);
  ~text_rules();
  text_rules(const text_rules&) = delete;
  text_rules& operator=(const text_rules&) = delete;

  struct rule_error {
    std::size_t index;
    std::string message;
  };

  const std::vector<text_rule>& rules() const noexcept { return rules_; }
  bool empty() const noexcept { return rules_.empty(); }

  // The leftmost match in text[from, size) (text[0, from) is context for \b and ^). With
  // `final` false, a match that reaches the end of `text` and is at most `hold_back` long may
  // still grow: it is reported as held. At one position a blocking rule wins, then the rule listed first.
  rule_hit find(std::string_view text, std::size_t from, std::size_t hold_back, bool final) const;

 private:
  struct engine;  // the compiled patterns; RE2 stays out of this header
  std::vector<text_rule> rules_;
  std::unique_ptr<const engine> engine_;
};

// One text field of one response, fed piece by piece.
//
// The stream keeps the text not yet released (pending) and a few bytes before it (context).
// Mask text never enters the stream, so it is never matched again.
class text_stream {
 public:
  struct result {
    bool blocked = false;
    std::size_t rule = 0;  // blocked: the rule
  };

  // Appends `piece` and writes to `out` (cleared first) what may go out now, final matches
  // replaced by their masks; the index of each redacting rule is appended to `redacted`.
  // `last`: the text ends here, everything is released. On a block nothing is written.
  result feed(const text_rules& rules, std::size_t hold_back, std::string_view piece, bool last,
              std::string& out, std::vector<std::uint32_t>& redacted);

  bool has_pending() const noexcept { return buf_.size() > context_; }
  std::size_t pending_size() const noexcept { return buf_.size() - context_; }
  void reset() noexcept {
    buf_.clear();
    context_ = 0;
  }

 private:
  std::string buf_;           // context, then pending
  std::size_t context_ = 0;   // bytes of buf_ already released
};

}  // namespace corral
