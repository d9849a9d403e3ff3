#include "service/domain/copy_phases.h"

#include <array>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

namespace ecsimage::domain {
namespace {

constexpr int kPhaseCount = 8;

constexpr std::array<std::string_view, kPhaseCount> kNames = {
    "QUEUED",    "PREPARING", "TRANSFERRING", "REGISTERING",
    "SUCCEEDED", "FAILED",    "CANCELLING",   "CANCELLED",
};

int Index(CopyPhase phase) { return static_cast<int>(phase); }

// The legal single steps of api.md §3, forward step first so that a
// breadth-first search prefers the forward path.
std::vector<CopyPhase> NextSteps(CopyPhase from) {
  switch (from) {
    case CopyPhase::kQueued:
      return {CopyPhase::kPreparing, CopyPhase::kCancelled};
    case CopyPhase::kPreparing:
      return {CopyPhase::kTransferring, CopyPhase::kFailed};
    case CopyPhase::kTransferring:
      return {CopyPhase::kRegistering, CopyPhase::kFailed,
              CopyPhase::kCancelling};
    case CopyPhase::kRegistering:
      return {CopyPhase::kSucceeded, CopyPhase::kFailed};
    case CopyPhase::kCancelling:
      return {CopyPhase::kCancelled};
    case CopyPhase::kSucceeded:
    case CopyPhase::kFailed:
    case CopyPhase::kCancelled:
      return {};
  }
  return {};
}

}  // namespace

std::string_view PhaseName(CopyPhase phase) { return kNames[Index(phase)]; }

std::optional<CopyPhase> ParsePhase(std::string_view name) {
  for (int i = 0; i < kPhaseCount; ++i) {
    if (kNames[i] == name) return static_cast<CopyPhase>(i);
  }
  return std::nullopt;
}

bool IsTerminal(CopyPhase phase) {
  return phase == CopyPhase::kSucceeded || phase == CopyPhase::kFailed ||
         phase == CopyPhase::kCancelled;
}

bool IsRunning(CopyPhase phase) {
  return phase == CopyPhase::kPreparing || phase == CopyPhase::kTransferring ||
         phase == CopyPhase::kRegistering;
}

std::string_view DestinationStatus(CopyPhase phase) {
  switch (phase) {
    case CopyPhase::kQueued:
      return "Waiting";
    case CopyPhase::kPreparing:
    case CopyPhase::kTransferring:
    case CopyPhase::kRegistering:
      return "Creating";
    case CopyPhase::kSucceeded:
      return "Available";
    case CopyPhase::kFailed:
      return "CreateFailed";
    case CopyPhase::kCancelling:
      return "UnAvailable";
    case CopyPhase::kCancelled:
      return "";
  }
  return "";
}

bool IsLegalMove(CopyPhase from, CopyPhase to) {
  for (CopyPhase next : NextSteps(from)) {
    if (next == to) return true;
  }
  return false;
}

std::vector<CopyPhase> PathTo(CopyPhase from, CopyPhase to) {
  if (from == to) return {};
  // Breadth-first: the graph is tiny and acyclic, and the shortest path is
  // the forward one for every reachable pair.
  std::array<std::optional<CopyPhase>, kPhaseCount> parent;
  std::array<bool, kPhaseCount> seen{};
  std::deque<CopyPhase> queue = {from};
  seen[Index(from)] = true;
  while (!queue.empty()) {
    CopyPhase at = queue.front();
    queue.pop_front();
    if (at == to) break;
    for (CopyPhase next : NextSteps(at)) {
      if (seen[Index(next)]) continue;
      seen[Index(next)] = true;
      parent[Index(next)] = at;
      queue.push_back(next);
    }
  }
  if (!seen[Index(to)]) return {};
  std::vector<CopyPhase> path;
  for (CopyPhase at = to; at != from; at = *parent[Index(at)]) {
    path.insert(path.begin(), at);
  }
  return path;
}

CancelAnswer AnswerCancel(CopyPhase phase, bool support_cancel) {
  CancelAnswer answer;
  switch (phase) {
    case CopyPhase::kQueued:
      if (!support_cancel) answer.error = Err::kCancelNotSupported;
      answer.next = CopyPhase::kCancelled;
      break;
    case CopyPhase::kPreparing:
      answer.error = Err::kIncorrectImageStatusSnapshotNotCoping;
      break;
    case CopyPhase::kTransferring:
      if (!support_cancel) answer.error = Err::kCancelNotSupported;
      answer.next = CopyPhase::kCancelling;
      break;
    case CopyPhase::kRegistering:
      answer.error = Err::kIncorrectImageStatusCopyFinished;
      break;
    case CopyPhase::kSucceeded:
      answer.error = Err::kIncorrectImageStatusCompletedCopy;
      break;
    case CopyPhase::kFailed:
      answer.error = Err::kIncorrectImageStatusCopyFailed;
      break;
    case CopyPhase::kCancelling:
      answer.error = Err::kIncorrectImageStatusImageNotCoping;
      break;
    case CopyPhase::kCancelled:
      answer.error = Err::kInvalidImageIdNotFound;
      break;
  }
  return answer;
}

}  // namespace ecsimage::domain
