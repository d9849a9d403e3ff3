#include "storage/postgres/pg_conn.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace ecsimage::storage::pg {
namespace {

// Quotes a conninfo value: 'v' with \ and ' escaped.
std::string QuoteConninfo(absl::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}

}  // namespace

PgParams& PgParams::Int(int64_t v) {
  values_.push_back({PgType::kInt8, std::to_string(v)});
  return *this;
}

PgParams& PgParams::Text(absl::string_view v) {
  values_.push_back({PgType::kText, std::string(v)});
  return *this;
}

PgParams& PgParams::Bytes(absl::string_view v) {
  values_.push_back({PgType::kBytea, std::string(v)});
  return *this;
}

PgParams& PgParams::OptInt(const std::optional<int64_t>& v) {
  if (v.has_value()) return Int(*v);
  values_.push_back({PgType::kInt8, std::nullopt});
  return *this;
}

PgParams& PgParams::TextOrNull(absl::string_view v) {
  if (!v.empty()) return Text(v);
  values_.push_back({PgType::kText, std::nullopt});
  return *this;
}

PgParams& PgParams::TextArray(const std::vector<std::string>& values) {
  std::string lit = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) lit.push_back(',');
    lit.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') lit.push_back('\\');
      lit.push_back(c);
    }
    lit.push_back('"');
  }
  lit.push_back('}');
  values_.push_back({PgType::kTextArray, std::move(lit)});
  return *this;
}

std::vector<unsigned int> PgParams::Types() const {
  std::vector<unsigned int> types;
  types.reserve(values_.size());
  for (const Value& v : values_) types.push_back(static_cast<unsigned>(v.type));
  return types;
}

bool PgResult::IsNull(int row, int col) const {
  return PQgetisnull(r_.get(), row, col) != 0;
}

std::string PgResult::Text(int row, int col) const {
  return std::string(PQgetvalue(r_.get(), row, col),
                     PQgetlength(r_.get(), row, col));
}

int64_t PgResult::Int(int row, int col) const {
  return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
}

std::optional<int64_t> PgResult::OptInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int(row, col);
}

bool PgResult::Bool(int row, int col) const {
  const char* v = PQgetvalue(r_.get(), row, col);
  return v[0] == 't' || (v[0] != '\0' && v[0] != '0' && v[0] != 'f');
}

std::string PgResult::Bytes(int row, int col) const {
  const char* v = PQgetvalue(r_.get(), row, col);
  int len = PQgetlength(r_.get(), row, col);
  std::string out;
  if (len >= 2 && v[0] == '\\' && v[1] == 'x') {
    out.reserve((len - 2) / 2);
    for (int i = 2; i + 1 < len; i += 2) {
      out.push_back(
          static_cast<char>(HexValue(v[i]) * 16 + HexValue(v[i + 1])));
    }
    return out;
  }
  // bytea_output = escape: let libpq decode it.
  size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(v), &n);
  if (raw != nullptr) {
    out.assign(reinterpret_cast<char*>(raw), n);
    PQfreemem(raw);
  }
  return out;
}

int64_t PgResult::Affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n[0] == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

bool IsRetryableSqlstate(absl::string_view s) {
  return s == "40001" || s == "40P01" || s == "23505";
}

bool IsConnectionLossSqlstate(absl::string_view s) {
  return absl::StartsWith(s, "08") || absl::StartsWith(s, "53") ||
         s == "57P01" || s == "57P02" || s == "57P03" || s == "25006";
}

absl::StatusOr<std::unique_ptr<PgConn>> PgConn::Connect(
    const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) {
    return absl::UnavailableError("PostgreSQL: out of memory connecting");
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return absl::UnavailableError(
        absl::StrCat("cannot connect to PostgreSQL: ", message));
  }
  // Server notices (e.g. "does not exist, skipping") are not errors; libpq
  // would print them to stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  std::unique_ptr<PgConn> c(new PgConn(conn));
  // Times travel as numbers; nothing depends on the session's time zone or
  // on escape-format bytea, but pin what the decoders assume.
  absl::Status set =
      c->ExecScript("SET bytea_output = 'hex'; SET client_encoding = 'UTF8'");
  if (!set.ok()) return set;
  return c;
}

PgConn::~PgConn() { PQfinish(conn_); }

bool PgConn::broken() const {
  return broken_ || PQstatus(conn_) != CONNECTION_OK;
}

