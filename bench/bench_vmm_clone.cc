// bench-vmm's clone and fork family: clones from a warm pool, an empty
// pool and a spare, and forks of a running parent, per memory mode.
#include <cerrno>
#include <cstring>

#include "bench_vmm.h"

namespace
{

// Clone from snap with the pool full: kBatch clones timed back to back
// (counters: the last clone's mappings and lazy pages), destroyed after the
// clock stops; the pool refills and the reaper finishes before the next batch
// (the filler starts refilling as soon as the first clone takes its VM, as it
// does in use).
void clone_batches(benchmark::State &st, struct cowvm_snapshot *snap)
{
	cowvm *kids[kBatch];
	unsigned long t0n, m0, t1n, m1;
	struct cowvm_mem_stats ms = {};

	bvm_pool_counts(&t0n, &m0);
	for (auto _ : st) {
		settle();
		auto t0 = Clock::now();
		for (auto &k : kids)
			k = cowvm_clone(snap);
		st.SetIterationTime(seconds_since(t0));
		for (auto k : kids) {
			if (!k)
				die("cowvm_clone: %s", std::strerror(errno));
			if (cowvm_mem_stats(k, &ms))
				die("cowvm_mem_stats: %s", cowvm_error(k));
			cowvm_destroy(k);
		}
	}
	bvm_pool_counts(&t1n, &m1);
	if (m1 != m0)
		st.SkipWithError("a clone missed the pool");
	st.counters["mappings"] = (double)ms.mappings;
	st.counters["pages_lazy"] = (double)ms.pages_lazy;
	batch(st, kBatch);
}

// clone_batches of the snapshot of the parent of st's size in mode.
void clone_warm(benchmark::State &st, Mode mode)
{
	uint64_t mib = (uint64_t)st.range(0);

	clone_batches(st, sized(mib, mode)->snap);
	label(st, mode_name(mode) + ", warm pool (settled), " + size_name(mib) +
			  " touched, clone ready to run");
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

} // namespace

// Warm-pool clone, kernel mode, by size.
void BM_CloneWarmPool(benchmark::State &st)
{
	clone_warm(st, cowvm_config::COWVM_MEM_KERNEL);
}

// Warm-pool clone, userfaultfd mode.
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

// Clone of a fragmented image (arg 1) next to a compact one (arg 0), both
// 256 MiB, kernel mode, warm pool. Compact: the parent's snapshot, a few
// extents. Fragmented: a clone of it wrote kFragWrites pages, every eighth
// one, and was snapshotted: its image has two runs per written page, which
// the bound on mappings folds into at most COWVM_MAPPINGS_MAX mappings and
// lazy extents.
void BM_CloneFragmented(benchmark::State &st)
{
	const uint64_t kMiBs = 256, kFragWrites = 8000, kStride = 8;
	Parent *p = sized(kMiBs);
	cowvm *w = nullptr;
	struct cowvm_snapshot *snap = p->snap;

	if (st.range(0)) {
		w = clone_of(p);
		for (uint64_t i = 0; i < kFragWrites; i++)
			if (cowvm_write(w, 4 * kMiB + i * kStride * kPage, &i,
					sizeof(i)))
				die("cowvm_write: %s", cowvm_error(w));
		snap = cowvm_snapshot(w);
		if (!snap)
			die("cowvm_snapshot: %s", cowvm_error(w));
	}
	clone_batches(st, snap);
	if (w) {
		cowvm_snapshot_put(snap);
		cowvm_destroy(w);
	}
	label(st, std::string(st.range(0) ? "fragmented: 8000 scattered "
					    "pages written, then snapshot"
					  : "compact") +
			  ", kernel, warm pool (settled), 256 MiB touched");
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

// Fork of the running parent, kernel mode, by size.
void BM_ForkWarmPool(benchmark::State &st)
{
	fork_warm(st, cowvm_config::COWVM_MEM_KERNEL);
}

// Fork of the running parent, userfaultfd mode.
void BM_ForkWarmPoolUffd(benchmark::State &st)
{
	fork_warm(st, cowvm_config::COWVM_MEM_UFFD);
}
