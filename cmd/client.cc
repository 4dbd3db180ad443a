// The client subcommands (apply, get, describe, delete): each connects to the coordinator
// through CAF's io middleman, sends one request and prints the answer as kubectl would.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>

#include "actors/common/protocol.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "cmd/actor_system_setup.h"
#include "cmd/commands.h"
#include "credentials/lookup_plan.h"
#include "credentials/provider_config.h"
#include "credentials/pull_secrets.h"
#include "credentials/registry_secret.h"
#include "image/reference.h"
#include "kube/manifests.h"
#include "kube/render.h"
#include "kube/selector.h"
#include "node/node_config.h"

namespace pullfleet::cmd {
namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(30);
// Connecting includes CAF's handshake: a port that accepts but never answers (another server,
// a frozen coordinator) must not hold the command forever.
constexpr auto kConnectTimeout = std::chrono::seconds(10);

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Connects to the coordinator, runs `body` with a scoped actor and the coordinator handle,
// and returns its exit code. Prints why and returns 1 when the coordinator is unreachable.
template <class Body>
int WithCoordinator(const ClientOptions& options, Body body) {
  auto address = ParseHostPort(options.server);
  if (!address.ok()) {
    std::cerr << "error: --server: " << address.error().message() << "\n";
    return 1;
  }
  caf::actor_system_config cfg;
  ConfigureActorSystem(cfg, ProcessRole::kClient);
  caf::actor_system system{cfg};
  int code = 0;
  {
    caf::scoped_actor self{system};
    caf::actor coordinator;
    std::string failure;
    self->request(system.middleman().actor_handle(), kConnectTimeout, caf::connect_atom::value,
                  address->host, address->port)
        .receive(
            [&](const caf::node_id&, caf::strong_actor_ptr& remote, const std::set<std::string>&) {
              coordinator = caf::actor_cast<caf::actor>(remote);
              if (!coordinator) failure = "no coordinator is published there";
            },
            [&](const caf::error& error) { failure = system.render(error); });
    if (!coordinator) {
      std::cerr << "error: cannot reach the coordinator at " << options.server << " (" << failure
                << "); is a coordinator (or `pullfleet up`) running there?\n";
      code = 1;
    } else {
      code = body(self, coordinator, system);
    }
  }
  return code;
}

int RequestFailed(caf::actor_system& system, const caf::error& error) {
  std::cerr << "error: request to the coordinator failed: " << system.render(error) << "\n";
  return 1;
}

std::string Namespace(const ClientOptions& options) {
  return options.ns.empty() ? "default" : options.ns;
}

std::string SkippedSummary(const std::map<std::string, int>& skipped) {
  std::string out;
  for (const auto& [kind, count] : skipped) {
    out += (out.empty() ? "" : ", ") + kind + "=" + std::to_string(count);
  }
  return out;
}

// kubectl's line for an empty listing.
void PrintNoResources(const ClientOptions& client) {
  std::cerr << "No resources found"
            << (client.all_namespaces ? "" : " in " + Namespace(client) + " namespace") << ".\n";
}

// Asks the coordinator for the pods of -n (or -A) and hands them to `print`.
// Lists the pods of the client's namespace (or every namespace), or only pod `name`.
int WithPods(const ClientOptions& client, const std::function<void(const pb::PodList&)>& print,
             const std::string& name = "") {
  pb::GetPodsRequest request;
  request.set_namespace_(Namespace(client));
  request.set_all_namespaces(client.all_namespaces && name.empty());
  request.set_name(name);
  return WithCoordinator(client, [&](caf::scoped_actor& self, const caf::actor& coordinator,
                                     caf::actor_system& system) {
    int code = 0;
    self->request(coordinator, kRequestTimeout, pods_atom::value, request)
        .receive([&](const pb::PodList& pods) { print(pods); },
                 [&](const caf::error& error) { code = RequestFailed(system, error); });
    return code;
  });
}

// Sends `request` and prints the created/configured lines and any refusals as kubectl does;
// 1 when anything was refused.
int SendApply(const ClientOptions& client, const pb::ApplyRequest& request,
              const std::function<void()>& after_success = {}) {
  return WithCoordinator(client, [&](caf::scoped_actor& self, const caf::actor& coordinator,
                                     caf::actor_system& system) {
    int code = 0;
    self->request(coordinator, kRequestTimeout, apply_atom::value, request)
        .receive(
            [&](const pb::ApplyResponse& response) {
              for (const auto& line : response.lines()) std::cout << line << "\n";
              for (const auto& error : response.errors()) std::cerr << error << "\n";
              if (response.errors_size() > 0) code = 1;
              if (after_success) after_success();
            },
            [&](const caf::error& error) { code = RequestFailed(system, error); });
    return code;
  });
}

}  // namespace

