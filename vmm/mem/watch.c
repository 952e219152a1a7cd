/* Write watch over a few guest-physical ranges: fed by the KVM dirty log
 * (page granular) and by host writes (byte granular), for vmm/state_r3.c. */
#include "mem_internal.h"

/* Watch w[0..n) from now on (KERNEL mode only). */
bool vmm_mem_watch(struct vmm_mem *mem, const struct vmm_watch *w, unsigned n)
{
	bool ok = mem->mode == COWVM_MEM_KERNEL && n <= VMM_WATCH_MAX;

	mem->nwatch = ok ? n : 0;
	for (unsigned i = 0; i < mem->nwatch; i++)
		mem->watch[i] = w[i];
	mem->watch_hit = false;
	return ok;
}

/* Whether something is watched and none of it was written. */
bool vmm_mem_watch_clean(const struct vmm_mem *mem)
{
	return mem->nwatch && !mem->watch_hit;
}

/* Note a write to [gpa, gpa + len): a hit when it overlaps a range. */
void vmm_mem_watch_write(struct vmm_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; !mem->watch_hit && i < mem->nwatch; i++) {
		const struct vmm_watch *w = &mem->watch[i];

		if (gpa < w->gpa + w->len && w->gpa < gpa + len)
			mem->watch_hit = true;
	}
}
