#include "service/cmd/db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/domain/image_domain.h"
#include "util/absl_compat.h"

namespace ecsimage::cmd {
namespace {

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat(AV(what), " ", path, ": ", std::strerror(errno)));
}

// The string value of "key":"value" in a flat JSON object of plain strings.
std::string JsonField(std::string_view json, std::string_view key) {
  const std::string needle = absl::StrCat("\"", AV(key), "\":\"");
  size_t start = json.find(needle);
  if (start == std::string_view::npos) return "";
  start += needle.size();
  size_t end = json.find('"', start);
  if (end == std::string_view::npos) return "";
  return std::string(json.substr(start, end - start));
}

}  // namespace

absl::StatusOr<DbLocator> ParseDbLocator(const std::string& db) {
  DbLocator locator;
  locator.value = db;
  locator.display = db;
  if (db.empty()) {
    return absl::InvalidArgumentError(
        "--db (ECSIMAGE_DB) is empty: give a SQLite file path or a "
        "postgresql:// URI");
  }
  if (absl::StartsWith(db, "postgresql://") ||
      absl::StartsWith(db, "postgres://")) {
    locator.kind = DbLocator::Kind::kPostgres;
    locator.display = MaskPassword(db);
    return locator;
  }
  // "scheme:" at the start (RFC 3986: a letter, then letters, digits, + - .)
  // is a URI of another kind, not a file name.
  size_t colon = db.find(':');
  if (colon != std::string::npos && colon > 0 && absl::ascii_isalpha(db[0])) {
    bool scheme = true;
    for (size_t i = 1; i < colon; ++i) {
      char c = db[i];
      if (!absl::ascii_isalnum(c) && c != '+' && c != '-' && c != '.') {
        scheme = false;
        break;
      }
    }
    if (scheme) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--db (ECSIMAGE_DB) \"", MaskPassword(db),
          "\" is neither a SQLite file path nor a postgresql:// or "
          "postgres:// URI"));
    }
  }
  return locator;
}

