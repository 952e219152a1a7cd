// Benchmarks of cowvm VMs: clone and fork latency against guest memory size
// next to host fork(), Firecracker-style restore and full-copy baselines,
// first reads and writes in a clone per memory mode, and reset. The
// families live in bench_vmm_clone.cc, bench_vmm_base.cc and
// bench_vmm_touch.cc; this file registers them (in report order) and runs.
#include <cstdlib>
#include <cstring>
#include <memory>

#include "bench_vmm.h"

namespace
{

// Register every benchmark with its arguments and iteration counts.
void register_all()
{
	using benchmark::RegisterBenchmark;
	const Mode kernel = cowvm_config::COWVM_MEM_KERNEL;
	const Mode uffd = cowvm_config::COWVM_MEM_UFFD;

	RegisterBenchmark("BM_CloneWarmPool", BM_CloneWarmPool)
		->Apply(common)
		->Apply(sizes)
		->Iterations(5);
	RegisterBenchmark("BM_CloneWarmPoolUffd", BM_CloneWarmPoolUffd)
		->Apply(common)
		->Arg(1024)
		->Iterations(5);
	RegisterBenchmark("BM_CloneEmptyPool", BM_CloneEmptyPool)
		->Apply(common)
		->Apply(sizes)
		->Iterations(3);
	RegisterBenchmark("BM_CloneFragmented", BM_CloneFragmented)
		->Apply(common)
		->Arg(0)
		->Arg(1)
		->Iterations(5);
	RegisterBenchmark("BM_CloneSpare", BM_CloneSpare)
		->Apply(common)
		->Arg(1024)
		->Iterations(20);
	RegisterBenchmark("BM_ForkWarmPool", BM_ForkWarmPool)
		->Apply(common)
		->Apply(sizes)
		->Iterations(5);
	RegisterBenchmark("BM_ForkWarmPoolUffd", BM_ForkWarmPoolUffd)
		->Apply(common)
		->Arg(1024)
		->Iterations(5);
	RegisterBenchmark("BM_HostFork", BM_HostFork)
		->Apply(common)
		->Apply(sizes)
		->Iterations(5);
	RegisterBenchmark("BM_FcRestore", BM_FcRestore)
		->Apply(common)
		->Apply(sizes)
		->Iterations(3);
	RegisterBenchmark("BM_FullCopy", BM_FullCopy)
		->Apply(common)
		->Apply(sizes)
		->Iterations(1);
	RegisterBenchmark("BM_FirstRead/kernel", BM_FirstRead, kernel)
		->Apply(common)
		->Iterations(2);
	RegisterBenchmark("BM_FirstRead/uffd", BM_FirstRead, uffd)
		->Apply(common)
		->Iterations(2);
	RegisterBenchmark("BM_FirstRun1G", BM_FirstRun1G)
		->Apply(common)
		->DenseRange(0, 2)
		->Iterations(2)
		->Repetitions(3);
	RegisterBenchmark("BM_FirstWrite/kernel", BM_FirstWrite, kernel)
		->Apply(common)
		->Iterations(2);
	RegisterBenchmark("BM_FirstWrite/uffd", BM_FirstWrite, uffd)
		->Apply(common)
		->Iterations(2);
	RegisterBenchmark("BM_VmmReset", BM_VmmReset)
		->Apply(common)
		->ArgsProduct({{1, 16, 256, 4096}, {0, 1}})
		->Iterations(10);
	RegisterBenchmark("BM_VmmResetSize", BM_VmmResetSize)
		->Apply(common)
		->Arg(64)
		->Arg(1024)
		->Arg(4096)
		->Arg(16384)
		->Iterations(200);
}

// After the last run: free every fixture (its memory goes back to the
// system before the next program starts), then report the peaks.
void finish()
{
	fixtures_drop_all();
	mem_stop();
}

} // namespace

// `--fork-helper=MIB` runs the host fork() helper instead of benchmarks.
int main(int argc, char **argv)
{
	if (argc > 1 && !std::strncmp(argv[1], "--fork-helper=", 14))
		return fork_helper_main(
			std::strtoull(argv[1] + 14, nullptr, 10));
	std::unique_ptr<benchmark::BenchmarkReporter> json(
		mem_json_reporter(argc, argv, finish));
	register_all();
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	mem_start();
	benchmark::RunSpecifiedBenchmarks(nullptr, json.get());
	finish();
	benchmark::Shutdown();
	return 0;
}
