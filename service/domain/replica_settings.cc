#include "service/domain/replica_settings.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace ecsimage::domain {

absl::Status ClaimReplicaSetting(storage::Store& store, const std::string& name,
                                 const std::string& flag,
                                 const std::string& value, int64_t now_ms,
                                 int64_t stale_ms) {
  return store.RunInWriteTransaction(
      [&](storage::WriteTxn& txn) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<storage::WriteTxn::ReplicaSetting> held,
                         txn.GetReplicaSetting(name));
        if (held.has_value() && held->value != value &&
            held->confirmed_at_ms > now_ms - stale_ms) {
          const int64_t ago_s =
              std::max<int64_t>(0, (now_ms - held->confirmed_at_ms) / 1000);
          return absl::FailedPreconditionError(absl::StrCat(
              "the replicas of this database run with ", flag, "=", held->value,
              " (confirmed ", ago_s, " s ago); every replica ",
              "must use the same value: start this one with ", flag, "=",
              held->value, ", or stop every replica and wait ", stale_ms / 1000,
              " s before changing it"));
        }
        return txn.PutReplicaSetting(name, value, now_ms);
      });
}

}  // namespace ecsimage::domain
