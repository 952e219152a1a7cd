// bench-vmm's fixtures (booted parents, host-fork helpers) built on demand
// and kept across benchmark runs within a memory budget, least recently
// used first out.
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <vector>

#include "bench_vmm.h"

extern char **environ;

namespace
{

constexpr uint64_t kBudgetMiB = 8192; // default fixture budget
constexpr uint64_t kGuestMiB = 8;     // a guest's own memory beyond its fill

// A kept fixture: its estimated memory, the run that last used it, and
// how to free it.
struct Fixture {
	uint64_t mib = 0;
	uint64_t run = 0;
	std::function<void()> drop;
};

struct Cache {
	std::map<std::string, Fixture> held;
	uint64_t run = 0; // the current benchmark run, counted from 1
	uint64_t mib = 0; // sum of held[].mib
	unsigned builds = 0;
	double build_s = 0;
};

// The process's fixture cache.
Cache &cache()
{
	static Cache c;
	return c;
}

// COWVM_BENCH_BUDGET_MIB, else kBudgetMiB.
uint64_t budget()
{
	static uint64_t b = [] {
		const char *env = std::getenv("COWVM_BENCH_BUDGET_MIB");

		return env && *env ? std::strtoull(env, nullptr, 10)
				   : kBudgetMiB;
	}();
	return b;
}

// Free fixture it and give its memory back to the system now.
void evict(std::map<std::string, Fixture>::iterator it)
{
	auto t0 = Clock::now();
	Cache &c = cache();

	it->second.drop();
	c.mib -= it->second.mib;
	if (bvm_pool_wait_reaped(kSettleMs))
		die("reaper did not finish");
	bvm_store_trim();
	std::fprintf(stderr, "bench-vmm: dropped %s (%llu MiB) in %.1f s\n",
		     it->first.c_str(), (unsigned long long)it->second.mib,
		     seconds_since(t0));
	c.held.erase(it);
}

// The fixture named key, marked as used by this run; nullptr if not held.
template <class T> T *find(const std::string &key, T *obj)
{
	auto it = cache().held.find(key);

	if (it == cache().held.end())
		return nullptr;
	it->second.run = cache().run;
	return obj;
}

// Build a fixture of about mib MiB with make() after making room, keep
// it under key with drop, and count the time it took.
template <class T>
T *build(const std::string &key, uint64_t mib, std::function<T *()> make,
	 std::function<void()> drop)
{
	Cache &c = cache();

	fixtures_make_room(mib);
	auto t0 = Clock::now();
	T *obj = make();
	c.build_s += seconds_since(t0);
	c.builds++;
	c.held[key] = Fixture{mib, c.run, std::move(drop)};
	c.mib += mib;
	return obj;
}

// The parent of a sized benchmark, booted as sized() documents.
Parent *boot_sized(uint64_t mib, Mode mode)
{
	uint64_t low =
		mib * kMiB < bvm_low_mem_max ? mib * kMiB : bvm_low_mem_max;
	Parent *p = boot_parent(mib, mode, (low - bvm_memtest_base) / kMiB, 16,
				mib, true);

	if (int err = bvm_ram_file(p->vm, &p->ram_fd, &p->ram_off))
		die("ram file: %s", std::strerror(-err));
	pool_hold(p->cfg);
	p->pooled = true;
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

// A parent kept as fixture key: found, or built by make (about mib MiB).
Parent *parent(const std::string &key, uint64_t mib,
	       std::function<Parent *()> make)
{
	static std::map<std::string, Parent *> parents;
	Parent *&p = parents[key];

	if (find(key, p))
		return p;
	return p = build<Parent>(key, mib, make, [key] {
		       parent_free(parents[key]);
		       parents.erase(key);
	       });
}

// Spawn this executable as the fork helper for mib MiB (clean: not a fork
// of this process) and wait until it touched its memory.
ForkHelper spawn_helper(uint64_t mib)
{
	ForkHelper h;
	int in[2], out[2];
	posix_spawn_file_actions_t fa;
	char arg[64], self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	uint64_t ready;

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
	mem_watch_pid(h.pid, true);
	if (read(h.from, &ready, sizeof(ready)) != sizeof(ready))
		die("fork helper for %llu MiB did not start",
		    (unsigned long long)mib);
	return h;
}

// End a helper: closing its command pipe ends its loop; reap it.
void helper_free(ForkHelper &h)
{
	close(h.to);
	close(h.from);
	if (waitpid(h.pid, nullptr, 0) != h.pid)
		die("waitpid fork helper: %s", std::strerror(errno));
	mem_watch_pid(h.pid, false);
}

} // namespace

// A new benchmark run: what it uses from now on stays.
void fixtures_begin_run(const benchmark::State &)
{
	cache().run++;
}

// Evict least recently used fixtures not used by this run.
void fixtures_make_room(uint64_t mib)
{
	Cache &c = cache();

	while (c.mib + mib > budget()) {
		auto lru = c.held.end();

		for (auto it = c.held.begin(); it != c.held.end(); ++it)
			if (it->second.run != c.run &&
			    (lru == c.held.end() ||
			     it->second.run < lru->second.run))
				lru = it;
		if (lru == c.held.end())
			return; // all in use by this run: over budget
		evict(lru);
	}
}

// Evict every fixture.
void fixtures_drop_all()
{
	while (!cache().held.empty())
		evict(cache().held.begin());
}

// The fixture budget in MiB.
uint64_t fixtures_budget_mib()
{
	return budget();
}

// Builds so far and their seconds.
void fixtures_build_stats(unsigned *builds, double *seconds)
{
	*builds = cache().builds;
	*seconds = cache().build_s;
}

// The sized parent of (mib, mode), built on demand.
Parent *sized(uint64_t mib, Mode mode)
{
	return parent("sized " + mode_name(mode) + " " + size_name(mib), mib,
		      [=] { return boot_sized(mib, mode); });
}

// The first-touch parent of (mode, pages), built on demand.
Parent *touch_parent(Mode mode, uint64_t pages)
{
	return parent("touch " + mode_name(mode) + " " + std::to_string(pages),
		      kTouchMiB + kGuestMiB, [=] {
			      Parent *p = boot_parent(64, mode, kTouchMiB,
						      pages, 7, false);
			      pool_hold(p->cfg);
			      p->pooled = true;
			      return p;
		      });
}

// The reset-by-size parent of mib MiB, built on demand.
Parent *reset_parent(uint64_t mib)
{
	return parent("reset " + size_name(mib), kTouchMiB + kGuestMiB, [=] {
		return boot_parent(mib, cowvm_config::COWVM_MEM_KERNEL,
				   kTouchMiB, 16, 7, false);
	});
}

// The 1 GiB parent's clone that ran a round, made once per parent.
cowvm *ran_clone()
{
	Parent *p = sized(1024);

	if (!p->ran) {
		auto t0 = Clock::now();
		p->ran = clone_of(p);
		run_to_snapshot(p->ran, 2);
		std::fprintf(stderr,
			     "bench-vmm: 1 GiB clone ran a round in %.1f s\n",
			     seconds_since(t0));
	}
	return p->ran;
}

// The fork helper of mib MiB, spawned on demand.
ForkHelper &fork_helper(uint64_t mib)
{
	static std::map<uint64_t, ForkHelper> helpers;
	std::string key = "fork helper " + size_name(mib);
	auto it = helpers.find(mib);

	if (it != helpers.end() && find(key, &it->second))
		return it->second;
	return *build<ForkHelper>(
		key, mib + 1,
		[=] { return &(helpers[mib] = spawn_helper(mib)); },
		[=] {
			helper_free(helpers[mib]);
			helpers.erase(mib);
		});
}

// The helper process: touch mib MiB, then fork per 'f' read.
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
