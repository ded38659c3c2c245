// `kvmscope record --pid` for real: a QEMU VM (the exit BIOS: N port writes
// to 0x80, then isa-debug-exit) started paused, recorded by pid from before
// its first instruction to its exit, and the trace checked against the
// kernel's own counts (and perf's, where perf is installed); its errors
// (no process, not a VM) exit 2 with nothing attached. Skips with the reason
// without root, KVM, QEMU or bpftool.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "bpf_programs.h"
#include "qemu_vm.h"
#include "run_command.h"
#include "traces/kvm_counters.h"
#include "traces/stats.h"
#include "traces/trace.h"
#include "traces/trace_json.h"

namespace {

namespace fs = std::filesystem;
using kvmscope::test::Capture;
using kvmscope::test::QemuVm;
using kvmscope::test::QemuVmOptions;
using kvmscope::test::Result;
using kvmscope::traces::KernelEventKind;

constexpr uint32_t kOuts = 2000;

std::string NeedsReason() {
  if (std::string why = QemuVm::MissingReason(); !why.empty()) return "needs QEMU with KVM: " + why;
  if (geteuid() != 0) return "needs root: record loads BPF programs";
  if (access(kvmscope::test::kBpftool, X_OK) != 0) return "needs bpftool at /usr/sbin/bpftool";
  return "";
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct TempDir {
  TempDir() {
    char dir[] = "/tmp/kvmscope-record-XXXXXX";
    if (mkdtemp(dir)) path = dir;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
  fs::path path;
};

// The ids of the BPF programs process `pid` holds (fdinfo "prog_id:" of its
// program and link fds).
std::set<uint32_t> ProgramsHeldBy(pid_t pid) {
  std::set<uint32_t> ids;
  std::error_code ec;
  const fs::path fdinfo = "/proc/" + std::to_string(pid) + "/fdinfo";
  for (const auto& entry : fs::directory_iterator(fdinfo, ec)) {
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("prog_id:", 0) == 0) ids.insert(static_cast<uint32_t>(std::stoul(line.substr(8))));
    }
  }
  return ids;
}

uint32_t IdOf(const std::string& program) { return static_cast<uint32_t>(std::stoul(program)); }

// kvmscope's programs that no process holds: what a kvmscope that exited
// left behind (pinned, or a link nobody owns). Other kvmscope processes on
// this host (other test runs) hold theirs, so they never count; a program
// being freed right after its process exited may show for a moment, so only
// what is still there after `settle` counts.
std::vector<std::string> OrphanKvmscopePrograms(std::chrono::milliseconds settle = std::chrono::milliseconds(3000)) {
  const auto until = std::chrono::steady_clock::now() + settle;
  std::vector<std::string> orphans;
  do {
    orphans.clear();
    std::vector<std::string> loaded = kvmscope::test::LoadedKvmscopePrograms();
    if (loaded.empty()) return orphans;
    std::set<uint32_t> held;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
      held.merge(ProgramsHeldBy(std::stoi(name)));
    }
    for (const std::string& p : loaded) {
      if (!held.contains(IdOf(p))) orphans.push_back(p);
    }
    if (orphans.empty()) return orphans;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < until);
  return orphans;
}

// Whether any of `ids` is still loaded.
std::vector<std::string> StillLoaded(const std::set<uint32_t>& ids) {
  std::vector<std::string> left;
  for (int i = 0; i < 30; ++i) {
    left.clear();
    for (const std::string& p : kvmscope::test::LoadedKvmscopePrograms()) {
      if (ids.contains(IdOf(p))) left.push_back(p);
    }
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return left;
}

// Programs on kvm_userspace_exit (kvmscope's and top's) that are not `ours`.
std::vector<std::string> OtherTracers(const std::set<uint32_t>& ours) {
  Result r = Capture(std::string(kvmscope::test::kBpftool) + " prog show 2>/dev/null");
  std::vector<std::string> found;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0]))) continue;
    if (line.find(" name tp_kvm_userspace") == std::string::npos &&
        line.find(" name top_userspace_e") == std::string::npos) {
      continue;
    }
    if (!ours.contains(IdOf(line))) found.push_back(line.substr(0, line.find("  tag")));
  }
  return found;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += s + "\n";
  return out;
}

