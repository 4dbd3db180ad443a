// Encryption at rest for records that hold secrets (pull secrets in the coordinator's
// database), so the RocksDB files never contain a password or token in plain text, as
// Kubernetes' EncryptionConfiguration does for etcd.
//
// AES-256-GCM with a random 96-bit nonce per record. The 32-byte key lives in a file of its
// own (mode 0600) beside the database, created on first use; whoever can read that file can
// read the secrets, so deployments that need more put it on a different disk or in a KMS.
//
// Thread-safe: immutable after construction.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "messages/pullfleet.pb.h"

namespace pullfleet::persistence {

class Sealer {
 public:
  // Reads the key at `key_path`, or creates it (with parent folders) when absent.
  static Result<Sealer> LoadOrCreate(const std::string& key_path);

  pb::SealedRecord Seal(std::string_view plaintext) const;
  // kIo when the record was not sealed with this key or was altered.
  Result<std::string> Open(const pb::SealedRecord& record) const;

 private:
  explicit Sealer(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace pullfleet::persistence
