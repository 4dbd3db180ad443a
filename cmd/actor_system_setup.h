// How every pullfleet process configures CAF: the io middleman, the protobuf message
// types, the sharing scheduler, and heartbeats for processes that hold long connections.
#pragma once

#include <cstdint>
#include <string>

#include "caf/actor_system_config.hpp"
#include "common/error.h"

namespace pullfleet::cmd {

// kServer: the coordinator (and `up`), with CAF heartbeats; kNode: a node process, which
// checks its coordinator with pings of its own instead (see the node agent); kClient: a
// command-line client.
enum class ProcessRole { kServer, kNode, kClient };

// How fast the coordinator notices a node that froze or whose network was cut (a killed peer
// is noticed at once: its sockets close). CAF's middleman sends a heartbeat every
// `heartbeat_ms` and drops a connection that stayed silent for `connection_timeout_ms`. Nodes
// use the same two values for their pings (CoordinatorLink), not for CAF. Keep the interval
// above the slowest handshake (a connection whose handshake takes longer than one interval
// is dropped as timed out) and the timeout at several intervals.
struct FailureDetection {
  int heartbeat_ms = 500;
  int connection_timeout_ms = 2000;
};

// Fills `config` for a process of `role`; call before constructing the actor_system.
// `detection` applies to kServer only (a client's connection lives for one request).
void ConfigureActorSystem(caf::actor_system_config& config, ProcessRole role,
                          const FailureDetection& detection = {});

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// Parses "HOST:PORT" (IPv6 as "[::1]:PORT").
Result<HostPort> ParseHostPort(const std::string& text);

}  // namespace pullfleet::cmd
