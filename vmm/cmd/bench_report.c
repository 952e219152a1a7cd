/* `cowvm bench`'s baseline and output: host fork() of a process holding the
 * same touched memory (a fresh copy of this program, so that nothing else
 * is copied), and the table and JSON of the figures. */
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"

extern char **environ;

static const char *const bench_names[BENCH_NOPS] = {
	[BENCH_SNAPSHOT] = "snapshot",	 [BENCH_CLONE] = "clone",
	[BENCH_FIRST_RUN] = "first_run", [BENCH_FORK] = "fork",
	[BENCH_RESET] = "reset",	 [BENCH_RESET_RUN] = "run_after_reset",
	[BENCH_HOST_FORK] = "host_fork",
};

static const char *const bench_titles[BENCH_NOPS] = {
	[BENCH_SNAPSHOT] = "snapshot of the template",
	[BENCH_CLONE] = "clone (warm VM pool)",
	[BENCH_FIRST_RUN] = "first run of a clone",
	[BENCH_FORK] = "fork of the template",
	[BENCH_RESET] = "reset of a clone that ran",
	[BENCH_RESET_RUN] = "run after a reset",
	[BENCH_HOST_FORK] = "host fork(), same memory touched",
};

/* The helper: touch bytes of anonymous memory, then fork n children that
 * _exit at once, writing each fork()'s microseconds to stdout. */
int bench_fork_helper(uint64_t bytes, unsigned n)
{
	size_t len = bytes ? (size_t)bytes : 4096;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return 1;
	for (size_t off = 0; off < len; off += 4096)
		m[off] = 1;
	for (unsigned i = 0; i < n; i++) {
		double t0 = cli_now_us(), us;
		pid_t c = fork();

		if (c == 0)
			_exit(0);
		us = cli_now_us() - t0;
		if (c < 0 || waitpid(c, NULL, 0) != c ||
		    write(1, &us, sizeof(us)) != (ssize_t)sizeof(us))
			return 1;
	}
	return 0;
}

/* Read exactly n bytes from fd into p; 0 or -1. */
static int bench_read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t k = read(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Run this program as the fork helper (bench --fork-helper) and collect
 * its n timings. */
int bench_host_fork(uint64_t touched, double *lat, unsigned n)
{
	char bytes[32], count[16];
	char *argv[] = {"cowvm", "bench", "--fork-helper", bytes, count, NULL};
	posix_spawn_file_actions_t fa;
	int p[2], status = 0, r;
	pid_t pid;

	snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)touched);
	snprintf(count, sizeof(count), "%u", n);
	if (pipe(p))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	r = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (!r && bench_read_all(p[0], lat, n * sizeof(*lat)))
		r = EIO;
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		r = r ? r : EIO;
	if (r)
		fprintf(stderr,
			"cowvm bench: the host fork() helper failed: "
			"%s\n",
			strerror(r));
	return r ? -1 : 0;
}

/* Percentile pct of sorted v[0, n) (nearest rank); 0 if n is 0. */
static double bench_pct(const double *v, unsigned n, double pct)
{
	unsigned k;

	if (!n)
		return 0;
	k = (unsigned)(pct / 100.0 * n + 0.999999);
	return v[k ? k - 1 : 0];
}

/* Sort every latency list of r. */
static void bench_sort(struct bench_result *r)
{
	for (int op = 0; op < BENCH_NOPS; op++)
		cli_sort_doubles(r->lat[op], r->n[op]);
}

/* Print r as a table to f. */
void bench_print_table(FILE *f, struct bench_result *r)
{
	double fork50;

	bench_sort(r);
	fork50 = bench_pct(r->lat[BENCH_HOST_FORK], r->n[BENCH_HOST_FORK], 50);
	fprintf(f,
		"cowvm bench %s: %llu MiB of RAM, %.1f MiB touched at the "
		"snapshot, %u of each\n",
		r->guest, (unsigned long long)(r->mem >> 20),
		(double)r->touched / (1 << 20), r->count);
	fprintf(f, "%-34s %12s %12s %10s\n", "operation", "p50 us", "p99 us",
		"vs fork()");
	for (int op = 0; op < BENCH_NOPS; op++) {
		double p50 = bench_pct(r->lat[op], r->n[op], 50);

		fprintf(f, "%-34s %12.1f %12.1f", bench_titles[op], p50,
			bench_pct(r->lat[op], r->n[op], 99));
		if (op != BENCH_HOST_FORK && p50 > 0 && fork50 > 0)
			fprintf(f, " %9.2fx", p50 / fork50);
		fputc('\n', f);
	}
	fprintf(f,
		"first snapshot (after boot): %.1f us; memory per clone after "
		"its first run: %.1f KiB (%llu private pages, %.1f KiB of "
		"tables)\n",
		r->first_snapshot_us,
		(double)(r->clone_pages * 4096 + r->clone_table_bytes) / 1024,
		(unsigned long long)r->clone_pages,
		(double)r->clone_table_bytes / 1024);
}

/* Print s as a JSON string (the few characters a path may need escaped). */
static void bench_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* Print r as one JSON object to f. */
void bench_print_json(FILE *f, struct bench_result *r)
{
	bench_sort(r);
	fprintf(f, "{\"guest\": ");
	bench_json_str(f, r->guest);
	fprintf(f,
		", \"mem_bytes\": %llu, \"touched_bytes\": %llu, \"count\": "
		"%u, \"first_snapshot_us\": %.3f, \"clone_private_pages\": "
		"%llu, \"clone_table_bytes\": %llu, \"clone_memory_bytes\": "
		"%llu, \"us\": {",
		(unsigned long long)r->mem, (unsigned long long)r->touched,
		r->count, r->first_snapshot_us,
		(unsigned long long)r->clone_pages,
		(unsigned long long)r->clone_table_bytes,
		(unsigned long long)(r->clone_pages * 4096 +
				     r->clone_table_bytes));
	for (int op = 0; op < BENCH_NOPS; op++)
		fprintf(f,
			"%s\"%s\": {\"p50\": %.3f, \"p99\": %.3f, \"n\": %u}",
			op ? ", " : "", bench_names[op],
			bench_pct(r->lat[op], r->n[op], 50),
			bench_pct(r->lat[op], r->n[op], 99), r->n[op]);
	fprintf(f, "}}\n");
}
