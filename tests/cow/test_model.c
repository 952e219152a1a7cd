/* Randomized model test: many trees under random operations, each checked
 * against a byte-for-byte model and the invariant checker after every step.
 * COWVM_MODEL_OPS sets the number of operations, COWVM_MODEL_SEED the seed. */
#include <inttypes.h>
#include <time.h>

#include "cow_util.h"

#define NTREES	   16 /* most live trees */
#define CLUSTER	   4  /* pages per cluster */
#define NCLUSTERS  7
#define NPAGES	   (NCLUSTERS * CLUSTER)
#define FULL_EVERY 64 /* compare every tree this often */

/* First page of each cluster: around table boundaries and the space ends. */
static const uint64_t cluster_gfn[NCLUSTERS] = {
	0,				 /* first pages of the space */
	512 - 2,			 /* 2 MiB: leaf-table boundary */
	(1ull << 18) - 2,		 /* 1 GiB: level-1 boundary */
	(3ull << 18) + 512 - 2,		 /* a leaf boundary elsewhere */
	(1ull << 27) - 2,		 /* 512 GiB: root-entry boundary */
	(1ull << 28) - 2,		 /* 1 TiB */
	(COW_GPA_LIMIT >> 12) - CLUSTER, /* last pages of the space */
};

struct model {
	struct cow_tree *tree; /* NULL = slot free */
	uint8_t data[NPAGES][PAGE];
	uint8_t mapped[NPAGES]; /* a write or frame_for_write reached it */
};

static struct model m[NTREES];
static struct cow_store *store;
static uint64_t rng_state, step;
static char op[160]; /* the current operation, for failure messages */
static uint64_t enomem, writes_ok; /* outcomes, reported at the end */

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

static uint64_t page_gpa(int page)
{
	return (cluster_gfn[page / CLUSTER] + page % CLUSTER) * PAGE;
}

/* Compare one tree with its model: every byte, every translation, stats. */
static void compare(int i)
{
	static uint8_t buf[CLUSTER * PAGE];
	struct cow_stats st;
	uint64_t mapped = 0;
	int c, p;

	for (c = 0; c < NCLUSTERS; c++) {
		TEST_OK(cow_tree_read(m[i].tree, cluster_gfn[c] * PAGE, buf,
				      sizeof(buf)));
		TEST_ASSERT(!memcmp(buf, m[i].data[c * CLUSTER], sizeof(buf)),
			    "step %" PRIu64 " (%s): tree %d cluster %d differs",
			    step, op, i, c);
	}
	for (p = 0; p < NPAGES; p++) {
		int64_t f = cow_tree_translate(m[i].tree, page_gpa(p));

		TEST_ASSERT_EQ(f >= 0, m[i].mapped[p],
			       "step %" PRIu64 " (%s): tree %d page %d mapped",
			       step, op, i, p);
		mapped += m[i].mapped[p];
	}
	cow_tree_stats(m[i].tree, &st);
	TEST_ASSERT_EQ(st.pages_mapped, mapped,
		       "step %" PRIu64 " (%s): tree %d pages mapped, model",
		       step, op, i);
	TEST_ASSERT_EQ(st.pages_private + st.pages_shared, mapped,
		       "step %" PRIu64 " (%s): tree %d private + shared, model",
		       step, op, i);
}

static void check_store(void)
{
	char why[256];
	int r = cow_store_check(store, why, sizeof(why));

	TEST_ASSERT_EQ(r, 0, "step %" PRIu64 " (%s): checker: %s", step, op,
		       why);
}

static int pick_live(void)
{
	int i, n = 0, k;

	for (i = 0; i < NTREES; i++)
		n += m[i].tree != NULL;
	if (!n)
		return -1;
	k = (int)below((uint64_t)n);
	for (i = 0; i < NTREES; i++)
		if (m[i].tree && k-- == 0)
			return i;
	return -1;
}

static int pick_free(void)
{
	int i;

	for (i = 0; i < NTREES; i++)
		if (!m[i].tree)
			return i;
	return -1;
}

