// gMock matchers for absl::Status and absl::StatusOr<T> (Abseil 20220623
// ships none):
//
//   EXPECT_THAT(status, IsOk());
//   EXPECT_THAT(store.Get(...), StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition,
//                                HasSubstr("coping")));
#ifndef ECSIMAGE_TESTS_TESTING_STATUS_MATCHERS_H_
#define ECSIMAGE_TESTS_TESTING_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ecsimage::testing {
namespace internal_status {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

template <typename StatusType>
class StatusIsMatcherImpl : public ::testing::MatcherInterface<StatusType> {
 public:
  StatusIsMatcherImpl(::testing::Matcher<absl::StatusCode> code,
                      ::testing::Matcher<const std::string&> message)
      : code_(std::move(code)), message_(std::move(message)) {}

  bool MatchAndExplain(
      StatusType actual,
      ::testing::MatchResultListener* listener) const override {
    const absl::Status& status = GetStatus(actual);
    *listener << "whose status is " << status;
    const std::string message(status.message());
    return code_.Matches(status.code()) && message_.Matches(message);
  }

  void DescribeTo(std::ostream* os) const override {
    *os << "has a status code that ";
    code_.DescribeTo(os);
    *os << " and a message that ";
    message_.DescribeTo(os);
  }

  void DescribeNegationTo(std::ostream* os) const override {
    *os << "has a status code that ";
    code_.DescribeNegationTo(os);
    *os << " or a message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  ::testing::Matcher<absl::StatusCode> code_;
  ::testing::Matcher<const std::string&> message_;
};

class StatusIsMatcher {
 public:
  StatusIsMatcher(::testing::Matcher<absl::StatusCode> code,
                  ::testing::Matcher<const std::string&> message)
      : code_(std::move(code)), message_(std::move(message)) {}

  template <typename StatusType>
  operator ::testing::Matcher<StatusType>() const {  // NOLINT
    return ::testing::Matcher<StatusType>(
        new StatusIsMatcherImpl<const StatusType&>(code_, message_));
  }

 private:
  ::testing::Matcher<absl::StatusCode> code_;
  ::testing::Matcher<const std::string&> message_;
};

}  // namespace internal_status

// Matches an absl::Status or absl::StatusOr<T> whose code matches `code`
// and, if given, whose message matches `message`.
template <typename CodeMatcher, typename MessageMatcher>
internal_status::StatusIsMatcher StatusIs(CodeMatcher code,
                                          MessageMatcher message) {
  return internal_status::StatusIsMatcher(
      ::testing::MatcherCast<absl::StatusCode>(code),
      ::testing::MatcherCast<const std::string&>(message));
}
template <typename CodeMatcher>
internal_status::StatusIsMatcher StatusIs(CodeMatcher code) {
  return StatusIs(code, ::testing::_);
}

// Matches an OK absl::Status or absl::StatusOr<T>.
inline internal_status::StatusIsMatcher IsOk() {
  return StatusIs(absl::StatusCode::kOk);
}

}  // namespace ecsimage::testing

#endif  // ECSIMAGE_TESTS_TESTING_STATUS_MATCHERS_H_
