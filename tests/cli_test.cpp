// Tests of the kvmscope executable: exit statuses and one-line messages for
// bad input, real runs, kernel tracing (doctor, run's kernel lines, the
// options; that no BPF program outlives the process: cli_bpf_cleanup_test.cpp).
// Runs the built binary as a user would.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bpf_programs.h"
#include "cli_fixture.h"
#include "host_files.h"
#include "kvm_available.h"
#include "run_command.h"

namespace {

namespace fs = std::filesystem;

using kvmscope::test::Capture;
using kvmscope::test::Contains;
using kvmscope::test::kBpftool;
using kvmscope::test::LoadedKvmscopePrograms;
using kvmscope::test::Result;

using kvmscope::test::Cli;
using kvmscope::test::Kvmscope;

TEST_F(Cli, HelpExplainsTheExitStatuses) {
  Result r = Kvmscope("run --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("--guest-asm"), std::string::npos);
  EXPECT_NE(r.output.find("Exit status: 0 the guest passed"), std::string::npos);
}

// --version names the build's git revision; `help COMMAND` is `COMMAND --help`.
TEST_F(Cli, VersionAndHelpCommand) {
  Result v = Kvmscope("--version");
  EXPECT_EQ(v.status, 0) << v.output;
  EXPECT_EQ(v.output.rfind("kvmscope 0.", 0), 0u) << v.output;
  const size_t git = v.output.find(" (git ");
  ASSERT_NE(git, std::string::npos) << v.output;
  EXPECT_GT(v.output.find(')', git), git + 6) << "an empty revision: " << v.output;
  for (const char* command : {"export", "record", "lab"}) {
    Result help = Kvmscope(std::string("help ") + command);
    Result dashes = Kvmscope(std::string(command) + " --help");
    EXPECT_EQ(help.status, 0) << help.output;
    EXPECT_EQ(help.output, dashes.output) << command;
  }
  EXPECT_NE(Kvmscope("help").output.find("Subcommands:"), std::string::npos);
  Result bad = Kvmscope("help nosuch");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("no command 'nosuch'"), std::string::npos) << bad.output;
}

TEST_F(Cli, GuestsListsTheCatalog) {
  Result r = Kvmscope("guests");
  EXPECT_EQ(r.status, 0);
  for (const char* g : {"hello", "modes", "pagefault", "exceptions", "mmio", "cpuid", "timer",
                        "smp", "spin", "pio-loop", "pio-pair"}) {
    EXPECT_NE(r.output.find(g), std::string::npos) << g;
  }
  Result one = Kvmscope("guests hello --source");
  EXPECT_EQ(one.status, 0);
  EXPECT_NE(one.output.find("self-check"), std::string::npos);
  EXPECT_NE(one.output.find("_start:"), std::string::npos);
}

TEST_F(Cli, UsageErrorsSayWhatIsWrongOnOneLine) {
  struct Case {
    std::string args, message;
  } cases[] = {
      {"run --guest nope", "unknown guest 'nope'"},
      {"run --guest-bin /nonexistent/g.bin", "cannot read guest binary /nonexistent/g.bin"},
      {"run --guest-bin " + Write("g.bin", "\xf4") + " --mode vm86", "unknown mode 'vm86'"},
      {"run --guest-bin " + Write("g2.bin", "\xf4") + " --load zz", "bad load address 'zz'"},
      {"run --guest-bin " + Write("g3.bin", "\xf4") + " --mode long --load 0x1000",
       "bad load address 0x1000"},
      {"run --guest-bin " + Write("big.bin", std::string(0x100000, '\x90')), "too large"},
      {"run --guest-bin " + Write("empty.bin", ""), "is empty"},
      {"run --guest-asm " + Write("bad.S", "\tnop\n\tmov %eax\n"), "bad.S:2"},
      {"run --guest hello --param 5", "takes no --param"},
      {"run --guest hello --guest-bin x", "excludes"},
      {"run --frobnicate", "frobnicate"},
  };
  for (const Case& c : cases) {
    Result r = Kvmscope(c.args);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  }
}

TEST_F(Cli, AssemblerErrorShowsTheOffendingLine) {
  Result r = Kvmscope("run --guest-asm " + Write("oops.S", "\tnop\n\tfrobnicate %eax\n"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("frobnicate %eax"), std::string::npos) << r.output;
}

TEST_F(Cli, RunsAGuestAndPrintsEachExit) {
  KVMSCOPE_REQUIRE_KVM();
  Result r = Kvmscope("run --guest hello");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("KVM_EXIT_HLT"), std::string::npos);
  EXPECT_NE(r.output.find("out port=0x3f8 size=1 data=0x48 'H'"), std::string::npos);
  EXPECT_NE(r.output.find("Hello from a KVM guest!"), std::string::npos);
  EXPECT_NE(r.output.find("verdict: passed"), std::string::npos);
}

// With no command and no display, kvmscope runs the tour: three guests, each
// with its exits, chain, stats and seed claims, and their traces saved.
TEST_F(Cli, NoArgumentsRunsTheTourAndSavesItsTraces) {
  KVMSCOPE_REQUIRE_KVM();
  Result r = Kvmscope("", "cd " + dir.string() + " && env -u DISPLAY -u WAYLAND_DISPLAY");
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* g : {"hello", "pagefault", "exceptions"}) {
    EXPECT_NE(r.output.find(fmt::format("— {}\n", g)), std::string::npos) << g << r.output;
    for (const char* ext : {".json", ".trace.json"}) {
      fs::path f = dir / "kvmscope-out" / (std::string(g) + ext);
      EXPECT_TRUE(fs::exists(f)) << f;
      EXPECT_NE(r.output.find("wrote"), std::string::npos);
    }
  }
  for (const char* section : {"The chain that handled them", "Userspace exits",
                              "What the seed document claims", "kvm_arch_vcpu_run"}) {
    EXPECT_NE(r.output.find(section), std::string::npos) << section;
  }
  if (geteuid() == 0) {
    // With probes, the page-fault stop lights kvm_mmu_page_fault in its chain.
    size_t pf = r.output.find("— pagefault");
    ASSERT_NE(pf, std::string::npos);
    std::string rest = r.output.substr(pf);
    size_t node = rest.find(" kvm_mmu_page_fault ");
    ASSERT_NE(node, std::string::npos) << rest;
    EXPECT_EQ(rest.compare(rest.find('[', node), 9, "[observed"), 0) << rest.substr(node, 200);
  }
}