absl::Status PgConn::ResultStatus(PGresult* r, absl::string_view what) {
  ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    last_sqlstate_.clear();
    return absl::OkStatus();
  }
  const char* state =
      r == nullptr ? nullptr : PQresultErrorField(r, PG_DIAG_SQLSTATE);
  last_sqlstate_ = state == nullptr ? "" : state;
  std::string message;
  const char* primary =
      r == nullptr ? nullptr : PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  message = primary != nullptr ? primary : PQerrorMessage(conn_);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  std::string text =
      absl::StrCat(what, ": ", message,
                   last_sqlstate_.empty()
                       ? ""
                       : absl::StrCat(" (SQLSTATE ", last_sqlstate_, ")"));
  if (PQstatus(conn_) != CONNECTION_OK || last_sqlstate_.empty() ||
      IsConnectionLossSqlstate(last_sqlstate_)) {
    broken_ = true;
    return absl::UnavailableError(text);
  }
  if (IsRetryableSqlstate(last_sqlstate_)) return absl::AbortedError(text);
  if (last_sqlstate_ == "57014" || last_sqlstate_ == "55P03") {
    return absl::UnavailableError(text);
  }
  // Integrity errors say which kind of constraint as SQLite does, so that
  // callers and tests read the same words from both stores.
  if (last_sqlstate_ == "23514") {
    return absl::InternalError(absl::StrCat("CHECK constraint failed: ", text));
  }
  if (last_sqlstate_ == "23503") {
    return absl::InternalError(
        absl::StrCat("FOREIGN KEY constraint failed: ", text));
  }
  if (last_sqlstate_ == "23502") {
    return absl::InternalError(
        absl::StrCat("NOT NULL constraint failed: ", text));
  }
  return absl::InternalError(text);
}

absl::StatusOr<std::string> PgConn::Prepared(const std::string& sql,
                                             const PgParams& params) {
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) return it->second;
  // Dynamic statements (IN lists travel as arrays, so few exist) are
  // bounded, but keep the cache bounded anyway.
  if (prepared_.size() >= 512) {
    RETURN_IF_ERROR(ExecScript("DEALLOCATE ALL"));
    prepared_.clear();
  }
  std::string name = absl::StrCat("ecs", next_statement_++);
  std::vector<unsigned int> types = params.Types();
  PgResult prep(PQprepare(conn_, name.c_str(), sql.c_str(),
                          static_cast<int>(types.size()),
                          reinterpret_cast<const Oid*>(types.data())));
  absl::Status status = ResultStatus(prep.r_.get(), "prepare");
  if (!status.ok()) return status;
  if (on_prepare_) on_prepare_(sql);
  prepared_.emplace(sql, name);
  return name;
}

// The bound values of `params`, pointing into it.
struct PgConn::Bound {
  explicit Bound(const PgParams& params) {
    const size_t n = params.values_.size();
    values.resize(n);
    lengths.resize(n);
    formats.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const auto& v = params.values_[i];
      values[i] = v.data.has_value() ? v.data->data() : nullptr;
      lengths[i] = v.data.has_value() ? static_cast<int>(v.data->size()) : 0;
      formats[i] = v.type == PgType::kBytea ? 1 : 0;
    }
  }
  int n() const { return static_cast<int>(values.size()); }
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
};

