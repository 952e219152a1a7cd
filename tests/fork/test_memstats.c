/* Memory accounting: 64 clones of a 256 MiB guest each write 1 MiB;
 * cowvm_mem_stats shows about 256 private pages per clone and the rest
 * shared, and the process's own memory (smaps_rollup) grows by less than
 * twice what the clones hold privately, pages and tables; a reset leaves
 * the written pages as kept copies (KERNEL mode); clones that only read
 * hold no copies. */
#include "fork_util.h"

#define NCLONES	   64
#define PAGES	   256 /* 1 MiB per clone */
#define SLACK	   64  /* private pages a clone may add: stack, buffers */
#define HOST_PAGES 16

/* A field of /proc/self/smaps_rollup in bytes. */
static uint64_t rollup(const char *field)
{
	FILE *fp = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	size_t n = strlen(field);
	unsigned long long kb = 0;
	int found = 0;

	TEST_ASSERT(fp, "smaps_rollup");
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, field, n) && line[n] == ':')
			found = sscanf(line + n + 1, "%llu", &kb) == 1;
	fclose(fp);
	TEST_ASSERT(found, "no %s in smaps_rollup", field);
	return kb * 1024;
}

/* Clones that only read: each checksums an 8 MiB region twice and writes
 * no page of it, so it must hold no more than SLACK private pages. */
static void readers(const char *elf, enum cowvm_mem_mode mode)
{
	struct cowvm_mem_stats st;
	struct cowvm_snapshot *s;
	struct fnode p, c;
	struct ft f;

	ft_init(&f, elf, 64 * MIB, mode, 77, 8, 1, 0);
	p = ft_boot(&f);
	s = cowvm_snapshot(p.vm);
	TEST_ASSERT(s, "cowvm_snapshot: %s", cowvm_error(p.vm));
	for (int i = 0; i < 8; i++) {
		c = ft_child(&p, cowvm_clone(s));
		ft_advance(&f, &c, (uint64_t)i);
		TEST_OK(cowvm_mem_stats(c.vm, &st));
		TEST_ASSERT_LE(st.pages_private, SLACK,
			       "private pages of a clone that read 2048 pages");
		cowvm_destroy(c.vm);
	}
	printf("memstats: a clone that only read 8 MiB: %" PRIu64
	       " private pages\n",
	       st.pages_private);
	cowvm_snapshot_put(s);
	cowvm_destroy(p.vm);
	ft_fini(&f);
}

/* Run every check against the guest ELF given as argv[1]. */
/* Host writes to HOST_PAGES pages no one wrote, then a reset: KERNEL mode
 * keeps exactly those copies more, UFFD mode none. */
static void kept_after_host_writes(struct cowvm *vm, struct cowvm_snapshot *s,
				   enum cowvm_mem_mode mode)
{
	struct cowvm_mem_stats a, b;
	uint64_t top = 255 * MIB;

	TEST_OK(cowvm_mem_stats(vm, &a));
	for (int i = 0; i < HOST_PAGES; i++)
		TEST_OK(cowvm_write(vm, top + (uint64_t)i * 4096, &i,
				    sizeof(i)));
	TEST_OK(cowvm_reset(vm, s));
	TEST_OK(cowvm_mem_stats(vm, &b));
	TEST_ASSERT_EQ(b.pages_kept,
		       a.pages_kept + (mode == COWVM_MEM_UFFD ? 0 : HOST_PAGES),
		       "kept copies after host writes to %d pages and a reset",
		       HOST_PAGES);
}

