#include "service/ecs_http/actions.h"

#include <utility>

#include "service/domain/errors.h"
#include "util/status_macros.h"

namespace ecsimage::ecs_http {
namespace {

using D = domain::ImageDomain;

template <typename Req, typename Resp>
ActionFn Bind(absl::Status (D::*fn)(const domain::Caller&, const Req&, Resp*)) {
  return [fn](D& d, const domain::Caller& caller, const ActionCall& call,
              std::unique_ptr<google::protobuf::Message>* response) {
    Req req;
    RETURN_IF_ERROR(FillRequest(call.params, &req));
    if (call.dry_run)
      return absl::Status(domain::Error(domain::Err::kDryRunOperation));
    auto resp = std::make_unique<Resp>();
    RETURN_IF_ERROR((d.*fn)(caller, req, resp.get()));
    resp->set_request_id(call.request_id);
    *response = std::move(resp);
    return absl::OkStatus();
  };
}

}  // namespace

std::map<std::string, ActionFn> EcsActions(bool simulation) {
  std::map<std::string, ActionFn> a{
      {"CancelCopyImage", Bind(&D::CancelCopyImage)},
      {"DeleteImage", Bind(&D::DeleteImage)},
      {"CreateImage", Bind(&D::CreateImage)},
      {"CopyImage", Bind(&D::CopyImage)},
      {"DescribeImages", Bind(&D::DescribeImages)},
      {"ModifyImageAttribute", Bind(&D::ModifyImageAttribute)},
      {"ModifyImageSharePermission", Bind(&D::ModifyImageSharePermission)},
      {"DescribeImageSharePermission", Bind(&D::DescribeImageSharePermission)},
      {"ImportImage", Bind(&D::ImportImage)},
      {"ExportImage", Bind(&D::ExportImage)},
      {"DescribeTasks", Bind(&D::DescribeTasks)},
      {"CancelTask", Bind(&D::CancelTask)},
      {"DescribeRegions", Bind(&D::DescribeRegions)},
      {"RunInstances", Bind(&D::RunInstances)},
      {"DeleteInstance", Bind(&D::DeleteInstance)},
      {"DescribeInstances", Bind(&D::DescribeInstances)},
  };
  if (simulation) {
    a.emplace("AdvanceTask", Bind(&D::AdvanceTask));
    a.emplace("FailTask", Bind(&D::FailTask));
  }
  return a;
}

bool HasRegionId(const std::string& action) {
  return action != "DescribeRegions" && action != "DeleteInstance";
}

}  // namespace ecsimage::ecs_http
