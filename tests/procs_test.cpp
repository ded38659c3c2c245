// procs/: ListVms over a fake /proc tree the test builds (every way a vCPU's
// thread is found or not, kernel workers, vanished and kernel processes),
// pidfds on real processes, and live on a real QEMU (tests/qemu_vm.h):
// ListVms, `kvmscope vms` as root and as a non-root user, and the exit BIOS
// running to its status — the fixture the external-VMM tests build on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "procs/kvm_counters.h"
#include "procs/pidfd.h"
#include "procs/vm_list.h"
#include "qemu_vm.h"
#include "run_command.h"

namespace fs = std::filesystem;
using namespace kvmscope::procs;
using kvmscope::test::Capture;
using kvmscope::test::QemuVm;
using kvmscope::test::QemuVmOptions;

namespace {

// A string with NULs inside, as /proc/PID/cmdline holds.
template <size_t N>
std::string Nul(const char (&s)[N]) {
  return std::string(s, N - 1);
}

// A /proc look-alike in a temporary folder: only the files procs/ reads.
class FakeProc : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() / ("kvmscope-fakeproc-" + std::to_string(getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    Write("stat", "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n");
  }
  void TearDown() override { fs::remove_all(root); }

  void Write(const fs::path& rel, const std::string& text) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel, std::ios::binary) << text;
  }
  // A /proc/PID/stat line with comm, flags (field 9) and starttime (field 22).
  static std::string Stat(int pid, const std::string& comm, uint32_t flags, uint64_t start = 0) {
    return std::to_string(pid) + " (" + comm + ") S 1 1 1 0 -1 " + std::to_string(flags) +
           " 0 0 0 0 0 0 0 0 20 0 1 0 " + std::to_string(start) + " 0 0\n";
  }
  void Process(int pid, const std::string& comm, uint32_t uid, const std::string& cmdline,
               uint64_t start = 0) {
    const std::string p = std::to_string(pid);
    Write(p + "/comm", comm + "\n");
    Write(p + "/stat", Stat(pid, comm, 0x400100, start));
    Write(p + "/status", "Name:\t" + comm + "\nUmask:\t0022\nState:\tS\nUid:\t" + std::to_string(uid) +
                             "\t" + std::to_string(uid) + "\t0\t0\n");
    Write(p + "/cmdline", cmdline);
    fs::create_directories(root / p / "fd");
  }
  void Fd(int pid, int fd, const std::string& link) {
    fs::create_symlink(link, root / std::to_string(pid) / "fd" / std::to_string(fd));
  }
  void Thread(int pid, int tid, const std::string& comm, const std::string& syscall,
              uint32_t flags = 0x400040) {
    const fs::path t = fs::path(std::to_string(pid)) / "task" / std::to_string(tid);
    Write(t / "comm", comm + "\n");
    Write(t / "stat", Stat(tid, comm, flags));
    Write(t / "syscall", syscall + "\n");
  }
  const VmProcess* Find(const VmList& list, int pid) {
    for (const VmProcess& p : list.vms) {
      if (p.pid == pid) return &p;
    }
    return nullptr;
  }

  fs::path root;
};

constexpr const char* kInKvmRun11 = "16 0xb 0xae80 0x0 0x0 0x0 0x0 0x7ffd5b0c4f38 0x7f3c7d2ee9cf";
constexpr const char* kInKvmRun7 = "16 0x7 0xae80 0x0 0x0 0x0 0x0 0x7ffd5b0c4f38 0x7f3c7d2ee9cf";

