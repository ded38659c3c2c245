// `kvmscope guests [NAME] [--source]`: the guest catalog.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/exit_codes.h"
#include "vmm/catalog.h"

namespace kvmscope::app {

namespace {

// The guest's source file in vmm/guests/: "pio-loop" is pio_loop.S.
std::string SourceFileStem(std::string_view name) {
  std::string stem(name);
  std::replace(stem.begin(), stem.end(), '-', '_');
  return stem;
}
// The kernel events the guest must make on each backend, and the ones it
// does not make there with why: the catalog's promises, which
// tests/catalog_paths_test checks live on every host it runs on.
void PrintPromises(const vmm::GuestInfo& g) {
  const std::optional<vmm::KernelVariant> here = vmm::DetectKernelVariant();
  std::printf("%-14s must fire on each backend (checked live by catalog_paths_tests):\n",
              "kernel events");
  for (size_t i = 0; i < vmm::kKernelVariants; ++i) {
    const auto v = static_cast<vmm::KernelVariant>(i);
    std::string must;
    std::vector<std::string> nots;
    for (const vmm::KernelPromise* p : vmm::PromisesOn(g, v)) {
      if (p->on & vmm::On(v)) {
        if (must.find(std::string(p->event) + " ") != std::string::npos) continue;
        must += std::string(p->event) + " ";
      } else {
        const char* how = p->not_on & vmm::On(v) ? "no " : "maybe ";
        nots.push_back(how + std::string(p->event) + ": " + std::string(p->why));
      }
    }
    if (!must.empty()) must.pop_back();  // the last separator
    const std::string name =
        std::string(vmm::KernelVariantName(v)) + (here == v ? " (this host)" : "");
    std::printf("  %-34s %s\n", name.c_str(), must.empty() ? "(none)" : must.c_str());
    for (const std::string& n : nots) std::printf("  %-34s %s\n", "", n.c_str());
  }
}
}  // namespace

int CmdGuests(const GuestsArgs& args) {
  using namespace vmm;
  const KvmBackend backend = DetectKvmBackend();
  if (args.name.empty()) {
    std::printf("%-11s %-10s %-5s %s\n", "GUEST", "MODE", "vCPUs", "DESCRIPTION");
    for (const GuestInfo& g : Catalog()) {
      std::printf("%-11s %-10s %-5d %s%s\n", std::string(g.name).c_str(),
                  std::string(CpuModeName(g.mode)).c_str(), g.vcpus,
                  std::string(g.description).c_str(),
                  LimitedReason(g, backend) ? " [limited on this host]" : "");
    }
    std::printf(
        "\nRun one with 'kvmscope run --guest NAME'; details with 'kvmscope guests NAME'.\n");
    return kExitOk;
  }
  const GuestInfo* g = FindGuest(args.name);
  if (!g) {
    std::fprintf(stderr, "kvmscope: unknown guest '%s' (known: %s)\n", args.name.c_str(),
                 GuestNames().c_str());
    return kExitUsage;
  }
  auto line = [](const char* label, std::string_view text) {
    std::printf("%-14s %.*s\n", label, static_cast<int>(text.size()), text.data());
  };
  line("guest", g->name);
  line("description", g->description);
  line("cpu mode", CpuModeName(g->mode));
  std::printf("%-14s %d%s\n", "vcpus", g->vcpus,
              g->in_kernel_irqchip ? " (in-kernel irqchip and PIT)" : "");
  line("exits", g->exits);
  line("kernel paths", g->kernel_paths);
  PrintPromises(*g);
  line("self-check", g->self_check);
  if (!g->param_meaning.empty()) {
    auto param = static_cast<unsigned long long>(DefaultParam(*g, backend));
    std::printf("%-14s %.*s, default %llu (%#llx) (--param)\n", "parameter",
                static_cast<int>(g->param_meaning.size()), g->param_meaning.data(), param, param);
  }
  std::printf("%-14s %zu bytes, source vmm/guests/%s.S\n", "image", g->image.size(),
              SourceFileStem(g->name).c_str());
  if (auto why = LimitedReason(*g, backend)) {
    line("on this host", std::string(KvmBackendName(backend)) + ": " + std::string(*why));
  }
  if (args.source) std::printf("\n%.*s", static_cast<int>(g->source.size()), g->source.data());
  return kExitOk;
}

}  // namespace kvmscope::app
