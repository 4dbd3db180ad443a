// How every pullfleet process configures CAF: the io middleman, the protobuf message
// types, the sharing scheduler, and heartbeats for processes that hold long connections.
#pragma once

#include <cstdint>
#include <string>

#include "caf/actor_system_config.hpp"
#include "common/error.h"

namespace pullfleet::cmd {

enum class ProcessRole { kServer, kClient };

// Fills `config` for a process of `role`; call before constructing the actor_system.
void ConfigureActorSystem(caf::actor_system_config& config, ProcessRole role);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// Parses "HOST:PORT" (IPv6 as "[::1]:PORT").
Result<HostPort> ParseHostPort(const std::string& text);

}  // namespace pullfleet::cmd
