/* The table pool: refcounted 512-entry tables in one reserved region. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "cow_internal.h"

/* Reserve room for max tables without committing memory; -errno. */
int cow_tables_init(struct cow_store *s, uint32_t max)
{
	size_t bytes = (size_t)max * COW_PAGE_SIZE;
	int r = cow_pool_init(&s->tables, max, 0);

	if (r)
		return r;
	s->table_mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->table_mem == MAP_FAILED) {
		s->table_mem = NULL;
		cow_pool_fini(&s->tables);
		return -ENOMEM;
	}
	return 0;
}

/* Release the table pool (safe on a partly initialized store). */
void cow_tables_fini(struct cow_store *s)
{
	if (s->table_mem)
		munmap(s->table_mem, (size_t)s->tables.max * COW_PAGE_SIZE);
	s->table_mem = NULL;
	cow_pool_fini(&s->tables);
}

/* Allocate an all-absent table with refcount 1; -ENOMEM at the limit. */
int64_t cow_table_alloc(struct cow_store *s)
{
	bool reused;
	uint32_t t = cow_pool_take(&s->tables, &reused);

	if (t == COW_NONE)
		return -ENOMEM;
	if (reused)
		memset(cow_table_ptr(s, t), 0, COW_PAGE_SIZE);
	return t;
}

/* One more reference on allocated table t. */
void cow_table_get(struct cow_store *s, uint32_t t)
{
	s->tables.ref[t]++;
}

/* Reference the child of present entry pte of a level-L table. */
void cow_entry_get(struct cow_store *s, uint64_t pte, int level)
{
	if (level)
		cow_table_get(s, cow_pte_idx(pte));
	else
		cow_frame_get(s, cow_pte_idx(pte));
}

/* Drop the child of present entry pte of a level-L table. */
void cow_entry_put(struct cow_store *s, uint64_t pte, int level)
{
	if (level)
		cow_table_put(s, cow_pte_idx(pte), level - 1);
	else
		cow_frame_put(s, cow_pte_idx(pte));
}

/* Drop a reference; at zero drop every child, then free the table. */
void cow_table_put(struct cow_store *s, uint32_t t, int level)
{
	uint64_t *e = cow_table_ptr(s, t);
	unsigned i;

	if (--s->tables.ref[t])
		return;
	s->st.table_scans++;
	for (i = 0; i < COW_ENTRIES; i++)
		if (cow_pte_present(e[i]))
			cow_entry_put(s, e[i], level);
	s->st.tables_freed++;
	cow_pool_give(&s->tables, t);
}

/* Duplicate level-L table t: the new table (refcount 1) holds its own
 * reference on every child; t is untouched. -ENOMEM at the limit. */
int64_t cow_table_dup(struct cow_store *s, uint32_t t, int level)
{
	bool reused;
	uint32_t n = cow_pool_take(&s->tables, &reused);
	uint64_t *e;
	unsigned i;

	if (n == COW_NONE)
		return -ENOMEM;
	e = cow_table_ptr(s, n);
	memcpy(e, cow_table_ptr(s, t), COW_PAGE_SIZE);
	s->st.table_scans++;
	for (i = 0; i < COW_ENTRIES; i++)
		if (cow_pte_present(e[i]))
			cow_entry_get(s, e[i], level);
	return n;
}
