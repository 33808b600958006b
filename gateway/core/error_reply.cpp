#include "gateway/core/error_reply.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace corral {
namespace json = boost::json;

namespace {
std::string_view openai_type(unsigned status) {
  if (status == 400 || status == 413 || status == 431 || status == 408) return "invalid_request_error";
  if (status == 404) return "not_found_error";
  return "api_error";
}
json::object openai_error(unsigned status, std::string_view message) {
  json::object inner;
  inner["message"] = message;
  inner["type"] = openai_type(status);
  inner["param"] = nullptr;
  inner["code"] = nullptr;
  json::object outer;
  outer["error"] = std::move(inner);
  return outer;
}
}  // namespace

std::string error_body(api_flavor flavor, unsigned status, std::string_view message) {
  if (flavor == api_flavor::openai) return json::serialize(openai_error(status, message));
  json::object o;
  o["error"] = message;
  return json::serialize(o);
}

std::string stream_error_record(api_flavor flavor, bool sse, std::string_view message) {
  if (sse) return "data: " + json::serialize(openai_error(502, message)) + "\n\n";
  return error_body(flavor, 502, message) + "\n";
}

std::string_view status_reason(unsigned status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 207: return "Multi-Status";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

}  // namespace corral
