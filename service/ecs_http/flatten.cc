#include "service/ecs_http/flatten.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "service/domain/errors.h"
#include "util/absl_compat.h"
#include "util/status_macros.h"

namespace ecsimage::ecs_http {
namespace {

using domain::Err;
using domain::Error;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr int kMaxIndex = 100;

absl::Status Bad(const std::string& name) {
  return Error(Err::kInvalidParameter).Param(SafeName(name));
}

const FieldDescriptor* FieldNamed(const Descriptor* d, std::string_view name) {
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->json_name() == name) return d->field(i);
  }
  return nullptr;
}

// Sets (or adds, for a repeated field) one scalar value.
absl::Status SetScalar(Message* m, const FieldDescriptor* f,
                       const std::string& value, const std::string& name) {
  const Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (!IsUtf8(value)) return Bad(name);
      rep ? r->AddString(m, f, value) : r->SetString(m, f, value);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_BOOL: {
      if (value != "true" && value != "false") return Bad(name);
      rep ? r->AddBool(m, f, value == "true")
          : r->SetBool(m, f, value == "true");
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v = 0;
      if (!absl::SimpleAtoi(AV(value), &v)) return Bad(name);
      rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = 0;
      if (!absl::SimpleAtoi(AV(value), &v)) return Bad(name);
      rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
      return absl::OkStatus();
    }
    default:
      return Bad(name);
  }
}

// "3" -> 3 for 1..kMaxIndex without a leading zero.
bool ParseIndex(std::string_view s, int* index) {
  if (s.empty() || s.size() > 3 || s[0] == '0') return false;
  if (!absl::SimpleAtoi(AV(s), index)) return false;
  return *index >= 1 && *index <= kMaxIndex;
}

struct Indexed {
  // index -> (rest of the name, value)
  std::map<int, std::map<std::string, std::pair<std::string, std::string>>>
      items;
};

}  // namespace

std::string SafeName(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 64)) {
    out.push_back(c >= 0x20 && c <= 0x7e ? c : '?');
  }
  return out;
}

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates, past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
        (n == 3 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp > 0x10FFFF) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

absl::Status FillRequest(const ParamMap& params, Message* out) {
  const Descriptor* d = out->GetDescriptor();
  std::map<const FieldDescriptor*, Indexed> repeated;
  for (const auto& [name, value] : params) {
    std::vector<std::string> parts = absl::StrSplit(name, '.');
    const FieldDescriptor* f = FieldNamed(d, parts[0]);
    if (f == nullptr) return Bad(name);
    if (!f->is_repeated()) {
      if (parts.size() != 1) return Bad(name);
      RETURN_IF_ERROR(SetScalar(out, f, value, name));
      continue;
    }
    int index = 0;
    if (parts.size() < 2 || !ParseIndex(parts[1], &index)) return Bad(name);
    const bool is_message = f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if (is_message ? parts.size() != 3 : parts.size() != 2) return Bad(name);
    repeated[f].items[index][is_message ? parts[2] : ""] = {name, value};
  }
  for (auto& [f, indexed] : repeated) {
    int expected = 1;
    for (auto& [index, fields] : indexed.items) {
      if (index != expected++) {
        // A gap: Name.1 and Name.3 without Name.2.
        return Bad(fields.begin()->second.first);
      }
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        const auto& [name, value] = fields.begin()->second;
        RETURN_IF_ERROR(SetScalar(out, f, value, name));
        continue;
      }
      Message* item = out->GetReflection()->AddMessage(out, f);
      for (const auto& [sub, named] : fields) {
        const FieldDescriptor* sf = FieldNamed(item->GetDescriptor(), sub);
        if (sf == nullptr || sf->is_repeated()) return Bad(named.first);
        RETURN_IF_ERROR(SetScalar(item, sf, named.second, named.first));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace ecsimage::ecs_http
