// Benchmarks of cowvm VMs: clone and fork latency against guest memory size
// next to host fork(), Firecracker-style restore and full-copy baselines,
// first reads and writes in a clone per memory mode, and reset.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cowvm.h"
#include "vmm_bench_util.h"

extern char **environ;

namespace
{

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMiB = 1ull << 20;
constexpr int kReps = 7;
constexpr int kBatch = 4; // clones or forks timed per iteration
constexpr int kPoolN = 4; // ready VMs kept per pooled class
constexpr unsigned kSettleMs = 120000;
constexpr uint64_t kTouchMiB = 16;     // region of the first-touch guests
constexpr uint64_t kWritePages = 1024; // pages written per first-write round

using Clock = std::chrono::steady_clock;
using Mode = cowvm_config::cowvm_mem_mode;

[[noreturn]] void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

[[noreturn]] void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	std::fprintf(stderr, "bench-vmm: ");
	std::vfprintf(stderr, fmt, ap);
	std::fprintf(stderr, "\n");
	va_end(ap);
	std::abort();
}

double seconds_since(Clock::time_point t0)
{
	return std::chrono::duration<double>(Clock::now() - t0).count();
}

const char *guest_elf()
{
	const char *env = std::getenv("COWVM_BENCH_GUEST");

	return env && *env ? env : BENCH_GUEST_ELF;
}

// One console for every VM of the run, for checking guest output.
int console()
{
	static int fd = memfd_create("bench-vmm-console", MFD_CLOEXEC);

	if (fd < 0)
		die("memfd_create: %s", std::strerror(errno));
	return fd;
}

std::string console_tail(size_t n = 600)
{
	off_t end = lseek(console(), 0, SEEK_END);
	off_t from = end > (off_t)n ? end - (off_t)n : 0;
	std::string s((size_t)(end - from), '\0');

	if (pread(console(), &s[0], s.size(), from) < 0)
		return "";
	return s;
}

// Run vm until its next SNAPSHOT exit, which must carry tag.
void run_to_snapshot(cowvm *vm, uint64_t tag)
{
	cowvm_exit e;
	int r = cowvm_run(vm, &e);

	if (r || e.reason != COWVM_EXIT_SNAPSHOT || e.tag != tag)
		die("run: r=%d reason=%d tag=%llu (want SNAPSHOT %llu): %s %s\n"
		    "console tail:\n%s",
		    r, (int)e.reason, (unsigned long long)e.tag,
		    (unsigned long long)tag, e.detail, cowvm_error(vm),
		    console_tail().c_str());
}

// Pool reserves kept for the run: class config -> ready VMs wanted.
std::vector<std::pair<cowvm_config, unsigned>> &reserves()
{
	static std::vector<std::pair<cowvm_config, unsigned>> r;
	return r;
}

void reserve(const cowvm_config &cfg, unsigned n)
{
	bool found = false;

	for (auto &r : reserves())
		if (r.first.mem_size == cfg.mem_size &&
		    r.first.mem_mode == cfg.mem_mode) {
			r.second = n;
			found = true;
		}
	if (!found)
		reserves().push_back({cfg, n});
	if (int err = cowvm_pool_reserve(&cfg, n))
		die("cowvm_pool_reserve: %s", std::strerror(-err));
}

// Wait until every reserved class is full and no VM is being destroyed:
// the pool's threads are idle while the clock runs.
void settle()
{
	for (auto &r : reserves())
		if (bvm_pool_settle(&r.first, r.second, kSettleMs))
			die("pool did not settle (%llu MiB, mode %d)",
			    (unsigned long long)(r.first.mem_size / kMiB),
			    (int)r.first.mem_mode);
	if (bvm_pool_wait_reaped(kSettleMs))
		die("reaper did not finish");
}

cowvm_config config(uint64_t mib, Mode mode)
{
	cowvm_config cfg;

	cowvm_config_init(&cfg);
	cfg.mem_size = mib * kMiB;
	cfg.mem_mode = mode;
	cfg.console_fd = console();
	return cfg;
}

