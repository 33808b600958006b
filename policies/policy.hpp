#pragma once
// The policy interface: what every policy (validation, auth, prompt guard, output filter, ...)
// implements, and what it sees. See policy_chain.hpp for how policies are run.
//
// A policy is immutable once built (from its config entry, at start and on reload) and shared
// by every worker thread: hooks are const and keep per-request state in the request context
// (`request_context::policy_state`), never in the policy. A policy writes only the hooks it
// needs and says which in `hooks()`; the chain keeps one list per hook, so an unused hook costs
// nothing.
#include "gateway/core/error_reply.hpp"
#include "gateway/core/request_context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/fwd.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

class policy_counters;

// The parsed request, as on_request sees it. Borrowed for the duration of the hook.
struct policy_request {
  explicit policy_request(request_context& c) : ctx(c) {}
  // ctx.route (the route label, e.g. "/api/chat"), ctx.cls, ctx.model (normalized, when the
  // body names one), and the rest of what is known of the request.
  request_context& ctx;
  std::string_view method;
  api_flavor flavor = api_flavor::ollama;
  std::string_view client_ip;    // "" when unknown
  boost::json::object* body = nullptr;  // the JSON body when the route has one; may be changed
  bool body_changed = false;     // set by a policy that changed *body (it is re-serialized)
  // Request headers a policy consumed (credentials): not sent upstream. Views into the policy's
  // own configuration or static storage.
  std::array<std::string_view, 2> consumed_headers{};

  // A request header's value ("" when absent); `name` is case-insensitive.
  std::string_view header(std::string_view name) const { return header_fn ? header_fn(headers, name) : std::string_view{}; }
  std::string_view (*header_fn)(const void* headers, std::string_view name) = nullptr;
  const void* headers = nullptr;
};

// on_request's answer: go on, or answer the client instead (status, message in the route's
// error shape, extra response headers as "Name: value\r\n" lines).
struct verdict {
  unsigned status = 0;  // 0: continue
  std::string message;
  std::string headers;
  static verdict next() { return {}; }
  static verdict reject(unsigned status, std::string message, std::string headers = {}) {
    return verdict{status, std::move(message), std::move(headers)};
  }
  bool rejected() const noexcept { return status != 0; }
};

// The response head, as on_response_head sees it.
struct response_head_view {
  unsigned status = 0;
  std::string_view content_type;
};

// How the body given to on_response_chunk is framed.
enum class chunk_kind : std::uint8_t {
  ndjson_line,  // one NDJSON line, with its '\n' (the last one of a body may lack it)
  sse_event,    // one SSE event, with its blank-line terminator
  whole_body,   // a complete non-streaming body (JSON)
};

// on_response_chunk's answer.
struct chunk_result {
  enum class action : std::uint8_t { forward, replace, block };
  action act = action::forward;
  std::string_view data;   // replace: what goes out instead (owned by the policy's request state)
  std::string message;     // block: why (the stream ends with one error record saying so)
  static chunk_result forward() { return {}; }
  static chunk_result replace(std::string_view d) { return {action::replace, d, {}}; }
  static chunk_result block(std::string why) { return {action::block, {}, std::move(why)}; }
};

enum hook : unsigned {
  hook_request = 1u << 0,
  hook_response_head = 1u << 1,
  hook_response_chunk = 1u << 2,
  hook_complete = 1u << 3,
};

class policy {
 public:
  virtual ~policy() = default;

  // Which hooks this policy implements (a mask of `hook`).
  virtual unsigned hooks() const noexcept = 0;
  // The decisions this policy can record, for /metrics (e.g. {"allow", "reject"}).
  virtual std::span<const std::string_view> decisions() const noexcept = 0;

  // May change the request or answer instead. The only coroutine hook.
  virtual boost::asio::awaitable<verdict> on_request(policy_request& req) const;
  // The backend's response head; a chunk filter decides here whether it applies (by status
  // and content type) and creates its request state.
  virtual void on_response_head(request_context& ctx, const response_head_view& head) const;
  // One complete record at a time, in order. A filter that looks across records holds back a
  // bounded tail in its request state and releases it with a later record.
  virtual chunk_result on_response_chunk(request_context& ctx, chunk_kind kind, std::string_view chunk) const;
  // After the last byte or on abort; must not block.
  virtual void on_complete(const request_context& ctx) const;

  // Set by the chain when it is built.
  const std::string& name() const noexcept { return name_; }
  std::size_t slot() const noexcept { return slot_; }
  // Registers this policy's decisions with `counters` (may be null: counted nowhere).
  void bind(std::string name, std::size_t slot, policy_counters* counters);

 protected:
  // Records decision `decisions()[i]`: counted in /metrics and written to the access log.
  // `detail` (e.g. a rule name) goes to the log only.
  void decide(request_context& ctx, std::size_t i, std::string_view detail = {}) const;

  // This policy's state in `ctx`, or null.
  template <class T>
  T* state(request_context& ctx) const {
    return slot_ < ctx.policy_states.size() ? static_cast<T*>(ctx.policy_states[slot_].get()) : nullptr;
  }
  template <class T>
  T& make_state(request_context& ctx) const {
    if (ctx.policy_states.size() <= slot_) ctx.policy_states.resize(slot_ + 1);
    auto p = std::make_unique<T>();
    auto& ref = *p;
    ctx.policy_states[slot_] = std::move(p);
    return ref;
  }

 private:
  std::string name_;
  std::size_t slot_ = 0;
  policy_counters* counters_ = nullptr;
  std::vector<std::size_t> counter_slots_;
};

}  // namespace corral
