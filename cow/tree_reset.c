/* Reset: make a tree identical to a snapshot by swapping differing entries. */
#include <errno.h>

#include "cow_internal.h"

/*
 * Equal entries mean an identical subtree: skipped. A differing entry whose
 * table only this tree reaches (refcount 1) is reset in place, recursively,
 * so the private path survives and the next write there copies no table;
 * any other differing entry is replaced by the snapshot's (ref++) and the
 * old child dropped. Cost: the tables on private paths and the entries
 * that differ, never the shared bulk.
 */

/* Make level-L table dt, which only this tree reaches, equal to table st
 * entry by entry. */
static void reset_table(struct cow_store *s, uint32_t dt, uint32_t st,
			int level)
{
	uint64_t *dst = cow_table_ptr(s, dt);
	const uint64_t *src = cow_table_ptr(s, st);
	unsigned i;

	s->st.table_scans++;
	for (i = 0; i < COW_ENTRIES; i++) {
		uint64_t old = dst[i];

		if (old == src[i])
			continue;
		if (level && cow_pte_present(old) && cow_pte_present(src[i]) &&
		    s->tables.ref[cow_pte_idx(old)] == 1) {
			reset_table(s, cow_pte_idx(old), cow_pte_idx(src[i]),
				    level - 1);
			continue;
		}
		if (cow_pte_present(src[i]))
			cow_entry_get(s, src[i], level);
		dst[i] = src[i];
		if (cow_pte_present(old))
			cow_entry_put(s, old, level);
	}
}

/* Reset the root in place; -EINVAL across stores. */
int cow_tree_reset(struct cow_tree *tree, const struct cow_tree *snap)
{
	struct cow_store *s = tree->store;

	if (snap->store != s)
		return -EINVAL;
	if (snap == tree)
		return 0;
	reset_table(s, tree->root, snap->root, COW_ROOT_LEVEL);
	if (tree->backing != snap->backing) { /* absent pages read as snap's */
		if (snap->backing)
			cow_backing_get(snap->backing);
		cow_backing_put(tree->backing);
		tree->backing = snap->backing;
	}
	return 0;
}
