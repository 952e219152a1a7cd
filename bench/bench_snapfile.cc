// bench-snapfile: snapshot files. Saving a guest of 64 MiB and 1 GiB
// (forktest filled all but 24 MiB of it) with cowvm_snapshot_save against
// dd of the same bytes to the same filesystem (bs=4M conv=fsync, from the
// saved file, which the page cache holds), and cowvm_snapshot_open + the
// first clone to a runnable VM. Files go to $BENCH_SNAPFILE_DIR (default:
// the build folder's filesystem, ./bench-snapfile.tmp).
//
// BM_OpenOther and BM_FcRestoreFile run in a new process each time (this
// program run again with --open-helper): open + first clone of a file
// saved by another process, at 64 MiB, 1 GiB and 4 GiB, with the pool of
// ready VMs warm or empty, against a Firecracker-style restore of the same
// file (a new KVM VM, its RAM mmap(MAP_PRIVATE) from the file, the state
// restored) in the same run.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cowvm.h"
#include "cowvm_snapfile.h"
#include "vmm_bench_util.h"

extern char **environ;

namespace
{

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string &what)
{
	std::fprintf(stderr, "bench-snapfile: %s\n", what.c_str());
	std::exit(1);
}

std::string dir()
{
	static std::string d;

	if (d.empty()) {
		const char *e = std::getenv("BENCH_SNAPFILE_DIR");

		d = e ? e : "bench-snapfile.tmp";
		mkdir(d.c_str(), 0755);
	}
	return d;
}

std::string file_of(int mib)
{
	return dir() + "/s" + std::to_string(mib) + ".cowvm";
}

// The snapshot of a forktest guest of mib MiB at its first request (made
// once per size and saved once so that the open and dd families have a
// file to read).
struct cowvm_snapshot *template_of(int mib)
{
	static struct cowvm_snapshot *snaps[3];
	static cowvm *vms[3];
	int k = mib > 1024 ? 2 : mib > 64;

	if (snaps[k])
		return snaps[k];
	cowvm_config cfg;
	cowvm_config_init(&cfg);
	cfg.mem_size = (uint64_t)mib << 20;
	cfg.console_fd = -1;
	vms[k] = cowvm_create(&cfg);
	if (!vms[k])
		die(std::string("cowvm_create: ") + cowvm_error(nullptr));
	// forktest's region lies below the hole under 4 GiB: at 4 GiB it
	// fills 2 GiB, the rest stays zero
	std::string cl = "forktest seed=1 mib=" +
			 std::to_string(mib > 1024 ? 2048 : mib - 24) +
			 " rounds=1 pages=16";
	cowvm_exit e;
	if (cowvm_load_elf(vms[k], BENCH_GUEST_ELF, cl.c_str()) ||
	    cowvm_run(vms[k], &e) || e.reason != COWVM_EXIT_SNAPSHOT)
		die(std::string("boot: ") + cowvm_error(vms[k]));
	snaps[k] = cowvm_snapshot(vms[k]);
	if (!snaps[k] || cowvm_snapshot_save(snaps[k], file_of(mib).c_str()))
		die(std::string("save: ") + cowvm_error(nullptr));
	return snaps[k];
}

double since(Clock::time_point t0)
{
	return std::chrono::duration<double>(Clock::now() - t0).count();
}

off_t size_of(const std::string &path)
{
	struct stat st;

	if (stat(path.c_str(), &st))
		die("stat " + path);
	return st.st_size;
}

void BM_SnapSave(benchmark::State &st)
{
	int mib = (int)st.range(0);
	struct cowvm_snapshot *snap = template_of(mib);
	std::string path = file_of(mib);

	for (auto _ : st) {
		auto t0 = Clock::now();
		if (cowvm_snapshot_save(snap, path.c_str()))
			die(std::string("save: ") + cowvm_error(nullptr));
		st.SetIterationTime(since(t0));
	}
	st.counters["bytes"] = (double)size_of(path);
	st.SetLabel("cowvm_snapshot_save, fsync and rename included");
}

