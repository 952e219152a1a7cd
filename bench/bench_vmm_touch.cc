// bench-vmm's first-touch and reset family: first reads and writes of
// shared pages in a clone per memory mode, and cowvm_reset by pages
// dirtied and by VM size.
#include "bench_vmm.h"

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
	label(st, mode_name(mode) + ": (cold - warm guest round) / 4096 pages, "
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
	label(st, mode_name(mode) +
			  ": (round writing 1024 pages - round writing 0) / "
			  "1024, incl. 4 KiB guest fill per page");
	batch(st, (double)kWritePages);
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
	uint64_t mib = (uint64_t)st.range(0);
	Parent *p = reset_parent(mib);
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

// The first run of a 1 GiB clone whose guest reads all its RAM (a forktest
// round after the snapshot), by where the clone comes from: range(0) = 0,
// a new clone (a pool VM realized now); 1, a respawned spare (a clone that
// ran the same round, destroyed and reset into a spare: its KVM mappings
// warm); 2, a clone made ahead (cowvm_snapshot_ahead) after one clone
// ran that round: realized and warmed for the pages that clone touched
// before the clock starts.
void BM_FirstRun1G(benchmark::State &st)
{
	static const char *const kinds[] = {"new clone", "respawned spare",
					    "made ahead"};
	int kind = (int)st.range(0);
	Parent *p = sized(1024);
	double warmed = 0;

	if (kind) { // one clone runs the round: a spare, or the record
		if (kind == 2 && cowvm_snapshot_ahead(p->snap, 1))
			die("cowvm_snapshot_ahead: %s", cowvm_error(NULL));
		cowvm_snapshot_keep(p->snap, 1);
		cowvm *c = clone_of(p);
		run_to_snapshot(c, 2);
		if (kind == 2) { // not a spare: the next ones are made ahead
			cowvm_snapshot_ahead(p->snap, 0);
			cowvm_snapshot_keep(p->snap, 0);
		}
		cowvm_destroy(c);
	}
	for (auto _ : st) {
		if (kind == 2 && cowvm_snapshot_ahead(p->snap, 1))
			die("cowvm_snapshot_ahead: %s", cowvm_error(NULL));
		settle();
		cowvm *c = clone_of(p);
		struct cowvm_mem_stats ms;
		if (cowvm_mem_stats(c, &ms))
			die("cowvm_mem_stats: %s", cowvm_error(c));
		warmed += (double)ms.pages_prefaulted;
		if (kind == 2) { // the next one is made ahead again
			cowvm_snapshot_ahead(p->snap, 0);
			cowvm_snapshot_keep(p->snap, 0);
		}
		st.SetIterationTime(timed_round(c, 2));
		cowvm_destroy(c);
	}
	cowvm_snapshot_keep(p->snap, 0);
	st.counters["pages_prefaulted"] = warmed / (double)st.iterations();
	label(st, std::string(kinds[kind]) +
			  ": first run, the guest reads its 1 GiB of RAM");
	batch(st, 1);
}
