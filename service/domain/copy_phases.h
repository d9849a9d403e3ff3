// The copy phase table of api.md §3: phases, what the destination image
// shows in each, which moves are legal, and what CancelCopyImage answers.
// The one place these rules live.
#ifndef ECSIMAGE_SERVICE_DOMAIN_COPY_PHASES_H_
#define ECSIMAGE_SERVICE_DOMAIN_COPY_PHASES_H_

#include <optional>
#include <string_view>
#include <vector>

#include "service/domain/errors.h"

namespace ecsimage::domain {

enum class CopyPhase {
  kQueued,
  kPreparing,
  kTransferring,
  kRegistering,
  kSucceeded,
  kFailed,
  kCancelling,
  kCancelled,
};

std::string_view PhaseName(CopyPhase phase);  // "QUEUED", ...
std::optional<CopyPhase> ParsePhase(std::string_view name);

bool IsTerminal(CopyPhase phase);  // SUCCEEDED, FAILED, CANCELLED
// PREPARING, TRANSFERRING, REGISTERING: counts against the running limit.
bool IsRunning(CopyPhase phase);

// Destination image Status in a phase; CANCELLED has none (tombstone).
std::string_view DestinationStatus(CopyPhase phase);

// One legal step from `from` to `to` (api.md §3 "Legal moves").
bool IsLegalMove(CopyPhase from, CopyPhase to);
// The legal steps from `from` to `to`, excluding `from`; empty if none.
// E.g. QUEUED -> TRANSFERRING = {PREPARING, TRANSFERRING}. Prefers the
// forward path (never passes through FAILED or CANCELLING unless asked).
std::vector<CopyPhase> PathTo(CopyPhase from, CopyPhase to);

// What CancelCopyImage does in a phase.
struct CancelAnswer {
  // Set: refuse with this catalog entry.
  std::optional<Err> error;
  // When allowed: the phase the copy moves to (CANCELLED or CANCELLING).
  CopyPhase next = CopyPhase::kCancelled;
};
CancelAnswer AnswerCancel(CopyPhase phase, bool support_cancel);

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_COPY_PHASES_H_
