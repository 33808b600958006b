#include "gateway/line_framer.hpp"

#include <cstring>

namespace corral {

std::size_t line_framer::complete_prefix(std::string_view pending,
                                         std::size_t scanned) const noexcept {
  if (scanned > pending.size()) scanned = pending.size();
  if (kind_ == framing::ndjson) {
    // The last '\n' among the new bytes; if none, nothing new completed (an earlier boundary
    // would have been consumed by the caller already).
    auto n = pending.size() - scanned;
    if (n == 0) return 0;
    const void* hit = ::memrchr(pending.data() + scanned, '\n', n);
    if (!hit) return 0;
    return static_cast<std::size_t>(static_cast<const char*>(hit) - pending.data()) + 1;
  }
  // SSE: the last blank line. A terminator may straddle the old and new bytes, so look back
  // three bytes into what was scanned.
  std::size_t from = scanned >= 3 ? scanned - 3 : 0;
  for (std::size_t i = pending.size(); i-- > from + 1;) {
    if (pending[i] != '\n') continue;
    if (pending[i - 1] == '\n') return i + 1;
    if (pending[i - 1] == '\r' && i >= 2 && pending[i - 2] == '\n') return i + 1;
  }
  return 0;
}

}  // namespace corral
