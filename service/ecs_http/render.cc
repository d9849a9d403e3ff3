#include "service/ecs_http/render.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/grpc/json_log.h"
#include "util/absl_compat.h"

namespace ecsimage::ecs_http {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Fields whose ECS JSON type differs from the proto's: ECS sends a disk's
// Size as a string and ImageOwnerId as a number.
bool EcsString(const FieldDescriptor* f) {
  return f->full_name() == "ecs.image.v1.DiskDeviceMapping.size";
}
bool EcsNumber(const FieldDescriptor* f) {
  return f->full_name() == "ecs.image.v1.Image.image_owner_id";
}

bool AllDigits(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// One value of a scalar field (index -1: not repeated) as JSON.
std::string JsonScalar(const Message& m, const FieldDescriptor* f, int i) {
  const Reflection* r = m.GetReflection();
  const bool rep = i >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v = rep ? r->GetRepeatedString(m, f, i) : r->GetString(m, f);
      if (EcsNumber(f)) {
        if (v.empty()) return "0";  // system images: no owner
        if (AllDigits(v)) return v;
      }
      return JsonQuote(v);
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f)) ? "true"
                                                                    : "false";
    case FieldDescriptor::CPPTYPE_INT32: {
      std::string v =
          absl::StrCat(rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f));
      return EcsString(f) ? JsonQuote(v) : v;
    }
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, i)
                              : r->GetInt64(m, f));
    default:
      return "null";
  }
}

void AppendJson(const Message& m, std::string* out);

void AppendJsonValue(const Message& m, const FieldDescriptor* f, int i,
                     std::string* out) {
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const Reflection* r = m.GetReflection();
    AppendJson(i >= 0 ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f),
               out);
  } else {
    out->append(JsonScalar(m, f, i));
  }
}

void AppendJson(const Message& m, std::string* out) {
  const Reflection* r = m.GetReflection();
  out->push_back('{');
  for (int k = 0; k < m.GetDescriptor()->field_count(); ++k) {
    const FieldDescriptor* f = m.GetDescriptor()->field(k);
    if (k > 0) out->push_back(',');
    absl::StrAppend(out, JsonQuote(f->json_name()), ":");
    if (!f->is_repeated()) {
      AppendJsonValue(m, f, -1, out);
      continue;
    }
    absl::StrAppend(out, "{", JsonQuote(ItemName(f->json_name())), ":[");
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      if (i > 0) out->push_back(',');
      AppendJsonValue(m, f, i, out);
    }
    out->append("]}");
  }
  out->push_back('}');
}

void AppendXml(const Message& m, std::string* out);

void AppendXmlValue(const Message& m, const FieldDescriptor* f, int i,
                    std::string* out) {
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const Reflection* r = m.GetReflection();
    AppendXml(i >= 0 ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f),
              out);
    return;
  }
  std::string v = JsonScalar(m, f, i);
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    v = XmlEscape(i >= 0 ? m.GetReflection()->GetRepeatedString(m, f, i)
                         : m.GetReflection()->GetString(m, f));
  }
  out->append(v);
}

void AppendXml(const Message& m, std::string* out) {
  const Reflection* r = m.GetReflection();
  for (int k = 0; k < m.GetDescriptor()->field_count(); ++k) {
    const FieldDescriptor* f = m.GetDescriptor()->field(k);
    const std::string& name = f->json_name();
    absl::StrAppend(out, "<", name, ">");
    if (!f->is_repeated()) {
      AppendXmlValue(m, f, -1, out);
    } else {
      const std::string item = ItemName(name);
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        absl::StrAppend(out, "<", item, ">");
        AppendXmlValue(m, f, i, out);
        absl::StrAppend(out, "</", item, ">");
      }
    }
    absl::StrAppend(out, "</", name, ">");
  }
}

}  // namespace

std::string ItemName(std::string_view wrapper) {
  if (wrapper == "TaskSet") return "Task";
  if (absl::EndsWith(AV(wrapper), "s")) {
    return std::string(wrapper.substr(0, wrapper.size() - 1));
  }
  return std::string(wrapper);
}

std::string RenderJson(const Message& message) {
  std::string out;
  AppendJson(message, &out);
  return out;
}

std::string RenderXml(const Message& message, std::string_view root) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  absl::StrAppend(&out, "<", AV(root), ">");
  AppendXml(message, &out);
  absl::StrAppend(&out, "</", AV(root), ">");
  return out;
}

std::string JsonQuote(std::string_view s) {
  std::string out;
  grpcapi::AppendJsonString(&out, s);
  return out;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace ecsimage::ecs_http