// A booted forktest guest stopped at its round-1 SNAPSHOT exit (after its
// fill), its snapshot, and what the baselines need of it.
struct Parent {
	cowvm_config cfg;
	cowvm *vm = nullptr; // runs on past the snapshot (fork source)
	struct cowvm_snapshot *snap = nullptr; // at the round-1 SNAPSHOT exit
	vmm_state *st = nullptr;	       // vm's state when snap was taken
	int ram_fd = -1; // a file holding snap's RAM in RAM order
	uint64_t ram_off = 0;
	cowvm *reader = nullptr; // a clone of snap never run: full-copy source
	uint64_t fill_mib = 0;	 // MiB the guest filled (+ host-filled MiB)
	uint64_t host_mib = 0;
};

// Boot "forktest seed mib pages" in a guest of mem_mib and stop at the
// round-1 SNAPSHOT exit: every page of [8 MiB, + mib) was written by the
// guest. RAM above the low range (4 GiB guests) is filled by the host.
Parent *boot_parent(uint64_t mem_mib, Mode mode, uint64_t mib, uint64_t pages,
		    uint64_t seed)
{
	auto *p = new Parent;
	char cmd[160];
	auto t0 = Clock::now();

	p->cfg = config(mem_mib, mode);
	p->vm = cowvm_create(&p->cfg);
	if (!p->vm)
		die("cowvm_create %llu MiB: %s", (unsigned long long)mem_mib,
		    cowvm_error(nullptr));
	std::snprintf(cmd, sizeof(cmd),
		      "forktest seed=%llu mib=%llu rounds=1000000 pages=%llu",
		      (unsigned long long)seed, (unsigned long long)mib,
		      (unsigned long long)pages);
	if (int err = cowvm_load_elf(p->vm, guest_elf(), cmd))
		die("cowvm_load_elf %s: %d %s", guest_elf(), err,
		    cowvm_error(p->vm));
	if (p->cfg.mem_size > bvm_low_mem_max) {
		std::vector<uint64_t> buf(kMiB / 8);
		uint64_t hi = p->cfg.mem_size - bvm_low_mem_max;

		for (uint64_t off = 0; off < hi; off += kMiB) {
			for (size_t i = 0; i < buf.size(); i++)
				buf[i] = (off + i * 8) * 0x9e3779b97f4a7c15ull;
			if (cowvm_write(p->vm, bvm_high_mem_base + off,
					buf.data(), kMiB))
				die("host fill: %s", cowvm_error(p->vm));
		}
		p->host_mib = hi / kMiB;
	}
	p->fill_mib = mib;
	run_to_snapshot(p->vm, 1);
	p->snap = cowvm_snapshot(p->vm);
	if (!p->snap)
		die("cowvm_snapshot: %s", cowvm_error(p->vm));
	p->st = bvm_state_save(p->vm);
	if (!p->st)
		die("state save: %s", std::strerror(errno));
	std::fprintf(stderr,
		     "bench-vmm: %llu MiB %s guest: filled %llu MiB in guest"
		     " + %llu MiB by host, snapshot after %.1f s\n",
		     (unsigned long long)mem_mib,
		     mode == cowvm_config::COWVM_MEM_UFFD ? "uffd" : "kernel",
		     (unsigned long long)mib, (unsigned long long)p->host_mib,
		     seconds_since(t0));
	return p;
}

// The parent of each size for clone, fork and the baselines: nearly all
// RAM touched (the guest fills the low range above 8 MiB, the host the
// high range), then run one more round so that its RAM is mapped, as a
// VM that has been running.
Parent *sized(uint64_t mib, Mode mode = cowvm_config::COWVM_MEM_KERNEL)
{
	static std::map<std::pair<uint64_t, int>, Parent *> parents;
	Parent *&p = parents[{mib, (int)mode}];
	uint64_t low =
		mib * kMiB < bvm_low_mem_max ? mib * kMiB : bvm_low_mem_max;

	if (p)
		return p;
	p = boot_parent(mib, mode, (low - bvm_memtest_base) / kMiB, 16, mib);
	if (int err = bvm_ram_file(p->vm, &p->ram_fd, &p->ram_off))
		die("ram file: %s", std::strerror(-err));
	reserve(p->cfg, kPoolN);
	auto t0 = Clock::now();
	run_to_snapshot(p->vm, 2);
	if (p->host_mib) {
		std::vector<uint8_t> buf(kMiB);

		for (uint64_t off = 0; off < p->host_mib * kMiB; off += kMiB)
			if (cowvm_read(p->vm, bvm_high_mem_base + off,
				       buf.data(), kMiB))
				die("host read: %s", cowvm_error(p->vm));
	}
	std::fprintf(stderr,
		     "bench-vmm: %llu MiB parent ran round 1 in %.1f s\n",
		     (unsigned long long)mib, seconds_since(t0));
	return p;
}

