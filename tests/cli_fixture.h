// The fixture of the kvmscope executable's tests: runs the built binary as
// a user would, in a scratch folder of its own.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "run_command.h"

#define KVMSCOPE_REQUIRE_ROOT_FOR_BPF()                                                  \
  do {                                                                                   \
    if (geteuid() != 0) GTEST_SKIP() << "needs root: BPF tracing of the host kernel"; \
  } while (0)

namespace kvmscope::test {

// Runs kvmscope ARGS with `input` on its standard input.
inline Result Kvmscope(const std::string& args, const std::string& prefix = "",
                       const std::string& input = "") {
  std::string in = input.empty() ? "</dev/null" : "<<'KVMSCOPE_IN'\n" + input + "KVMSCOPE_IN\n";
  return Capture(prefix + " " KVMSCOPE_BIN " " + args + " 2>&1 " + in);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / ("kvmscope-cli-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::all);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string Write(const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return (dir / name).string();
  }
  std::filesystem::path dir;
};

}  // namespace kvmscope::test
