// The Client against a scripted in-process HTTP/1.1 server on loopback: the rules that the real
// registry cannot be made to break (redirects to another host, bad digests, stalls, 429).
#include "registry/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <mutex>
#include <thread>

#include "store/content_store.h"

namespace pullfleet::registry {
namespace {

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // lowercased names
};

// Answers each request on a fresh connection with whatever the handler returns (a whole raw
// HTTP response; the server closes the connection after it). Records every request.
class FakeServer {
 public:
  using Handler = std::function<std::string(const HttpRequest&)>;

  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<HttpRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Loop() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      while (in.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        // A TLS ClientHello (record type 0x16): answer like Go's plain HTTP server does.
        if (in[0] == 0x16) break;
      }
      if (!in.empty() && in[0] == 0x16) {
        static const char kBadRequest[] = "HTTP/1.0 400 Bad Request\r\n\r\n";
        (void)::send(c, kBadRequest, sizeof kBadRequest - 1, MSG_NOSIGNAL);
        ::close(c);
        continue;
      }
      HttpRequest req = Parse(in);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
      }
      std::string out = req.method.empty() ? "" : handler_(req);
      size_t sent = 0;
      while (sent < out.size()) {
        ssize_t n = ::send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      ::close(c);
    }
  }

  static HttpRequest Parse(const std::string& in) {
    HttpRequest req;
    size_t eol = in.find("\r\n");
    if (eol == std::string::npos) return req;
    std::string line = in.substr(0, eol);
    size_t a = line.find(' '), b = line.rfind(' ');
    if (a == std::string::npos || b == a) return req;
    req.method = line.substr(0, a);
    req.path = line.substr(a + 1, b - a - 1);
    size_t pos = eol + 2;
    while (true) {
      size_t e = in.find("\r\n", pos);
      if (e == std::string::npos || e == pos) break;
      std::string h = in.substr(pos, e - pos);
      size_t colon = h.find(':');
      if (colon != std::string::npos) {
        std::string name = h.substr(0, colon);
        for (auto& ch : name) ch = static_cast<char>(std::tolower(ch));
        req.headers[name] = h.substr(h.find_first_not_of(' ', colon + 1));
      }
      pos = e + 2;
    }
    return req;
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<HttpRequest> requests_;
};

std::string Reply(int status, const std::string& body, const std::string& headers = "") {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
         headers + "\r\n" + body;
}

ClientOptions For(const FakeServer& server) {
  ClientOptions o;
  o.domain = server.host();
  o.connect_timeout_ms = 2000;
  o.stall_timeout_s = 2;
  return o;
}

const char kBlob[] = "0123456789abcdefghij";

Status Collect(Client& client, const std::string& digest, int64_t offset, std::string* out) {
  return client.FetchBlob("pf/x", digest, offset, [out](const char* d, size_t n) {
    out->append(d, n);
    return Status::Ok();
  });
}

TEST(Client, RedirectToAnotherHostCarriesNoCredentials) {
  const std::string digest = store::Sha256Digest(kBlob);
  FakeServer storage([&](const HttpRequest& r) {
    // Honours the range, like object stores do.
    std::string body = kBlob;
    auto range = r.headers.find("range");
    if (range != r.headers.end()) {
      int64_t from = std::atoll(range->second.c_str() + 6);
      return Reply(206, body.substr(static_cast<size_t>(from)),
                   "Content-Range: bytes " + std::to_string(from) + "-19/20\r\n");
    }
    return Reply(200, body);
  });
  FakeServer reg([&](const HttpRequest& r) {
    if (r.headers.count("authorization") == 0) {
      return Reply(401, "", "WWW-Authenticate: Basic realm=\"test\"\r\n");
    }
    return Reply(307, "", "Location: http://" + storage.host() + "/bucket/blob?sig=abc\r\n");
  });
  ClientOptions o = For(reg);
  o.credentials = {"user", "secret"};
  Client client(o);
  std::string got;
  Status st = Collect(client, digest, 0, &got);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(got, kBlob);
  got.clear();
  st = Collect(client, digest, 5, &got);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(got, std::string(kBlob).substr(5));

  auto at_registry = reg.requests();
  ASSERT_GE(at_registry.size(), 2u);
  EXPECT_EQ(at_registry.back().headers["authorization"].rfind("Basic ", 0), 0u);
  auto at_storage = storage.requests();
  ASSERT_EQ(at_storage.size(), 2u);
  for (const auto& r : at_storage) {
    EXPECT_EQ(r.headers.count("authorization"), 0u) << "credentials leaked to " << r.path;
    EXPECT_EQ(r.path, "/bucket/blob?sig=abc");
  }
  EXPECT_EQ(at_storage[1].headers["range"], "bytes=5-");
}

