// libbpf's messages during a session: kept, not printed, so that a failure
// can quote them (KVMSCOPE_LIBBPF_DEBUG=1 prints everything instead).
#pragma once

#include <string>

namespace kvmscope::probes {

// Makes libbpf's messages go to the kept log (once per process).
void KeepLibbpfLog();
// The warnings kept since the last call, one "  libbpf: ..." line each (the
// last 40), and forgets them.
std::string TakeLibbpfLog();

}  // namespace kvmscope::probes