// The first-touch parents: 64 MiB guests filling kTouchMiB, writing
// `pages` pages per round, one per (mode, pages).
Parent *touch_parent(Mode mode, uint64_t pages)
{
	static std::map<std::pair<int, uint64_t>, Parent *> parents;
	Parent *&p = parents[{(int)mode, pages}];

	if (!p) {
		p = boot_parent(64, mode, kTouchMiB, pages, 7);
		reserve(p->cfg, kPoolN);
	}
	return p;
}

cowvm *clone_of(Parent *p)
{
	cowvm *c = cowvm_clone(p->snap);

	if (!c)
		die("cowvm_clone: %s", std::strerror(errno));
	return c;
}

void label(benchmark::State &st, const std::string &s)
{
	st.SetLabel(s);
}

// report.py divides an iteration's time by "batch" (operations timed).
void batch(benchmark::State &st, double ops)
{
	st.counters["batch"] = ops;
}

std::string size_name(uint64_t mib)
{
	return mib >= 1024 ? std::to_string(mib / 1024) + " GiB"
			   : std::to_string(mib) + " MiB";
}

std::string mode_name(Mode mode)
{
	return mode == cowvm_config::COWVM_MEM_UFFD ? "uffd" : "kernel";
}

// Clone from the snapshot with the pool full: kBatch clones timed
// back to back, destroyed after the clock stops; the pool refills and
// the reaper finishes before the next batch (the filler starts refilling
// as soon as the first clone takes its VM, as it does in use).
void clone_warm(benchmark::State &st, Mode mode)
{
	uint64_t mib = (uint64_t)st.range(0);
	Parent *p = sized(mib, mode);
	cowvm *kids[kBatch];
	unsigned long t0n, m0, t1n, m1;

	bvm_pool_counts(&t0n, &m0);
	for (auto _ : st) {
		settle();
		auto t0 = Clock::now();
		for (auto &k : kids)
			k = cowvm_clone(p->snap);
		st.SetIterationTime(seconds_since(t0));
		for (auto k : kids) {
			if (!k)
				die("cowvm_clone: %s", std::strerror(errno));
			cowvm_destroy(k);
		}
	}
	bvm_pool_counts(&t1n, &m1);
	if (m1 != m0)
		st.SkipWithError("a clone missed the pool");
	label(st, mode_name(mode) + ", warm pool (settled), " + size_name(mib) +
			  " touched, clone ready to run");
	batch(st, kBatch);
}

void BM_CloneWarmPool(benchmark::State &st)
{
	clone_warm(st, cowvm_config::COWVM_MEM_KERNEL);
}

void BM_CloneWarmPoolUffd(benchmark::State &st)
{
	clone_warm(st, cowvm_config::COWVM_MEM_UFFD);
}

// Clone with an empty pool: the VM (KVM VM, irqchip, PIT, memslots,
// vCPU) is created synchronously inside cowvm_clone.
void BM_CloneEmptyPool(benchmark::State &st)
{
	uint64_t mib = (uint64_t)st.range(0);
	Parent *p = sized(mib);
	unsigned long t0n, m0, t1n, m1;

	reserve(p->cfg, 0);
	settle();
	bvm_pool_counts(&t0n, &m0);
	for (auto _ : st) {
		auto t0 = Clock::now();
		cowvm *k = cowvm_clone(p->snap);
		st.SetIterationTime(seconds_since(t0));
		if (!k)
			die("cowvm_clone: %s", std::strerror(errno));
		cowvm_destroy(k);
		settle();
	}
	bvm_pool_counts(&t1n, &m1);
	if (t1n != t0n)
		st.SkipWithError("a clone was served by the pool");
	reserve(p->cfg, kPoolN);
	label(st, "EMPTY pool: synchronous VM creation, " + size_name(mib) +
			  " touched");
	batch(st, 1);
}