TEST(Client, ServerThatIgnoresRangeIsSkippedToTheOffset) {
  const std::string digest = store::Sha256Digest(kBlob);
  FakeServer reg([&](const HttpRequest&) { return Reply(200, kBlob); });
  Client client(For(reg));
  std::string got;
  Status st = Collect(client, digest, 7, &got);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(got, std::string(kBlob).substr(7));
}

TEST(Client, WrongContentRangeIsAnError) {
  const std::string digest = store::Sha256Digest(kBlob);
  FakeServer reg(
      [&](const HttpRequest&) { return Reply(206, "abc", "Content-Range: bytes 0-2/20\r\n"); });
  Client client(For(reg));
  std::string got;
  Status st = Collect(client, digest, 7, &got);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kRegistryError);
  EXPECT_TRUE(got.empty());
}

TEST(Client, StatusesMapToCodes) {
  struct Case {
    int status;
    ErrorCode code;
    const char* in_message;
  };
  const Case cases[] = {
      {404, ErrorCode::kNotFound, "BLOB_UNKNOWN"},
      {429, ErrorCode::kRateLimited, "HTTP 429"},
      {403, ErrorCode::kForbidden, "HTTP 403"},
      {503, ErrorCode::kRegistryError, "HTTP 503"},
  };
  for (const auto& c : cases) {
    FakeServer reg([&](const HttpRequest&) {
      return Reply(c.status, R"({"errors":[{"code":"BLOB_UNKNOWN","message":"m"}]})");
    });
    Client client(For(reg));
    std::string got;
    Status st = Collect(client, store::Sha256Digest("x"), 0, &got);
    ASSERT_FALSE(st.ok()) << c.status;
    EXPECT_EQ(st.error().code(), c.code) << c.status;
    EXPECT_NE(st.error().message().find(c.in_message), std::string::npos) << st.error().message();
    EXPECT_TRUE(got.empty()) << "an error body reached the sink";
  }
}

TEST(Client, ManifestDigestsAreVerified) {
  const std::string body =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
  const std::string good = store::Sha256Digest(body);
  const std::string other = store::Sha256Digest("something else");
  std::string header_digest;
  FakeServer reg([&](const HttpRequest& r) {
    std::string accept = r.headers.count("accept") ? r.headers.at("accept") : "";
    if (accept.find(std::string(kOciIndex)) == std::string::npos ||
        accept.find(std::string(kDockerManifest)) == std::string::npos ||
        accept.find(std::string(kDockerManifestList)) == std::string::npos ||
        accept.find(std::string(kOciManifest)) == std::string::npos) {
      return Reply(404, "");
    }
    return Reply(
        200, body,
        "Content-Type: " + std::string(kOciManifest) + "\r\n" +
            (header_digest.empty() ? "" : "Docker-Content-Digest: " + header_digest + "\r\n"));
  });
  Client client(For(reg));
  auto by_tag = client.GetManifest("pf/x", "v1");
  ASSERT_TRUE(by_tag.ok()) << by_tag.error().message();
  EXPECT_EQ(by_tag->digest, good);
  EXPECT_EQ(by_tag->media_type, kOciManifest);
  EXPECT_EQ(by_tag->body, body);

  EXPECT_TRUE(client.GetManifest("pf/x", good).ok());
  auto wrong_digest = client.GetManifest("pf/x", other);
  ASSERT_FALSE(wrong_digest.ok());
  EXPECT_EQ(wrong_digest.error().code(), ErrorCode::kDigestMismatch);

  header_digest = other;
  auto lying_header = client.GetManifest("pf/x", "v1");
  ASSERT_FALSE(lying_header.ok());
  EXPECT_EQ(lying_header.error().code(), ErrorCode::kDigestMismatch);
  header_digest = good;
  EXPECT_TRUE(client.GetManifest("pf/x", "v1").ok());
}