// A command in the background, its output in a file.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const fs::path& log) : m_log(log) {
    m_pid = fork();
    if (m_pid == 0) {
      kvmscope::test::PrepareChild(log.c_str());
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
  }
  ~Background() {
    if (m_pid > 0 && !m_status) {
      kill(m_pid, SIGKILL);
      waitpid(m_pid, nullptr, 0);
    }
  }
  pid_t pid() const { return m_pid; }
  std::string Output() const { return ReadAll(m_log); }
  // Waits until its output contains `text`; false if it exits or time runs out first.
  bool WaitFor(const std::string& text, std::chrono::seconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (Output().find(text) != std::string::npos) return true;
      if (Wait(std::chrono::milliseconds(0))) return Output().find(text) != std::string::npos;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  // Its exit status, or nullopt when it is still running after `limit`.
  std::optional<int> Wait(std::chrono::milliseconds limit) {
    if (m_status) return m_status;
    auto until = std::chrono::steady_clock::now() + limit;
    do {
      int st = 0;
      if (waitpid(m_pid, &st, WNOHANG) == m_pid) {
        m_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return m_status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (std::chrono::steady_clock::now() < until);
    return std::nullopt;
  }

 private:
  fs::path m_log;
  pid_t m_pid = -1;
  std::optional<int> m_status;
};

TEST(CliRecord, RecordsAQemuVmByPidFromItsFirstInstructionToItsExit) {
  if (std::string why = NeedsReason(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  std::string error;
  QemuVmOptions options;
  options.outs = kOuts;
  std::unique_ptr<QemuVm> vm = QemuVm::Start(options, &error);
  ASSERT_TRUE(vm) << error;
  const std::string pid = std::to_string(vm->pid());
  const fs::path trace_path = dir.path / "qemu.json";

  Background record({KVMSCOPE_BIN, "record", "--pid", pid, "-o", trace_path.string()},
                    dir.path / "record.log");
  ASSERT_TRUE(record.WaitFor("attached", std::chrono::seconds(60))) << record.Output();
  const std::set<uint32_t> ours = ProgramsHeldBy(record.pid());
  EXPECT_FALSE(ours.empty()) << "record holds no BPF program";
  // perf, where installed, counts the same tracepoint over the same life.
  std::optional<Background> perf;
  const fs::path perf_out = dir.path / "perf.csv";
  if (Capture("command -v perf >/dev/null 2>&1").status == 0) {
    perf.emplace(std::vector<std::string>{"perf", "stat", "-x,", "-e", "kvm:kvm_userspace_exit", "-e",
                                          "syscalls:sys_exit_ioctl", "-p", pid, "-o", perf_out.string()},
                 dir.path / "perf.log");
    std::this_thread::sleep_for(std::chrono::seconds(1));  // perf says nothing when attached
  }
  // Other tracers of kvm_userspace_exit on this host while it runs (another
  // test run's kvmscope or top): a perf-attached BPF program that returns 0
  // (kvmscope before it passed events on) hides the event from perf.
  std::atomic<bool> watching{true};
  std::set<std::string> others;
  std::thread watcher([&] {
    while (watching) {
      for (const std::string& p : OtherTracers(ours)) others.insert(p);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  ASSERT_TRUE(vm->Cont());
  std::optional<int> qemu_status = vm->Wait(std::chrono::seconds(60));
  watching = false;
  watcher.join();
  ASSERT_TRUE(qemu_status) << "QEMU did not finish the exit BIOS";
  EXPECT_EQ(*qemu_status, kvmscope::test::kExitBiosStatus) << vm->Log();

  std::optional<int> status = record.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(status) << "record did not end by itself when the VMM exited:\n" << record.Output();
  ASSERT_EQ(*status, 0) << record.Output();
  EXPECT_NE(record.Output().find("the VMM exited after"), std::string::npos) << record.Output();

  kvmscope::traces::TraceData trace = kvmscope::traces::LoadTrace(trace_path.string());
  ASSERT_TRUE(trace.external);
  EXPECT_EQ(trace.external->pid, static_cast<uint32_t>(vm->pid()));
  EXPECT_NE(trace.external->ended.find("the VMM exited after"), std::string::npos);
  int vcpu_tracks = 0;
  std::map<uint64_t, uint64_t> exits_by_reason;  // kvm_userspace_exit a0
  uint64_t port80_writes = 0, run_enters = 0;
  for (const kvmscope::traces::Track& t : trace.tracks) {
    if (t.kind != kvmscope::traces::TrackKind::Vcpu) continue;
    ++vcpu_tracks;
    EXPECT_EQ(t.name, "CPU 0/KVM");
    EXPECT_EQ(t.vcpu, 0);
    for (const kvmscope::traces::Event& e : t.events) {
      if (e.type == KernelEventKind::UserspaceExit) ++exits_by_reason[e.a[0]];
      if (e.type == KernelEventKind::RunEnter) ++run_enters;
      if (e.type == KernelEventKind::Pio && e.a[0] == 1 && e.a[1] == 0x80) ++port80_writes;
    }
  }
  EXPECT_EQ(vcpu_tracks, 1);
  EXPECT_EQ(port80_writes, kOuts);
  EXPECT_EQ(exits_by_reason[2 /* KVM_EXIT_IO */], QemuVm::ExpectedIoExits(kOuts));
  ASSERT_TRUE(trace.kernel_counts);
  const auto& counts = *trace.kernel_counts;
  EXPECT_EQ(counts.total_lost(), 0u);
  uint64_t userspace_exits = 0;
  for (const auto& [reason, n] : exits_by_reason) userspace_exits += n;
  const size_t ue = static_cast<size_t>(KernelEventKind::UserspaceExit);
  EXPECT_EQ(userspace_exits, counts.seen[ue]) << "every kvm_userspace_exit the kernel saw is in the trace";
  EXPECT_GE(run_enters, QemuVm::ExpectedIoExits(kOuts));

  if (perf) {
    ASSERT_TRUE(perf->Wait(std::chrono::seconds(30))) << "perf stat did not end with QEMU";
    // "2010,,kvm:kvm_userspace_exit,..."
    std::string csv = ReadAll(perf_out);
    size_t at = csv.find(",kvm:kvm_userspace_exit");
    ASSERT_NE(at, std::string::npos) << csv << perf->Output();
    size_t begin = csv.rfind('\n', at);
    begin = begin == std::string::npos ? 0 : begin + 1;
    std::string number = csv.substr(begin, csv.find(',', begin) - begin);
    // Every ioctl QEMU made, its KVM_RUNs among them: a program of kvmscope's
    // on the same tracepoint that dropped the event would leave only the others.
    const size_t ioctl_at = csv.find(",syscalls:sys_exit_ioctl");
    ASSERT_NE(ioctl_at, std::string::npos) << csv;
    size_t ioctl_begin = csv.rfind('\n', ioctl_at);
    ioctl_begin = ioctl_begin == std::string::npos ? 0 : ioctl_begin + 1;
    const uint64_t ioctls = std::stoull(csv.substr(ioctl_begin, csv.find(',', ioctl_begin) - ioctl_begin));
    EXPECT_GE(ioctls, counts.seen[static_cast<size_t>(KernelEventKind::RunExit)])
        << "perf lost sys_exit_ioctl events while kvmscope traced them\n" << csv;
    if (std::stoull(number) != counts.seen[ue] && !others.empty()) {
      std::string list;
      for (const std::string& o : others) list += " " + o;
      std::printf("perf stat counted %s, kvmscope %llu: not compared, other BPF programs traced "
                  "kvm_userspace_exit meanwhile:%s\n",
                  number.c_str(), static_cast<unsigned long long>(counts.seen[ue]), list.c_str());
    } else {
      EXPECT_EQ(std::stoull(number), counts.seen[ue]) << "perf stat and kvmscope over the same life";
    }
  }

  Result stats = Capture(std::string(KVMSCOPE_BIN) + " stats " + trace_path.string() + " 2>&1");
  EXPECT_EQ(stats.status, 0) << stats.output;
  EXPECT_NE(stats.output.find("External VMM (pid " + pid), std::string::npos) << stats.output;
  for (const char* cmd : {"chains", "check-seed"}) {
    Result r = Capture(std::string(KVMSCOPE_BIN) + " " + cmd + " " + trace_path.string() + " 2>&1");
    EXPECT_EQ(r.status, 0) << cmd << ":\n" << r.output;
  }
  Result exported = Capture(std::string(KVMSCOPE_BIN) + " export " + trace_path.string() +
                            " --chrome " + (dir.path / "chrome.json").string() + " 2>&1");
  EXPECT_EQ(exported.status, 0) << exported.output;
  EXPECT_EQ(Join(StillLoaded(ours)), "") << "record's programs outlived it";
}

// KVM's own counters beside the trace, from debugfs (where the host gives
// them: the SVM test host) and from QEMU's QMP socket (--qmp):
// recorded over --duration while the exit BIOS keeps writing to port 0x80,
// the difference of KVM's counters over the recording against the trace's
// count of the same thing. Each reading is taken just after attaching and
// just before detaching, a few ms from the trace's edges (about 0.1 s under
// the SVM test host's emulator, 4% there), so they agree within 10%.
TEST(CliRecord, KvmsOwnCountersOfTheRecordedVmAgreeWithTheTrace) {
  if (std::string why = NeedsReason(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string socket = (dir.path / "stats.sock").string();
  QemuVmOptions options;
  options.outs = 2000000000;  // runs until killed
  options.extra_args = {"-qmp", "unix:" + socket + ",server=on,wait=off"};
  std::string error;
  std::unique_ptr<QemuVm> vm = QemuVm::Start(options, &error);
  ASSERT_TRUE(vm) << error;
  const std::string pid = std::to_string(vm->pid());
  const fs::path trace_path = dir.path / "t.json";

  Result bad = Capture(std::string(KVMSCOPE_BIN) + " record --pid " + pid + " --qmp " +
                       (dir.path / "none.sock").string() + " -o " + trace_path.string() + " 2>&1");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("--qmp " + (dir.path / "none.sock").string() + ": no such file"),
            std::string::npos) << bad.output;
  EXPECT_EQ(bad.output.find("attached"), std::string::npos) << bad.output;

  ASSERT_TRUE(vm->Cont());
  // Without --qmp, debugfs (where the host allows it: not under lockdown, as
  // on this PVM machine; the SVM test host does); with it, QMP first.
  for (const std::string& qmp : {std::string(), socket}) {
    SCOPED_TRACE(qmp.empty() ? "without --qmp" : "--qmp");
    Result r = Capture(std::string(KVMSCOPE_BIN) + " record --pid " + pid +
                       (qmp.empty() ? "" : " --qmp " + qmp) + " --duration 2 -o " + trace_path.string() + " 2>&1");
    ASSERT_EQ(r.status, 0) << r.output;
    kvmscope::traces::TraceData trace = kvmscope::traces::LoadTrace(trace_path.string());
    if (qmp.empty() && !trace.kvm_stats) {
      std::printf("KVM's counters without --qmp: %s\n", trace.kvm_stats_note.c_str());
      EXPECT_NE(trace.kvm_stats_note.find("/sys/kernel/debug"), std::string::npos) << trace.kvm_stats_note;
      EXPECT_NE(r.output.find("KVM's own counters of this VM: not read: "), std::string::npos) << r.output;
      continue;
    }
    EXPECT_NE(r.output.find("KVM's own counters of this VM: from "), std::string::npos) << r.output;
    ASSERT_TRUE(trace.kvm_stats) << trace.kvm_stats_note;
    const kvmscope::traces::KvmStatsRecord& k = *trace.kvm_stats;
    std::printf("KVM's counters %s\n", k.source.c_str());
    if (qmp.empty()) {
      EXPECT_NE(k.source.find("from debugfs /sys/kernel/debug/kvm/" + pid + "-"), std::string::npos) << k.source;
      EXPECT_TRUE(k.vcpus.empty()) << "debugfs has the VM's sums only";
    } else {
      EXPECT_NE(k.source.find("from QMP query-stats on " + socket), std::string::npos) << k.source;
      EXPECT_EQ(k.vcpus.size(), 1u);
    }
    // The rows `stats` shows: KVM's counter beside the trace's count of the
    // same thing. Port writes land in io_exits (VMX/SVM: one per out) or, where
    // the backend emulates them (PVM), in insn_emulation (the trace's kernel
    // count of kvm_emulate_insn); the row with the port writes agrees.
    const kvmscope::traces::KvmCounterStats rows =
        kvmscope::traces::ComputeKvmCounters(trace, kvmscope::traces::kAllVcpus);
    int agreeing = 0;
    for (const kvmscope::traces::KvmCounterRow& row : rows.compared) {
      if (row.counter != "io_exits" && row.counter != "insn_emulation") continue;
      std::printf("%s: KVM %llu, trace %s (%s)\n", row.counter.c_str(), static_cast<unsigned long long>(row.kvm),
                  row.trace ? std::to_string(*row.trace).c_str() : "-", row.traced.c_str());
      if (row.kvm < 1000 || !row.trace) continue;
      EXPECT_NEAR(static_cast<double>(*row.trace), static_cast<double>(row.kvm), 0.10 * static_cast<double>(row.kvm))
          << row.counter << ": " << row.traced;
      ++agreeing;
    }
    EXPECT_GE(agreeing, 1) << "no KVM counter of the port writes to compare";
    Result stats = Capture(std::string(KVMSCOPE_BIN) + " stats " + trace_path.string() + " 2>&1");
    EXPECT_EQ(stats.status, 0) << stats.output;
    EXPECT_NE(stats.output.find("KVM's own counters, " + k.source), std::string::npos) << stats.output;
  }
}

// KVM's vcpu_id on x86 is the APIC id, with holes where the CPU topology
// has them (4 vCPUs as 2 sockets of 3 cores: ids 0, 1, 2, 4), while QEMU's
// QMP numbers its vCPUs 0..3: the counters land on the trace's vCPU ids,
// through the thread that runs each vCPU.
TEST(CliRecord, QmpCountersLandOnKvmsVcpuIds) {
  if (std::string why = NeedsReason(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  const std::string socket = (dir.path / "stats.sock").string();
  QemuVmOptions options;
  options.firmware = QemuVmOptions::Firmware::SeaBios;
  options.extra_args = {"-smp", "4,sockets=2,cores=3,threads=1,maxcpus=6", "-qmp", "unix:" + socket + ",server=on,wait=off"};
  std::string error;
  std::unique_ptr<QemuVm> vm = QemuVm::Start(options, &error);
  ASSERT_TRUE(vm) << error;
  ASSERT_TRUE(vm->Cont());
  const fs::path trace_path = dir.path / "t.json";
  Result r = Capture(std::string(KVMSCOPE_BIN) + " record --pid " + std::to_string(vm->pid()) +
                     " --qmp " + socket + " --duration 1 -o " + trace_path.string() + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  kvmscope::traces::TraceData trace = kvmscope::traces::LoadTrace(trace_path.string());
  ASSERT_TRUE(trace.kvm_stats) << trace.kvm_stats_note;
  const auto& vcpus = trace.kvm_stats->vcpus;
  ASSERT_EQ(vcpus.size(), 5u) << "vcpu_ids 0, 1, 2, 4";
  for (size_t id : {0u, 1u, 2u, 4u}) EXPECT_TRUE(vcpus[id].contains("exits")) << "vcpu_id " << id;
  EXPECT_TRUE(vcpus[3].empty()) << "no vCPU has id 3";
  for (const kvmscope::traces::Track& t : trace.tracks) {
    if (t.kind == kvmscope::traces::TrackKind::Vcpu) {
      EXPECT_NE(t.vcpu, 3) << t.name;
    }
  }
  const kvmscope::traces::KvmCounterStats s = kvmscope::traces::ComputeKvmCounters(trace, kvmscope::traces::kAllVcpus);
  EXPECT_EQ(s.vcpus, (std::vector<int>{0, 1, 2, 4}));
  EXPECT_TRUE(vm->Quit());
}

TEST(CliRecord, ANonexistentPidIsAUsageErrorWithNothingAttached) {
  if (std::string why = NeedsReason(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  Result r = Capture(std::string(KVMSCOPE_BIN) + " record --pid 999999 -o " +
                     (dir.path / "t.json").string() + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("no process 999999"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path / "t.json"));
  EXPECT_EQ(Join(OrphanKvmscopePrograms()), "");
  r = Capture(std::string(KVMSCOPE_BIN) + " gui --pid 999999 2>&1");  // checked before any window
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("no process 999999"), std::string::npos) << r.output;
  r = Capture(std::string(KVMSCOPE_BIN) + " record --pid abc -o " + (dir.path / "t.json").string() + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
}

TEST(CliRecord, AProcessWithoutAVmIsAUsageErrorWithNothingAttached) {
  if (std::string why = NeedsReason(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  Background sleeper({"sleep", "30"}, dir.path / "sleep.log");
  // Once exec'd, its comm is "sleep".
  const std::string comm = "/proc/" + std::to_string(sleeper.pid()) + "/comm";
  for (int i = 0; i < 200 && ReadAll(comm) != "sleep\n"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Result r = Capture(std::string(KVMSCOPE_BIN) + " record --pid " + std::to_string(sleeper.pid()) +
                     " -o " + (dir.path / "t.json").string() + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("pid " + std::to_string(sleeper.pid()) + " (sleep) holds no KVM VM"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir.path / "t.json"));
  r = Capture(std::string(KVMSCOPE_BIN) + " gui --pid " + std::to_string(sleeper.pid()) + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("holds no KVM VM"), std::string::npos) << r.output;
  EXPECT_EQ(Join(OrphanKvmscopePrograms()), "");
}

// On one paused QEMU: an unwritable -o is refused before attaching; SIGINT
// ends a recording with a complete trace that says so; SIGKILL leaves
// nothing loaded.
TEST(CliRecord, EndsCleanlyOnSigintAndLeavesNothingOnBadOutputOrSigkill) {
  if (std::string why = NeedsReason(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  std::string error;
  QemuVmOptions options;
  options.outs = 10;  // never continued: stays paused
  std::unique_ptr<QemuVm> vm = QemuVm::Start(options, &error);
  ASSERT_TRUE(vm) << error;
  const std::string pid = std::to_string(vm->pid());

  Result r = Capture(std::string(KVMSCOPE_BIN) + " record --pid " + pid +
                     " -o /nonexistent-dir/t.json 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("cannot write"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("attached"), std::string::npos) << r.output;
  // A vCPU thread's id (as top and vms show them) is not the VMM's pid.
  int thread = 0;
  for (const auto& task : fs::directory_iterator("/proc/" + pid + "/task")) {
    if (task.path().filename() != pid) thread = std::stoi(task.path().filename().string());
  }
  ASSERT_NE(thread, 0) << "QEMU has no thread but its main one";
  r = Capture(std::string(KVMSCOPE_BIN) + " record --pid " + std::to_string(thread) + " -o " +
              (dir.path / "t.json").string() + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(std::to_string(thread) + " is a thread of process " + pid + " (qemu-system-x86): use --pid " + pid),
            std::string::npos) << r.output;
  // gui --pid without a display: refused before attaching.
  r = Capture("env -u DISPLAY -u WAYLAND_DISPLAY " + std::string(KVMSCOPE_BIN) + " gui --pid " + pid + " 2>&1");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("no display"), std::string::npos) << r.output;
  EXPECT_EQ(Join(OrphanKvmscopePrograms()), "");

  const fs::path trace_path = dir.path / "t.json";
  std::set<uint32_t> ours;
  {
    Background record({KVMSCOPE_BIN, "record", "--pid", pid, "-o", trace_path.string()},
                      dir.path / "record.log");
    ASSERT_TRUE(record.WaitFor("attached", std::chrono::seconds(60))) << record.Output();
    ours = ProgramsHeldBy(record.pid());
    EXPECT_FALSE(ours.empty()) << "record holds no BPF program";
    kill(record.pid(), SIGINT);
    std::optional<int> status = record.Wait(std::chrono::seconds(30));
    ASSERT_TRUE(status) << record.Output();
    EXPECT_EQ(*status, 0) << record.Output();
    kvmscope::traces::TraceData trace = kvmscope::traces::LoadTrace(trace_path.string());
    ASSERT_TRUE(trace.external);
    EXPECT_EQ(trace.external->ended, "stopped by Ctrl-C");
  }
  EXPECT_EQ(Join(StillLoaded(ours)), "") << "after SIGINT";
  {
    Background record({KVMSCOPE_BIN, "record", "--pid", pid, "-o", (dir.path / "k.json").string()},
                      dir.path / "record-k.log");
    ASSERT_TRUE(record.WaitFor("attached", std::chrono::seconds(60))) << record.Output();
    ours = ProgramsHeldBy(record.pid());
    EXPECT_FALSE(ours.empty()) << "record holds no BPF program";
    kill(record.pid(), SIGKILL);
    EXPECT_EQ(record.Wait(std::chrono::seconds(10)), 128 + SIGKILL);
  }
  // The kernel frees the programs with the last fd (asynchronously: RCU).
  EXPECT_EQ(Join(StillLoaded(ours)), "") << "after SIGKILL";
  EXPECT_TRUE(vm->Quit());
}

}  // namespace
