#include "app/background_load.h"

#include <fmt/format.h>

#include "traces/trace_json.h"

namespace kvmscope::app {

namespace {
struct Cancelled {};
}  // namespace

BackgroundLoad::~BackgroundLoad() {
  m_cancel = true;
  if (m_thread.joinable()) m_thread.join();
}

bool BackgroundLoad::Start(const std::string& path) {
  if (busy()) return false;
  if (m_thread.joinable()) m_thread.join();  // a cancelled load (it stops at its next read)
  m_path = path;
  m_done = 0;
  m_total = 0;
  m_cancel = false;
  m_finished = false;
  m_result = Result{path, nullptr, {}};
  m_thread = std::thread([this] {
    try {
      traces::TraceData data = traces::LoadTrace(m_path, [this](uint64_t done, uint64_t total) {
        if (m_cancel) throw Cancelled{};
        m_total = total;
        m_done = done;
      });
      m_result.trace = std::make_shared<traces::Trace>(std::move(data));
    } catch (const Cancelled&) {
      m_result.error = "cancelled";
    } catch (const std::exception& e) {
      m_result.error = e.what();
    }
    m_finished = true;
  });
  return true;
}

std::string BackgroundLoad::Progress() const {
  const uint64_t done = m_done, total = m_total;
  if (total == 0) return fmt::format("loading {}: {:.1f} MiB", m_path, done / 1048576.0);
  return fmt::format("loading {}: {}% ({:.1f} of {:.1f} MiB)", m_path, done * 100 / total,
                     done / 1048576.0, total / 1048576.0);
}

std::optional<BackgroundLoad::Result> BackgroundLoad::Take() {
  if (!m_thread.joinable() || !m_finished) return std::nullopt;
  m_thread.join();
  if (m_cancel) return std::nullopt;
  return std::move(m_result);
}

}  // namespace kvmscope::app
