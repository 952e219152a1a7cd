// Benchmarks of the cow engine: fork, first write, destroy, reset, frame
// discard batching, and a naive per-page fork baseline in the same run.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "cow.h"

namespace
{

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kLeafSpan = 2 * kMiB; // pages one leaf table maps
constexpr int kReps = 7;
constexpr double kMinTime = 0.1;

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char *what)
{
	std::perror(what);
	std::abort();
}

cow_store *store()
{
	static cow_store *s = cow_store_create(nullptr);

	if (!s)
		die("cow_store_create");
	return s;
}

// Up to 1 GiB every page is mapped; above, one page per 2 MiB so that
// every leaf table exists (frames are mapped, not written: they stay holes).
bool dense(uint64_t mib)
{
	return mib <= 1024;
}

cow_tree *build(uint64_t mib, bool with_data)
{
	cow_tree *t = cow_tree_create(store());
	uint64_t step = dense(mib) ? kPage : kLeafSpan;

	if (!t)
		die("cow_tree_create");
	for (uint64_t gpa = 0; gpa < mib * kMiB; gpa += step) {
		int64_t f = cow_tree_frame_for_write(t, gpa);

		if (f < 0)
			die("cow_tree_frame_for_write");
		if (with_data)
			*(uint64_t *)cow_frame_ptr(store(), (uint32_t)f) = gpa;
	}
	return t;
}

// One populated tree per size, built on first use and kept for the run.
cow_tree *tree_of(uint64_t mib, bool with_data = false)
{
	static std::map<std::pair<uint64_t, bool>, cow_tree *> trees;
	cow_tree *&t = trees[{mib, with_data}];

	if (!t)
		t = build(mib, with_data);
	return t;
}

double seconds_since(Clock::time_point t0)
{
	return std::chrono::duration<double>(Clock::now() - t0).count();
}

void label(benchmark::State &st, uint64_t mib)
{
	st.SetLabel(dense(mib) ? "every page mapped" : "one page per 2 MiB");
}

// Time of one iteration covers `ops` operations; report.py divides by the
// "batch" counter to give the time per operation.
void batch(benchmark::State &st, int ops)
{
	st.counters["batch"] = ops;
}

// Fork only: a batch of forks is timed, the children are destroyed after
// the clock stops.
void BM_Fork(benchmark::State &st)
{
	constexpr int kBatch = 64;
	uint64_t mib = (uint64_t)st.range(0);
	cow_tree *parent = tree_of(mib);
	cow_tree *kids[kBatch];

	for (auto _ : st) {
		auto t0 = Clock::now();
		for (auto &k : kids)
			k = cow_tree_fork(parent);
		st.SetIterationTime(seconds_since(t0));
		for (auto k : kids) {
			if (!k)
				die("cow_tree_fork");
			cow_tree_destroy(k);
		}
	}
	label(st, mib);
	batch(st, kBatch);
}

// Baseline: "fork" by building a whole new table one page at a time,
// taking a reference on every frame (what per-page table copying costs).
void BM_NaiveFork(benchmark::State &st)
{
	uint64_t mib = (uint64_t)st.range(0);
	cow_tree *parent = tree_of(mib);

	for (auto _ : st) {
		auto t0 = Clock::now();
		cow_tree *k = cow_tree_fork_naive(parent);
		st.SetIterationTime(seconds_since(t0));
		if (!k)
			die("cow_tree_fork_naive");
		cow_tree_destroy(k);
	}
	label(st, mib);
}

// First write to a page of a fresh fork of a 64 MiB tree holding data.
// stride = pages between writes: 512 puts every write in a new leaf table
// (table copy + frame copy), 1 writes neighbours (mostly frame copies).
void BM_FirstWrite(benchmark::State &st)
{
	constexpr int kPages = 32;
	uint64_t stride = (uint64_t)st.range(0) * kPage;
	cow_tree *parent = tree_of(64, true);
	uint8_t byte = 1;

	for (auto _ : st) {
		cow_tree *k = cow_tree_fork(parent);
		if (!k)
			die("cow_tree_fork");
		auto t0 = Clock::now();
		for (int i = 0; i < kPages; i++)
			if (cow_tree_write(k, i * stride + 8, &byte, 1))
				die("cow_tree_write");
		st.SetIterationTime(seconds_since(t0));
		cow_tree_destroy(k);
	}
	batch(st, kPages);
}

