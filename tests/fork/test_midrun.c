/* Forks, snapshots, clones and resets of a VM stopped anywhere, not only
 * at its SNAPSHOT requests: the parent runs under a 1 ms timeout and is
 * copied at TIMEOUT exits, mid-fill or mid-checksum; each copy must finish
 * the parent's current phase (a reset clone twice) with exactly the
 * parent's output and forkref's memory, and the parent, which keeps running
 * and writing, must be unaffected. */
#include "fork_util.h"
#include "cowvm_workload_abi.h"

#define ROUNDS	  4
#define MAX_FORKS 5 /* per phase */

static struct ft f;

/* The text phase k prints: the first line, or round k's line (and PASS
 * after the last round). */
static void phase_text(const struct fnode *n, uint64_t k, char *buf,
		       size_t size)
{
	char line[200];

	if (k == 0)
		forkref_first_line(&f.ref, ROUNDS, line, sizeof(line));
	else
		forkref_round_line(&f.ref, n->ids, k, line, sizeof(line));
	snprintf(buf, size, "%s\n%s", line,
		 k == ROUNDS ? "forktest: PASS\n" : "");
}

/* Append src to the growing string *dst. */
static void append(char **dst, const char *src)
{
	size_t a = strlen(*dst), b = strlen(src);

	*dst = realloc(*dst, a + b + 1);
	TEST_ASSERT(*dst, "realloc");
	memcpy(*dst + a, src, b + 1);
}

/* Assert that the exit ends phase k: SNAPSHOT k + 1, or the end. */
static void expect_phase_end(uint64_t k, const struct cowvm_exit *e,
			     const char *who)
{
	if (k == ROUNDS)
		TEST_ASSERT_EXIT_STATUS(*e, 0, "%s: end", who);
	else
		TEST_ASSERT_EXIT_TAG(*e, k + 1, "%s: after phase %" PRIu64, who,
				     k);
}

/* Run c (a copy of a VM stopped by a timeout in phase k, which had
 * printed pend since the phase began) to the end of the phase; its output
 * must complete the phase's text and its memory match forkref. */
static void finish_phase(struct fnode *c, uint64_t k, const char *pend,
			 const char *who)
{
	char want[400], *all = strdup(pend), *out;
	struct cowvm_exit e;

	out = ft_run(&f, c, &e);
	append(&all, out);
	phase_text(c, k, want, sizeof(want));
	TEST_ASSERT(!strcmp(all, want),
		    "%s in phase %" PRIu64 ":\n%s\nexpected:\n%s", who, k, all,
		    want);
	expect_phase_end(k, &e, who);
	c->done = k;
	ft_check_mem(&f, c, who);
	free(out);
	free(all);
}

/* Copy parent, stopped by a timeout in phase k: by cowvm_fork, or (odd
 * nth) by a snapshot, a clone of it, and after the clone finished the
 * phase a reset to the snapshot and a second, identical finish. */
static void fork_and_finish(struct fnode *parent, uint64_t k, const char *pend,
			    int nth)
{
	struct cowvm_snapshot *s = NULL;
	struct fnode c;

	size_t bytes = f.ref.npages * FORKREF_PAGE;
	uint8_t *want = malloc(bytes), *got = malloc(bytes);

	TEST_ASSERT(want && got, "malloc");
	if (nth % 2) {
		s = cowvm_snapshot(parent->vm);
		TEST_ASSERT(s, "cowvm_snapshot: %s", cowvm_error(parent->vm));
		c = ft_child(parent, cowvm_clone(s));
	} else {
		c = ft_child(parent, cowvm_fork(parent->vm));
	}
	/* The copy holds exactly what the (stopped) parent holds. Both are
	 * read only now: reading first would give cowvm's userfaultfd
	 * handler time to finish a fault the timeout interrupted. */
	TEST_OK(cowvm_read(parent->vm, COWVM_MEMTEST_BASE, want, bytes));
	TEST_OK(cowvm_read(c.vm, COWVM_MEMTEST_BASE, got, bytes));
	for (size_t pg = 0; pg < f.ref.npages; pg++)
		TEST_ASSERT(!memcmp(got + pg * FORKREF_PAGE,
				    want + pg * FORKREF_PAGE, FORKREF_PAGE),
			    "%s made in phase %" PRIu64 " (copy %d): page %zu "
			    "differs from the parent's",
			    s ? "clone" : "fork", k, nth, pg);
	free(want);
	free(got);
	TEST_OK(cowvm_set_timeout(c.vm, 0));
	finish_phase(&c, k, pend, s ? "clone" : "fork");
	if (s) {
		TEST_OK(cowvm_reset(c.vm, s));
		c.exited = 0;
		finish_phase(&c, k, pend, "clone after a reset");
		cowvm_snapshot_put(s);
	}
	cowvm_destroy(c.vm);
}

/* Run every check against the guest ELF given as argv[1]. */
int main(int argc, char **argv)
{
	enum cowvm_mem_mode mode = ft_args(argc, argv);
	struct cowvm_config cfg;
	struct fnode p = {0};
	struct cowvm_exit e;
	char cl[160], want[400];
	int forks = 0, timeouts = 0;

	ft_init(&f, argv[1], 64 * MIB, mode, 555, 8, ROUNDS, 64);
	snprintf(cl, sizeof(cl), "forktest seed=555 mib=8 rounds=%d pages=64",
		 ROUNDS);
	cowvm_config_init(&cfg);
	cfg.console_fd = f.console;
	cfg.mem_mode = mode;
	cfg.timeout_ms = 1;
	p.vm = cowvm_create(&cfg);
	TEST_ASSERT(p.vm, "cowvm_create: %s", cowvm_error(NULL));
	TEST_OK(cowvm_load_elf(p.vm, f.elf, cl));
	for (uint64_t k = 0; k <= ROUNDS; k++) {
		char *pend = strdup(""), *out;
		int phase_forks = 0;

		if (k) {
			p.ids[k - 1] = 1000 * k + 7;
			TEST_OK(cowvm_set_snapshot_ret(p.vm,
						       (int64_t)p.ids[k - 1]));
		}
		for (;;) {
			out = ft_run(&f, &p, &e);
			append(&pend, out);
			free(out);
			if (e.reason != COWVM_EXIT_TIMEOUT)
				break;
			timeouts++;
			if (phase_forks < MAX_FORKS) {
				fork_and_finish(&p, k, pend, forks);
				phase_forks++;
				forks++;
			}
		}
		phase_text(&p, k, want, sizeof(want));
		TEST_ASSERT(!strcmp(pend, want),
			    "parent in phase %" PRIu64 ":\n%s\nexpected:\n%s",
			    k, pend, want);
		expect_phase_end(k, &e, "parent");
		p.done = k;
		ft_check_mem(&f, &p, "parent");
		free(pend);
	}
	TEST_ASSERT_GE(forks, 4,
		       "the timeout did not stop the guest mid-phase (%d "
		       "timeouts)",
		       timeouts);
	cowvm_destroy(p.vm);
	ft_fini(&f);
	printf("midrun: %d timeouts, %d copies mid-phase (forks, clones reset "
	       "and rerun), all ok\n",
	       timeouts, forks);
	return 0;
}
