// Loading and run-time assembly of users' guests.
#include "vmm/guest_image.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vmm/error.h"

extern char** environ;

namespace kvmscope::vmm {

namespace fs = std::filesystem;

namespace {
Error UsageError(const std::string& m) {
  return Error(ErrorKind::Usage, m);
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs argv with stdout/stderr into `log`; returns the exit status, or -1 if
// the program could not be started.
int RunTool(const std::vector<std::string>& argv, const fs::path& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// "FILE:LINE: Error: message" -> that message plus the offending source line.
std::string FirstAssemblerError(const std::string& log, const std::string& path) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("Error:") == std::string::npos) continue;
    std::string source_line;
    if (line.rfind(path + ":", 0) == 0) {
      size_t start = path.size() + 1;
      size_t end = line.find(':', start);
      int number = std::atoi(line.substr(start, end - start).c_str());
      std::ifstream src(path);
      for (int i = 1; i <= number && std::getline(src, source_line); ++i) {
      }
      if (number > 0) return line + "  |  " + source_line;
    }
    return line;
  }
  return log.empty() ? "the assembler failed without a message" : log.substr(0, log.find('\n'));
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "kvmscope-as-XXXXXX").string();
    if (!mkdtemp(templ.data())) throw Error(ErrorKind::Internal, ErrnoMessage("mkdtemp", errno));
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

std::vector<uint8_t> LoadGuestBinary(const std::string& path, uint64_t max_size) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    throw UsageError(ErrnoMessage("cannot read guest binary " + path, errno));
  }
  if (!S_ISREG(st.st_mode)) throw UsageError("guest binary " + path + " is not a regular file");
  if (st.st_size == 0) throw UsageError("guest binary " + path + " is empty");
  if (static_cast<uint64_t>(st.st_size) > max_size) {
    throw UsageError(fmt::format("guest binary {} is too large: {} bytes, at most {} fit", path,
                                 st.st_size, max_size));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(ErrnoMessage("cannot open guest binary " + path, errno));
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  in.read(reinterpret_cast<char*>(bytes.data()), st.st_size);
  if (in.gcount() != st.st_size) throw UsageError("short read from guest binary " + path);
  return bytes;
}

std::vector<uint8_t> AssembleGuest(const std::string& path, CpuMode mode, uint64_t load_addr) {
  std::ifstream probe(path);
  if (!probe) throw UsageError(ErrnoMessage("cannot read guest source " + path, errno));

  TempDir tmp;
  fs::path prologue = tmp.path / "mode.s";
  {
    std::ofstream out(prologue);
    out << (mode == CpuMode::Real        ? ".code16\n"
            : mode == CpuMode::Protected ? ".code32\n"
                                         : ".code64\n");
  }
  fs::path obj = tmp.path / "guest.o", elf = tmp.path / "guest.elf", bin = tmp.path / "guest.bin";
  fs::path log = tmp.path / "log.txt";
  int rc = RunTool({"as", "--64", "-o", obj.string(), prologue.string(), path}, log);
  if (rc < 0) {
    throw Error(ErrorKind::Environment,
                "cannot run the GNU assembler 'as' (install binutils: apt-get install binutils)");
  }
  if (rc != 0) throw UsageError("assembler error: " + FirstAssemblerError(ReadText(log), path));
  std::string addr = fmt::format("{:#x}", load_addr);
  rc = RunTool({"ld", "-m", "elf_x86_64", "-N", "-e", addr, "-Ttext=" + addr,
                "--no-warn-rwx-segments", "-o", elf.string(), obj.string()},
               log);
  if (rc != 0) throw UsageError("linker error: " + ReadText(log).substr(0, 300));
  rc = RunTool({"objcopy", "-O", "binary", elf.string(), bin.string()}, log);
  if (rc != 0) throw UsageError("objcopy error: " + ReadText(log).substr(0, 300));
  std::error_code ec;
  if (fs::file_size(bin, ec) == 0)
    throw UsageError("guest source " + path + " assembled to nothing");
  return LoadGuestBinary(bin.string(), UINT64_MAX);
}

}  // namespace kvmscope::vmm
