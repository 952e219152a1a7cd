/* `cowvm serve`'s figures: latency percentiles, the host memory of a
 * process (/proc and its memfds) and the memory per live clone. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

/* Microseconds on the monotonic clock. */
double serve_now_us(void)
{
	return cli_now_us();
}

/* Percentile p of n samples by nearest rank (sorts v); 0 if n is 0. */
double serve_percentile(double *v, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	cli_sort_doubles(v, n);
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	return v[(rank > n ? n : rank) - 1];
}

/* Median of n doubles (sorts v); 0 if n is 0. */
double serve_median(double *v, size_t n)
{
	return cli_median(v, n);
}

/* KiB allocated to the memfds this process holds open (cowvm's frame
 * store keeps guest pages in one; anonymous counters do not see them). */
static long serve_memfd_kib(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long kib = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], target[64];
		struct stat st;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 7 || memcmp(target, "/memfd:", 7) || stat(path, &st))
			continue;
		kib += (long)(st.st_blocks / 2);
	}
	closedir(d);
	return kib;
}

/* Anonymous memory (or, private_only, Private_Dirty + Private_Clean: what
 * no other process maps) plus page tables of pid (0: this process, whose
 * figure also adds its memfds' allocated memory). */
long serve_proc_kib(int pid, int private_only)
{
	char rollup[64], status[64];
	long a, b = 0, pte;

	if (pid)
		snprintf(rollup, sizeof(rollup), "/proc/%d/smaps_rollup", pid);
	else
		snprintf(rollup, sizeof(rollup), "/proc/self/smaps_rollup");
	snprintf(status, sizeof(status), "%.*s/status",
		 (int)(strlen(rollup) - strlen("/smaps_rollup")), rollup);
	if (private_only) {
		a = cli_proc_kib(rollup, "Private_Dirty:");
		b = cli_proc_kib(rollup, "Private_Clean:");
	} else {
		a = cli_proc_kib(rollup, "Anonymous:");
	}
	if (!pid)
		b = serve_memfd_kib();
	pte = cli_proc_kib(status, "VmPTE:");
	if (a < 0 || b < 0 || pte < 0)
		return -1;
	return a + b + pte;
}

/* Wait until this process's memory stops shrinking (the pool's reaper
 * frees discarded VMs in the background): up to 2 s. */
static long serve_settled_kib(void)
{
	long prev = serve_proc_kib(0, 0), cur = prev;

	for (int i = 0; i < 40; i++) {
		struct timespec ts = {0, 50 * 1000 * 1000};

		nanosleep(&ts, NULL);
		cur = serve_proc_kib(0, 0);
		if (cur >= prev)
			break;
		prev = cur;
	}
	return cur;
}

/* The clones of a memory measurement and what cowvm counts for them. */
struct serve_live {
	struct cowvm **vms;
	unsigned n;	    /* clones made so far, each to destroy */
	double priv, table; /* KiB, summed over them */
	const struct serve_handler *h;
	void *w; /* the handler's worker state */
};

/* Add clone l->n of t to l, after it served generated request l->n (its
 * answer OK and checked); 0, or -errno with err. */
static int serve_live_add(struct serve_template *t, struct serve_live *l,
			  char *err)
{
	const struct serve_handler *h = l->h;
	char buf[SERVE_REQ_GEN_MAX];
	size_t len = h->gen(h->ctx, l->n, buf, sizeof(buf));
	struct cowvm *vm = cowvm_clone(t->snap);
	struct serve_outcome o = {0};
	struct cowvm_mem_stats st;
	int ret;

	if (!vm) {
		ret = -errno;
		snprintf(err, SERVE_ERR_MAX, "clone: %s", cowvm_error(NULL));
		return ret;
	}
	l->vms[l->n++] = vm;
	h->serve(h->ctx, l->w, vm, buf, len, &o);
	if (!o.ret && h->check)
		h->check(h->ctx, l->w, buf, len, &o);
	ret = o.ret ? o.ret : o.failed || o.mismatched ? -EIO : 0;
	if (!ret && (ret = cowvm_mem_stats(vm, &st)))
		snprintf(o.msg, sizeof(o.msg), "%s", cowvm_error(vm));
	if (ret) {
		snprintf(err, SERVE_ERR_MAX, "%s", o.msg);
		return ret;
	}
	l->priv += (double)st.pages_private * 4.0;
	l->table += (double)st.table_private_bytes / 1024.0;
	return 0;
}

/* Measure memory per live clone of the built-in workload. */
int serve_measure_mem(struct serve_template *t, const struct serve_model *m,
		      enum serve_mode mode, unsigned k, struct serve_mem *out,
		      char *err)
{
	struct serve_handler h;

	serve_model_handler(m, &h);
	return serve_measure_handler_mem(t, &h, mode, k, out, err);
}

/* Take k clones up (reset or destroyed into spares as mode asks) and
 * read the process's memory before, with them alive and after; 0 or
 * -errno with err. */
static int serve_live_run(struct serve_template *t, struct serve_live *l,
			  enum serve_mode mode, unsigned k, long kib[3],
			  char *err)
{
	int ret = 0;

	cowvm_pool_reserve(&t->cfg, 0);
	cowvm_snapshot_keep(t->snap, serve_mode_spares(mode) ? k : 0);
	kib[0] = serve_settled_kib();
	while (!ret && l->n < k)
		ret = serve_live_add(t, l, err);
	kib[1] = serve_proc_kib(0, 0);
	for (unsigned i = 0; !ret && mode == SERVE_RESET && i < l->n; i++)
		if (cowvm_reset(l->vms[i], t->snap)) {
			ret = -EIO;
			snprintf(err, SERVE_ERR_MAX, "reset: %s",
				 cowvm_error(l->vms[i]));
		}
	while (serve_mode_spares(mode) && l->n)
		cowvm_destroy(l->vms[--l->n]);
	kib[2] = serve_proc_kib(0, 0);
	while (l->n)
		cowvm_destroy(l->vms[--l->n]);
	cowvm_snapshot_keep(t->snap, 0);
	return ret;
}

/* Measure memory per live clone of h's requests. */
int serve_measure_handler_mem(struct serve_template *t,
			      const struct serve_handler *h,
			      enum serve_mode mode, unsigned k,
			      struct serve_mem *out, char *err)
{
	struct serve_live l = {.vms = calloc(k ? k : 1, sizeof(*l.vms)),
			       .h = h};
	long kib[3]; /* base, live, idle */
	int ret;

	memset(out, 0, sizeof(*out));
	out->k = k;
	out->idle_kib = -1;
	if (!l.vms || !k) {
		free(l.vms);
		snprintf(err, SERVE_ERR_MAX, "%s",
			 k ? "out of memory" : "no clones to measure");
		return k ? -ENOMEM : -EINVAL;
	}
	l.w = h->worker_new(h->ctx, err);
	if (!l.w) {
		free(l.vms);
		return -ENOMEM;
	}
	ret = serve_live_run(t, &l, mode, k, kib, err);
	h->worker_free(l.w);
	free(l.vms);
	if (ret)
		return ret;
	if (kib[0] < 0 || kib[1] < 0 || kib[2] < 0) {
		snprintf(err, SERVE_ERR_MAX, "cannot read /proc/self: %s",
			 strerror(errno));
		return -EIO;
	}
	out->host_kib = (double)(kib[1] - kib[0]) / k;
	out->private_kib = l.priv / k;
	out->table_kib = l.table / k;
	if (mode != SERVE_CLONE)
		out->idle_kib = (double)(kib[2] - kib[0]) / k;
	return 0;
}
