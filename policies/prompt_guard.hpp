#pragma once
// The prompt guard: deny or flag patterns on what the client asks (prompt, suffix, system,
// every message's text), matched in linear time by RE2, before anything reaches a backend.
//
//   - type: prompt_guard
//     block_status: 403        # 400 or 403 (default 403)
//     builtin:                 # rule sets, each block | flag | off (default off)
//       injection: block       # "ignore all previous instructions", "reveal your system prompt", ...
//       jailbreak: flag        # "DAN", "developer mode", "no restrictions" role-play
//       secrets: block         # private keys and cloud access keys pasted into a prompt
//     rules:
//       - name: no-exfil
//         pattern: 'send .* to https?://'
//         action: block        # block | flag
//         case_insensitive: true
//
// block: the request is answered (block_status, naming the rule) and never sent on; flag: it
// passes, and the decision (with the rule's name) is counted and logged.
#include "policies/policy.hpp"

#include <boost/json/fwd.hpp>

#include <memory>

namespace corral {

std::unique_ptr<policy> make_prompt_guard(const boost::json::object& options);

}  // namespace corral
