#pragma once
// The auth policy: API keys with roles, allowed models and labels; IP allow and deny lists.
//
//   - type: auth
//     header: X-API-Key        # also accepted, besides "Authorization: Bearer <key>"
//     keys:
//       - name: search-team    # shown in logs and metrics; the key itself never is
//         hash: "sha256:<hex>" # `corral hash-key` prints it
//         role: user           # user (default): inference and read-only routes;
//                              # admin: also pull, delete, copy, create, push, blobs, config
//         models: [llama3.2, nomic-embed-text]   # allowed models (default: all)
//         labels: {team: search, tier: gold}     # for rate limits, quotas and audit
//     allow_ips: [10.0.0.0/8, 127.0.0.1]         # when set: only these clients
//     deny_ips: [10.6.6.0/24]                    # refused before anything else
//
// Answers: 403 for a denied address, 401 (with WWW-Authenticate: Bearer) without a valid key,
// 403 for a route the key's role may not use or a model it may not use. A key limited to some
// models sees only those in /api/tags and /v1/models (ctx.who->models).
#include "policies/policy.hpp"

#include <boost/json/fwd.hpp>

#include <memory>

namespace corral {

std::unique_ptr<policy> make_auth(const boost::json::object& options);

}  // namespace corral
