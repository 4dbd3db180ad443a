#include "registry/client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/base64.h"
#include "registry/protocol.h"
#include "store/content_store.h"

namespace pullfleet::registry {
namespace {

using Clock = std::chrono::steady_clock;

// Manifests and token replies are held in memory; anything larger is refused (containerd
// uses the same 4 MiB bound for manifests).
constexpr size_t kMaxSmallBody = 4 * 1024 * 1024;
// Error bodies are kept only for their message.
constexpr size_t kMaxErrorBody = 16 * 1024;
// The receive buffer: large reads keep the per-callback overhead low on fast loopback links.
constexpr long kReceiveBuffer = 512 * 1024;
constexpr int kMaxRedirects = 5;
// A cached token is renewed this long before the server says it expires.
constexpr auto kTokenMargin = std::chrono::seconds(5);

const std::string kManifestAccept =
    "Accept: " + std::string(kOciIndex) + ", " + std::string(kOciManifest) + ", " +
    std::string(kDockerManifestList) + ", " + std::string(kDockerManifest);

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// True when libcurl was built with a default CA folder and it exists (Debian: /etc/ssl/certs,
// hashed by update-ca-certificates).
bool SystemCaPathExists() {
  static const bool exists = [] {
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    return info && info->capath && ::access(info->capath, R_OK | X_OK) == 0;
  }();
  return exists;
}

std::string MediaTypeOf(std::string content_type) {
  size_t semi = content_type.find(';');
  if (semi != std::string::npos) content_type.resize(semi);
  while (!content_type.empty() && content_type.back() == ' ') content_type.pop_back();
  return content_type;
}

// The parts of a URL that decide where credentials may go.
struct UrlParts {
  std::string scheme;
  std::string host;  // with ":port" when the URL names one
};

Result<UrlParts> ParseUrl(const std::string& url) {
  CURLU* u = curl_url();
  UrlParts parts;
  bool ok = curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK;
  char* scheme = nullptr;
  char* host = nullptr;
  char* port = nullptr;
  if (ok) ok = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK;
  if (ok) ok = curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK;
  if (ok) {
    parts.scheme = scheme;
    parts.host = host;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port) {
      parts.host += std::string(":") + port;
    }
  }
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  if (!ok) return Error(ErrorCode::kInvalidArgument, "malformed URL " + url.substr(0, 200));
  return parts;
}

// What one HTTP exchange (no redirects followed) brought back.
struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercased names, last value wins
  std::vector<std::string> www_authenticate;
  std::string error_body;  // non-2xx bodies, cut at kMaxErrorBody
  std::string redirect_url;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// What a caller wants from a request.
struct Request {
  bool head = false;
  std::string path;   // "/v2/..."
  std::string scope;  // bearer scope; empty for the ping
  std::vector<std::string> headers;
  int64_t range_from = 0;
  const BlobSink* sink = nullptr;  // 2xx body streamed here, or
  std::string* body = nullptr;     // 2xx body collected here (small bodies only)
};

// Per-exchange state the curl callbacks work on.
struct Transfer {
  const Request* request = nullptr;
  Response* response = nullptr;
  const ClientOptions* options = nullptr;
  bool body_started = false;
  int64_t skip = 0;  // bytes to drop when the server ignored our Range
  Status sink_status;
  bool too_large = false;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response begins (after a 100 Continue, for instance): forget the previous one.
    size_t sp = line.find(' ');
    t->response->status = sp == std::string_view::npos ? 0 : std::atol(line.data() + sp + 1);
    t->response->headers.clear();
    t->response->www_authenticate.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  if (name == "www-authenticate") t->response->www_authenticate.emplace_back(value);
  t->response->headers[name] = std::string(value);
  return n;
}

// Checks that a 206 answer starts where we asked; sets `skip` when the server sent the
// whole blob (200) although we asked for a range.
bool StartBody(Transfer* t) {
  t->body_started = true;
  if (t->request->range_from <= 0) return true;
  if (t->response->status == 200) {
    t->skip = t->request->range_from;
    return true;
  }
  std::string range = t->response->Header("content-range");  // "bytes 100-999/1000"
  size_t sp = range.find(' ');
  long long start = sp == std::string::npos ? -1 : std::atoll(range.c_str() + sp + 1);
  if (start != t->request->range_from) {
    t->sink_status =
        Error(ErrorCode::kRegistryError, "registry answered range request from " +
                                             std::to_string(t->request->range_from) +
                                             " with Content-Range \"" + range.substr(0, 80) + "\"");
    return false;
  }
  return true;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  long status = t->response->status;
  if (status < 200 || status >= 300) {
    std::string& e = t->response->error_body;
    if (e.size() < kMaxErrorBody) e.append(data, std::min(n, kMaxErrorBody - e.size()));
    return n;
  }
  if (!t->body_started && !StartBody(t)) return 0;
  const char* p = data;
  size_t left = n;
  if (t->skip > 0) {
    size_t drop = static_cast<size_t>(std::min<int64_t>(t->skip, static_cast<int64_t>(left)));
    t->skip -= static_cast<int64_t>(drop);
    p += drop;
    left -= drop;
  }
  if (left == 0) return n;
  if (t->request->sink) {
    Status st = (*t->request->sink)(p, left);
    if (!st.ok()) {
      t->sink_status = std::move(st);
      return 0;
    }
  } else if (t->request->body) {
    if (t->request->body->size() + left > kMaxSmallBody) {
      t->too_large = true;
      return 0;
    }
    t->request->body->append(p, left);
  }
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  const ClientOptions* o = t->options;
  if (o->cancel && o->cancel->load(std::memory_order_relaxed)) return 1;
  if (o->abort && o->abort->load(std::memory_order_relaxed)) return 1;
  return 0;
}

bool Cancelled(const ClientOptions& o) {
  return (o.cancel && o.cancel->load()) || (o.abort && o.abort->load());
}

Error CurlError(CURLcode code, const char* detail, const ClientOptions& o,
                const std::string& host) {
  std::string msg = std::string(curl_easy_strerror(code));
  if (detail && *detail) msg += " (" + std::string(detail) + ")";
  msg += " talking to " + host;
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Error(ErrorCode::kTimeout, msg);
    case CURLE_ABORTED_BY_CALLBACK:
      return Error(ErrorCode::kCancelled, "cancelled");
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Error(ErrorCode::kUnsupported, msg);
    case CURLE_URL_MALFORMAT:
      return Error(ErrorCode::kInvalidArgument, msg);
    default:
      return Error(ErrorCode::kNetwork, msg);
  }
}

}  // namespace

