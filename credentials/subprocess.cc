#include "credentials/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

extern char** environ;

namespace pullfleet::credentials {
namespace {

using Clock = std::chrono::steady_clock;

// Owns a file descriptor; closes it once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void Reset(int fd) {
    Close();
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

bool MakePipe(Pipe& pipe) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  pipe.read.Reset(fds[0]);
  pipe.write.Reset(fds[1]);
  return true;
}

void SetNonBlocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// The environment of this process with `overrides` replacing or adding variables by name.
std::vector<std::string> BuildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::set<std::string> replaced;
  for (const auto& [name, value] : overrides) replaced.insert(name);
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    if (replaced.count(std::string(text.substr(0, text.find('=')))) == 0) {
      env.emplace_back(text);
    }
  }
  for (const auto& [name, value] : overrides) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Writes as much as the pipe takes now, with SIGPIPE blocked in this thread so a child that
// closed its stdin yields EPIPE instead of killing the whole process. Returns false when the
// pipe is done (all written, or the reader is gone).
bool WriteSome(int fd, const std::string& data, size_t& written) {
  sigset_t pipe_only;
  sigset_t old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  sigset_t pending_before;
  sigpending(&pending_before);
  const bool was_pending = sigismember(&pending_before, SIGPIPE) == 1;

  bool more = true;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    more = false;  // EPIPE or another error: the child does not want (more) input
    break;
  }
  if (!was_pending) {
    // Swallow the SIGPIPE this thread's write raised, if any, before unblocking it.
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_only, nullptr, &zero) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return more && written < data.size();
}

// Reads what is there; returns false at end of file (or on error).
bool ReadSome(int fd, std::string& into, size_t cap, bool* truncated) {
  char buffer[16384];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      const size_t room = into.size() < cap ? cap - into.size() : 0;
      into.append(buffer, std::min(room, static_cast<size_t>(n)));
      if (static_cast<size_t>(n) > room && truncated != nullptr) *truncated = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;
  }
}

void RecordStatus(int status, SubprocessResult& result) {
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
}

}  // namespace

Result<SubprocessResult> RunSubprocess(const SubprocessSpec& spec) {
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + spec.timeout;
  Pipe in, out, err;
  if (!MakePipe(in) || !MakePipe(out) || !MakePipe(err)) {
    return Error(ErrorCode::kIo, "run " + spec.path + ": pipe: " + std::strerror(errno));
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.write.get(), 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Own process group (killed as a whole on timeout); a clean signal mask and default
  // dispositions whatever this process uses.
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attributes, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigdefault(&attributes, &all);

  std::vector<std::string> argv_strings{spec.path};
  argv_strings.insert(argv_strings.end(), spec.args.begin(), spec.args.end());
  std::vector<std::string> env_strings = BuildEnvironment(spec.env);
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<char*> envp = CStrings(env_strings);

  pid_t pid = -1;
  const int spawn_error =
      posix_spawn(&pid, spec.path.c_str(), &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawn_error != 0) {
    return Error(ErrorCode::kIo, "run " + spec.path + ": " + std::strerror(spawn_error));
  }
  in.read.Close();
  out.write.Close();
  err.write.Close();
  SetNonBlocking(in.write.get());
  SetNonBlocking(out.read.get());
  SetNonBlocking(err.read.get());

  SubprocessResult result;
  size_t written = 0;
  if (spec.stdin_data.empty()) in.write.Close();
  auto remaining_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
  };

  // Pump stdin, stdout and stderr until both outputs end or the deadline passes.
  while ((out.read.get() >= 0 || err.read.get() >= 0) && !result.timed_out) {
    pollfd fds[3];
    int count = 0;
    auto add = [&](const Fd& fd, short events) {
      if (fd.get() >= 0) fds[count++] = pollfd{fd.get(), events, 0};
    };
    add(in.write, POLLOUT);
    add(out.read, POLLIN);
    add(err.read, POLLIN);
    const int ready = ::poll(fds, count, remaining_ms());
    if (ready < 0 && errno != EINTR) break;
    if (ready == 0) {
      result.timed_out = true;
      break;
    }
    for (int i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in.write.get()) {
        if (!WriteSome(in.write.get(), spec.stdin_data, written)) in.write.Close();
      } else if (fds[i].fd == out.read.get()) {
        if (!ReadSome(out.read.get(), result.stdout_data, spec.max_stdout,
                      &result.stdout_truncated)) {
          out.read.Close();
        }
      } else if (fds[i].fd == err.read.get()) {
        if (!ReadSome(err.read.get(), result.stderr_data, spec.max_stderr, nullptr)) {
          err.read.Close();
        }
      }
    }
  }
  in.write.Close();

  // Both outputs are closed: wait for the exit itself, still within the deadline.
  int status = 0;
  bool reaped = false;
  while (!result.timed_out) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) {
      reaped = done == pid;
      break;
    }
    if (remaining_ms() == 0) {
      result.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (result.timed_out) {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reaped = true;
  }
  if (reaped) RecordStatus(status, result);
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return result;
}

std::string FirstLineSummary(std::string_view text, size_t max_chars) {
  std::string line;
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return line;
  for (size_t i = start; i < text.size() && text[i] != '\n'; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != 0x7f) line += text[i];
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  if (line.size() > max_chars) line = line.substr(0, max_chars) + "...";
  return line;
}

}  // namespace pullfleet::credentials
