// Pure pieces of the OCI Distribution protocol that the Client uses: parsing of
// WWW-Authenticate challenges and token replies, and mapping of HTTP statuses and registry
// error bodies to pullfleet errors. No I/O; safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace pullfleet::registry {

// One challenge of a WWW-Authenticate header (RFC 7235), e.g.
//   Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"
struct Challenge {
  std::string scheme;                         // lowercased: "basic", "bearer"
  std::map<std::string, std::string> params;  // keys lowercased, values unquoted

  // The parameter's value, or "" when absent.
  std::string Param(std::string_view key) const;
};

// Parses every challenge in one header value. Malformed parameters are skipped, never
// fatal: the caller decides from what it finds (no challenge at all means "cannot log in").
std::vector<Challenge> ParseChallenges(std::string_view header);

// A bearer token reply of a token server.
struct TokenReply {
  std::string token;         // "token", or "access_token" when that is the only one
  int64_t expires_in_s = 0;  // lifetime; 60 when the server does not say (the spec's default)
};

// Parses the JSON body of a token server's reply. kInvalidArgument when it carries no token.
Result<TokenReply> ParseTokenReply(std::string_view body);

// The pullfleet error code for a non-success HTTP status of a registry.
ErrorCode ErrorCodeForStatus(long status);

// "HTTP 404 MANIFEST_UNKNOWN: manifest unknown" from a status and an error body in the
// registry's JSON error format (or just "HTTP 503" when the body says nothing useful). The
// body's text is cut short and stripped of control characters.
std::string DescribeHttpError(long status, std::string_view body);

// The scope string a pull of `repository` needs: "repository:<name>:pull".
std::string PullScope(std::string_view repository);

// True for a repository path of the distribution grammar (lowercase components separated
// by "/", with ".", "_", "__" or "-" runs inside components).
bool IsValidRepository(std::string_view repository);

// True for a tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) or an "algorithm:hex" digest.
bool IsValidManifestReference(std::string_view reference);

}  // namespace pullfleet::registry
