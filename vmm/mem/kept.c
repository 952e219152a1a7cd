/* Kept copies (KERNEL mode): private pages left mapped after a reset or a
 * fold made their contents equal to the frames the extents map them to, so
 * that the guest's next write to them costs no copy on write. Hot ones are
 * also left writable in KVM (with manual dirty-log re-protection), so that
 * it costs no exit either: KVM keeps reporting them dirty, and each reset
 * compares them with their frames. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mem_internal.h"

/* Whether n more pages may be kept: the copies are memory the host holds
 * on top of the frames, so each VM keeps at most VMM_KEEP_MAX. */
bool vmm_mem_keep_room(const struct vmm_mem *mem, uint64_t n)
{
	return mem->mode == COWVM_MEM_KERNEL && mem->nkept + n <= VMM_KEEP_MAX;
}

/* Mark pages [off, off + n) kept; 0 or -ENOMEM. */
int vmm_mem_keep(struct vmm_mem *mem, uint64_t off, uint64_t n)
{
	if (!mem->kept) {
		mem->kept = vmm_calloc(vmm_bitmap_words(mem->pages),
				       sizeof(uint64_t));
		if (!mem->kept)
			return -ENOMEM;
	}
	for (uint64_t p = off; p < off + n; p++) {
		uint64_t bit = 1ull << (p % 64);

		mem->nkept += !(mem->kept[p / 64] & bit);
		mem->kept[p / 64] |= bit;
	}
	return 0;
}

/* Forget pages [off, off + n): their copies were dropped or replaced. */
void vmm_mem_unkeep(struct vmm_mem *mem, uint64_t off, uint64_t n)
{
	for (uint64_t p = off; mem->nkept && p < off + n; p++) {
		uint64_t bit = 1ull << (p % 64);

		mem->nkept -= !!(mem->kept[p / 64] & bit);
		mem->kept[p / 64] &= ~bit;
		vmm_mem_hot_del(mem, p);
	}
}

/* Make kept page off hot (again written: not idle) while fewer than
 * VMM_HOT_MAX are; 0 or -ENOMEM. */
int vmm_mem_hot_add(struct vmm_mem *mem, uint64_t off)
{
	uint64_t bit = 1ull << (off % 64);

	if (vmm_mem_is_hot(mem, off)) {
		mem->hot_idle[off] = 0;
		return 0;
	}
	if (!mem->manual || mem->nhot >= VMM_HOT_MAX)
		return 0;
	if (!mem->hot) {
		/* the idle counts: one byte a page, touched only where hot */
		mem->hot = vmm_calloc(vmm_bitmap_words(mem->pages),
				      sizeof(uint64_t));
		mem->hot_idle = vmm_calloc(mem->pages, 1);
		if (!mem->hot || !mem->hot_idle) {
			free(mem->hot);
			free(mem->hot_idle);
			mem->hot = NULL;
			mem->hot_idle = NULL;
			return -ENOMEM;
		}
	}
	mem->nhot++;
	mem->hot[off / 64] |= bit;
	mem->hot_idle[off] = 0;
	return 0;
}

/* Count one more reset hot page off went unwritten; true at VMM_HOT_IDLE. */
bool vmm_mem_hot_idle(struct vmm_mem *mem, uint64_t off)
{
	return ++mem->hot_idle[off] >= VMM_HOT_IDLE;
}

/* Page off is not hot (any more). */
void vmm_mem_hot_del(struct vmm_mem *mem, uint64_t off)
{
	uint64_t bit = 1ull << (off % 64);

	if (!mem->nhot || !(mem->hot[off / 64] & bit))
		return;
	mem->hot[off / 64] &= ~bit;
	mem->nhot--;
}

/* Whether page off is hot. */
bool vmm_mem_is_hot(const struct vmm_mem *mem, uint64_t off)
{
	return mem->nhot && (mem->hot[off / 64] >> (off % 64)) & 1;
}

/* Whether page off is kept. */
bool vmm_mem_is_kept(const struct vmm_mem *mem, uint64_t off)
{
	return mem->kept && (mem->kept[off / 64] >> (off % 64)) & 1;
}

/* Whether hot page off holds its frame's bytes: KVM reports hot pages
 * dirty whether the guest wrote them or not, so only the bytes tell. */
bool vmm_mem_hot_clean(const struct vmm_mem *mem, uint64_t off)
{
	return vmm_mem_is_hot(mem, off) &&
	       !memcmp(mem->base + off * VMM_PAGE,
		       cow_frame_ptr(vmm_store(),
				     (uint32_t)vmm_mem_page_frame(mem, off)),
		       VMM_PAGE);
}
