#include "service/domain/image_domain.h"

#include "util/status_macros.h"

namespace ecsimage::domain {

ImageDomain::ImageDomain(storage::Store& store, Clock& clock, IdGenerator& ids,
                         DomainOptions options)
    : store_(store), clock_(clock), ids_(ids), options_(options) {}

void ImageDomain::StartWrite(
    const Caller& caller, Done done,
    absl::FunctionRef<absl::StatusOr<WriteFn>()> prepare, Batch batch) {
  absl::StatusOr<WriteFn> write = prepare();
  if (!write.ok()) return done(write.status());
  storage::WriteOptions options;
  options.abandoned = caller.abandoned;
  if (batch == Batch::kWithAccount) options.batch_key = caller.account_id;
  store_.RunInWriteTransactionAsync(*std::move(write), std::move(options),
                                    std::move(done));
}

absl::Status ImageDomain::DescribeRegions(const Caller& caller,
                                          const v1::DescribeRegionsRequest& req,
                                          v1::DescribeRegionsResponse* resp) {
  return store_.RunInLookupTransaction([&](storage::ReadTxn& txn) {
    ASSIGN_OR_RETURN(auto regions, txn.ListRegions());
    for (const auto& r : regions) {
      auto* out = resp->add_regions();
      out->set_region_id(r.region_id);
      out->set_local_name(r.local_name);
      out->set_region_endpoint(r.endpoint);
    }
    return absl::OkStatus();
  });
}

}  // namespace ecsimage::domain
