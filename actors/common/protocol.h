// The message vocabulary of pullfleet's actors: atoms, and the CAF glue that lets protobuf
// messages travel as ordinary CAF message types (also across the io middleman).
//
// Every process must call RegisterMessageTypes() on its config before constructing the
// actor system: the registered names travel on the wire, so all nodes, coordinators and
// clients register the same list.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <type_traits>

#include "caf/atom.hpp"
#include "caf/error.hpp"
#include "caf/meta/load_callback.hpp"
#include "caf/meta/save_callback.hpp"
#include "caf/meta/type_name.hpp"
#include "caf/sec.hpp"
#include "messages/pullfleet.pb.h"

namespace caf {
class actor_system_config;
}

namespace pullfleet::pb {

// Serialises any protobuf message as its wire bytes. Found by ADL for every pb:: type.
template <class Inspector, class T>
std::enable_if_t<std::is_base_of_v<google::protobuf::Message, T>, typename Inspector::result_type>
inspect(Inspector& f, T& x) {
  std::string bytes;
  auto save = caf::meta::save_callback([&]() -> caf::error {
    if (!x.SerializeToString(&bytes)) return caf::make_error(caf::sec::invalid_argument);
    return caf::none;
  });
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (!x.ParseFromString(bytes)) return caf::make_error(caf::sec::invalid_argument);
    return caf::none;
  });
  return f(caf::meta::type_name("protobuf"), save, bytes, load);
}

// Short one-line rendering for CAF's diagnostics. pb messages never hold secrets.
template <class T>
std::enable_if_t<std::is_base_of_v<google::protobuf::Message, T>, std::string> to_string(
    const T& x) {
  return x.GetTypeName() + "{" + x.ShortDebugString() + "}";
}

}  // namespace pullfleet::pb

namespace pullfleet {

// Client -> coordinator.
using apply_atom = caf::atom_constant<caf::atom("apply")>;
using pods_atom = caf::atom_constant<caf::atom("pods")>;
using delpod_atom = caf::atom_constant<caf::atom("delpod")>;
using images_atom = caf::atom_constant<caf::atom("images")>;
using nodes_atom = caf::atom_constant<caf::atom("nodes")>;
using load_atom = caf::atom_constant<caf::atom("load")>;

// Node <-> coordinator.
using register_atom = caf::atom_constant<caf::atom("register")>;
// node -> coordinator, answered at once: the node's own liveness check of its coordinator.
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using assign_atom = caf::atom_constant<caf::atom("assign")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using secrets_atom = caf::atom_constant<caf::atom("secrets")>;
using chaos_atom = caf::atom_constant<caf::atom("chaos")>;

// Inside a node.
using pull_atom = caf::atom_constant<caf::atom("pull")>;
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using resolve_atom = caf::atom_constant<caf::atom("resolve")>;
using backoff_atom = caf::atom_constant<caf::atom("backoff")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using restarted_atom = caf::atom_constant<caf::atom("restarted")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using stall_atom = caf::atom_constant<caf::atom("stall")>;
using refresh_atom = caf::atom_constant<caf::atom("refresh")>;
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
using lost_atom = caf::atom_constant<caf::atom("lost")>;

// Registers every protobuf message type that actors exchange.
void RegisterMessageTypes(caf::actor_system_config& config);

}  // namespace pullfleet
