#pragma once
// The string formats Ollama parses inside JSON request fields, recognised the way its decoder
// does, so that what the gateway passes the backend accepts and what it rejects the backend
// would have rejected too. Pure functions, no allocation.
#include <string_view>

namespace corral {

// Standard base64 with padding, as Go's `base64.StdEncoding` decodes it (Ollama's `images`):
// the alphabet A-Z a-z 0-9 + /, a length that is a multiple of 4, at most two '=' at the end;
// '\r' and '\n' anywhere are skipped. The empty string is valid.
bool is_base64(std::string_view text) noexcept;

// A Go duration as `time.ParseDuration` reads it (Ollama's `keep_alive` string): "0", or an
// optional sign and one or more decimal numbers each with a unit (ns, us, µs, ms, s, m, h),
// e.g. "5m", "1h30m", "-1s", "1.5h".
bool is_go_duration(std::string_view text) noexcept;

// How an OpenAI `image_url.url` reads.
enum class image_url_form {
  data_base64,   // data:image/<type>;base64,<valid base64> or data:;base64,<valid base64>
  web,           // http:// or https:// (fetched by the client's side, not checked here)
  bad_base64,    // an image data URL whose payload is not valid base64
  unsupported,   // anything else (another scheme, a data URL without ;base64 or not an image)
};
image_url_form classify_image_url(std::string_view url) noexcept;

}  // namespace corral
