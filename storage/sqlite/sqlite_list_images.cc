// SqliteTxn::ListImages: DescribeImages' union of own, system and others'
// images (shared to the caller, or public), newest first.
//
// No page and no common count scans all of an account's images:
// - each (set, status) pair is one arm that walks an index in id order
//   (images_live_by_owner for own and system images, shares_by_account for
//   shared ones, images_live_public for public ones), and the arms are
//   merged by SQLite's compound-select merge, which reads only as many rows
//   of each arm as the page needs; the shared arm is a CROSS JOIN so that
//   the caller's shares stay the outer loop (a plain JOIN lets the planner
//   walk every image of the region in that status and probe shares, which
//   made TotalCount grow with the region: 267x slower at 1M images);
// - without id/name/usage/copied filters, the totals come from
//   trigger-maintained counters: own and system images from image_counts,
//   shared and public ones from visible_counts. With those filters the
//   count walks the same arms (bounded by the filter or by the account's
//   images in the asked statuses).
// The sets are disjoint (own: owner = caller; system: no owner; shared:
// another owner, private; public: another owner, public), so UNION ALL
// never returns a row twice.
#include <algorithm>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/sqlite/sqlite_txn.h"
#include "util/status_macros.h"

namespace ecsimage::storage {
namespace {

const std::vector<std::string>& AllStatuses() {
  static const auto* const kAll =
      new std::vector<std::string>{"Waiting",     "Creating",     "Available",
                                   "UnAvailable", "CreateFailed", "Deprecated"};
  return *kAll;
}

enum Alias : int64_t { kSelf = 0, kSystem = 1, kOthers = 2 };

const char* AliasName(int64_t alias) {
  switch (alias) {
    case kSelf:
      return "self";
    case kSystem:
      return "system";
    default:
      return "others";
  }
}

// Numbered parameters (?N), so that every arm can refer to the same value.
class Params {
 public:
  std::string Add(std::variant<int64_t, std::string> value) {
    values_.push_back(std::move(value));
    return absl::StrCat("?", values_.size());
  }
  void BindTo(Stmt& q) const {
    // A statement may not use the last values (the count has no LIMIT).
    const size_t used = std::min<size_t>(values_.size(), q.ParameterCount());
    for (size_t i = 0; i < used; ++i) {
      int index = static_cast<int>(i) + 1;
      if (const auto* n = std::get_if<int64_t>(&values_[i])) {
        q.BindInt(index, *n);
      } else {
        q.BindText(index, std::get<std::string>(values_[i]));
      }
    }
  }

