/* Naive fork baseline: rebuild the whole table page by page, sharing frames. */
#include <errno.h>

#include "cow_internal.h"

/* Map frame f at gpa in tree (whose tables are all private), allocating
 * absent tables on the way down; takes a reference on f. */
static int map_page(uint64_t gpa, uint32_t f, void *arg)
{
	struct cow_tree *tree = arg;
	struct cow_store *s = tree->store;
	uint64_t gfn = gpa >> COW_PAGE_SHIFT, *e = cow_table_ptr(s, tree->root);
	int level;

	for (level = COW_ROOT_LEVEL; level > 0; level--) {
		uint64_t *pte = &e[cow_pte_index(gfn, level)];

		if (!cow_pte_present(*pte)) {
			int64_t t = cow_table_alloc(s);

			if (t < 0)
				return (int)t;
			*pte = cow_pte_make((uint32_t)t);
		}
		e = cow_table_ptr(s, cow_pte_idx(*pte));
	}
	cow_frame_get(s, f);
	e[cow_pte_index(gfn, 0)] = cow_pte_make(f);
	return 0;
}

/* A new tree with its own tables and every page of tree mapped into it one
 * at a time; NULL+errno (nothing left allocated) on failure. */
struct cow_tree *cow_tree_fork_naive(struct cow_tree *tree)
{
	struct cow_tree *child =
		cow_tree_create_backed(tree->store, tree->backing);
	int r;

	if (!child)
		return NULL;
	r = cow_tree_walk(tree, false, map_page, child);
	if (r) {
		cow_tree_destroy(child);
		errno = -r;
		return NULL;
	}
	return child;
}