// ---- Client::Impl ----

class Client::Impl {
 public:
  explicit Impl(ClientOptions options)
      : options_(std::move(options)), host_(EndpointHost(options_.domain)) {
    GlobalInitOnce();
    curl_ = curl_easy_init();
    plain_allowed_ = IsLoopback(host_) || options_.host.allow_plain_http;
  }
  ~Impl() {
    if (curl_) curl_easy_cleanup(curl_);
  }

  // Takes over what `warm` settled about the registry; its connection is not shared.
  void LearnFrom(const Impl& warm) {
    if (warm.host_ != host_) return;
    scheme_ = warm.scheme_;
    auth_ = warm.auth_;
    realm_ = warm.realm_;
    service_ = warm.service_;
    tokens_ = warm.tokens_;
    scope_override_ = warm.scope_override_;
  }

  Status Ping() {
    Request req;
    req.path = "/v2/";
    Response resp;
    std::string ignored;
    req.body = &ignored;
    return Do(req, resp);
  }

  Result<ManifestHead> HeadManifest(std::string_view repository, std::string_view reference) {
    if (Status st = CheckNames(repository, reference); !st.ok()) return st.error();
    Request req;
    req.head = true;
    req.path = ManifestPath(repository, reference);
    req.scope = PullScope(repository);
    req.headers.push_back(kManifestAccept);
    Response resp;
    if (Status st = Do(req, resp); !st.ok()) return st.error();
    ManifestHead head;
    head.digest = resp.Header("docker-content-digest");
    head.media_type = MediaTypeOf(resp.Header("content-type"));
    head.size = std::atoll(resp.Header("content-length").c_str());
    if (!store::IsValidDigest(head.digest)) {
      // Not every registry sends the header on HEAD: compute it from the body instead.
      auto manifest = GetManifest(repository, reference);
      if (!manifest.ok()) return manifest.error();
      head.digest = manifest->digest;
      head.media_type = manifest->media_type;
      head.size = static_cast<int64_t>(manifest->body.size());
    }
    return head;
  }

