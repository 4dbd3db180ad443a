// A RocksDB database of protobuf records under string keys, with prefix scans and atomic
// batches. The only persistence primitive: the coordinator keeps pods and workloads in one,
// each node keeps its image records in another.
//
// Durability: writes go through RocksDB's write-ahead log without fsync (sync=false), so a
// killed process loses nothing; a power loss may lose the last writes, which the coordinator
// and nodes re-derive (nodes re-report, images are re-verified from the store).
//
// Thread-safe (RocksDB is); an instance is owned by one actor or one node-wide object.
#pragma once

#include <google/protobuf/message_lite.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace rocksdb {
class DB;
}

namespace pullfleet::persistence {

class RecordDb {
 public:
  // Opens or creates the database in folder `path`.
  static Result<std::unique_ptr<RecordDb>> Open(const std::string& path);
  ~RecordDb();

  Status Put(std::string_view key, const google::protobuf::MessageLite& record);
  Status Delete(std::string_view key);
  // kNotFound when absent; kIo when the stored bytes do not parse as `record`'s type.
  Status Get(std::string_view key, google::protobuf::MessageLite* record) const;

  // Calls `visit(key, bytes)` for every key starting with `prefix`, in key order.
  Status Scan(std::string_view prefix,
              const std::function<void(std::string_view key, std::string_view value)>& visit) const;

  // A set of changes applied atomically by Commit.
  class Batch {
   public:
    void Put(std::string_view key, const google::protobuf::MessageLite& record);
    void Delete(std::string_view key);
    bool empty() const { return ops_.empty(); }

   private:
    friend class RecordDb;
    struct Op {
      std::string key;
      std::string value;
      bool is_delete;
    };
    std::vector<Op> ops_;
  };
  Status Commit(const Batch& batch);

  // Told the duration in seconds of every write (Put, Delete, Commit), for metrics. Set it
  // once, before the database is shared between threads; the callback must be thread-safe.
  using WriteObserver = std::function<void(double seconds)>;
  void set_write_observer(WriteObserver observer) { write_observer_ = std::move(observer); }

  const std::string& path() const { return path_; }

 private:
  RecordDb(std::unique_ptr<rocksdb::DB> db, std::string path);
  void Observe(std::chrono::steady_clock::time_point started) const;

  std::unique_ptr<rocksdb::DB> db_;
  WriteObserver write_observer_;
  std::string path_;
};

}  // namespace pullfleet::persistence
