/* `cowvm bench`'s measurements: each operation timed count times on the
 * template and its clones, through the public API only. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "cowvm_abi.h"

#define BENCH_POOL    2	    /* VMs the pool keeps ready */
#define BENCH_WAIT_MS 10000 /* longest wait for a ready pool VM */

/* Run vm to its next stop (a snapshot request or an exit), its stdio
 * empty; the microseconds it took, or -1 after one line on stderr. */
static double bm_run(struct cowvm *vm, const char *who)
{
	double t0 = cli_now_us();
	struct cowvm_exit e = {0};

	if (cowvm_set_stdio(vm, -1, -1, -1) || cowvm_run(vm, &e) ||
	    (e.reason != COWVM_EXIT_SNAPSHOT && e.reason != COWVM_EXIT_GUEST &&
	     e.reason != COWVM_EXIT_SIGNAL)) {
		fprintf(stderr, "cowvm bench: %s: %s\n", who,
			e.detail[0] ? e.detail : cowvm_error(vm));
		return -1;
	}
	return cli_now_us() - t0;
}

/* Record v as the next value of op; v < 0 (a failure) gives -1. */
static int bm_put(struct bench_result *r, enum bench_op op, double v)
{
	if (v < 0)
		return -1;
	r->lat[op][r->n[op]++] = v;
	return 0;
}

/* The first snapshot of tmpl into *snap, then count more, each put. */
static int bm_snapshots(struct cowvm *tmpl, struct bench_result *r,
			struct cowvm_snapshot **snap)
{
	double t0 = cli_now_us();

	*snap = cowvm_snapshot(tmpl);
	r->first_snapshot_us = cli_now_us() - t0;
	if (!*snap)
		goto bad;
	for (unsigned i = 0; i < r->count; i++) {
		struct cowvm_snapshot *s;

		t0 = cli_now_us();
		s = cowvm_snapshot(tmpl);
		if (!s)
			goto bad;
		bm_put(r, BENCH_SNAPSHOT, cli_now_us() - t0);
		cowvm_snapshot_put(s);
	}
	return 0;
bad:
	fprintf(stderr, "cowvm bench: snapshot: %s\n", cowvm_error(tmpl));
	return -1;
}

/* A clone of snap from a warm pool, timed as op unless op is BENCH_NOPS;
 * NULL after a line on stderr. */
static struct cowvm *bm_clone(const struct cowvm_config *cfg,
			      struct cowvm_snapshot *snap,
			      struct bench_result *r, enum bench_op op)
{
	struct cowvm *c;
	double t0;

	cowvm_pool_wait(cfg, BENCH_WAIT_MS);
	t0 = cli_now_us();
	c = cowvm_clone(snap);
	if (!c) {
		fprintf(stderr, "cowvm bench: clone: %s\n", cowvm_error(NULL));
		return NULL;
	}
	if (op < BENCH_NOPS)
		bm_put(r, op, cli_now_us() - t0);
	return c;
}

/* count clones, each run to its next stop and measured, then destroyed;
 * the medians of their private pages and table bytes into r. */
static int bm_clones(const struct cowvm_config *cfg,
		     struct cowvm_snapshot *snap, struct bench_result *r)
{
	double *pages = calloc(r->count, sizeof(*pages));
	double *tables = calloc(r->count, sizeof(*tables));
	int err = pages && tables ? 0 : -1;

	for (unsigned i = 0; !err && i < r->count; i++) {
		struct cowvm *c = bm_clone(cfg, snap, r, BENCH_CLONE);
		struct cowvm_mem_stats ms;

		err = c ? bm_put(r, BENCH_FIRST_RUN, bm_run(c, "a clone's run"))
			: -1;
		if (!err && cowvm_mem_stats(c, &ms) == 0) {
			pages[i] = (double)ms.pages_private;
			tables[i] = (double)ms.table_private_bytes;
		}
		cowvm_destroy(c);
	}
	if (!err) {
		r->clone_pages = (uint64_t)cli_median(pages, r->count);
		r->clone_table_bytes = (uint64_t)cli_median(tables, r->count);
	}
	free(pages);
	free(tables);
	return err;
}

