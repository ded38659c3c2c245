// Runs a shell command from a test and captures its exit status and output:
// how the CLI and window tests run the real kvmscope binary.
#pragma once

#include <sys/wait.h>

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

}  // namespace kvmscope::test
