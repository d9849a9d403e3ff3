// The domain's side of the backend seam, with a fake backend on a real
// SQLite file: call-time refusals become their catalog entries (after a
// ClientToken replay could answer, after the image's own checks), a
// source without data turns UnAvailable, and the orphan collector gets the
// database's answers.
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "service/backend/backend.h"
#include "service/domain/data_presence.h"
#include "service/domain/image_domain.h"
#include "tests/domain/task_test_env.h"
#include "util/absl_compat.h"

namespace ecsimage::domain {
namespace {

using ::ecsimage::testing::EcsCode;
using ::ecsimage::testing::MetaOf;
using ::ecsimage::testing::TaskTestEnv;
using Kind = backend::InputProblem::Kind;

constexpr char kHangzhou[] = "cn-hangzhou";
constexpr char kShanghai[] = "cn-shanghai";

class FakeBackend : public backend::Backend {
 public:
  std::string_view name() const override { return "fake"; }
  int64_t PrepareMs() const override { return 0; }
  int64_t RegisterMs() const override { return 0; }
  backend::Observation Observe(const backend::WorkOrder&,
                               const backend::WorkProgress& at) const override {
    backend::Observation obs;
    obs.done = at.done;
    if (finish.has_value()) {
      obs = *finish;
      obs.state = backend::Observation::State::kDone;
      obs.done = at.total;
      obs.at_ms = at.now_ms;
      return obs;
    }
    if (source_missing) {
      obs.state = backend::Observation::State::kFailed;
      obs.at_ms = at.now_ms;
      obs.failure_code = "ImageDataMissing";
      obs.source_data_missing = true;
    }
    return obs;
  }
  void Reconcile(const std::vector<backend::WorkOrder>& held) override {
    for (const backend::WorkOrder& work : held) held_[work.key] = work;
  }
  bool HasImageData(std::string_view region_id,
                    std::string_view image_id) const override {
    if (on_data_asked) on_data_asked(image_id);
    return without_data.count(absl::StrCat(AV(region_id), "/", AV(image_id))) ==
           0;
  }
  backend::InputProblem CheckImportSource(
      std::string_view bucket, std::string_view object,
      std::string_view format) const override {
    import_asked = {std::string(bucket), std::string(object),
                    std::string(format)};
    return import_problem;
  }
  backend::InputProblem CheckExportTarget(std::string_view, std::string_view,
                                          std::string_view) const override {
    return export_problem;
  }
  int CollectOrphans(backend::DataOwners& owners, int64_t grace_ms) override {
    last_grace_ms = grace_ms;
    for (const auto& [id, ignored] : image_answers) {
      image_answers[id] = owners.OfImage(kHangzhou, id);
    }
    for (const auto& [id, ignored] : task_answers) {
      task_answers[id] = owners.OfTask(kHangzhou, id);
    }
    return 0;
  }
  absl::Status DeleteImageData(std::string_view, std::string_view) override {
    return absl::OkStatus();
  }
  void NoteDataMissing(std::string_view region_id,
                       std::string_view image_id) override {
    noted_missing.push_back(absl::StrCat(AV(region_id), "/", AV(image_id)));
  }

  backend::InputProblem import_problem;
  mutable std::vector<std::string> import_asked;  // bucket, object, format
  backend::InputProblem export_problem;
  bool source_missing = false;
  std::optional<backend::Observation> finish;  // every work item ends so
  std::map<std::string, backend::DataOwner> image_answers;
  std::map<std::string, backend::DataOwner> task_answers;
  int64_t last_grace_ms = -1;
  std::map<std::string, backend::WorkOrder> held_;
  std::set<std::string> without_data;      // "<region>/<image>"
  std::vector<std::string> noted_missing;  // "<region>/<image>"
  std::function<void(std::string_view image_id)> on_data_asked;
};

backend::InputProblem Problem(Kind kind) {
  backend::InputProblem p;
  p.kind = kind;
  p.detail = "what the backend found";
  return p;
}

DomainOptions WithBackend(backend::Backend* b) {
  DomainOptions options;
  options.backend = b;
  return options;
}

class DomainSideTest : public ::testing::Test {
 protected:
  DomainSideTest() : env_(WithBackend(&fake_)) {}

