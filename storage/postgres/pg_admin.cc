// Admin and test helpers of postgres_store.h: creating and dropping
// databases (fixtures clone a migrated template per test; `ecsimage db`),
// rewriting a URI's database, and the "corrupt a row behind the server's
// back" fixture of the InternalError contract test.
#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "storage/postgres/pg_conn.h"
#include "storage/postgres/postgres_store.h"
#include "util/status_macros.h"

namespace ecsimage::storage {
namespace {

using pg::PgConn;
using pg::PgParams;

absl::StatusOr<std::unique_ptr<PgConn>> ConnectTo(const std::string& uri) {
  ASSIGN_OR_RETURN(std::string conninfo, pg::WithConnectionDefaults(uri));
  return PgConn::Connect(conninfo);
}

// A quoted identifier. DDL cannot bind a name as a parameter; the server
// quotes it for us (quote_ident), so no input reaches the SQL unquoted.
absl::StatusOr<std::string> QuoteIdent(PgConn& conn, const std::string& name) {
  ASSIGN_OR_RETURN(pg::PgResult r,
                   conn.Exec("SELECT quote_ident($1)", PgParams().Text(name)));
  return r.Text(0, 0);
}

std::string PercentEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace

absl::Status CreatePostgresDatabase(const std::string& server_uri,
                                    const std::string& name,
                                    const std::string& template_name) {
  if (name.empty()) return absl::InvalidArgumentError("database name is empty");
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, ConnectTo(server_uri));
  ASSIGN_OR_RETURN(std::string quoted, QuoteIdent(*conn, name));
  std::string sql = absl::StrCat("CREATE DATABASE ", quoted);
  if (!template_name.empty()) {
    ASSIGN_OR_RETURN(std::string tmpl, QuoteIdent(*conn, template_name));
    absl::StrAppend(&sql, " TEMPLATE ", tmpl);
  }
  absl::Status status = conn->ExecScript(sql);
  if (!status.ok() && conn->last_sqlstate() == "42P04") {
    return absl::AlreadyExistsError(
        absl::StrCat("database ", name, " already exists"));
  }
  return status;
}

absl::Status DropPostgresDatabase(const std::string& server_uri,
                                  const std::string& name) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, ConnectTo(server_uri));
  ASSIGN_OR_RETURN(std::string quoted, QuoteIdent(*conn, name));
  return conn->ExecScript(
      absl::StrCat("DROP DATABASE IF EXISTS ", quoted, " WITH (FORCE)"));
}

std::string PostgresUriWithDatabase(const std::string& uri,
                                    const std::string& dbname) {
  for (const char* scheme : {"postgresql://", "postgres://"}) {
    if (!absl::StartsWith(uri, scheme)) continue;
    const size_t start = std::string(scheme).size();
    size_t authority_end = uri.find_first_of("/?", start);
    if (authority_end == std::string::npos) authority_end = uri.size();
    const size_t query = uri.find('?', authority_end);
    std::string out =
        absl::StrCat(uri.substr(0, authority_end), "/", PercentEncode(dbname));
    if (query != std::string::npos) {
      // Keep every parameter but a dbname=, which would win over the path.
      std::vector<std::string> kept;
      for (absl::string_view p :
           absl::StrSplit(uri.substr(query + 1), '&', absl::SkipEmpty())) {
        if (!absl::StartsWith(p, "dbname=")) kept.emplace_back(p);
      }
      if (!kept.empty()) absl::StrAppend(&out, "?", absl::StrJoin(kept, "&"));
    }
    return out;
  }
  // keyword=value form: a later keyword wins.
  std::string quoted = "'";
  for (char c : dbname) {
    if (c == '\\' || c == '\'') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return absl::StrCat(uri, uri.empty() ? "" : " ", "dbname=", quoted, "'");
}

absl::Status CorruptImageRowForTest(const std::string& uri,
                                    const std::string& region_id,
                                    const std::string& image_id) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, ConnectTo(uri));
  RETURN_IF_ERROR(conn->ExecScript("BEGIN"));
  absl::Status status = [&]() -> absl::Status {
    // What a foreign tool could do: lift the CHECK, then write a progress
    // no image can have. The image keeps its status, so it still shows in
    // listings, and every read of it must refuse it.
    RETURN_IF_ERROR(conn->ExecScript(
        "ALTER TABLE images DROP CONSTRAINT IF EXISTS images_progress_check"));
    ASSIGN_OR_RETURN(pg::PgResult r,
                     conn->Exec("UPDATE images SET progress = 1000 "
                                "WHERE region_id = $1 AND image_id = $2",
                                PgParams().Text(region_id).Text(image_id)));
    if (r.Affected() != 1) {
      return absl::NotFoundError(
          absl::StrCat("no image ", image_id, " in ", region_id));
    }
    return absl::OkStatus();
  }();
  if (status.ok()) return conn->ExecScript("COMMIT");
  conn->ExecScript("ROLLBACK").IgnoreError();
  return status;
}

}  // namespace ecsimage::storage
