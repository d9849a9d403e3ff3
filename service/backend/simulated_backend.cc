// The simulated backend: the timer ecsimage always had. A transfer moves at
// a fixed rate from the start of its phase; CreateImage's snapshot work is
// counted in milliseconds; a cancel takes a fixed time. Pure arithmetic on
// what the engine stored, so a restart continues where it stopped.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "service/backend/backend.h"

namespace ecsimage::backend {
namespace {

class SimulatedBackend : public Backend {
 public:
  explicit SimulatedBackend(SimulatedOptions options)
      : options_(std::move(options)) {}

  std::string_view name() const override { return "simulated"; }
  int64_t PrepareMs() const override { return options_.prepare_ms; }
  int64_t RegisterMs() const override { return options_.register_ms; }

  Observation Observe(const WorkOrder& work,
                      const WorkProgress& at) const override {
    Observation obs;
    obs.done = at.done;
    const int64_t start = at.started_at_ms;
    if (work.kind == WorkKind::kCopy && work.cancel) {
      if (start + options_.cancelling_ms <= at.now_ms) {
        obs.state = Observation::State::kCancelled;
        obs.at_ms = start + options_.cancelling_ms;
      }
      return obs;
    }
    if (work.kind == WorkKind::kCreate) {  // units: milliseconds of work
      const int64_t worked = std::max<int64_t>(0, at.now_ms - start);
      if (at.done + worked >= at.total) {
        obs.state = Observation::State::kDone;
        obs.done = at.total;
        obs.at_ms = start + (at.total - at.done);
      } else {
        obs.done = at.done + worked;
      }
      return obs;
    }
    const int64_t left = at.total - at.done;
    const int64_t done_at = start + TransferMs(left);
    if (done_at <= at.now_ms) {
      obs.state = Observation::State::kDone;
      obs.done = at.total;
      obs.at_ms = std::max(done_at, start);
      return obs;
    }
    obs.done = std::min(at.total, at.done + TransferredIn(at.now_ms - start));
    return obs;
  }

  void Reconcile(const std::vector<WorkOrder>&) override {}

  absl::Status DeleteImageData(std::string_view, std::string_view) override {
    return absl::OkStatus();
  }

 private:
  int64_t Rate() const {
    return std::max<int64_t>(1, options_.transfer_rate_mib_per_s);
  }
  // Milliseconds to move `mib`, rounded up.
  int64_t TransferMs(int64_t mib) const {
    if (mib <= 0) return 0;
    return (mib * 1000 + Rate() - 1) / Rate();
  }
  // MiB moved in `ms`, rounded down.
  int64_t TransferredIn(int64_t ms) const {
    if (ms <= 0) return 0;
    return Rate() * ms / 1000;
  }

  SimulatedOptions options_;
};

}  // namespace

std::unique_ptr<Backend> NewSimulatedBackend(SimulatedOptions options) {
  return std::make_unique<SimulatedBackend>(std::move(options));
}

}  // namespace ecsimage::backend
