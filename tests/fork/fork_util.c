/* Helpers of the fork tests: forktest families on one memfd console, run
 * round by round and checked against forkref. */
#include <sys/mman.h>

#include "fork_util.h"

/* The arguments every fork test takes: GUEST_ELF [default|kernel|uffd]. */
enum cowvm_mem_mode ft_args(int argc, char **argv)
{
	const char *m = argc > 2 ? argv[2] : "default";

	TEST_ASSERT(argc == 2 || argc == 3,
		    "usage: %s GUEST_ELF [default|kernel|uffd]", argv[0]);
	test_require_kvm();
	if (!strcmp(m, "kernel"))
		return COWVM_MEM_KERNEL;
	if (!strcmp(m, "uffd"))
		return COWVM_MEM_UFFD;
	TEST_ASSERT(!strcmp(m, "default"), "unknown memory mode '%s'", m);
	return COWVM_MEM_DEFAULT;
}

/* Set up family f: guest elf, mem bytes of RAM in mode, forktest
 * arguments. */
void ft_init(struct ft *f, const char *elf, uint64_t mem,
	     enum cowvm_mem_mode mode, uint64_t seed, uint64_t mib,
	     uint64_t rounds, uint64_t pages)
{
	TEST_ASSERT_LE(rounds, FT_MAX_ROUNDS);
	f->elf = elf;
	f->mode = mode;
	f->mem = mem;
	f->rounds = rounds;
	TEST_ASSERT_EQ(forkref_init(&f->ref, seed, mib, pages), 0, "forkref");
	f->console = memfd_create("console", MFD_CLOEXEC);
	TEST_ASSERT_GE(f->console, 0, "memfd_create");
}

/* Release f's reference and console. */
void ft_fini(struct ft *f)
{
	forkref_free(&f->ref);
	close(f->console);
}

/* Console bytes written since offset *pos, NUL-terminated (free it);
 * advances *pos. */
static char *ft_output_since(struct ft *f, off_t *pos)
{
	off_t end = lseek(f->console, 0, SEEK_END);
	char *s;

	TEST_ASSERT_GE(end, *pos, "console size");
	s = calloc(1, (size_t)(end - *pos) + 1);
	TEST_ASSERT(s, "calloc");
	TEST_ASSERT_EQ(pread(f->console, s, (size_t)(end - *pos), *pos),
		       end - *pos, "console read");
	*pos = end;
	return s;
}

/* Run n once; the exit must be filled. Returns the output it printed. */
char *ft_run(struct ft *f, struct fnode *n, struct cowvm_exit *e)
{
	off_t pos = lseek(f->console, 0, SEEK_END);
	int r = cowvm_run(n->vm, e);

	TEST_ASSERT_EQ(r, 0, "cowvm_run: %s", cowvm_error(n->vm));
	return ft_output_since(f, &pos);
}

/* Assert that n stopped at the SNAPSHOT of round n->done + 1. */
void ft_expect_snap(struct fnode *n, const struct cowvm_exit *e,
		    const char *out)
{
	TEST_ASSERT_EXIT_TAG(*e, n->done + 1, "output:\n%s", out);
}

/* Boot a forktest VM of family f and run it to its first SNAPSHOT,
 * checking the line it prints first. */
struct fnode ft_boot(struct ft *f)
{
	struct cowvm_config cfg;
	struct cowvm_exit e;
	struct fnode n = {0};
	char cl[160], want[160], *out;

	snprintf(cl, sizeof(cl),
		 "forktest seed=%" PRIu64 " mib=%" PRIu64 " rounds=%" PRIu64
		 " pages=%" PRIu64,
		 f->ref.seed, f->ref.mib, f->rounds, f->ref.pages);
	cowvm_config_init(&cfg);
	cfg.mem_size = f->mem;
	cfg.console_fd = f->console;
	cfg.mem_mode = f->mode;
	n.vm = cowvm_create(&cfg);
	TEST_ASSERT(n.vm, "cowvm_create: %s", cowvm_error(NULL));
	TEST_ASSERT_EQ(cowvm_load_elf(n.vm, f->elf, cl), 0, "load: %s",
		       cowvm_error(n.vm));
	out = ft_run(f, &n, &e);
	forkref_first_line(&f->ref, f->rounds, want, sizeof(want));
	strcat(want, "\n");
	TEST_ASSERT(!strcmp(out, want), "first output:\n%s\nexpected:\n%s", out,
		    want);
	ft_expect_snap(&n, &e, out);
	free(out);
	return n;
}

/* Resume n (stopped at a SNAPSHOT) with id: it must print exactly the
 * reference line of its next round, then stop at the next SNAPSHOT or, after
 * the last round, print PASS and exit 0. */
void ft_advance(struct ft *f, struct fnode *n, uint64_t id)
{
	struct cowvm_exit e;
	char want[200], *out;

	TEST_ASSERT(!n->exited, "node already exited");
	TEST_ASSERT_LT(n->done, f->rounds, "node already done");
	TEST_OK(cowvm_set_snapshot_ret(n->vm, (int64_t)id));
	n->ids[n->done] = id;
	out = ft_run(f, n, &e);
	forkref_round_line(&f->ref, n->ids, n->done + 1, want, sizeof(want));
	strcat(want, "\n");
	if (n->done + 1 == f->rounds)
		strcat(want, "forktest: PASS\n");
	TEST_ASSERT(!strcmp(out, want),
		    "round %" PRIu64 " id %" PRIu64
		    " output:\n%s\nexpected:\n%s",
		    n->done + 1, id, out, want);
	n->done++;
	if (n->done == f->rounds) {
		TEST_ASSERT_EXIT_STATUS(e, 0, "end of forktest");
		n->exited = 1;
	} else {
		ft_expect_snap(n, &e, out);
	}
	free(out);
}

/* A copy of n's history for a new VM vm (a fork or clone of n's state). */
struct fnode ft_child(const struct fnode *n, struct cowvm *vm)
{
	struct fnode c = *n;

	TEST_ASSERT(vm, "fork/clone failed: errno %d", errno);
	c.vm = vm;
	return c;
}

/* Read all of n's region and compare every page with forkref; a
 * mismatch names the page, the round that last wrote it and the id. */
void ft_check_mem(struct ft *f, const struct fnode *n, const char *who)
{
	uint64_t got[FORKREF_WORDS], want[FORKREF_WORDS];

	for (uint64_t p = 0; p < f->ref.npages; p++) {
		uint64_t r;

		TEST_OK(cowvm_read(n->vm, COWVM_MEMTEST_BASE + p * FORKREF_PAGE,
				   got, sizeof(got)));
		forkref_page(&f->ref, n->ids, n->done, p, want);
		if (!memcmp(got, want, sizeof(got)))
			continue;
		r = forkref_last_round(&f->ref, n->ids, n->done, p);
		TEST_ASSERT(0,
			    "%s: page %" PRIu64 " differs after %" PRIu64
			    " rounds (last written in round %" PRIu64
			    " with id %" PRIu64 ")",
			    who, p, n->done, r, r ? n->ids[r - 1] : 0);
	}
}