std::optional<std::vector<std::string>> ExpandManifestPaths(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const auto& path : paths) {
    std::error_code ec;
    if (path == "-" || std::filesystem::is_regular_file(path, ec)) {
      files.push_back(path);
      continue;
    }
    if (!std::filesystem::is_directory(path, ec)) {
      std::cerr << "error: the path \"" << path << "\" does not exist\n";
      return std::nullopt;
    }
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      const auto ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
        found.push_back(entry.path().string());
      }
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

std::optional<std::string> ReadInput(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path);
  if (!in) {
    std::cerr << "error: cannot read " << path << "\n";
    return std::nullopt;
  }
  text << in.rdbuf();
  return text.str();
}

int RunApply(const ClientOptions& client, const std::vector<std::string>& paths) {
  auto files = ExpandManifestPaths(paths);
  if (!files) return 1;
  // Every file parses before anything is sent: no half-applied bundles.
  pb::ApplyRequest request;
  std::map<std::string, int> skipped;
  for (const auto& file : *files) {
    auto text = ReadInput(file);
    if (!text) return 1;
    auto set = kube::ParseManifests(*text, file == "-" ? "<stdin>" : file);
    if (!set.ok()) {
      std::cerr << "error: " << set.error().message() << "\n";
      return 1;
    }
    // -n applies to namespaced objects (kubectl refuses a conflicting explicit namespace;
    // pullfleet lets -n win).
    auto in_namespace = [&](auto& object) {
      if (!client.ns.empty()) object.mutable_metadata()->set_namespace_(client.ns);
      return std::move(object);
    };
    for (auto& pod : set->pods) *request.add_pods() = in_namespace(pod);
    for (auto& w : set->workloads) *request.add_workloads() = in_namespace(w);
    for (auto& secret : set->secrets) *request.add_secrets() = in_namespace(secret);
    for (auto& sa : set->service_accounts) *request.add_service_accounts() = in_namespace(sa);
    for (auto& rc : set->runtime_classes) *request.add_runtime_classes() = std::move(rc);
    for (auto& ns : set->namespaces) *request.add_namespaces() = std::move(ns);
    for (const auto& [kind, count] : set->skipped_kinds) skipped[kind] += count;
  }
  const int objects = request.pods_size() + request.workloads_size() + request.secrets_size() +
                      request.service_accounts_size() + request.runtime_classes_size() +
                      request.namespaces_size();
  if (objects == 0 && skipped.empty()) {
    // As kubectl: input with no object at all is a mistake, not a success.
    std::cerr << "error: no objects passed to apply\n";
    return 1;
  }
  return SendApply(client, request, [&] {
    if (!skipped.empty()) {
      std::cout << "skipped kinds pullfleet does not run: " << SkippedSummary(skipped) << "\n";
    }
  });
}

namespace {

// `get pods` output: a table, or JSON (one Pod object when a name was asked for, as kubectl
// prints it, else a PodList).
void PrintPods(const ClientOptions& client, const pb::PodList& pods, bool one) {
  if (client.output == "json") {
    std::cout << (one ? kube::PodJson(pods.items(0)) : kube::PodListJson(pods)) << "\n";
  } else if (pods.items_size() == 0) {
    PrintNoResources(client);
  } else {
    kube::TableOptions options;
    options.wide = client.output == "wide";
    options.show_namespace = client.all_namespaces && !one;
    options.now_unix_ms = UnixMillis();
    std::cout << kube::PodTable(pods, options);
  }
}

}  // namespace

int RunGetPods(const ClientOptions& client, const std::string& name) {
  auto selector = kube::ParseSelector(client.selector);
  if (!selector.ok()) {
    std::cerr << "error: -l: " << selector.error().message() << "\n";
    return 1;
  }
  if (!name.empty() && !client.selector.empty()) {
    std::cerr << "error: name cannot be provided when a selector is specified\n";
    return 1;
  }
  int found = 0;
  const int code = WithPods(
      client,
      [&](const pb::PodList& pods) {
        if (!name.empty() && pods.items_size() == 0) {
          std::cerr << "Error from server (NotFound): pods \"" << name << "\" not found\n";
          found = 1;
          return;
        }
        pb::PodList selected;
        for (const auto& pod : pods.items()) {
          if (kube::SelectorMatches(*selector, pod.metadata().labels())) {
            *selected.add_items() = pod;
          }
        }
        PrintPods(client, selected, !name.empty());
      },
      name);
  return code != 0 ? code : found;
}