  absl::StatusOr<v1::ImportImageResponse> Import(const std::string& token) {
    v1::ImportImageRequest req;
    req.set_region_id(kHangzhou);
    req.set_oss_bucket("images");
    req.set_oss_object("disks/web.raw");
    req.set_client_token(token);
    v1::ImportImageResponse resp;
    absl::Status s = env_.domain().ImportImage(env_.alice(), req, &resp);
    if (!s.ok()) return s;
    return resp;
  }
  absl::StatusOr<v1::ExportImageResponse> Export(
      const std::string& image, const std::string& format = "") {
    v1::ExportImageRequest req;
    req.set_region_id(kHangzhou);
    req.set_image_id(image);
    req.set_oss_bucket("exports");
    req.set_oss_prefix("web/");
    req.set_image_format(format);
    v1::ExportImageResponse resp;
    absl::Status s = env_.domain().ExportImage(env_.alice(), req, &resp);
    if (!s.ok()) return s;
    return resp;
  }
  void Tick(TaskEngine& engine, int64_t ms) {
    env_.clock().AdvanceMs(ms);
    absl::Status s = engine.Tick();
    ASSERT_TRUE(s.ok()) << s;
  }

  FakeBackend fake_;
  TaskTestEnv env_;
};

TEST_F(DomainSideTest, ImportRefusalsCarryTheirCatalogEntryAndMakeNothing) {
  struct Case {
    Kind kind;
    std::string code;
    std::string message;
    std::string parameter;
  };
  const std::vector<Case> cases = {
      {Kind::kBucketNotFound, "InvalidOSSBucket.NotFound",
       "The specified OSS bucket does not exist in this region.", "OSSBucket"},
      {Kind::kObjectMalformed, "InvalidOSSObject.Malformed",
       "The specified OSS object is wrongly formed.", "OSSObject"},
      {Kind::kObjectNotFound, "InvalidOSSObject.NotFound",
       "The specified OSS object does not exist in this region.", "OSSObject"},
      {Kind::kObjectUnreadable, "InvalidOSSObject.NotFound",
       "The specified OSS object cannot be retrieved.", "OSSObject"},
      {Kind::kFormatUnsupported, "InvalidImageFormat.NotSupported",
       "The format of the specified OSS object is not supported; import RAW "
       "or QCOW2.",
       "OSSObject"},
      {Kind::kBackingFile, "InvalidImageFormat.BackingFile",
       "The specified OSS object refers to a backing file or an external data "
       "file.",
       "OSSObject"},
      {Kind::kFormatCorrupt, "InvalidImageFormat.Corrupt",
       "The specified OSS object is not a valid RAW or QCOW2 image.",
       "OSSObject"},
  };
  const int64_t live = env_.LiveImages(env_.alice(), kHangzhou);
  for (const Case& c : cases) {
    fake_.import_problem = Problem(c.kind);
    absl::Status s = Import("").status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_EQ(EcsCode(s), c.code) << s;
    EXPECT_EQ(s.message(), c.message);
    EXPECT_EQ(MetaOf(s, "parameter"), c.parameter) << s;
  }
  EXPECT_EQ(env_.LiveImages(env_.alice(), kHangzhou), live);
}

TEST_F(DomainSideTest, EcsShapedImportIsCheckedWithItsFormat) {
  v1::ImportImageRequest req;
  req.set_region_id(kHangzhou);
  v1::ImportDiskDeviceMapping* disk = req.add_disk_device_mapping();
  disk->set_oss_bucket("images");
  disk->set_oss_object("disks/web.img");
  disk->set_format("raw");
  v1::ImportImageResponse resp;
  fake_.import_problem = Problem(Kind::kFormatMismatch);
  absl::Status s = env_.domain().ImportImage(env_.alice(), req, &resp);
  EXPECT_EQ(EcsCode(s), "InvalidImageFormat.Mismatch") << s;
  EXPECT_EQ(s.message(),
            "The content of the specified OSS object is not in the specified "
            "Format.");
  EXPECT_EQ(MetaOf(s, "parameter"), "DiskDeviceMapping.1.Format");
  EXPECT_EQ(fake_.import_asked,
            (std::vector<std::string>{"images", "disks/web.img", "RAW"}));
  fake_.import_problem = Problem(Kind::kObjectNotFound);
  s = env_.domain().ImportImage(env_.alice(), req, &resp);
  EXPECT_EQ(EcsCode(s), "InvalidOSSObject.NotFound") << s;
  EXPECT_EQ(MetaOf(s, "parameter"), "DiskDeviceMapping.1.OSSObject");
  fake_.import_problem = {};
  ASSERT_TRUE(env_.domain().ImportImage(env_.alice(), req, &resp).ok());
  EXPECT_EQ(env_.Task(resp.task_id()).image_format, "RAW");
}

TEST_F(DomainSideTest, ARetriedImportReplaysEvenWhenItsObjectWentAway) {
  absl::StatusOr<v1::ImportImageResponse> first = Import("token-1");
  ASSERT_TRUE(first.ok()) << first.status();
  fake_.import_problem = Problem(Kind::kObjectNotFound);
  absl::StatusOr<v1::ImportImageResponse> again = Import("token-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->image_id(), first->image_id());
  EXPECT_EQ(again->task_id(), first->task_id());
  EXPECT_EQ(EcsCode(Import("token-2").status()), "InvalidOSSObject.NotFound");
}

TEST_F(DomainSideTest, ExportRefusalComesAfterTheImagesOwnChecks) {
  fake_.export_problem = Problem(Kind::kPrefixMalformed);
  storage::ImageRow creating =
      env_.PutImage(env_.alice(), kHangzhou, "Creating");
  EXPECT_EQ(EcsCode(Export(creating.image_id).status()),
            "IncorrectImageStatus");
  storage::ImageRow image = env_.PutImage(env_.alice(), kHangzhou, "Available");
  absl::Status s = Export(image.image_id).status();
  EXPECT_EQ(EcsCode(s), "InvalidOSSPrefix.Malformed") << s;
  EXPECT_EQ(MetaOf(s, "parameter"), "OSSPrefix");
  fake_.export_problem = Problem(Kind::kBucketNotFound);
  EXPECT_EQ(EcsCode(Export(image.image_id).status()),
            "InvalidOSSBucket.NotFound");
  fake_.export_problem = {};
  EXPECT_TRUE(Export(image.image_id).ok());
}

TEST_F(DomainSideTest, AnExportThatFindsNoDataTurnsTheImageUnAvailable) {
  storage::ImageRow image = env_.PutImage(env_.alice(), kHangzhou, "Available");
  absl::StatusOr<v1::ExportImageResponse> task = Export(image.image_id);
  ASSERT_TRUE(task.ok()) << task.status();
  fake_.source_missing = true;
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine, 0);  // the first tick only records the time
  Tick(engine, 100);
  EXPECT_EQ(env_.Task(task->task_id()).status, "Failed");
  EXPECT_EQ(env_.Image(kHangzhou, image.image_id).status, "UnAvailable");
}

TEST_F(DomainSideTest,
       ACopyWhoseSourceHasNoDataFailsAndTheSourceTurnsUnAvailable) {
  storage::CopyTaskRow copy =
      env_.PutCopy(env_.alice(), kHangzhou, kShanghai, 1024);
  fake_.source_missing = true;
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine, 0);
  for (int i = 0; i < 4; ++i) Tick(engine, 100);
  EXPECT_EQ(env_.CopyInto(copy.dest_image_rowid).phase, "FAILED");
  EXPECT_EQ(env_.ImageAt(copy.dest_image_rowid).status, "CreateFailed");
  EXPECT_EQ(env_.ImageAt(copy.source_image_rowid).status, "UnAvailable");
}

TEST_F(DomainSideTest, TheOrphanCollectorGetsTheDatabasesAnswers) {
  storage::ImageRow live = env_.PutImage(env_.alice(), kHangzhou, "Available");
  storage::ImageRow busy = env_.PutImage(env_.alice(), kHangzhou, "Creating");
  storage::ImageRow gone = env_.PutImage(env_.alice(), kHangzhou, "Available");
  gone.deleted_at_ms = env_.clock().NowMs();
  env_.Write([&](storage::WriteTxn& txn) { return txn.UpdateImage(gone); });
  absl::StatusOr<v1::ExportImageResponse> running = Export(live.image_id);
  ASSERT_TRUE(running.ok());
  fake_.image_answers = {{live.image_id, {}},
                         {busy.image_id, {}},
                         {gone.image_id, {}},
                         {"m-nosuchimage0000000", {}}};
  fake_.task_answers = {{running->task_id(), {}}, {"t-nosuchtask00000000", {}}};
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine, 0);  // the first tick moves nothing, sweeps nothing
  EXPECT_EQ(fake_.last_grace_ms, -1);
  Tick(engine, 100);
  EXPECT_EQ(fake_.last_grace_ms, 2 * TaskLeaseOptions{}.lease_ms);
  using Owner = backend::DataOwner;
  EXPECT_EQ(fake_.image_answers[live.image_id], Owner::kKept);
  EXPECT_EQ(fake_.image_answers[busy.image_id], Owner::kWorking);
  EXPECT_EQ(fake_.image_answers[gone.image_id], Owner::kNone);
  EXPECT_EQ(fake_.image_answers["m-nosuchimage0000000"], Owner::kNone);
  EXPECT_EQ(fake_.task_answers[running->task_id()], Owner::kWorking);
  EXPECT_EQ(fake_.task_answers["t-nosuchtask00000000"], Owner::kNone);
}

