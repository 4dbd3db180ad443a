#include "persistence/sealer.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

namespace pullfleet::persistence {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr uint32_t kSealedRecordVersion = 1;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

Result<std::string> CreateKey(const std::string& path) {
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), kKeyBytes) != 1) {
    return Error(ErrorCode::kInternal, "no randomness for a new secrets key");
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return Error(ErrorCode::kIo, "create secrets key " + path);
  const bool written = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) return Error(ErrorCode::kIo, "write secrets key " + path);
  return key;
}

}  // namespace

Result<Sealer> Sealer::LoadOrCreate(const std::string& key_path) {
  if (!std::filesystem::exists(key_path)) {
    auto key = CreateKey(key_path);
    if (!key.ok()) return key.error();
    return Sealer(std::move(key).value());
  }
  std::ifstream in(key_path, std::ios::binary);
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (key.size() != kKeyBytes) {
    return Error(ErrorCode::kIo, "secrets key " + key_path + " is not " +
                                     std::to_string(kKeyBytes) + " bytes long");
  }
  return Sealer(std::move(key));
}

pb::SealedRecord Sealer::Seal(std::string_view plaintext) const {
  pb::SealedRecord record;
  record.set_record_version(kSealedRecordVersion);
  std::string nonce(kNonceBytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), kNonceBytes);
  std::string out(plaintext.size() + kTagBytes, '\0');
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(key_.data()),
                     reinterpret_cast<const unsigned char*>(nonce.data()));
  EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                    reinterpret_cast<const unsigned char*>(plaintext.data()),
                    static_cast<int>(plaintext.size()));
  int tail = 0;
  EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &tail);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                      out.data() + plaintext.size());
  record.set_nonce(nonce);
  record.set_ciphertext(out);
  return record;
}

Result<std::string> Sealer::Open(const pb::SealedRecord& record) const {
  const auto& sealed = record.ciphertext();
  if (record.nonce().size() != kNonceBytes || sealed.size() < kTagBytes) {
    return Error(ErrorCode::kIo, "sealed record is malformed");
  }
  const size_t size = sealed.size() - kTagBytes;
  std::string out(size, '\0');
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(key_.data()),
                     reinterpret_cast<const unsigned char*>(record.nonce().data()));
  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                    reinterpret_cast<const unsigned char*>(sealed.data()), static_cast<int>(size));
  std::string tag = sealed.substr(size);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data());
  int tail = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &tail) !=
      1) {
    return Error(ErrorCode::kIo, "sealed record does not open with this key (altered, or sealed "
                                 "with another key)");
  }
  return out;
}

}  // namespace pullfleet::persistence
