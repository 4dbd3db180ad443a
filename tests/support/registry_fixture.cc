#include "tests/support/registry_fixture.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace pullfleet::testing {
namespace {

namespace fs = std::filesystem;

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

std::string RigDir() {
  return EnvOr("PULLFLEET_RIG_DIR", PF_RIG_DEFAULT_DIR);
}
std::string RigCache() {
  return EnvOr("PULLFLEET_RIG_CACHE", PF_RIG_DEFAULT_CACHE);
}

// Reads KEY=VALUE lines (values optionally in double quotes) as written by the rig scripts.
Status ReadEnvFile(const std::string& path, std::map<std::string, std::string, std::less<>>* out) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kIo, "cannot read " + path);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    (*out)[line.substr(0, eq)] = value;
  }
  return Status::Ok();
}

// The last lines of a script's output, for error messages. The scripts never print secrets.
std::string Tail(const std::string& text, size_t max_chars = 1500) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

const char* AuthName(RegistryAuth auth) {
  switch (auth) {
    case RegistryAuth::kHtpasswd:
      return "htpasswd";
    case RegistryAuth::kToken:
      return "token";
    case RegistryAuth::kNone:
      break;
  }
  return "none";
}

}  // namespace

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  std::string wrapped = "( " + command + " ) 2>&1";
  FILE* pipe = popen(wrapped.c_str(), "r");
  if (pipe == nullptr) {
    result.output = "popen failed";
    return result;
  }
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  int status = pclose(pipe);
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

std::string ShellQuote(std::string_view word) {
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

TempDir::TempDir(std::string_view prefix) {
  std::string pattern = EnvOr("TMPDIR", "/tmp") + "/" + std::string(prefix) + "XXXXXX";
  if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
}

TempDir::~TempDir() {
  if (path_.empty() || EnvOr("PULLFLEET_RIG_KEEP", "") == "1") return;
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    TempDir old(std::move(*this));
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

std::string TempDir::Join(std::string_view name) const {
  return path_ + "/" + std::string(name);
}

RegistryFixture::RegistryFixture(RegistryOptions options, TempDir dir)
    : options_(std::move(options)), dir_(std::move(dir)) {}

Result<std::unique_ptr<RegistryFixture>> RegistryFixture::Start(const RegistryOptions& options) {
  TempDir dir("pf-registry-");
  if (dir.path().empty())
    return Error(ErrorCode::kIo, "cannot make a temp folder for the registry");
  std::unique_ptr<RegistryFixture> registry(new RegistryFixture(options, std::move(dir)));

  CommandResult started = RunCommand(registry->StartCommand(options.port));
  if (started.exit_code != 0) {
    return Error(ErrorCode::kInternal, "registry.sh start failed: " + Tail(started.output));
  }
  registry->running_ = true;
  if (Status loaded = registry->LoadEnvFiles(); !loaded.ok()) return loaded.error();

  if (options.push_images) {
    std::string cmd = ShellQuote(RigDir() + "/build-images.sh") + " --env " +
                      ShellQuote(registry->dir_.Join("env")) + " --cache " + ShellQuote(RigCache());
    if (!options.images.empty()) cmd += " --images " + ShellQuote(options.images);
    CommandResult built = RunCommand(cmd);
    if (built.exit_code != 0) {
      return Error(ErrorCode::kInternal, "build-images.sh failed: " + Tail(built.output));
    }
    if (Status loaded = registry->LoadEnvFiles(); !loaded.ok()) return loaded.error();
  }
  return registry;
}

RegistryFixture::~RegistryFixture() {
  if (running_) (void)Stop();
}

std::string RegistryFixture::StartCommand(int port) const {
  std::string cmd = ShellQuote(RigDir() + "/registry.sh") + " start --dir " +
                    ShellQuote(dir_.path()) + " --auth " + AuthName(options_.auth);
  if (options_.tls) cmd += " --tls";
  if (options_.client_certs) cmd += " --client-certs";
  if (port > 0) cmd += " --port " + std::to_string(port);
  if (options_.auth == RegistryAuth::kToken) {
    cmd += " --token-expires-in " + std::to_string(options_.token_expires_in);
    if (options_.anonymous_pull) cmd += " --anonymous-pull";
  }
  return cmd;
}

Status RegistryFixture::LoadEnvFiles() {
  env_.clear();
  if (Status s = ReadEnvFile(dir_.Join("env"), &env_); !s.ok()) return s;
  if (fs::exists(dir_.Join("images.env"))) {
    if (Status s = ReadEnvFile(dir_.Join("images.env"), &env_); !s.ok()) return s;
  }
  host_ = Env("REGISTRY_HOST");
  if (host_.empty()) return Error(ErrorCode::kInternal, "registry.sh wrote no REGISTRY_HOST");
  return Status::Ok();
}

std::string RegistryFixture::url() const {
  return Env("REGISTRY_URL");
}

std::string RegistryFixture::Ref(std::string_view repo_and_tag) const {
  return host_ + "/" + std::string(repo_and_tag);
}

std::string RegistryFixture::Digest(std::string_view name) const {
  return Env(std::string(name) + "_DIGEST");
}

std::string RegistryFixture::Env(std::string_view key) const {
  auto it = env_.find(key);
  return it == env_.end() ? std::string() : it->second;
}

std::string RegistryFixture::CurlAuthArgs() const {
  std::string args;
  if (!ca_file().empty()) args += " --cacert " + ShellQuote(ca_file());
  if (!client_cert().empty()) {
    args += " --cert " + ShellQuote(client_cert()) + " --key " + ShellQuote(client_key());
  }
  if (options_.auth == RegistryAuth::kHtpasswd) {
    args += " -u " + ShellQuote(user() + ":" + password());
  }
  return args;
}

Result<int> RegistryFixture::BlobGetCount() const {
  CommandResult metrics =
      RunCommand("curl -sS --max-time 5 " + ShellQuote("http://" + debug_addr() + "/metrics"));
  if (metrics.exit_code != 0) {
    return Error(ErrorCode::kNetwork, "reading registry metrics: " + Tail(metrics.output, 300));
  }
  // Lines look like: registry_http_requests_total{code="200",handler="blob",method="get"} 3
  std::istringstream lines(metrics.output);
  std::string line;
  double total = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("registry_http_requests_total{", 0) != 0) continue;
    if (line.find("handler=\"blob\"") == std::string::npos) continue;
    if (line.find("method=\"get\"") == std::string::npos) continue;
    total += std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
  }
  return static_cast<int>(total);
}