int RunGetEvents(const ClientOptions& client) {
  return WithPods(client, [&](const pb::PodList& pods) {
    if (client.output == "json") {
      std::cout << kube::EventListJson(pods) << "\n";
      return;
    }
    std::string table = kube::EventTable(pods, client.all_namespaces, UnixMillis());
    if (table.empty()) PrintNoResources(client);
    std::cout << table;
  });
}

int RunDescribePod(const ClientOptions& client, const std::string& name) {
  pb::GetPodsRequest request;
  request.set_namespace_(Namespace(client));
  request.set_name(name);
  return WithCoordinator(client, [&](caf::scoped_actor& self, const caf::actor& coordinator,
                                     caf::actor_system& system) {
    int code = 0;
    self->request(coordinator, kRequestTimeout, pods_atom::value, request)
        .receive(
            [&](const pb::PodList& pods) {
              if (pods.items_size() == 0) {
                std::cerr << "Error from server (NotFound): pods \"" << name << "\" not found\n";
                code = 1;
                return;
              }
              std::cout << kube::DescribePod(pods.items(0), UnixMillis());
            },
            [&](const caf::error& error) { code = RequestFailed(system, error); });
    return code;
  });
}

const std::vector<DeletedKind>& DeletableWorkloads() {
  static const auto* const kinds = new std::vector<DeletedKind>{
      {"Deployment",
       "deployment.apps",
       "deployments.apps",
       {"deployment", "deployments", "deploy"}},
      {"ReplicaSet", "replicaset.apps", "replicasets.apps", {"replicaset", "replicasets", "rs"}},
      {"StatefulSet",
       "statefulset.apps",
       "statefulsets.apps",
       {"statefulset", "statefulsets", "sts"}},
      {"DaemonSet", "daemonset.apps", "daemonsets.apps", {"daemonset", "daemonsets", "ds"}},
      {"Job", "job.batch", "jobs.batch", {"job", "jobs"}},
      {"CronJob", "cronjob.batch", "cronjobs.batch", {"cronjob", "cronjobs", "cj"}},
      {"ReplicationController",
       "replicationcontroller",
       "replicationcontrollers",
       {"replicationcontroller", "replicationcontrollers", "rc"}},
  };
  return *kinds;
}

int RunDeletePod(const ClientOptions& client, const std::string& name) {
  return RunDelete(client, {"Pod", "pod", "pods", {"pod"}}, name);
}

int RunDelete(const ClientOptions& client, const DeletedKind& kind, const std::string& name) {
  pb::DeletePodRequest request;
  request.set_namespace_(Namespace(client));
  request.set_name(name);
  if (kind.kind != "Pod") request.set_kind(kind.kind);
  return WithCoordinator(client, [&](caf::scoped_actor& self, const caf::actor& coordinator,
                                     caf::actor_system& system) {
    int code = 0;
    self->request(coordinator, kRequestTimeout, delpod_atom::value, request)
        .receive(
            [&](const pb::DeletePodResponse& response) {
              if (response.found()) {
                std::cout << kind.resource << " \"" << name << "\" deleted\n";
              } else {
                std::cerr << "Error from server (NotFound): " << kind.plural << " \"" << name
                          << "\" not found\n";
                code = 1;
              }
            },
            [&](const caf::error& error) { code = RequestFailed(system, error); });
    return code;
  });
}

int RunGetImages(const ClientOptions& client, const std::string& node) {
  pb::GetImagesRequest request;
  request.set_node(node);
  return WithCoordinator(client, [&](caf::scoped_actor& self, const caf::actor& coordinator,
                                     caf::actor_system& system) {
    int code = 0;
    self->request(coordinator, kRequestTimeout, images_atom::value, request)
        .receive(
            [&](const pb::ImageList& images) {
              if (images.has_error()) {
                std::cerr << "Error from server (" << images.error().code()
                          << "): " << images.error().message() << "\n";
                code = 1;
                return;
              }
              std::cout << (client.output == "json" ? kube::ImageListJson(images) + "\n"
                                                    : kube::ImageTable(images));
            },
            [&](const caf::error& error) { code = RequestFailed(system, error); });
    return code;
  });
}