absl::StatusOr<PgResult> PgConn::Exec(const std::string& sql,
                                      const PgParams& params) {
  if (broken_) {
    return absl::UnavailableError("PostgreSQL connection was lost");
  }
  if (!deferred_.empty()) {
    ASSIGN_OR_RETURN(std::vector<PgResult> results,
                     ExecPipeline({{sql, params}}));
    return std::move(results.back());
  }
  ASSIGN_OR_RETURN(std::string name, Prepared(sql, params));
  Bound b(params);
  PgResult result(PQexecPrepared(conn_, name.c_str(), b.n(), b.values.data(),
                                 b.lengths.data(), b.formats.data(),
                                 /*resultFormat=*/0));
  absl::Status status = ResultStatus(result.r_.get(), "query");
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<PgResult>> PgConn::ExecPipeline(
    const std::vector<std::pair<std::string, PgParams>>& statements) {
  if (broken_) {
    return absl::UnavailableError("PostgreSQL connection was lost");
  }
  std::vector<std::string> names;
  for (const auto& [sql, params] : statements) {
    ASSIGN_OR_RETURN(std::string name, Prepared(sql, params));
    names.push_back(std::move(name));
  }
  auto lost = [this]() {
    broken_ = true;
    last_sqlstate_.clear();
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return absl::UnavailableError(
        absl::StrCat("pipeline: PostgreSQL connection was lost: ", message));
  };
  // Deferred statements go first, unprepared and without parameters.
  std::vector<std::string> deferred;
  deferred.swap(deferred_);
  if (PQenterPipelineMode(conn_) != 1) return lost();
  for (const std::string& sql : deferred) {
    if (PQsendQueryParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr,
                          nullptr, /*resultFormat=*/0) != 1) {
      return lost();
    }
  }
  for (size_t i = 0; i < statements.size(); ++i) {
    Bound b(statements[i].second);
    if (PQsendQueryPrepared(conn_, names[i].c_str(), b.n(), b.values.data(),
                            b.lengths.data(), b.formats.data(),
                            /*resultFormat=*/0) != 1) {
      return lost();
    }
  }
  if (PQpipelineSync(conn_) != 1) return lost();
  // Each statement's result, then NULL; then the sync. A statement after a
  // failed one is PGRES_PIPELINE_ABORTED; the first error is the answer.
  std::vector<PgResult> results;
  absl::Status first_error;
  for (size_t i = 0; i < deferred.size() + statements.size(); ++i) {
    PgResult r(PQgetResult(conn_));
    if (r.r_ == nullptr) return lost();
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    if (PQresultStatus(r.r_.get()) != PGRES_PIPELINE_ABORTED &&
        first_error.ok()) {
      first_error = ResultStatus(r.r_.get(), "query");
    }
    if (i >= deferred.size()) results.push_back(std::move(r));
  }
  PgResult sync(PQgetResult(conn_));
  if (sync.r_ == nullptr ||
      PQresultStatus(sync.r_.get()) != PGRES_PIPELINE_SYNC) {
    return lost();
  }
  if (PQexitPipelineMode(conn_) != 1) return lost();
  if (!first_error.ok()) return first_error;
  last_sqlstate_.clear();
  return results;
}

void PgConn::Defer(std::string sql) { deferred_.push_back(std::move(sql)); }

absl::Status PgConn::ExecScript(const std::string& sql) {
  if (broken_) {
    return absl::UnavailableError("PostgreSQL connection was lost");
  }
  if (!deferred_.empty()) {
    // Rare (nothing ran since the deferral): its own round trip first.
    std::vector<std::string> deferred;
    deferred.swap(deferred_);
    for (const std::string& d : deferred) {
      PgResult r(PQexec(conn_, d.c_str()));
      RETURN_IF_ERROR(ResultStatus(r.r_.get(), "statement"));
    }
  }
  PgResult result(PQexec(conn_, sql.c_str()));
  return ResultStatus(result.r_.get(), "statement");
}

absl::StatusOr<std::string> WithConnectionDefaults(const std::string& uri) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(uri.c_str(), &err);
  if (opts == nullptr) {
    std::string message = err != nullptr ? err : "cannot parse";
    if (err != nullptr) PQfreemem(err);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    // libpq's message may quote the string: say only what is wrong.
    return absl::InvalidArgumentError(
        "the PostgreSQL connection URI is malformed");
  }
  static const std::pair<const char*, const char*> kDefaults[] = {
      {"connect_timeout", "5"},
      {"tcp_user_timeout", "10000"},
      {"keepalives", "1"},
      {"keepalives_idle", "10"},
      {"keepalives_interval", "5"},
      {"keepalives_count", "3"},
      {"application_name", "ecsimage"},
  };
  std::string out;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    const char* value = o->val;
    if (value == nullptr) {
      for (const auto& [k, v] : kDefaults) {
        if (std::string(k) == o->keyword) value = v;
      }
    }
    if (value == nullptr) continue;
    absl::StrAppend(&out, out.empty() ? "" : " ", o->keyword, "=",
                    QuoteConninfo(value));
  }
  PQconninfoFree(opts);
  return out;
}

std::string DescribeUri(const std::string& uri) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(uri.c_str(), &err);
  if (opts == nullptr) {
    if (err != nullptr) PQfreemem(err);
    return "PostgreSQL (unparsable URI)";
  }
  std::string host, port, dbname;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string k = o->keyword;
    if (k == "host") host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") dbname = o->val;
  }
  PQconninfoFree(opts);
  return absl::StrCat("PostgreSQL database ", dbname.empty() ? "?" : dbname,
                      " on ", host.empty() ? "localhost" : host,
                      port.empty() ? "" : absl::StrCat(":", port));
}

}  // namespace ecsimage::storage::pg
