#include "policies/policy_chain.hpp"
#include "policies/policy_counters.hpp"
#include "policy_test_support.hpp"

#include "gateway/core/config.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace corral {
namespace {

namespace json = boost::json;

std::vector<policy_spec> specs_from(const std::string& yaml) {
  return parse_config(yaml, "test.yaml").policies;
}

std::string build_error(const std::string& yaml) {
  try {
    policy_chain::build(specs_from(yaml), nullptr);
  } catch (const config_error& e) {
    return e.what();
  }
  return "built";
}

TEST(policy_chain_test, an_empty_chain_is_empty_and_lets_everything_through) {
  auto chain = policy_chain::build({}, nullptr);
  EXPECT_TRUE(chain->empty());
  request_context ctx;
  ctx.cls = route_class::inference;
  EXPECT_FALSE(chain->filters_responses(ctx));
  policy_request req(ctx);
  EXPECT_FALSE(test::run_on_request(*chain, req).rejected());
}

TEST(policy_chain_test, runs_request_hooks_in_config_order_and_stops_at_the_first_rejection) {
  auto chain = policy_chain::build(specs_from(R"(
policies:
  - {type: prompt_guard, name: first, rules: [{name: a, pattern: alpha, action: flag}]}
  - {type: prompt_guard, name: second, rules: [{name: b, pattern: beta}]}
  - {type: prompt_guard, name: third, rules: [{name: c, pattern: alpha, action: flag}]}
)"),
                                   nullptr);
  request_context ctx;
  ctx.cls = route_class::inference;
  auto body = json::parse(R"({"prompt":"alpha beta"})");
  policy_request req(ctx);
  req.body = &body.as_object();
  auto v = test::run_on_request(*chain, req);
  EXPECT_EQ(v.status, 403u);
  EXPECT_EQ(ctx.decisions, "first:flag:a second:block:b") << "third must not have run";
}

TEST(policy_chain_test, routes_limit_where_a_policy_applies) {
  auto chain = policy_chain::build(specs_from(R"(
policies:
  - {type: prompt_guard, routes: [/api/generate], rules: [{name: a, pattern: alpha}]}
)"),
                                   nullptr);
  auto body = json::parse(R"({"prompt":"alpha"})");
  request_context ctx;
  ctx.cls = route_class::inference;
  ctx.route = "/api/chat";
  policy_request chat(ctx);
  chat.body = &body.as_object();
  EXPECT_FALSE(test::run_on_request(*chain, chat).rejected());
  ctx.route = "/api/generate";
  policy_request gen(ctx);
  gen.body = &body.as_object();
  EXPECT_TRUE(test::run_on_request(*chain, gen).rejected());
}

TEST(policy_chain_test, chunk_hooks_apply_only_to_responses_a_filter_took) {
  auto chain = policy_chain::build(specs_from(R"(
policies:
  - {type: output_filter, rules: [{name: n, pattern: secret, action: redact, mask: "***"}]}
)"),
                                   nullptr);
  request_context ctx;
  ctx.cls = route_class::fleet_read;
  EXPECT_FALSE(chain->filters_responses(ctx)) << "output filters default to inference routes";
  ctx.cls = route_class::inference;
  EXPECT_TRUE(chain->filters_responses(ctx));
  chain->on_response_head(ctx, {500, "application/json"});
  EXPECT_EQ(ctx.chunk_policies, 0u);
  chain->on_response_head(ctx, {200, "application/json; charset=utf-8"});
  EXPECT_NE(ctx.chunk_policies, 0u);
  auto r = chain->on_response_chunk(ctx, chunk_kind::whole_body, R"({"response":"the secret is out","done":true})");
  ASSERT_EQ(r.act, chunk_result::action::replace);
  EXPECT_NE(std::string(r.data).find("the *** is out"), std::string::npos) << r.data;
}

TEST(policy_chain_test, decisions_are_counted_per_policy_and_survive_a_rebuild) {
  policy_counters counters(2);
  auto yaml = R"(
policies:
  - {type: prompt_guard, rules: [{name: a, pattern: alpha}]}
)";
  auto body = json::parse(R"({"prompt":"alpha"})");
  for (int round = 0; round < 2; ++round) {
    auto chain = policy_chain::build(specs_from(yaml), &counters);
    request_context ctx;
    ctx.cls = route_class::inference;
    ctx.worker = static_cast<unsigned>(round);
    policy_request req(ctx);
    req.body = &body.as_object();
    test::run_on_request(*chain, req);
  }
  std::uint64_t blocks = 0;
  for (const auto& e : counters.snapshot())
    if (e.policy == "prompt_guard" && e.decision == "block") blocks = e.count;
  EXPECT_EQ(blocks, 2u);
}

TEST(policy_chain_test, errors_name_the_entry_its_line_and_the_option) {
  EXPECT_NE(build_error("policies:\n  - type: nope\n").find("test.yaml:2: policies[0].type: unknown policy 'nope'"),
            std::string::npos)
      << build_error("policies:\n  - type: nope\n");
  auto e = build_error("policies:\n  - type: validation\n  - type: prompt_guard\n    rules: [{name: x, pattern: '(' }]\n");
  EXPECT_NE(e.find("test.yaml:3: policies[1] (prompt_guard): rules[0].pattern"), std::string::npos) << e;
  e = build_error("policies:\n  - {type: validation, routes: [inferense]}\n");
  EXPECT_NE(e.find("unknown route class 'inferense'"), std::string::npos) << e;
  EXPECT_NE(build_error("policies:\n  - {type: validation}\n  - {type: validation}\n").find("duplicate policy name"),
            std::string::npos);
  EXPECT_EQ(build_error("policies:\n  - {type: validation}\n  - {type: validation, name: strict}\n"), "built");
}

TEST(policy_chain_test, yaml_scalars_reach_policies_typed) {
  auto specs = specs_from("policies:\n  - {type: validation, a: 1, b: 1.5, c: true, d: '1', e: off, f: ~}\n");
  const auto& o = *specs.at(0).options;
  EXPECT_TRUE(o.at("a").is_int64());
  EXPECT_TRUE(o.at("b").is_double());
  EXPECT_TRUE(o.at("c").is_bool());
  EXPECT_TRUE(o.at("d").is_string()) << "a quoted scalar stays a string";
  EXPECT_EQ(o.at("e").as_string(), "off");
  EXPECT_TRUE(o.at("f").is_null());
}

}  // namespace
}  // namespace corral