/* count forks of tmpl (the pool warm), each destroyed at once. */
static int bm_forks(const struct cowvm_config *cfg, struct cowvm *tmpl,
		    struct bench_result *r)
{
	for (unsigned i = 0; i < r->count; i++) {
		struct cowvm *f;
		double t0;

		cowvm_pool_wait(cfg, BENCH_WAIT_MS);
		t0 = cli_now_us();
		f = cowvm_fork(tmpl);
		if (!f) {
			fprintf(stderr, "cowvm bench: fork: %s\n",
				cowvm_error(tmpl));
			return -1;
		}
		bm_put(r, BENCH_FORK, cli_now_us() - t0);
		cowvm_destroy(f);
	}
	return 0;
}

/* One clone run once, then count times reset to snap and run again. */
static int bm_resets(const struct cowvm_config *cfg,
		     struct cowvm_snapshot *snap, struct bench_result *r)
{
	struct cowvm *c = bm_clone(cfg, snap, r, BENCH_NOPS);
	int err = c && bm_run(c, "a clone's run") >= 0 ? 0 : -1;

	for (unsigned i = 0; !err && i < r->count; i++) {
		double t0 = cli_now_us();

		if (cowvm_reset(c, snap)) {
			fprintf(stderr, "cowvm bench: reset: %s\n",
				cowvm_error(c));
			err = -1;
			break;
		}
		bm_put(r, BENCH_RESET, cli_now_us() - t0);
		err = bm_put(r, BENCH_RESET_RUN,
			     bm_run(c, "a run after reset"));
	}
	cowvm_destroy(c);
	return err;
}

/* Bytes of vm's RAM [gpa, gpa + len) in pages that are not all zero: what
 * the guest touched (read through the host, so nothing is copied). */
static uint64_t bm_nonzero(struct cowvm *vm, uint64_t gpa, uint64_t len)
{
	static const uint8_t zero[4096];
	static uint8_t buf[1 << 20];
	uint64_t n = 0;

	for (uint64_t off = 0; off < len; off += sizeof(buf)) {
		uint64_t k = len - off < sizeof(buf) ? len - off : sizeof(buf);

		if (cowvm_read(vm, gpa + off, buf, k))
			return n;
		for (uint64_t p = 0; p < k; p += 4096)
			n += memcmp(buf + p, zero, 4096) ? 4096 : 0;
	}
	return n;
}

/* Bytes of the template's RAM that are not zero pages. */
static uint64_t bm_touched(struct cowvm *tmpl, uint64_t mem)
{
	uint64_t low = mem < COWVM_LOW_MEM_MAX ? mem : COWVM_LOW_MEM_MAX;

	return bm_nonzero(tmpl, 0, low) +
	       bm_nonzero(tmpl, COWVM_HIGH_MEM_BASE, mem - low);
}

/* Every measurement of bench_op on tmpl. */
int bench_measure(const struct cowvm_config *cfg, struct cowvm *tmpl,
		  const char *guest, unsigned count, struct bench_result *r)
{
	struct cowvm_snapshot *snap = NULL;
	int err = 0;

	r->guest = guest;
	r->mem = cfg->mem_size;
	r->count = count;
	for (int op = 0; op < BENCH_NOPS && !err; op++)
		err = (r->lat[op] = calloc(count, sizeof(double))) ? 0 : -1;
	if (err) {
		fprintf(stderr, "cowvm bench: out of memory\n");
		return -1;
	}
	r->touched = bm_touched(tmpl, cfg->mem_size);
	if (cowvm_pool_reserve(cfg, BENCH_POOL))
		fprintf(stderr, "cowvm bench: no VM pool: clones create "
				"their VMs\n");
	err = bm_snapshots(tmpl, r, &snap);
	if (!err)
		err = bm_clones(cfg, snap, r);
	if (!err)
		err = bm_forks(cfg, tmpl, r);
	if (!err)
		err = bm_resets(cfg, snap, r);
	cowvm_snapshot_put(snap);
	cowvm_pool_reserve(cfg, 0);
	if (!err)
		err = bench_host_fork(r->touched, r->lat[BENCH_HOST_FORK],
				      count);
	if (!err)
		r->n[BENCH_HOST_FORK] = count;
	return err;
}
