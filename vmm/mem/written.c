/* Which pages a VM wrote since its last fold: a record fed by host writes
 * and by the KVM dirty log (KERNEL mode) or write-protect faults (UFFD
 * mode); PAGEMAP_SCAN lists the pages the kernel copied, for the checker. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

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

/* Collect as runs the pages of mem's region that are present (or, in
 * KERNEL mode, swapped out) and, with anon, not from a file. In UFFD mode
 * only present ones: a write-protect marker on a never-touched page reads
 * as swapped too (and asking for PAGE_IS_WRITTEN, which tells them apart,
 * needs asynchronous write-protection). Costs O(pages mapped in the
 * region). */
static int scan_runs(struct vmm_mem *mem, bool anon, struct vmm_runs *out)
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
			.category_inverted = anon ? PAGE_IS_FILE : 0,
			.category_mask = anon ? PAGE_IS_FILE : 0,
			.category_anyof_mask =
				mem->mode == COWVM_MEM_KERNEL
					? PAGE_IS_PRESENT | PAGE_IS_SWAPPED
					: PAGE_IS_PRESENT,
		};
		long n = vmm_ioctl(mem->pagemap, PAGEMAP_SCAN, &a);

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

/* Anonymous pages in the MAP_PRIVATE file mapping are exactly the pages
 * the kernel copied on write since they were last mapped; collect them as
 * runs. */
int vmm_mem_anon_runs(struct vmm_mem *mem, struct vmm_runs *out)
{
	if (!mem->tree || mem->direct)
		return 0;
	return scan_runs(mem, true, out);
}

/* Every page of mem's host mapping that is present (vmm_mem_touched). */
uint64_t *vmm_mem_touched(struct vmm_mem *mem)
{
	struct vmm_runs runs = {0};
	uint64_t *bits = NULL;
	int err = mem->hole || mem->broken ? -EINVAL : 0;

	if (!err)
		err = scan_runs(mem, false, &runs);
	if (!err &&
	    !(bits = vmm_calloc(vmm_bitmap_words(mem->pages), sizeof(*bits))))
		err = -ENOMEM;
	for (uint64_t i = 0; !err && i < runs.n; i++)
		for (uint64_t p = runs.r[i].off;
		     p < runs.r[i].off + runs.r[i].n; p++)
			bits[p / 64] |= 1ull << (p % 64);
	vmm_runs_free(&runs);
	if (err)
		errno = -err;
	return err ? NULL : bits;
}

/* Allocate the record (and the dirty log buffer in KERNEL mode). */
int vmm_mem_record_init(struct vmm_mem *mem)
{
	struct vmm_mem_record *r = &mem->rec;

	r->bits = vmm_calloc(vmm_bitmap_words(mem->pages), sizeof(*r->bits));
	if (!r->bits)
		return -ENOMEM;
	if (mem->mode == COWVM_MEM_KERNEL) {
		mem->dirty = vmm_calloc(vmm_bitmap_words(mem->pages),
					sizeof(*mem->dirty));
		if (!mem->dirty)
			return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->quiesce, NULL);
	r->init = true;
	return 0;
}

/* Release the record (safe when never set up). */
void vmm_mem_record_fini(struct vmm_mem *mem)
{
	struct vmm_mem_record *r = &mem->rec;

	if (r->init) {
		pthread_mutex_destroy(&r->lock);
		pthread_mutex_destroy(&r->quiesce);
	}
	free(r->bits);
	free(r->list);
	free(mem->dirty);
	*r = (struct vmm_mem_record){0};
	mem->dirty = NULL;
}

/* Append page off unless recorded; lock held. */
static int record_one(struct vmm_mem_record *r, uint64_t off)
{
	if (r->bits[off / 64] & (1ull << (off % 64)))
		return 0;
	if (r->nlist == r->caplist) {
		uint64_t cap = r->caplist ? 2 * r->caplist : 1024;
		uint64_t *l = vmm_realloc(r->list, cap * sizeof(*l));

		if (!l)
			return -ENOMEM;
		r->list = l;
		r->caplist = cap;
	}
	r->bits[off / 64] |= 1ull << (off % 64);
	r->list[r->nlist++] = off;
	return 0;
}

/* Record pages [off, off + n) under the lock. */
int vmm_mem_record(struct vmm_mem *mem, uint64_t off, uint64_t n)
{
	struct vmm_mem_record *r = &mem->rec;
	int err = 0;

	pthread_mutex_lock(&r->lock);
	for (uint64_t i = 0; !err && i < n; i++)
		err = record_one(r, off + i);
	if (err && !r->err)
		r->err = err;
	pthread_mutex_unlock(&r->lock);
	return err;
}

/* Write-protect again in KVM, and clear in its dirty log, the pages of
 * slot i set in bits (bit k: page first + k of the slot, first a multiple
 * of 64); with manual re-protection only. 0 or -errno. */
static int dirty_rearm(struct vmm_mem *mem, unsigned i, uint64_t first,
		       uint64_t n, uint64_t *bits)
{
	struct kvm_clear_dirty_log c = {
		.slot = i,
		.num_pages = (uint32_t)n,
		.first_page = first,
		.dirty_bitmap = bits,
	};

	if (!mem->manual || !n)
		return 0;
	if (vmm_ioctl(mem->vm_fd, KVM_CLEAR_DIRTY_LOG, &c) < 0)
		return -errno;
	return 0;
}

/* The first nonzero word of bitmap b at or after w, or nw: eight words
 * at a time, which the compiler vectorizes (a GiB is 4096 words). */
