// The ECS actions the listener serves: each maps ECS's flattened
// parameters onto the same proto request message and the same ImageDomain
// method the gRPC adapter uses (service/grpc/image_service_impl.cc).
#ifndef ECSIMAGE_SERVICE_ECS_HTTP_ACTIONS_H_
#define ECSIMAGE_SERVICE_ECS_HTTP_ACTIONS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "service/domain/image_domain.h"
#include "service/ecs_http/flatten.h"

namespace ecsimage::ecs_http {

struct ActionCall {
  const ParamMap& params;  // the action's own parameters
  bool dry_run = false;
  std::string request_id;
};

// Parses, checks, calls the domain; on success `*response` holds the
// response message with its RequestId. With dry_run, answers
// DryRunOperation after the parameter checks, with no effect.
using ActionFn = std::function<absl::Status(
    domain::ImageDomain&, const domain::Caller&, const ActionCall&,
    std::unique_ptr<google::protobuf::Message>* response)>;

// Action name -> handler. `simulation`: also AdvanceTask and FailTask
// (serve --simulation-control), as over gRPC.
std::map<std::string, ActionFn> EcsActions(bool simulation);

// Whether the action's request message has a RegionId parameter.
bool HasRegionId(const std::string& action);

}  // namespace ecsimage::ecs_http

#endif  // ECSIMAGE_SERVICE_ECS_HTTP_ACTIONS_H_
