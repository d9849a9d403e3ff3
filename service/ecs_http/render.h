// A proto response message in ECS's shapes, by reflection over json_name:
// fields with ECS names and JSON types (numbers as numbers, booleans as
// booleans), every field present (ECS sends empty strings and zeros), and
// each repeated field wrapped as ECS wraps lists:
//   "Images": {"Image": [...]}, "TaskSet": {"Task": [...]},
//   "InstanceIdSets": {"InstanceIdSet": [...]}.
// XML (Format=XML): <ActionResponse> with the same tree; a list repeats its
// item element inside the wrapper element.
#ifndef ECSIMAGE_SERVICE_ECS_HTTP_RENDER_H_
#define ECSIMAGE_SERVICE_ECS_HTTP_RENDER_H_

#include <string>
#include <string_view>

#include "google/protobuf/message.h"

namespace ecsimage::ecs_http {

// The element name of one item of an ECS list wrapper ("Images" -> "Image").
std::string ItemName(std::string_view wrapper);

std::string RenderJson(const google::protobuf::Message& message);
std::string RenderXml(const google::protobuf::Message& message,
                      std::string_view root);

// JSON string literal / XML text of `s` (quotes, escapes, control chars).
std::string JsonQuote(std::string_view s);
std::string XmlEscape(std::string_view s);

}  // namespace ecsimage::ecs_http

#endif  // ECSIMAGE_SERVICE_ECS_HTTP_RENDER_H_
