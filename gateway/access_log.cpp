#include "gateway/access_log.hpp"

#include "gateway/log.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <cstdio>
#include <unistd.h>

namespace corral {
namespace {

void str(std::string& out, std::string_view key, std::string_view v) {
  out += ",\"";
  out += key;
  out += "\":";
  out += boost::json::serialize(boost::json::string_view(v.data(), v.size()));
}

void num(std::string& out, std::string_view key, std::uint64_t v) {
  out += ",\"";
  out += key;
  out += "\":";
  out += std::to_string(v);
}

void seconds(std::string& out, std::string_view key, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  out += ",\"";
  out += key;
  out += "\":";
  out += buf;
}

}  // namespace

std::string access_log_line(const request_context& ctx) {
  using secs = std::chrono::duration<double>;
  std::string out;
  out.reserve(384);
  out += "{\"type\":\"access\"";
  str(out, "id", ctx.id);
  str(out, "client", ctx.client);
  str(out, "method", ctx.method);
  str(out, "route", ctx.route);
  str(out, "target", ctx.target);
  str(out, "model", ctx.model);
  if (!ctx.preset.empty()) str(out, "preset", ctx.preset);
  str(out, "backend", ctx.backend);
  num(out, "status", ctx.status);
  num(out, "bytes_in", ctx.bytes_in);
  num(out, "bytes_out", ctx.bytes_out);
  seconds(out, "duration", secs(ctx.done - ctx.accepted).count());
  if (ctx.first_byte != request_context::clock::time_point{})
    seconds(out, "ttfb", secs(ctx.first_byte - ctx.accepted).count());
  num(out, "prompt_tokens", ctx.prompt_tokens);
  num(out, "completion_tokens", ctx.completion_tokens);
  num(out, "attempts", static_cast<std::uint64_t>(ctx.attempts));
  if (ctx.who) str(out, "key", ctx.who->key_name);
  if (!ctx.decisions.empty()) str(out, "policies", ctx.decisions);
  if (!ctx.error.empty()) str(out, "error", ctx.error);
  out += "}\n";
  return out;
}

void write_access_log(const request_context& ctx, bool enabled) {
  if (!enabled || !log_enabled(log_level::info)) return;
  auto line = access_log_line(ctx);
  auto rc = ::write(STDOUT_FILENO, line.data(), line.size());
  (void)rc;
}

}  // namespace corral