// Clone from a spare (cowvm_snapshot_keep): the previous iteration's
// clone, which wrote kSpareWrites pages and was reset to the snapshot in
// cowvm_destroy (timed apart, as the destroy_us counter).
void BM_CloneSpare(benchmark::State &st)
{
	const uint64_t kSpareWrites = 16;
	uint64_t mib = (uint64_t)st.range(0);
	Parent *p = sized(mib);
	double destroy_s = 0;

	cowvm_snapshot_keep(p->snap, 1);
	cowvm_destroy(clone_of(p));
	for (auto _ : st) {
		auto t0 = Clock::now();
		cowvm *k = clone_of(p);
		st.SetIterationTime(seconds_since(t0));
		for (uint64_t i = 0; i < kSpareWrites; i++)
			if (cowvm_write(k, (i * 61 % (mib * 256)) * kPage, &i,
					8))
				die("cowvm_write: %s", cowvm_error(k));
		t0 = Clock::now();
		cowvm_destroy(k);
		destroy_s += seconds_since(t0);
	}
	cowvm_snapshot_keep(p->snap, 0);
	st.counters["destroy_us"] = destroy_s * 1e6 / (double)st.iterations();
	label(st, "spare of the snapshot, " + size_name(mib) +
			  " touched; the clone before wrote 16 pages");
	batch(st, 1);
}

// Fork of the running parent (stopped at a SNAPSHOT exit after a round
// that mapped all its RAM): cowvm_fork = snapshot (state save, fold of
// the pages written since the last fold, table fork) + clone + drop.
void fork_warm(benchmark::State &st, Mode mode)
{
	uint64_t mib = (uint64_t)st.range(0);
	Parent *p = sized(mib, mode);
	cowvm *kids[kBatch];

	for (auto _ : st) {
		settle();
		auto t0 = Clock::now();
		for (auto &k : kids)
			k = cowvm_fork(p->vm);
		st.SetIterationTime(seconds_since(t0));
		for (auto k : kids) {
			if (!k)
				die("cowvm_fork: %s", cowvm_error(p->vm));
			cowvm_destroy(k);
		}
	}
	label(st, mode_name(mode) + ", warm pool (settled), parent ran, " +
			  size_name(mib) +
			  " touched, no writes since the previous fork");
	batch(st, kBatch);
}

void BM_ForkWarmPool(benchmark::State &st)
{
	fork_warm(st, cowvm_config::COWVM_MEM_KERNEL);
}

void BM_ForkWarmPoolUffd(benchmark::State &st)
{
	fork_warm(st, cowvm_config::COWVM_MEM_UFFD);
}

// Host fork() baseline: a helper process (spawned clean, not forked from
// this one) holds `mib` MiB of touched private anonymous 4 KiB pages;
// it times fork() in the parent, the child _exit(0)s, the reap happens
// after the time is sent.
struct ForkHelper {
	pid_t pid = -1;
	int to = -1, from = -1;
};

ForkHelper &fork_helper(uint64_t mib)
{
	static std::map<uint64_t, ForkHelper> helpers;
	ForkHelper &h = helpers[mib];
	int in[2], out[2];
	posix_spawn_file_actions_t fa;
	char arg[64], self[4096];
	ssize_t n;

	if (h.pid > 0)
		return h;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0 || pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		die("helper setup: %s", std::strerror(errno));
	self[n] = 0;
	std::snprintf(arg, sizeof(arg), "--fork-helper=%llu",
		      (unsigned long long)mib);
	char *argv[] = {self, arg, nullptr};
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (posix_spawn(&h.pid, self, &fa, nullptr, argv, environ))
		die("posix_spawn helper");
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	h.to = in[1];
	h.from = out[0];
	uint64_t ready;
	if (read(h.from, &ready, sizeof(ready)) != sizeof(ready))
		die("fork helper for %llu MiB did not start",
		    (unsigned long long)mib);
	return h;
}

