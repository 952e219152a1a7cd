/* cow-demo: fork trees of growing size and show that fork cost does not grow.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cow.h"

#define MiB	    (1ull << 20)
#define GiB	    (1ull << 30)
#define FORK_RUNS   9
#define NAIVE_RUNS  3
#define DENSE_LIMIT GiB /* up to here every page is mapped */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void die(const char *what, int err)
{
	fprintf(stderr, "cow-demo: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Map every page (dense) or one page per 2 MiB, each holding its gpa. */
static struct cow_tree *populate(struct cow_store *s, uint64_t size)
{
	struct cow_tree *t = cow_tree_create(s);
	uint64_t step = size <= DENSE_LIMIT ? COW_PAGE_SIZE : 2 * MiB, gpa;

	if (!t)
		die("cow_tree_create", errno);
	for (gpa = 0; gpa < size; gpa += step) {
		int r = cow_tree_write(t, gpa, &gpa, sizeof(gpa));

		if (r)
			die("cow_tree_write", -r);
	}
	return t;
}

/* Median latency of FORK_RUNS forks of t, in microseconds. */
static double fork_us(struct cow_tree *t)
{
	double v[FORK_RUNS];
	int i;

	for (i = 0; i < FORK_RUNS; i++) {
		double t0 = now_us();
		struct cow_tree *c = cow_tree_fork(t);

		v[i] = now_us() - t0;
		if (!c)
			die("cow_tree_fork", errno);
		cow_tree_destroy(c);
	}
	return median(v, FORK_RUNS);
}

/* Median latency of a first write to one page of a fresh fork of t, in
 * microseconds (copies the path of tables and the frame). */
static double write_us(struct cow_tree *t, uint64_t gpa)
{
	double v[FORK_RUNS];
	uint64_t x = 42;
	int i, r;

	for (i = 0; i < FORK_RUNS; i++) {
		struct cow_tree *c = cow_tree_fork(t);
		double t0;

		if (!c)
			die("cow_tree_fork", errno);
		t0 = now_us();
		r = cow_tree_write(c, gpa, &x, sizeof(x));
		v[i] = now_us() - t0;
		if (r)
			die("cow_tree_write", -r);
		cow_tree_destroy(c);
	}
	return median(v, FORK_RUNS);
}

/* Median time of NAIVE_RUNS page-by-page table copies, in microseconds. */
static double naive_us(struct cow_tree *t)
{
	double v[NAIVE_RUNS];
	int i;

	for (i = 0; i < NAIVE_RUNS; i++) {
		double t0 = now_us();
		struct cow_tree *c = cow_tree_fork_naive(t);

		v[i] = now_us() - t0;
		if (!c)
			die("cow_tree_fork_naive", errno);
		cow_tree_destroy(c);
	}
	return median(v, NAIVE_RUNS);
}

static void row(struct cow_store *s, uint64_t size)
{
	struct cow_tree *p = populate(s, size), *c;
	struct cow_stats ps, cs;
	char pages[48], kib[48];
	double fork = fork_us(p), write = write_us(p, size / 2);
	double naive = naive_us(p);
	uint64_t x = 42;
	int r;

	c = cow_tree_fork(p);
	if (!c)
		die("cow_tree_fork", errno);
	r = cow_tree_write(c, size / 2, &x, sizeof(x));
	if (r)
		die("cow_tree_write", -r);
	cow_tree_stats(p, &ps);
	cow_tree_stats(c, &cs);
	snprintf(pages, sizeof(pages), "%llu/%llu",
		 (unsigned long long)cs.pages_private,
		 (unsigned long long)cs.pages_shared);
	snprintf(kib, sizeof(kib), "%.1f/%.1f",
		 (double)cs.table_private_bytes / 1024,
		 (double)cs.table_bytes / 1024);
	printf("%3llu %s %8llu %8.2f %8.2f %10.1f %9.0fx %10.1f %16s %s\n",
	       (unsigned long long)(size >= GiB ? size / GiB : size / MiB),
	       size >= GiB ? "GiB" : "MiB", (unsigned long long)ps.pages_mapped,
	       fork, write, naive, naive / fork, (double)ps.table_bytes / 1024,
	       pages, kib);
	cow_tree_destroy(c);
	cow_tree_destroy(p);
}

int main(void)
{
	static const uint64_t sizes[] = {64 * MiB, GiB, 16 * GiB, 64 * GiB};
	struct cow_store *s = cow_store_create(NULL);
	size_t i;

	if (!s)
		die("cow_store_create", errno);
	printf("cowvm engine: fork shares every table below the root.\n"
	       "Up to 1 GiB every page is mapped; above, one page per 2 MiB "
	       "(every leaf table exists).\n"
	       "fork and write (first write to a page after fork): medians of "
	       "%d; "
	       "naive: table rebuilt\npage by page (frames shared), median of "
	       "%d. Child columns: a fork after one write.\n\n",
	       FORK_RUNS, NAIVE_RUNS);
	printf("%7s %8s %8s %8s %10s %10s %10s %16s %-s\n", "size", "pages",
	       "fork us", "write us", "naive us", "naive/fork", "table KiB",
	       "child pages", "child KiB");
	printf("%7s %8s %8s %8s %10s %10s %10s %16s %s\n", "", "", "", "", "",
	       "", "", "priv/shared", "priv/total");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		row(s, sizes[i]);
	cow_store_destroy(s);
	return 0;
}
