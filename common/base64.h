// Base64 as registries and Docker config files use it, on OpenSSL's encoder and decoder.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pullfleet {

// Standard alphabet, padded ("user:pass" -> "dXNlcjpwYXNz").
std::string Base64Encode(std::string_view bytes);

// Decodes the way Go's encoding/base64 does for the kubelet's config.json "auth" fields: text
// ending in '=' must be padded base64, anything else is read as unpadded base64. Line breaks
// are ignored, other blanks refused. nullopt when the text is not base64.
std::optional<std::string> Base64DecodeLikeGo(std::string_view text);

}  // namespace pullfleet
