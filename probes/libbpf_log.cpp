// libbpf's messages, kept for the errors that quote them.
#include "probes/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>

namespace kvmscope::probes {

namespace {

std::mutex g_log_mutex;
std::deque<std::string> g_log;

int LibbpfPrint(libbpf_print_level level, const char* format, va_list args) {
  static const bool debug = std::getenv("KVMSCOPE_LIBBPF_DEBUG") != nullptr;
  if (debug) return std::vfprintf(stderr, format, args);
  if (level == LIBBPF_DEBUG) return 0;
  char line[4096];
  std::vsnprintf(line, sizeof line, format, args);
  std::lock_guard lock(g_log_mutex);
  g_log.emplace_back(line);
  if (g_log.size() > 40) g_log.pop_front();
  return 0;
}

}  // namespace

void KeepLibbpfLog() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(LibbpfPrint); });
}

std::string TakeLibbpfLog() {
  std::lock_guard lock(g_log_mutex);
  std::string text;
  for (const std::string& l : g_log) text += "  libbpf: " + l;
  g_log.clear();
  return text;
}

}  // namespace kvmscope::probes