/* A range inside one cluster: often crossing a page boundary. */
static void pick_range(int *page, size_t *off, size_t *len)
{
	size_t span = CLUSTER * PAGE, start, n;
	int c = (int)below(NCLUSTERS);

	switch (below(4)) {
	case 0: /* around a page boundary inside the cluster */
		start = (1 + below(CLUSTER - 1)) * PAGE - 1 - below(64);
		n = 1 + below(128);
		break;
	case 1: /* whole pages */
		start = below(CLUSTER) * PAGE;
		n = (1 + below(CLUSTER)) * PAGE;
		break;
	case 2: /* small */
		start = below(span);
		n = 1 + below(16);
		break;
	default: /* anything */
		start = below(span);
		n = 1 + below(span);
		break;
	}
	if (n > span - start)
		n = span - start;
	*page = c * CLUSTER;
	*off = start;
	*len = n;
}

/* The trees touched by this step, compared in full afterwards. */
static int touched[2], ntouched;

static void op_write(void)
{
	static uint8_t buf[CLUSTER * PAGE];
	struct cow_store_stats before, after;
	int i = pick_live(), page, r;
	size_t off, len, k;
	uint64_t gpa;

	pick_range(&page, &off, &len);
	gpa = page_gpa(page) + off;
	snprintf(op, sizeof(op), "write tree %d %#" PRIx64 "+%zu", i, gpa, len);
	for (k = 0; k < len; k++)
		buf[k] = (uint8_t)rnd();
	cow_store_stats(store, &before);
	r = cow_tree_write(m[i].tree, gpa, buf, len);
	touched[ntouched++] = i;
	if (r == -ENOMEM) {
		cow_store_stats(store, &after);
		TEST_ASSERT(!memcmp(&before, &after, sizeof(before)),
			    "step %" PRIu64 " (%s): failed write changed "
			    "the store",
			    step, op);
		enomem++;
		return;
	}
	TEST_ASSERT_EQ(r, 0, "step %" PRIu64 " (%s)", step, op);
	writes_ok++;
	memcpy(&m[i].data[page][0] + off, buf, len);
	for (k = off / PAGE; k <= (off + len - 1) / PAGE; k++)
		m[i].mapped[page + k] = 1;
}

static void op_frame_for_write(void)
{
	int i = pick_live(), p = (int)below(NPAGES);
	int64_t f;

	snprintf(op, sizeof(op), "frame_for_write tree %d page %d", i, p);
	f = cow_tree_frame_for_write(m[i].tree, page_gpa(p));
	touched[ntouched++] = i;
	if (f == -ENOMEM) {
		enomem++;
		return;
	}
	TEST_ASSERT_GE(f, 0, "step %" PRIu64 " (%s)", step, op);
	TEST_ASSERT_EQ(cow_tree_translate(m[i].tree, page_gpa(p)), f,
		       "step %" PRIu64 " (%s)", step, op);
	m[i].mapped[p] = 1;
}

static void op_read(void)
{
	static uint8_t buf[CLUSTER * PAGE];
	int i = pick_live(), page;
	size_t off, len;

	pick_range(&page, &off, &len);
	snprintf(op, sizeof(op), "read tree %d %#" PRIx64 "+%zu", i,
		 page_gpa(page) + off, len);
	TEST_OK(cow_tree_read(m[i].tree, page_gpa(page) + off, buf, len));
	TEST_ASSERT(!memcmp(buf, &m[i].data[page][0] + off, len),
		    "step %" PRIu64 " (%s): differs", step, op);
}

static void op_create(void)
{
	int j = pick_free();

	snprintf(op, sizeof(op), "create tree %d", j);
	if (j < 0)
		return;
	m[j].tree = cow_tree_create(store);
	if (!m[j].tree) {
		TEST_ASSERT_EQ(errno, ENOMEM, "step %" PRIu64 " (%s)", step,
			       op);
		enomem++;
		return;
	}
	memset(m[j].data, 0, sizeof(m[j].data));
	memset(m[j].mapped, 0, sizeof(m[j].mapped));
	touched[ntouched++] = j;
}

