/* Read-only walks over a tree: page iteration and accounting. */
#include "cow_internal.h"

/* Visit level-L table t covering pages from base; only_private skips any
 * shared child without descending. */
static int walk_table(const struct cow_store *s, uint32_t t, int level,
		      uint64_t base, bool only_private, cow_page_fn fn,
		      void *arg)
{
	const uint64_t *e = cow_table_ptr(s, t);
	uint64_t span = cow_level_span(level);
	unsigned i;
	int r;

	for (i = 0; i < COW_ENTRIES; i++) {
		uint32_t c = cow_pte_idx(e[i]);
		uint64_t gfn = base + i * span;

		if (!cow_pte_present(e[i]))
			continue;
		if (level == 0) {
			if (only_private && s->frames.ref[c] != 1)
				continue;
			r = fn(gfn << COW_PAGE_SHIFT, c, arg);
		} else {
			if (only_private && s->tables.ref[c] != 1)
				continue;
			r = walk_table(s, c, level - 1, gfn, only_private, fn,
				       arg);
		}
		if (r)
			return r;
	}
	return 0;
}

/* Call fn for every mapped page (only_private: pages only tree reaches). */
int cow_tree_walk(const struct cow_tree *tree, bool only_private,
		  cow_page_fn fn, void *arg)
{
	return walk_table(tree->store, tree->root, COW_ROOT_LEVEL, 0,
			  only_private, fn, arg);
}

/* fn for every page only tree reaches; fn's nonzero result stops it. */
int cow_tree_for_each_private(const struct cow_tree *tree, cow_page_fn fn,
			      void *arg)
{
	return cow_tree_walk(tree, true, fn, arg);
}

/* Accumulate level-L table t; priv = every table above has refcount 1. */
static void stats_table(const struct cow_store *s, uint32_t t, int level,
			bool priv, struct cow_stats *st)
{
	const uint64_t *e = cow_table_ptr(s, t);
	unsigned i;

	st->table_bytes += COW_PAGE_SIZE;
	st->table_private_bytes += priv ? COW_PAGE_SIZE : 0;
	for (i = 0; i < COW_ENTRIES; i++) {
		uint32_t c = cow_pte_idx(e[i]);

		if (!cow_pte_present(e[i]))
			continue;
		if (level) {
			stats_table(s, c, level - 1,
				    priv && s->tables.ref[c] == 1, st);
			continue;
		}
		st->pages_mapped++;
		st->pages_private += priv && s->frames.ref[c] == 1;
	}
}

/* Walk the whole tree, shared parts included. */
void cow_tree_stats(const struct cow_tree *tree, struct cow_stats *st)
{
	*st = (struct cow_stats){0};
	stats_table(tree->store, tree->root, COW_ROOT_LEVEL, true, st);
	st->pages_shared = st->pages_mapped - st->pages_private;
}
