// The copy phase table of api.md §3, checked exhaustively.
#include "service/domain/copy_phases.h"

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ecsimage::domain {
namespace {

using P = CopyPhase;

constexpr std::array<CopyPhase, 8> kAll = {
    P::kQueued,    P::kPreparing, P::kTransferring, P::kRegistering,
    P::kSucceeded, P::kFailed,    P::kCancelling,   P::kCancelled,
};

TEST(CopyPhasesTest, NamesRoundTripAndUnknownNamesParseToNothing) {
  const std::vector<std::string> names = {
      "QUEUED",    "PREPARING", "TRANSFERRING", "REGISTERING",
      "SUCCEEDED", "FAILED",    "CANCELLING",   "CANCELLED"};
  for (size_t i = 0; i < kAll.size(); ++i) {
    EXPECT_EQ(PhaseName(kAll[i]), names[i]);
    EXPECT_EQ(ParsePhase(names[i]), kAll[i]);
  }
  EXPECT_EQ(ParsePhase("queued"), std::nullopt);
  EXPECT_EQ(ParsePhase(""), std::nullopt);
  EXPECT_EQ(ParsePhase("Available"), std::nullopt);
}

TEST(CopyPhasesTest, TerminalAndRunningPhases) {
  const std::set<P> terminal = {P::kSucceeded, P::kFailed, P::kCancelled};
  const std::set<P> running = {P::kPreparing, P::kTransferring,
                               P::kRegistering};
  for (P phase : kAll) {
    EXPECT_EQ(IsTerminal(phase), terminal.count(phase) == 1)
        << PhaseName(phase);
    EXPECT_EQ(IsRunning(phase), running.count(phase) == 1) << PhaseName(phase);
  }
}

TEST(CopyPhasesTest, DestinationStatusFollowsTheTable) {
  EXPECT_EQ(DestinationStatus(P::kQueued), "Waiting");
  EXPECT_EQ(DestinationStatus(P::kPreparing), "Creating");
  EXPECT_EQ(DestinationStatus(P::kTransferring), "Creating");
  EXPECT_EQ(DestinationStatus(P::kRegistering), "Creating");
  EXPECT_EQ(DestinationStatus(P::kSucceeded), "Available");
  EXPECT_EQ(DestinationStatus(P::kFailed), "CreateFailed");
  EXPECT_EQ(DestinationStatus(P::kCancelling), "UnAvailable");
  EXPECT_EQ(DestinationStatus(P::kCancelled), "");
}

TEST(CopyPhasesTest, EveryPairIsLegalExactlyWhenTheTableSaysSo) {
  const std::set<std::pair<P, P>> legal = {
      {P::kQueued, P::kPreparing},         {P::kPreparing, P::kTransferring},
      {P::kTransferring, P::kRegistering}, {P::kRegistering, P::kSucceeded},
      {P::kPreparing, P::kFailed},         {P::kTransferring, P::kFailed},
      {P::kRegistering, P::kFailed},       {P::kQueued, P::kCancelled},
      {P::kTransferring, P::kCancelling},  {P::kCancelling, P::kCancelled},
  };
  int legal_seen = 0;
  for (P from : kAll) {
    for (P to : kAll) {
      const bool expected = legal.count({from, to}) == 1;
      EXPECT_EQ(IsLegalMove(from, to), expected)
          << PhaseName(from) << " -> " << PhaseName(to);
      legal_seen += expected ? 1 : 0;
    }
  }
  EXPECT_EQ(legal_seen, 10);
}

TEST(CopyPhasesTest, NothingLeavesATerminalPhase) {
  for (P from : {P::kSucceeded, P::kFailed, P::kCancelled}) {
    for (P to : kAll) {
      EXPECT_FALSE(IsLegalMove(from, to)) << PhaseName(from);
      EXPECT_TRUE(PathTo(from, to).empty()) << PhaseName(from);
    }
  }
}

TEST(CopyPhasesTest, PathToTakesTheForwardPath) {
  using Path = std::vector<P>;
  EXPECT_EQ(PathTo(P::kQueued, P::kTransferring),
            (Path{P::kPreparing, P::kTransferring}));
  EXPECT_EQ(
      PathTo(P::kQueued, P::kSucceeded),
      (Path{P::kPreparing, P::kTransferring, P::kRegistering, P::kSucceeded}));
  EXPECT_EQ(PathTo(P::kQueued, P::kCancelled), (Path{P::kCancelled}));
  EXPECT_EQ(PathTo(P::kQueued, P::kFailed), (Path{P::kPreparing, P::kFailed}));
  EXPECT_EQ(PathTo(P::kQueued, P::kCancelling),
            (Path{P::kPreparing, P::kTransferring, P::kCancelling}));
  EXPECT_EQ(PathTo(P::kPreparing, P::kCancelled),
            (Path{P::kTransferring, P::kCancelling, P::kCancelled}));
  EXPECT_EQ(PathTo(P::kTransferring, P::kSucceeded),
            (Path{P::kRegistering, P::kSucceeded}));
  EXPECT_EQ(PathTo(P::kCancelling, P::kCancelled), (Path{P::kCancelled}));
}

TEST(CopyPhasesTest, PathToIsEmptyWhereNoLegalPathExists) {
  EXPECT_TRUE(PathTo(P::kQueued, P::kQueued).empty());
  EXPECT_TRUE(PathTo(P::kTransferring, P::kQueued).empty());
  EXPECT_TRUE(PathTo(P::kTransferring, P::kPreparing).empty());
  EXPECT_TRUE(PathTo(P::kRegistering, P::kCancelling).empty());
  EXPECT_TRUE(PathTo(P::kRegistering, P::kCancelled).empty());
  EXPECT_TRUE(PathTo(P::kCancelling, P::kSucceeded).empty());
  EXPECT_TRUE(PathTo(P::kCancelling, P::kFailed).empty());
}

TEST(CopyPhasesTest, EveryPathIsAChainOfLegalMoves) {
  for (P from : kAll) {
    for (P to : kAll) {
      std::vector<P> path = PathTo(from, to);
      if (path.empty()) continue;
      EXPECT_EQ(path.back(), to);
      P at = from;
      for (P step : path) {
        EXPECT_TRUE(IsLegalMove(at, step))
            << PhaseName(at) << " -> " << PhaseName(step);
        at = step;
      }
    }
  }
}

struct CancelCase {
  P phase;
  bool support_cancel;
  std::optional<Err> error;
  std::optional<P> next;  // when allowed
};

TEST(CopyPhasesTest, AnswerCancelForEveryPhaseAndCancellability) {
  const std::vector<CancelCase> cases = {
      {P::kQueued, true, std::nullopt, P::kCancelled},
      {P::kQueued, false, Err::kCancelNotSupported, std::nullopt},
      {P::kPreparing, true, Err::kIncorrectImageStatusSnapshotNotCoping,
       std::nullopt},
      {P::kPreparing, false, Err::kIncorrectImageStatusSnapshotNotCoping,
       std::nullopt},
      {P::kTransferring, true, std::nullopt, P::kCancelling},
      {P::kTransferring, false, Err::kCancelNotSupported, std::nullopt},
      {P::kRegistering, true, Err::kIncorrectImageStatusCopyFinished,
       std::nullopt},
      {P::kRegistering, false, Err::kIncorrectImageStatusCopyFinished,
       std::nullopt},
      {P::kSucceeded, true, Err::kIncorrectImageStatusCompletedCopy,
       std::nullopt},
      {P::kSucceeded, false, Err::kIncorrectImageStatusCompletedCopy,
       std::nullopt},
      {P::kFailed, true, Err::kIncorrectImageStatusCopyFailed, std::nullopt},
      {P::kFailed, false, Err::kIncorrectImageStatusCopyFailed, std::nullopt},
      {P::kCancelling, true, Err::kIncorrectImageStatusImageNotCoping,
       std::nullopt},
      {P::kCancelling, false, Err::kIncorrectImageStatusImageNotCoping,
       std::nullopt},
      {P::kCancelled, true, Err::kInvalidImageIdNotFound, std::nullopt},
      {P::kCancelled, false, Err::kInvalidImageIdNotFound, std::nullopt},
  };
  ASSERT_EQ(cases.size(), kAll.size() * 2);
  for (const CancelCase& c : cases) {
    SCOPED_TRACE(std::string(PhaseName(c.phase)) +
                 (c.support_cancel ? " cancellable" : " not cancellable"));
    CancelAnswer answer = AnswerCancel(c.phase, c.support_cancel);
    EXPECT_EQ(answer.error, c.error);
    if (c.next.has_value()) {
      EXPECT_EQ(answer.next, *c.next);
      EXPECT_TRUE(IsLegalMove(c.phase, answer.next));
    }
  }
}

TEST(CopyPhasesTest, CancelMessagesAreTheFrozenEcsOnes) {
  EXPECT_EQ(SpecOf(*AnswerCancel(P::kPreparing, true).error).message,
            "The specified snapshot is not coping.");
  EXPECT_EQ(SpecOf(*AnswerCancel(P::kRegistering, true).error).message,
            "The image is copied finished.");
  EXPECT_EQ(SpecOf(*AnswerCancel(P::kSucceeded, true).error).message,
            "The image has completed copy.");
  EXPECT_EQ(SpecOf(*AnswerCancel(P::kFailed, true).error).message,
            "The Image copy has been failed.");
  EXPECT_EQ(SpecOf(*AnswerCancel(P::kCancelling, true).error).message,
            "The specified image is not coping.");
  EXPECT_EQ(SpecOf(*AnswerCancel(P::kQueued, false).error).message,
            "The specified image coping can not be cancelled.");
}

}  // namespace
}  // namespace ecsimage::domain
