// Runs a shell command from a test and captures its exit status and output:
// how the CLI and window tests run the real kvmscope binary.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

namespace kvmscope::test {

struct Result {
  int status = -1;
  std::string output;  // stdout (and stderr when the command redirects it)
};

inline Result Capture(const std::string& cmd) {
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// In a forked child about to exec kvmscope: standard input from /dev/null,
// output and errors to `log`, no signal blocked or ignored (a test runner may
// have either), so the child takes SIGINT/SIGTERM as a user's process would.
inline void PrepareChild(const char* log) {
  int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int in = open("/dev/null", O_RDONLY);
  if (out < 0 || in < 0) _exit(126);
  dup2(in, 0);
  dup2(out, 1);
  dup2(out, 2);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

}  // namespace kvmscope::test
