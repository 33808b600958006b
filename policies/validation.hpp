#pragma once
// The input validation policy: rejects, before any backend sees it, a request body whose
// documented fields have the wrong JSON type (per the Ollama and OpenAI APIs), whose sampling
// options leave the configured ranges, whose prompt, message count, nesting or size is over
// the limits, whose images are not base64 or whose model names are malformed
// (api_fields.cpp has the field tables, request_schema.hpp the walk). Undocumented fields pass:
// clients send extras.
//
// Options (the policy entry's keys; built-in defaults in brackets):
//
//   - type: validation
//     max_json_depth: 64            # nesting of arrays and objects, the body counting 1 (1..1024)
//     max_body_bytes: 33554432      # request body (32 MiB: base64 images inflate chat bodies)
//     max_prompt_bytes: 1048576     # prompt + system + suffix + every message's text + embed inputs
//     max_prompt_tokens: 262144     # the same, estimated as ceil(bytes / 4)
//     max_messages: 1024
//     options:                      # ranges, inclusive; either bound optional, null lifts it
//       num_ctx: {min: 1, max: 1048576}
//       num_predict: {min: -2}      # -1: until done, -2: fill the context
//       temperature: {min: 0, max: 2}
//       top_p: {min: 0, max: 1}
//       top_k: {min: -1}
//       min_p: {min: 0, max: 1}
//       repeat_penalty: {min: 0}
//       repeat_last_n: {min: -1}
//       presence_penalty: {min: -2, max: 2}
//       frequency_penalty: {min: -2, max: 2}
//       num_batch: {min: 1}
//       num_keep: {min: -1}
//       seed: {}                    # integer, any value
//       stop: {}                    # the number of stop sequences
//     models:                       # per model (normalized name): any key above but `models`,
//       "llama3.2":                 # over the policy's own values
//         max_prompt_tokens: 8192
//         options: {num_ctx: {max: 8192}}
//
// OpenAI routes hold temperature, top_p, presence/frequency_penalty and seed to the ranges of
// the same name, max_tokens and max_completion_tokens to num_predict's, and `n` to >= 1.
// A model's limits apply when the body's `model` (else `name`) normalizes to its key.
//
// Verdicts: 413 when the body is over max_body_bytes, 400 for the rest, with a message naming
// the field in the route's own API (`field "messages[2].role": unknown role "robot" (...)`).
// Decisions: "pass" and "reject" (detail: the field), recorded for every body it checks; routes
// without a JSON body or a schema pass unrecorded.
//
// Thread-safety: immutable once built; on_request never waits and allocates only to reject.
#include "policies/policy.hpp"

#include <boost/json/fwd.hpp>

#include <memory>

namespace corral {

// Builds the policy from its entry's options. Throws config_error naming the option's path
// relative to the entry ("options.temperature.max: must be a number",
// "unknown option \"max_promt_bytes\"").
std::unique_ptr<policy> make_validation(const boost::json::object& options);

}  // namespace corral
