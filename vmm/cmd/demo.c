/* `cowvm demo`: boot the guest, fill its memory, fork clones and print, per
 * memory size, fork latency and the memory each clone adds. */
#include <stdio.h>

#include "cowvm.h"
#include "cli.h"
#include "demo.h"
#include "template.h"

#define DEMO_CLONES	  8
#define DEMO_CLONE_PAGES  256 /* pages each clone writes: 1 MiB */
#define DEMO_RESERVED_MIB 16  /* RAM below the filled region and above it */

struct demo_row {
	uint64_t mem;
	double fill_ms, snapshot_us, clone_us, fork_us;
	double clone_run_ms;		   /* a new clone's run to the end */
	double respawn_us, respawn_run_ms; /* the same from a spare */
	double host_kib; /* host memory added per clone (/proc/meminfo) */
	uint64_t private_pages, shared_pages; /* per clone, cowvm's view */
};

/* Memory this process holds privately for its guests, in KiB: anonymous
 * pages (written copies) and its page tables. */
static long demo_host_kib(void)
{
	return cli_proc_kib("/proc/self/smaps_rollup", "Anonymous:") +
	       cli_proc_kib("/proc/self/status", "VmPTE:");
}

/* Run vm until the guest exits, adding the milliseconds it took to *ms
 * when ms is not NULL; 0 if it exited with status 0. */
static int demo_finish(struct cowvm *vm, const char *who, double *ms)
{
	double t0 = cli_now_us();
	struct cowvm_exit e;

	if (cowvm_run(vm, &e) < 0 || e.reason != COWVM_EXIT_GUEST || e.status) {
		fprintf(stderr, "cowvm demo: %s did not finish cleanly: %s\n",
			who, e.detail);
		return -1;
	}
	if (ms)
		*ms = (cli_now_us() - t0) / 1e3;
	return 0;
}

/* Boot a guest of row->mem that fills its RAM and stops at its snapshot
 * request; NULL on failure (message printed). */
static struct cowvm *demo_boot(const char *elf, struct demo_row *row)
{
	struct cmd_boot b = {.elf = elf, .any_tag = 1};
	struct cowvm_config cfg;
	char cmd[128], err[512];

	cowvm_config_init(&cfg);
	cfg.mem_size = row->mem;
	cfg.console_fd = -1;
	snprintf(cmd, sizeof(cmd), "forktest seed=1 mib=%llu rounds=1 pages=%d",
		 (unsigned long long)(row->mem >> 20) - DEMO_RESERVED_MIB,
		 DEMO_CLONE_PAGES);
	b.cmdline = cmd;
	if (cmd_template_boot(&b, &cfg, err, sizeof(err))) {
		if (b.step == CMD_BOOT_CREATE)
			fprintf(stderr, "cowvm demo: %s\n", cowvm_error(NULL));
		else
			fprintf(stderr,
				"cowvm demo: guest did not reach its snapshot: "
				"%s\n",
				err);
		return NULL;
	}
	row->fill_ms = b.load_ms + b.run_ms;
	if (cowvm_pool_reserve(&cfg, DEMO_CLONES) ||
	    cowvm_pool_wait(&cfg, 60000))
		fprintf(stderr, "cowvm demo: the VM pool is not ready; clones "
				"will create VMs themselves\n");
	return b.vm;
}

/* Clone snap DEMO_CLONES times (timed), run every clone to its end (each
 * writes 1 MiB) and measure what they add; 0 or -1. */
static int demo_clones(struct cowvm_snapshot *snap, struct demo_row *row)
{
	struct cowvm *clone[DEMO_CLONES];
	double lat[DEMO_CLONES], run[DEMO_CLONES];
	long host0 = demo_host_kib();
	struct cowvm_mem_stats st = {0};
	int n, err = 0;

	for (n = 0; n < DEMO_CLONES; n++) {
		double t0 = cli_now_us();

		clone[n] = cowvm_clone(snap);
		lat[n] = cli_now_us() - t0;
		if (!clone[n]) {
			fprintf(stderr, "cowvm demo: clone: %s\n",
				cowvm_error(NULL));
			err = -1;
			break;
		}
		cowvm_set_snapshot_ret(clone[n], n + 1);
		if (!err)
			err = demo_finish(clone[n], "a clone", &run[n]);
	}
	if (!err) {
		row->clone_us = cli_median(lat, (size_t)n);
		row->clone_run_ms = cli_median(run, (size_t)n);
		row->host_kib = (double)(demo_host_kib() - host0) / n;
		err = cowvm_mem_stats(clone[0], &st) ? -1 : 0;
		row->private_pages = st.pages_private;
		row->shared_pages = st.pages_shared;
	}
	while (n--)
		cowvm_destroy(clone[n]);
	return err;
}

/* With snap keeping a spare, DEMO_CLONES times destroy a clone that wrote
 * 1 MiB and clone again (timed: the spare's reset and its take), then run
 * it to its end (timed apart); 0 or -1. */
