// PgTxn::ListImages: DescribeImages' union of own, system and others'
// images (shared to the caller, or public), newest first; the same sets
// and counts as SQLite's (storage/sqlite/sqlite_list_images.cc):
// - one arm per set and asked status, each walking its index
//   (images_live_by_owner, images_live_public) in id order, and one arm for
//   the caller's shares (shares_by_account), merged newest first;
// - without id/name/usage/copied filters the total comes from the
//   trigger-kept counters (image_counts, visible_counts), else from a count
//   over the same arms.
// Parameters are the same in every variant ($1 caller, $2 region, $3
// statuses, $4 ids, $5 name; page: $6 limit, $7 offset) and filters that do
// not apply compare against an empty value, so the variants are few and
// each is prepared once per connection.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/postgres/pg_txn.h"
#include "util/status_macros.h"

namespace ecsimage::storage::pg {
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

}  // namespace

absl::StatusOr<ImagePage> PgTxn::ListImages(const ImageQuery& query) {
  // Sorted and distinct: one arm per status must not list an image twice.
  std::vector<std::string> statuses =
      query.statuses.empty() ? AllStatuses() : query.statuses;
  std::sort(statuses.begin(), statuses.end());
  statuses.erase(std::unique(statuses.begin(), statuses.end()), statuses.end());
  const bool filtered = !query.image_ids.empty() || !query.name.empty() ||
                        query.in_use.has_value() || query.is_copied.has_value();
  const bool has_caller = !query.caller_account_id.empty();

  PgParams params;
  params.Text(query.caller_account_id)
      .Text(query.region_id)
      .TextArray(statuses)
      .TextArray(query.image_ids)
      .Text(query.name);

  std::string filters =
      " AND (cardinality($4::text[]) = 0 OR i.image_id = ANY($4))"
      " AND ($5 = '' OR i.name = $5)";
  if (query.is_copied.has_value()) {
    absl::StrAppend(&filters,
                    " AND i.is_copied = ", *query.is_copied ? "1" : "0");
  }
  if (query.in_use.has_value()) {
    absl::StrAppend(&filters, " AND i.live_instance_count ",
                    *query.in_use ? "> 0" : "= 0");
  }
  // One arm per asked status: `status = $3[k]` is an index condition that
  // keeps each arm's index walk in id order, so each arm reads no more than
  // the page's end (with `status = ANY($3)` PostgreSQL 15 read and sorted
  // every match: a page cost grew with the account's images, 650 ms at 1M).
  auto live = [](size_t k) {
    return absl::StrCat(" AND i.region_id = $2 AND i.status = ($3::text[])[",
                        k + 1, "] AND i.deleted_at_ms IS NULL");
  };
  const std::string live_any =
      " AND i.region_id = $2 AND i.status = ANY($3) AND "
      "i.deleted_at_ms IS NULL";

  std::vector<std::string> arms;
  for (size_t k = 0; k < statuses.size(); ++k) {
    if (query.include_self && has_caller) {
      arms.push_back(absl::StrCat("SELECT i.id, ", kSelf,
                                  " AS alias FROM images i "
                                  "WHERE i.owner_account_id = $1",
                                  live(k), filters));
    }
    if (query.include_system) {
      arms.push_back(absl::StrCat("SELECT i.id, ", kSystem,
                                  " AS alias FROM images i "
                                  "WHERE i.owner_account_id IS NULL",
                                  live(k), filters));
    }
    if (query.include_others && has_caller) {
      arms.push_back(absl::StrCat("SELECT i.id, ", kOthers,
                                  " AS alias FROM images i "
                                  "WHERE i.is_public = 1",
                                  live(k), " AND i.owner_account_id <> $1",
                                  filters));
    }
  }
  if (query.include_others && has_caller) {
    // Walks the caller's shares in image order; the status is a filter.
    arms.push_back(absl::StrCat(
        "SELECT s.image_rowid, ", kOthers,
        " AS alias FROM shares s JOIN images i ON i.id = s.image_rowid "
        "WHERE s.account_id = $1",
        live_any, " AND i.is_public = 0 AND i.owner_account_id <> $1",
        filters));
  }

  ImagePage page;
  if (arms.empty()) return page;
  const std::string all_arms = absl::StrJoin(arms, " UNION ALL ");

  if (!filtered) {
    if (query.include_self && has_caller) {
      ASSIGN_OR_RETURN(int64_t n, SumCounts("image_counts", "owner_key",
                                            query.caller_account_id,
                                            query.region_id, &statuses));
      page.total_count += n;
    }
    if (query.include_system) {
      ASSIGN_OR_RETURN(int64_t n, SumCounts("image_counts", "owner_key", "",
                                            query.region_id, &statuses));
      page.total_count += n;
    }
    if (query.include_others && has_caller) {
      const std::string& me = query.caller_account_id;
      ASSIGN_OR_RETURN(int64_t shared, SumCounts("visible_counts", "viewer_key",
                                                 absl::StrCat("shared:", me),
                                                 query.region_id, &statuses));
      ASSIGN_OR_RETURN(int64_t all_public,
                       SumCounts("visible_counts", "viewer_key", "public",
                                 query.region_id, &statuses));
      ASSIGN_OR_RETURN(
          int64_t own_public,
          SumCounts("visible_counts", "viewer_key", absl::StrCat("public:", me),
                    query.region_id, &statuses));
      page.total_count += shared + all_public - own_public;
    }
  } else {
    ASSIGN_OR_RETURN(PgResult r, Exec(absl::StrCat("SELECT count(*) FROM (",
                                                   all_arms, ") AS arms"),
                                      params));
    page.total_count = r.Int(0, 0);
  }

  const int64_t limit = std::max<int64_t>(query.limit, 0);
  const int64_t offset = std::max<int64_t>(query.offset, 0);
  if (limit == 0 || offset >= page.total_count) return page;

  std::vector<std::pair<int64_t, int64_t>> ids;  // (rowid, alias)
  {
    PgParams page_params = params;
    page_params.Int(limit).Int(offset);
    // Each arm is cut at the page's end too: an arm then stops its ordered
    // index walk there (PostgreSQL 15 does not merge the arms of a UNION
    // ALL by their order under a LIMIT on its own; it reads every match).
    std::vector<std::string> page_arms;
    page_arms.reserve(arms.size());
    for (const std::string& arm : arms) {
      page_arms.push_back(absl::StrCat(
          "(", arm, " ORDER BY 1 DESC LIMIT $6::bigint + $7::bigint)"));
    }
    ASSIGN_OR_RETURN(
        PgResult r,
        Exec(absl::StrCat("SELECT * FROM (",
                          absl::StrJoin(page_arms, " UNION ALL "),
                          ") AS arms ORDER BY 1 DESC LIMIT $6 OFFSET $7"),
             page_params));
    for (int i = 0; i < r.rows(); ++i)
      ids.emplace_back(r.Int(i, 0), r.Int(i, 1));
  }
  std::vector<int64_t> rowids;
  rowids.reserve(ids.size());
  for (const auto& [rowid, alias] : ids) rowids.push_back(rowid);
  ASSIGN_OR_RETURN(std::vector<ImageRow> images, ImagesByRowids(rowids));
  page.entries.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ImagePage::Entry entry;
    entry.owner_alias = AliasName(ids[i].second);
    if (images[i].is_copied) {
      ASSIGN_OR_RETURN(entry.copy, GetCopyByDest(images[i].rowid));
    }
    entry.image = std::move(images[i]);
    page.entries.push_back(std::move(entry));
  }
  return page;
}

}  // namespace ecsimage::storage::pg