int RunGetNodes(const ClientOptions& client) {
  return WithCoordinator(client, [&](caf::scoped_actor& self, const caf::actor& coordinator,
                                     caf::actor_system& system) {
    int code = 0;
    self->request(coordinator, kRequestTimeout, nodes_atom::value)
        .receive(
            [&](const pb::NodeList& nodes) {
              std::printf("%-16s %-9s %-22s %s\n", "NAME", "STATUS", "PLATFORM", "PODS");
              for (const auto& n : nodes.items()) {
                std::string platform = n.info().os() + "/" + n.info().architecture();
                if (!n.info().variant().empty()) platform += "/" + n.info().variant();
                std::printf("%-16s %-9s %-22s %d\n", n.info().name().c_str(),
                            n.ready() ? "Ready" : "NotReady", platform.c_str(), n.pods());
              }
            },
            [&](const caf::error& error) { code = RequestFailed(system, error); });
    return code;
  });
}

int RunImagesLoad(const ClientOptions& client, const std::string& node, const std::string& dir) {
  pb::LoadImagesRequest request;
  request.set_node(node);
  std::error_code ec;
  request.set_path(std::filesystem::absolute(dir, ec).string());
  return WithCoordinator(client, [&](caf::scoped_actor& self, const caf::actor& coordinator,
                                     caf::actor_system& system) {
    int code = 0;
    self->request(coordinator, std::chrono::minutes(10), load_atom::value, request)
        .receive(
            [&](const pb::LoadImagesReply& reply) {
              if (reply.has_error()) {
                std::cerr << "error: " << reply.error().message() << "\n";
                code = 1;
                return;
              }
              for (const auto& image : reply.images()) {
                std::cout << "loaded " << image.reference() << " " << image.digest() << " on "
                          << node << "\n";
              }
            },
            [&](const caf::error& error) { code = RequestFailed(system, error); });
    return code;
  });
}

}  // namespace pullfleet::cmd

// ---- credentials
// ---------------------------------------------------------------------------------

namespace pullfleet::cmd {
namespace {

Result<pb::Secret> BuildRegistrySecret(const ClientOptions& client,
                                       const CreateSecretOptions& options) {
  if (!options.from_file.empty()) {
    const std::string key = ".dockerconfigjson=";
    if (options.from_file.rfind(key, 0) != 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "--from-file must be .dockerconfigjson=PATH, got \"" + options.from_file + "\"");
    }
    if (!options.username.empty() || !options.password.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   "--from-file cannot be combined with --docker-username or --docker-password");
    }
    return credentials::RegistrySecretFromFile(options.name, Namespace(client),
                                               options.from_file.substr(key.size()));
  }
  credentials::RegistrySecretOptions made;
  made.name = options.name;
  made.namespace_name = Namespace(client);
  made.server = options.server;
  made.username = options.username;
  made.password = options.password;
  made.email = options.email;
  return credentials::MakeRegistrySecret(made);
}

// The pull secrets `names` of the namespace, from the coordinator; nullopt (after printing
// why) when it cannot be asked.
std::optional<pb::PullSecretsReply> FetchSecrets(const ClientOptions& client,
                                                 const std::vector<std::string>& names) {
  pb::PullSecretsRequest request;
  request.set_namespace_(Namespace(client));
  for (const auto& name : names) request.add_names(name);
  std::optional<pb::PullSecretsReply> out;
  const int code = WithCoordinator(
      client,
      [&](caf::scoped_actor& self, const caf::actor& coordinator, caf::actor_system& system) {
        int failed = 0;
        self->request(coordinator, kRequestTimeout, secrets_atom::value, request)
            .receive([&](pb::PullSecretsReply& reply) { out = std::move(reply); },
                     [&](const caf::error& error) { failed = RequestFailed(system, error); });
        return failed;
      });
  if (code != 0) return std::nullopt;
  return out;
}

}  // namespace

int RunCreateRegistrySecret(const ClientOptions& client, const CreateSecretOptions& options) {
  auto secret = BuildRegistrySecret(client, options);
  if (!secret.ok()) {
    std::cerr << "error: " << secret.error().message() << "\n";
    return 1;
  }
  pb::ApplyRequest request;
  *request.add_secrets() = std::move(secret).value();
  return SendApply(client, request);
}