// The helper's main: touch mib MiB, then time one fork() per command.
int fork_helper_main(uint64_t mib)
{
	size_t len = mib * kMiB;
	auto *mem =
		(volatile uint64_t *)mmap(nullptr, len, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t ok = 1;
	char cmd;

	if ((void *)mem == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < len / 8; i += kPage / 8)
		mem[i] = i * 0x9e3779b97f4a7c15ull + 1;
	if (write(1, &ok, sizeof(ok)) != sizeof(ok))
		return 1;
	while (read(0, &cmd, 1) == 1 && cmd == 'f') {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		uint64_t ns = pid < 0 ? 0
				      : (uint64_t)((b.tv_sec - a.tv_sec) *
							   1000000000ll +
						   (b.tv_nsec - a.tv_nsec));
		if (write(1, &ns, sizeof(ns)) != sizeof(ns))
			return 1;
		if (pid > 0)
			waitpid(pid, nullptr, 0);
	}
	return 0;
}

void BM_HostFork(benchmark::State &st)
{
	uint64_t mib = (uint64_t)st.range(0);
	ForkHelper &h = fork_helper(mib);

	for (auto _ : st) {
		uint64_t ns;

		settle();
		if (write(h.to, "f", 1) != 1 ||
		    read(h.from, &ns, sizeof(ns)) != sizeof(ns) || !ns)
			die("fork helper failed");
		st.SetIterationTime((double)ns * 1e-9);
	}
	label(st, "host fork() of a process with " + size_name(mib) +
			  " of touched anonymous 4 KiB pages");
	batch(st, 1);
}

// Firecracker-style restore: a new KVM VM created now (no pool), the
// snapshot's RAM file mapped MAP_PRIVATE over its RAM, state restored.
void BM_FcRestore(benchmark::State &st)
{
	uint64_t mib = (uint64_t)st.range(0);
	Parent *p = sized(mib);
	cowvm_config cfg = p->cfg;

	cfg.console_fd = -1;
	for (auto _ : st) {
		settle();
		auto t0 = Clock::now();
		cowvm *vm =
			bvm_restore_mapped(&cfg, p->ram_fd, p->ram_off, p->st);
		st.SetIterationTime(seconds_since(t0));
		if (!vm)
			die("restore: %s", std::strerror(errno));
		bvm_vm_free(vm);
	}
	label(st, "new KVM VM+vCPU, mmap(MAP_PRIVATE) of the RAM file, "
		  "state restore; " +
			  size_name(mib));
	batch(st, 1);
}

// The MemAvailable of /proc/meminfo in MiB (0 if unreadable).
uint64_t mem_available_mib()
{
	FILE *f = std::fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kb = 0;

	if (!f)
		return 0;
	while (std::fgets(line, sizeof(line), f))
		if (std::sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	std::fclose(f);
	return kb / 1024;
}

// Full-copy clone: a VM with fresh RAM of its own (cowvm_create, before
// the clock), then timed: copy all of the snapshot's RAM into it and
// restore the snapshot's state.
void BM_FullCopy(benchmark::State &st)
{
	uint64_t mib = (uint64_t)st.range(0);
	Parent *p = sized(mib);
	cowvm_config cfg = p->cfg;

	label(st, "memcpy of all " + size_name(mib) +
			  " into a new VM's fresh pages + state restore "
			  "(VM created before the clock)");
	batch(st, 1);
	if (mem_available_mib() < mib + 1024) {
		std::fprintf(stderr,
			     "bench-vmm: full copy of %llu MiB skipped: "
			     "MemAvailable %llu MiB\n",
			     (unsigned long long)mib,
			     (unsigned long long)mem_available_mib());
		st.SkipWithError("not enough free memory for a full copy");
		for (auto _ : st)
			break;
		return;
	}
	if (!p->reader)
		p->reader = clone_of(p);
	cfg.console_fd = -1;
	for (auto _ : st) {
		cowvm *vm = cowvm_create(&cfg);

		if (!vm)
			die("cowvm_create: %s", cowvm_error(nullptr));
		settle();
		auto t0 = Clock::now();
		int err = bvm_full_copy(vm, p->reader, p->st);
		st.SetIterationTime(seconds_since(t0));
		if (err)
			die("full copy: %s %s", std::strerror(-err),
			    cowvm_error(vm));
		cowvm_destroy(vm);
		bvm_store_trim();
	}
}

// Run c to its next SNAPSHOT exit (tag) and return the seconds it took.
double timed_round(cowvm *c, uint64_t tag)
{
	auto t0 = Clock::now();
	run_to_snapshot(c, tag);
	return seconds_since(t0);
}

// First read of a page in a clone: a fresh clone's first round (the guest
// checksums its 16 MiB region, first reads of 4096 shared pages, twice)
// minus its second round (the same work, pages already mapped); the
// difference is divided by 4096 pages.
void BM_FirstRead(benchmark::State &st, Mode mode)
{
	Parent *p = touch_parent(mode, 0);
	double cold = 0, warm = 0;

	for (auto _ : st) {
		cowvm *c = clone_of(p);

		settle();
		double t1 = timed_round(c, 2);
		cowvm_set_snapshot_ret(c, 1);
		double t2 = timed_round(c, 3);
		st.SetIterationTime(t1 > t2 ? t1 - t2 : 0);
		cold += t1;
		warm += t2;
		cowvm_destroy(c);
	}
	st.counters["cold_round_ms"] = 1e3 * cold / (double)st.iterations();
	st.counters["warm_round_ms"] = 1e3 * warm / (double)st.iterations();
	label(st, std::string(mode == cowvm_config::COWVM_MEM_UFFD ? "uffd"
								   : "kernel") +
			  ": (cold - warm guest round) / 4096 pages, "
			  "sequential reads, 64 MiB guest");
	batch(st, (double)(kTouchMiB * kMiB / kPage));
}

// First write of a page shared with the snapshot: the second round of a
// clone whose guest writes 1024 fresh pages (reads already warm) minus
// the second round of a clone writing none; divided by 1024. Includes the
// guest's fill of each page (512 splitmix64 words).
void BM_FirstWrite(benchmark::State &st, Mode mode)
{
	Parent *w = touch_parent(mode, kWritePages);
	Parent *z = touch_parent(mode, 0);
	double tw = 0, tz = 0;

	for (auto _ : st) {
		cowvm *cw = clone_of(w), *cz = clone_of(z);

		timed_round(cw, 2);
		timed_round(cz, 2);
		cowvm_set_snapshot_ret(cw, 1); // round 2 writes other pages
		cowvm_set_snapshot_ret(cz, 1);
		settle();
		double a = timed_round(cw, 3);
		double b = timed_round(cz, 3);
		st.SetIterationTime(a > b ? a - b : 0);
		tw += a;
		tz += b;
		cowvm_destroy(cw);
		cowvm_destroy(cz);
	}
	st.counters["round_write_ms"] = 1e3 * tw / (double)st.iterations();
	st.counters["round_nowrite_ms"] = 1e3 * tz / (double)st.iterations();
	label(st, std::string(mode == cowvm_config::COWVM_MEM_UFFD ? "uffd"
								   : "kernel") +
			  ": (round writing 1024 pages - round writing 0) / "
			  "1024, incl. 4 KiB guest fill per page");
	batch(st, (double)kWritePages);
}

// A clone of the 1 GiB snapshot that ran one round (its guest read all
// its RAM, so every page is mapped), kept for the run.
cowvm *ran_clone()
{
	static cowvm *c;

	if (!c) {
		auto t0 = Clock::now();
		c = clone_of(sized(1024));
		run_to_snapshot(c, 2);
		std::fprintf(stderr,
			     "bench-vmm: 1 GiB clone ran a round in %.1f s\n",
			     seconds_since(t0));
	}
	return c;
}

// Reset of a clone of the 1 GiB snapshot after the host dirtied n pages
// spread evenly over its RAM (cowvm_write of 8 bytes each); only
// cowvm_reset is timed. range(1) = 0: a fresh clone that never ran (only
// the dirtied pages are mapped); 1: a clone that ran (all RAM mapped).
void BM_VmmReset(benchmark::State &st)
{
	uint64_t n = (uint64_t)st.range(0);
	bool ran = st.range(1) != 0;
	Parent *p = sized(1024);
	uint64_t pages = p->cfg.mem_size / kPage;
	uint64_t stride = pages / n;
	cowvm *c = ran ? ran_clone() : clone_of(p);
	uint64_t dirty = 0;

	if (ran && cowvm_reset(c, p->snap))
		die("cowvm_reset: %s", cowvm_error(c));
	for (auto _ : st) {
		for (uint64_t i = 0; i < n; i++) {
			uint64_t v = i + 1;

			if (cowvm_write(c, i * stride * kPage + 64, &v, 8))
				die("cowvm_write: %s", cowvm_error(c));
		}
		if (!dirty) {
			struct cowvm_mem_stats ms;

			if (cowvm_mem_stats(c, &ms))
				die("cowvm_mem_stats");
			dirty = ms.pages_private;
		}
		settle();
		auto t0 = Clock::now();
		if (cowvm_reset(c, p->snap))
			die("cowvm_reset: %s", cowvm_error(c));
		st.SetIterationTime(seconds_since(t0));
	}
	if (!ran)
		cowvm_destroy(c);
	st.counters["dirty_pages"] = (double)dirty;
	label(st, std::string("1 GiB clone, kernel mode, ") +
			  (ran ? "ran (all RAM mapped)" : "never ran") +
			  ", pages dirtied by the host");
	batch(st, 1);
}

// Reset after the host dirtied one page, by VM size: what grows with the
// size is reading KVM's dirty bitmap (a 16 GiB VM's is 512 KiB). The
// parents touch only kTouchMiB of RAM; only cowvm_reset is timed.
void BM_VmmResetSize(benchmark::State &st)
{
	static std::map<uint64_t, Parent *> parents;
	uint64_t mib = (uint64_t)st.range(0);
	Parent *&p = parents[mib];

	if (!p)
		p = boot_parent(mib, cowvm_config::COWVM_MEM_KERNEL, kTouchMiB,
				16, 7);
	cowvm *c = clone_of(p);
	for (auto _ : st) {
		uint64_t v = 1;

		if (cowvm_write(c, bvm_memtest_base, &v, 8))
			die("cowvm_write: %s", cowvm_error(c));
		auto t0 = Clock::now();
		if (cowvm_reset(c, p->snap))
			die("cowvm_reset: %s", cowvm_error(c));
		st.SetIterationTime(seconds_since(t0));
	}
	cowvm_destroy(c);
	label(st, size_name(mib) + " clone, kernel mode, 1 page dirtied by "
				   "the host");
	batch(st, 1);
}

// Every benchmark reports medians over kReps repetitions (plus each run);
// iteration counts are fixed so that the whole run stays in minutes.
void common(benchmark::internal::Benchmark *b)
{
	b->UseManualTime()
		->Repetitions(kReps)
		->ReportAggregatesOnly(false)
		->Unit(benchmark::kMicrosecond);
}

void sizes(benchmark::internal::Benchmark *b)
{
	for (int mib : {64, 256, 1024, 4096})
		b->Arg(mib);
}

} // namespace

BENCHMARK(BM_CloneWarmPool)->Apply(common)->Apply(sizes)->Iterations(5);
BENCHMARK(BM_CloneWarmPoolUffd)->Apply(common)->Arg(1024)->Iterations(5);
BENCHMARK(BM_CloneEmptyPool)->Apply(common)->Apply(sizes)->Iterations(3);
BENCHMARK(BM_CloneSpare)->Apply(common)->Arg(1024)->Iterations(20);
BENCHMARK(BM_ForkWarmPool)->Apply(common)->Apply(sizes)->Iterations(5);
BENCHMARK(BM_ForkWarmPoolUffd)->Apply(common)->Arg(1024)->Iterations(5);
BENCHMARK(BM_HostFork)->Apply(common)->Apply(sizes)->Iterations(5);
BENCHMARK(BM_FcRestore)->Apply(common)->Apply(sizes)->Iterations(3);
BENCHMARK(BM_FullCopy)->Apply(common)->Apply(sizes)->Iterations(1);
BENCHMARK_CAPTURE(BM_FirstRead, kernel, cowvm_config::COWVM_MEM_KERNEL)
	->Apply(common)
	->Iterations(2);
BENCHMARK_CAPTURE(BM_FirstRead, uffd, cowvm_config::COWVM_MEM_UFFD)
	->Apply(common)
	->Iterations(2);
BENCHMARK_CAPTURE(BM_FirstWrite, kernel, cowvm_config::COWVM_MEM_KERNEL)
	->Apply(common)
	->Iterations(2);
BENCHMARK_CAPTURE(BM_FirstWrite, uffd, cowvm_config::COWVM_MEM_UFFD)
	->Apply(common)
	->Iterations(2);
BENCHMARK(BM_VmmReset)
	->Apply(common)
	->ArgsProduct({{1, 16, 256, 4096}, {0, 1}})
	->Iterations(10);
BENCHMARK(BM_VmmResetSize)
	->Apply(common)
	->Arg(64)
	->Arg(1024)
	->Arg(4096)
	->Arg(16384)
	->Iterations(200);

// `--fork-helper=MIB` runs the host fork() helper instead of benchmarks.
int main(int argc, char **argv)
{
	if (argc > 1 && !std::strncmp(argv[1], "--fork-helper=", 14))
		return fork_helper_main(
			std::strtoull(argv[1] + 14, nullptr, 10));
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
