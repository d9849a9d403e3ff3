// One-line JSON logs on stderr: the per-call access log, the causes of
// errors that must not reach a client, and the start/stop lines of `serve`.
//
// A line is written with one write(2) under a mutex, so lines of concurrent
// calls never interleave. Never pass secrets (tokens, token hashes).
#ifndef ECSIMAGE_SERVICE_GRPC_JSON_LOG_H_
#define ECSIMAGE_SERVICE_GRPC_JSON_LOG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ecsimage::grpcapi {

// Builds one JSON object; "ts" (UTC, milliseconds) comes first.
class JsonLine {
 public:
  JsonLine();
  JsonLine& Str(std::string_view key, std::string_view value);
  JsonLine& Int(std::string_view key, int64_t value);
  JsonLine& Num(std::string_view key, double value);
  JsonLine& Bool(std::string_view key, bool value);
  // The object so far, closed, without a newline.
  std::string Build() const;
  // Writes Build() + "\n" to the log sink.
  void Emit() const;

 private:
  void Key(std::string_view key);
  std::string text_;
};

// Appends `value` as a quoted JSON string.
void AppendJsonString(std::string* out, std::string_view value);

// Replaces the sink (default: stderr) and returns the previous one; an empty
// function restores stderr. For tests that assert on logs.
using LogSink = std::function<void(std::string_view line)>;
LogSink SetLogSinkForTesting(LogSink sink);

}  // namespace ecsimage::grpcapi

#endif  // ECSIMAGE_SERVICE_GRPC_JSON_LOG_H_