int RunCredsLookup(const ClientOptions& client, const CredsLookupOptions& options) {
  auto ref = image::ParseReference(options.image);
  if (!ref.ok()) {
    std::cerr << "error: " << ref.error().message() << "\n";
    return 1;
  }
  credentials::LookupSources sources;

  // Pod secrets, read from the coordinator as a node reads them.
  std::optional<credentials::PodKeyring> pod;
  pb::PullSecretsReply secrets;
  if (!options.secrets.empty()) {
    auto fetched = FetchSecrets(client, options.secrets);
    if (!fetched) return 1;
    secrets = std::move(*fetched);
    pod = credentials::BuildPodKeyring(
        Namespace(client), options.secrets,
        [&](std::string_view ns, std::string_view name) -> const pb::Secret* {
          for (const auto& s : secrets.secrets()) {
            if (s.metadata().namespace_() == ns && s.metadata().name() == name) return &s;
          }
          return nullptr;
        });
    sources.pod_secrets = &*pod;
  }

  // The node's own sources, from its config.
  std::optional<credentials::DockerKeyring> node_keyring;
  std::optional<credentials::CredentialProviderConfig> providers;
  if (!options.node_config.empty()) {
    auto config = node::LoadNodeConfig(options.node_config);
    if (!config.ok()) {
      std::cerr << "error: " << config.error().message() << "\n";
      return 1;
    }
    if (!config->docker_config_path.empty()) {
      auto keyring = credentials::DockerKeyring::FromFile(config->docker_config_path);
      if (keyring.ok()) {
        node_keyring = std::move(keyring).value();
        sources.node_config = &*node_keyring;
      } else {
        sources.problems.push_back(keyring.error().message());
      }
    }
    if (!config->credential_provider_config.empty()) {
      auto loaded = credentials::LoadCredentialProviderConfig(config->credential_provider_config);
      if (loaded.ok()) {
        providers = std::move(loaded).value();
        sources.providers = &*providers;
      } else {
        sources.problems.push_back(loaded.error().message());
      }
    }
  }
  std::string rendered = credentials::RenderLookupPlan(credentials::BuildLookupPlan(*ref, sources));
  if (!rendered.empty() && rendered.back() != '\n') rendered += '\n';
  std::cout << rendered;
  return 0;
}

}  // namespace pullfleet::cmd

namespace pullfleet::cmd {
namespace {

std::string ChaosJson(const pb::ChaosReply& reply) {
  std::ostringstream out;
  out << "{\"node\":\"" << reply.node() << "\",\"killed\":" << reply.killed() << ",\"live\":{";
  const std::map<std::string, int32_t> live(reply.live().begin(), reply.live().end());
  const char* separator = "";
  for (const auto& [kind, count] : live) {
    out << separator << "\"" << kind << "\":" << count;
    separator = ",";
  }
  out << "},\"restarts\":{";
  const std::map<std::string, int64_t> restarts(reply.restarts().begin(), reply.restarts().end());
  separator = "";
  for (const auto& [kind, count] : restarts) {
    out << separator << "\"" << kind << "\":" << count;
    separator = ",";
  }
  out << "}}";
  return out.str();
}

void PrintChaosTable(const pb::ChaosReply& reply) {
  std::printf("%-20s %-5s %s\n", "KIND", "LIVE", "RESTARTS");
  const std::map<std::string, int32_t> live(reply.live().begin(), reply.live().end());
  for (const auto& [kind, count] : live) {
    auto restarts = reply.restarts().find(kind);
    std::printf("%-20s %-5d %lld\n", kind.c_str(), count,
                static_cast<long long>(restarts == reply.restarts().end() ? 0 : restarts->second));
  }
}

}  // namespace

int RunChaos(const ClientOptions& client, const ChaosOptions& chaos) {
  pb::ChaosRequest request;
  request.set_node(chaos.node);
  request.set_list(chaos.list);
  request.set_kind(chaos.kind);
  request.set_all(chaos.all);
  return WithCoordinator(client, [&](caf::scoped_actor& self, const caf::actor& coordinator,
                                     caf::actor_system& system) {
    int code = 0;
    self->request(coordinator, kRequestTimeout, chaos_atom::value, request)
        .receive(
            [&](const pb::ChaosReply& reply) {
              if (reply.has_error()) {
                std::cerr << "Error from server (" << reply.error().code()
                          << "): " << reply.error().message() << "\n";
                code = 1;
                return;
              }
              if (client.output == "json") {
                std::cout << ChaosJson(reply) << "\n";
                return;
              }
              if (!chaos.list) {
                std::cout << "killed " << reply.killed() << " " << chaos.kind << " actor(s) on "
                          << reply.node() << "\n";
              }
              PrintChaosTable(reply);
            },
            [&](const caf::error& error) { code = RequestFailed(system, error); });
    return code;
  });
}

}  // namespace pullfleet::cmd
