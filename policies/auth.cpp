#include "policies/auth.hpp"

#include "gateway/core/model_name.hpp"
#include "policies/ip_ranges.hpp"
#include "policies/key_hash.hpp"
#include "policies/policy_options.hpp"

#include <boost/json/object.hpp>
#include <openssl/crypto.h>

#include <array>
#include <cctype>
#include <unordered_map>

namespace corral {
namespace json = boost::json;

namespace {

enum decision : std::size_t { allow, ip_denied, no_key, bad_key, forbidden };
constexpr std::array<std::string_view, 5> decision_names{"allow", "ip_denied", "no_key", "bad_key", "forbidden"};

class auth_policy final : public policy {
 public:
  explicit auth_policy(const json::object& o) {
    options::only_known(o, {"header", "keys", "allow_ips", "deny_ips"});
    if (auto* h = o.if_contains("header")) header_ = options::as_string(*h, "header");
    if (auto* k = o.if_contains("keys")) {
      const auto& keys = options::as_array(*k, "keys");
      for (std::size_t i = 0; i < keys.size(); ++i) add_key(keys[i], "keys[" + std::to_string(i) + "]");
    }
    read_ranges(o, "allow_ips", allow_);
    read_ranges(o, "deny_ips", deny_);
  }

  unsigned hooks() const noexcept override { return hook_request; }
  std::span<const std::string_view> decisions() const noexcept override { return decision_names; }

  boost::asio::awaitable<verdict> on_request(policy_request& req) const override {
    co_return check(req);
  }

 private:
  verdict check(policy_request& req) const {
    auto& ctx = req.ctx;
    if (!deny_.empty() && deny_.contains(req.client_ip)) {
      decide(ctx, ip_denied);
      return verdict::reject(403, "client address " + std::string(req.client_ip) + " is not allowed");
    }
    if (!allow_.empty() && !allow_.contains(req.client_ip)) {
      decide(ctx, ip_denied);
      return verdict::reject(403, "client address " + std::string(req.client_ip) + " is not allowed");
    }
    if (keys_.empty()) {  // addresses only
      decide(ctx, allow);
      return verdict::next();
    }
    auto presented = bearer(req.header("authorization"));
    std::string_view carrier = "authorization";
    if (presented.empty() && !header_.empty()) {
      presented = trimmed(req.header(header_));
      carrier = header_;
    }
    static const std::string challenge = "WWW-Authenticate: Bearer realm=\"corral\"\r\n";
    if (presented.empty()) {
      decide(ctx, no_key);
      std::string how = "send it as 'Authorization: Bearer <key>'";
      if (!header_.empty()) how += " or in the " + header_ + " header";
      return verdict::reject(401, "missing API key: " + how, challenge);
    }
    auto it = keys_.find(recent_hash(presented));
    if (it == keys_.end()) {
      decide(ctx, bad_key);
      return verdict::reject(401, "invalid API key", challenge);
    }
    const auto& who = it->second;
    ctx.who = who;
    req.consumed_headers[0] = carrier;  // the key goes no further than corral
    // The running configuration, even with its secrets masked, is an admin's to read.
    bool admin_route = req.ctx.cls == route_class::fleet_change ||
                       (req.ctx.cls == route_class::management && req.method != "GET" && req.method != "HEAD") ||
                       req.ctx.route == "/api/v1/config";
    // A batch names its models per item, and each item meets this policy on its own.
    bool batch = req.ctx.route.starts_with("/api/v1/batch/");
    if (admin_route && who->role != "admin") {
      decide(ctx, forbidden, who->key_name);
      return verdict::reject(403, "API key '" + who->key_name + "' (role " + who->role + ") may not use " +
                                      std::string(req.method) + " " + std::string(req.ctx.route) + ": it needs the admin role");
    }
    if (!admin_route && !batch && !who->models.empty() && ctx.model.empty() && req.ctx.cls == route_class::inference) {
      decide(ctx, forbidden, who->key_name);
      return verdict::reject(403, "API key '" + who->key_name + "' is limited to some models, and this request names none");
    }
    if (!ctx.model.empty() && !admin_route && !who->may_use(ctx.model)) {
      decide(ctx, forbidden, who->key_name);
      return verdict::reject(403, "model \"" + ctx.model + "\" is not allowed for API key '" + who->key_name + "'");
    }
    decide(ctx, allow, who->key_name);
    return verdict::next();
  }

