// What the bench-vmm families share: constants, guest helpers, the pool
// reserves, the parents and host-fork helpers kept within a memory budget
// (bench_vmm_fixtures.cc) and the peak-memory report (bench_vmm_mem.cc).
#ifndef BENCH_VMM_H
#define BENCH_VMM_H

#include <benchmark/benchmark.h>

#include <sys/types.h>

#include <chrono>

#include "bench_common.h"
#include <cstdint>
#include <string>

#include "cowvm.h"
#include "vmm_bench_util.h"

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMiB = 1ull << 20;
constexpr int kReps = 7;
constexpr int kBatch = 4; // clones or forks timed per iteration
constexpr int kPoolN = 4; // ready VMs kept per pooled class
constexpr unsigned kSettleMs = 120000;
constexpr uint64_t kTouchMiB = 16;     // region of the first-touch guests
constexpr uint64_t kWritePages = 1024; // pages written per first-write round

using Mode = cowvm_config::cowvm_mem_mode;

// Run vm until its next SNAPSHOT exit, which must carry tag (else die).
void run_to_snapshot(cowvm *vm, uint64_t tag);

// Run c to its next SNAPSHOT exit (tag) and return the seconds it took.
double timed_round(cowvm *c, uint64_t tag);

// Ask the pool to keep n ready VMs of cfg's class for the benchmark.
void reserve(const cowvm_config &cfg, unsigned n);

// Reserve kPoolN VMs of cfg's class while at least one holder needs them:
// hold counts a holder in, release counts it out (the last sets 0).
void pool_hold(const cowvm_config &cfg);
void pool_release(const cowvm_config &cfg);

// Wait until every reserved class is full and no VM is being destroyed:
// the pool's threads are idle while the clock runs.
void settle();

// A config of mib MiB in mode writing to the run's console.
cowvm_config config(uint64_t mib, Mode mode);

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
	cowvm *ran = nullptr;	 // a clone of snap that ran a round (reset)
	uint64_t fill_mib = 0;	 // MiB the guest filled (+ host-filled MiB)
	uint64_t host_mib = 0;
	bool pooled = false; // holds a pool reserve for cfg's class
};

// Boot "forktest seed mib pages" in a guest of mem_mib and stop at the
// round-1 SNAPSHOT exit: every page of [8 MiB, + mib) was written by the
// guest; with host_fill, RAM above the low range (4 GiB guests) is filled
// by the host.
Parent *boot_parent(uint64_t mem_mib, Mode mode, uint64_t mib, uint64_t pages,
		    uint64_t seed, bool host_fill);

// Destroy everything p holds (its clones, VM, snapshot, state, file).
void parent_free(Parent *p);

// A new clone of p's snapshot (else die).
cowvm *clone_of(Parent *p);

// The parent of each size for clone, fork and the baselines: nearly all
// RAM touched, and run one more round so that its RAM is mapped, as a VM
// that has been running. Kept within the fixture budget.
Parent *sized(uint64_t mib, Mode mode = cowvm_config::COWVM_MEM_KERNEL);

// The first-touch parents: 64 MiB guests filling kTouchMiB, writing
// `pages` pages per round, one per (mode, pages).
Parent *touch_parent(Mode mode, uint64_t pages);

// The reset-by-size parents: kernel-mode guests of mib MiB touching only
// kTouchMiB of their RAM.
Parent *reset_parent(uint64_t mib);

// A clone of the 1 GiB snapshot that ran one round (its guest read all
// its RAM, so every page is mapped), kept with that parent.
cowvm *ran_clone();

// The host fork() baseline's helper process holding mib MiB of touched
// anonymous memory: commands go to `to`, fork times come back on `from`.
struct ForkHelper {
	pid_t pid = -1;
	int to = -1, from = -1;
};

// The helper for mib MiB, spawned on demand within the fixture budget.
ForkHelper &fork_helper(uint64_t mib);

// The helper's main (`--fork-helper=MIB`): touch mib MiB, then time one
// fork() per command.
int fork_helper_main(uint64_t mib);

// Fixtures (parents, helpers) are kept across benchmark runs while their
// estimated memory fits the budget (COWVM_BENCH_BUDGET_MIB, default
// 8 GiB); the least recently used one that the current run has not used
// goes first. fixtures_begin_run marks the start of a run (a Setup hook).
void fixtures_begin_run(const benchmark::State &);

// Evict fixtures the current run has not used until mib more MiB fit.
void fixtures_make_room(uint64_t mib);

// Drop every fixture (at the end of the run).
void fixtures_drop_all();

// The budget in MiB; the fixtures built so far and the seconds it took.
uint64_t fixtures_budget_mib();
void fixtures_build_stats(unsigned *builds, double *seconds);

// Sample the memory of this process and its helpers until mem_stop.
void mem_start();

// Stop sampling (the first call only); print the peaks on stderr and add
// them to the benchmark context, with the fixture budget and build costs.
void mem_stop();

// Count a helper process in (or out) of the sampled memory.
void mem_watch_pid(pid_t pid, bool watch);

// A JSON file reporter that holds its output back until the runs end,
// calls finish (which is to call mem_stop) and writes the context with the
// peaks; nullptr when the command line (argv before benchmark::Initialize)
// asks for no JSON file.
benchmark::BenchmarkReporter *mem_json_reporter(int argc, char **argv,
						void (*finish)());

// Benchmark setup: label, batch (report.py divides an iteration's time by
// "batch", the operations timed), names of sizes and modes.
void label(benchmark::State &st, const std::string &s);
void batch(benchmark::State &st, double ops);
std::string size_name(uint64_t mib);
std::string mode_name(Mode mode);

// Every benchmark reports medians over kReps repetitions (plus each run);
// sizes are the four guest sizes of the clone and baseline families.
void common(benchmark::internal::Benchmark *b);
void sizes(benchmark::internal::Benchmark *b);

// The benchmarks, by family (bench_vmm_clone.cc, bench_vmm_base.cc,
// bench_vmm_touch.cc); registered in bench_vmm.cc.
void BM_CloneWarmPool(benchmark::State &st);
void BM_CloneWarmPoolUffd(benchmark::State &st);
void BM_CloneEmptyPool(benchmark::State &st);
void BM_CloneSpare(benchmark::State &st);
void BM_CloneFragmented(benchmark::State &st);
void BM_ForkWarmPool(benchmark::State &st);
void BM_ForkWarmPoolUffd(benchmark::State &st);
void BM_HostFork(benchmark::State &st);
void BM_FcRestore(benchmark::State &st);
void BM_FullCopy(benchmark::State &st);
void BM_FirstRead(benchmark::State &st, Mode mode);
void BM_FirstRun1G(benchmark::State &st);
void BM_FirstWrite(benchmark::State &st, Mode mode);
void BM_VmmReset(benchmark::State &st);
void BM_VmmResetSize(benchmark::State &st);

#endif
