// Real BPF on another process's KVM activity, as `record --pid` will use it:
// a kvmscope VMM in a child process is the foreign VMM, traced by its pid
// with the stream mask for external VMMs (kvm_emulate_insn counted in the
// kernel, never streamed). Needs root and /dev/kvm; skips with the reason.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "kvm_available.h"
#include "probes/session.h"
#include "traces/stats.h"
#include "traces/trace.h"

namespace kvmscope {
namespace {

using traces::KernelEvent;
using traces::KernelEventKind;

constexpr uint64_t kWrites = 2000;  // pio-loop's --param: port writes, one KVM_EXIT_IO each

std::string ReadLink(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// A child that waits on a pipe, then execs `kvmscope run`: its pid is known
// (and traced) before its first instruction as a VMM.
class ForeignVmm {
 public:
  ForeignVmm() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    m_pid = fork();
    if (m_pid == 0) {
      close(fds[1]);
      char go;
      if (read(fds[0], &go, 1) != 1) _exit(126);  // the test gave up
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execl(KVMSCOPE_BIN, "kvmscope", "run", "--guest", "pio-loop", "--param",
            std::to_string(kWrites).c_str(), "--no-probes", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[0]);
    m_go = fds[1];
  }
  ~ForeignVmm() {
    if (m_go >= 0) close(m_go);
    if (m_pid > 0 && !m_reaped) {
      kill(m_pid, SIGKILL);
      waitpid(m_pid, nullptr, 0);
    }
  }
  pid_t pid() const { return m_pid; }
  void Go() {
    char go = 1;
    if (write(m_go, &go, 1) != 1) ADD_FAILURE() << "could not start the child";
    close(m_go);
    m_go = -1;
  }
  // The exit status, or -1 when it did not end within `timeout`.
  int Wait(std::chrono::seconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_reaped = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  pid_t m_pid = -1;
  int m_go = -1;
  bool m_reaped = false;
};

TEST(ProbesByPid, RecordsAnotherProcesssKvmRunsWithoutStreamingEmulation) {
  KVMSCOPE_REQUIRE_KVM();
  if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  ForeignVmm vmm;
  ASSERT_GT(vmm.pid(), 0) << "fork failed";

  probes::SessionOptions options;
  options.pid = static_cast<uint32_t>(vmm.pid());
  options.stream_kinds = probes::kExternalVmmStreamKinds;
  probes::Session session(options);

  // What `record --pid` learns from /proc while the VMM lives: the fd each
  // KVM_RUN names, the thread's name.
  std::mutex mutex;
  std::vector<KernelEvent> events;
  std::map<uint64_t, std::string> fd_links;    // fd → /proc/PID/fd link text
  std::map<uint32_t, std::string> thread_names;  // tid → comm
  session.Start([&](const KernelEvent& ev) {
    std::lock_guard lock(mutex);
    events.push_back(ev);
    if (ev.kind != KernelEventKind::RunEnter) return;
    const std::string proc = "/proc/" + std::to_string(ev.pid);
    if (!fd_links.contains(ev.a[0]) && (ev.a[2] & 0xff) == traces::kRunFromSyscall) {
      fd_links[ev.a[0]] = ReadLink(proc + "/fd/" + std::to_string(ev.a[0]));
    }
    if (!thread_names.contains(ev.tid)) {
      thread_names[ev.tid] = ReadLine(proc + "/task/" + std::to_string(ev.tid) + "/comm");
    }
  });
  vmm.Go();
  const int status = vmm.Wait(std::chrono::seconds(60));
  session.Stop();
  ASSERT_EQ(status, 0) << "kvmscope run --guest pio-loop failed or hung";

  const probes::KernelCounts counts = session.counts();
  std::lock_guard lock(mutex);
  std::map<KernelEventKind, uint64_t> of_kind;
  std::set<uint32_t> run_tids;
  for (const KernelEvent& e : events) {
    ++of_kind[e.kind];
    EXPECT_EQ(e.pid, static_cast<uint32_t>(vmm.pid())) << "an event of another process";
    if (e.kind == KernelEventKind::RunEnter || e.kind == KernelEventKind::RunExit) {
      run_tids.insert(e.tid);
      if (e.a[2] & traces::kRunHasVcpu) {
        EXPECT_EQ(e.a[1], 0u) << "vcpu_id of the only vCPU";
      }
    }
  }
  // pio-loop: N writes, the status write and hlt, each one KVM_RUN.
  EXPECT_GE(of_kind[KernelEventKind::RunEnter], kWrites + 1);
  EXPECT_EQ(of_kind[KernelEventKind::RunEnter], of_kind[KernelEventKind::RunExit]);
  EXPECT_GE(of_kind[KernelEventKind::UserspaceExit], kWrites + 1);
  ASSERT_EQ(run_tids.size(), 1u) << "KVM_RUN from one vCPU thread";
  const uint32_t vcpu_tid = *run_tids.begin();
  std::printf("pid %d via %s: %llu KVM_RUN enters, %llu exits, %llu kvm_userspace_exit on tid %u "
              "(%s); kvm_emulate_insn seen %llu, received %llu\n",
              vmm.pid(), session.host_facts().plan ? session.host_facts().plan->summary.c_str() : "?",
              static_cast<unsigned long long>(of_kind[KernelEventKind::RunEnter]),
              static_cast<unsigned long long>(of_kind[KernelEventKind::RunExit]),
              static_cast<unsigned long long>(of_kind[KernelEventKind::UserspaceExit]), vcpu_tid,
              thread_names[vcpu_tid].c_str(),
              static_cast<unsigned long long>(
                  counts.seen[static_cast<size_t>(KernelEventKind::EmulateInsn)]),
              static_cast<unsigned long long>(
                  counts.received[static_cast<size_t>(KernelEventKind::EmulateInsn)]));
  EXPECT_NE(vcpu_tid, static_cast<uint32_t>(vmm.pid())) << "KVM_RUN runs on the vCPU thread";
  EXPECT_EQ(thread_names[vcpu_tid], "vcpu0");
  for (const auto& [fd, link] : fd_links) EXPECT_EQ(link, "anon_inode:kvm-vcpu:0") << "fd " << fd;

  // Counted in the kernel, never put in the ring buffer.
  const auto emulate = static_cast<size_t>(KernelEventKind::EmulateInsn);
  EXPECT_EQ(of_kind[KernelEventKind::EmulateInsn], 0u);
  EXPECT_EQ(counts.received[emulate], 0u);
  EXPECT_EQ(counts.lost[emulate], 0u);
  if (session.capabilities().backend == probes::Backend::Pvm) {
    // PVM emulates real-mode code: one kvm_emulate_insn per guest instruction.
    EXPECT_GT(counts.seen[emulate], kWrites);
  }
  const auto run_enter = static_cast<size_t>(KernelEventKind::RunEnter);
  EXPECT_EQ(counts.received[run_enter], of_kind[KernelEventKind::RunEnter]);
  EXPECT_EQ(counts.total_lost(), 0u);

  // The model makes the thread a vCPU track named by its thread, and counts
  // its exits from the kernel.
  traces::Trace trace;
  traces::ExternalVmm external;
  external.pid = static_cast<uint32_t>(vmm.pid());
  external.command = "kvmscope run --guest pio-loop";
  for (const auto& [fd, link] : fd_links) {
    if (link == "anon_inode:kvm-vcpu:0") external.vcpu_of_fd[static_cast<int>(fd)] = 0;
  }
  trace.SetExternalVmm(external);
  for (const auto& [tid, name] : thread_names) trace.NameThread(tid, name);
  for (const KernelEvent& e : events) trace.Add(traces::FromKernel(e));
  trace.SetKernelCounts(counts);
  const traces::TraceData data = trace.Take();
  const int track = data.TrackOfVcpu(0);
  ASSERT_GE(track, 0) << "no vCPU 0 track";
  EXPECT_EQ(data.tracks[static_cast<size_t>(track)].tid, vcpu_tid);
  EXPECT_EQ(data.tracks[static_cast<size_t>(track)].Name(),
            "\"vcpu0\" (vCPU 0, tid " + std::to_string(vcpu_tid) + ")");
  const traces::Stats stats = traces::ComputeStats(data, traces::kAllVcpus);
  const traces::UserspaceExitTable& user = stats.scopes.at(0).userspace;
  EXPECT_EQ(user.from_kernel, user.total);
  ASSERT_FALSE(user.rows.empty());
  EXPECT_EQ(user.rows[0].reason, traces::kKvmExitIo);
  EXPECT_EQ(user.rows[0].count, kWrites + 1);  // N ticks and the status write
  EXPECT_EQ(user.rows[0].vmm.samples, kWrites + 1);
}

}  // namespace
}  // namespace kvmscope
