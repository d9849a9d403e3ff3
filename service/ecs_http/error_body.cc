#include "service/ecs_http/error_body.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "service/domain/errors.h"
#include "service/ecs_http/render.h"

namespace ecsimage::ecs_http {

HttpAnswer ErrorAnswer(const absl::Status& status, std::string_view request_id,
                       std::string_view host, bool xml) {
  std::string code;
  std::string message;
  int http = 500;
  std::optional<ecsimage::internal::ErrorPayload> payload =
      domain::PayloadOf(status);
  if (payload.has_value() && !payload->ecs_code().empty()) {
    code = payload->ecs_code();
    message = std::string(status.message());
    http = payload->http_status();
  } else {
    const domain::ErrorSpec& spec =
        domain::SpecOf(domain::FallbackFor(status.code()));
    code = std::string(spec.ecs_code);
    message = std::string(spec.message);
    http = spec.http_status;
  }
  HttpAnswer answer;
  answer.status = http;
  answer.ecs_code = code;
  if (xml) {
    answer.content_type = kXmlType;
    answer.body = absl::StrCat(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><RequestId>",
        XmlEscape(request_id), "</RequestId><HostId>", XmlEscape(host),
        "</HostId><Code>", XmlEscape(code), "</Code><Message>",
        XmlEscape(message), "</Message><Recommend></Recommend></Error>");
  } else {
    answer.content_type = kJsonType;
    answer.body = absl::StrCat(
        "{\"RequestId\":", JsonQuote(request_id),
        ",\"HostId\":", JsonQuote(host), ",\"Code\":", JsonQuote(code),
        ",\"Message\":", JsonQuote(message), ",\"Recommend\":\"\"}");
  }
  return answer;
}

}  // namespace ecsimage::ecs_http