TEST_F(Cli, StepModeRunsOneKvmRunPerEnter) {
  KVMSCOPE_REQUIRE_KVM();
  Result r = Kvmscope("run --guest hello --step", "", "\n\n\nq\n");
  EXPECT_EQ(r.status, 1) << r.output;  // quit before the guest could pass
  EXPECT_NE(r.output.find("#2 "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("#3 "), std::string::npos) << "a fourth KVM_RUN ran:\n" << r.output;
  EXPECT_NE(r.output.find("verdict: stopped"), std::string::npos) << r.output;
  // Stepping past the final HLT ends the run instead of waiting for a step
  // that can never come (hello makes 26 exits).
  Result all = Kvmscope("run --guest hello --step", "timeout 20", std::string(40, '\n'));
  EXPECT_EQ(all.status, 0) << all.output;
  EXPECT_NE(all.output.find("verdict: passed"), std::string::npos) << all.output;
  // A signal ends a run that waits at the step prompt.
  // (stdin is a pipe that stays open and silent for 3 s.)
  Result sig = Capture("(sleep 3; echo) | timeout --preserve-status -s INT 0.5 " KVMSCOPE_BIN
                       " run --guest hello --step 2>&1");
  EXPECT_EQ(sig.status, 1) << sig.output;
  EXPECT_NE(sig.output.find("interrupted (SIGINT)"), std::string::npos) << sig.output;
  // 'c' continues to the end.
  Result c = Kvmscope("run --guest hello --step", "", "\nc\n");
  EXPECT_EQ(c.status, 0) << c.output;
}

TEST_F(Cli, CustomGuestsPassOnTheirExpectedValue) {
  KVMSCOPE_REQUIRE_KVM();
  std::string src =
      Write("mine.S", "\tmov $0x500, %dx\n\tmov $0x2a, %eax\n\tout %eax, %dx\n\thlt\n");
  EXPECT_EQ(Kvmscope("run --guest-asm " + src + " --mode long --expect 42").status, 0);
  Result wrong = Kvmscope("run --guest-asm " + src + " --mode long --expect 43");
  EXPECT_EQ(wrong.status, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("reported 0x2a, expected 0x2b"), std::string::npos) << wrong.output;
  // A flat binary with a load address: mov $0x500,%dx; out %al,%dx; hlt in real mode.
  std::string bin = Write("mine.bin", std::string("\xba\x00\x05\xee\xf4", 5));
  EXPECT_EQ(Kvmscope("run --guest-bin " + bin + " --load 0x9000").status, 0);
}

TEST_F(Cli, GuestFailureAndWatchdogHaveTheirStatus) {
  KVMSCOPE_REQUIRE_KVM();
  // ud2 with no IDT in long mode: #UD -> #DF -> triple fault.
  std::string bin = Write("crash.bin", std::string("\x0f\x0b", 2));
  Result crash = Kvmscope("run --guest-bin " + bin + " --mode long");
  EXPECT_EQ(crash.status, 1) << crash.output;
  EXPECT_NE(crash.output.find("verdict: shutdown"), std::string::npos) << crash.output;
  std::string loop = Write("loop.bin", std::string("\xeb\xfe", 2));  // jmp .
  Result spin = Kvmscope("run --guest-bin " + loop + " --mode long --timeout 0.3");
  EXPECT_EQ(spin.status, 1) << spin.output;
  EXPECT_NE(spin.output.find("watchdog"), std::string::npos) << spin.output;
  // The catalog's spin expects the watchdog: that is its pass.
  EXPECT_EQ(Kvmscope("run --guest spin --timeout 0.3 -q").status, 0);
}

TEST_F(Cli, InterruptStopsTheGuestCleanly) {
  KVMSCOPE_REQUIRE_KVM();
  Result r = Kvmscope("run --guest spin --timeout 60 -q", "timeout --preserve-status -s INT 0.5");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("verdict: stopped — interrupted (SIGINT)"), std::string::npos)
      << r.output;
}

