#pragma once
// The policy chain: the configured policies in config order, with one list per hook, so that a
// hook no policy writes costs nothing, and an empty chain costs one branch per request.
//
// Built once from the config's `policies:` list (at start and on SIGHUP) and then immutable:
// every worker thread shares one snapshot (`std::shared_ptr<const policy_chain>`); per-request
// state lives in the request context.
#include "gateway/core/config.hpp"
#include "policies/policy.hpp"

#include <memory>
#include <string>
#include <vector>

namespace corral {

class policy_counters;

class policy_chain {
 public:
  // Builds the chain. Throws config_error naming the entry ("file:line: policies[2]
  // (output_filter): rules[0].pattern: ...") on an unknown type, a bad option or a bad route.
  // `counters` may be null (decisions then counted nowhere). `known_route`, when given, says
  // whether a path in an entry's `routes:` is a route label the gateway has (a misspelt one
  // would silently never apply).
  static std::shared_ptr<const policy_chain> build(const std::vector<policy_spec>& specs, policy_counters* counters,
                                                   bool (*known_route)(std::string_view) = nullptr);

  bool empty() const noexcept { return entries_.empty(); }
  // True when some policy's chunk hook applies to responses of this request's route.
  bool filters_responses(const request_context& ctx) const noexcept;

  // Runs each applicable on_request in order; the first rejection ends the walk and is returned.
  boost::asio::awaitable<verdict> on_request(policy_request& req) const;
  // Runs each applicable on_response_head; a chunk policy that takes the response sets its bit
  // in ctx.chunk_policies (the chain does, when the policy created its request state).
  void on_response_head(request_context& ctx, const response_head_view& head) const;
  // Passes one record through every active chunk policy in order: a replacement from one is the
  // next one's input; a block ends the walk. `scratch` holds a replacement the chain had to copy.
  chunk_result on_response_chunk(request_context& ctx, chunk_kind kind, std::string_view chunk) const;
  void on_complete(const request_context& ctx) const;

  // Names, in order (for logs).
  std::string describe() const;

 private:
  struct entry {
    std::unique_ptr<policy> p;
    std::uint64_t class_mask = 0;          // bit per route_class
    std::vector<std::string> labels;       // exact route labels, besides the classes
    bool applies(const request_context& ctx) const noexcept;
  };
  std::vector<entry> entries_;
  std::vector<const entry*> request_hooks_, head_hooks_, chunk_hooks_, complete_hooks_;
};

}  // namespace corral
