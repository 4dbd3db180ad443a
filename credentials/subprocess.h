// Runs one program with bytes on its stdin, collecting its stdout and stderr, with a deadline:
// the exec half of the credential provider protocol. No shell is involved: `path` is executed
// directly with `args`.
//
// The child runs in a process group of its own; when the deadline passes the whole group gets
// SIGKILL (a plugin that forked helpers cannot outlive it), and the call returns promptly.
// Output beyond the caps is drained and dropped, so a chatty child cannot block or exhaust
// memory.
//
// Thread-safe: any number of threads may run processes at once (posix_spawn, pipes created
// close-on-exec, SIGPIPE blocked only in the writing thread while it writes). Blocking: the
// calling thread waits for the child.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace pullfleet::credentials {

struct SubprocessSpec {
  std::string path;               // the executable, absolute or relative to the cwd
  std::vector<std::string> args;  // argv[1..]; argv[0] is `path`
  // Added to (or replacing, by name) the environment of this process. Values may be secret:
  // they are never printed.
  std::vector<std::pair<std::string, std::string>> env;
  std::string stdin_data;  // written, then stdin is closed
  std::chrono::milliseconds timeout{60000};
  size_t max_stdout = 1 << 20;  // bytes kept; more sets stdout_truncated
  size_t max_stderr = 64 << 10;
};

struct SubprocessResult {
  int exit_code = -1;      // when the child exited normally, else -1
  int term_signal = 0;     // the signal that ended it, else 0
  bool timed_out = false;  // the deadline passed; the process group was killed
  bool stdout_truncated = false;
  std::string stdout_data;  // may hold secrets: never log it
  std::string stderr_data;
  std::chrono::milliseconds elapsed{0};
};

// Runs the program to completion (or to its deadline). Fails only when it cannot be started
// (kIo, naming `path` and the errno text); a crash, non-zero exit or timeout is reported in
// the result.
Result<SubprocessResult> RunSubprocess(const SubprocessSpec& spec);

// The first line of `text`, without control characters, cut to `max_chars` (with "..."):
// what may be shown of a plugin's stderr.
std::string FirstLineSummary(std::string_view text, size_t max_chars = 200);

}  // namespace pullfleet::credentials
