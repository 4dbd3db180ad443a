#include "tests/e2e/netns_host.h"

#include <unistd.h>

#include "tests/support/registry_fixture.h"

namespace pullfleet::e2e {

Result<std::unique_ptr<NetnsHost>> NetnsHost::Create(const std::string& tag) {
  if (geteuid() != 0) return Error(ErrorCode::kUnsupported, "network namespaces need root");
  std::unique_ptr<NetnsHost> host(new NetnsHost());
  const int pid = static_cast<int>(getpid());
  const std::string id = tag + std::to_string(pid % 100000);  // interface names: <= 15 bytes
  host->namespace_ = id + "-ns";
  host->bridge_ = id + "br";
  host->host_end_ = id + "h";
  const std::string ns_end = id + "n";
  const std::string subnet =
      "10." + std::to_string(200 + pid % 50) + "." + std::to_string(pid / 50 % 250);
  host->bridge_address_ = subnet + ".254";
  // The destructor removes whatever part of this was made. Leftovers of a killed run whose
  // process id this one reuses are removed first.
  (void)host->Run("ip netns del " + host->namespace_ + " 2>/dev/null; ip link del " +
                  host->bridge_ + " 2>/dev/null; true");
  const std::vector<std::string> steps = {
      "ip link add " + host->bridge_ + " type bridge",
      "ip addr add " + host->bridge_address_ + "/24 dev " + host->bridge_,
      "ip link set " + host->bridge_ + " up",
      "ip netns add " + host->namespace_,
      "ip link add " + host->host_end_ + " type veth peer name " + ns_end,
      "ip link set " + ns_end + " netns " + host->namespace_,
      "ip link set " + host->host_end_ + " master " + host->bridge_ + " up",
      "ip -n " + host->namespace_ + " addr add " + subnet + ".2/24 dev " + ns_end,
      "ip -n " + host->namespace_ + " link set " + ns_end + " up",
      "ip -n " + host->namespace_ + " link set lo up",
  };
  for (const auto& step : steps) {
    if (Status st = host->Run(step); !st.ok()) return st.error();
  }
  return host;
}

NetnsHost::~NetnsHost() {
  if (!namespace_.empty()) (void)Run("ip netns del " + namespace_ + " 2>/dev/null; true");
  if (!host_end_.empty()) (void)Run("ip link del " + host_end_ + " 2>/dev/null; true");
  if (!bridge_.empty()) (void)Run("ip link del " + bridge_ + " 2>/dev/null; true");
}

std::vector<std::string> NetnsHost::Launcher() const {
  return {"/usr/sbin/ip", "netns", "exec", namespace_};
}

Status NetnsHost::Cut() {
  if (cut_) return Status::Ok();
  const std::string in_ns = "ip netns exec " + namespace_ + " iptables -w ";
  if (Status st = Run(in_ns + "-I INPUT -j DROP"); !st.ok()) return st;
  if (Status st = Run(in_ns + "-I OUTPUT -j DROP"); !st.ok()) return st;
  cut_ = true;
  return Status::Ok();
}

Status NetnsHost::Heal() {
  if (!cut_) return Status::Ok();
  const std::string in_ns = "ip netns exec " + namespace_ + " iptables -w ";
  if (Status st = Run(in_ns + "-D INPUT -j DROP"); !st.ok()) return st;
  if (Status st = Run(in_ns + "-D OUTPUT -j DROP"); !st.ok()) return st;
  cut_ = false;
  return Status::Ok();
}

Status NetnsHost::Run(const std::string& command) const {
  testing::CommandResult result = testing::RunCommand(command + " 2>&1");
  if (result.exit_code != 0) {
    return Error(ErrorCode::kInternal, "`" + command + "` failed: " + result.output);
  }
  return Status::Ok();
}

}  // namespace pullfleet::e2e
