// One libpq connection with RAII results, bound parameters, a per-connection
// cache of prepared statements, and the mapping of PostgreSQL errors to the
// statuses of storage/image_store.h. The only header that includes
// libpq-fe.h; nothing outside storage/postgres/ sees it.
//
// Error mapping (SQLSTATE):
// - 40001 serialization_failure, 40P01 deadlock_detected, 23505
//   unique_violation: kAborted, "retry": the transaction runner restarts the
//   whole transaction (pg_store_txn.cc) and never returns kAborted.
// - class 08 (connection), 57P01/57P02/57P03 (admin/crash shutdown, cannot
//   connect now), 25006 (read-only transaction: a primary that became a
//   standby after a failover), class 53 (insufficient resources), a lost
//   connection without SQLSTATE: kUnavailable, and the connection is marked
//   broken (the pool drops it and connects anew on next use).
// - 57014 (query cancelled / statement timeout), 55P03 (lock timeout):
//   kUnavailable, connection kept.
// - anything else (a CHECK or trigger refusing a row, 25P02 after an earlier
//   error): kInternal.
// Messages carry PostgreSQL's primary message and SQLSTATE, never the
// connection string (and so never a password).
#ifndef ECSIMAGE_STORAGE_POSTGRES_PG_CONN_H_
#define ECSIMAGE_STORAGE_POSTGRES_PG_CONN_H_

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ecsimage::storage::pg {

// Type OIDs of bound parameters (pg_type.h is not installed by libpq-dev).
enum class PgType : unsigned int {
  kBool = 16,
  kBytea = 17,
  kInt8 = 20,
  kText = 25,
  kTextArray = 1009,
};

// Parameters of one statement, bound in order as $1, $2, ...; text format
// except bytea (binary, so that raw digests travel unescaped).
class PgParams {
 public:
  PgParams& Int(int64_t v);
  PgParams& Text(absl::string_view v);
  PgParams& Bytes(absl::string_view v);
  PgParams& OptInt(const std::optional<int64_t>& v);
  // NULL when empty.
  PgParams& TextOrNull(absl::string_view v);
  PgParams& TextArray(const std::vector<std::string>& values);

  size_t size() const { return values_.size(); }
  std::vector<unsigned int> Types() const;

 private:
  friend class PgConn;
  struct Value {
    PgType type;
    std::optional<std::string> data;  // nullopt = NULL
  };
  std::vector<Value> values_;
};

// A result set (rows and columns as text); owns its PGresult.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) : r_(r, &PQclear) {}

  int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  int cols() const { return r_ ? PQnfields(r_.get()) : 0; }
  bool IsNull(int row, int col) const;
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;
  std::optional<int64_t> OptInt(int row, int col) const;
  // SMALLINT 0/1 flag or BOOLEAN.
  bool Bool(int row, int col) const;
  // A bytea column (hex text format decoded).
  std::string Bytes(int row, int col) const;
  // Rows changed by INSERT/UPDATE/DELETE.
  int64_t Affected() const;

 private:
  friend class PgConn;
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_{nullptr, &PQclear};
};

// SQLSTATE classes the store decides on.
bool IsRetryableSqlstate(absl::string_view sqlstate);
bool IsConnectionLossSqlstate(absl::string_view sqlstate);

class PgConn {
 public:
  // Connects with `conninfo` (a URI with the defaults already merged; see
  // WithConnectionDefaults). kUnavailable if the server cannot be reached.
  static absl::StatusOr<std::unique_ptr<PgConn>> Connect(
      const std::string& conninfo);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs one statement with bound parameters, prepared once per connection
  // (cached by SQL text). Errors as mapped above; last_sqlstate() tells
  // which.
  absl::StatusOr<PgResult> Exec(const std::string& sql,
                                const PgParams& params = PgParams());
  // Runs `statements` (each prepared once per connection, as Exec) in one
  // round trip (libpq pipeline mode): their results in order, or the first
  // error (the statements after a failed one are not run; inside a
  // transaction the failure aborts it, as with Exec).
  absl::StatusOr<std::vector<PgResult>> ExecPipeline(
      const std::vector<std::pair<std::string, PgParams>>& statements);
  // Queues one statement without parameters (SAVEPOINT …) to go with the
  // next Exec or ExecPipeline in the same round trip (or before the next
  // ExecScript); its failure is that call's failure.
  void Defer(std::string sql);
  // Runs text without parameters (several statements allowed: migrations,
  // BEGIN/COMMIT).
  absl::Status ExecScript(const std::string& sql);

  // Last error's SQLSTATE ("" if none, or the connection was lost without).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // The connection is unusable (lost, or the server is going away).
  bool broken() const;
  // Inside a transaction that a failed statement aborted (COMMIT would
  // silently roll it back).
  bool InFailedTransaction() const {
    return PQtransactionStatus(conn_) == PQTRANS_INERROR;
  }
  bool InTransaction() const {
    return PQtransactionStatus(conn_) != PQTRANS_IDLE;
  }
  // Regions this connection has seen in the regions table. Regions are
  // seeded once and never removed, so a region found stays found: the
  // region check of every write need not read it again.
  bool KnowsRegion(const std::string& region_id) const {
    return known_regions_.count(region_id) > 0;
  }
  void RememberRegion(const std::string& region_id) {
    if (known_regions_.size() < 1024) known_regions_.insert(region_id);
  }
  // The server backend's pid (for tests that terminate it).
  int backend_pid() const { return PQbackendPID(conn_); }
  // Called with each SQL text when it is prepared (test hook).
  void set_on_prepare(std::function<void(const std::string&)> f) {
    on_prepare_ = std::move(f);
  }

 private:
  explicit PgConn(PGconn* conn) : conn_(conn) {}
  struct Bound;
  // The name `sql` is prepared under on this connection (preparing it now
  // if it is new).
  absl::StatusOr<std::string> Prepared(const std::string& sql,
                                       const PgParams& params);
  absl::Status ResultStatus(PGresult* r, absl::string_view what);

  PGconn* conn_;
  bool broken_ = false;
  std::string last_sqlstate_;
  std::unordered_map<std::string, std::string> prepared_;  // sql -> name
  std::set<std::string> known_regions_;
  std::vector<std::string> deferred_;  // Defer()
  uint64_t next_statement_ = 0;
  std::function<void(const std::string&)> on_prepare_;
};

// `uri` with the connection defaults added where it does not set them:
// connect_timeout=5, tcp_user_timeout=10000, keepalives=1,
// keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
// application_name=ecsimage (sslmode and everything else pass through).
// kInvalidArgument if libpq cannot parse it (message without the URI).
absl::StatusOr<std::string> WithConnectionDefaults(const std::string& uri);

// A conninfo string for logs and errors: host, port and dbname only.
std::string DescribeUri(const std::string& uri);

}  // namespace ecsimage::storage::pg

#endif  // ECSIMAGE_STORAGE_POSTGRES_PG_CONN_H_
