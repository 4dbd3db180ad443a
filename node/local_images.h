// The images present on one node: its content store (an OCI image layout) and the records
// of which reference resolved to which digest, kept in the node's RocksDB.
//
// Thread-safe: the node's pod chains read it while transfer threads write it. An image
// counts as present only when its record exists and every blob it names is in the store,
// so a record can never point at missing or partial content.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/reference.h"
#include "messages/pullfleet.pb.h"
#include "persistence/record_db.h"
#include "store/content_store.h"

namespace pullfleet::node {

class LocalImages {
 public:
  // Opens DIR/store (the OCI layout) and DIR/db (RocksDB), creating them when absent.
  static Result<std::unique_ptr<LocalImages>> Open(const std::filesystem::path& dir);

  store::ContentStore& store() { return *store_; }
  const std::filesystem::path& store_path() const { return store_->root(); }

  // The complete image for `ref` under runtime handler `handler` ("" for the default), or
  // nullopt. A digest reference matches any record of the same repository with that digest.
  std::optional<pb::ImageRecord> Find(const image::Reference& ref,
                                      const std::string& handler) const;

  // Records a pulled image (after its blobs were committed to the store).
  Status Record(const pb::ImageRecord& record);

  // Reports the latency of every write to the image database (see RecordDb); set before the
  // node's actors start.
  void ObserveWrites(persistence::RecordDb::WriteObserver observer) {
    db_->set_write_observer(std::move(observer));
  }

  // Every recorded image, complete or not, in key order.
  std::vector<pb::ImageRecord> List() const;

  // Pull intents: the node's pull queue writes one when it admits a pull (before the first
  // byte) and clears it when the pull ends, so the database holds the queue in order. Those
  // left at start-up name pulls a crash interrupted (see TakeLeftoverIntents).
  Status RecordIntent(const pb::PullIntent& intent);
  Status ClearIntent(uint64_t sequence);
  // Reads and deletes every intent, in queue order, and returns them; also makes later
  // sequence numbers start above the highest one found.
  std::vector<pb::PullIntent> TakeLeftoverIntents();
  // The next queue sequence number (thread-safe).
  uint64_t NextIntentSequence() { return next_sequence_++; }

 private:
  LocalImages(std::unique_ptr<store::ContentStore> store, std::unique_ptr<persistence::RecordDb> db)
      : store_(std::move(store)), db_(std::move(db)) {}
  bool IsComplete(const pb::ImageRecord& record) const;

  std::unique_ptr<store::ContentStore> store_;
  std::unique_ptr<persistence::RecordDb> db_;
  std::atomic<uint64_t> next_sequence_{1};
};

}  // namespace pullfleet::node
