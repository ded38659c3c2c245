// A real QEMU VM for the tests of external VMMs (`vms`, `record --pid`,
// `top`): QEMU from Debian with -enable-kvm, started paused (-S) so a test can
// attach before the first guest instruction, driven over QMP, killed when
// the fixture goes. Two guests: the deterministic exit BIOS
// (tests/data/exit_bios.S: N + 9 port-I/O exits, then QEMU exits with status
// 85), or QEMU's default SeaBIOS with no boot device. Header-only and linked
// to nothing of kvmscope, so any test executable can use it; targets using
// the exit BIOS call kvmscope_uses_qemu_vm() in tests/CMakeLists.txt.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace kvmscope::test {

inline constexpr const char* kQemu = "qemu-system-x86_64";
inline constexpr int kExitBiosStatus = 85;  // isa-debug-exit: (0x2a << 1) | 1

struct QemuVmOptions {
  enum class Firmware { ExitBios, SeaBios };
  Firmware firmware = Firmware::ExitBios;
  uint32_t outs = 20000;  // ExitBios: the number of `out %al, $0x80`
  int smp = 0;            // vCPUs; 0: 1 for ExitBios, 2 for SeaBios
  int memory_mb = 0;      // 0: 16 for ExitBios, 64 for SeaBios
  std::vector<std::string> extra_args;  // appended to QEMU's command line
};

class QemuVm {
 public:
  // Empty when QEMU with KVM can run here, else why not (for GTEST_SKIP).
  static std::string MissingReason() {
    if (access("/dev/kvm", F_OK) != 0) return "this host has no /dev/kvm";
    if (access("/dev/kvm", R_OK | W_OK) != 0) return "no permission to open /dev/kvm";
    if (FindInPath(kQemu).empty()) {
      return std::string(kQemu) + " is not installed (Debian package qemu-system-x86)";
    }
    return "";
  }
  // KVM_EXIT_IO count of the exit BIOS: "kvmscope" (8), N outs, the exit (1).
  static uint64_t ExpectedIoExits(uint32_t outs) { return uint64_t{outs} + 9; }

  // Starts QEMU paused (-S) and waits for its QMP greeting. nullptr with
  // *error saying why (QEMU's own output included) when it does not come up.
  static std::unique_ptr<QemuVm> Start(const QemuVmOptions& options, std::string* error) {
    std::unique_ptr<QemuVm> vm(new QemuVm());
    std::string why = vm->Launch(options);
    if (why.empty()) return vm;
    if (error) *error = why + "\nQEMU said: " + vm->Log();
    return nullptr;
  }

  ~QemuVm() {
    if (m_pid > 0 && !m_status) {
      syscall(SYS_pidfd_send_signal, m_pidfd, SIGKILL, nullptr, 0);
      int st;
      waitpid(m_pid, &st, 0);
    }
    if (m_qmp >= 0) close(m_qmp);
    if (m_pidfd >= 0) close(m_pidfd);
    if (!m_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(m_dir, ec);
    }
  }
  QemuVm(const QemuVm&) = delete;
  QemuVm& operator=(const QemuVm&) = delete;

  pid_t pid() const { return m_pid; }
  int pidfd() const { return m_pidfd; }   // readable once QEMU exits
  const std::string& dir() const { return m_dir; }  // its private folder (qmp socket, log)
  std::string QmpSocket() const { return m_dir + "/qmp"; }
  const std::vector<std::string>& command() const { return m_args; }

  // One QMP command (a JSON object), e.g. R"({"execute":"query-stats",
  // "arguments":{"target":"vcpu"}})": its reply line ({"return": ...} or
  // {"error": ...}), events skipped; "" when QEMU closed the socket or did
  // not answer within 10 s.
  std::string Qmp(const std::string& command) {
    if (m_qmp < 0) return "";
    std::string line = command + "\n";
    if (send(m_qmp, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
      return "";
    }
    for (;;) {
      std::optional<std::string> reply = ReadLine(std::chrono::seconds(10));
      if (!reply) return "";
      if (reply->find("\"return\"") != std::string::npos ||
          reply->find("\"error\"") != std::string::npos) {
        return *reply;
      }
    }
  }
  // Lets the paused guest run (QMP cont).
  bool Cont() { return Qmp(R"({"execute":"cont"})").find("\"return\"") != std::string::npos; }
  // Asks QEMU to quit (QMP quit) and waits for it; true once it has exited.
  bool Quit(std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
    if (m_status) return true;
    Qmp(R"({"execute":"quit"})");
    return Wait(limit).has_value();
  }
  // Waits up to `limit` for QEMU to exit: its exit status (128 + signal when
  // killed), or nullopt while it runs.
  std::optional<int> Wait(std::chrono::milliseconds limit) {
    if (m_status) return m_status;
    pollfd p{m_pidfd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(limit.count())) <= 0) return std::nullopt;
    int st = 0;
    if (waitpid(m_pid, &st, 0) != m_pid) return std::nullopt;
    m_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return m_status;
  }
  // QEMU's own stdout and stderr so far.
  std::string Log() const { return ReadAll(m_dir + "/qemu.log"); }
  // ExitBios: what the guest wrote to port 0x402 (isa-debugcon): "kvmscope".
  std::string DebugconOutput() const { return ReadAll(m_dir + "/debugcon"); }