// A child of the template that wrote 1% of its pages (one 8-byte write
// each, spread evenly), saved against the template's file.
void BM_SnapSaveChild(benchmark::State &st)
{
	int mib = (int)st.range(0);
	struct cowvm_snapshot *tmpl = template_of(mib), *child;
	uint64_t pages = (uint64_t)mib << 8, n = pages / 100;
	std::string path = dir() + "/child" + std::to_string(mib) + ".cowvm";
	cowvm *vm = cowvm_clone(tmpl);

	if (!vm)
		die(std::string("clone: ") + cowvm_error(nullptr));
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v = i + 1, gpa = (i * (pages / n)) << 12;

		if (cowvm_write(vm, gpa, &v, sizeof(v)))
			die(std::string("write: ") + cowvm_error(vm));
	}
	child = cowvm_snapshot(vm);
	if (!child)
		die(std::string("snapshot: ") + cowvm_error(vm));
	for (auto _ : st) {
		auto t0 = Clock::now();
		if (cowvm_snapshot_save_child(child, tmpl, file_of(mib).c_str(),
					      path.c_str()))
			die(std::string("save child: ") + cowvm_error(nullptr));
		st.SetIterationTime(since(t0));
	}
	st.counters["bytes"] = (double)size_of(path);
	st.counters["pages_written"] = (double)n;
	st.SetLabel("cowvm_snapshot_save_child, 1% of the pages written");
	cowvm_snapshot_put(child);
	cowvm_destroy(vm);
}

void BM_DdSave(benchmark::State &st)
{
	int mib = (int)st.range(0);
	std::string in = "if=" + file_of(mib),
		    out = "of=" + dir() + "/dd" + std::to_string(mib) + ".bin";

	template_of(mib);
	for (auto _ : st) {
		char *argv[] = {(char *)"dd",
				(char *)in.c_str(),
				(char *)out.c_str(),
				(char *)"bs=4M",
				(char *)"conv=fsync",
				(char *)"status=none",
				nullptr};
		pid_t pid;
		int status;
		auto t0 = Clock::now();

		if (posix_spawnp(&pid, "dd", nullptr, nullptr, argv, environ) ||
		    waitpid(pid, &status, 0) != pid || status)
			die("dd failed");
		st.SetIterationTime(since(t0));
	}
	st.counters["bytes"] = (double)size_of(file_of(mib));
	st.SetLabel("dd of the saved file's bytes, bs=4M conv=fsync");
}

void BM_SnapOpen(benchmark::State &st)
{
	int mib = (int)st.range(0);
	std::string path = file_of(mib);

	template_of(mib);
	for (auto _ : st) {
		auto t0 = Clock::now();
		struct cowvm_snapshot *s =
			cowvm_snapshot_open(path.c_str(), nullptr);
		cowvm *vm = s ? cowvm_clone(s) : nullptr;

		if (!vm)
			die(std::string("open: ") + cowvm_error(nullptr));
		st.SetIterationTime(since(t0));
		cowvm_destroy(vm);
		cowvm_snapshot_put(s);
	}
	st.SetLabel("cowvm_snapshot_open + first cowvm_clone, the process "
		    "that saved it");
}

// In a new process: what --open-helper measured, in seconds.
double helper(const char *what, int mib)
{
	std::string self = "/proc/self/exe", path = file_of(mib);
	char *argv[] = {(char *)self.c_str(), (char *)"--open-helper",
			(char *)what, (char *)path.c_str(), nullptr};
	int out[2], status;
	pid_t pid;
	char buf[64] = {0};
	posix_spawn_file_actions_t fa;

	if (pipe(out))
		die("pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (posix_spawn(&pid, self.c_str(), &fa, nullptr, argv, environ))
		die("spawn");
	close(out[1]);
	ssize_t k = read(out[0], buf, sizeof(buf) - 1);
	close(out[0]);
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) != pid || status || k <= 0)
		die(std::string("helper ") + what + " failed");
	return std::strtod(buf, nullptr);
}

void BM_OpenOther(benchmark::State &st)
{
	int mib = (int)st.range(0);
	bool warm = st.range(1);

	template_of(mib);
	for (auto _ : st)
		st.SetIterationTime(helper(warm ? "warm" : "empty", mib));
	st.SetLabel(std::string("new process: cowvm_snapshot_open + first "
				"cowvm_clone, pool ") +
		    (warm ? "warm" : "empty"));
}