// QEMU as measured (design §0): vCPU fds 9 and 11, thread names with
// debug-threads=on, and the kvm-nx-lpage-recovery vhost task whose syscall
// file shows its creator's KVM_RUN.
TEST_F(FakeProc, FindsQemuItsVcpusAndTheirThreads) {
  Process(100, "qemu-system-x86", 0, Nul("qemu-system-x86_64\0-enable-kvm\0-name\0kst,debug-threads=on\0"),
          500);
  Fd(100, 0, "/dev/null");
  Fd(100, 3, "/dev/kvm");
  Fd(100, 8, "anon_inode:kvm-vm");
  Fd(100, 9, "anon_inode:kvm-vcpu:0");
  Fd(100, 11, "anon_inode:kvm-vcpu:1");
  Fd(100, 12, "anon_inode:[eventfd]");
  Thread(100, 100, "qemu-system-x86", "7 0x5591 0x3 0xffffffff 0x0");
  Thread(100, 102, "CPU 0/KVM", "running");
  Thread(100, 103, "CPU 1/KVM", kInKvmRun11);
  Thread(100, 104, "kvm-nx-lpage-re", kInKvmRun11, 0x204040);  // PF_USER_WORKER
  Thread(100, 101, "call_rcu", "202 0x5591 0x80 0x0");

  const VmList list = ListVms(root.string());
  ASSERT_EQ(list.vms.size(), 1u);
  EXPECT_TRUE(list.denied.empty());
  const VmProcess& p = list.vms[0];
  EXPECT_EQ(p.pid, 100);
  EXPECT_EQ(p.comm, "qemu-system-x86");
  EXPECT_EQ(p.cmdline, "qemu-system-x86_64 -enable-kvm -name kst,debug-threads=on");
  EXPECT_EQ(p.uid, 0u);
  EXPECT_EQ(p.user, "root");
  EXPECT_EQ(p.start_ticks, 500u);
  EXPECT_EQ(p.start_time, 1700000000 + 500 / sysconf(_SC_CLK_TCK));
  ASSERT_EQ(p.vms.size(), 1u);
  EXPECT_EQ(p.vms[0].fd, 8);
  ASSERT_EQ(p.vcpus.size(), 2u);
  EXPECT_EQ(p.vcpus[0].index, 0);
  EXPECT_EQ(p.vcpus[0].fd, 9);
  EXPECT_EQ(p.vcpus[0].tid, 102);
  EXPECT_EQ(p.vcpus[0].tid_source, TidSource::ThreadName);
  EXPECT_FALSE(p.vcpus[0].in_kvm_run);
  EXPECT_EQ(p.vcpus[1].index, 1);
  EXPECT_EQ(p.vcpus[1].fd, 11);
  EXPECT_EQ(p.vcpus[1].tid, 103);
  EXPECT_EQ(p.vcpus[1].tid_source, TidSource::InKvmRun);
  EXPECT_TRUE(p.vcpus[1].in_kvm_run);
  ASSERT_EQ(p.threads.size(), 5u);
  EXPECT_EQ(p.threads.front().tid, 100);  // sorted by tid
  const ThreadInfo* worker = p.Thread(104);
  ASSERT_NE(worker, nullptr);
  EXPECT_TRUE(worker->kernel_worker);
  EXPECT_EQ(worker->kvm_run_fd, -1);  // its copied KVM_RUN is never read
  EXPECT_EQ(p.Thread(103)->kvm_run_fd, 11);
  EXPECT_EQ(p.Thread(999), nullptr);
  EXPECT_EQ(p.VcpuOfFd(11)->index, 1);
  EXPECT_EQ(p.VcpuOfFd(8), nullptr);
}

// Another VMM with no thread names: only a thread in KVM_RUN tells; the
// rest stay unknown. A "kvm-*" thread of an older kernel (no PF_USER_WORKER
// flag) is skipped by its name.
TEST_F(FakeProc, WithoutNamesOnlyAThreadInKvmRunTells) {
  Process(200, "firecracker", 4242424, Nul("firecracker\0--api-sock\0/tmp/fc\0"));
  Fd(200, 5, "anon_inode:kvm-vm");
  Fd(200, 6, "anon_inode:kvm-vcpu:0");
  Fd(200, 7, "anon_inode:kvm-vcpu:1");
  Thread(200, 200, "firecracker", "232 0x4 0x7ffc 0x400 0xffffffff");
  Thread(200, 201, "fc_vcpu 0", "running");
  Thread(200, 202, "fc_vcpu 1", kInKvmRun7);
  Thread(200, 203, "kvm-nx-lpage-re", "16 0x6 0xae80 0x0");  // no worker flag: by name
  const VmList list = ListVms(root.string());
  ASSERT_EQ(list.vms.size(), 1u);
  const VmProcess& p = list.vms[0];
  EXPECT_EQ(p.user, "4242424");  // no such user: the number
  ASSERT_EQ(p.vcpus.size(), 2u);
  EXPECT_EQ(p.vcpus[0].tid, -1);
  EXPECT_EQ(p.vcpus[0].tid_source, TidSource::Unknown);
  EXPECT_EQ(p.vcpus[1].tid, 202);
  EXPECT_EQ(p.vcpus[1].tid_source, TidSource::InKvmRun);
  EXPECT_TRUE(p.Thread(203)->kernel_worker);
}

