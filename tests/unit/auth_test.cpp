#include "policies/auth.hpp"
#include "policies/key_hash.hpp"
#include "policies/policy_counters.hpp"
#include "policy_test_support.hpp"

#include "gateway/core/config.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>

namespace corral {
namespace {

namespace json = boost::json;

// Header names compare case-insensitively, as HTTP's do.
struct iless {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [](char x, char y) { return std::tolower(x) < std::tolower(y); });
  }
};
using header_map = std::map<std::string, std::string, iless>;

class auth_test : public ::testing::Test {
 protected:
  void build(const std::string& extra = {}) {
    auto text = R"({"header":"X-API-Key","keys":[)"
                R"({"name":"ops","hash":")" + hash_api_key("admin-secret") + R"(","role":"admin"},)"
                R"({"name":"app","hash":")" + hash_api_key("user-secret") + R"(","labels":{"team":"search"}},)"
                R"({"name":"narrow","hash":")" + hash_api_key("narrow-secret") + R"(","models":["mistral"]}])" + extra + "}";
    policy_ = make_auth(json::parse(text).as_object());
    policy_->bind("auth", 0, &counters_);
  }
  verdict call(route_class cls, std::string_view route, std::string_view method = "POST", std::string model = "llama2:latest",
               std::string ip = "10.1.2.3") {
    ctx_ = request_context{};
    ctx_.model = std::move(model);
    ip_ = std::move(ip);
    policy_request req(ctx_);
    req.ctx.cls = cls;
    req.ctx.route = route;
    req.method = method;
    req.client_ip = ip_;
    req.headers = &headers_;
    req.header_fn = [](const void* h, std::string_view name) -> std::string_view {
      const auto& m = *static_cast<const header_map*>(h);
      auto it = m.find(name);
      return it == m.end() ? std::string_view{} : std::string_view(it->second);
    };
    return test::run_on_request(*policy_, req);
  }
  std::uint64_t count(std::string_view decision) {
    for (const auto& e : counters_.snapshot())
      if (e.decision == decision) return e.count;
    return 0;
  }

  policy_counters counters_{1};
  std::unique_ptr<policy> policy_;
  request_context ctx_;
  std::string ip_;
  header_map headers_;
};

TEST_F(auth_test, no_key_is_401_with_a_bearer_challenge) {
  build();
  auto v = call(route_class::inference, "/api/generate");
  EXPECT_EQ(v.status, 401u);
  EXPECT_NE(v.headers.find("WWW-Authenticate: Bearer"), std::string::npos);
  EXPECT_NE(v.message.find("X-API-Key"), std::string::npos) << v.message;
  EXPECT_EQ(count("no_key"), 1u);
}

TEST_F(auth_test, a_wrong_key_is_401_and_never_echoed) {
  build();
  headers_["authorization"] = "Bearer guess-secret";
  auto v = call(route_class::inference, "/api/generate");
  EXPECT_EQ(v.status, 401u);
  EXPECT_EQ(v.message.find("guess-secret"), std::string::npos);
  EXPECT_EQ(ctx_.decisions.find("guess-secret"), std::string::npos);
  EXPECT_EQ(count("bad_key"), 1u);
}

TEST_F(auth_test, a_valid_bearer_or_header_key_sets_the_identity) {
  build();
  headers_["authorization"] = "Bearer user-secret";
  EXPECT_FALSE(call(route_class::inference, "/api/chat").rejected());
  ASSERT_TRUE(ctx_.who);
  EXPECT_EQ(ctx_.who->key_name, "app");
  EXPECT_EQ(ctx_.who->role, "user");
  ASSERT_EQ(ctx_.who->labels.size(), 1u);
  EXPECT_EQ(ctx_.who->labels[0].second, "search");
  EXPECT_EQ(ctx_.decisions, "auth:allow:app");
  headers_.clear();
  headers_["x-api-key"] = "admin-secret";
  EXPECT_FALSE(call(route_class::inference, "/api/chat").rejected());
  ASSERT_TRUE(ctx_.who);
  EXPECT_EQ(ctx_.who->key_name, "ops");
}

