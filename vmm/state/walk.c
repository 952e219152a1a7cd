/* The guest's own page walk: a guest-virtual address translated through
 * the 4-level page tables of a state, as the CPU does at CPL 3. */
#include "state.h"

#define WALK_PAGE     4096ull
#define WALK_PTE_P    (1ull << 0)
#define WALK_PTE_US   (1ull << 2)
#define WALK_PTE_PS   (1ull << 7)
#define WALK_PTE_ADDR 0x000ffffffffff000ull

/* Translate gva through the 4-level tables at cr3 into *out; false if
 * unmapped. Levels 3..0 index gva bits 47:39 (PML4), 38:30 (PDPT, PS = 1
 * GiB page), 29:21 (PD, PS = 2 MiB page), 20:12 (PT); entries hold the
 * next table or page at bits 51:12, P at bit 0 and U/S at bit 2. */
bool vmm_gva_walk(struct vmm_mem *mem, uint64_t cr3, uint64_t gva,
		  struct vmm_gva *out)
{
	uint64_t table = cr3 & WALK_PTE_ADDR;
	bool user = true;

	for (int level = 3; level >= 0; level--) {
		unsigned shift = 12 + 9 * (unsigned)level;
		uint64_t slot = table + ((gva >> shift) & 511) * 8;
		const uint64_t *e = vmm_mem_gpa(mem, slot, 8);
		uint64_t mask = (1ull << shift) - 1;

		if (!e || !(*e & WALK_PTE_P))
			return false;
		user = user && (*e & WALK_PTE_US);
		if (level == 0 ||
		    ((level == 1 || level == 2) && *e & WALK_PTE_PS)) {
			out->gpa = (*e & WALK_PTE_ADDR & ~mask) | (gva & mask);
			out->size = mask + 1;
			out->user = user;
			return true;
		}
		table = *e & WALK_PTE_ADDR;
	}
	return false;
}
