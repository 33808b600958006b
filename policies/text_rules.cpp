#include "policies/text_rules.hpp"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>

namespace corral {

namespace {

struct builtin_pattern {
  std::string_view set;
  std::string_view pattern;
  rule_check check = rule_check::none;
};

// Kept narrow on purpose: a false positive costs the reader text, and with `block` the answer.
// Every pattern is short enough (a few dozen bytes) to be caught whole with the default hold-back.
constexpr std::array<builtin_pattern, 10> builtin_patterns{{
    {"email", R"([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"},
    // 13 to 19 digits, one space or dash allowed between any two; most 16-digit numbers are not
    // cards, hence the Luhn check.
    {"card", R"(\b(?:[0-9][ -]?){12,18}[0-9]\b)", rule_check::luhn},
    {"secrets", R"(\b(?:AKIA|ASIA)[0-9A-Z]{16}\b)"},
    {"secrets", R"(\bgh[pousr]_[A-Za-z0-9]{36,255}\b)"},
    {"secrets", R"(\bgithub_pat_[A-Za-z0-9_]{22,255}\b)"},
    {"secrets", R"(\bxox[abposr]-[A-Za-z0-9-]{10,200})"},
    {"secrets", R"(\bAIza[0-9A-Za-z_-]{35})"},
    {"secrets", R"(-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----)"},
    // "Bearer authentication" is prose, "Bearer eyJhbGciOi..." is not: a token has a digit.
    {"secrets", R"(\bBearer[ \t]+[A-Za-z0-9._~+/-]{8,}=*)", rule_check::bearer_token},
    {"ipv4", R"(\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b)"},
}};

constexpr std::array<std::string_view, 4> builtin_set_names{"email", "card", "secrets", "ipv4"};

bool luhn_valid(std::string_view s) {
  unsigned sum = 0;
  bool twice = false;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (*it < '0' || *it > '9') continue;
    unsigned d = static_cast<unsigned>(*it - '0');
    if (twice) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

bool passes(rule_check check, std::string_view candidate) {
  switch (check) {
    case rule_check::none: return true;
    case rule_check::luhn: return luhn_valid(candidate);
    case rule_check::bearer_token:
      return std::any_of(candidate.begin(), candidate.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  return true;
}

bool continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

RE2::Options rule_options(bool case_insensitive) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_case_sensitive(!case_insensitive);
  return o;
}

}  // namespace

std::span<const std::string_view> builtin_rule_sets() { return builtin_set_names; }

bool append_builtin_rules(std::string_view set, rule_action action, const std::string& mask,
                          std::vector<text_rule>& out) {
  bool known = false;
  for (const auto& p : builtin_patterns) {
    if (p.set != set) continue;
    known = true;
    out.push_back({std::string(p.set), std::string(p.pattern), action, mask, false, p.check});
  }
  return known;
}

struct text_rules::engine {
  std::vector<std::unique_ptr<RE2>> rules;  // one per rule, same index
  // All rules as one alternation: finds where the next match starts in one pass.
  std::unique_ptr<RE2> any;
  // All rules anchored: which of them match at that start, in one pass.
  std::unique_ptr<RE2::Set> starts;
};

text_rules::text_rules(std::vector<text_rule> rules) : rules_(std::move(rules)) {
  auto e = std::make_unique<engine>();
  auto combined = rule_options(false);
  combined.set_never_capture(true);
  combined.set_max_mem(64 << 20);
  e->starts = std::make_unique<RE2::Set>(combined, RE2::ANCHOR_START);
  std::string alternation;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const auto& r = rules_[i];
    auto re = std::make_unique<RE2>(r.pattern, rule_options(r.case_insensitive));
    if (!re->ok()) throw rule_error{i, re->error()};
    // An empty match would redact nothing, forever.
    if (RE2::FullMatch("", *re)) throw rule_error{i, "matches the empty string"};
    e->rules.push_back(std::move(re));
    std::string alternative = (r.case_insensitive ? "(?i:" : "(?:") + r.pattern + ")";
    alternation.append(alternation.empty() ? "" : "|").append(alternative);
    e->starts->Add(alternative, nullptr);
  }
  if (!rules_.empty()) {
    e->any = std::make_unique<RE2>(alternation, combined);
    if (!e->any->ok() || !e->starts->Compile()) throw rule_error{rules_.size(), "the patterns are too large together"};
  }
  engine_ = std::move(e);
}

text_rules::~text_rules() = default;

rule_hit text_rules::find(std::string_view text, std::size_t from, std::size_t hold_back, bool final) const {
  if (rules_.empty()) return {};
  // Reused by every search on this thread: no allocation per record.
  thread_local std::vector<int> starting;
  const re2::StringPiece whole(text.data(), text.size());
  re2::StringPiece m;
  while (from < text.size()) {
    if (!engine_->any->Match(whole, from, text.size(), RE2::UNANCHORED, &m, 1)) return {};
    const std::size_t begin = static_cast<std::size_t>(m.data() - text.data());
    // The set sees no context before `begin`, so it may name a rule that does not match here
    // after all (\b); each one named is matched again with context.
    starting.clear();
    engine_->starts->Match(whole.substr(begin), &starting);
    rule_hit best;
    for (int i : starting) {
      const auto rule = static_cast<std::size_t>(i);
      if (!engine_->rules[rule]->Match(whole, begin, text.size(), RE2::ANCHOR_START, &m, 1) || m.empty()) continue;
      const std::size_t end = begin + m.size();
      // Only the next piece can tell whether this match is complete: decide nothing yet.
      if (!final && end == text.size() && end - begin <= hold_back) return {rule_hit::kind::held, begin, end, rule};
      if (!passes(rules_[rule].check, text.substr(begin, end - begin))) continue;
      const bool blocks = rules_[rule].action == rule_action::block;
      const bool best_blocks = best.what == rule_hit::kind::found && rules_[best.rule].action == rule_action::block;
      if (best.what == rule_hit::kind::none || (blocks && !best_blocks) ||
          (blocks == best_blocks && rule < best.rule))
        best = {rule_hit::kind::found, begin, end, rule};
    }
    if (best.what == rule_hit::kind::found) return best;
    // Only candidates that failed their check start here: look further on.
    from = begin + 1;
    while (from < text.size() && continuation_byte(text[from])) ++from;
  }
  return {};
}

text_stream::result text_stream::feed(const text_rules& rules, std::size_t hold_back, std::string_view piece,
                                      bool last, std::string& out, std::vector<std::uint32_t>& redacted) {
  out.clear();
  buf_.append(piece);
  const std::size_t size = buf_.size();
  std::size_t pos = context_;
  // Without a match in sight, all but the last `hold_back` bytes may go: a match of at most
  // `hold_back` bytes that is still incomplete must start after that point.
  std::size_t limit = size;
  if (!last && size - pos > hold_back) {
    limit = size - hold_back;
    while (limit < size && continuation_byte(buf_[limit])) ++limit;
  } else if (!last) {
    limit = pos;
  }
  while (pos < size) {
    const rule_hit hit = rules.find(buf_, pos, hold_back, last);
    if (hit.what == rule_hit::kind::none) break;
    if (hit.what == rule_hit::kind::held) {
      limit = std::min(limit, hit.begin);
      break;
    }
    const auto& rule = rules.rules()[hit.rule];
    if (rule.action == rule_action::block) {
      out.clear();
      return {true, hit.rule};
    }
    out.append(buf_, pos, hit.begin - pos).append(rule.mask);
    redacted.push_back(static_cast<std::uint32_t>(hit.rule));
    pos = hit.end;
    limit = std::max(limit, pos);
  }
  out.append(buf_, pos, limit - std::min(limit, pos));
  const std::size_t released = std::max(pos, limit);

  // A few released bytes stay as context, so that \b and ^ see what came before.
  std::size_t keep_from = released > 4 ? released - 4 : 0;
  // At most 3 steps back: a UTF-8 sequence is 4 bytes at most, and invalid text (a long run of
  // continuation bytes) must not make the context grow.
  for (int steps = 0; steps < 3 && keep_from > 0 && continuation_byte(buf_[keep_from]); ++steps) --keep_from;
  buf_.erase(0, keep_from);
  context_ = released - keep_from;
  return {};
}

}  // namespace corral