std::string MaskPassword(const std::string& uri) {
  std::string out = uri;
  // postgresql://user:password@host — the user info ends at the first '@'
  // before the path.
  const size_t start = out.find("://");
  if (start != std::string::npos) {
    const size_t auth = start + 3;
    size_t end = out.find_first_of("/?", auth);
    if (end == std::string::npos) end = out.size();
    const size_t at = out.rfind('@', end);
    if (at != std::string::npos && at >= auth) {
      const size_t colon = out.find(':', auth);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  // ...?password=secret&…
  for (size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    if (pos > 0 && out[pos - 1] != '?' && out[pos - 1] != '&') continue;
    const size_t value = pos + 9;
    size_t end = out.find('&', value);
    if (end == std::string::npos) end = out.size();
    out.replace(value, end - value, "***");
  }
  return out;
}

namespace {

// ECSIMAGE_DB_PASSWORD_FILE: one line, read at start, handed to libpq as
// PGPASSWORD (which it reads for every connection it opens).
absl::Status ApplyPasswordFile() {
  const char* file = std::getenv("ECSIMAGE_DB_PASSWORD_FILE");
  if (file == nullptr || *file == '\0') return absl::OkStatus();
  std::ifstream in(file);
  std::string password;
  if (!in || !std::getline(in, password)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ECSIMAGE_DB_PASSWORD_FILE ", file));
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  ::setenv("PGPASSWORD", password.c_str(), 1);
  return absl::OkStatus();
}

absl::StatusOr<OpenedDb> OpenPostgres(const DbLocator& locator) {
  if (absl::Status s = ApplyPasswordFile(); !s.ok()) return s;
  storage::PostgresStoreOptions options;
  options.uri = locator.value;
  options.migrate = true;
  absl::StatusOr<std::unique_ptr<storage::PostgresStore>> store =
      storage::PostgresStore::Open(options);
  if (!store.ok()) return store.status();
  OpenedDb db;
  db.locator = locator;
  db.postgres = store->get();
  db.store = *std::move(store);
  db.schema_version = storage::LatestPostgresSchemaVersion();
  return db;
}

absl::StatusOr<OpenedDb> OpenSqlite(const DbLocator& locator,
                                    bool create_if_missing,
                                    bool check_at_open) {
  namespace fs = std::filesystem;
  const std::string& path = locator.value;
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot stat ", path, ": ", ec.message()));
  }
  if (!exists) {
    if (!create_if_missing) {
      return absl::NotFoundError(
          absl::StrCat("database ", path,
                       " does not exist (is the volume mounted?); pass "
                       "--create-if-missing=true to create a new one"));
    }
    fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) {
      fs::create_directories(parent, ec);
      if (ec) {
        return absl::UnavailableError(absl::StrCat(
            "cannot create directory ", parent.string(), ": ", ec.message()));
      }
    }
  }
  storage::SqliteStoreOptions options;
  options.path = path;
  options.create_if_missing = create_if_missing;
  options.migrate = true;
  options.check_integrity = check_at_open;
  absl::StatusOr<std::unique_ptr<storage::SqliteStore>> store =
      storage::SqliteStore::Open(options);
  if (!store.ok()) return store.status();
  OpenedDb db;
  db.locator = locator;
  db.sqlite = store->get();
  db.store = *std::move(store);
  db.created = !exists;
  db.schema_version = storage::LatestSchemaVersion();
  return db;
}

}  // namespace

absl::StatusOr<OpenedDb> OpenDatabase(const std::string& db,
                                      bool create_if_missing,
                                      bool check_at_open) {
  absl::StatusOr<DbLocator> locator = ParseDbLocator(db);
  if (!locator.ok()) return locator.status();
  if (locator->is_postgres()) return OpenPostgres(*locator);
  return OpenSqlite(*locator, create_if_missing, check_at_open);
}

std::string TokenFilePath(const DbLocator& db,
                          const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  if (db.is_postgres()) return "";
  return db.value + ".token";
}

std::string AccountJson(const std::string& account_id, const std::string& token,
                        const std::string& token_id) {
  return absl::StrCat("{\"account_id\":\"", account_id, "\",\"token\":\"",
                      token, "\",\"token_id\":\"", token_id, "\"}");
}

absl::Status CreateDemoAccount(storage::Store& store, domain::Clock& clock,
                               domain::IdGenerator& ids,
                               const std::string& token_file) {
  domain::AccountAdmin admin(store, clock, ids);
  absl::StatusOr<domain::AccountAdmin::Created> created =
      admin.CreateAccount("demo");
  if (!created.ok()) return created.status();

  // Written beside, then renamed: the file is either absent or complete,
  // and never readable by others, not even for a moment.
  const std::string tmp = token_file + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  const std::string content =
      AccountJson(created->account_id, created->token, created->token_id) +
      "\n";
  std::string_view rest = content;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status s = ErrnoError("cannot write", tmp);
      ::close(fd);
      return s;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    absl::Status s = ErrnoError("cannot sync", tmp);
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return ErrnoError("cannot close", tmp);
  if (::rename(tmp.c_str(), token_file.c_str()) != 0) {
    return ErrnoError("cannot rename to", token_file);
  }
  return absl::OkStatus();
}

absl::StatusOr<DemoAccount> ReadTokenFile(const std::string& token_file) {
  std::ifstream in(token_file);
  if (!in) return absl::NotFoundError(absl::StrCat("no ", token_file));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string json = buffer.str();
  DemoAccount demo{JsonField(json, "account_id"), JsonField(json, "token")};
  if (demo.account_id.empty() || demo.token.empty()) {
    return absl::DataLossError(absl::StrCat("malformed ", token_file));
  }
  return demo;
}

int ParseOrUsage(FlagSet& flags, const std::vector<std::string>& args) {
  absl::Status s = flags.Parse(args, ProcessEnv());
  if (s.ok()) return -1;
  if (absl::IsCancelled(s)) {
    std::cout << flags.Usage();
    return 0;
  }
  std::cerr << s.message() << "\n" << flags.Usage();
  return 2;
}

}  // namespace ecsimage::cmd
