// placeholder: the tour, chains and check-seed commands are being written
#include "app/commands.h"
#include "app/exit_codes.h"
namespace kvmscope::app {
int CmdChains(const TraceArgs&) { return kExitInternal; }
int CmdCheckSeed(const TraceArgs&) { return kExitInternal; }
int CmdTour(const TourArgs&) { return kExitInternal; }
}  // namespace kvmscope::app
