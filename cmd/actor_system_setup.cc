#include "cmd/actor_system_setup.h"

#include "actors/common/protocol.h"
#include "caf/atom.hpp"
#include "caf/io/middleman.hpp"
#include "caf/timespan.hpp"

namespace pullfleet::cmd {

void ConfigureActorSystem(caf::actor_system_config& config, ProcessRole role,
                          const FailureDetection& detection) {
  config.load<caf::io::middleman>();
  RegisterMessageTypes(config);
  // Work stealing makes idle workers spin; with many processes on a few cores the sharing
  // scheduler keeps an idle node near zero CPU.
  config.set("scheduler.policy", caf::atom("sharing"));
  if (role == ProcessRole::kServer) {
    // Without both settings CAF never notices a peer that is frozen (SIGSTOP) or cut off.
    config.set("middleman.heartbeat-interval",
               caf::timespan{std::chrono::milliseconds(detection.heartbeat_ms)});
    config.set("middleman.connection-timeout",
               caf::timespan{std::chrono::milliseconds(detection.connection_timeout_ms)});
  } else if (role == ProcessRole::kClient) {
    config.set("scheduler.max-threads", 2);
  }
  config.set("logger.console", caf::atom("none"));
}

Result<HostPort> ParseHostPort(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Error(ErrorCode::kInvalidArgument,
                 "address \"" + text + "\" is not HOST:PORT (e.g. 127.0.0.1:7400)");
  }
  HostPort out;
  out.host = text.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  const std::string port = text.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
      std::stoi(port) > 65535) {
    return Error(ErrorCode::kInvalidArgument,
                 "address \"" + text + "\": bad port \"" + port + "\"");
  }
  out.port = static_cast<uint16_t>(std::stoi(port));
  return out;
}

}  // namespace pullfleet::cmd