// No /dev/kvm: a private mount namespace with an empty /dev.
TEST_F(Cli, WithoutDevKvmTheEnvironmentStatusAndAHint) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to make a mount namespace";
  if (Result u = kvmscope::test::Capture("unshare --mount true 2>&1"); u.status != 0) {
    GTEST_SKIP() << "needs a private mount namespace to hide /dev/kvm, and 'unshare --mount' "
                    "failed here (in a chroot or container?): "
                 << u.output;
  }
  std::string cmd = "unshare --mount sh -c 'mount -t tmpfs none /dev && exec " KVMSCOPE_BIN
                    " run --guest hello' 2>&1";
  Result r = Capture(cmd);
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("/dev/kvm does not exist"), std::string::npos) << r.output;
}

TEST_F(Cli, WithoutPermissionTheEnvironmentStatusAndAHint) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  if (system("command -v setpriv >/dev/null") != 0) GTEST_SKIP() << "setpriv unavailable";
  if (access("/dev/kvm", F_OK) != 0) GTEST_SKIP() << "no /dev/kvm";
  Result r = Kvmscope("run --guest hello", "setpriv --reuid=nobody --regid=nogroup --clear-groups");
  if (r.output.find("Permission denied") == std::string::npos && r.status == 0) {
    GTEST_SKIP() << "/dev/kvm is open to every user here";
  }
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("run as root or add your user to the 'kvm' group"), std::string::npos)
      << r.output;
}

// ---- Kernel tracing -------------------------------------------------------

constexpr const char* kNobody = "setpriv --reuid=nobody --regid=nogroup --clear-groups";

bool HasSetpriv() { return system("command -v setpriv >/dev/null") == 0; }

// The vendor exit handler /proc/kallsyms names (symbol names are shown even
// when addresses are hidden), or "" when none is there.
std::string VendorHandlerInKallsyms() {
  std::ifstream in("/proc/kallsyms");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string addr, type, name;
    fields >> addr >> type >> name;
    if (name == "vmx_handle_exit" || name == "svm_handle_exit" || name == "pvm_handle_exit") {
      return name;
    }
  }
  return "";
}