TEST_F(DomainSideTest, ExportImageFormatIsRecordedAndHandedToTheBackend) {
  storage::ImageRow image = env_.PutImage(env_.alice(), kHangzhou, "Available");
  absl::StatusOr<v1::ExportImageResponse> qcow2 =
      Export(image.image_id, "qcow2");
  ASSERT_TRUE(qcow2.ok()) << qcow2.status();
  EXPECT_EQ(env_.Task(qcow2->task_id()).image_format, "QCOW2");
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine, 0);  // the first tick only records the time
  Tick(engine, 100);
  const std::string key = absl::StrCat("task/", qcow2->task_id());
  ASSERT_EQ(fake_.held_.count(key), 1u);
  EXPECT_EQ(fake_.held_[key].format, "QCOW2");
  EXPECT_EQ(fake_.held_[key].kind, backend::WorkKind::kExport);

  // One export per image at a time: the next ones on other images.
  storage::ImageRow other = env_.PutImage(env_.alice(), kHangzhou, "Available");
  absl::StatusOr<v1::ExportImageResponse> raw = Export(other.image_id);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(env_.Task(raw->task_id()).image_format, "RAW");
  storage::ImageRow third = env_.PutImage(env_.alice(), kHangzhou, "Available");
  ASSERT_TRUE(Export(third.image_id, "Raw").ok());

  for (const char* bad : {"vhd", "vmdk", "qcow", "RAW ", "raw,qcow2"}) {
    absl::Status s = Export(third.image_id, bad).status();
    EXPECT_EQ(EcsCode(s), "InvalidParameter") << bad << ": " << s;
    EXPECT_EQ(MetaOf(s, "parameter"), "ImageFormat") << bad;
  }
}