  // SHA-256 of a presented key, remembered for the few keys a worker thread saw last: a client
  // sends the same key with every request, and hashing it each time showed in profiles.
  static const std::string& recent_hash(std::string_view key) {
    struct entry {
      std::string key, hash;
    };
    thread_local std::array<entry, 8> recent;
    thread_local std::size_t next = 0;
    // Compared in constant time, so timing tells nothing about another client's key.
    for (const auto& e : recent)
      if (!e.hash.empty() && e.key.size() == key.size() && CRYPTO_memcmp(e.key.data(), key.data(), key.size()) == 0)
        return e.hash;
    auto& slot = recent[next++ % recent.size()];
    slot.key.assign(key);
    slot.hash = hash_api_key(key);
    return slot.hash;
  }

  static std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }
  static std::string_view bearer(std::string_view v) {
    v = trimmed(v);
    // The scheme is case-insensitive (RFC 9110 11.1).
    constexpr std::string_view scheme = "bearer ";
    if (v.size() <= scheme.size()) return {};
    for (std::size_t i = 0; i < scheme.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(v[i])) != scheme[i]) return {};
    return trimmed(v.substr(scheme.size()));
  }

  void add_key(const json::value& v, const std::string& path) {
    const auto& o = options::as_object(v, path);
    options::only_known(o, {"name", "hash", "role", "models", "labels"}, path);
    auto who = std::make_shared<identity>();
    auto* name = o.if_contains("name");
    if (!name) options::fail(path, "a key needs a 'name'");
    who->key_name = options::as_string(*name, options::join(path, "name"));
    for (const auto& [h, other] : keys_)
      if (other->key_name == who->key_name) options::fail(options::join(path, "name"), "duplicate key name '" + who->key_name + "'");
    auto* hash = o.if_contains("hash");
    if (!hash) options::fail(path, "a key needs a 'hash' (print one with: corral hash-key)");
    auto normalized = normalize_key_hash(options::as_string(*hash, options::join(path, "hash")));
    if (normalized.empty())
      options::fail(options::join(path, "hash"), "expected 'sha256:' and 64 hex digits (print one with: corral hash-key)");
    if (keys_.contains(normalized)) options::fail(options::join(path, "hash"), "the same key is configured twice");
    who->role = "user";
    if (auto* r = o.if_contains("role")) who->role = options::as_choice(*r, options::join(path, "role"), {"user", "admin"});
    if (auto* m = o.if_contains("models")) {
      const auto& models = options::as_array(*m, options::join(path, "models"));
      for (std::size_t i = 0; i < models.size(); ++i) {
        auto mp = options::join(path, "models") + "[" + std::to_string(i) + "]";
        auto name_text = options::as_string(models[i], mp);
        if (!is_valid_model_name(name_text)) options::fail(mp, "'" + name_text + "' is not a valid model name");
        who->models.push_back(normalize_model_name(name_text));
      }
      if (who->models.empty()) options::fail(options::join(path, "models"), "an empty list would allow no model; leave it out to allow all");
    }
    if (auto* l = o.if_contains("labels")) {
      auto lp = options::join(path, "labels");
      for (const auto& kv : options::as_object(*l, lp))
        who->labels.emplace_back(std::string(kv.key()), options::as_string(kv.value(), options::join(lp, kv.key())));
    }
    keys_.emplace(std::move(normalized), std::move(who));
  }

  static void read_ranges(const json::object& o, std::string_view key, ip_ranges& out) {
    auto* v = o.if_contains(key);
    if (!v) return;
    const auto& list = options::as_array(*v, key);
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto p = std::string(key) + "[" + std::to_string(i) + "]";
      auto err = out.add(options::as_string(list[i], p));
      if (!err.empty()) options::fail(p, err);
    }
  }

  std::string header_;
  std::unordered_map<std::string, std::shared_ptr<const identity>> keys_;  // by hash_api_key()
  ip_ranges allow_, deny_;
};

}  // namespace

std::unique_ptr<policy> make_auth(const json::object& options) { return std::make_unique<auth_policy>(options); }

}  // namespace corral
