// bench-vmm's shared helpers: errors, the console, guest runs, pool
// reserves, booting and freeing parents, and the benchmark setup.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bench_vmm.h"

namespace
{

// The guest ELF: $COWVM_BENCH_GUEST or the built one.
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

// The last n bytes the guests printed.
std::string console_tail(size_t n = 600)
{
	off_t end = lseek(console(), 0, SEEK_END);
	off_t from = end > (off_t)n ? end - (off_t)n : 0;
	std::string s((size_t)(end - from), '\0');

	if (pread(console(), &s[0], s.size(), from) < 0)
		return "";
	return s;
}

// A pool class kept for the run: ready VMs wanted and parents holding it.
struct Reserve {
	cowvm_config cfg;
	unsigned n = 0;
	unsigned holders = 0;
};

// Every pool class used in the run.
std::vector<Reserve> &reserves()
{
	static std::vector<Reserve> r;
	return r;
}

// The entry of cfg's class, added (with nothing reserved) if new.
Reserve &reserve_of(const cowvm_config &cfg)
{
	for (auto &r : reserves())
		if (r.cfg.mem_size == cfg.mem_size &&
		    r.cfg.mem_mode == cfg.mem_mode)
			return r;
	reserves().push_back({cfg, 0, 0});
	return reserves().back();
}

// Fill [high base, + hi) of vm from the host with a pattern.
void host_fill(cowvm *vm, uint64_t hi)
{
	std::vector<uint64_t> buf(kMiB / 8);

	for (uint64_t off = 0; off < hi; off += kMiB) {
		for (size_t i = 0; i < buf.size(); i++)
			buf[i] = (off + i * 8) * 0x9e3779b97f4a7c15ull;
		if (cowvm_write(vm, bvm_high_mem_base + off, buf.data(), kMiB))
			die("host fill: %s", cowvm_error(vm));
	}
}

} // namespace

// Run to the next SNAPSHOT exit, which must carry tag.
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

// One timed guest round.
double timed_round(cowvm *c, uint64_t tag)
{
	auto t0 = Clock::now();
	run_to_snapshot(c, tag);
	return seconds_since(t0);
}

// Set the reserve of cfg's class.
void reserve(const cowvm_config &cfg, unsigned n)
{
	reserve_of(cfg).n = n;
	if (int err = cowvm_pool_reserve(&cfg, n))
		die("cowvm_pool_reserve: %s", std::strerror(-err));
}

// One more holder of cfg's class (the first reserves).
void pool_hold(const cowvm_config &cfg)
{
	if (!reserve_of(cfg).holders++)
		reserve(cfg, kPoolN);
}

// One holder less (the last reserves none).
void pool_release(const cowvm_config &cfg)
{
	Reserve &r = reserve_of(cfg);

	if (r.holders && !--r.holders)
		reserve(cfg, 0);
}

// Wait for full pools and an idle reaper.
void settle()
{
	for (auto &r : reserves())
		if (bvm_pool_settle(&r.cfg, r.n, kSettleMs))
			die("pool did not settle (%llu MiB, mode %d)",
			    (unsigned long long)(r.cfg.mem_size / kMiB),
			    (int)r.cfg.mem_mode);
	if (bvm_pool_wait_reaped(kSettleMs))
		die("reaper did not finish");
}

// A config of mib MiB in mode on the run's console.
cowvm_config config(uint64_t mib, Mode mode)
{
	cowvm_config cfg;

	cowvm_config_init(&cfg);
	cfg.mem_size = mib * kMiB;
	cfg.mem_mode = mode;
	cfg.console_fd = console();
	return cfg;
}

// Boot forktest to its round-1 snapshot.
Parent *boot_parent(uint64_t mem_mib, Mode mode, uint64_t mib, uint64_t pages,
		    uint64_t seed, bool fill_high)
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
	if (fill_high && p->cfg.mem_size > bvm_low_mem_max) {
		p->host_mib = (p->cfg.mem_size - bvm_low_mem_max) / kMiB;
		host_fill(p->vm, p->host_mib * kMiB);
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
		     (unsigned long long)mem_mib, mode_name(mode).c_str(),
		     (unsigned long long)mib, (unsigned long long)p->host_mib,
		     seconds_since(t0));
	return p;
}

// Free a parent and all it holds.
void parent_free(Parent *p)
{
	cowvm_destroy(p->ran);
	cowvm_destroy(p->reader);
	cowvm_destroy(p->vm);
	cowvm_snapshot_put(p->snap);
	bvm_state_free(p->st);
	if (p->ram_fd >= 0)
		close(p->ram_fd);
	if (p->pooled)
		pool_release(p->cfg);
	delete p;
}

// A clone of p's snapshot.
cowvm *clone_of(Parent *p)
{
	cowvm *c = cowvm_clone(p->snap);

	if (!c)
		die("cowvm_clone: %s", std::strerror(errno));
	return c;
}

// Set the benchmark's label.
void label(benchmark::State &st, const std::string &s)
{
	st.SetLabel(s);
}

// Set the operations timed per iteration.
void batch(benchmark::State &st, double ops)
{
	st.counters["batch"] = ops;
}

// "N MiB" or "N GiB".
std::string size_name(uint64_t mib)
{
	return mib >= 1024 ? std::to_string(mib / 1024) + " GiB"
			   : std::to_string(mib) + " MiB";
}

// "kernel" or "uffd".
std::string mode_name(Mode mode)
{
	return mode == cowvm_config::COWVM_MEM_UFFD ? "uffd" : "kernel";
}

// Iteration counts are fixed so that the whole run stays in minutes; each
// run starts by telling the fixture cache which fixtures it may evict.
void common(benchmark::internal::Benchmark *b)
{
	b->UseManualTime()
		->Repetitions(kReps)
		->ReportAggregatesOnly(false)
		->Unit(benchmark::kMicrosecond)
		->Setup(fixtures_begin_run);
}

// The four guest sizes.
void sizes(benchmark::internal::Benchmark *b)
{
	for (int mib : {64, 256, 1024, 4096})
		b->Arg(mib);
}