TEST_F(DomainSideTest, StartUpCheckCountsFinishedImagesWithoutData) {
  env_.PutImage(env_.alice(), kHangzhou, "Available");
  storage::ImageRow b = env_.PutImage(env_.alice(), kShanghai, "Available");
  storage::ImageRow d = env_.PutImage(env_.bob(), kHangzhou, "Deprecated");
  storage::ImageRow creating =
      env_.PutImage(env_.alice(), kHangzhou, "Creating");
  storage::ImageRow failed =
      env_.PutImage(env_.alice(), kHangzhou, "CreateFailed");
  storage::ImageRow gone = env_.PutImage(env_.bob(), kShanghai, "Available");
  gone.deleted_at_ms = env_.clock().NowMs();
  env_.Write([&](storage::WriteTxn& txn) { return txn.UpdateImage(gone); });
  // Unfinished, deleted and system images are not asked about.
  for (const storage::ImageRow* i : {&creating, &failed, &gone}) {
    fake_.without_data.insert(absl::StrCat(i->region_id, "/", i->image_id));
  }
  absl::StatusOr<DataPresence> all =
      CheckImageData(env_.store(), fake_, /*page_size=*/2);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->checked, 3);
  EXPECT_EQ(all->missing, 0);

  fake_.without_data.insert(absl::StrCat(kShanghai, "/", b.image_id));
  fake_.without_data.insert(absl::StrCat(kHangzhou, "/", d.image_id));
  absl::StatusOr<DataPresence> two =
      CheckImageData(env_.store(), fake_, /*page_size=*/2);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->checked, 3);
  EXPECT_EQ(two->missing, 2);
  EXPECT_EQ(two->examples, (std::vector<std::string>{
                               absl::StrCat(kShanghai, "/", b.image_id),
                               absl::StrCat(kHangzhou, "/", d.image_id)}));
  const std::string message = MissingDataMessage(*two);
  EXPECT_NE(message.find("2 of the database's 3 finished images"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(b.image_id), std::string::npos) << message;

  // Deleted by another replica between the page and the question (its data
  // removed after the tombstone): read again, it does not count.
  fake_.on_data_asked = [&](std::string_view id) {
    if (id != b.image_id) return;
    storage::ImageRow now = env_.Image(kShanghai, b.image_id);
    if (now.deleted_at_ms.has_value()) return;
    now.deleted_at_ms = env_.clock().NowMs();
    env_.Write([&](storage::WriteTxn& txn) { return txn.UpdateImage(now); });
  };
  absl::StatusOr<DataPresence> raced =
      CheckImageData(env_.store(), fake_, /*page_size=*/2);
  ASSERT_TRUE(raced.ok()) << raced.status();
  EXPECT_EQ(raced->checked, 3);
  EXPECT_EQ(raced->missing, 1);
  EXPECT_EQ(
      raced->examples,
      (std::vector<std::string>{absl::StrCat(kHangzhou, "/", d.image_id)}));
}

