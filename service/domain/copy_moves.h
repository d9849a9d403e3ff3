// Moving copies and import/export tasks between their states, with the
// images that mirror them, and how long the rest of the work takes. Shared by
// CancelCopyImage, CancelTask, SimulationControl and the TaskEngine so that a
// move means the same thing whoever makes it.
#ifndef ECSIMAGE_SERVICE_DOMAIN_COPY_MOVES_H_
#define ECSIMAGE_SERVICE_DOMAIN_COPY_MOVES_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "service/domain/copy_phases.h"
#include "service/domain/image_domain.h"
#include "storage/image_store.h"

namespace ecsimage::domain {

// Simulated time a copy spends in the phases that move no data. The engine
// takes them from the stored phase_changed_at_ms, so a restart keeps them.
inline constexpr int64_t kCopyPrepareMs = 2000;     // PREPARING
inline constexpr int64_t kCopyRegisterMs = 2000;    // REGISTERING
inline constexpr int64_t kCopyCancellingMs = 1000;  // CANCELLING

// Import/export task statuses.
inline constexpr std::string_view kTaskWaiting = "Waiting";
inline constexpr std::string_view kTaskProcessing = "Processing";
inline constexpr std::string_view kTaskFinished = "Finished";
inline constexpr std::string_view kTaskFailed = "Failed";
inline constexpr std::string_view kTaskCancelled = "Cancelled";
inline constexpr std::string_view kActionImport = "ImportImage";
inline constexpr std::string_view kActionExport = "ExportImage";

// Moves `copy` one legal step to `to` at `now_ms` and mirrors the
// destination image: status (api.md §3 table) and progress; CANCELLED
// tombstones the image (deleted_at_ms = now_ms). Progress never decreases:
// TRANSFERRING shows at least 1%, REGISTERING and SUCCEEDED 100%. Writes both
// rows and updates `copy` in place. An illegal step is InvalidTransition
// (metadata from/to) and writes nothing.
absl::Status ApplyCopyPhase(storage::WriteTxn& txn, storage::CopyTaskRow& copy,
                            CopyPhase to, int64_t now_ms);

// Sets the progress of a TRANSFERRING copy (1..99, never lower than now) and
// the matching transferred_mib, mirrored on the destination image.
absl::Status SetCopyProgress(storage::WriteTxn& txn, storage::CopyTaskRow& copy,
                             int32_t progress);

// About how long until the copy reaches a terminal phase, from its stored
// state (0 when terminal), for RemainTime and RetryInfo.
int64_t CopyRemainingMs(const storage::CopyTaskRow& copy,
                        const DomainOptions& options);

// Legal import/export moves: Waiting->Processing->Finished,
// Waiting|Processing->Failed, Waiting|Processing->Cancelled.
bool IsLegalTaskMove(std::string_view from, std::string_view to);
bool IsTerminalTaskStatus(std::string_view status);

// Moves an import/export task one legal step to `to` at `now_ms`. For an
// import the image follows: Processing -> Creating with the task's progress,
// Finished -> Available 100%, Failed -> CreateFailed, Cancelled -> tombstone.
// An export leaves its image as it was. Finished sets 100%, terminal statuses
// set finished_at_ms. An illegal step is InvalidTransition.
absl::Status ApplyTaskStatus(storage::WriteTxn& txn, storage::IoTaskRow& task,
                             std::string_view to, int64_t now_ms);

// Sets the progress of a Processing task (never lower than now) and the
// matching transferred_mib; an import's image shows the same progress.
absl::Status SetTaskProgress(storage::WriteTxn& txn, storage::IoTaskRow& task,
                             int32_t progress);

// About how long until the task ends, from its stored state (0 when
// terminal), for RetryInfo of ImageIsImporting / ImageIsExporting.
int64_t IoTaskRemainingMs(const storage::IoTaskRow& task,
                          const DomainOptions& options);

// InvalidTransition for `resource` ("image" or "task") `id`: metadata
// imageId/taskId, from, to; PreconditionFailure on "<resource>/<id>".
absl::Status InvalidTransitionError(std::string_view resource,
                                    std::string_view id, std::string_view from,
                                    std::string_view to);

// InvalidTaskId.NotFound for (region, task) with ResourceInfo; the same for
// a task that never existed, is malformed, another account's or elsewhere.
absl::Status TaskNotFound(std::string_view region_id, std::string_view task_id);

// The caller's import/export task `task_id` in `region_id` (any status), or
// TaskNotFound. An empty `region_id` matches every region.
absl::StatusOr<storage::IoTaskRow> OwnTask(storage::ReadTxn& txn,
                                           const Caller& caller,
                                           std::string_view region_id,
                                           std::string_view task_id);

}  // namespace ecsimage::domain

#endif  // ECSIMAGE_SERVICE_DOMAIN_COPY_MOVES_H_