// The measurement beats the name: QEMU's N is its cpu_index, KVM's the
// vcpu_id (the APIC id on x86), and they differ on some topologies.
TEST_F(FakeProc, AThreadInKvmRunOutranksItsName) {
  Process(300, "qemu-system-x86", 0, Nul("qemu-system-x86_64\0"));
  Fd(300, 8, "anon_inode:kvm-vm");
  Fd(300, 9, "anon_inode:kvm-vcpu:0");
  Fd(300, 11, "anon_inode:kvm-vcpu:2");
  Thread(300, 301, "CPU 0/KVM", "running");
  Thread(300, 302, "CPU 1/KVM", kInKvmRun11);  // cpu_index 1 runs vcpu_id 2
  const VmList list = ListVms(root.string());
  ASSERT_EQ(list.vms.size(), 1u);
  const VmProcess& p = list.vms[0];
  ASSERT_EQ(p.vcpus.size(), 2u);
  EXPECT_EQ(p.vcpus[0].tid, 301);
  EXPECT_EQ(p.vcpus[1].index, 2);
  EXPECT_EQ(p.vcpus[1].tid, 302);
  EXPECT_EQ(p.vcpus[1].tid_source, TidSource::InKvmRun);
}

// Not VMs: a plain process, a kernel thread (no fd folder for anyone), a
// process that vanished (its folder without files), /proc's other entries.
TEST_F(FakeProc, LeavesOutWhatIsNoVm) {
  Process(400, "bash", 0, Nul("bash\0"));
  Fd(400, 0, "/dev/pts/0");
  Fd(400, 3, "/dev/kvm");  // /dev/kvm alone is no VM
  Write("2/stat", Stat(2, "kthreadd", 0x208040));
  Write("2/comm", "kthreadd\n");
  fs::create_directories(root / "500");
  fs::create_directories(root / "sys");
  fs::create_symlink("400", root / "self");
  const VmList list = ListVms(root.string());
  EXPECT_TRUE(list.vms.empty());
  EXPECT_TRUE(list.denied.empty());

  EXPECT_EQ(ReadPid(400, root.string()).kind, PidKind::NotVm);
  EXPECT_EQ(ReadPid(400, root.string()).process.comm, "bash");
  EXPECT_EQ(ReadPid(2, root.string()).kind, PidKind::NotVm);
  EXPECT_EQ(ReadPid(500, root.string()).kind, PidKind::Gone);
  EXPECT_EQ(ReadPid(999, root.string()).kind, PidKind::Gone);
}

TEST_F(FakeProc, ReadPidAndTheSmallLookups) {
  Process(600, "qemu (x) y", 0, Nul("qemu\0"), 1234);  // comm with ") "
  Fd(600, 8, "anon_inode:kvm-vm");
  Fd(600, 9, "anon_inode:kvm-vcpu:0");
  Thread(600, 601, "CPU 0/KVM", "running");
  const PidLookup r = ReadPid(600, root.string());
  ASSERT_EQ(r.kind, PidKind::Vm);
  EXPECT_EQ(r.process.start_ticks, 1234u);
  EXPECT_EQ(r.process.vcpus.at(0).tid, 601);
  EXPECT_EQ(VcpuIndexOfFd(600, 9, root.string()), 0);
  EXPECT_EQ(VcpuIndexOfFd(600, 8, root.string()), std::nullopt);
  EXPECT_EQ(VcpuIndexOfFd(600, 77, root.string()), std::nullopt);
  EXPECT_EQ(ThreadName(600, 601, root.string()), "CPU 0/KVM");
  EXPECT_EQ(ThreadName(600, 602, root.string()), "");
  EXPECT_EQ(CommandLine(600, root.string()), "qemu");
  // A thread id names its process (as /proc/TID/status says).
  Write("601/status", "Name:\tCPU 0/KVM\nTgid:\t600\nPid:\t601\n");
  EXPECT_EQ(ThreadGroupOf(601, root.string()), 600);
  EXPECT_EQ(ThreadGroupOf(999, root.string()), std::nullopt);
}

