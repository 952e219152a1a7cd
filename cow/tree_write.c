/* Writes: break copy-on-write along each path, all or nothing on ENOMEM. */
#include <errno.h>
#include <string.h>

#include "cow_internal.h"

/* Tables and frames a write needs. */
struct need {
	uint64_t tables, frames;
};

static void plan_table(const struct cow_store *s, uint32_t t, int level,
		       bool copy, uint64_t lo, uint64_t hi, struct need *n);

/* Pages [lo, hi] below an absent entry of a level-L table: a fresh subtree,
 * one table per distinct block at every level below, one frame per page. */
static void plan_absent(uint64_t lo, uint64_t hi, int level, struct need *n)
{
	int l;

	for (l = level - 1; l >= 0; l--)
		n->tables += (hi >> (9 * (l + 1))) - (lo >> (9 * (l + 1))) + 1;
	n->frames += hi - lo + 1;
}

/* Pages [lo, hi] below entry pte of a level-L table; copy = some table
 * above is being copied, so everything below will be shared and copied. */
static void plan_entry(const struct cow_store *s, uint64_t pte, int level,
		       bool copy, uint64_t lo, uint64_t hi, struct need *n)
{
	uint32_t c = cow_pte_idx(pte);

	if (!cow_pte_present(pte)) {
		plan_absent(lo, hi, level, n);
	} else if (level == 0) {
		n->frames += copy || s->frames.ref[c] > 1;
	} else {
		copy = copy || s->tables.ref[c] > 1;
		n->tables += copy;
		plan_table(s, c, level - 1, copy, lo, hi, n);
	}
}

/* Pages [lo, hi] (inside table t's span) of level-L table t. */
static void plan_table(const struct cow_store *s, uint32_t t, int level,
		       bool copy, uint64_t lo, uint64_t hi, struct need *n)
{
	const uint64_t *e = cow_table_ptr(s, t);
	uint64_t span = cow_level_span(level);

	for (;;) {
		uint64_t end = (lo | (span - 1)) < hi ? (lo | (span - 1)) : hi;

		plan_entry(s, e[cow_pte_index(lo, level)], level, copy, lo, end,
			   n);
		if (end == hi)
			return;
		lo = end + 1;
	}
}

/* 0 if the store can supply everything writing pages [lo, hi] needs,
 * -ENOMEM otherwise; changes nothing. */
int cow_tree_plan_write(const struct cow_tree *tree, uint64_t lo, uint64_t hi)
{
	const struct cow_store *s = tree->store;
	struct need n = {0, 0};

	plan_table(s, tree->root, COW_ROOT_LEVEL, false, lo, hi, &n);
	if (n.tables > cow_pool_avail(&s->tables) ||
	    n.frames > cow_pool_avail(&s->frames))
		return -ENOMEM;
	return 0;
}

/* Replace shared level-L table t by a private copy; new index or -ENOMEM. */
static int64_t table_break(struct cow_store *s, uint32_t t, int level)
{
	int64_t n = cow_table_dup(s, t, level);

	if (n < 0)
		return n;
	s->tables.ref[t]--; /* was > 1: the old table lives on elsewhere */
	s->st.table_copies++;
	return n;
}

/* Make leaf entry *pte a private frame; full = its old contents will be
 * overwritten entirely, so need not be copied; an absent entry's old
 * contents are those of backing frame back (COW_NONE: zero). Frame index
 * or -ENOMEM. */
static int64_t frame_break(struct cow_store *s, uint64_t *pte, bool full,
			   uint32_t back)
{
	uint32_t old = cow_pte_idx(*pte);
	int64_t f;

	if (cow_pte_present(*pte) && s->frames.ref[old] == 1)
		return old;
	f = cow_frame_alloc(s);
	if (f < 0)
		return f;
	if (!cow_pte_present(*pte) && back != COW_NONE && !full)
		memcpy(cow_frame_ptr(s, (uint32_t)f), cow_frame_ptr(s, back),
		       COW_PAGE_SIZE);
	if (cow_pte_present(*pte)) {
		if (!full)
			memcpy(cow_frame_ptr(s, (uint32_t)f),
			       cow_frame_ptr(s, old), COW_PAGE_SIZE);
		s->frames.ref[old]--; /* was > 1 */
		s->st.frame_copies++;
	}
	*pte = cow_pte_make((uint32_t)f);
	return f;
}