  Result<Manifest> GetManifest(std::string_view repository, std::string_view reference) {
    if (Status st = CheckNames(repository, reference); !st.ok()) return st.error();
    bool by_digest = reference.find(':') != std::string_view::npos;
    if (by_digest && !store::IsValidDigest(reference)) {
      return Error(ErrorCode::kUnsupported,
                   "digest " + std::string(reference) + " is not a sha256 digest");
    }
    Request req;
    req.path = ManifestPath(repository, reference);
    req.scope = PullScope(repository);
    req.headers.push_back(kManifestAccept);
    Manifest m;
    req.body = &m.body;
    Response resp;
    if (Status st = Do(req, resp); !st.ok()) return st.error();

    m.digest = store::Sha256Digest(m.body);
    if (by_digest && m.digest != reference) {
      return Error(ErrorCode::kDigestMismatch,
                   "manifest asked for as " + std::string(reference) + " hashes to " + m.digest);
    }
    std::string header_digest = resp.Header("docker-content-digest");
    if (!by_digest && !header_digest.empty() && header_digest != m.digest) {
      return Error(ErrorCode::kDigestMismatch,
                   "manifest " + std::string(reference) + " hashes to " + m.digest +
                       " but the registry says " + header_digest.substr(0, 80));
    }
    m.media_type = MediaTypeOf(resp.Header("content-type"));
    if (m.media_type.empty() || m.media_type == "application/json" ||
        m.media_type == "text/plain") {
      // Fall back to the manifest's own mediaType field.
      auto json = nlohmann::json::parse(m.body, nullptr, /*allow_exceptions=*/false);
      if (json.is_object()) m.media_type = json.value("mediaType", m.media_type);
    }
    return m;
  }

  Status FetchBlob(std::string_view repository, std::string_view digest, int64_t offset,
                   const BlobSink& sink) {
    if (!IsValidRepository(repository)) return BadName("repository", repository);
    if (!store::IsValidDigest(digest)) return BadName("blob digest", digest);
    Request req;
    req.path = "/v2/" + std::string(repository) + "/blobs/" + std::string(digest);
    req.scope = PullScope(repository);
    req.range_from = offset;
    req.sink = &sink;
    Response resp;
    return Do(req, resp);
  }

  int64_t request_count() const { return requests_; }

 private:
  static Status BadName(std::string_view what, std::string_view value) {
    return Error(ErrorCode::kInvalidArgument,
                 "invalid " + std::string(what) + " \"" + std::string(value.substr(0, 200)) + "\"");
  }

  static Status CheckNames(std::string_view repository, std::string_view reference) {
    if (!IsValidRepository(repository)) return BadName("repository", repository);
    if (!IsValidManifestReference(reference)) return BadName("manifest reference", reference);
    return Status::Ok();
  }

  static std::string ManifestPath(std::string_view repository, std::string_view reference) {
    return "/v2/" + std::string(repository) + "/manifests/" + std::string(reference);
  }

  // The whole request: scheme choice, auth challenges, redirects, status mapping.
  Status Do(const Request& req, Response& resp) {
    bool sent_basic = false;
    bool fresh_token = false;
    for (int attempt = 0; attempt < 4; ++attempt) {
      if (Cancelled(options_)) return Error(ErrorCode::kCancelled, "cancelled");
      std::string auth;
      bool sent_token = false;
      if (auth_ == AuthScheme::kBasic && HasCredentials()) {
        auth = BasicHeader();
        sent_basic = true;
      } else if (auth_ == AuthScheme::kBearer) {
        auto token = TokenFor(req.scope, &fresh_token);
        if (!token.ok()) return token.error();
        auth = "Authorization: Bearer " + *token;
        sent_token = true;
      }

      bool trying_https = scheme_.empty() || scheme_ == "https";
      std::string scheme = scheme_.empty() ? "https" : scheme_;
      resp = Response();
      CURLcode code = CURLE_OK;
      Status st = Follow(scheme + "://" + host_ + req.path, req, auth, resp, &code);
      if (!st.ok()) {
        // A loopback (or explicitly insecure) registry that does not speak TLS fails the
        // handshake: remember that it is plain HTTP. A certificate that fails verification
        // is a different error and never falls back.
        if (scheme_.empty() && trying_https && plain_allowed_ && code == CURLE_SSL_CONNECT_ERROR) {
          scheme_ = "http";
          continue;
        }
        Observe(0);
        return st;
      }
      if (scheme_.empty()) scheme_ = scheme;
      Observe(resp.status);

      if (resp.status >= 200 && resp.status < 300) return Status::Ok();
      if (resp.status != 401) {
        return Error(ErrorCodeForStatus(resp.status),
                     DescribeHttpError(resp.status, resp.error_body));
      }
      Status next = OnUnauthorized(req, resp, sent_basic, sent_token, fresh_token);
      if (!next.ok()) return next;
    }
    return Error(ErrorCode::kUnauthorized, "authentication did not settle after 4 attempts");
  }

