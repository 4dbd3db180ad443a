// The subcommands of the pullfleet binary. main.cc parses flags (CLI11) into these option
// structs; each Run* function does the work and returns the process exit code. Split so
// that CLI11 and CAF, both heavy to compile, never meet in one translation unit.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pullfleet::cmd {

// ---- servers (server.cc) -----------------------------------------------------------------------

// Failure detection between server processes (see FailureDetection in actor_system_setup.h).
struct DetectionOptions {
  int heartbeat_ms = 500;
  int connection_timeout_ms = 2000;
};

struct UpOptions {
  int nodes = 3;
  std::string data_dir;
  std::string listen = "127.0.0.1:7400";
  std::string metrics;      // HOST:PORT, empty for none
  std::string node_config;  // YAML file, empty for defaults
  bool always_pull_images = false;
  double node_grace_seconds = 40;
};
int RunUp(const UpOptions& options);

struct CoordinatorOptions {
  std::string listen = "127.0.0.1:7400";
  std::string data_dir;
  std::string metrics;
  bool always_pull_images = false;
  double node_grace_seconds = 40;
  DetectionOptions detection;
};
int RunCoordinator(const CoordinatorOptions& options);

struct NodeOptions {
  std::string name;
  std::string coordinator = "127.0.0.1:7400";
  std::string data_dir;
  std::string config;
  std::string metrics;
  DetectionOptions detection;
};
int RunNode(const NodeOptions& options);

// ---- client (client.cc) ------------------------------------------------------------------------

struct ClientOptions {
  std::string server = "127.0.0.1:7400";
  std::string ns;  // -n; empty means "default"
  bool all_namespaces = false;
  std::string output;    // "", "wide", "json"
  std::string selector;  // -l of `get pods`: label requirements, "app=web,tier!=db"
};
int RunApply(const ClientOptions& client, const std::vector<std::string>& files);
// All pods of the namespace (or of all with -A), or only pod `name` when it is not empty.
int RunGetPods(const ClientOptions& client, const std::string& name);
// `get events`: the pods' events, as `kubectl get events` lists them (-o json: an EventList).
int RunGetEvents(const ClientOptions& client);
int RunDescribePod(const ClientOptions& client, const std::string& name);
// What `delete KIND NAME` deletes: the object's kind, its names as kubectl prints them
// ("deployment.apps" when deleted, "deployments.apps" when not found), and the names the
// command takes for it (the first is the subcommand, the others its aliases).
struct DeletedKind {
  std::string kind;
  std::string resource;
  std::string plural;
  std::vector<std::string> names;
};
// The workload kinds `delete` knows.
const std::vector<DeletedKind>& DeletableWorkloads();
int RunDelete(const ClientOptions& client, const DeletedKind& kind, const std::string& name);
int RunDeletePod(const ClientOptions& client, const std::string& name);
int RunGetImages(const ClientOptions& client, const std::string& node);
int RunGetNodes(const ClientOptions& client);
int RunImagesLoad(const ClientOptions& client, const std::string& node, const std::string& dir);

// `create secret docker-registry NAME`: from --docker-* flags or --from-file.
struct CreateSecretOptions {
  std::string name;
  std::string server = "https://index.docker.io/v1/";
  std::string username;
  std::string password;
  std::string email;
  std::string from_file;  // ".dockerconfigjson=PATH"
};
int RunCreateRegistrySecret(const ClientOptions& client, const CreateSecretOptions& options);

// `creds lookup IMAGE`: the lookup plan, without any secret. Pull secrets named with --secret
// are read from the coordinator (namespace -n).
struct CredsLookupOptions {
  std::string image;
  std::string node_config;
  std::vector<std::string> secrets;
};
int RunCredsLookup(const ClientOptions& client, const CredsLookupOptions& options);

// `chaos kill --node N --actor KIND [--all]` and `chaos list --node N`: kill actors of a node
// (its supervisors restart them) or list the live ones by kind, with restart counts.
struct ChaosOptions {
  std::string node;
  bool list = false;
  std::string kind;
  bool all = false;
};
int RunChaos(const ClientOptions& client, const ChaosOptions& chaos);

// `images list -f`: every image the manifests would make nodes pull; no server involved.
int RunImagesList(const std::vector<std::string>& files, const std::string& output);

// Expands -f arguments as kubectl does: a folder gives its *.yaml, *.yml and *.json files in
// name order; "-" is stdin. Prints why and returns nullopt when a path does not exist.
std::optional<std::vector<std::string>> ExpandManifestPaths(const std::vector<std::string>& paths);

// ---- images without a cluster (image_commands.cc) ----------------------------------------------

struct ImagePullOptions {
  std::string reference;
  std::string data_dir;
  std::string platform;  // empty: the machine's
  std::string config;    // node config YAML
};
int RunImagePull(const ImagePullOptions& options);
int RunImageParse(const std::string& reference, const std::string& output);
int RunImagePolicy(const std::string& image, const std::string& policy);
int RunPlatformMatch(const std::string& want, const std::string& have);

// Reads a whole file, or stdin for "-". nullopt and a message on stderr when unreadable.
std::optional<std::string> ReadInput(const std::string& path);

}  // namespace pullfleet::cmd
