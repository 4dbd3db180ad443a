#include "persistence/record_db.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

namespace pullfleet::persistence {
namespace {

Error IoError(std::string_view what, const rocksdb::Status& status) {
  return Error(ErrorCode::kIo, std::string(what) + ": " + status.ToString());
}

rocksdb::Slice ToSlice(std::string_view s) {
  return rocksdb::Slice(s.data(), s.size());
}

}  // namespace

RecordDb::RecordDb(std::unique_ptr<rocksdb::DB> db, std::string path)
    : db_(std::move(db)), path_(std::move(path)) {}

RecordDb::~RecordDb() = default;

Result<std::unique_ptr<RecordDb>> RecordDb::Open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  // Small records and modest volume: keep the memory footprint of each node small.
  options.write_buffer_size = 4 << 20;
  options.max_open_files = 64;
  options.keep_log_file_num = 2;
  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::Open(options, path, &raw);
  if (status.IsIOError() && status.ToString().find("lock file") != std::string::npos) {
    // RocksDB's own words ("While lock file: ...: Resource temporarily unavailable") do not
    // say that another process has the database open, which is what it almost always means.
    return IoError("open database " + path +
                       ": in use by another process (is a pullfleet node, coordinator or image "
                       "pull running with this data folder?)",
                   status);
  }
  if (!status.ok()) return IoError("open database " + path, status);
  return std::unique_ptr<RecordDb>(new RecordDb(std::unique_ptr<rocksdb::DB>(raw), path));
}

void RecordDb::Observe(std::chrono::steady_clock::time_point started) const {
  if (!write_observer_) return;
  write_observer_(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

Status RecordDb::Put(std::string_view key, const google::protobuf::MessageLite& record) {
  const std::string value = record.SerializeAsString();
  const auto started = std::chrono::steady_clock::now();
  auto status = db_->Put(rocksdb::WriteOptions(), ToSlice(key), value);
  Observe(started);
  if (!status.ok()) return IoError("write " + std::string(key), status);
  return Status::Ok();
}

Status RecordDb::Delete(std::string_view key) {
  const auto started = std::chrono::steady_clock::now();
  auto status = db_->Delete(rocksdb::WriteOptions(), ToSlice(key));
  Observe(started);
  if (!status.ok()) return IoError("delete " + std::string(key), status);
  return Status::Ok();
}

Status RecordDb::Get(std::string_view key, google::protobuf::MessageLite* record) const {
  std::string value;
  auto status = db_->Get(rocksdb::ReadOptions(), ToSlice(key), &value);
  if (status.IsNotFound()) return Error(ErrorCode::kNotFound, "no record " + std::string(key));
  if (!status.ok()) return IoError("read " + std::string(key), status);
  if (!record->ParseFromString(value)) {
    return Error(ErrorCode::kIo,
                 "record " + std::string(key) + " does not parse as " + record->GetTypeName());
  }
  return Status::Ok();
}

Status RecordDb::Scan(
    std::string_view prefix,
    const std::function<void(std::string_view key, std::string_view value)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ToSlice(prefix)); it->Valid() && it->key().starts_with(ToSlice(prefix));
       it->Next()) {
    visit(std::string_view(it->key().data(), it->key().size()),
          std::string_view(it->value().data(), it->value().size()));
  }
  if (!it->status().ok()) return IoError("scan " + std::string(prefix), it->status());
  return Status::Ok();
}

void RecordDb::Batch::Put(std::string_view key, const google::protobuf::MessageLite& record) {
  ops_.push_back(Op{std::string(key), record.SerializeAsString(), false});
}

void RecordDb::Batch::Delete(std::string_view key) {
  ops_.push_back(Op{std::string(key), std::string(), true});
}

Status RecordDb::Commit(const Batch& batch) {
  rocksdb::WriteBatch write_batch;
  for (const auto& op : batch.ops_) {
    if (op.is_delete) {
      write_batch.Delete(op.key);
    } else {
      write_batch.Put(op.key, op.value);
    }
  }
  const auto started = std::chrono::steady_clock::now();
  auto status = db_->Write(rocksdb::WriteOptions(), &write_batch);
  Observe(started);
  if (!status.ok()) return IoError("write batch of " + std::to_string(batch.ops_.size()), status);
  return Status::Ok();
}

}  // namespace pullfleet::persistence