int main(int argc, char **argv)
{
	enum cowvm_mem_mode mode;
	static struct fnode c[NCLONES];
	uint64_t pss0, dirty0, anon0, dpss, ddirty, danon, bound;
	uint64_t priv_bytes = 0, min_priv = UINT64_MAX, max_priv = 0;
	double t0;
	struct cowvm_mem_stats ps, st;
	struct cowvm_snapshot *snap;
	struct fnode parent;
	struct ft f;

	mode = ft_args(argc, argv);
	ft_init(&f, argv[1], 256 * MIB, mode, 2024, 8, 2, PAGES);
	parent = ft_boot(&f);
	snap = cowvm_snapshot(parent.vm);
	TEST_ASSERT(snap, "cowvm_snapshot: %s", cowvm_error(parent.vm));
	TEST_OK(cowvm_mem_stats(parent.vm, &ps));
	pss0 = rollup("Pss");
	dirty0 = rollup("Private_Dirty");
	anon0 = rollup("Anonymous");

	for (int i = 0; i < NCLONES; i++) {
		c[i] = ft_child(&parent, cowvm_clone(snap));
		ft_advance(&f, &c[i], (uint64_t)i);
	}
	dpss = rollup("Pss") - pss0;
	ddirty = rollup("Private_Dirty") - dirty0;
	danon = rollup("Anonymous") - anon0;

	for (int i = 0; i < NCLONES; i++) {
		TEST_OK(cowvm_mem_stats(c[i].vm, &st));
		TEST_ASSERT_GE(st.pages_private, PAGES,
			       "clone %d: private pages", i);
		TEST_ASSERT_LE(st.pages_private, PAGES + SLACK,
			       "clone %d: private pages", i);
		TEST_ASSERT_EQ(st.pages_private + st.pages_shared,
			       st.pages_mapped, "clone %d", i);
		TEST_ASSERT_GE(st.pages_mapped, ps.pages_mapped,
			       "clone %d: pages mapped, the parent's", i);
		TEST_ASSERT_LE(st.pages_mapped, ps.pages_mapped + SLACK + PAGES,
			       "clone %d: pages mapped", i);
		TEST_ASSERT_LE(st.table_private_bytes, st.table_bytes,
			       "clone %d table bytes", i);
		priv_bytes += st.pages_private * 4096 + st.table_private_bytes;
		min_priv = st.pages_private < min_priv ? st.pages_private
						       : min_priv;
		max_priv = st.pages_private > max_priv ? st.pages_private
						       : max_priv;
	}
	bound = 2 * priv_bytes;
	printf("memstats: parent mapped %" PRIu64 " pages (%" PRIu64
	       " private, %" PRIu64 " shared, tables %" PRIu64 " B)\n",
	       ps.pages_mapped, ps.pages_private, ps.pages_shared,
	       ps.table_bytes);
	printf("memstats: clones private %" PRIu64 "..%" PRIu64
	       " pages, last: mapped %" PRIu64 " shared %" PRIu64
	       " tables %" PRIu64 " B (%" PRIu64 " B private)\n",
	       min_priv, max_priv, st.pages_mapped, st.pages_shared,
	       st.table_bytes, st.table_private_bytes);
	printf("memstats: host growth for %d clones: Pss %.1f MiB, "
	       "Private_Dirty %.1f MiB, Anonymous %.1f MiB; bound 2 x %.1f "
	       "MiB = %.1f MiB\n",
	       NCLONES, dpss / 1048576.0, ddirty / 1048576.0, danon / 1048576.0,
	       priv_bytes / 1048576.0, bound / 1048576.0);
	TEST_ASSERT_LT(dpss, bound, "host Pss growth, bound");
	TEST_ASSERT_LT(ddirty, bound, "host Private_Dirty growth, bound");
	for (int i = 0; i < NCLONES; i += 9)
		ft_check_mem(&f, &c[i], "clone");

	/* A reset drops what a clone wrote; KERNEL mode keeps the copies,
	 * refilled, for the next writes, and says so. */
	for (int i = 0; i < NCLONES; i += 8) {
		TEST_OK(cowvm_reset(c[i].vm, snap));
		TEST_OK(cowvm_mem_stats(c[i].vm, &st));
		TEST_ASSERT_LE(st.pages_private, SLACK,
			       "clone %d: private pages after a reset", i);
		TEST_ASSERT(mode == COWVM_MEM_UFFD
				    ? st.pages_kept == 0
				    : st.pages_kept >= PAGES &&
					      st.pages_kept <= PAGES + SLACK,
			    "clone %d holds %" PRIu64 " kept copies after "
			    "writing %d pages and a reset",
			    i, st.pages_kept, PAGES);
	}
	kept_after_host_writes(c[0].vm, snap, mode);
	printf("memstats: after a reset: %" PRIu64 " private, %" PRIu64
	       " shared, %" PRIu64 " kept\n",
	       st.pages_private, st.pages_shared, st.pages_kept);

	/* Destroyed clones give their memory back (cowvm may reap them in
	 * the background: wait up to 10 s). */
	for (int i = 0; i < NCLONES; i++)
		cowvm_destroy(c[i].vm);
	t0 = test_now();
	do {
		ddirty = rollup("Private_Dirty");
		ddirty = ddirty > dirty0 ? ddirty - dirty0 : 0;
		if (ddirty < priv_bytes / 8)
			break;
		usleep(50000);
	} while (test_now() - t0 < 10);
	printf("memstats: %.2f s after destroying the clones: Private_Dirty "
	       "%+.1f MiB\n",
	       test_now() - t0, ddirty / 1048576.0);
	TEST_ASSERT_LT(ddirty, priv_bytes / 8,
		       "bytes destroyed clones still hold");
	cowvm_snapshot_put(snap);
	cowvm_destroy(parent.vm);
	ft_fini(&f);
	readers(argv[1], mode);
	return 0;
}
