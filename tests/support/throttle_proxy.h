// ThrottleProxy: a TCP relay on loopback that slows what a real server sends back, so tests can
// make a pull from the real registry last long enough to observe ordering and overlap (serial
// versus parallel pulls, shared downloads, a present image not waiting behind a long pull).
//
// Each accepted connection is relayed to the target by its own thread. Bytes from the client
// pass at once; bytes from the server are released at `bytes_per_second` per connection. The
// relay understands no protocol, so the registry stays the real one end to end.
//
// Two faults replace the pacing when asked for: kStall relays what the client sends but never
// a byte of the answer (a registry that hangs mid-request), and kTooManyRequests answers every
// connection's first bytes with "HTTP/1.1 429 Too Many Requests" and closes it (a registry
// that rate-limits; a TLS hello gets the same bytes and fails, as against any plain server).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"

namespace pullfleet::testing {

enum class ProxyFault { kNone, kStall, kTooManyRequests };

class ThrottleProxy {
 public:
  // Listens on a free port of `listen_address` (loopback by default; a test may name an
  // address on a network namespace bridge it created; `listen_port` 0 lets the OS choose)
  // and relays to `target` ("127.0.0.1:PORT").
  static Result<std::unique_ptr<ThrottleProxy>> Start(
      const std::string& target, size_t bytes_per_second, ProxyFault fault = ProxyFault::kNone,
      const std::string& listen_address = "127.0.0.1", uint16_t listen_port = 0);
  ~ThrottleProxy();
  ThrottleProxy(const ThrottleProxy&) = delete;
  ThrottleProxy& operator=(const ThrottleProxy&) = delete;

  // "ADDRESS:PORT": use it as the registry part of image references.
  const std::string& host() const { return host_; }
  // Connections accepted so far.
  int connections() const { return connections_.load(); }
  // Bytes relayed from the server to clients so far (to tell a resumed download from a
  // fresh one).
  size_t bytes_relayed() const { return bytes_relayed_.load(); }

 private:
  ThrottleProxy(int listen_fd, std::string host, int target_port, size_t bytes_per_second);
  void AcceptLoop();
  void Relay(int client_fd);
  void AnswerTooManyRequests(int client_fd);

  int listen_fd_;
  std::string host_;
  int target_port_;
  size_t bytes_per_second_;
  ProxyFault fault_ = ProxyFault::kNone;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<size_t> bytes_relayed_{0};
  std::thread acceptor_;
  std::mutex relays_mutex_;
  std::vector<std::thread> relays_;
};

}  // namespace pullfleet::testing
