/* Which pages a VM wrote since its last fold: PAGEMAP_SCAN (KERNEL mode)
 * or the userfaultfd handler's record (UFFD mode). */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "mem_internal.h"

/* PAGEMAP_SCAN (Linux 6.7) is newer than the 6.1 headers. */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_FILE	(1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)

struct page_region {
	uint64_t start, end, categories;
};

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask;
	uint64_t return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

#define SCAN_VEC 256 /* regions fetched per ioctl */

/* Anonymous pages (present or swapped) in the MAP_PRIVATE file mapping are
 * exactly the pages the kernel copied on write since they were last
 * mapped, i.e. since the last fold: collect them as runs. */
static int written_scan(struct vmm_mem *mem, struct vmm_runs *out)
{
	struct page_region vec[SCAN_VEC];
	uint64_t start = (uint64_t)(uintptr_t)mem->base;
	uint64_t end = start + mem->size;

	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = start,
			.end = end,
			.vec = (uint64_t)(uintptr_t)vec,
			.vec_len = SCAN_VEC,
			.category_inverted = PAGE_IS_FILE,
			.category_mask = PAGE_IS_FILE,
			.category_anyof_mask =
				PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		long n = ioctl(mem->pagemap, PAGEMAP_SCAN, &a);

		if (n < 0)
			return -errno;
		for (long i = 0; i < n; i++) {
			uint64_t off = (vec[i].start -
					(uint64_t)(uintptr_t)mem->base) /
				       VMM_PAGE;
			int err = vmm_runs_add(out, off,
					       (vec[i].end - vec[i].start) /
						       VMM_PAGE);

			if (err)
				return err;
		}
		if (a.walk_end <= start)
			return -EIO;
		start = a.walk_end;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sort the handler's record in place and turn it into runs. */
static int written_record(struct vmm_mem *mem, struct vmm_runs *out)
{
	struct vmm_mem_uffd *u = &mem->uffd;
	int err = 0;

	pthread_mutex_lock(&u->lock);
	if (u->nlist)
		qsort(u->list, u->nlist, sizeof(*u->list), cmp_u64);
	for (uint64_t i = 0; !err && i < u->nlist; i++)
		err = vmm_runs_add(out, u->list[i], 1);
	if (!err)
		err = u->err;
	pthread_mutex_unlock(&u->lock);
	return err;
}

/* Written runs, sorted; none for a direct (MAP_SHARED) or empty mem. */
int vmm_mem_written_runs(struct vmm_mem *mem, struct vmm_runs *out)
{
	if (!mem->tree || mem->direct)
		return 0;
	if (mem->mode == COWVM_MEM_UFFD)
		return written_record(mem, out);
	return written_scan(mem, out);
}

/* Forget the handler's record (KERNEL mode keeps none: dropping the
 * anonymous pages is what clears it). */
void vmm_mem_written_clear(struct vmm_mem *mem)
{
	struct vmm_mem_uffd *u = &mem->uffd;

	if (mem->mode != COWVM_MEM_UFFD)
		return;
	pthread_mutex_lock(&u->lock);
	for (uint64_t i = 0; i < u->nlist; i++)
		u->bits[u->list[i] / 64] &= ~(1ull << (u->list[i] % 64));
	u->nlist = 0;
	pthread_mutex_unlock(&u->lock);
}