 private:
  std::vector<std::variant<int64_t, std::string>> values_;
};

std::vector<std::string> Dedup(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const std::string& s : in) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

}  // namespace

absl::StatusOr<ImagePage> SqliteTxn::ListImages(const ImageQuery& query) {
  const std::vector<std::string> statuses =
      query.statuses.empty() ? AllStatuses() : Dedup(query.statuses);
  const bool filtered = !query.image_ids.empty() || !query.name.empty() ||
                        query.in_use.has_value() || query.is_copied.has_value();

  Params params;
  const std::string caller = params.Add(query.caller_account_id);
  const std::string region = params.Add(query.region_id);
  std::string filters;
  if (!query.image_ids.empty()) {
    std::vector<std::string> ids;
    for (const std::string& id : Dedup(query.image_ids)) {
      ids.push_back(params.Add(id));
    }
    absl::StrAppend(&filters, " AND i.image_id IN (", absl::StrJoin(ids, ", "),
                    ")");
  }
  if (!query.name.empty()) {
    absl::StrAppend(&filters, " AND i.name = ", params.Add(query.name));
  }
  if (query.is_copied.has_value()) {
    absl::StrAppend(&filters,
                    " AND i.is_copied = ", *query.is_copied ? "1" : "0");
  }
  if (query.in_use.has_value()) {
    absl::StrAppend(&filters, " AND i.live_instance_count ",
                    *query.in_use ? "> 0" : "= 0");
  }

  // Arms whose rows are counted by the compound query; own and system arms
  // without filters are counted from image_counts instead.
  std::vector<std::string> arms;
  std::vector<std::string> counted_arms;
  for (const std::string& status_value : statuses) {
    const std::string status = params.Add(status_value);
    const std::string live =
        absl::StrCat(" AND i.region_id = ", region, " AND i.status = ", status,
                     " AND i.deleted_at_ms IS NULL");
    if (query.include_self && !query.caller_account_id.empty()) {
      arms.push_back(absl::StrCat(
          "SELECT i.id, ", kSelf,
          " FROM images i WHERE i.owner_account_id = ", caller, live, filters));
      if (filtered) counted_arms.push_back(arms.back());
    }
    if (query.include_system) {
      arms.push_back(absl::StrCat(
          "SELECT i.id, ", kSystem,
          " FROM images i WHERE i.owner_account_id IS NULL", live, filters));
      if (filtered) counted_arms.push_back(arms.back());
    }
    if (query.include_others && !query.caller_account_id.empty()) {
      arms.push_back(absl::StrCat(
          "SELECT s.image_rowid, ", kOthers,
          " FROM shares s CROSS JOIN images i ON i.id = s.image_rowid "
          "WHERE s.account_id = ",
          caller, live, " AND i.is_public = 0 AND i.owner_account_id <> ",
          caller, filters));
      if (filtered) counted_arms.push_back(arms.back());
      arms.push_back(absl::StrCat(
          "SELECT i.id, ", kOthers, " FROM images i WHERE i.is_public = 1",
          live, " AND i.owner_account_id <> ", caller, filters));
      if (filtered) counted_arms.push_back(arms.back());
    }
  }

  ImagePage page;
  if (arms.empty()) return page;

  if (!filtered) {
    if (query.include_self && !query.caller_account_id.empty()) {
      ASSIGN_OR_RETURN(int64_t n, SumImageCounts(query.caller_account_id,
                                                 query.region_id, &statuses));
      page.total_count += n;
    }
    if (query.include_system) {
      ASSIGN_OR_RETURN(int64_t n,
                       SumImageCounts("", query.region_id, &statuses));
      page.total_count += n;
    }
    if (query.include_others && !query.caller_account_id.empty()) {
      const std::string& me = query.caller_account_id;
      ASSIGN_OR_RETURN(int64_t shared,
                       SumVisibleCounts(absl::StrCat("shared:", me),
                                        query.region_id, statuses));
      ASSIGN_OR_RETURN(int64_t all_public,
                       SumVisibleCounts("public", query.region_id, statuses));
      ASSIGN_OR_RETURN(int64_t own_public,
                       SumVisibleCounts(absl::StrCat("public:", me),
                                        query.region_id, statuses));
      page.total_count += shared + all_public - own_public;
    }
  }
  if (!counted_arms.empty()) {
    ASSIGN_OR_RETURN(Stmt q,
                     conn_.Prepare(absl::StrCat(
                         "SELECT count(*) FROM (",
                         absl::StrJoin(counted_arms, " UNION ALL "), ")")));
    params.BindTo(q);
    RETURN_IF_ERROR(q.StepRow());
    page.total_count += q.Int(0);
  }

  const int64_t limit = std::max<int64_t>(query.limit, 0);
  const int64_t offset = std::max<int64_t>(query.offset, 0);
  if (limit == 0 || offset >= page.total_count) return page;

  std::vector<std::pair<int64_t, int64_t>> ids;  // (rowid, alias)
  {
    const std::string limit_param = params.Add(limit);
    const std::string offset_param = params.Add(offset);
    ASSIGN_OR_RETURN(Stmt q, conn_.Prepare(absl::StrCat(
                                 absl::StrJoin(arms, " UNION ALL "),
                                 " ORDER BY 1 DESC LIMIT ", limit_param,
                                 " OFFSET ", offset_param)));
    params.BindTo(q);
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ids.emplace_back(q.Int(0), q.Int(1));
    }
  }
  page.entries.reserve(ids.size());
  for (const auto& [rowid, alias] : ids) {
    ASSIGN_OR_RETURN(std::optional<ImageRow> image, GetImageByRowid(rowid));
    if (!image.has_value()) {
      return absl::InternalError(
          absl::StrCat("image row ", rowid, " vanished inside a snapshot"));
    }
    ImagePage::Entry entry;
    entry.owner_alias = AliasName(alias);
    if (image->is_copied) {
      ASSIGN_OR_RETURN(entry.copy, GetCopyByDest(rowid));
    }
    entry.image = *std::move(image);
    page.entries.push_back(std::move(entry));
  }
  return page;
}

}  // namespace ecsimage::storage
