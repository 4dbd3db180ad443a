#include "node/local_images.h"

#include <algorithm>
#include <cstdio>

namespace pullfleet::node {
namespace {

// 2: preloaded, node_accessible and pulled_with (who may use the image without a pull).
constexpr uint32_t kImageRecordVersion = 2;
constexpr uint32_t kPullIntentVersion = 1;

// Zero-padded so that key order is queue order.
std::string IntentKey(uint64_t sequence) {
  char digits[21];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(sequence));
  return std::string("intent/") + digits;
}

std::string RecordKey(const std::string& handler, const std::string& reference) {
  return "image/" + handler + "/" + reference;
}

}  // namespace

Result<std::unique_ptr<LocalImages>> LocalImages::Open(const std::filesystem::path& dir) {
  std::error_code ec;
  // A node's store is DIR/store; a store given as DIR would get a second store inside it.
  if (std::filesystem::exists(dir / "oci-layout", ec)) {
    return Error(ErrorCode::kInvalidArgument,
                 dir.string() +
                     " is an image store itself (it holds oci-layout); give the "
                     "node's data folder, which holds store/ and db/" +
                     (dir.filename() == "store" ? ": " + dir.parent_path().string() : ""));
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(ErrorCode::kIo, "create " + dir.string() + ": " + ec.message());
  auto store = store::ContentStore::Open(dir / "store");
  if (!store.ok()) return std::move(store).error().Wrap("open node store");
  auto db = persistence::RecordDb::Open((dir / "db").string());
  if (!db.ok()) return std::move(db).error().Wrap("open node database");
  return std::unique_ptr<LocalImages>(
      new LocalImages(std::move(store).value(), std::move(db).value()));
}

bool LocalImages::IsComplete(const pb::ImageRecord& record) const {
  if (!store_->Has(record.digest()) || !store_->Has(record.manifest_digest()) ||
      !store_->Has(record.config_digest())) {
    return false;
  }
  for (const auto& layer : record.layer_digests()) {
    if (!store_->Has(layer)) return false;
  }
  return true;
}

std::optional<pb::ImageRecord> LocalImages::Find(const image::Reference& ref,
                                                 const std::string& handler) const {
  if (ref.digest.empty()) {
    pb::ImageRecord record;
    if (!db_->Get(RecordKey(handler, ref.Normalized()), &record).ok()) return std::nullopt;
    if (!IsComplete(record)) return std::nullopt;
    return record;
  }
  // By digest: any record of the same repository that resolved to this digest.
  std::optional<pb::ImageRecord> found;
  const std::string prefix = RecordKey(handler, ref.Repository());
  (void)db_->Scan(prefix, [&](std::string_view, std::string_view value) {
    pb::ImageRecord record;
    if (found || !record.ParseFromArray(value.data(), static_cast<int>(value.size()))) return;
    auto parsed = image::ParseReference(record.reference());
    if (!parsed.ok() || parsed->Repository() != ref.Repository()) return;
    if (record.digest() == ref.digest || record.manifest_digest() == ref.digest) {
      if (IsComplete(record)) found = record;
    }
  });
  return found;
}

Status LocalImages::Record(const pb::ImageRecord& record) {
  pb::ImageRecord copy = record;
  copy.set_record_version(kImageRecordVersion);
  return db_->Put(RecordKey(record.runtime_handler(), record.reference()), copy);
}

std::vector<pb::ImageRecord> LocalImages::List() const {
  std::vector<pb::ImageRecord> records;
  (void)db_->Scan("image/", [&](std::string_view, std::string_view value) {
    pb::ImageRecord record;
    if (record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      records.push_back(std::move(record));
    }
  });
  return records;
}

Status LocalImages::RecordIntent(const pb::PullIntent& intent) {
  pb::PullIntent copy = intent;
  copy.set_record_version(kPullIntentVersion);
  return db_->Put(IntentKey(intent.sequence()), copy);
}

Status LocalImages::ClearIntent(uint64_t sequence) {
  return db_->Delete(IntentKey(sequence));
}

std::vector<pb::PullIntent> LocalImages::TakeLeftoverIntents() {
  std::vector<pb::PullIntent> intents;
  std::vector<std::string> keys;
  (void)db_->Scan("intent/", [&](std::string_view key, std::string_view value) {
    keys.emplace_back(key);
    pb::PullIntent intent;
    // A record of a newer version parses too (unknown fields are skipped).
    if (intent.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      intents.push_back(std::move(intent));
    }
  });
  for (const auto& key : keys) (void)db_->Delete(key);
  uint64_t highest = 0;
  for (const auto& intent : intents) highest = std::max<uint64_t>(highest, intent.sequence());
  if (highest >= next_sequence_) next_sequence_ = highest + 1;
  return intents;
}

}  // namespace pullfleet::node
