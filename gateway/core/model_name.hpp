#pragma once
// Model names as Ollama resolves them: `[host/][namespace/]model[:tag]`, the tag defaulting to
// `latest`, matched case-insensitively.
#include <string>
#include <string_view>

namespace corral {

// Lower-cases and adds ":latest" when the last path segment has no tag: "Llama2" → "llama2:latest".
std::string normalize_model_name(std::string_view name);

// True when `name` has Ollama's shape: non-empty, at most 255 bytes, segments of
// [A-Za-z0-9._-] separated by '/', an optional ":tag" of [A-Za-z0-9._-], no leading '-' or '.'.
// A registry host may carry a port ("registry:5000/ns/model").
bool is_valid_model_name(std::string_view name);

}  // namespace corral