// Destroy of a forked 1 GiB tree that wrote `dirty` pages (one per leaf
// table).
void BM_DestroyFork(benchmark::State &st)
{
	constexpr int kBatch = 16;
	uint64_t dirty = (uint64_t)st.range(0);
	cow_tree *parent = tree_of(1024);
	cow_tree *kids[kBatch];
	uint8_t byte = 1;

	for (auto _ : st) {
		for (auto &k : kids) {
			k = cow_tree_fork(parent);
			if (!k)
				die("cow_tree_fork");
			for (uint64_t i = 0; i < dirty; i++)
				if (cow_tree_write(k, i * kLeafSpan, &byte, 1))
					die("cow_tree_write");
		}
		auto t0 = Clock::now();
		for (auto k : kids)
			cow_tree_destroy(k);
		st.SetIterationTime(seconds_since(t0));
	}
	batch(st, kBatch);
}

// Reset a fork of a 1 GiB snapshot after it dirtied n pages spread evenly
// over the snapshot; only the reset is timed.
void BM_Reset(benchmark::State &st)
{
	uint64_t n = (uint64_t)st.range(0);
	uint64_t stride = (1024 * kMiB / n) & ~(kPage - 1);
	cow_tree *snap = tree_of(1024);
	cow_tree *k = cow_tree_fork(snap);
	uint8_t byte = 1;

	if (!k)
		die("cow_tree_fork");
	for (auto _ : st) {
		for (uint64_t i = 0; i < n; i++)
			if (cow_tree_write(k, i * stride, &byte, 1))
				die("cow_tree_write");
		auto t0 = Clock::now();
		if (cow_tree_reset(k, snap))
			die("cow_tree_reset");
		st.SetIterationTime(seconds_since(t0));
	}
	cow_tree_destroy(k);
}

// A fuzzing-style cycle on a fork of a 1 GiB snapshot: dirty n pages
// (spread evenly), then reset; both timed.
void BM_ResetCycle(benchmark::State &st)
{
	uint64_t n = (uint64_t)st.range(0);
	uint64_t stride = (1024 * kMiB / n) & ~(kPage - 1);
	cow_tree *snap = tree_of(1024);
	cow_tree *k = cow_tree_fork(snap);
	uint8_t byte = 1;

	if (!k)
		die("cow_tree_fork");
	for (auto _ : st) {
		auto t0 = Clock::now();
		for (uint64_t i = 0; i < n; i++)
			if (cow_tree_write(k, i * stride, &byte, 1))
				die("cow_tree_write");
		if (cow_tree_reset(k, snap))
			die("cow_tree_reset");
		st.SetIterationTime(seconds_since(t0));
	}
	cow_tree_destroy(k);
}

// Free 4096 written frames (destroy + trim) with freed frames discarded in
// batches of range(0): 1 = one hole punch per frame.
void BM_FreeFrames(benchmark::State &st)
{
	constexpr uint64_t kPages = 4096;
	cow_store_config cfg = {};
	cfg.max_frames = 1u << 16;
	cfg.max_tables = 1u << 12;
	cfg.punch_batch = (uint32_t)st.range(0);
	cow_store *s = cow_store_create(&cfg);
	std::vector<uint8_t> data(kPages * kPage, 0x5a);

	if (!s)
		die("cow_store_create");
	for (auto _ : st) {
		cow_tree *t = cow_tree_create(s);
		if (!t || cow_tree_write(t, 0, data.data(), data.size()))
			die("populate");
		auto t0 = Clock::now();
		cow_tree_destroy(t);
		cow_store_trim(s);
		st.SetIterationTime(seconds_since(t0));
	}
	batch(st, (int)kPages);
	cow_store_destroy(s);
}

// Every benchmark reports medians over kReps repetitions (plus each run).
void common(benchmark::internal::Benchmark *b)
{
	b->UseManualTime()
		->Repetitions(kReps)
		->ReportAggregatesOnly(false)
		->MinTime(kMinTime)
		->Unit(benchmark::kNanosecond);
}

} // namespace

BENCHMARK(BM_Fork)->Apply(common)->Arg(64)->Arg(1024)->Arg(16384)->Arg(65536);
BENCHMARK(BM_NaiveFork)
	->Apply(common)
	->Arg(64)
	->Arg(1024)
	->Arg(16384)
	->Arg(65536);
BENCHMARK(BM_FirstWrite)->Apply(common)->Arg(512)->Arg(1);
BENCHMARK(BM_DestroyFork)->Apply(common)->Arg(0)->Arg(64);
BENCHMARK(BM_Reset)->Apply(common)->Arg(1)->Arg(16)->Arg(256)->Arg(4096);
BENCHMARK(BM_ResetCycle)->Apply(common)->Arg(1)->Arg(16)->Arg(256)->Arg(4096);
BENCHMARK(BM_FreeFrames)->Apply(common)->Arg(1)->Arg(32)->Arg(256)->Arg(4096);

BENCHMARK_MAIN();
