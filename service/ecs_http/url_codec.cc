#include "service/ecs_http/url_codec.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "util/absl_compat.h"

namespace ecsimage::ecs_http {
namespace {

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool Decode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

}  // namespace

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (Unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

absl::StatusOr<ParamList> DecodeParams(std::string_view text) {
  ParamList out;
  if (text.empty()) return out;
  for (absl::string_view part : absl::StrSplit(AV(text), '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view whole(part.data(), part.size());
    std::string_view raw_key = whole.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? "" : whole.substr(eq + 1);
    std::string key, value;
    if (!Decode(raw_key, &key)) {
      return absl::InvalidArgumentError(std::string(raw_key.substr(0, 64)));
    }
    if (!Decode(raw_value, &value)) {
      return absl::InvalidArgumentError(key.substr(0, 64));
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

}  // namespace ecsimage::ecs_http