// debugfs as KVM lays it out (kvm_create_vm_debugfs): a folder PID-FD with a
// file per counter, read-only for instant values; peaks are max_*; the
// histograms' files are left out.
TEST_F(FakeProc, KvmCountersFromADebugfsFolder) {
  const fs::path vm = root / "kvm" / "4242-11";
  Write("kvm/4242-11/exits", "1000\n");
  Write("kvm/4242-11/halt_exits", "7\n");
  Write("kvm/4242-11/guest_mode", "1\n");
  Write("kvm/4242-11/max_mmu_rmap_size", "12\n");
  Write("kvm/4242-11/halt_poll_success_hist", "3\n");
  fs::create_directories(vm / "vcpu0");
  fs::create_directories(root / "kvm" / "4242-11" / "mmu_rmaps_stat_dir");
  Write("kvm/4242-11/mmu_rmaps_stat", "");  // no counter: a table (its read can fail), skipped
  fs::permissions(vm / "guest_mode", fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  std::string why;
  EXPECT_EQ(OpenVmCounters(4242, 12, "", &why, root.string()), nullptr);
  EXPECT_NE(why.find("4242-12 does not exist"), std::string::npos) << why;
  CounterSet first;
  std::unique_ptr<VmCounterReader> reader = OpenVmCounters(4242, 11, "", &why, root.string(), &first);
  ASSERT_TRUE(reader) << why;
  EXPECT_EQ(reader->source(), "debugfs " + vm.string());
  std::optional<CounterSet> start = reader->Read(&why);
  ASSERT_TRUE(start) << why;
  EXPECT_EQ(first.vm, start->vm) << "the reading that opened it";
  EXPECT_EQ(start->vm, (std::map<std::string, uint64_t>{
                           {"exits", 1000}, {"guest_mode", 1}, {"halt_exits", 7}, {"max_mmu_rmap_size", 12}}));
  EXPECT_TRUE(start->vcpus.empty());
  EXPECT_EQ(start->not_cumulative, (std::set<std::string>{"guest_mode", "max_mmu_rmap_size"}));
  Write("kvm/4242-11/exits", "1500\n");
  Write("kvm/4242-11/halt_exits", "2\n");  // cleared meanwhile (written 0), then 2 more
  Write("kvm/4242-11/max_mmu_rmap_size", "20\n");
  std::optional<CounterSet> end = reader->Read(&why);
  ASSERT_TRUE(end) << why;
  const CounterSet d = CounterDifference(*start, *end);
  EXPECT_EQ(d.vm.at("exits"), 500u);
  EXPECT_EQ(d.vm.at("halt_exits"), 2u);
  EXPECT_EQ(d.vm.at("max_mmu_rmap_size"), 20u) << "a peak is its value at the end";
  EXPECT_EQ(d.vm.at("guest_mode"), 1u);
  fs::remove_all(vm);
  EXPECT_FALSE(reader->Read(&why));
  EXPECT_FALSE(why.empty());
}

TEST(ProcsParse, FdLinksAndQemuThreadNames) {
  EXPECT_EQ(ParseVcpuLink("anon_inode:kvm-vcpu:0"), 0);
  EXPECT_EQ(ParseVcpuLink("anon_inode:kvm-vcpu:255"), 255);
  EXPECT_EQ(ParseVcpuLink("anon_inode:kvm-vcpu:"), std::nullopt);
  EXPECT_EQ(ParseVcpuLink("anon_inode:kvm-vcpu:1x"), std::nullopt);
  EXPECT_EQ(ParseVcpuLink("anon_inode:kvm-vm"), std::nullopt);
  EXPECT_EQ(ParseVcpuLink("/dev/kvm"), std::nullopt);
  EXPECT_EQ(ParseQemuVcpuName("CPU 0/KVM"), 0);
  EXPECT_EQ(ParseQemuVcpuName("CPU 12/KVM"), 12);
  EXPECT_EQ(ParseQemuVcpuName("CPU /KVM"), std::nullopt);
  EXPECT_EQ(ParseQemuVcpuName("CPU 0/TCG"), std::nullopt);
  EXPECT_EQ(ParseQemuVcpuName("qemu-system-x86"), std::nullopt);
  EXPECT_EQ(TidSourceName(TidSource::InKvmRun), "KVM_RUN");
}

TEST(PidFd, OpensWaitsCopiesAndSignals) {
  PidFd self = PidFd::Open(getpid());
  EXPECT_EQ(self.pid(), getpid());
  EXPECT_FALSE(self.Exited(0));

  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(null_fd, 0);
  UniqueFd copy = self.GetFd(null_fd);
  ASSERT_TRUE(copy.valid());
  EXPECT_NE(copy.get(), null_fd);
  EXPECT_EQ(fs::read_symlink("/proc/self/fd/" + std::to_string(copy.get())), "/dev/null");
  close(null_fd);
  try {
    self.GetFd(987654);
    ADD_FAILURE() << "GetFd of a closed fd succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EBADF);
    EXPECT_NE(std::string(e.what()).find("has no fd 987654"), std::string::npos) << e.what();
  }

  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  PidFd c = PidFd::Open(child);
  EXPECT_FALSE(c.Exited(50));
  c.Signal(SIGKILL);
  EXPECT_TRUE(c.Exited(5000));
  int st = 0;
  EXPECT_EQ(waitpid(child, &st, 0), child);
  EXPECT_TRUE(WIFSIGNALED(st));
}

TEST(PidFd, NoProcessSaysSo) {
  try {
    PidFd::Open(0x3ffffff0);  // above pid_max's ceiling (4 Mi)
    ADD_FAILURE() << "pidfd_open of a pid that cannot exist succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), ESRCH);
    EXPECT_EQ(std::string(e.what()), "no process 1073741808");
  }
}

// ---- live, on a real QEMU ------------------------------------------------

constexpr const char* kNonRoot = "setpriv --reuid=nobody --regid=nogroup --groups=kvm";

std::unique_ptr<QemuVm> StartOrFail(const QemuVmOptions& options) {
  std::string error;
  std::unique_ptr<QemuVm> vm = QemuVm::Start(options, &error);
  EXPECT_TRUE(vm) << error;
  return vm;
}

QemuVmOptions SeaBios() {
  QemuVmOptions o;
  o.firmware = QemuVmOptions::Firmware::SeaBios;
  return o;
}

// Under -S QEMU has made its VM and both vCPUs (KVM_CREATE_VCPU runs at
// machine creation) and named the threads, but no vCPU is in KVM_RUN yet.
TEST(ProcsLive, ListVmsFindsQemuPaused) {
  KVMSCOPE_REQUIRE_QEMU();
  std::unique_ptr<QemuVm> vm = StartOrFail(SeaBios());
  ASSERT_TRUE(vm);
  const PidLookup r = ReadPid(vm->pid());
  ASSERT_EQ(r.kind, PidKind::Vm);
  const VmProcess& p = r.process;
  EXPECT_EQ(p.comm, "qemu-system-x86");
  EXPECT_NE(p.cmdline.find("-name kst,debug-threads=on"), std::string::npos) << p.cmdline;
  EXPECT_EQ(p.uid, getuid());
  ASSERT_EQ(p.vms.size(), 1u);
  ASSERT_EQ(p.vcpus.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const VcpuFd& v = p.vcpus[i];
    EXPECT_EQ(v.index, i);
    EXPECT_EQ(VcpuIndexOfFd(p.pid, v.fd), i);
    ASSERT_GT(v.tid, 0) << "vCPU " << i;
    EXPECT_EQ(v.tid_source, TidSource::ThreadName);
    ASSERT_NE(p.Thread(v.tid), nullptr);
    EXPECT_EQ(p.Thread(v.tid)->comm, "CPU " + std::to_string(i) + "/KVM");
    EXPECT_EQ(ThreadName(p.pid, v.tid), "CPU " + std::to_string(i) + "/KVM");
  }
  bool listed = false;
  for (const VmProcess& q : ListVms().vms) listed |= q.pid == vm->pid();
  EXPECT_TRUE(listed);
  EXPECT_TRUE(vm->Quit());
}

// KVM's counters of the paused QEMU's VM over a second QMP socket (debugfs
// pointed at a folder without it, so QMP is the one used): VM-wide and per
// vCPU, by QEMU's cpu-index; a running total goes up while the guest runs and
// its difference counts only what happened in between.
TEST(ProcsLive, KvmCountersFromQemusQmpSocket) {
  KVMSCOPE_REQUIRE_QEMU();
  const fs::path dir = fs::temp_directory_path() / ("kvmscope-qmp-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string socket = (dir / "stats.sock").string();
  QemuVmOptions o = SeaBios();
  o.extra_args = {"-qmp", "unix:" + socket + ",server=on,wait=off"};
  std::unique_ptr<QemuVm> vm = StartOrFail(o);
  ASSERT_TRUE(vm);
  const PidLookup r = ReadPid(vm->pid());
  ASSERT_EQ(r.kind, PidKind::Vm);
  const std::string debugfs = (dir / "debugfs").string();  // empty: "not mounted"
  fs::create_directories(debugfs);
  std::string why;
  EXPECT_EQ(OpenVmCounters(vm->pid(), r.process.vms.front().fd, "", &why, debugfs), nullptr);
  EXPECT_NE(why.find("debugfs is not mounted at " + debugfs), std::string::npos) << why;
  EXPECT_NE(why.find("no QMP socket given (--qmp)"), std::string::npos) << why;
  EXPECT_EQ(OpenVmCounters(vm->pid(), 99, dir.string() + "/none.sock", &why, debugfs), nullptr);
  EXPECT_NE(why.find("cannot connect"), std::string::npos) << why;

  std::unique_ptr<VmCounterReader> reader =
      OpenVmCounters(vm->pid(), r.process.vms.front().fd, socket, &why, debugfs);
  ASSERT_TRUE(reader) << why;
  EXPECT_EQ(reader->source(), "QMP query-stats on " + socket);
  std::optional<CounterSet> before = reader->Read(&why);
  ASSERT_TRUE(before) << why;
  ASSERT_EQ(before->vcpus.size(), 2u);
  ASSERT_TRUE(before->vcpus[0].contains("exits"));
  EXPECT_TRUE(before->vm.contains("remote_tlb_flush"));
  EXPECT_TRUE(before->not_cumulative.contains("guest_mode"));  // instant (a boolean)
  EXPECT_FALSE(before->not_cumulative.contains("exits"));
  EXPECT_TRUE(vm->Cont());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::optional<CounterSet> after = reader->Read(&why);
  ASSERT_TRUE(after) << why;
  ASSERT_EQ(after->vcpus.size(), 2u);
  EXPECT_GT(after->vcpus[0].at("exits"), before->vcpus[0].at("exits")) << "SeaBIOS exits as it boots";
  const CounterSet d = CounterDifference(*before, *after);
  EXPECT_EQ(d.vcpus[0].at("exits"), after->vcpus[0].at("exits") - before->vcpus[0].at("exits"));
  EXPECT_TRUE(vm->Quit());
  reader.reset();
  fs::remove_all(dir);
}

// Running, the second vCPU waits for its start-up IPI inside KVM_RUN: the
// syscall file finds its thread exactly, and it is the one QEMU named.
TEST(ProcsLive, AVcpuInKvmRunIsFoundByItsSyscall) {
  KVMSCOPE_REQUIRE_QEMU();
  QemuVmOptions o;
  o.smp = 2;
  o.outs = 50'000'000;  // far longer than the test: QEMU is quit
  std::unique_ptr<QemuVm> vm = StartOrFail(o);
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->Cont());
  std::optional<VcpuFd> found;
  for (int i = 0; i < 300 && !found; ++i) {
    const PidLookup r = ReadPid(vm->pid());
    ASSERT_EQ(r.kind, PidKind::Vm);
    for (const VcpuFd& v : r.process.vcpus) {
      if (v.index == 1 && v.tid_source == TidSource::InKvmRun) {
        found = v;
        EXPECT_EQ(r.process.Thread(v.tid)->comm, "CPU 1/KVM");
        EXPECT_TRUE(v.in_kvm_run);
      }
    }
    if (!found) usleep(10'000);
  }
  EXPECT_TRUE(found) << "vCPU 1 was never seen in KVM_RUN";
  EXPECT_TRUE(vm->Quit());
}

TEST(ProcsLive, VmsCommandPrintsQemu) {
  KVMSCOPE_REQUIRE_QEMU();
  std::unique_ptr<QemuVm> vm = StartOrFail(SeaBios());
  ASSERT_TRUE(vm);
  const PidLookup r = ReadPid(vm->pid());
  ASSERT_EQ(r.kind, PidKind::Vm);
  const auto out = Capture(KVMSCOPE_BIN " vms 2>&1 </dev/null");
  EXPECT_EQ(out.status, 0) << out.output;
  EXPECT_NE(out.output.find("PID      USER       VCPUS THREADS COMMAND"), std::string::npos) << out.output;
  const std::string row = std::to_string(vm->pid()) + " ";
  EXPECT_NE(out.output.find("\n" + row), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("qemu-system-x86_64 -enable-kvm"), std::string::npos) << out.output;
  for (const VcpuFd& v : r.process.vcpus) {
    const std::string line = "vCPU " + std::to_string(v.index) + "  tid " + std::to_string(v.tid) +
                             "  \"CPU " + std::to_string(v.index) + "/KVM\"  fd " + std::to_string(v.fd);
    EXPECT_NE(out.output.find(line), std::string::npos) << line << "\n" << out.output;
  }

  const auto json = Capture(KVMSCOPE_BIN " vms --json 2>/dev/null </dev/null");
  ASSERT_EQ(json.status, 0);
  const nlohmann::json j = nlohmann::json::parse(json.output);
  bool seen = false;
  for (const auto& e : j.at("vms")) {
    if (e.at("pid") != vm->pid()) continue;
    seen = true;
    ASSERT_EQ(e.at("vcpus").size(), 2u);
    EXPECT_EQ(e.at("vcpus")[1].at("thread"), "CPU 1/KVM");
    EXPECT_EQ(e.at("vcpus")[1].at("tid_from"), "thread name");
    EXPECT_EQ(e.at("vm_fds").size(), 1u);
  }
  EXPECT_TRUE(seen) << json.output;
  EXPECT_TRUE(vm->Quit());
}

// A student sees neither root's QEMU nor its vCPUs, and is told why; the
// QEMU is listed among the processes that could not be looked at.
TEST(ProcsLive, NonRootDoesNotSeeRootsQemuAndIsToldWhy) {
  KVMSCOPE_REQUIRE_QEMU();
  if (geteuid() != 0 || Capture("command -v setpriv >/dev/null").status != 0) {
    GTEST_SKIP() << "needs root to become an unprivileged user (setpriv)";
  }
  std::unique_ptr<QemuVm> vm = StartOrFail(SeaBios());
  ASSERT_TRUE(vm);
  const auto out = Capture(std::string(kNonRoot) + " " KVMSCOPE_BIN " vms 2>&1 </dev/null");
  EXPECT_EQ(out.status, 0) << out.output;
  EXPECT_EQ(out.output.find("\n" + std::to_string(vm->pid()) + " "), std::string::npos) << out.output;
  EXPECT_EQ(out.output.find("CPU 0/KVM"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("as non-root only your own processes are listed"), std::string::npos)
      << out.output;
  EXPECT_NE(out.output.find("not permitted"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find(" " + std::to_string(vm->pid()) + " (qemu-system-x86)"), std::string::npos)
      << out.output;
  EXPECT_TRUE(vm->Quit());
}

// The exit BIOS: "kvmscope" on port 0x402, N outs, then QEMU exits with 85.
TEST(QemuFixture, ExitBiosRunsToItsStatus) {
  KVMSCOPE_REQUIRE_QEMU();
  QemuVmOptions o;
  o.outs = 2000;
  std::unique_ptr<QemuVm> vm = StartOrFail(o);
  ASSERT_TRUE(vm);
  EXPECT_EQ(QemuVm::ExpectedIoExits(2000), 2009u);
  EXPECT_FALSE(vm->Wait(std::chrono::milliseconds(200))) << "it must wait under -S";
  const PidLookup r = ReadPid(vm->pid());
  ASSERT_EQ(r.kind, PidKind::Vm);
  ASSERT_EQ(r.process.vcpus.size(), 1u);
  EXPECT_EQ(r.process.Thread(r.process.vcpus[0].tid)->comm, "CPU 0/KVM");
  ASSERT_TRUE(vm->Cont());
  EXPECT_EQ(vm->Wait(std::chrono::seconds(60)), kvmscope::test::kExitBiosStatus) << vm->Log();
  EXPECT_EQ(vm->DebugconOutput(), "kvmscope");
  EXPECT_EQ(ReadPid(vm->pid()).kind, PidKind::Gone);
}

// The fixture kills a QEMU it still owns.
TEST(QemuFixture, KillsQemuWhenItGoes) {
  KVMSCOPE_REQUIRE_QEMU();
  pid_t pid;
  {
    std::unique_ptr<QemuVm> vm = StartOrFail(SeaBios());
    ASSERT_TRUE(vm);
    pid = vm->pid();
    ASSERT_EQ(kill(pid, 0), 0);
  }
  EXPECT_NE(kill(pid, 0), 0) << "QEMU " << pid << " outlived its fixture";
}

}  // namespace