Result<int> RegistryFixture::AccessLogCount(std::string_view method,
                                            std::string_view path_part) const {
  std::ifstream in(log_file());
  if (!in) return Error(ErrorCode::kIo, "cannot read the registry log " + log_file());
  // Access-log lines carry the request line in quotes: "GET /v2/pf/big/blobs/sha256:... HTTP/1.1"
  std::string prefix = "\"" + std::string(method) + " /";
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    auto start = line.find(prefix);
    if (start == std::string::npos) continue;
    auto end = line.find(' ', start + prefix.size());
    std::string_view path(line);
    path = path.substr(start + prefix.size() - 1, end - (start + prefix.size() - 1));
    if (path.find(path_part) != std::string_view::npos) ++count;
  }
  return count;
}

Result<int> RegistryFixture::BlobGetCount(std::string_view repo) const {
  return AccessLogCount("GET", "/v2/" + std::string(repo) + "/blobs/");
}

Result<int> RegistryFixture::TokenRequestCount() const {
  if (options_.auth != RegistryAuth::kToken) {
    return Error(ErrorCode::kInvalidArgument, "TokenRequestCount: registry has no token server");
  }
  std::ifstream in(token_log());
  if (!in) return 0;  // no request yet
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    if (line.find("\"path\": \"/token\"") != std::string::npos) ++count;
  }
  return count;
}

Result<std::string> RegistryFixture::Retag(std::string_view source, std::string_view target) {
  CommandResult result =
      RunCommand(ShellQuote(RigDir() + "/retag.sh") + " --env " + ShellQuote(dir_.Join("env")) +
                 " " + ShellQuote(source) + " " + ShellQuote(target));
  if (result.exit_code != 0) {
    return Error(ErrorCode::kInternal, "retag.sh failed: " + Tail(result.output));
  }
  std::string digest = result.output;
  while (!digest.empty() && (digest.back() == '\n' || digest.back() == ' ')) digest.pop_back();
  auto nl = digest.rfind('\n');
  if (nl != std::string::npos) digest = digest.substr(nl + 1);
  return digest;
}

Status RegistryFixture::SetTokenDenied(std::string_view user,
                                       const std::vector<std::string>& repo_patterns) {
  if (options_.auth != RegistryAuth::kToken) {
    return Error(ErrorCode::kInvalidArgument, "SetTokenDenied: registry has no token server");
  }
  std::string cmd = "/usr/bin/python3 " + ShellQuote(RigDir() + "/token_server.py") + " --users " +
                    ShellQuote(token_users_file()) + " --set-deny " + ShellQuote(user);
  for (const std::string& pattern : repo_patterns) cmd += " " + ShellQuote(pattern);
  CommandResult result = RunCommand(cmd);
  if (result.exit_code != 0) {
    return Error(ErrorCode::kInternal, "token_server.py --set-deny failed: " + Tail(result.output));
  }
  return Status::Ok();
}

Status RegistryFixture::Stop() {
  CommandResult result =
      RunCommand(ShellQuote(RigDir() + "/registry.sh") + " stop --dir " + ShellQuote(dir_.path()));
  running_ = false;
  if (result.exit_code != 0) {
    return Error(ErrorCode::kInternal, "registry.sh stop failed: " + Tail(result.output));
  }
  return Status::Ok();
}

Status RegistryFixture::Restart() {
  if (running_) {
    if (Status stopped = Stop(); !stopped.ok()) return stopped;
  }
  int port = std::atoi(Env("REGISTRY_PORT").c_str());
  CommandResult started = RunCommand(StartCommand(port));
  if (started.exit_code != 0) {
    return Error(ErrorCode::kInternal, "registry.sh restart failed: " + Tail(started.output));
  }
  running_ = true;
  return LoadEnvFiles();
}

}  // namespace pullfleet::testing
