/* Reset: make a tree identical to a snapshot by swapping differing entries. */
#include <errno.h>

#include "cow_internal.h"

/*
 * Two trees whose root entries are equal share that whole subtree, so only
 * differing root entries need work: take the snapshot's child, drop ours
 * (which frees only what nothing else holds). Cost: 512 compares plus the
 * tables and frames the tree held privately.
 */
int cow_tree_reset(struct cow_tree *tree, const struct cow_tree *snap)
{
	struct cow_store *s = tree->store;
	uint64_t *dst = cow_table_ptr(s, tree->root);
	const uint64_t *src;
	unsigned i;

	if (snap->store != s)
		return -EINVAL;
	src = cow_table_ptr(s, snap->root);
	s->st.table_scans++;
	for (i = 0; i < COW_ENTRIES; i++) {
		uint64_t old = dst[i];

		if (old == src[i])
			continue;
		if (cow_pte_present(src[i]))
			cow_entry_get(s, src[i], COW_ROOT_LEVEL);
		dst[i] = src[i];
		if (cow_pte_present(old))
			cow_entry_put(s, old, COW_ROOT_LEVEL);
	}
	return 0;
}
