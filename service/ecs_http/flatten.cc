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
  return Error(Err::kInvalidParameter).Param(name);
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
