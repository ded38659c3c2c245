// The catalog's kernel paths per backend, checked: every event a guest
// promises names a real kvmscope kernel event; the promises hold on the real
// traces recorded on the SVM and VMX test hosts (tests/data); and, live, each
// catalog guest run here with kernel tracing passes and makes every event the
// catalog promises for this host's backend and paging mode, and none it
// excludes. Runs on PVM here and inside the VMX and SVM test hosts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "catalog_promises.h"
#include "kvm_available.h"
#include "run_command.h"
#include "traces/trace_json.h"
#include "vmm/catalog.h"

namespace {

namespace fs = std::filesystem;
using namespace kvmscope;
using vmm::KernelVariant;
using test::ExpectPromisesHold;
using test::SameBackend;

TEST(CatalogPaths, EveryPromiseNamesAKernelEvent) {
  auto check = [](const vmm::KernelPromise& p, std::string_view guest) {
    EXPECT_TRUE(traces::KernelEventKindFromName(p.event).has_value()) << guest << ": " << p.event;
    EXPECT_NE(p.on | p.not_on | p.maybe_on, 0) << guest << ": " << p.event << " applies nowhere";
    EXPECT_EQ(p.on & p.not_on, 0) << guest << ": " << p.event << " both promised and excluded";
    if (p.not_on != 0 || p.maybe_on != 0) {
      EXPECT_FALSE(p.why.empty()) << guest << ": " << p.event;
    }
  };
  for (const vmm::KernelPromise& p : vmm::CommonPromises()) check(p, "every guest");
  for (const vmm::GuestInfo& g : vmm::Catalog()) {
    for (const vmm::KernelPromise& p : g.promises) check(p, g.name);
  }
}

struct Recorded {
  const char* file;
  KernelVariant variant;
};

// Traces recorded on the test hosts (Debian 6.1: kvm_amd npt=Y under QEMU
// TCG; kvm_intel under Bochs with ept=Y, and ept=0 for the shadow one) and
// here (PVM, 6.18).
class RecordedPromises : public testing::TestWithParam<Recorded> {};

TEST_P(RecordedPromises, Hold) {
  const fs::path path = fs::path(KVMSCOPE_TESTDATA) / GetParam().file;
  if (!fs::exists(path)) GTEST_SKIP() << path << " is not recorded yet";
  const traces::TraceData trace = traces::LoadTrace(path.string());
  ASSERT_TRUE(SameBackend(trace, GetParam().variant)) << trace.host.backend;
  const vmm::GuestInfo* g = vmm::FindGuest(trace.guest.name);
  ASSERT_NE(g, nullptr) << trace.guest.name;
  ExpectPromisesHold(trace, *g, GetParam().variant, GetParam().file);
}

INSTANTIATE_TEST_SUITE_P(
    TestData, RecordedPromises,
    testing::Values(Recorded{"pagefault-pvm.json", KernelVariant::Pvm},
                    Recorded{"exceptions-pvm.json", KernelVariant::Pvm},
                    Recorded{"pagefault-svm.json", KernelVariant::SvmNpt},
                    Recorded{"pagefault-svm-fentry.json", KernelVariant::SvmNpt},
                    Recorded{"exceptions-svm.json", KernelVariant::SvmNpt},
                    Recorded{"exceptions-svm-tracepoint.json", KernelVariant::SvmNpt},
                    Recorded{"pagefault-vmx.json", KernelVariant::VmxEpt},
                    Recorded{"exceptions-vmx.json", KernelVariant::VmxEpt},
                    Recorded{"cpuid-vmx.json", KernelVariant::VmxEpt},
                    Recorded{"pagefault-vmx-fentry.json", KernelVariant::VmxEpt},
                    Recorded{"exceptions-vmx-tracepoint.json", KernelVariant::VmxEpt},
                    Recorded{"pagefault-vmx-shadow.json", KernelVariant::VmxShadow}),
    [](const auto& info) {
      std::string name = fs::path(info.param.file).stem().string();
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

// The promise the catalog used to get wrong, pinned: cpuid's MSR accesses
// exit on PVM only; VMX and SVM pass MSR_KERNEL_GS_BASE through (the VMX and
// SVM test hosts' cpuid traces have kvm_cpuid and kvm_hypercall, no kvm_msr).
TEST(CatalogPaths, CpuidMsrIsNotPromisedOnSvm) {
  const vmm::GuestInfo* g = vmm::FindGuest("cpuid");
  ASSERT_NE(g, nullptr);
  auto promised = [&](KernelVariant v, std::string_view e) {
    for (std::string_view p : vmm::PromisedEvents(*g, v))
      if (p == e) return true;
    return false;
  };
  for (size_t i = 0; i < vmm::kKernelVariants; ++i) {
    EXPECT_TRUE(promised(static_cast<KernelVariant>(i), "kvm_cpuid"));
  }
  EXPECT_TRUE(promised(KernelVariant::Pvm, "kvm_msr"));
  EXPECT_FALSE(promised(KernelVariant::VmxEpt, "kvm_msr"));
  EXPECT_FALSE(promised(KernelVariant::VmxShadow, "kvm_msr"));
  EXPECT_TRUE(promised(KernelVariant::VmxEpt, "kvm_hypercall"));
  EXPECT_FALSE(promised(KernelVariant::SvmNpt, "kvm_msr"));
  EXPECT_FALSE(promised(KernelVariant::SvmShadow, "kvm_msr"));
  EXPECT_FALSE(promised(KernelVariant::Pvm, "kvm_exit"));
  EXPECT_TRUE(promised(KernelVariant::SvmNpt, "kvm_exit"));
}

// ---- Live: every catalog guest on this host ---------------------------------

class LivePromises : public testing::TestWithParam<std::string> {};

TEST_P(LivePromises, Hold) {
  KVMSCOPE_REQUIRE_KVM();
  if (geteuid() != 0) GTEST_SKIP() << "needs root: BPF tracing of the host kernel";
  const std::optional<KernelVariant> variant = vmm::DetectKernelVariant();
  if (!variant) GTEST_SKIP() << "no known KVM backend module (kvm_intel, kvm_amd, kvm_pvm)";
  const vmm::GuestInfo* g = vmm::FindGuest(GetParam());
  ASSERT_NE(g, nullptr);

  const fs::path out = fs::temp_directory_path() /
                       ("kvmscope-catalog-" + GetParam() + "-" + std::to_string(getpid()) + ".json");
  const test::Result r = test::Capture(std::string(KVMSCOPE_BIN) + " run --guest " + GetParam() +
                                       " -q -o " + out.string() + " 2>&1");
  ASSERT_EQ(r.status, 0) << GetParam() << " did not pass:\n" << r.output;
  const traces::TraceData trace = traces::LoadTrace(out.string());
  fs::remove(out);
  if (!trace.host.plan) {
    GTEST_SKIP() << "the kernel was not traced here: " << trace.host.not_traced_reason;
  }
  ASSERT_TRUE(SameBackend(trace, *variant))
      << "the trace says " << trace.host.backend << ", /sys/module says "
      << vmm::KernelVariantName(*variant);
  ExpectPromisesHold(trace, *g, *variant, "live on " + trace.host.kernel_release);
}

std::vector<std::string> GuestNames() {
  std::vector<std::string> names;
  for (const vmm::GuestInfo& g : vmm::Catalog()) names.emplace_back(g.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Catalog, LivePromises, testing::ValuesIn(GuestNames()),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

}  // namespace