void BM_FcRestoreFile(benchmark::State &st)
{
	int mib = (int)st.range(0);

	template_of(mib);
	for (auto _ : st)
		st.SetIterationTime(helper("fc", mib));
	st.SetLabel("new process: new KVM VM, mmap(MAP_PRIVATE) of the "
		    "file's RAM image, state restore");
}

// A helper of --fault-helper: spawned with pipes to its stdin and stdout.
struct Worker {
	pid_t pid;
	FILE *in, *out;
};

Worker fault_worker(int mib, int clones)
{
	std::string self = "/proc/self/exe", path = file_of(mib),
		    n = std::to_string(clones);
	char *argv[] = {(char *)self.c_str(), (char *)"--fault-helper",
			(char *)path.c_str(), (char *)n.c_str(), nullptr};
	int to[2], from[2];
	posix_spawn_file_actions_t fa;
	Worker w;

	if (pipe(to) || pipe(from))
		die("pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to[0], 0);
	posix_spawn_file_actions_adddup2(&fa, from[1], 1);
	posix_spawn_file_actions_addclose(&fa, to[1]);
	posix_spawn_file_actions_addclose(&fa, from[0]);
	if (posix_spawn(&w.pid, self.c_str(), &fa, nullptr, argv, environ))
		die("spawn");
	posix_spawn_file_actions_destroy(&fa);
	close(to[0]);
	close(from[1]);
	w.in = fdopen(to[1], "w");
	w.out = fdopen(from[0], "r");
	return w;
}

// Host copy-on-write fault cost with clones live clones of the 64 MiB
// file spread over procs worker processes: every worker makes its clones
// and waits; then one at a time, each times 1024 copy-on-write faults of
// its own; the median per fault over the workers.
void BM_FaultSpread(benchmark::State &st)
{
	int clones = (int)st.range(0), procs = (int)st.range(1);
	std::vector<Worker> w;
	std::vector<double> ns;
	char line[64];

	template_of(64);
	for (int i = 0; i < procs; i++)
		w.push_back(fault_worker(64, clones / procs));
	for (auto &x : w)
		if (!fgets(line, sizeof(line), x.out) ||
		    strcmp(line, "ready\n"))
			die("fault helper did not get ready");
	for (auto &x : w) {
		fputs("go\n", x.in);
		fflush(x.in);
		if (!fgets(line, sizeof(line), x.out))
			die("fault helper failed");
		ns.push_back(std::strtod(line, nullptr));
	}
	for (auto &x : w) {
		int status;

		fclose(x.in);
		fclose(x.out);
		if (waitpid(x.pid, &status, 0) != x.pid || status)
			die("fault helper exit");
	}
	std::sort(ns.begin(), ns.end());
	for (auto _ : st)
		st.SetIterationTime(ns[ns.size() / 2] * 1e-9);
	st.counters["clones"] = clones;
	st.counters["procs"] = procs;
	st.SetLabel("host copy-on-write fault, median over worker "
		    "processes, each holding clones/procs live clones");
}

} // namespace

