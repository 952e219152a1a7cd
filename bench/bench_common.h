// What every bench-* harness shares: its clock, fatal errors, elapsed time.
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <chrono>

using Clock = std::chrono::steady_clock;

// Print "<program>: <message>" on stderr and abort.
[[noreturn]] void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

// Seconds from t0 to now.
double seconds_since(Clock::time_point t0);

#endif
