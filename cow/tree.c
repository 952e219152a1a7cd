/* Trees: creation, fork, destruction and read-only lookups. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cow_internal.h"

/* Wrap root table r in a new linked tree; NULL (root dropped) on ENOMEM. */
static struct cow_tree *tree_new(struct cow_store *s, uint32_t root)
{
	struct cow_tree *t = malloc(sizeof(*t));

	if (!t) {
		cow_table_put(s, root, COW_ROOT_LEVEL);
		errno = ENOMEM;
		return NULL;
	}
	t->store = s;
	t->root = root;
	t->backing = NULL;
	cow_store_link(s, t);
	return t;
}

/* Create an empty tree; NULL+errno (ENOMEM) at the table limit. */
struct cow_tree *cow_tree_create(struct cow_store *s)
{
	int64_t root = cow_table_alloc(s);

	if (root < 0) {
		errno = (int)-root;
		return NULL;
	}
	return tree_new(s, (uint32_t)root);
}

/* Fork: copy the root's 512 entries, sharing every table below. */
struct cow_tree *cow_tree_fork(struct cow_tree *tree)
{
	struct cow_store *s = tree->store;
	int64_t root = cow_table_dup(s, tree->root, COW_ROOT_LEVEL);
	struct cow_tree *t;

	if (root < 0) {
		errno = (int)-root;
		return NULL;
	}
	t = tree_new(s, (uint32_t)root);
	if (t && tree->backing) {
		cow_backing_get(tree->backing);
		t->backing = tree->backing;
	}
	return t;
}

/* Unlink the tree and drop its root (recursively freeing what only it held). */
void cow_tree_destroy(struct cow_tree *tree)
{
	if (!tree)
		return;
	cow_store_unlink(tree->store, tree);
	cow_table_put(tree->store, tree->root, COW_ROOT_LEVEL);
	cow_backing_put(tree->backing);
	free(tree);
}

/* The store tree belongs to. */
struct cow_store *cow_tree_store(const struct cow_tree *tree)
{
	return tree->store;
}

/* Leaf entry for gfn, or 0 when a table on the way is absent. */
static uint64_t tree_lookup(const struct cow_tree *tree, uint64_t gfn)
{
	const struct cow_store *s = tree->store;
	uint64_t *t = cow_table_ptr(s, tree->root);
	int level;

	for (level = COW_ROOT_LEVEL; level > 0; level--) {
		uint64_t pte = t[cow_pte_index(gfn, level)];

		if (!cow_pte_present(pte))
			return 0;
		t = cow_table_ptr(s, cow_pte_idx(pte));
	}
	return t[cow_pte_index(gfn, 0)];
}

/* Frame mapped at gpa (the backing's when absent), or -ENOENT (also for
 * gpa beyond the space). */
int64_t cow_tree_translate(const struct cow_tree *tree, uint64_t gpa)
{
	uint64_t pte;
	uint32_t b;

	if (gpa >= COW_GPA_LIMIT)
		return -ENOENT;
	pte = tree_lookup(tree, gpa >> COW_PAGE_SHIFT);
	if (cow_pte_present(pte))
		return (int64_t)cow_pte_idx(pte);
	b = cow_backing_frame(tree->backing, gpa >> COW_PAGE_SHIFT);
	return b == COW_NONE ? -ENOENT : (int64_t)b;
}

/* True when [gpa, gpa+len) lies inside the 48-bit space. */
static inline int range_ok(uint64_t gpa, size_t len)
{
	return gpa <= COW_GPA_LIMIT && len <= COW_GPA_LIMIT - gpa;
}

/* Copy out page by page; absent pages read as zero. */
int cow_tree_read(const struct cow_tree *tree, uint64_t gpa, void *buf,
		  size_t len)
{
	uint8_t *out = buf;

	if (!range_ok(gpa, len))
		return -EINVAL;
	while (len) {
		size_t off = gpa & (COW_PAGE_SIZE - 1);
		size_t n =
			COW_PAGE_SIZE - off < len ? COW_PAGE_SIZE - off : len;
		int64_t f = cow_tree_translate(tree, gpa);

		if (f < 0)
			memset(out, 0, n);
		else
			memcpy(out,
			       (uint8_t *)cow_frame_ptr(tree->store,
							(uint32_t)f) +
				       off,
			       n);
		out += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

/* Walk down checking every refcount on the path. */
int cow_tree_page_private(const struct cow_tree *tree, uint64_t gpa)
{
	const struct cow_store *s = tree->store;
	uint64_t gfn = gpa >> COW_PAGE_SHIFT, pte = 0;
	const uint64_t *t = cow_table_ptr(s, tree->root);
	int level;

	if (gpa >= COW_GPA_LIMIT)
		return 0;
	for (level = COW_ROOT_LEVEL; level >= 0; level--) {
		pte = t[cow_pte_index(gfn, level)];
		if (!cow_pte_present(pte))
			return 0;
		if (!level)
			break;
		if (s->tables.ref[cow_pte_idx(pte)] != 1)
			return 0;
		t = cow_table_ptr(s, cow_pte_idx(pte));
	}
	return s->frames.ref[cow_pte_idx(pte)] == 1;
}