// --fault-helper FILE K: K clones of FILE made and kept; "ready"; on
// "go", the nanoseconds of one host copy-on-write fault (1024 pages of a
// MAP_PRIVATE mapping of the file, read first, then written).
static int fault_helper(const char *path, int k)
{
	const size_t len = 1024 * 4096;
	std::vector<cowvm *> vms;
	struct cowvm_snapshot *s = cowvm_snapshot_open(path, nullptr);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char line[16];

	for (int i = 0; s && i < k; i++) {
		cowvm *vm = cowvm_clone(s);

		if (!vm)
			die(std::string("clone: ") + cowvm_error(nullptr));
		vms.push_back(vm);
	}
	volatile uint8_t *p = (volatile uint8_t *)mmap(
		nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (!s || p == MAP_FAILED)
		die("fault helper setup");
	uint8_t sum = 0;
	for (size_t o = 0; o < len; o += 4096)
		sum += p[o];
	std::printf("ready\n");
	std::fflush(stdout);
	if (!std::fgets(line, sizeof(line), stdin))
		return 1;
	auto t0 = Clock::now();
	for (size_t o = 0; o < len; o += 4096)
		p[o] = (uint8_t)(sum + 1);
	std::printf("%.1f\n", since(t0) * 1e9 / (double)(len / 4096));
	std::fflush(stdout);
	for (cowvm *vm : vms)
		cowvm_destroy(vm);
	cowvm_snapshot_put(s);
	return 0;
}

// --open-helper WHAT FILE: one timed open + first clone (WHAT warm: with
// two pooled VMs ready first; empty: none) or Firecracker-style restore
// (fc), the seconds printed on stdout.
static int open_helper(const char *what, const char *path)
{
	cowvm_config cfg;
	cowvm_snapfile_header h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		die(std::string("open ") + path);
	cowvm_config_init(&cfg);
	cfg.mem_size = h.mem_size;
	cfg.console_fd = -1;
	if (!std::strcmp(what, "fc")) {
		const cowvm_snapfile_section &s =
			h.section[COWVM_SNAPFILE_STATE];
		std::string packed(s.length, '\0');

		if (pread(fd, &packed[0], s.length, (off_t)s.offset) !=
		    (ssize_t)s.length)
			die("state");
		vmm_state *vst = bvm_state_unpack(packed.data(), s.length);
		auto t0 = Clock::now();
		cowvm *vm =
			vst ? bvm_restore_mapped(
				      &cfg, fd,
				      h.section[COWVM_SNAPFILE_PAGES].offset,
				      vst)
			    : nullptr;
		double t = since(t0);

		if (!vm)
			die("restore");
		std::printf("%.9f\n", t);
		bvm_vm_free(vm);
		bvm_state_free(vst);
		return 0;
	}
	if (!std::strcmp(what, "warm") &&
	    (cowvm_pool_reserve(&cfg, 2) || cowvm_pool_wait(&cfg, 60000)))
		die("pool");
	auto t0 = Clock::now();
	struct cowvm_snapshot *s = cowvm_snapshot_open(path, &cfg);
	double t_open = since(t0);
	cowvm *vm = s ? cowvm_clone(s) : nullptr;
	double t = since(t0);

	if (!vm)
		die(std::string("open: ") + cowvm_error(nullptr));
	if (std::getenv("BENCH_SNAPFILE_SPLIT"))
		std::fprintf(stderr, "open %.0f us, clone %.0f us\n",
			     t_open * 1e6, (t - t_open) * 1e6);
	std::printf("%.9f\n", t);
	cowvm_destroy(vm);
	cowvm_snapshot_put(s);
	close(fd);
	return 0;
}

BENCHMARK(BM_SnapSave)
	->Arg(64)
	->Arg(1024)
	->UseManualTime()
	->Iterations(1)
	->Repetitions(5)
	->ReportAggregatesOnly(false);
BENCHMARK(BM_SnapSaveChild)
	->Arg(1024)
	->UseManualTime()
	->Iterations(1)
	->Repetitions(5);
BENCHMARK(BM_DdSave)
	->Arg(64)
	->Arg(1024)
	->UseManualTime()
	->Iterations(1)
	->Repetitions(5);
BENCHMARK(BM_SnapOpen)
	->Arg(64)
	->Arg(1024)
	->UseManualTime()
	->Iterations(1)
	->Repetitions(5);
BENCHMARK(BM_OpenOther)
	->ArgsProduct({{64, 1024, 4096}, {1, 0}})
	->UseManualTime()
	->Iterations(1)
	->Repetitions(5);
BENCHMARK(BM_FaultSpread)
	->Args({10, 1})
	->Args({100, 1})
	->Args({1000, 100})
	->UseManualTime()
	->Iterations(1)
	->Repetitions(3);
BENCHMARK(BM_FcRestoreFile)
	->Arg(64)
	->Arg(1024)
	->Arg(4096)
	->UseManualTime()
	->Iterations(1)
	->Repetitions(5);

int main(int argc, char **argv)
{
	if (argc == 4 && !std::strcmp(argv[1], "--open-helper"))
		return open_helper(argv[2], argv[3]);
	if (argc == 4 && !std::strcmp(argv[1], "--fault-helper"))
		return fault_helper(argv[2], std::atoi(argv[3]));
	benchmark::Initialize(&argc, argv);
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
