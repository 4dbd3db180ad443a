#include "common/base64.h"

#include <openssl/evp.h>

namespace pullfleet {

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(written < 0 ? 0 : static_cast<size_t>(written));
  return out;
}

std::optional<std::string> Base64DecodeLikeGo(std::string_view field) {
  std::string text;
  for (char c : field) {
    if (c != '\r' && c != '\n') text += c;
  }
  // Any other blank is refused below, so the last character decides.
  const bool padded = !text.empty() && text.back() == '=';
  size_t pad = 0;
  if (padded) {
    // Go accepts at most two '=' and only at the end of a whole quantum.
    if (text.size() % 4 != 0) return std::nullopt;
    while (pad < 2 && text.size() > pad && text[text.size() - 1 - pad] == '=') ++pad;
  } else {
    if (text.size() % 4 == 1) return std::nullopt;
    pad = (4 - text.size() % 4) % 4;
    text.append(pad, '=');
  }
  // EVP_DecodeBlock skips leading and trailing blanks and takes '=' anywhere, which Go does
  // not: refuse both here.
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\v' || c == '\f') return std::nullopt;
    if (c == '=' && i < text.size() - pad) return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  // n counts the bytes the padding stands for as zeros; -1 means a character outside the
  // alphabet (or '=' before the end).
  if (n < 0 || static_cast<size_t>(n) < pad) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace pullfleet