TEST_F(DomainSideTest, TheBackgroundCheckTurnsImagesWithoutDataUnAvailable) {
  storage::ImageRow a = env_.PutImage(env_.alice(), kHangzhou, "Available");
  storage::ImageRow b = env_.PutImage(env_.alice(), kHangzhou, "Available");
  storage::ImageRow creating =
      env_.PutImage(env_.alice(), kHangzhou, "Creating");
  storage::ImageRow d = env_.PutImage(env_.bob(), kShanghai, "Deprecated");
  storage::ImageRow raced = env_.PutImage(env_.bob(), kShanghai, "Available");
  for (const storage::ImageRow* i : {&b, &creating, &d, &raced}) {
    fake_.without_data.insert(absl::StrCat(i->region_id, "/", i->image_id));
  }
  // Deleted by another replica between the page and the question: not
  // marked.
  fake_.on_data_asked = [&](std::string_view id) {
    if (id != raced.image_id) return;
    storage::ImageRow now = env_.Image(kShanghai, raced.image_id);
    if (now.deleted_at_ms.has_value()) return;
    now.deleted_at_ms = env_.clock().NowMs();
    env_.Write([&](storage::WriteTxn& txn) { return txn.UpdateImage(now); });
  };
  DomainOptions options = env_.options();
  options.data_check_per_tick = 2;
  TaskEngine engine(env_.store(), env_.clock(), options);
  Tick(engine, 0);  // the first tick checks nothing
  EXPECT_EQ(env_.Image(kHangzhou, b.image_id).status, "Available");
  Tick(engine, 100);  // a and b
  EXPECT_EQ(env_.Image(kHangzhou, a.image_id).status, "Available");
  EXPECT_EQ(env_.Image(kHangzhou, b.image_id).status, "UnAvailable");
  EXPECT_EQ(env_.Image(kShanghai, d.image_id).status, "Deprecated");
  Tick(engine, 100);  // d and raced: the walk reaches its end
  EXPECT_EQ(env_.Image(kShanghai, d.image_id).status, "UnAvailable");
  EXPECT_EQ(env_.Image(kHangzhou, creating.image_id).status, "Creating");
  EXPECT_EQ(
      fake_.noted_missing,
      (std::vector<std::string>{absl::StrCat(kHangzhou, "/", b.image_id),
                                absl::StrCat(kShanghai, "/", d.image_id)}));
  // Round and round: an image that loses its data later is found on the
  // next lap.
  fake_.without_data.insert(absl::StrCat(kHangzhou, "/", a.image_id));
  Tick(engine, 100);
  Tick(engine, 100);
  EXPECT_EQ(env_.Image(kHangzhou, a.image_id).status, "UnAvailable");
  EXPECT_EQ(fake_.noted_missing.size(), 3u);
}

