// One JSON line per measurement and a readable table.
#ifndef ECSIMAGE_BENCH_REPORT_H_
#define ECSIMAGE_BENCH_REPORT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ecsimage::bench {

// {"a":1,"b":"x"} built field by field; strings are escaped.
class Json {
 public:
  Json& Str(std::string_view key, std::string_view value);
  Json& Int(std::string_view key, int64_t value);
  Json& Num(std::string_view key, double value);
  Json& Bool(std::string_view key, bool value);
  // `raw` is already JSON (an object or array).
  Json& Raw(std::string_view key, std::string_view raw);
  std::string Build() const { return "{" + body_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string body_;
};

std::string JsonEscape(std::string_view s);

// A text table: the first row is the header; columns are right-aligned
// except the first.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// "12.3" with `digits` decimals.
std::string Fixed(double v, int digits);

}  // namespace ecsimage::bench

#endif  // ECSIMAGE_BENCH_REPORT_H_
