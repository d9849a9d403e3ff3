// InstanceService: instances exist to hold references to their image.
#include "absl/strings/str_cat.h"
#include "service/domain/errors.h"
#include "service/domain/idempotency.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/domain/lookup.h"
#include "service/domain/validation.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

absl::Status InstanceNotFound(std::string_view instance_id) {
  return Error(Err::kInvalidInstanceIdNotFound)
      .Meta("instanceId", instance_id.substr(0, 128))
      .Resource("instance", instance_id.substr(0, 128));
}

}  // namespace

void ImageDomain::RunInstancesAsync(const Caller& caller,
                                    const v1::RunInstancesRequest& req,
                                    v1::RunInstancesResponse* resp, Done done) {
  StartWrite(
      caller, std::move(done),
      [&]() -> absl::StatusOr<WriteFn> {
        RETURN_IF_ERROR(Require("RegionId", req.region_id()));
        RETURN_IF_ERROR(Require("ImageId", req.image_id()));
        if (req.amount() < 0 || req.amount() > 100) {
          return Error(Err::kInvalidParameter).Param("Amount", "1-100");
        }
        const int amount = req.amount() == 0 ? 1 : req.amount();
        RETURN_IF_ERROR(CheckClientToken(req.client_token()));
        const std::string fingerprint = Fingerprint(req);
        return WriteFn([this, caller, &req, resp, amount,
                        fingerprint](storage::WriteTxn& txn) -> absl::Status {
          // A store may run this callback again after a conflict (PostgreSQL):
          // the ids of an attempt that rolled back must not stay in the answer.
          resp->clear_instance_id_sets();
          RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
          const int64_t now = clock_.NowMs();
          ASSIGN_OR_RETURN(bool replay,
                           RecallInto(txn, caller.account_id, "RunInstances",
                                      req.client_token(), fingerprint, now,
                                      options_.client_token_ttl_ms, resp));
          if (replay) return absl::OkStatus();
          ASSIGN_OR_RETURN(
              auto usable,
              UsableImage(txn, caller, req.region_id(), req.image_id()));
          const auto& image = usable.image;
          bool startable =
              image.status == "Available" || (image.status == "Deprecated");
          if (!startable) {
            return Error(Err::kIncorrectImageStatusNotAvailable)
                .Meta("imageId", image.image_id)
                .Meta("regionId", image.region_id)
                .Meta("status", image.status)
                .Precondition(absl::StrCat("image/", image.image_id),
                              absl::StrCat("image is ", image.status));
          }
          for (int i = 0; i < amount; ++i) {
            storage::InstanceRow instance;
            instance.instance_id = ids_.NewInstanceId();
            instance.account_id = caller.account_id;
            instance.region_id = image.region_id;
            instance.image_rowid = image.rowid;
            instance.created_at_ms = now;
            RETURN_IF_ERROR(txn.InsertInstance(instance));
            resp->add_instance_id_sets(instance.instance_id);
          }
          return RememberClientToken(txn, caller.account_id, "RunInstances",
                                     req.client_token(), fingerprint, *resp,
                                     now);
        });
      },
      Batch::kWithAccount);
}

void ImageDomain::DeleteInstanceAsync(const Caller& caller,
                                      const v1::DeleteInstanceRequest& req,
                                      v1::DeleteInstanceResponse* resp,
                                      Done done) {
  StartWrite(
      caller, std::move(done),
      [&]() -> absl::StatusOr<WriteFn> {
        RETURN_IF_ERROR(Require("InstanceId", req.instance_id()));
        if (!IsInstanceIdShape(req.instance_id())) {
          return InstanceNotFound(req.instance_id());
        }
        return WriteFn(
            [this, caller, &req, resp](storage::WriteTxn& txn) -> absl::Status {
              ASSIGN_OR_RETURN(auto instance,
                               txn.GetLiveInstance(req.instance_id()));
              if (!instance.has_value() ||
                  instance->account_id != caller.account_id) {
                return InstanceNotFound(req.instance_id());
              }
              return txn.ReleaseInstance(instance->rowid, clock_.NowMs());
            });
      },
      Batch::kWithAccount);
}

absl::Status ImageDomain::DescribeInstances(
    const Caller& caller, const v1::DescribeInstancesRequest& req,
    v1::DescribeInstancesResponse* resp) {
  RETURN_IF_ERROR(Require("RegionId", req.region_id()));
  ASSIGN_OR_RETURN(Page page, CheckPage(req.page_number(), req.page_size()));
  resp->set_page_number(page.number);
  resp->set_page_size(page.size);
  return store_.RunInReadTransaction([&](storage::ReadTxn& txn) {
    RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
    std::optional<int64_t> image_rowid;
    if (!req.image_id().empty()) {
      ASSIGN_OR_RETURN(auto image, txn.GetImage(req.region_id(),
                                                req.image_id().substr(0, 128)));
      // An unknown image has no instances.
      if (!image.has_value()) return absl::OkStatus();
      image_rowid = image->rowid;
    }
    ASSIGN_OR_RETURN(auto result,
                     txn.ListInstances(caller.account_id, req.region_id(),
                                       image_rowid, page.offset(), page.size));
    resp->set_total_count(static_cast<int32_t>(result.first));
    for (const auto& row : result.second) {
      auto* out = resp->add_instances();
      out->set_instance_id(row.instance_id);
      out->set_region_id(row.region_id);
      out->set_image_id(row.image_id);
      out->set_creation_time(FormatIso8601(row.created_at_ms));
    }
    return absl::OkStatus();
  });
}

}  // namespace ecsimage::domain