TEST_F(auth_test, fleet_changing_routes_need_admin) {
  build();
  headers_["authorization"] = "Bearer user-secret";
  auto v = call(route_class::fleet_change, "/api/pull");
  EXPECT_EQ(v.status, 403u);
  EXPECT_NE(v.message.find("admin"), std::string::npos);
  EXPECT_FALSE(call(route_class::fleet_read, "/api/tags", "GET", "").rejected());
  EXPECT_EQ(call(route_class::management, "/api/v1/config", "PUT", "").status, 403u);
  EXPECT_EQ(call(route_class::management, "/api/v1/config", "GET", "").status, 403u)
      << "the configuration is an admin's to read";
  EXPECT_FALSE(call(route_class::management, "/api/v1/presets", "GET", "").rejected());
  headers_["authorization"] = "Bearer admin-secret";
  EXPECT_FALSE(call(route_class::fleet_change, "/api/pull").rejected());
  EXPECT_FALSE(call(route_class::management, "/api/v1/config", "GET", "").rejected());
}

TEST_F(auth_test, a_limited_key_may_send_a_batch_whose_items_are_checked_one_by_one) {
  build();
  headers_["authorization"] = "Bearer narrow-secret";
  EXPECT_FALSE(call(route_class::inference, "/api/v1/batch/generate", "POST", "").rejected());
  EXPECT_EQ(call(route_class::inference, "/api/v1/generate", "POST", "").status, 403u);
}

TEST_F(auth_test, a_key_limited_to_models_may_not_use_others) {
  build();
  headers_["authorization"] = "Bearer narrow-secret";
  EXPECT_EQ(call(route_class::inference, "/api/generate", "POST", "llama2:latest").status, 403u);
  EXPECT_FALSE(call(route_class::inference, "/api/generate", "POST", "mistral:latest").rejected());
  EXPECT_FALSE(call(route_class::fleet_read, "/api/tags", "GET", "").rejected());
}

TEST_F(auth_test, deny_wins_and_an_allow_list_admits_only_its_ranges) {
  build(R"(,"allow_ips":["10.0.0.0/8","::1"],"deny_ips":["10.6.0.0/16"])");
  headers_["authorization"] = "Bearer user-secret";
  EXPECT_FALSE(call(route_class::inference, "/api/chat", "POST", "m", "10.1.2.3").rejected());
  EXPECT_FALSE(call(route_class::inference, "/api/chat", "POST", "m", "::1").rejected());
  EXPECT_EQ(call(route_class::inference, "/api/chat", "POST", "m", "10.6.7.8").status, 403u);
  EXPECT_EQ(call(route_class::inference, "/api/chat", "POST", "m", "192.168.1.1").status, 403u);
  EXPECT_EQ(count("ip_denied"), 2u);
}

TEST_F(auth_test, bad_options_name_the_option) {
  auto fails = [](const std::string& text, const std::string& needle) {
    test::expect_config_error(make_auth, text, needle);
  };
  fails(R"({"keys":[{"name":"a","hash":"abc"}]})", "keys[0].hash");
  fails(R"({"keys":[{"hash":")" + hash_api_key("x") + R"("}]})", "keys[0]: a key needs a 'name'");
  fails(R"({"keys":[{"name":"a","hash":")" + hash_api_key("x") + R"(","role":"root"}]})", "keys[0].role");
  fails(R"({"keys":[{"name":"a","hash":")" + hash_api_key("x") + R"("},{"name":"b","hash":")" + hash_api_key("x") + R"("}]})",
        "keys[1].hash: the same key");
  fails(R"({"allow_ips":["10.0.0.0/33"]})", "allow_ips[0]");
  fails(R"({"keyz":[]})", "unknown option 'keyz'");
}

TEST(key_hash_test, hashes_match_sha256_and_normalize) {
  EXPECT_EQ(hash_api_key("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(normalize_key_hash("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(normalize_key_hash("sha256:xyz"), "");
  auto k1 = generate_api_key();
  EXPECT_EQ(k1.size(), 44u);
  EXPECT_NE(k1, generate_api_key());
}

}  // namespace
}  // namespace corral