/*
 * The walk. Entries (see cow_internal.h) are EPT-like 64-bit words:
 *   bit 0 present; bits 12..51 the index of the next table (levels 3..1)
 *   or of the frame (level 0); all other bits zero.
 * Level L's index is gfn bits 9L..9L+8. Nothing in an entry says "shared":
 * a table or frame is shared when its refcount is above 1.
 */

/* Walk to gfn's leaf entry, allocating absent tables and copying shared
 * ones on the way down; NULL only if the caller did not plan. */
uint64_t *cow_tree_leaf_for_write(struct cow_tree *tree, uint64_t gfn)
{
	struct cow_store *s = tree->store;
	uint64_t *e = cow_table_ptr(s, tree->root);
	int level;

	for (level = COW_ROOT_LEVEL; level > 0; level--) {
		uint64_t *pte = &e[cow_pte_index(gfn, level)];
		int64_t c;

		if (!cow_pte_present(*pte))
			c = cow_table_alloc(s);
		else if (s->tables.ref[cow_pte_idx(*pte)] > 1)
			c = table_break(s, cow_pte_idx(*pte), level - 1);
		else
			c = cow_pte_idx(*pte);
		if (c < 0)
			return NULL; /* unreachable after planning */
		*pte = cow_pte_make((uint32_t)c);
		e = cow_table_ptr(s, (uint32_t)c);
	}
	return &e[cow_pte_index(gfn, 0)];
}

/* Walk to gfn's leaf breaking tables, then make the frame private; frame
 * index or -ENOMEM. */
static int64_t break_page(struct cow_tree *tree, uint64_t gfn, bool full)
{
	uint64_t *pte = cow_tree_leaf_for_write(tree, gfn);

	if (!pte)
		return -ENOMEM;
	return frame_break(tree->store, pte, full,
			   cow_backing_frame(tree->backing, gfn));
}

/* Check the range, reserve by planning, then copy page by page. */
int cow_tree_write(struct cow_tree *tree, uint64_t gpa, const void *buf,
		   size_t len)
{
	const uint8_t *in = buf;
	int r;

	if (gpa > COW_GPA_LIMIT || len > COW_GPA_LIMIT - gpa)
		return -EINVAL;
	if (!len)
		return 0;
	r = cow_tree_plan_write(tree, gpa >> COW_PAGE_SHIFT,
				(gpa + len - 1) >> COW_PAGE_SHIFT);
	if (r)
		return r;
	while (len) {
		size_t off = gpa & (COW_PAGE_SIZE - 1);
		size_t n =
			COW_PAGE_SIZE - off < len ? COW_PAGE_SIZE - off : len;
		int64_t f = break_page(tree, gpa >> COW_PAGE_SHIFT,
				       n == COW_PAGE_SIZE);

		if (f < 0)
			return (int)f;
		memcpy((uint8_t *)cow_frame_ptr(tree->store, (uint32_t)f) + off,
		       in, n);
		in += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

/* Break copy-on-write for one page without writing it. */
int64_t cow_tree_frame_for_write(struct cow_tree *tree, uint64_t gpa)
{
	int r;

	if (gpa >= COW_GPA_LIMIT)
		return -EINVAL;
	r = cow_tree_plan_write(tree, gpa >> COW_PAGE_SHIFT,
				gpa >> COW_PAGE_SHIFT);
	if (r)
		return r;
	return break_page(tree, gpa >> COW_PAGE_SHIFT, false);
}
