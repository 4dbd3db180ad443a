// NetnsHost: one extra "host" for end-to-end tests, a network namespace joined to the root
// namespace by a veth pair on a bridge, whose network a test can cut and heal (iptables DROP
// inside the namespace: packets vanish, no reset is sent, as when a cable is pulled). Needs
// root, iproute2 and iptables; everything it made is removed when it is destroyed.
//
// Addresses: the bridge is SUBNET.254 in the root namespace (servers the namespaced process must
// reach listen there), the namespace's end SUBNET.2. Names and subnet derive from the process id
// so that parallel test processes do not meet.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace pullfleet::e2e {

class NetnsHost {
 public:
  // `tag` (a few letters) keeps the names of different suites apart.
  static Result<std::unique_ptr<NetnsHost>> Create(const std::string& tag);
  ~NetnsHost();
  NetnsHost(const NetnsHost&) = delete;
  NetnsHost& operator=(const NetnsHost&) = delete;

  // The bridge's address in the root namespace.
  const std::string& bridge_address() const { return bridge_address_; }
  // Words that run a command inside the namespace when put before it.
  std::vector<std::string> Launcher() const;
  // Drops every packet into and out of the namespace; Heal undoes it. Both are idempotent.
  Status Cut();
  Status Heal();
  bool cut() const { return cut_; }

 private:
  NetnsHost() = default;
  Status Run(const std::string& command) const;

  std::string namespace_;
  std::string bridge_;
  std::string host_end_;
  std::string bridge_address_;
  bool cut_ = false;
};

}  // namespace pullfleet::e2e