  // Reads a 401's challenge and prepares the next attempt, or says why there is none.
  Status OnUnauthorized(const Request& req, const Response& resp, bool sent_basic, bool sent_token,
                        bool fresh_token) {
    std::vector<Challenge> challenges;
    for (const auto& h : resp.www_authenticate) {
      auto parsed = ParseChallenges(h);
      challenges.insert(challenges.end(), parsed.begin(), parsed.end());
    }
    const Challenge* bearer = nullptr;
    const Challenge* basic = nullptr;
    for (const auto& c : challenges) {
      if (c.scheme == "bearer" && !bearer) bearer = &c;
      if (c.scheme == "basic" && !basic) basic = &c;
    }
    std::string who = HasCredentials() ? "credentials for " + host_ + " were rejected"
                                       : "anonymous access to " + host_ + " was refused";
    if (bearer) {
      if (bearer->Param("error") == "insufficient_scope" && sent_token) {
        return Error(ErrorCode::kForbidden,
                     "HTTP 401 insufficient_scope: the token does not grant " + req.scope);
      }
      if (sent_token && fresh_token) {
        return Error(ErrorCode::kUnauthorized, "HTTP 401: " + who + " (token not accepted)");
      }
      std::string realm = bearer->Param("realm");
      if (realm.empty()) {
        return Error(ErrorCode::kUnauthorized, "HTTP 401: bearer challenge without a realm");
      }
      auth_ = AuthScheme::kBearer;
      realm_ = realm;
      service_ = bearer->Param("service");
      // The registry may name the scope it wants; use that for this request's key.
      std::string scope = bearer->Param("scope");
      scope_override_[req.scope] = scope.empty() ? req.scope : scope;
      tokens_.erase(req.scope);  // a cached token was refused: renew it
      return Status::Ok();
    }
    if (basic) {
      if (!HasCredentials() || sent_basic) {
        return Error(ErrorCode::kUnauthorized, "HTTP 401: " + who);
      }
      auth_ = AuthScheme::kBasic;
      return Status::Ok();
    }
    return Error(ErrorCode::kUnauthorized,
                 DescribeHttpError(401, resp.error_body) + " without a usable challenge");
  }

  bool HasCredentials() const { return !options_.credentials.username.empty(); }

  void Observe(long status) {
    if (options_.observer) options_.observer->OnRegistryResponse(options_.domain, status);
  }

  std::string BasicHeader() const {
    return "Authorization: Basic " +
           Base64Encode(options_.credentials.username + ":" + options_.credentials.password);
  }

  // A token for `scope`, from the cache or the realm. Sets *fresh when it was just fetched.
  Result<std::string> TokenFor(const std::string& scope, bool* fresh) {
    auto it = tokens_.find(scope);
    if (it != tokens_.end() && Clock::now() < it->second.expires) {
      *fresh = false;
      return it->second.token;
    }
    auto ask = scope_override_.find(scope);
    std::string want = ask == scope_override_.end() ? scope : ask->second;
    auto reply = FetchToken(want);
    if (options_.observer) options_.observer->OnTokenFetch(options_.domain, reply.ok());
    if (!reply.ok()) return reply.error().Wrap("get token from " + RealmForMessages());
    auto expires = Clock::now() + std::chrono::seconds(reply->expires_in_s) - kTokenMargin;
    tokens_[scope] = CachedToken{reply->token, expires};
    *fresh = true;
    return reply->token;
  }

  std::string RealmForMessages() const {
    size_t q = realm_.find('?');
    return realm_.substr(0, std::min<size_t>(q, 200));
  }