static void op_fork(void)
{
	int i = pick_live(), j = pick_free();

	snprintf(op, sizeof(op), "fork tree %d -> %d", i, j);
	if (j < 0)
		return;
	m[j].tree = cow_tree_fork(m[i].tree);
	if (!m[j].tree) {
		TEST_ASSERT_EQ(errno, ENOMEM, "step %" PRIu64 " (%s)", step,
			       op);
		enomem++;
		return;
	}
	memcpy(m[j].data, m[i].data, sizeof(m[j].data));
	memcpy(m[j].mapped, m[i].mapped, sizeof(m[j].mapped));
	touched[ntouched++] = i;
	touched[ntouched++] = j;
}

static void op_reset(void)
{
	int i = pick_live(), j = pick_live();

	snprintf(op, sizeof(op), "reset tree %d to %d", i, j);
	TEST_OK(cow_tree_reset(m[i].tree, m[j].tree));
	memcpy(m[i].data, m[j].data, sizeof(m[i].data));
	memcpy(m[i].mapped, m[j].mapped, sizeof(m[i].mapped));
	touched[ntouched++] = i;
	touched[ntouched++] = j;
}

static void op_destroy(void)
{
	int i = pick_live();

	snprintf(op, sizeof(op), "destroy tree %d", i);
	cow_tree_destroy(m[i].tree);
	m[i].tree = NULL;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* One random operation, weighted towards writes. */
static void one_step(void)
{
	uint64_t w = below(100);

	ntouched = 0;
	if (pick_live() < 0 || w < 3)
		op_create();
	else if (w < 48)
		op_write();
	else if (w < 53)
		op_frame_for_write();
	else if (w < 68)
		op_read();
	else if (w < 80)
		op_fork();
	else if (w < 90)
		op_reset();
	else
		op_destroy();
}

int main(void)
{
	struct cow_store_config cfg = {
		.max_frames = 240, .max_tables = 160, .punch_batch = 8};
	uint64_t ops = env_u64("COWVM_MODEL_OPS", 100000);
	uint64_t seed = env_u64("COWVM_MODEL_SEED",
				(uint64_t)time(NULL) ^ (uint64_t)getpid());
	uint64_t full = 0;
	int i, rotate = 0;

	printf("model: COWVM_MODEL_SEED=%" PRIu64 " COWVM_MODEL_OPS=%" PRIu64
	       "\n",
	       seed, ops);
	fflush(stdout);
	rng_state = seed;
	store = cow_store_create(&cfg);
	TEST_ASSERT(store, "cow_store_create");
	for (step = 0; step < ops; step++) {
		one_step();
		for (i = 0; i < ntouched; i++)
			if (m[touched[i]].tree)
				compare(touched[i]);
		for (i = 0; i < NTREES; i++) {
			rotate = (rotate + 1) % NTREES;
			if (m[rotate].tree)
				break;
		}
		if (m[rotate].tree)
			compare(rotate);
		if (step % FULL_EVERY == 0) {
			for (i = 0; i < NTREES; i++)
				if (m[i].tree)
					compare(i);
			full++;
		}
		check_store();
	}
	for (i = 0; i < NTREES; i++)
		cow_tree_destroy(m[i].tree);
	check_store();
	{
		struct cow_store_stats st;

		cow_store_stats(store, &st);
		TEST_ASSERT_EQ(st.frames_used, 0, "all trees destroyed");
		TEST_ASSERT_EQ(st.tables_used, 0, "all trees destroyed");
	}
	printf("model: %" PRIu64 " ops, %" PRIu64 " full compares, %" PRIu64
	       " writes done, %" PRIu64 " refused with ENOMEM\n",
	       ops, full, writes_ok, enomem);
	cow_store_destroy(store);
	return 0;
}
