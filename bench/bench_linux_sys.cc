// bench-linux's per-system-call family: bench/linux/syscost times N calls
// (getpid, a 4 KiB pread of a 1 MiB file of the read-only tree, a 4 KiB
// read of stdin from a file) between two CLOCK_MONOTONIC reads, natively
// (through the spawn helper) and in cowvm, where the host also times the
// run from the program's snapshot request to its exit.
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench_linux.h"

namespace
{

// One call's name and its N natively and in cowvm (a cowvm call costs
// tens of microseconds here, a native one tens to hundreds of ns).
struct SysSpec {
	const char *name;
	long native_n, cowvm_n;
	const char *what;
};

const SysSpec kSys[] = {
	{"getpid", 100000, 2000, "getpid()"},
	{"pread", 100000, 2000,
	 "pread() of 4 KiB from a 1 MiB file, cycling over its pages"},
	{"stdin", 20000, 1000, "read() of 4 KiB from stdin (a memfd file)"},
};

// The stdin of every run: a memfd of (max N + 1) * 4 KiB of data.
int stdin_fd()
{
	static int fd = -1;

	if (fd < 0) {
		std::string chunk(kMiB, '\0');
		uint64_t pages = (uint64_t)kSys[kStdin].native_n + 1;

		for (size_t i = 0; i < chunk.size(); i++)
			chunk[i] = (char)('a' + i % 23);
		fd = memfd_of("syscost-stdin", nullptr, 0);
		for (uint64_t off = 0; off < pages * 4096; off += kMiB)
			if (pwrite(fd, chunk.data(), chunk.size(),
				   (off_t)off) != (ssize_t)chunk.size())
				die("stdin file: %s", std::strerror(errno));
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		die("lseek: %s", std::strerror(errno));
	return fd;
}

// syscost's command line for call c, n calls, with or without its
// snapshot request.
std::vector<std::string> sys_argv(SysCall c, long n, bool snap)
{
	return {files().syscost, kSys[c].name, std::to_string(n), files().data,
		snap ? "1" : "0"};
}

// The nanoseconds of syscost's "MODE N NS" line, else die.
double sys_parse(const std::string &out, SysCall c, long n)
{
	char mode[16];
	long got;
	long long ns;

	if (std::sscanf(out.c_str(), "%15s %ld %lld", mode, &got, &ns) != 3 ||
	    std::strcmp(mode, kSys[c].name) || got != n || ns <= 0)
		die("syscost printed '%s'", out.c_str());
	return (double)ns;
}

// One native run of n calls: the program's nanoseconds.
double sys_native(SysCall c, long n)
{
	int out = memfd_of("syscost-out", nullptr, 0);
	NativeRun r = native_run(sys_argv(c, n, false), stdin_fd(), out, 2);
	double ns;

	if (r.status != 0)
		die("native syscost %s: wait status %#x", kSys[c].name,
		    r.status);
	ns = sys_parse(fd_contents(out), c, n);
	close(out);
	return ns;
}

// One cowvm run of n calls: the program's nanoseconds (guest clock) and
// the host's, from its snapshot request to its exit.
void sys_cowvm(SysCall c, long n, double *guest_ns, double *host_ns)
{
	LinuxProg p = {sys_argv(c, n, true), {files().data}, 0};
	cowvm *vm = vm_load(p);
	int out = memfd_of("syscost-out", nullptr, 0);

	if (cowvm_set_stdio(vm, stdin_fd(), out, 2))
		die("cowvm_set_stdio: %s", cowvm_error(vm));
	vm_run_expect(vm, COWVM_EXIT_SNAPSHOT, kSnapTag, "syscost");
	auto t0 = Clock::now();
	vm_run_expect(vm, COWVM_EXIT_GUEST, 0, "syscost");
	*host_ns = seconds_since(t0) * 1e9;
	*guest_ns = sys_parse(fd_contents(out), c, n);
	cowvm_destroy(vm);
	close(out);
}

} // namespace

// Per-call cost of c where: one program run per iteration; the time is
// the program's own clock (kNative, kCowvm) or the host's from snapshot
// to exit (kCowvmHost); batch = N calls, so medians are per call. Every
// cowvm run measures both clocks: host_per_guest_clock is their ratio
// within the same runs (the cross-check of the guest's clock).
void BM_LinuxSyscall(benchmark::State &st, SysCall c, SysWhere where)
{
	long n = where == kNative ? kSys[c].native_n : kSys[c].cowvm_n;
	double guest = 0, host = 0;
	int iters = 0;

	for (auto _ : st) {
		double g, h = 0;

		settle();
		if (where == kNative)
			g = sys_native(c, n);
		else
			sys_cowvm(c, n, &g, &h);
		st.SetIterationTime((where == kCowvmHost ? h : g) * 1e-9);
		guest += g;
		host += h;
		iters++;
	}
	st.counters["prog_ns_per_call"] = guest / iters / (double)n;
	if (where != kNative) {
		st.counters["host_ns_per_call"] = host / iters / (double)n;
		st.counters["host_per_guest_clock"] = host / guest;
	}
	label(st,
	      std::string(kSys[c].what) + ", " + std::to_string(n) +
		      " calls, " +
		      (where == kNative	 ? "native, program's clock"
		       : where == kCowvm ? "in cowvm, guest clock"
					 : "in cowvm, host clock from snapshot "
					   "to exit"));
	batch(st, (double)n);
}
