// Temporary while the panels are written: no window yet.
#include "app/commands.h"
#include "app/exit_codes.h"
namespace kvmscope::app {
bool HaveDisplay() { return false; }
int CmdGui(const GuiArgs&) { return kExitEnvironment; }
}  // namespace kvmscope::app
