#include "policies/prompt_guard.hpp"

#include "policies/policy_options.hpp"

#include <boost/json/object.hpp>
#include <re2/re2.h>
#include <re2/set.h>

#include <array>

namespace corral {
namespace json = boost::json;

namespace {

enum decision : std::size_t { pass, flag, block };
constexpr std::array<std::string_view, 3> decision_names{"pass", "flag", "block"};

struct builtin_rule {
  std::string_view set;
  std::string_view name;
  std::string_view pattern;  // case-insensitive
};

// Phrasings seen in published prompt-injection and jailbreak collections; deliberately narrow
// (whole phrases), since a flag on ordinary text costs trust.
constexpr std::array<builtin_rule, 9> builtin_rules{{
    {"injection", "injection.ignore_instructions",
     R"(\b(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+)*(previous|prior|above|earlier|preceding|system)\s+(instructions|prompts?|rules|directions|guidelines))"},
    {"injection", "injection.reveal_prompt",
     R"(\b(reveal|print|show|repeat|output|leak)\s+(me\s+)?(your|the)\s+(full\s+|entire\s+|original\s+)?(system|hidden|initial|secret)\s+(prompt|instructions))"},
    {"injection", "injection.new_instructions",
     R"(\b(new|updated)\s+instructions\s*:\s*(you\s+(are|will|must)|ignore))"},
    {"jailbreak", "jailbreak.dan", R"(\b((?-i:DAN)|do\s+anything\s+now)\b.{0,40}\b(mode|prompt|jailbreak|no\s+restrictions))"},
    {"jailbreak", "jailbreak.developer_mode", R"(\b(enable|activate|enter)\s+(developer|god|jailbreak|unrestricted)\s+mode\b)"},
    {"jailbreak", "jailbreak.no_restrictions",
     R"(\b(pretend|act\s+as\s+if|imagine)\s+(that\s+)?you\s+(have|had|are)\s+(no|without)\s+(restrictions|rules|filters|guidelines|limits))"},
    {"secrets", "secrets.private_key", R"(-----BEGIN\s+([A-Z0-9]+\s+)*PRIVATE\s+KEY-----)"},
    {"secrets", "secrets.aws_access_key", R"(\b(AKIA|ASIA)[0-9A-Z]{16}\b)"},
    {"secrets", "secrets.github_token", R"(\bgh[pousr]_[A-Za-z0-9]{36,}\b)"},
}};

struct rule {
  std::string name;
  bool block = false;
};

class prompt_guard final : public policy {
 public:
  explicit prompt_guard(const json::object& o) : set_(make_options(), RE2::UNANCHORED) {
    options::only_known(o, {"block_status", "builtin", "rules"});
    if (auto* s = o.if_contains("block_status")) {
      block_status_ = static_cast<unsigned>(options::as_integer(*s, "block_status", 400, 403));
      if (block_status_ != 400 && block_status_ != 403) options::fail("block_status", "expected 400 or 403");
    }
    if (auto* b = o.if_contains("builtin")) {
      for (const auto& kv : options::as_object(*b, "builtin")) {
        auto path = options::join("builtin", kv.key());
        bool known = false;
        for (const auto& r : builtin_rules) known = known || r.set == kv.key();
        if (!known) options::fail(path, "unknown rule set (injection, jailbreak, secrets)");
        auto action = options::as_choice(kv.value(), path, {"block", "flag", "off"});
        if (action == "off") continue;
        for (const auto& r : builtin_rules)
          if (r.set == kv.key()) add(std::string(r.name), "(?i)" + std::string(r.pattern), action == "block", path);
      }
    }
    if (auto* list = o.if_contains("rules")) {
      const auto& rules = options::as_array(*list, "rules");
      for (std::size_t i = 0; i < rules.size(); ++i) {
        auto path = "rules[" + std::to_string(i) + "]";
        const auto& r = options::as_object(rules[i], path);
        options::only_known(r, {"name", "pattern", "action", "case_insensitive"}, path);
        auto* name = r.if_contains("name");
        auto* pattern = r.if_contains("pattern");
        if (!name || !pattern) options::fail(path, "a rule needs a 'name' and a 'pattern'");
        auto rule_name = options::as_string(*name, options::join(path, "name"));
        for (const auto& existing : rules_)
          if (existing.name == rule_name) options::fail(options::join(path, "name"), "duplicate rule name '" + rule_name + "'");
        bool block = true;
        if (auto* a = r.if_contains("action")) block = options::as_choice(*a, options::join(path, "action"), {"block", "flag"}) == "block";
        bool ci = false;
        if (auto* c = r.if_contains("case_insensitive")) ci = options::as_bool(*c, options::join(path, "case_insensitive"));
        add(rule_name, (ci ? "(?i)" : "") + options::as_string(*pattern, options::join(path, "pattern")), block,
            options::join(path, "pattern"));
      }
    }
    if (!rules_.empty() && !set_.Compile()) options::fail("rules", "the patterns could not be compiled together (too large)");
  }