TEST_F(Cli, RunPrintsWhatTheKernelDidForEachExit) {
  KVMSCOPE_REQUIRE_KVM();
  KVMSCOPE_REQUIRE_ROOT_FOR_BPF();
  Result r = Kvmscope("run --guest pagefault");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("kernel tracing:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("kernel ("), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("kvm_inj_exception #PF"), std::string::npos) << r.output;
  // A call path through the MMU's fault handler: the guest's page faults
  // reach KVM.
  bool mmu_path = false;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("new path") != std::string::npos &&
        line.find("kvm_mmu_page_fault") != std::string::npos) {
      mmu_path = true;
    }
  }
  EXPECT_TRUE(mmu_path) << "no 'new path' line through kvm_mmu_page_fault:\n" << r.output;
  EXPECT_NE(r.output.find("\nkernel: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\nkernel: 0 events lost"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("verdict: passed"), std::string::npos) << r.output;
}

TEST_F(Cli, NoProbesRunsTheVmmAlone) {
  KVMSCOPE_REQUIRE_KVM();
  Result r = Kvmscope("run --guest hello --no-probes");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("verdict: passed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("KVM_EXIT_HLT"), std::string::npos) << r.output;
  for (const char* absent : {"kernel tracing", "new path", "kernel (", "\nkernel: "}) {
    EXPECT_EQ(r.output.find(absent), std::string::npos) << absent << "\n" << r.output;
  }
}

TEST_F(Cli, BadStacksModeIsAUsageError) {
  Result r = Kvmscope("run --guest hello --stacks bogus");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--stacks"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bogus"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("kvmscope: running"), std::string::npos) << r.output;
}

// A ring size that is not a power of two turns kernel tracing off, says why,
// and the VMM still runs the guest to its verdict.
TEST_F(Cli, BadRingSizeTurnsKernelTracingOffButTheGuestRuns) {
  KVMSCOPE_REQUIRE_KVM();
  Result r = Kvmscope("run --guest hello --ring-size 5000");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("kernel tracing is off"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("power of two"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("kvmscope: running hello"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("verdict: passed"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("\nkernel: "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("new path"), std::string::npos) << r.output;
}

TEST_F(Cli, DoctorAsRootShowsThePlanAndTheVendorHandler) {
  KVMSCOPE_REQUIRE_KVM();
  KVMSCOPE_REQUIRE_ROOT_FOR_BPF();
  std::string handler = VendorHandlerInKallsyms();
  ASSERT_FALSE(handler.empty())
      << "none of vmx_handle_exit/svm_handle_exit/pvm_handle_exit in /proc/kallsyms";
  Result r = Kvmscope("doctor");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("attach plan"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("run loop"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(handler), std::string::npos) << handler << "\n" << r.output;
  EXPECT_NE(r.output.find("verdict: kernel tracing works"), std::string::npos) << r.output;
  // One ring buffer per online CPU, rounded down to a power of two, at most 16.
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  const unsigned rings = std::bit_floor(static_cast<unsigned>(std::clamp(online, 1L, 16L)));
  EXPECT_NE(r.output.find(fmt::format("\nring buffers  {} × ", rings)), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(fmt::format("one per CPU (of {} online) from --ring-size 8 MiB", online)),
            std::string::npos)
      << r.output;
}

using kvmscope::test::CpuinfoHasHypervisorFlag;
using kvmscope::test::FileText;

// The KVM parameter files this host has, as "module.param=value".
std::vector<std::string> ModuleParamFiles() {
  std::vector<std::string> out;
  for (const kvmscope::test::KvmParamFile& p : kvmscope::test::KvmParamFiles()) {
    if (fs::exists(p.file)) out.push_back(p.name + "=" + FileText(p.file));
  }
  return out;
}

// The doctor says what runs the host, with the evidence, and the KVM
// modules' parameters, as this host's files say: here (PVM in a KVM VM) a
// "virtual machine"; in the test hosts an "emulator" with its warning.
TEST_F(Cli, DoctorShowsThePlatformAndTheModuleParameters) {
  Result r = Kvmscope("doctor");
  const bool flag = CpuinfoHasHypervisorFlag();
  const std::string firmware =
      FileText("/sys/class/dmi/id/sys_vendor") + " " + FileText("/sys/class/dmi/id/bios_vendor");
  EXPECT_NE(r.output.find(flag ? "cpuinfo: hypervisor flag" : "cpuinfo: no hypervisor flag"),
            std::string::npos) << r.output;
  if (firmware.find("Bochs") != std::string::npos && !flag) {
    EXPECT_NE(r.output.find("platform      emulator (Bochs) → times are the emulator's"),
              std::string::npos) << r.output;
  } else if (flag) {
    EXPECT_TRUE(r.output.find("platform      virtual machine") != std::string::npos ||
                r.output.find("platform      emulator") != std::string::npos) << r.output;
  } else if (firmware.find("QEMU") == std::string::npos) {
    EXPECT_NE(r.output.find("platform      bare metal"), std::string::npos) << r.output;
  }
  if (fs::exists("/sys/module/kvm_pvm") && flag && firmware.find("QEMU") == std::string::npos) {
    EXPECT_NE(r.output.find("platform      virtual machine"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("paging        shadow paging (PVM always)"), std::string::npos)
        << r.output;
  }
  const std::vector<std::string> params = ModuleParamFiles();
  for (const std::string& p : params) {
    EXPECT_NE(r.output.find(p), std::string::npos) << p << r.output;
  }
  if (params.empty()) {
    EXPECT_NE(r.output.find("KVM params    none of"), std::string::npos) << r.output;
  }
}

// A run records the same facts in the trace, traced or not.
TEST_F(Cli, ARunRecordsThePlatformAndTheModuleParameters) {
  KVMSCOPE_REQUIRE_KVM();
  KVMSCOPE_REQUIRE_ROOT_FOR_BPF();
  Result doctor = Kvmscope("doctor");
  std::vector<std::string> files = ModuleParamFiles();
  std::sort(files.begin(), files.end());
  for (std::string options : {"", "--no-probes"}) {
    SCOPED_TRACE("run " + options);
    const std::string trace = (dir / "facts.json").string();
    Result r = Kvmscope("run --guest hello -q " + options + " -o " + trace);
    ASSERT_EQ(r.status, 0) << r.output;
    const auto host = nlohmann::json::parse(std::ifstream(trace))["host"];
    const std::string platform = host["platform"];
    EXPECT_NE(doctor.output.find("platform      " + platform), std::string::npos)
        << platform << "\n" << doctor.output;
    EXPECT_NE(host["platform_evidence"].get<std::string>().find("cpuinfo: "), std::string::npos);
    std::vector<std::string> recorded;
    for (const auto& [key, value] : host["module_params"].items()) {
      recorded.push_back(key + "=" + value.get<std::string>());
    }
    EXPECT_EQ(recorded, files);
  }
}

TEST_F(Cli, DoctorWithoutRootSaysWhatIsMissing) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  if (!HasSetpriv()) GTEST_SKIP() << "setpriv unavailable";
  Result r = Kvmscope("doctor", kNobody);
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("root"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("verdict: kernel tracing works"), std::string::npos) << r.output;
}

// Root is uid 0 of the machine, not of a user namespace of one's own: there
// system-wide tracing is refused as for any user.
TEST_F(Cli, UidZeroOfAUserNamespaceIsNotRoot) {
  if (Result ns = Capture("unshare -r true 2>&1"); ns.status != 0) {
    GTEST_SKIP() << "unshare -r cannot make a user namespace here: " << ns.output;
  }
  Result r = Capture("unshare -r " KVMSCOPE_BIN " run --guest hello -q --system-wide 2>&1");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("run --system-wide needs root (uid 0)"), std::string::npos) << r.output;
}

TEST_F(Cli, RunWithoutRootHasNoKernelTracing) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  if (!HasSetpriv()) GTEST_SKIP() << "setpriv unavailable";
  if (access("/dev/kvm", F_OK) != 0) GTEST_SKIP() << "no /dev/kvm";
  bool nobody_has_kvm =
      Capture(std::string(kNobody) + " sh -c 'test -r /dev/kvm && test -w /dev/kvm'").status == 0;
  Result r = Kvmscope("run --guest hello", kNobody);
  if (nobody_has_kvm) {
    // The VMM runs; tracing is off and the message says root is what it needs.
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("verdict: passed"), std::string::npos) << r.output;
    size_t off = r.output.find("kernel tracing is off");
    ASSERT_NE(off, std::string::npos) << r.output;
    std::string line = r.output.substr(off, r.output.find('\n', off) - off);
    EXPECT_NE(line.find("root"), std::string::npos) << line;
  } else {
    EXPECT_EQ(r.status, 3) << r.output;
    EXPECT_NE(r.output.find("cannot open /dev/kvm"), std::string::npos) << r.output;
  }
  EXPECT_EQ(r.output.find("new path"), std::string::npos) << r.output;
}

}  // namespace

// A run saved with -o and --chrome, then read back by stats, chains,
// check-seed and export.
class CliTraces : public Cli {};

TEST_F(CliTraces, RunSavesATraceThatEveryCommandReads) {
  KVMSCOPE_REQUIRE_KVM();
  std::string trace = (dir / "pf.json").string(), chrome = (dir / "pf.trace.json").string();
  Result r = Kvmscope(fmt::format("run --guest pagefault -q -o {} --chrome {}", trace, chrome));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("wrote trace: " + trace), std::string::npos) << r.output;
  auto doc = nlohmann::json::parse(std::ifstream(trace));
  EXPECT_EQ(doc["format"], "kvmscope-trace");
  EXPECT_EQ(doc["guest"]["name"], "pagefault");
  EXPECT_EQ(doc["guest"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_NE(doc["console"].get<std::string>().find("#PF at"), std::string::npos);
  EXPECT_TRUE(nlohmann::json::parse(std::ifstream(chrome)).contains("traceEvents"));

  Result stats = Kvmscope("stats " + trace);
  EXPECT_EQ(stats.status, 0) << stats.output;
  EXPECT_NE(stats.output.find("Userspace exits"), std::string::npos) << stats.output;
  EXPECT_NE(stats.output.find("HLT"), std::string::npos) << stats.output;

  Result json = Capture(KVMSCOPE_BIN " stats --json " + trace + " 2>/dev/null");
  ASSERT_EQ(json.status, 0);
  auto sj = nlohmann::json::parse(json.output);
  ASSERT_TRUE(sj["scopes"].is_array());
  EXPECT_FALSE(sj["scopes"].empty());

  Result chains = Kvmscope("chains " + trace);
  EXPECT_EQ(chains.status, 0) << chains.output;
  for (const char* c : {"The run loop", "Observed call tree", "kvm_arch_vcpu_ioctl_run"}) {
    EXPECT_NE(chains.output.find(c), std::string::npos) << c << chains.output;
  }
  Result one = Kvmscope("chains --chain pagefaults " + trace);
  EXPECT_EQ(one.status, 0) << one.output;
  EXPECT_EQ(one.output.find("The run loop"), std::string::npos) << one.output;
  EXPECT_EQ(Kvmscope("chains --chain nonsense " + trace).status, 2);

  Result seed = Kvmscope("check-seed " + trace);
  EXPECT_EQ(seed.status, 0) << seed.output;
  EXPECT_NE(seed.output.find("[contradicted]"), std::string::npos) << seed.output;
  EXPECT_NE(seed.output.find("kvm_arch_vcpu_run"), std::string::npos) << seed.output;

  std::string out = (dir / "again.trace.json").string();
  Result exp = Kvmscope(fmt::format("export {} --chrome {}", trace, out));
  EXPECT_EQ(exp.status, 0) << exp.output;
  EXPECT_TRUE(nlohmann::json::parse(std::ifstream(out)).contains("traceEvents"));
}

// Loading and exporting show a line that moves on a terminal (util-linux
// `script` gives the command one) and print nothing of it otherwise.
TEST_F(CliTraces, ProgressLinesOnATerminalOnly) {
  if (Capture("command -v script >/dev/null").status != 0) GTEST_SKIP() << "no script(1) (util-linux)";
  // A host without pseudo-terminals (the emulated test hosts have no /dev/pts).
  if (Result pty = Capture("script -qec true /dev/null 2>&1"); pty.status != 0) {
    GTEST_SKIP() << "script(1) cannot give the command a terminal here: " << pty.output;
  }
  const std::string trace = KVMSCOPE_TESTDATA "/pagefault-pvm.json";  // 7 reads of 64 KiB
  const std::string out = (dir / "pf.trace.json").string();
  const std::string command = fmt::format("{} export {} --chrome {}", KVMSCOPE_BIN, trace, out);
  Result tty = Capture("script -qec '" + command + "' /dev/null");
  ASSERT_EQ(tty.status, 0) << tty.output;
  const double mib = static_cast<double>(fs::file_size(trace)) / 1048576.0;
  EXPECT_NE(tty.output.find(fmt::format("\r  loading {}: 100% ({:.1f} of {:.1f} MiB)", trace, mib, mib)),
            std::string::npos) << tty.output;
  const uintmax_t first = 65536 * 100 / fs::file_size(trace);  // after the first read
  EXPECT_NE(tty.output.find(fmt::format("\r  loading {}: {}% ", trace, first)), std::string::npos)
      << "no line before the end: " << tty.output;
  EXPECT_NE(tty.output.find("\r\033[K"), std::string::npos) << "the line is not erased:" << tty.output;
  Result pipe = Capture(command + " 2>&1");
  ASSERT_EQ(pipe.status, 0) << pipe.output;
  EXPECT_EQ(pipe.output.find("loading"), std::string::npos) << pipe.output;
  EXPECT_EQ(pipe.output.find("exporting"), std::string::npos) << pipe.output;
  EXPECT_NE(pipe.output.find("wrote Chrome trace"), std::string::npos) << pipe.output;
}

TEST_F(CliTraces, BadTraceFilesAreUsageErrorsThatNameTheProblem) {
  Result missing = Kvmscope("stats " + (dir / "nope.json").string());
  EXPECT_EQ(missing.status, 2) << missing.output;
  EXPECT_NE(missing.output.find("nope.json"), std::string::npos) << missing.output;
  Result garbage = Kvmscope("chains " + Write("bad.json", "{\"format\": \"kvmscope-trace\", "));
  EXPECT_EQ(garbage.status, 2) << garbage.output;
  EXPECT_NE(garbage.output.find("bad.json"), std::string::npos) << garbage.output;
  Result newer = Kvmscope(
      "export --chrome /dev/null " +
      Write("new.json", "{\"format\": \"kvmscope-trace\", \"format_version\": 99}"));
  EXPECT_EQ(newer.status, 2) << newer.output;
  EXPECT_NE(newer.output.find("99"), std::string::npos) << newer.output;
  EXPECT_EQ(Kvmscope("stats").status, 2);
}

// `facts` needs nothing: every fact with its evidence, the count on stderr;
// a bad chain name is a usage error; `chains --sources` adds the evidence.
TEST_F(Cli, FactsPrintsEveryFactWithItsEvidence) {
  Result all = Kvmscope("facts");
  EXPECT_EQ(all.status, 0) << all.output;
  EXPECT_NE(all.output.find("| `vcpu_run` | any | ≥4.1 |"), std::string::npos) << all.output;
  EXPECT_NE(all.output.find("4.0.4 arch/x86/kvm/x86.c:6385"), std::string::npos);
  EXPECT_NE(all.output.find("0 without evidence"), std::string::npos);
  Result unverified = Kvmscope("facts --unverified --chain page-faults");
  EXPECT_EQ(unverified.status, 0) << unverified.output;
  EXPECT_NE(unverified.output.find("npf_interception"), std::string::npos) << unverified.output;
  EXPECT_EQ(unverified.output.find("`vcpu_run`"), std::string::npos) << unverified.output;
  Result bad = Kvmscope("facts --chain nope");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("unknown chain 'nope'"), std::string::npos) << bad.output;

  const std::string trace = KVMSCOPE_TESTDATA "/pagefault-svm.json";
  Result plain = Kvmscope("chains --chain run " + trace);
  Result sources = Kvmscope("chains --chain run --sources " + trace);
  EXPECT_EQ(sources.status, 0) << sources.output;
  EXPECT_EQ(plain.output.find("checked: svm_handle_exit"), std::string::npos) << plain.output;
  EXPECT_NE(sources.output.find("checked: svm_handle_exit"), std::string::npos) << sources.output;
}

// An output file that cannot be written is refused before anything runs, so
// no recording is lost at the end.
TEST_F(CliTraces, UnwritableOutputIsRefusedBeforeRunning) {
  Result r = Kvmscope("run --guest hello -o /nonexistent-dir/t.json");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent-dir"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("kvmscope: running"), std::string::npos) << r.output;
  // A folder is refused the same way (one check for run, record and export).
  Result folder = Kvmscope("run --guest hello --no-probes -o " + dir.string());
  EXPECT_EQ(folder.status, 2) << folder.output;
  EXPECT_NE(folder.output.find(dir.string() + ": is a directory"), std::string::npos) << folder.output;
  EXPECT_EQ(folder.output.find("kvmscope: running"), std::string::npos) << folder.output;
}

// Without a trace, check-seed records the tour's guests and checks this
// kernel: the run-loop call the seed gets right is confirmed by live stacks.
TEST_F(CliTraces, CheckSeedLiveConfirmsWhatThisKernelDoes) {
  KVMSCOPE_REQUIRE_KVM();
  KVMSCOPE_REQUIRE_ROOT_FOR_BPF();
  Result r = Kvmscope("check-seed");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("checking this kernel live"), std::string::npos) << r.output;
  size_t claim = r.output.find("kvm_vcpu_ioctl calls kvm_arch_vcpu_ioctl_run");
  ASSERT_NE(claim, std::string::npos) << r.output;
  size_t line = r.output.rfind('\n', claim);
  EXPECT_EQ(r.output.compare(line + 1, 11, "[confirmed]"), 0) << r.output.substr(line + 1, 120);
  EXPECT_NE(r.output.find("[contradicted]"), std::string::npos);
}

// ---- --attach: a forced mechanism ------------------------------------------
// Each forced mechanism runs for real where this kernel has it (the SVM and
// VMX test hosts) and must be refused with the kernel's reason, exit 3,
// where it does not (PVM here: no kprobes, no BPF tracing programs).

class CliAttach : public CliTraces {
 protected:
  // The plan recorded by `run --attach CHOICE --guest GUEST -o F`.
  nlohmann::json RunAndLoadPlan(const std::string& choice, const char* guest = "hello") {
    std::string trace = (dir / fmt::format("{}-{}.json", guest, choice)).string();
    Result r = Kvmscope(fmt::format("run --attach {} --guest {} -q -o {}", choice, guest, trace));
    EXPECT_EQ(r.status, 0) << r.output;
    if (r.status != 0) return {};
    auto doc = nlohmann::json::parse(std::ifstream(trace));
    // A trace made now bounds every symbol, and no frame lies past its symbol's end.
    for (const auto& row : doc["symbols"]) EXPECT_EQ(row.size(), 4u) << row.dump();
    return doc["host"]["plan"];
  }
  static std::vector<std::string> MechanismsOf(const nlohmann::json& plan) {
    std::vector<std::string> m;
    for (const auto& e : plan["entries"]) m.push_back(e["mechanism"]);
    return m;
  }
};

bool KernelHasKprobes() { return std::filesystem::exists("/sys/bus/event_source/devices/kprobe"); }

TEST_F(CliAttach, BadValueIsAUsageErrorOnEveryCommand) {
  for (const char* cmd : {"run --guest hello", "doctor", "tour", "gui"}) {
    Result r = Kvmscope(fmt::format("{} --attach kretprobe", cmd));
    EXPECT_EQ(r.status, 2) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find("--attach"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("kvmscope: running"), std::string::npos) << r.output;
  }
}

TEST_F(CliAttach, TracepointIsRecordedAsForcedAndOnPvmIsWhatAutoPicks) {
  KVMSCOPE_REQUIRE_KVM();
  KVMSCOPE_REQUIRE_ROOT_FOR_BPF();
  nlohmann::json forced = RunAndLoadPlan("tracepoint");
  nlohmann::json automatic = RunAndLoadPlan("auto");
  ASSERT_FALSE(forced.is_null());
  ASSERT_FALSE(automatic.is_null());
  EXPECT_EQ(forced["requested"], "tracepoint");
  EXPECT_EQ(automatic["requested"], "auto");
  EXPECT_NE(forced["summary"].get<std::string>().find("forced: --attach tracepoint"),
            std::string::npos);
  EXPECT_EQ(MechanismsOf(forced)[0], "tracepoint");
  if (VendorHandlerInKallsyms() == "pvm_handle_exit") {
    EXPECT_EQ(MechanismsOf(forced), MechanismsOf(automatic));
    EXPECT_EQ(forced["tracepoints"], automatic["tracepoints"]);
  }
}

TEST_F(CliAttach, KprobeRunsWhereTheKernelHasKprobesElseExit3WithWhy) {
  KVMSCOPE_REQUIRE_KVM();
  KVMSCOPE_REQUIRE_ROOT_FOR_BPF();
  if (KernelHasKprobes()) {
    nlohmann::json plan = RunAndLoadPlan("kprobe", "pagefault");
    EXPECT_EQ(plan["requested"], "kprobe");
    EXPECT_EQ(MechanismsOf(plan)[0], "kprobe");
    return;
  }
  Result r = Kvmscope("run --attach kprobe --guest hello");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("--attach kprobe: kprobes cannot attach here"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("this kernel has no kprobes"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/sys/bus/event_source/devices/kprobe is absent"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("kvmscope: running"), std::string::npos) << r.output;
  Result doctor = Kvmscope("doctor --attach kprobe");
  EXPECT_EQ(doctor.status, 3) << doctor.output;
  EXPECT_NE(doctor.output.find("'kvmscope run --attach kprobe' uses here"), std::string::npos)
      << doctor.output;
  EXPECT_NE(doctor.output.find("this kernel has no kprobes"), std::string::npos) << doctor.output;
  Result tour = Kvmscope(fmt::format("tour --attach kprobe --out {}", (dir / "tour").string()));
  EXPECT_EQ(tour.status, 3) << tour.output;
}

TEST_F(CliAttach, FentryRunsWhereTheKernelAllowsItElseExit3WithWhy) {
  KVMSCOPE_REQUIRE_KVM();
  KVMSCOPE_REQUIRE_ROOT_FOR_BPF();
  Result doctor = Kvmscope("doctor --attach fentry");
  bool fentry = doctor.output.find("\nfentry        yes") != std::string::npos;
  if (fentry) {
    EXPECT_EQ(doctor.status, 0) << doctor.output;
    nlohmann::json plan = RunAndLoadPlan("fentry", "pagefault");
    EXPECT_EQ(plan["requested"], "fentry");
    EXPECT_EQ(MechanismsOf(plan)[0], "fentry");
    return;
  }
  EXPECT_EQ(doctor.status, 3) << doctor.output;
  Result r = Kvmscope("run --attach fentry --guest hello");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("--attach fentry: fentry (BPF tracing programs) cannot attach here"),
            std::string::npos) << r.output;
  // The reason is the kernel's: no BTF, the target missing, or the program type refused.
  bool named = r.output.find("no kernel BTF") != std::string::npos ||
               r.output.find("is not in the kernel's BTF") != std::string::npos ||
               r.output.find("refuses BPF tracing programs") != std::string::npos;
  EXPECT_TRUE(named) << r.output;
}
