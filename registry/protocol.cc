#include "registry/protocol.h"

#include <cctype>
#include <nlohmann/json.hpp>

namespace pullfleet::registry {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsTokenChar(char c) {
  // RFC 7230 tchar.
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A cursor over a header value.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  bool done() const { return pos_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[pos_]; }
  void SkipSpace() {
    while (!done() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  // Skips spaces and commas; returns how many commas were seen.
  int SkipSeparators() {
    int commas = 0;
    while (!done() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == ',')) {
      if (s_[pos_] == ',') ++commas;
      ++pos_;
    }
    return commas;
  }
  std::string_view Token() {
    size_t start = pos_;
    while (!done() && IsTokenChar(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // A quoted-string with backslash escapes, positioned on the opening quote.
  std::string Quoted() {
    std::string out;
    ++pos_;
    while (!done() && s_[pos_] != '"') {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
      out.push_back(s_[pos_++]);
    }
    if (!done()) ++pos_;  // closing quote
    return out;
  }
  size_t pos() const { return pos_; }
  void set_pos(size_t p) { pos_ = p; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

std::string Printable(std::string_view s, size_t limit) {
  std::string out;
  for (char c : s.substr(0, limit)) {
    out.push_back(std::isprint(static_cast<unsigned char>(c)) ? c : ' ');
  }
  if (s.size() > limit) out += "...";
  return out;
}

}  // namespace

std::string Challenge::Param(std::string_view key) const {
  auto it = params.find(std::string(key));
  return it == params.end() ? "" : it->second;
}

std::vector<Challenge> ParseChallenges(std::string_view header) {
  std::vector<Challenge> out;
  Scanner sc(header);
  sc.SkipSeparators();
  while (!sc.done()) {
    std::string_view scheme = sc.Token();
    if (scheme.empty()) {
      // Not a token where a scheme must start: skip one character and look again.
      sc.set_pos(sc.pos() + 1);
      sc.SkipSeparators();
      continue;
    }
    Challenge ch;
    ch.scheme = Lower(scheme);
    sc.SkipSpace();
    // auth-params until the next thing that is a bare token (a new scheme).
    while (!sc.done()) {
      size_t mark = sc.pos();
      sc.SkipSeparators();
      std::string_view key = sc.Token();
      sc.SkipSpace();
      if (key.empty() || sc.peek() != '=') {
        if (key.empty() && !sc.done()) {
          // token68 or garbage: skip it up to the next separator.
          while (!sc.done() && sc.peek() != ',') sc.set_pos(sc.pos() + 1);
          continue;
        }
        sc.set_pos(mark);  // a new challenge begins here
        break;
      }
      sc.set_pos(sc.pos() + 1);  // '='
      sc.SkipSpace();
      std::string value = sc.peek() == '"' ? sc.Quoted() : std::string(sc.Token());
      ch.params[Lower(key)] = std::move(value);
    }
    out.push_back(std::move(ch));
    sc.SkipSeparators();
  }
  return out;
}

Result<TokenReply> ParseTokenReply(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Error(ErrorCode::kInvalidArgument, "token server reply is not a JSON object");
  }
  TokenReply reply;
  auto token = json.find("token");
  if (token != json.end() && token->is_string()) reply.token = token->get<std::string>();
  if (reply.token.empty()) {
    auto access = json.find("access_token");
    if (access != json.end() && access->is_string()) reply.token = access->get<std::string>();
  }
  if (reply.token.empty()) {
    return Error(ErrorCode::kInvalidArgument, "token server reply carries no token");
  }
  reply.expires_in_s = 60;
  auto expires = json.find("expires_in");
  if (expires != json.end() && expires->is_number() && expires->get<double>() > 0) {
    reply.expires_in_s = static_cast<int64_t>(expires->get<double>());
  }
  return reply;
}

ErrorCode ErrorCodeForStatus(long status) {
  switch (status) {
    case 400:
      return ErrorCode::kInvalidArgument;
    case 401:
      return ErrorCode::kUnauthorized;
    case 403:
      return ErrorCode::kForbidden;
    case 404:
      return ErrorCode::kNotFound;
    case 429:
      return ErrorCode::kRateLimited;
    default:
      return ErrorCode::kRegistryError;
  }
}

std::string DescribeHttpError(long status, std::string_view body) {
  std::string out = "HTTP " + std::to_string(status);
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return out;
  auto errors = json.find("errors");
  if (errors == json.end() || !errors->is_array() || errors->empty()) return out;
  const auto& first = (*errors)[0];
  if (!first.is_object()) return out;
  std::string code = first.value("code", "");
  std::string message = first.value("message", "");
  if (!code.empty()) out += " " + Printable(code, 64);
  if (!message.empty()) out += ": " + Printable(message, 200);
  return out;
}

std::string PullScope(std::string_view repository) {
  return "repository:" + std::string(repository) + ":pull";
}

bool IsValidRepository(std::string_view repository) {
  if (repository.empty() || repository.size() > 255) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  char prev = '/';
  for (size_t i = 0; i < repository.size(); ++i) {
    char c = repository[i];
    if (alnum(c)) {
      prev = c;
      continue;
    }
    bool sep = c == '.' || c == '_' || c == '-' || c == '/';
    // A separator must follow an alphanumeric, except runs of "__" and "-".
    if (!sep || !(alnum(prev) || (c == '_' && prev == '_') || (c == '-' && prev == '-'))) {
      return false;
    }
    prev = c;
  }
  return alnum(prev);
}

bool IsValidManifestReference(std::string_view reference) {
  if (reference.empty()) return false;
  size_t colon = reference.find(':');
  if (colon != std::string_view::npos) {
    std::string_view algo = reference.substr(0, colon), hex = reference.substr(colon + 1);
    if (algo.empty() || hex.size() < 32) return false;
    for (char c : algo) {
      if (!std::islower(static_cast<unsigned char>(c)) &&
          !std::isdigit(static_cast<unsigned char>(c)) && c != '+' && c != '.' && c != '_' &&
          c != '-') {
        return false;
      }
    }
    for (char c : hex) {
      if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
  }
  if (reference.size() > 128) return false;
  for (size_t i = 0; i < reference.size(); ++i) {
    char c = reference[i];
    bool word = std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    if (!(word || (i > 0 && (c == '.' || c == '-')))) return false;
  }
  return true;
}

}  // namespace pullfleet::registry
