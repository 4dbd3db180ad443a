// pullfleet: image pulls for a fleet of nodes, driven like kubectl.
//
// This file only parses the command line; see commands.h for what each subcommand does.
#include <CLI/CLI.hpp>

#include "cmd/commands.h"

namespace pc = pullfleet::cmd;

namespace {

void AddClientFlags(CLI::App* app, pc::ClientOptions& client) {
  app->add_option("--server", client.server, "Coordinator address HOST:PORT")
      ->capture_default_str();
  app->add_option("-n,--namespace", client.ns, "Namespace (default: default)");
}

void AddDetectionFlags(CLI::App* app, pc::DetectionOptions& detection) {
  app->add_option("--heartbeat-ms", detection.heartbeat_ms,
                  "Heartbeat interval (ms): the coordinator's middleman heartbeat to its nodes, a "
                  "node's ping to its coordinator")
      ->capture_default_str()
      ->check(CLI::Range(50, 600000));
  app->add_option("--connection-timeout-ms", detection.connection_timeout_ms,
                  "A peer silent this long counts as lost (ms): a node the coordinator hears "
                  "nothing from, a coordinator that leaves a node's ping unanswered")
      ->capture_default_str()
      ->check(CLI::Range(100, 3600000));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pullfleet: decides, pulls and reports container images for a fleet of nodes"};
  app.require_subcommand(1);
  int code = 0;

  // Servers.
  pc::UpOptions up;
  auto* up_cmd = app.add_subcommand("up", "Run a coordinator and N nodes in one process");
  up_cmd->add_option("--nodes", up.nodes, "Number of nodes")->capture_default_str();
  up_cmd->add_option("--data", up.data_dir, "Data folder")->required();
  up_cmd->add_option("--listen", up.listen, "Client API address")->capture_default_str();
  up_cmd->add_option("--metrics", up.metrics, "Serve /metrics on HOST:PORT");
  up_cmd->add_option("--node-config", up.node_config, "Node config YAML for every node");
  up_cmd->add_flag("--always-pull-images", up.always_pull_images,
                   "Admission: set imagePullPolicy Always on every new pod");
  up_cmd->callback([&] { code = pc::RunUp(up); });

  pc::CoordinatorOptions coord;
  auto* coord_cmd = app.add_subcommand("coordinator", "Run the coordinator alone");
  coord_cmd->add_option("--listen", coord.listen, "Address for nodes and clients")
      ->capture_default_str();
  coord_cmd->add_option("--data", coord.data_dir, "Data folder")->required();
  coord_cmd->add_option("--metrics", coord.metrics, "Serve /metrics on HOST:PORT");
  coord_cmd->add_flag("--always-pull-images", coord.always_pull_images,
                      "Admission: set imagePullPolicy Always on every new pod");
  coord_cmd
      ->add_option("--node-grace-seconds", coord.node_grace_seconds,
                   "A node down this long is lost: its pods are reported NodeLost and "
                   "Deployment pods replaced")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  AddDetectionFlags(coord_cmd, coord.detection);
  coord_cmd->callback([&] { code = pc::RunCoordinator(coord); });

  pc::NodeOptions node;
  auto* node_cmd = app.add_subcommand("node", "Run one node that joins a coordinator");
  node_cmd->add_option("--name", node.name, "Node name")->required();
  node_cmd->add_option("--coordinator", node.coordinator, "Coordinator HOST:PORT")
      ->capture_default_str();
  node_cmd->add_option("--data", node.data_dir, "Data folder")->required();
  node_cmd->add_option("--config", node.config, "Node config YAML");
  node_cmd->add_option("--metrics", node.metrics, "Serve /metrics on HOST:PORT");
  AddDetectionFlags(node_cmd, node.detection);
  node_cmd->callback([&] { code = pc::RunNode(node); });

  // Client.
  pc::ClientOptions client;
  std::vector<std::string> files;
  auto* apply_cmd = app.add_subcommand("apply", "Create or update objects from manifests");
  AddClientFlags(apply_cmd, client);
  apply_cmd->add_option("-f,--filename", files, "Manifest file, folder, or - for stdin")
      ->required();
  apply_cmd->callback([&] { code = pc::RunApply(client, files); });

  pc::ChaosOptions chaos;
  auto* chaos_cmd = app.add_subcommand(
      "chaos", "Kill actors of a node to test recovery (only where its config has allowChaos)");
  chaos_cmd->require_subcommand(1);
  auto* chaos_kill = chaos_cmd->add_subcommand("kill", "Kill one actor of a kind, or --all");
  AddClientFlags(chaos_kill, client);
  chaos_kill->add_option("--node", chaos.node, "Node name")->required();
  chaos_kill->add_option("--actor", chaos.kind, "Actor kind")
      ->required()
      ->check(
          CLI::IsMember({"pull-queue", "pod-chain", "credential-resolver", "backoff", "transfer"}));
  chaos_kill->add_flag("--all", chaos.all, "Every actor of the kind");
  chaos_kill->add_option("-o,--output", client.output, "json")->check(CLI::IsMember({"json"}));
  chaos_kill->callback([&] { code = pc::RunChaos(client, chaos); });
  auto* chaos_list = chaos_cmd->add_subcommand("list", "Live actors of a node by kind");
  AddClientFlags(chaos_list, client);
  chaos_list->add_option("--node", chaos.node, "Node name")->required();
  chaos_list->add_option("-o,--output", client.output, "json")->check(CLI::IsMember({"json"}));
  chaos_list->callback([&] {
    chaos.list = true;
    code = pc::RunChaos(client, chaos);
  });

  auto* get_cmd = app.add_subcommand("get", "List pods, events, images of a node, or nodes");
  get_cmd->require_subcommand(1);
  auto* get_pods = get_cmd->add_subcommand("pods", "List pods");
  AddClientFlags(get_pods, client);
  get_pods->add_flag("-A,--all-namespaces", client.all_namespaces, "Pods of every namespace");
  get_pods->add_option("-o,--output", client.output, "wide | json")
      ->check(CLI::IsMember({"wide", "json"}));
  std::string get_pod_name;
  get_pods->add_option("name", get_pod_name, "Only this pod");
  get_pods->add_option("-l,--selector", client.selector,
                       "Only pods with these labels: key=value, key!=value, key, !key, "
                       "comma-separated");
  get_pods->callback([&] { code = pc::RunGetPods(client, get_pod_name); });
  std::string image_node;
  auto* get_images = get_cmd->add_subcommand("images", "List the images on a node");
  AddClientFlags(get_images, client);
  get_images->add_option("--node", image_node, "Node name")->required();
  get_images->add_option("-o,--output", client.output, "json")->check(CLI::IsMember({"json"}));
  get_images->callback([&] { code = pc::RunGetImages(client, image_node); });
  auto* get_events = get_cmd->add_subcommand("events", "List the events of pods");
  AddClientFlags(get_events, client);
  get_events->add_flag("-A,--all-namespaces", client.all_namespaces, "Events of every namespace");
  get_events->add_option("-o,--output", client.output, "json")->check(CLI::IsMember({"json"}));
  get_events->callback([&] { code = pc::RunGetEvents(client); });
  auto* get_nodes = get_cmd->add_subcommand("nodes", "List nodes");
  AddClientFlags(get_nodes, client);
  get_nodes->callback([&] { code = pc::RunGetNodes(client); });

  std::string pod_name;
  auto* describe_cmd = app.add_subcommand("describe", "Show a pod in detail");
  describe_cmd->require_subcommand(1);
  auto* describe_pod = describe_cmd->add_subcommand("pod", "Show a pod with its events");
  AddClientFlags(describe_pod, client);
  describe_pod->add_option("name", pod_name, "Pod name")->required();
  describe_pod->callback([&] { code = pc::RunDescribePod(client, pod_name); });

  auto* delete_cmd = app.add_subcommand("delete", "Delete a pod, or a workload and its pods");
  delete_cmd->require_subcommand(1);
  auto* delete_pod = delete_cmd->add_subcommand("pod", "Delete a pod");
  AddClientFlags(delete_pod, client);
  delete_pod->add_option("name", pod_name, "Pod name")->required();
  delete_pod->callback([&] { code = pc::RunDeletePod(client, pod_name); });
  // Workloads go with the pods they own: one subcommand per kind, its other names aliases.
  for (const pc::DeletedKind& kind : pc::DeletableWorkloads()) {
    auto* sub =
        delete_cmd->add_subcommand(kind.names[0], "Delete a " + kind.kind + " and its pods");
    for (size_t i = 1; i < kind.names.size(); ++i) sub->alias(kind.names[i]);
    AddClientFlags(sub, client);
    sub->add_option("name", pod_name, kind.kind + " name")->required();
    sub->callback([&, kind] { code = pc::RunDelete(client, kind, pod_name); });
  }

  // Images without a cluster.
  auto* image_cmd = app.add_subcommand("image", "Pull or inspect one image without a cluster");
  image_cmd->require_subcommand(1);
  pc::ImagePullOptions pull;
  auto* pull_cmd = image_cmd->add_subcommand("pull", "Pull an image into a node store");
  pull_cmd->add_option("reference", pull.reference, "Image reference")->required();
  pull_cmd->add_option("--data", pull.data_dir, "Node data folder")->required();
  pull_cmd->add_option("--platform", pull.platform, "OS/ARCH[/VARIANT]");
  pull_cmd->add_option("--config", pull.config, "Node config YAML");
  pull_cmd->callback([&] { code = pc::RunImagePull(pull); });
  std::string reference, output, policy;
  auto* parse_cmd = image_cmd->add_subcommand("parse", "Show the parts of an image reference");
  parse_cmd->add_option("reference", reference, "Image reference")->required();
  parse_cmd->add_option("-o,--output", output, "json")->check(CLI::IsMember({"json"}));
  parse_cmd->callback([&] { code = pc::RunImageParse(reference, output); });
  auto* policy_cmd = image_cmd->add_subcommand("policy", "Show the defaulted pull policy");
  policy_cmd->add_option("image", reference, "Image as written in a pod spec")->required();
  policy_cmd->add_option("--policy", policy, "imagePullPolicy as written (may be empty)");
  policy_cmd->callback([&] { code = pc::RunImagePolicy(reference, policy); });

  auto* images_cmd = app.add_subcommand("images", "Plan a rollout, or pre-load a node");
  images_cmd->require_subcommand(1);
  std::vector<std::string> plan_files;
  std::string plan_output;
  auto* list_cmd = images_cmd->add_subcommand(
      "list", "Every image the manifests would make nodes pull (applies nothing)");
  list_cmd->add_option("-f,--filename", plan_files, "Manifest file, folder, or -")->required();
  list_cmd->add_option("-o,--output", plan_output, "json")->check(CLI::IsMember({"json"}));
  list_cmd->callback([&] { code = pc::RunImagesList(plan_files, plan_output); });
  std::string load_node, load_dir;
  auto* load_cmd = images_cmd->add_subcommand(
      "load", "Import an OCI image layout folder into a node's store (pre-pulled images)");
  AddClientFlags(load_cmd, client);
  load_cmd->add_option("--node", load_node, "Node name")->required();
  load_cmd->add_option("dir", load_dir, "OCI image layout folder on the node's machine")
      ->required();
  load_cmd->callback([&] { code = pc::RunImagesLoad(client, load_node, load_dir); });

  // Credentials.
  pc::CreateSecretOptions secret;
  auto* create_cmd = app.add_subcommand("create", "Create an object");
  create_cmd->require_subcommand(1);
  auto* create_secret = create_cmd->add_subcommand("secret", "Create a Secret");
  create_secret->require_subcommand(1);
  auto* docker_registry = create_secret->add_subcommand(
      "docker-registry",
      "Create a Secret for use with a registry (kubernetes.io/dockerconfigjson)");
  AddClientFlags(docker_registry, client);
  docker_registry->add_option("name", secret.name, "Secret name")->required();
  docker_registry->add_option("--docker-server", secret.server, "Registry server")
      ->capture_default_str();
  docker_registry->add_option("--docker-username", secret.username, "Username");
  docker_registry->add_option("--docker-password", secret.password, "Password");
  docker_registry->add_option("--docker-email", secret.email, "Email");
  docker_registry->add_option("--from-file", secret.from_file,
                              "Key and file: .dockerconfigjson=PATH");
  docker_registry->callback([&] { code = pc::RunCreateRegistrySecret(client, secret); });

  pc::CredsLookupOptions lookup;
  auto* creds_cmd = app.add_subcommand("creds", "Inspect credential lookup");
  creds_cmd->require_subcommand(1);
  auto* lookup_cmd = creds_cmd->add_subcommand(
      "lookup", "Which credential sources and keys a pull of IMAGE would try, in order");
  AddClientFlags(lookup_cmd, client);
  lookup_cmd->add_option("image", lookup.image, "Image reference")->required();
  lookup_cmd->add_option("--node-config", lookup.node_config, "Node config YAML");
  lookup_cmd->add_option("--secret", lookup.secrets,
                         "Pull secret of namespace -n (repeatable; read from the coordinator)");
  lookup_cmd->callback([&] { code = pc::RunCredsLookup(client, lookup); });

  std::string want, have;
  auto* platform_cmd = app.add_subcommand("platform", "Platform matching");
  platform_cmd->require_subcommand(1);
  auto* match_cmd = platform_cmd->add_subcommand("match", "Can a node of WANT run HAVE?");
  match_cmd->add_option("want", want, "Node platform OS/ARCH[/VARIANT]")->required();
  match_cmd->add_option("have", have, "Image platform OS/ARCH[/VARIANT]")->required();
  match_cmd->callback([&] { code = pc::RunPlatformMatch(want, have); });

  CLI11_PARSE(app, argc, argv);
  return code;
}