static uint64_t dirty_next(const uint64_t *b, uint64_t w, uint64_t nw)
{
	for (; w % 8 && w < nw; w++)
		if (b[w])
			return w;
	for (; w + 8 <= nw; w += 8) {
		uint64_t any = 0;

		for (unsigned k = 0; k < 8; k++)
			any |= b[w + k];
		if (any)
			break;
	}
	for (; w < nw; w++)
		if (b[w])
			return w;
	return nw;
}

/* Fetch the KVM dirty log of every slot (clearing it: by KVM, or here
 * with manual re-protection when discarding); show the pages to the write
 * watch and record them unless discard. O(memory / 32 KiB) for the bitmaps,
 * plus dirty pages. */
static int dirty_collect(struct vmm_mem *mem, bool discard)
{
	for (unsigned i = 0; i < mem->nr; i++) {
		struct kvm_dirty_log log = {.slot = i,
					    .dirty_bitmap = mem->dirty};
		uint64_t n = mem->slot[i].range.size / VMM_PAGE;
		uint64_t nw = (n + 63) / 64;
		int err;

		if (vmm_ioctl(mem->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			return -errno;
		for (uint64_t w = dirty_next(mem->dirty, 0, nw); w < nw;
		     w = dirty_next(mem->dirty, w + 1, nw)) {
			uint64_t bits = mem->dirty[w];

			while (bits) {
				uint64_t p = w * 64 +
					     (uint64_t)__builtin_ctzll(bits);

				vmm_mem_watch_write(mem,
						    mem->slot[i].range.gpa +
							    p * VMM_PAGE,
						    VMM_PAGE);
				err = discard ? 0
					      : vmm_mem_record(
							mem,
							mem->slot[i].off + p,
							1);
				if (err)
					return err;
				bits &= bits - 1;
			}
		}
		err = discard ? dirty_rearm(mem, i, 0, n, mem->dirty) : 0;
		if (err)
			return err;
	}
	return 0;
}

/* Re-protect the recorded pages of slot i that are not hot: one
 * KVM_CLEAR_DIRTY_LOG over the 64-page-aligned span they cover. */
static int record_rearm_slot(struct vmm_mem *mem, unsigned i)
{
	const struct vmm_mem_record *r = &mem->rec;
	uint64_t lo = mem->slot[i].off, n = mem->slot[i].range.size / VMM_PAGE;
	uint64_t first = UINT64_MAX, last = 0, span;

	for (uint64_t k = 0; k < r->nlist; k++) {
		uint64_t p = r->list[k] - lo;

		if (r->list[k] >= lo && p < n &&
		    !vmm_mem_is_hot(mem, r->list[k])) {
			first = p < first ? p : first;
			last = p > last ? p : last;
		}
	}
	if (first == UINT64_MAX)
		return 0;
	first &= ~63ull;
	span = (last - first + 64) & ~63ull;
	if (first + span > n)
		span = n - first;
	memset(mem->dirty, 0, (span + 63) / 64 * sizeof(uint64_t));
	for (uint64_t k = 0; k < r->nlist; k++) {
		uint64_t p = r->list[k] - lo;

		if (r->list[k] >= lo && p < n &&
		    !vmm_mem_is_hot(mem, r->list[k]))
			mem->dirty[(p - first) / 64] |= 1ull
							<< ((p - first) % 64);
	}
	return dirty_rearm(mem, i, first, span, mem->dirty);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Collect the dirty log, then sort the record and turn it into runs; none
 * for a direct (MAP_SHARED) or empty mem. When recording failed since the
 * last fold (the record may lack pages), the runs come from the mapping
 * itself instead: every page written since RAM was mapped is one the host
 * kernel copied (vmm_mem_anon_runs), kept copies too, which folding
 * leaves equal. */
int vmm_mem_written_runs(struct vmm_mem *mem, struct vmm_runs *out)
{
	struct vmm_mem_record *r = &mem->rec;
	int err = 0;

	if (!mem->tree || mem->direct)
		return 0;
	if (mem->mode == COWVM_MEM_KERNEL)
		err = dirty_collect(mem, false);
	pthread_mutex_lock(&r->lock);
	if (err && !r->err)
		r->err = err;
	if (!r->err && r->nlist)
		qsort(r->list, r->nlist, sizeof(*r->list), cmp_u64);
	for (uint64_t i = 0; !r->err && i < r->nlist; i++)
		r->err = vmm_runs_add(out, r->list[i], 1);
	err = r->err;
	pthread_mutex_unlock(&r->lock);
	if (err) {
		vmm_runs_free(out);
		err = vmm_mem_anon_runs(mem, out);
	}
	return err;
}

/* Re-protect the recorded pages except hot ones, forget the record, and
 * with log the dirty log so far. */
int vmm_mem_written_clear(struct vmm_mem *mem, bool log)
{
	struct vmm_mem_record *r = &mem->rec;
	int err = 0;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; !err && mem->manual && i < mem->nr; i++)
		err = record_rearm_slot(mem, i);
	if (r->nlist < vmm_bitmap_words(mem->pages))
		for (uint64_t i = 0; i < r->nlist; i++)
			r->bits[r->list[i] / 64] &=
				~(1ull << (r->list[i] % 64));
	else
		memset(r->bits, 0,
		       vmm_bitmap_words(mem->pages) * sizeof(*r->bits));
	r->nlist = 0;
	r->err = 0;
	pthread_mutex_unlock(&r->lock);
	if (!err && log && mem->mode == COWVM_MEM_KERNEL)
		err = dirty_collect(mem, true);
	return err;
}
