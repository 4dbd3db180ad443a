#include "persistence/record_db.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "messages/pullfleet.pb.h"

namespace pullfleet::persistence {
namespace {

class RecordDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pf-recorddb-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

pb::Pod MakePod(const std::string& name) {
  pb::Pod pod;
  pod.set_record_version(1);
  pod.mutable_metadata()->set_name(name);
  pod.mutable_metadata()->set_namespace_("default");
  pod.mutable_spec()->add_containers()->set_image("busybox:" + name);
  return pod;
}

TEST_F(RecordDbTest, PutGetSurvivesReopen) {
  {
    auto db = RecordDb::Open(dir_.string());
    ASSERT_TRUE(db.ok()) << db.error().message();
    ASSERT_TRUE((*db)->Put("pod/default/a", MakePod("a")).ok());
  }
  auto db = RecordDb::Open(dir_.string());
  ASSERT_TRUE(db.ok());
  pb::Pod pod;
  ASSERT_TRUE((*db)->Get("pod/default/a", &pod).ok());
  EXPECT_EQ(pod.spec().containers(0).image(), "busybox:a");
}

TEST_F(RecordDbTest, GetMissingIsNotFound) {
  auto db = RecordDb::Open(dir_.string());
  ASSERT_TRUE(db.ok());
  pb::Pod pod;
  auto status = (*db)->Get("pod/default/missing", &pod);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
}

TEST_F(RecordDbTest, ScanVisitsOnlyThePrefixInOrder) {
  auto db = RecordDb::Open(dir_.string());
  ASSERT_TRUE(db.ok());
  RecordDb::Batch batch;
  batch.Put("pod/b/2", MakePod("2"));
  batch.Put("pod/a/1", MakePod("1"));
  batch.Put("workload/x", MakePod("x"));
  ASSERT_TRUE((*db)->Commit(batch).ok());

  std::vector<std::string> keys;
  ASSERT_TRUE(
      (*db)
          ->Scan("pod/", [&](std::string_view key, std::string_view) { keys.emplace_back(key); })
          .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"pod/a/1", "pod/b/2"}));
}

TEST_F(RecordDbTest, BatchDeleteRemoves) {
  auto db = RecordDb::Open(dir_.string());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Put("k", MakePod("k")).ok());
  RecordDb::Batch batch;
  batch.Delete("k");
  ASSERT_TRUE((*db)->Commit(batch).ok());
  pb::Pod pod;
  EXPECT_EQ((*db)->Get("k", &pod).error().code(), ErrorCode::kNotFound);
}

// A database another process holds open is named as such, not only with RocksDB's words.
TEST_F(RecordDbTest, OpenedByAnotherProcessSaysSo) {
  int opened[2], release[2];
  ASSERT_EQ(::pipe(opened), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {  // holds the database until told to let go
    auto db = RecordDb::Open(dir_.string());
    char byte = db.ok() ? 'y' : 'n';
    if (::write(opened[1], &byte, 1) != 1) ::_exit(2);
    (void)::read(release[0], &byte, 1);
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(opened[0], &byte, 1), 1);
  auto second = RecordDb::Open(dir_.string());
  ASSERT_EQ(::write(release[1], "x", 1), 1);
  int status = 0;
  ::waitpid(holder, &status, 0);
  ASSERT_EQ(byte, 'y') << "the other process could not open the database";
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message().find("in use by another process"), std::string::npos)
      << second.error().message();
  EXPECT_NE(second.error().message().find(dir_.string()), std::string::npos)
      << second.error().message();
  EXPECT_TRUE(RecordDb::Open(dir_.string()).ok()) << "free again once the other exited";
}

}  // namespace
}  // namespace pullfleet::persistence
