#include "tests/reliability/store_invariants.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace ecsimage::reliability {

std::vector<std::string> Query(const std::string& path,
                               const std::string& sql) {
  std::vector<std::string> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) !=
      SQLITE_OK) {
    ADD_FAILURE() << "open " << path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return out;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "prepare " << sql << ": " << sqlite3_errmsg(db);
  } else {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out.push_back(text == nullptr ? "" : reinterpret_cast<const char*>(text));
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

std::vector<std::string> Violations(const std::string& path) {
  std::vector<std::string> out;
  auto add = [&](const std::string& what, const std::string& sql) {
    for (const std::string& row : Query(path, sql)) {
      out.push_back(what + ": " + row);
    }
  };
  std::vector<std::string> ic = Query(path, "PRAGMA integrity_check");
  if (ic != std::vector<std::string>{"ok"}) {
    out.push_back("integrity_check: " + (ic.empty() ? "" : ic[0]));
  }
  add("fk", "PRAGMA foreign_key_check");
  add("image counter",
      "SELECT k.owner_key || '/' || k.status FROM image_counts k WHERE "
      "k.live_count <> (SELECT count(*) FROM images i WHERE "
      "coalesce(i.owner_account_id, '') = k.owner_key AND i.region_id = "
      "k.region_id AND i.status = k.status AND i.deleted_at_ms IS NULL)");
  add("uncounted images",
      "SELECT i.image_id FROM images i WHERE i.deleted_at_ms IS NULL AND NOT "
      "EXISTS (SELECT 1 FROM image_counts k WHERE k.owner_key = "
      "coalesce(i.owner_account_id, '') AND k.region_id = i.region_id AND "
      "k.status = i.status AND k.live_count > 0)");
  add("instance counter",
      "SELECT image_id FROM images i WHERE live_instance_count <> (SELECT "
      "count(*) FROM instances n WHERE n.image_rowid = i.id AND "
      "n.released_at_ms IS NULL)");
  add("image without disks",
      "SELECT image_id FROM images i WHERE NOT is_system AND NOT EXISTS "
      "(SELECT 1 FROM disk_mappings d WHERE d.image_rowid = i.id)");
  return out;
}

}  // namespace ecsimage::reliability