TEST_F(DomainSideTest, TheBackgroundCheckIsOffByDefault) {
  storage::ImageRow b = env_.PutImage(env_.alice(), kHangzhou, "Available");
  fake_.without_data.insert(absl::StrCat(kHangzhou, "/", b.image_id));
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine, 0);
  for (int i = 0; i < 3; ++i) Tick(engine, 100);
  EXPECT_EQ(env_.Image(kHangzhou, b.image_id).status, "Available");
  EXPECT_TRUE(fake_.noted_missing.empty());
}

TEST_F(DomainSideTest, AnImportedDiskLargerThanAskedGrowsItsMapping) {
  v1::ImportImageRequest req;
  req.set_region_id(kHangzhou);
  for (int size : {30, 5, 7}) {
    v1::ImportDiskDeviceMapping* disk = req.add_disk_device_mapping();
    disk->set_oss_bucket("images");
    disk->set_oss_object("disk.raw");
    disk->set_disk_image_size(size);
  }
  v1::ImportImageResponse resp;
  ASSERT_TRUE(env_.domain().ImportImage(env_.alice(), req, &resp).ok());
  backend::Observation done;
  done.size_gib = 50;
  done.disk_sizes_gib = {50, 9, 1};  // the third fits in what it asked
  fake_.finish = done;
  TaskEngine engine(env_.store(), env_.clock(), env_.options());
  Tick(engine, 0);
  Tick(engine, 100);
  EXPECT_EQ(env_.Task(resp.task_id()).status, "Finished");
  storage::ImageRow image = env_.Image(kHangzhou, resp.image_id());
  EXPECT_EQ(image.status, "Available");
  EXPECT_EQ(image.size_gib, 50);
  ASSERT_EQ(image.disks.size(), 3u);
  EXPECT_EQ(image.disks[0].size_gib, 50);
  EXPECT_EQ(image.disks[1].size_gib, 9);
  EXPECT_EQ(image.disks[2].size_gib, 7);
}

class FakeIndex : public backend::ImageDataIndex {
 public:
  bool Has(std::string_view region_id,
           std::string_view image_id) const override {
    return listed.count(absl::StrCat(AV(region_id), "/", AV(image_id))) > 0;
  }
  std::set<std::string> listed;  // "<region>/<image>"
};

TEST_F(DomainSideTest, StartUpCheckAsksOnlyWhatTheIndexDoesNotList) {
  storage::ImageRow a = env_.PutImage(env_.alice(), kHangzhou, "Available");
  storage::ImageRow b = env_.PutImage(env_.alice(), kHangzhou, "Available");
  storage::ImageRow c = env_.PutImage(env_.alice(), kHangzhou, "Available");
  FakeIndex index;
  index.listed.insert(absl::StrCat(kHangzhou, "/", a.image_id));
  fake_.without_data.insert(absl::StrCat(kHangzhou, "/", c.image_id));
  std::vector<std::string> asked;
  fake_.on_data_asked = [&](std::string_view id) { asked.emplace_back(id); };
  absl::StatusOr<DataPresence> presence =
      CheckImageData(env_.store(), fake_, /*page_size=*/2, &index);
  ASSERT_TRUE(presence.ok()) << presence.status();
  EXPECT_EQ(presence->checked, 3);
  EXPECT_EQ(presence->missing, 1);  // c: not listed, and without data
  // a is listed: never asked; b and c are; c again after a fresh read.
  EXPECT_EQ(asked,
            (std::vector<std::string>{b.image_id, c.image_id, c.image_id}));
}

}  // namespace
}  // namespace ecsimage::domain
