#pragma once
// API keys are configured and compared as SHA-256 digests, never as the keys themselves.
#include <string>
#include <string_view>

namespace corral {

// "sha256:<64 lower-case hex digits>" of `key`.
std::string hash_api_key(std::string_view key);

// Normalizes a configured hash ("sha256:<hex>" or bare hex, any case) to hash_api_key's form;
// "" when it is not one.
std::string normalize_key_hash(std::string_view configured);

// A new random API key ("crl-" + 40 base62 characters) from the system's CSPRNG.
std::string generate_api_key();

}  // namespace corral
