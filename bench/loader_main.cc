// ecsimage_load: fills a database with N images (see loader.h) for manual
// start-up, memory and cost-growth experiments:
//
//   ecsimage_load --db /tmp/big.db --images 1000000
//   ecsimage serve --db /tmp/big.db --listen 127.0.0.1:0
//
// Prints {"db":…,"images":…,"seconds":…,"account_id":…,"token":…}.
#include <chrono>
#include <iostream>
#include <random>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "bench/loader.h"
#include "bench/report.h"
#include "storage/sqlite/sqlite_store.h"

ABSL_FLAG(std::string, db, "", "database file (created if missing)");
ABSL_FLAG(int64_t, images, 1000, "images to add");
ABSL_FLAG(int64_t, batch, ecsimage::bench::LoaderOptions().batch,
          "images per write callback");
ABSL_FLAG(int32_t, submitters, ecsimage::bench::LoaderOptions().submitters,
          "threads submitting write callbacks");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("fills an ecsimage database with N images");
  absl::ParseCommandLine(argc, argv);
  const std::string db = absl::GetFlag(FLAGS_db);
  if (db.empty()) {
    std::cerr << "ecsimage_load: --db is required\n";
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  ecsimage::storage::SqliteStoreOptions options;
  options.path = db;
  options.create_if_missing = true;
  auto store = ecsimage::storage::SqliteStore::Open(options);
  if (!store.ok()) {
    std::cerr << "ecsimage_load: " << store.status().ToString() << "\n";
    return 1;
  }
  ecsimage::bench::LoaderOptions loader_options;
  loader_options.batch = absl::GetFlag(FLAGS_batch);
  loader_options.submitters = absl::GetFlag(FLAGS_submitters);
  ecsimage::bench::Loader loader(**store, std::random_device()(),
                                 loader_options);
  ecsimage::bench::LoadSpec spec;
  spec.images = absl::GetFlag(FLAGS_images);

  auto data = loader.Load(spec);
  if (!data.ok()) {
    std::cerr << "ecsimage_load: " << data.status().ToString() << "\n";
    return 1;
  }
  (*store)->Shutdown();
  store->reset();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  std::cout << ecsimage::bench::Json()
                   .Str("db", db)
                   .Int("images", spec.images)
                   .Num("seconds", seconds)
                   .Str("account_id", data->owner.account_id)
                   .Str("token", data->owner.token)
                   .Build()
            << std::endl;
  return 0;
}