TEST(Client, BadNamesNeverReachTheNetwork) {
  FakeServer reg([&](const HttpRequest&) { return Reply(200, "{}"); });
  Client client(For(reg));
  EXPECT_EQ(client.GetManifest("pf/x", "../../etc").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client.GetManifest("PF/X", "v1").error().code(), ErrorCode::kInvalidArgument);
  std::string got;
  EXPECT_EQ(Collect(client, "sha256:../x", 0, &got).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client.request_count(), 0);
  EXPECT_TRUE(reg.requests().empty());
}

TEST(Client, StallIsATimeout) {
  FakeServer reg([&](const HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    return std::string();
  });
  ClientOptions o = For(reg);
  o.stall_timeout_s = 1;
  Client client(o);
  auto start = std::chrono::steady_clock::now();
  Status st = client.Ping();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kTimeout) << st.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2400));
}

TEST(Client, CancelFlagAbortsATransfer) {
  std::atomic<bool> cancel{false};
  FakeServer reg([&](const HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return std::string();
  });
  ClientOptions o = For(reg);
  o.cancel = &cancel;
  Client client(o);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel = true;
  });
  Status st = client.Ping();
  t.join();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kCancelled) << st.error().message();
}

TEST(Client, BearerTokenIsCachedPerScopeAndRenewedOn401) {
  int token_requests = 0;
  int registry_requests = 0;
  std::string current = "t1";
  FakeServer auth([&](const HttpRequest& r) {
    ++token_requests;
    EXPECT_NE(r.path.find("scope=repository%3Apf%2Fx%3Apull"), std::string::npos) << r.path;
    EXPECT_NE(r.path.find("service=reg"), std::string::npos) << r.path;
    return Reply(200, R"({"token":")" + current + R"(","expires_in":300})");
  });
  std::string accepted = "t1";
  FakeServer reg([&](const HttpRequest& r) {
    ++registry_requests;
    auto it = r.headers.find("authorization");
    if (it == r.headers.end() || it->second != "Bearer " + accepted) {
      return Reply(401, "",
                   "WWW-Authenticate: Bearer realm=\"http://" + auth.host() +
                       "/token\",service=\"reg\",scope=\"repository:pf/x:pull\"\r\n");
    }
    return Reply(200, kBlob);
  });
  Client client(For(reg));
  std::string got;
  const std::string digest = store::Sha256Digest(kBlob);
  ASSERT_TRUE(Collect(client, digest, 0, &got).ok());
  ASSERT_TRUE(Collect(client, digest, 0, &got).ok());
  EXPECT_EQ(token_requests, 1);     // cached
  EXPECT_EQ(registry_requests, 3);  // 401, then two authorised
  // The registry stops accepting the cached token: the client renews it once.
  accepted = current = "t2";
  ASSERT_TRUE(Collect(client, digest, 0, &got).ok());
  EXPECT_EQ(token_requests, 2);
}

TEST(Client, LoopbackPlainHttpIsFoundAfterFailedHandshakeAndRemembered) {
  FakeServer reg([&](const HttpRequest&) { return Reply(200, "{}"); });
  Client client(For(reg));
  ASSERT_TRUE(client.Ping().ok());
  ASSERT_TRUE(client.Ping().ok());
  // First ping: one failed https handshake (the fake server sees no valid request line) and
  // one plain request; the second ping goes straight to http.
  int plain = 0;
  for (const auto& r : reg.requests()) plain += r.method == "GET";
  EXPECT_EQ(plain, 2);
  EXPECT_EQ(client.request_count(), 3);
}

}  // namespace
}  // namespace pullfleet::registry