  Result<TokenReply> FetchToken(const std::string& scope) {
    auto parts = ParseUrl(realm_);
    if (!parts.ok()) return parts.error();
    if (parts->scheme != "https" && parts->scheme != "http") {
      return Error(ErrorCode::kUnsupported, "token realm scheme " + parts->scheme);
    }
    if (parts->scheme == "http" && !IsLoopback(parts->host) && !options_.host.allow_plain_http) {
      return Error(ErrorCode::kUnsupported,
                   "refusing to send credentials to a plain-HTTP token realm on " + parts->host);
    }
    std::string url = realm_ + (realm_.find('?') == std::string::npos ? "?" : "&");
    bool first = true;
    auto add = [&](const char* key, const std::string& value) {
      if (value.empty()) return;
      char* esc = curl_easy_escape(curl_, value.c_str(), static_cast<int>(value.size()));
      url += std::string(first ? "" : "&") + key + "=" + esc;
      curl_free(esc);
      first = false;
    };
    add("service", service_);
    add("scope", scope);

    Request req;
    std::string body;
    req.body = &body;
    Response resp;
    CURLcode code = CURLE_OK;
    // The realm is named by the registry, so it gets the basic credentials (the protocol
    // requires it); it gets the registry's TLS settings only when it is the same host.
    std::string auth = HasCredentials() ? BasicHeader() : "";
    Status st = Exchange(url, req, auth, parts->host == host_, resp, &code);
    if (!st.ok()) return st.error();
    if (resp.status == 401 || resp.status == 403) {
      return Error(ErrorCode::kUnauthorized,
                   "HTTP " + std::to_string(resp.status) + ": token server refused " +
                       (HasCredentials() ? "the credentials" : "anonymous access"));
    }
    if (resp.status < 200 || resp.status >= 300) {
      return Error(ErrorCodeForStatus(resp.status),
                   DescribeHttpError(resp.status, resp.error_body));
    }
    return ParseTokenReply(body);
  }

  // One request, following redirects by hand so that credentials and the registry's TLS
  // client certificate only ever go to the registry host itself.
  Status Follow(std::string url, const Request& req, const std::string& auth, Response& resp,
                CURLcode* code) {
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
      auto parts = ParseUrl(url);
      if (!parts.ok()) return parts.error();
      bool registry_host = parts->host == host_ && (scheme_.empty() || parts->scheme == scheme_);
      if (hop > 0) {
        if (parts->scheme != "https" && parts->scheme != "http") {
          return Error(ErrorCode::kUnsupported, "redirect to scheme " + parts->scheme);
        }
        if (parts->scheme == "http" && !IsLoopback(parts->host) &&
            !options_.host.allow_plain_http) {
          return Error(ErrorCode::kUnsupported,
                       "refusing a redirect to plain HTTP on " + parts->host);
        }
      }
      resp = Response();
      Status st = Exchange(url, req, registry_host ? auth : "", registry_host, resp, code);
      if (!st.ok()) return st;
      bool redirect = resp.status == 301 || resp.status == 302 || resp.status == 303 ||
                      resp.status == 307 || resp.status == 308;
      if (!redirect || resp.redirect_url.empty()) return Status::Ok();
      url = resp.redirect_url;
    }
    return Error(ErrorCode::kRegistryError,
                 "more than " + std::to_string(kMaxRedirects) + " redirects for " + req.path);
  }

  // One HTTP exchange on the reused easy handle.
  Status Exchange(const std::string& url, const Request& req, const std::string& auth,
                  bool registry_tls, Response& resp, CURLcode* code_out) {
    if (!curl_) return Error(ErrorCode::kInternal, "curl_easy_init failed");
    // Reset keeps the connection cache, TLS sessions and DNS cache; every option is set
    // again below so that nothing leaks from one request to the next.
    curl_easy_reset(curl_);
    Transfer t;
    t.request = &req;
    t.response = &resp;
    t.options = &options_;

    curl_slist* headers = nullptr;
    for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
    if (!auth.empty()) headers = curl_slist_append(headers, auth.c_str());
    std::string range;
    if (req.range_from > 0) range = std::to_string(req.range_from) + "-";

    CURL* c = curl_;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "pullfleet/0.1");
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, kReceiveBuffer);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options_.stall_timeout_s);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    if (req.head) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (!range.empty()) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
    if (registry_tls) {
      const HostOptions& h = options_.host;
      if (!h.ca_file.empty()) {
        curl_easy_setopt(c, CURLOPT_CAINFO, h.ca_file.c_str());
      } else if (SystemCaPathExists()) {
        // The system's hashed certificate folder alone: OpenSSL then reads only the issuers
        // a handshake needs. With the default bundle file every new client parses all of
        // it (about 140 certificates, 40 ms of CPU), even to find out that a loopback
        // registry speaks plain HTTP.
        curl_easy_setopt(c, CURLOPT_CAINFO, nullptr);
      }
      if (!h.client_cert_file.empty()) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, h.client_cert_file.c_str());
      }
      if (!h.client_key_file.empty())
        curl_easy_setopt(c, CURLOPT_SSLKEY, h.client_key_file.c_str());
      if (h.insecure_skip_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
      }
    }
    char detail[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);

    CURLcode code = curl_easy_perform(c);
    ++requests_;
    curl_slist_free_all(headers);
    *code_out = code;

    if (code == CURLE_WRITE_ERROR && !t.sink_status.ok()) return t.sink_status;
    if (code == CURLE_WRITE_ERROR && t.too_large) {
      return Error(ErrorCode::kInvalidArgument, "reply to " + req.path + " is larger than " +
                                                    std::to_string(kMaxSmallBody) + " bytes");
    }
    if (code == CURLE_ABORTED_BY_CALLBACK) return Error(ErrorCode::kCancelled, "cancelled");
    if (code != CURLE_OK) {
      auto parts = ParseUrl(url);
      return CurlError(code, detail, options_, parts.ok() ? parts->host : host_);
    }
    char* location = nullptr;
    if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) {
      resp.redirect_url = location;
    }
    if (resp.status == 0) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
    // A 2xx blob answer with an empty body still has to pass the range check.
    if (resp.status >= 200 && resp.status < 300 && !t.body_started && !req.head &&
        req.range_from > 0 && !StartBody(&t)) {
      return t.sink_status;
    }
    return Status::Ok();
  }

  enum class AuthScheme { kNone, kBasic, kBearer };
  struct CachedToken {
    std::string token;
    Clock::time_point expires;
  };

  ClientOptions options_;
  std::string host_;
  CURL* curl_ = nullptr;
  bool plain_allowed_ = false;
  std::string scheme_;  // "https" or "http" once the first exchange settled it
  AuthScheme auth_ = AuthScheme::kNone;
  std::string realm_;
  std::string service_;
  std::map<std::string, CachedToken> tokens_;          // by our scope
  std::map<std::string, std::string> scope_override_;  // our scope -> the registry's
  int64_t requests_ = 0;
};