static int demo_respawns(struct cowvm_snapshot *snap, struct demo_row *row)
{
	double lat[DEMO_CLONES], run[DEMO_CLONES];
	struct cowvm *c;
	int err;

	cowvm_snapshot_keep(snap, 1);
	c = cowvm_clone(snap);
	err = c ? demo_finish(c, "a clone", NULL) : -1;
	for (int i = 0; !err && i < DEMO_CLONES; i++) {
		double t0 = cli_now_us();

		cowvm_destroy(c);
		c = cowvm_clone(snap);
		lat[i] = cli_now_us() - t0;
		if (c)
			cowvm_set_snapshot_ret(c, i + 1);
		err = c ? demo_finish(c, "a respawned clone", &run[i]) : -1;
	}
	if (!c)
		fprintf(stderr, "cowvm demo: clone: %s\n", cowvm_error(NULL));
	cowvm_destroy(c);
	cowvm_snapshot_keep(snap, 0);
	if (!err) {
		row->respawn_us = cli_median(lat, DEMO_CLONES);
		row->respawn_run_ms = cli_median(run, DEMO_CLONES);
	}
	return err;
}

/* Fork the stopped parent DEMO_CLONES times (timed, children destroyed);
 * 0 or -1. */
static int demo_forks(struct cowvm *parent, struct demo_row *row)
{
	double lat[DEMO_CLONES];

	for (int i = 0; i < DEMO_CLONES; i++) {
		double t0 = cli_now_us();
		struct cowvm *child = cowvm_fork(parent);

		lat[i] = cli_now_us() - t0;
		if (!child) {
			fprintf(stderr, "cowvm demo: fork: %s\n",
				cowvm_error(parent));
			return -1;
		}
		cowvm_destroy(child);
	}
	row->fork_us = cli_median(lat, DEMO_CLONES);
	return 0;
}

/* Measure one memory size into row; 0 or -1. */
static int demo_size(const char *elf, struct demo_row *row)
{
	struct cowvm_snapshot *snap;
	struct cowvm *vm = demo_boot(elf, row);
	double t0;
	int err;

	if (!vm)
		return -1;
	t0 = cli_now_us();
	snap = cowvm_snapshot(vm);
	row->snapshot_us = cli_now_us() - t0;
	if (!snap) {
		fprintf(stderr, "cowvm demo: snapshot: %s\n", cowvm_error(vm));
		cowvm_destroy(vm);
		return -1;
	}
	err = demo_clones(snap, row);
	if (!err)
		err = demo_respawns(snap, row);
	if (!err)
		err = demo_forks(vm, row);
	if (!err)
		err = demo_finish(vm, "the parent", NULL);
	cowvm_snapshot_put(snap);
	cowvm_destroy(vm);
	return err;
}

/* Print the table header and explain the columns. */
static void demo_header(void)
{
	printf("cowvm demo: per size, a guest fills its RAM and asks for a "
	       "snapshot;\n%d clones are made from it (from a pool of ready "
	       "VMs) and each runs to its end,\nreading its RAM and writing "
	       "1 MiB; %d times a clone that ran is destroyed and\ncloned "
	       "again (respawn: the snapshot keeps it as a spare and resets "
	       "it) and runs;\nthen the running parent is forked %d times. "
	       "Latencies are medians.\n\n",
	       DEMO_CLONES, DEMO_CLONES, DEMO_CLONES);
	printf("%8s %9s %10s %9s %8s %9s %8s %9s %11s %10s %11s\n", "guest",
	       "fill", "snapshot", "clone", "run", "respawn", "run", "fork",
	       "host/clone", "private", "shared");
}

/* Print one measured row. */
static void demo_print(const struct demo_row *r)
{
	printf("%6lluMi %7.1fms %8.1fus %7.1fus %6.1fms %7.1fus %6.1fms "
	       "%7.1fus %7.0f KiB %6.1f MiB %7.1f MiB\n",
	       (unsigned long long)(r->mem >> 20), r->fill_ms, r->snapshot_us,
	       r->clone_us, r->clone_run_ms, r->respawn_us, r->respawn_run_ms,
	       r->fork_us, r->host_kib, r->private_pages * 4096.0 / (1 << 20),
	       r->shared_pages * 4096.0 / (1 << 20));
}

/* cowvm demo [GUEST.elf]: the table for 64 MiB to 1 GiB; 0 or 1. */
int demo_main(int argc, char **argv)
{
	static const uint64_t sizes[] = {64ull << 20, 256ull << 20,
					 1024ull << 20};
	const char *elf = argc > 2 ? argv[2] : "build/guest/guest.elf";

	demo_header();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct demo_row row = {.mem = sizes[i]};

		if (demo_size(elf, &row))
			return 1;
		demo_print(&row);
		fflush(stdout);
	}
	printf("\nhost/clone: memory the process gained per live clone "
	       "(smaps_rollup Anonymous\n+ VmPTE);\nprivate/shared: one "
	       "clone's "
	       "pages as its guest page table counts them.\n");
	return 0;
}
