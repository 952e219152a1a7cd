// bench-vmm's baselines: host fork() of a process holding the same touched
// memory, a Firecracker-style restore and a full copy of RAM.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "bench_vmm.h"

namespace
{

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

} // namespace

// Host fork() baseline: a helper process (spawned clean, not forked from
// this one) holds `mib` MiB of touched private anonymous 4 KiB pages;
// it times fork() in the parent, the child _exit(0)s, the reap happens
// after the time is sent.
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

// Full-copy clone: a VM with fresh RAM of its own (cowvm_create, before
// the clock), then timed: copy all of the snapshot's RAM into it and
// restore the snapshot's state. The copy's mib MiB count against the
// fixture budget while it lives.
void BM_FullCopy(benchmark::State &st)
{
	uint64_t mib = (uint64_t)st.range(0);
	Parent *p = sized(mib);
	cowvm_config cfg = p->cfg;

	label(st, "memcpy of all " + size_name(mib) +
			  " into a new VM's fresh pages + state restore "
			  "(VM created before the clock)");
	batch(st, 1);
	fixtures_make_room(mib);
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
		if (bvm_pool_wait_reaped(kSettleMs))
			die("reaper did not finish");
		bvm_store_trim();
	}
}