  unsigned hooks() const noexcept override { return hook_request; }
  std::span<const std::string_view> decisions() const noexcept override { return decision_names; }

  boost::asio::awaitable<verdict> on_request(policy_request& req) const override { co_return check(req); }

 private:
  static RE2::Options make_options() {
    RE2::Options o;
    o.set_log_errors(false);
    return o;
  }

  void add(std::string name, const std::string& pattern, bool block, const std::string& path) {
    RE2 probe(pattern, make_options());
    if (!probe.ok()) options::fail(path, "invalid pattern: " + probe.error());
    std::string error;
    if (set_.Add(pattern, &error) < 0) options::fail(path, "invalid pattern: " + error);
    rules_.push_back({std::move(name), block});
  }

  // The first blocking rule any text matches, else the first flagging one; -1 when none.
  int match(std::string_view text, std::vector<int>& hits, bool& unscannable) const {
    hits.clear();
    RE2::Set::ErrorInfo info{};
    if (!set_.Match(text, &hits, &info)) {
      // Out of memory is not "no match": the request is refused rather than passed unscanned.
      if (info.kind != RE2::Set::kNoError) unscannable = true;
      return -1;
    }
    int found = -1;
    for (int h : hits) {
      if (rules_[h].block) return h;
      if (found < 0) found = h;
    }
    return found;
  }

  verdict check(policy_request& req) const {
    if (rules_.empty() || !req.body) {
      decide(req.ctx, pass);
      return verdict::next();
    }
    std::vector<int> hits;
    int flagged = -1;
    int blocked = -1;
    bool unscannable = false;
    auto scan = [&](std::string_view text) {
      if (blocked >= 0 || text.empty()) return;
      int m = match(text, hits, unscannable);
      if (m < 0) return;
      if (rules_[m].block) blocked = m;
      else if (flagged < 0) flagged = m;
    };
    // Strings, lists of strings, content parts ({"text": ...}) and items that hold content
    // (Responses API input items, Anthropic blocks), a few levels deep.
    auto scan_value = [&](const json::value* v, auto&& self, int depth) -> void {
      if (!v || depth > 4) return;
      if (v->is_string()) {
        scan(v->get_string());
      } else if (v->is_array()) {
        for (const auto& item : v->get_array()) self(&item, self, depth + 1);
      } else if (v->is_object()) {
        const auto& o = v->get_object();
        self(o.if_contains("text"), self, depth + 1);
        self(o.if_contains("content"), self, depth + 1);
      }
    };
    const auto& body = *req.body;
    for (auto field : {"prompt", "suffix", "system", "messages", "input", "instructions"})
      scan_value(body.if_contains(field), scan_value, 0);
    if (blocked >= 0) {
      decide(req.ctx, block, rules_[blocked].name);
      return verdict::reject(block_status_, "request blocked by prompt guard rule '" + rules_[blocked].name + "'");
    }
    if (unscannable) {
      decide(req.ctx, block, "unscanned");
      return verdict::reject(503, "the prompt guard could not scan this request (too large for its patterns)",
                             "Retry-After: 1\r\n");
    }
    if (flagged >= 0) decide(req.ctx, flag, rules_[flagged].name);
    else decide(req.ctx, pass);
    return verdict::next();
  }

  RE2::Set set_;
  std::vector<rule> rules_;  // by the set's pattern index
  unsigned block_status_ = 403;
};

}  // namespace

std::unique_ptr<policy> make_prompt_guard(const json::object& options) { return std::make_unique<prompt_guard>(options); }

}  // namespace corral
