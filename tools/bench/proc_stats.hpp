// Figures about processes, read from /proc and getrusage: the resident set
// (VmRSS) and CPU time of another process (parleyd), and this process's own
// CPU time. Plain functions, any thread.
#pragma once

#include <optional>

namespace parley::bench {

// VmRSS of `pid` in KiB, or nullopt when /proc/PID/status cannot be read.
std::optional<long> vm_rss_kib(long pid);
// User + system CPU seconds of `pid` (all its threads), from /proc/PID/stat.
std::optional<double> process_cpu_s(long pid);
// User + system CPU seconds of this process, all threads.
double own_cpu_s();
// Raises the soft limit on open files to the hard limit; returns the new soft limit.
long raise_nofile_limit();

}  // namespace parley::bench
