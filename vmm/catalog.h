// The catalog of built-in guests: what each is for, its CPU mode, the exits
// and kernel paths it exercises, and the self-check value that means it
// passed. Sources are vmm/guests/NAME.S, embedded at build time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/host.h"
#include "vmm/machine.h"

namespace kvmscope::vmm {

// Where KVM's kernel paths for a guest differ: the backend and, on VMX and
// SVM, whether guest memory is mapped by two-dimensional paging (EPT, NPT) or
// by KVM's shadow page tables (kvm_intel ept=0, kvm_amd npt=0).
enum class KernelVariant : uint8_t { Pvm, VmxEpt, VmxShadow, SvmNpt, SvmShadow, Count };
inline constexpr size_t kKernelVariants = static_cast<size_t>(KernelVariant::Count);
// A set of variants, one bit per KernelVariant.
using VariantSet = uint8_t;
constexpr VariantSet On(KernelVariant v) { return static_cast<VariantSet>(1u << static_cast<unsigned>(v)); }
inline constexpr VariantSet kOnPvm = On(KernelVariant::Pvm);
inline constexpr VariantSet kOnVmx = On(KernelVariant::VmxEpt) | On(KernelVariant::VmxShadow);
inline constexpr VariantSet kOnSvm = On(KernelVariant::SvmNpt) | On(KernelVariant::SvmShadow);
inline constexpr VariantSet kOnTdp = On(KernelVariant::VmxEpt) | On(KernelVariant::SvmNpt);
inline constexpr VariantSet kOnShadow = On(KernelVariant::VmxShadow) | On(KernelVariant::SvmShadow);
inline constexpr VariantSet kOnAll = kOnPvm | kOnVmx | kOnSvm;
// "PVM", "VMX with EPT", "VMX, shadow paging (ept=0)", "SVM with NPT", ...
std::string_view KernelVariantName(KernelVariant variant);
// This host's variant: the backend's module under `sys_module` and its
// parameters/ept (kvm_intel) or parameters/npt (kvm_amd); nullopt without a
// known backend.
std::optional<KernelVariant> DetectKernelVariant(std::string_view sys_module = "/sys/module");

// A kernel event a guest makes (or, listed in `not_on`, does not make) on
// some variants. `event` is the name kvmscope prints and records, the
// tracepoint's without its group ("kvm_msr", "kvm_mmu_set_spte"); vmm/ does
// not check the spelling, tests do against traces/.
struct KernelPromise {
  std::string_view event;
  VariantSet on = 0;      // it must fire there
  VariantSet not_on = 0;  // it does not fire there, for the reason in `why`
  std::string_view why = {};
  // It may fire there, depending on the CPU (or the emulator posing as one):
  // neither promised nor excluded.
  VariantSet maybe_on = 0;
};

struct GuestInfo {
  std::string_view name;
  std::string_view description;  // one line
  CpuMode mode = CpuMode::Real;
  int vcpus = 1;
  bool in_kernel_irqchip = false;
  std::string_view exits;          // the exits it makes (to userspace or not)
  std::string_view kernel_paths;   // the KVM code paths it exercises, on any backend
  // The kernel events it must make per variant, beyond those every guest
  // makes there (CommonPromises); checked live by tests/catalog_paths_test.
  std::vector<KernelPromise> promises = {};
  std::string_view self_check;     // what it reports, in words
  uint32_t expected_status = 0;    // the value that means "passed"...
  bool expected_is_param = false;  // ...or, if set, the parameter itself
  bool expect_watchdog = false;    // never reports: the watchdog ending it is the expected end
  uint32_t timeout_ms = 0;         // its own default time budget, 0 = the global default
  uint64_t default_param = 0;      // handed to the guest in RSI (--param)
  std::string_view param_meaning = {};  // "" when the guest takes no parameter
  // Where a backend cannot do part of what the guest does, the guest runs
  // there with `limited_param` instead of `default_param`, and says why.
  KvmBackend limited_on = KvmBackend::None;
  uint64_t limited_param = 0;
  std::string_view limited_why = {};
  std::span<const uint8_t> image;
  std::string_view source;  // the .S text, for students and the inspector
  // Address → line of `source`: (address, 1-based line) pairs in address
  // order, from the assembler's DWARF line table.
  std::span<const uint32_t> lines;
};

// What every guest makes on a variant: kvm_exit and kvm_entry on VMX and SVM,
// kvm_page_fault where EPT/NPT map guest memory on first touch,
// kvm_emulate_insn on PVM (its supervisor code is emulated).
std::span<const KernelPromise> CommonPromises();
// The events `guest` must make on `variant`: the common ones, then its own,
// each once, in that order.
std::vector<std::string_view> PromisedEvents(const GuestInfo& guest, KernelVariant variant);
// Its promises that apply to `variant`, as `guests NAME` lists them: events
// that must fire, and events that do not with why.
std::vector<const KernelPromise*> PromisesOn(const GuestInfo& guest, KernelVariant variant);

const std::vector<GuestInfo>& Catalog();
const GuestInfo* FindGuest(std::string_view name);
std::string GuestNames();  // "hello, modes, ..." for messages

// The parameter the guest runs with on `backend` when none is given.
uint64_t DefaultParam(const GuestInfo& guest, KvmBackend backend);
// Why the guest runs limited on `backend`, or nullopt when it runs in full.
std::optional<std::string_view> LimitedReason(const GuestInfo& guest, KvmBackend backend);

// A ready MachineConfig for a catalog guest on `backend`. `param` overrides
// the default.
MachineConfig ConfigFor(const GuestInfo& guest, std::optional<uint64_t> param = std::nullopt,
                        KvmBackend backend = DetectKvmBackend());

}  // namespace kvmscope::vmm