 private:
  QemuVm() = default;

  static std::string FindInPath(const std::string& name) {
    const char* path = getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      std::string full = dir + "/" + name;
      if (!dir.empty() && access(full.c_str(), X_OK) == 0) return full;
    }
    return "";
  }
  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // The exit BIOS with N patched after its "KSCOUNT=" marker, into DIR.
  std::string WriteExitBios(uint32_t outs, std::string* path) {
#ifdef KVMSCOPE_EXIT_BIOS
    std::string image = ReadAll(KVMSCOPE_EXIT_BIOS);
    if (image.size() != 0x10000) return std::string("no 64 KiB exit BIOS at ") + KVMSCOPE_EXIT_BIOS;
    size_t at = image.find("KSCOUNT=");
    if (at == std::string::npos || at + 12 > image.size()) return "the exit BIOS has no KSCOUNT= marker";
    std::memcpy(&image[at + 8], &outs, sizeof outs);  // x86: little-endian, like the guest
    *path = m_dir + "/exit_bios.bin";
    std::ofstream(*path, std::ios::binary) << image;
    return "";
#else
    (void)outs;
    (void)path;
    return "this test executable was built without the exit BIOS (kvmscope_uses_qemu_vm in "
           "tests/CMakeLists.txt)";
#endif
  }

  std::string Launch(const QemuVmOptions& o) {
    std::string why = MissingReason();
    if (!why.empty()) return why;
    char dir[] = "/tmp/kvmscope-qemu-XXXXXX";
    if (!mkdtemp(dir)) return std::string("mkdtemp: ") + strerror(errno);
    m_dir = dir;
    const bool bios = o.firmware == QemuVmOptions::Firmware::ExitBios;
    m_args = {kQemu, "-enable-kvm", "-nographic", "-display", "none", "-nodefaults", "-S",
              "-name", "kst,debug-threads=on", "-qmp", "unix:" + QmpSocket() + ",server,nowait",
              "-m", std::to_string(o.memory_mb ? o.memory_mb : bios ? 16 : 64),
              "-smp", std::to_string(o.smp ? o.smp : bios ? 1 : 2)};
    if (bios) {
      std::string image;
      why = WriteExitBios(o.outs, &image);
      if (!why.empty()) return why;
      for (const char* a : {"-bios", image.c_str(), "-device", "isa-debug-exit,iobase=0xf4,iosize=1",
                            "-chardev"}) {
        m_args.push_back(a);
      }
      m_args.push_back("file,id=dbg,path=" + m_dir + "/debugcon");
      m_args.push_back("-device");
      m_args.push_back("isa-debugcon,iobase=0x402,chardev=dbg");
    }
    m_args.insert(m_args.end(), o.extra_args.begin(), o.extra_args.end());

    const std::string log = m_dir + "/qemu.log";
    m_pid = fork();
    if (m_pid < 0) return std::string("fork: ") + strerror(errno);
    if (m_pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      int in = open("/dev/null", O_RDONLY);
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || out < 0) _exit(126);
      dup2(in, 0);
      dup2(out, 1);
      dup2(out, 2);
      std::vector<char*> argv;
      for (std::string& a : m_args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    m_pidfd = static_cast<int>(syscall(SYS_pidfd_open, m_pid, 0));
    if (m_pidfd < 0) return std::string("pidfd_open: ") + strerror(errno);
    return ConnectQmp();
  }

  std::string ConnectQmp() {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", QmpSocket().c_str());
    for (;;) {
      if (Wait(std::chrono::milliseconds(0))) {
        return "QEMU exited with status " + std::to_string(*m_status) + " before QMP came up";
      }
      m_qmp = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (m_qmp < 0) return std::string("socket: ") + strerror(errno);
      if (connect(m_qmp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
      close(m_qmp);
      m_qmp = -1;
      if (std::chrono::steady_clock::now() > until) return "no QMP socket after 20 s";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::optional<std::string> greeting = ReadLine(std::chrono::seconds(10));
    if (!greeting || greeting->find("\"QMP\"") == std::string::npos) return "no QMP greeting";
    if (Qmp(R"({"execute":"qmp_capabilities"})").find("\"return\"") == std::string::npos) {
      return "QMP refused qmp_capabilities";
    }
    return "";
  }

  // One line from QMP (its messages end in \r\n), or nullopt on EOF/timeout.
  std::optional<std::string> ReadLine(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      size_t nl = m_buffer.find('\n');
      if (nl != std::string::npos) {
        std::string line = m_buffer.substr(0, nl);
        m_buffer.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{m_qmp, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char buf[4096];
      ssize_t n = recv(m_qmp, buf, sizeof buf, 0);
      if (n <= 0) return std::nullopt;
      m_buffer.append(buf, static_cast<size_t>(n));
    }
  }

  std::string m_dir;
  std::vector<std::string> m_args;
  pid_t m_pid = -1;
  int m_pidfd = -1;
  int m_qmp = -1;
  std::string m_buffer;
  std::optional<int> m_status;
};

#define KVMSCOPE_REQUIRE_QEMU()                                        \
  do {                                                                 \
    std::string why = ::kvmscope::test::QemuVm::MissingReason();       \
    if (!why.empty()) GTEST_SKIP() << "needs QEMU with KVM: " << why;  \
  } while (0)

}  // namespace kvmscope::test
