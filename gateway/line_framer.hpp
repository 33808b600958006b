#pragma once
// Record framing for streamed bodies: NDJSON lines and Server-Sent Events. The relay forwards
// only complete records, so that a stream broken by its backend can still end with one clean
// error record, and a policy sees whole lines. Upstream chunk boundaries carry no meaning.
//
// Sans-io: the caller owns the bytes; the framer only says where complete records end.
#include <cstddef>
#include <string_view>

namespace corral {

enum class framing { ndjson, sse };

class line_framer {
 public:
  explicit line_framer(framing kind) noexcept : kind_(kind) {}

  // `pending` is every byte received and not yet forwarded; the first `scanned` of them were
  // already seen by an earlier call (pass the previous pending size minus what was consumed).
  // Returns the length of the longest prefix of `pending` that ends on a record boundary
  // (0 when no record is complete). NDJSON records end with '\n' (so "\r\n" too); SSE events
  // end with a blank line ("\n\n" or "\r\n\r\n").
  std::size_t complete_prefix(std::string_view pending, std::size_t scanned) const noexcept;

  framing kind() const noexcept { return kind_; }

 private:
  framing kind_;
};

// Calls `fn(record)` for each record in `complete` (a prefix returned by complete_prefix),
// each record including its terminator.
template <class Fn>
void for_each_record(framing kind, std::string_view complete, Fn&& fn) {
  line_framer framer(kind);
  while (!complete.empty()) {
    // The first record ends at the first boundary: scan growing prefixes cheaply.
    std::size_t end = 0;
    if (kind == framing::ndjson) {
      end = complete.find('\n') + 1;
    } else {
      for (std::size_t i = 1; i < complete.size(); ++i) {
        if (complete[i] == '\n' && (complete[i - 1] == '\n' ||
                                    (i >= 2 && complete[i - 1] == '\r' && complete[i - 2] == '\n'))) {
          end = i + 1;
          break;
        }
      }
    }
    if (end == 0 || end > complete.size()) return;
    fn(complete.substr(0, end));
    complete.remove_prefix(end);
  }
}

}  // namespace corral
