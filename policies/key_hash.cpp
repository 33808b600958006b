#include "policies/key_hash.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cctype>
#include <stdexcept>

namespace corral {

std::string hash_api_key(std::string_view key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "sha256:";
  out.reserve(7 + 2 * SHA256_DIGEST_LENGTH);
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string normalize_key_hash(std::string_view configured) {
  if (configured.starts_with("sha256:")) configured.remove_prefix(7);
  if (configured.size() != 2 * SHA256_DIGEST_LENGTH) return {};
  std::string out = "sha256:";
  for (char c : configured) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string generate_api_key() {
  static constexpr char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out = "crl-";
  while (out.size() < 44) {
    unsigned char bytes[64];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no random bytes available");
    for (unsigned char b : bytes) {
      if (b >= 248) continue;  // 248 = 4 * 62: keeps the characters uniform
      out += alphabet[b % 62];
      if (out.size() == 44) break;
    }
  }
  return out;
}

}  // namespace corral
