#pragma once
// The output filter: redacts or blocks what the model says (e-mail addresses, payment cards,
// secrets, IPv4 addresses, user patterns in RE2 syntax) in responses, streamed or whole.
//
//   - type: output_filter
//     hold_back: 64            # bytes held back per text field while streaming (1..4096)
//     mask: "[redacted]"       # what replaces a redacted match (default "[redacted]")
//     builtin:                 # rule sets, each redact | block | off (default off)
//       email: redact
//       card: redact           # 13-19 digits, spaces or dashes between, Luhn-checked
//       secrets: block         # AWS/GitHub/Slack/Google keys, private-key headers, bearer tokens
//       ipv4: redact           # dotted quads, octets 0-255
//     rules:
//       - name: codename       # required, [A-Za-z0-9_.-]+, unique
//         pattern: 'project\s+falcon'
//         action: redact       # redact (default) | block
//         mask: "[codename]"   # default: the policy's mask
//         case_insensitive: true
//
// Applies to 200 responses of type application/x-ndjson, text/event-stream and application/json.
// Text fields: NDJSON `response`, `thinking`, `message.content`, `message.thinking`; SSE
// `choices[i].delta.content`, `choices[i].delta.reasoning`, `choices[i].text`; whole bodies
// those of NDJSON plus `choices[i].message.content`, `choices[i].message.reasoning`,
// `choices[i].text`.
//
// Streaming: each field (per choice index) is its own text stream; the last `hold_back` bytes
// of it are withheld until the next record shows they are no match, so every match of at most
// `hold_back` bytes is caught however the text is split. The withheld text goes out with the
// stream's last record (NDJSON `"done":true`, SSE a non-null `finish_reason`), or before
// `data: [DONE]` in one extra event shaped like the stream's chunks. Records are rewritten by
// re-serializing their JSON (same members and order, numbers in Boost.JSON's notation); records
// nothing changes in go out as the original bytes. Text withheld when a stream ends without its
// last record (an error, a cut) is dropped.
//
// redact: the match becomes the mask, decision "redact" (detail: the rule) once per match.
// block: the record is answered with chunk_result::block naming the rule, decision "block";
// nothing of a match of at most `hold_back` bytes has gone out. Every later record is blocked too.
//
// With no rule on, the filter takes no hooks.
#include "policies/policy.hpp"

#include <boost/json/fwd.hpp>

#include <memory>

namespace corral {

// Throws config_error naming the option's path (e.g. `rules[0].pattern: missing ): (abc`).
std::unique_ptr<policy> make_output_filter(const boost::json::object& options);

}  // namespace corral
