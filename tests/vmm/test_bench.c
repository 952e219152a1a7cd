/* `cowvm bench`: the forktest guest and a static Linux program measured
 * with every operation counted and the clone's memory plausible, JSON and
 * table consistent; bad uses fail with one line and their status. */
#include <stdio.h>
#include <string.h>

#include "vmm_util.h"

#define COUNT 5

static const char *const ops[] = {"snapshot", "clone", "first_run",
				  "fork",     "reset", "run_after_reset",
				  "host_fork"};

/* Check op's {"p50": x, "p99": y, "n": COUNT} in the JSON at js. */
static void check_op(const char *js, const char *op)
{
	char key[64];
	const char *p;
	double p50, p99;
	unsigned n;

	snprintf(key, sizeof(key), "\"%s\": {", op);
	p = strstr(js, key);
	TEST_ASSERT(p, "no %s in %s", op, js);
	TEST_ASSERT_EQ(sscanf(p + strlen(key),
			      "\"p50\": %lf, \"p99\": %lf, \"n\": %u", &p50,
			      &p99, &n),
		       3, "%s: %s", op, p);
	TEST_ASSERT_EQ(n, COUNT, "%s count", op);
	TEST_ASSERT(p50 > 0 && p99 >= p50, "%s: p50 %g p99 %g", op, p50, p99);
}

/* The number after "key": in js. */
static double json_num(const char *js, const char *key)
{
	char k[64];
	const char *p;
	double v;

	snprintf(k, sizeof(k), "\"%s\": ", key);
	p = strstr(js, k);
	TEST_ASSERT(p && sscanf(p + strlen(k), "%lf", &v) == 1, "%s in %s", key,
		    js);
	return v;
}

/* cowvm bench with --json - and args: exit 0, every op counted, the table
 * on stderr; the JSON (static buffer). */
static const char *bench_ok(char **argv, const char *what)
{
	static struct cmd_result r;

	r = test_cmd(argv);
	TEST_ASSERT_EQ(r.status, 0, "%s: stderr:\n%s", what, r.err);
	TEST_ASSERT(strstr(r.err, "first run of a clone"), "%s: no table:\n%s",
		    what, r.err);
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		check_op(r.out, ops[i]);
	return r.out;
}

int main(int argc, char **argv)
{
	char *cowvm, *guest, *kernel, *busybox;
	const char *js;
	struct cmd_result r;

	TEST_ASSERT_EQ(argc, 5,
		       "usage: test-vmm-bench COWVM GUEST KERNEL "
		       "BUSYBOX");
	cowvm = argv[1], guest = argv[2], kernel = argv[3], busybox = argv[4];

	/* forktest fills 8 MiB, then each round writes 16 pages */
	js = bench_ok((char *[]){cowvm, "bench", "--count", "5", "--json", "-",
				 guest, "--", "forktest", "seed=3", "mib=8",
				 "rounds=4", "pages=16", NULL},
		      "forktest");
	TEST_ASSERT(json_num(js, "touched_bytes") >= 8 << 20, "%s", js);
	TEST_ASSERT(json_num(js, "clone_private_pages") >= 16, "%s", js);
	TEST_ASSERT(json_num(js, "clone_memory_bytes") < 8 << 20,
		    "a clone copied its template: %s", js);

	js = bench_ok((char *[]){cowvm, "bench", "--exec", "--count", "5",
				 "--kernel", kernel, "--json", "-", busybox,
				 "sort", NULL},
		      "busybox sort");
	TEST_ASSERT(json_num(js, "clone_private_pages") >= 1, "%s", js);

	r = test_cmd(
		(char *[]){cowvm, "bench", guest, "--", "exit", "3", NULL});
	TEST_ASSERT_EQ(r.status, 122, "exit before a snapshot: %s", r.err);
	TEST_ASSERT_EQ(r.err_lines, 1, "%s", r.err);
	r = test_cmd((char *[]){cowvm, "bench", "--count", "0", guest, NULL});
	TEST_ASSERT_EQ(r.status, 120, "--count 0: %s", r.err);
	TEST_ASSERT(strstr(r.err, "--count"), "%s", r.err);
	r = test_cmd((char *[]){cowvm, "bench", "--exec", "--kernel", kernel,
				"/nonexistent/prog", NULL});
	TEST_ASSERT_EQ(r.status, 127, "missing program: %s", r.err);
	TEST_ASSERT_EQ(r.err_lines, 1, "%s", r.err);
	r = test_cmd((char *[]){cowvm, "bench", "--exec", "--kernel", kernel,
				guest, NULL});
	TEST_ASSERT_EQ(r.status, 126, "a cowvm guest given to --exec: %s",
		       r.err);
	printf("bench: forktest and busybox sort measured, bad uses refused\n");
	return 0;
}
