#include "tests/support/throttle_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace pullfleet::testing {
namespace {

constexpr int kPollMillis = 50;
constexpr size_t kChunk = 16 * 1024;

Result<int> ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Error(ErrorCode::kNetwork, std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string reason = strerror(errno);
    close(fd);
    return Error(ErrorCode::kNetwork, "connect to port " + std::to_string(port) + ": " + reason);
  }
  return fd;
}

// Writes all of `data`; false when the peer is gone.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t written = send(fd, data, size, MSG_NOSIGNAL);
    if (written <= 0) return false;
    data += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<ThrottleProxy>> ThrottleProxy::Start(const std::string& target,
                                                            size_t bytes_per_second,
                                                            ProxyFault fault,
                                                            const std::string& listen_address,
                                                            uint16_t listen_port) {
  const auto colon = target.rfind(':');
  if (colon == std::string::npos || bytes_per_second == 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "throttle proxy: want a target HOST:PORT and a rate > 0, got \"" + target + "\"");
  }
  const int target_port = std::stoi(target.substr(colon + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Error(ErrorCode::kNetwork, std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(listen_port);
  if (inet_pton(AF_INET, listen_address.c_str(), &addr.sin_addr) != 1) {
    close(fd);
    return Error(ErrorCode::kInvalidArgument,
                 "throttle proxy: not an IPv4 address: \"" + listen_address + "\"");
  }
  socklen_t length = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    const std::string reason = strerror(errno);
    close(fd);
    return Error(ErrorCode::kNetwork,
                 "throttle proxy: listen on " + listen_address + ": " + reason);
  }
  const std::string host = listen_address + ":" + std::to_string(ntohs(addr.sin_port));
  std::unique_ptr<ThrottleProxy> proxy(new ThrottleProxy(fd, host, target_port, bytes_per_second));
  proxy->fault_ = fault;
  proxy->acceptor_ = std::thread([raw = proxy.get()] { raw->AcceptLoop(); });
  return proxy;
}

ThrottleProxy::ThrottleProxy(int listen_fd, std::string host, int target_port,
                             size_t bytes_per_second)
    : listen_fd_(listen_fd),
      host_(std::move(host)),
      target_port_(target_port),
      bytes_per_second_(bytes_per_second) {}

ThrottleProxy::~ThrottleProxy() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  std::lock_guard<std::mutex> lock(relays_mutex_);
  for (auto& relay : relays_) relay.join();
  close(listen_fd_);
}

void ThrottleProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd ready{listen_fd_, POLLIN, 0};
    if (poll(&ready, 1, kPollMillis) <= 0) continue;
    int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    connections_++;
    std::lock_guard<std::mutex> lock(relays_mutex_);
    relays_.emplace_back([this, client] { Relay(client); });
  }
}

// Pumps both directions until either side closes or the proxy stops. Server-to-client bytes
// are paced: after each chunk the relay sleeps until the chunk's share of a second has passed.
void ThrottleProxy::Relay(int client_fd) {
  if (fault_ == ProxyFault::kTooManyRequests) {
    AnswerTooManyRequests(client_fd);
    return;
  }
  auto server = ConnectLoopback(target_port_);
  if (!server.ok()) {
    close(client_fd);
    return;
  }
  const int server_fd = *server;
  const auto started = std::chrono::steady_clock::now();
  size_t sent_to_client = 0;
  char buffer[kChunk];
  while (!stopping_) {
    // A stall never reads the server's answer, so it never reaches the client.
    pollfd fds[2] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}};
    if (poll(fds, fault_ == ProxyFault::kStall ? 1 : 2, kPollMillis) <= 0) continue;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t got = recv(client_fd, buffer, sizeof buffer, 0);
      if (got <= 0 || !WriteAll(server_fd, buffer, static_cast<size_t>(got))) break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t got = recv(server_fd, buffer, sizeof buffer, 0);
      if (got <= 0 || !WriteAll(client_fd, buffer, static_cast<size_t>(got))) break;
      sent_to_client += static_cast<size_t>(got);
      bytes_relayed_ += static_cast<size_t>(got);
      const auto due =
          started + std::chrono::microseconds(sent_to_client * 1000000 / bytes_per_second_);
      std::this_thread::sleep_until(due);
    }
  }
  close(server_fd);
  close(client_fd);
}

void ThrottleProxy::AnswerTooManyRequests(int client_fd) {
  static constexpr char kAnswer[] =
      "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
      "Retry-After: 1\r\nContent-Length: 77\r\nConnection: close\r\n\r\n"
      "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"rate limited by the test\"}]}\n";
  char buffer[kChunk];
  while (!stopping_) {
    pollfd ready{client_fd, POLLIN, 0};
    if (poll(&ready, 1, kPollMillis) <= 0) continue;
    if (recv(client_fd, buffer, sizeof buffer, 0) > 0)
      WriteAll(client_fd, kAnswer, sizeof kAnswer - 1);
    break;
  }
  close(client_fd);
}

}  // namespace pullfleet::testing