// ---- Client ----

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::Client(ClientOptions options, const Client& warm)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->LearnFrom(*warm.impl_);
}
Client::~Client() = default;

Status Client::Ping() {
  return impl_->Ping();
}

Result<ManifestHead> Client::HeadManifest(std::string_view repository, std::string_view reference) {
  return impl_->HeadManifest(repository, reference);
}

Result<Manifest> Client::GetManifest(std::string_view repository, std::string_view reference) {
  return impl_->GetManifest(repository, reference);
}

Status Client::FetchBlob(std::string_view repository, std::string_view digest, int64_t offset,
                         const BlobSink& sink) {
  return impl_->FetchBlob(repository, digest, offset, sink);
}

int64_t Client::request_count() const {
  return impl_->request_count();
}

std::string EndpointHost(std::string_view domain) {
  if (domain == "docker.io" || domain == "index.docker.io") return "registry-1.docker.io";
  return std::string(domain);
}

bool IsLoopback(std::string_view host) {
  std::string_view name = host;
  if (!name.empty() && name.front() == '[') {
    size_t close = name.find(']');
    if (close == std::string_view::npos) return false;
    name = name.substr(1, close - 1);
    return name == "::1";
  }
  if (name == "::1") return true;
  size_t colon = name.find(':');
  if (colon != std::string_view::npos) name = name.substr(0, colon);
  if (name == "localhost") return true;
  // 127.0.0.0/8: four dotted decimal octets, the first being 127.
  if (name.substr(0, 4) != "127.") return false;
  int parts = 0;
  size_t i = 0;
  while (i <= name.size()) {
    size_t dot = name.find('.', i);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view octet = name.substr(i, dot - i);
    if (octet.empty() || octet.size() > 3) return false;
    int value = 0;
    for (char c : octet) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    if (value > 255) return false;
    ++parts;
    i = dot + 1;
  }
  return parts == 4;
}

}  // namespace pullfleet::registry
