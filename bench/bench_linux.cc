// Benchmarks of unmodified static Linux programs in cowvm against the same
// programs run natively in the same run: the cost of one system call
// (bench_linux_sys.cc), start-to-exit time (bench_linux_start.cc) and a
// Lua request handler served per request (bench_linux_serve.cc). This
// file registers them (in report order) and runs; `--spawn-helper FD`
// runs the native side's helper instead.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_linux.h"

namespace
{

// The "model name" of /proc/cpuinfo, "" if none.
std::string cpu_model()
{
	FILE *f = std::fopen("/proc/cpuinfo", "r");
	char line[512];
	std::string s;

	if (!f)
		return s;
	while (s.empty() && std::fgets(line, sizeof(line), f)) {
		const char *colon = std::strchr(line, ':');

		if (!std::strncmp(line, "model name", 10) && colon) {
			s = colon + 2;
			s.erase(s.find_last_not_of("\n") + 1);
		}
	}
	std::fclose(f);
	return s;
}

// Register every benchmark with its iteration count.
void register_all()
{
	using benchmark::RegisterBenchmark;
	static const char *const calls[] = {"getpid", "pread4k", "stdin4k"};
	static const char *const wheres[] = {"native", "cowvm",
					     "cowvm_hostclock"};
	static const char *const progs[] = {"busybox_true", "busybox_sha256",
					    "lua"};
	static const char *const hows[] = {"native", "cowvm_cold",
					   "cowvm_pool"};
	static const char *const modes[] = {"cowvm_spare", "cowvm_reset",
					    "forkserver", "fresh_process"};

	for (int c = 0; c < 3; c++)
		for (int w = 0; w < 3; w++)
			RegisterBenchmark(
				("BM_LinuxSyscall/" + std::string(calls[c]) +
				 "/" + wheres[w])
					.c_str(),
				BM_LinuxSyscall, (SysCall)c, (SysWhere)w)
				->Apply(common)
				->Iterations(w == kNative ? 3 : 2);
	for (int p = 0; p < 3; p++)
		for (int h = 0; h < 3; h++)
			RegisterBenchmark(
				("BM_LinuxStart/" + std::string(progs[p]) +
				 "/" + hows[h])
					.c_str(),
				BM_LinuxStart, (StartProg)p, (StartHow)h)
				->Apply(common)
				->Iterations(5);
	for (int m = 0; m < 4; m++)
		RegisterBenchmark(
			("BM_LinuxServe/" + std::string(modes[m])).c_str(),
			BM_LinuxServe, (ServeMode)m)
			->Apply(common)
			->Iterations(1);
}

} // namespace

// Run the benchmarks with the spawn helper and a pool of kPoolN VMs.
int main(int argc, char **argv)
{
	if (argc == 3 && !std::strcmp(argv[1], "--spawn-helper"))
		return native_helper_main(std::atoi(argv[2]));
	native_start("/proc/self/exe");
	register_all();
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::AddCustomContext("cpu_model", cpu_model());
	benchmark::AddCustomContext("vm_mib", std::to_string(kVmMiB));
	files();
	pool_hold();
	auto t0 = Clock::now();
	benchmark::RunSpecifiedBenchmarks();
	std::fprintf(stderr, "bench-linux: %.1f s\n", seconds_since(t0));
	serve_fixtures_free();
	start_fixtures_free();
	pool_release();
	native_stop();
	files_cleanup();
	benchmark::Shutdown();
	return 0;
}
