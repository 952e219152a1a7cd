// What every bench-* harness shares: fatal errors and elapsed time.
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "bench_common.h"

// Print the message after the program's name and abort.
[[noreturn]] void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	std::fprintf(stderr, "%s: ", program_invocation_short_name);
	std::vfprintf(stderr, fmt, ap);
	std::fprintf(stderr, "\n");
	va_end(ap);
	std::abort();
}

// Seconds since t0.
double seconds_since(Clock::time_point t0)
{
	return std::chrono::duration<double>(Clock::now() - t0).count();
}
