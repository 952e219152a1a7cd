/* Guest RAM realization: the one interface the rest of the VMM uses to get
 * RAM into KVM and to reach it from the host (replaceable by a COW engine). */
#ifndef VMM_MEM_H
#define VMM_MEM_H

#include <stdint.h>

#include "cowvm_abi.h"

/* A guest-physical RAM range. */
struct vmm_range {
	uint64_t gpa;
	uint64_t size;
};

#define VMM_MAX_RANGES 2u

/* The ABI layout of mem bytes of RAM (cowvm_abi.h): fills r[] with the low
 * range and, when mem exceeds COWVM_LOW_MEM_MAX, the high one; returns the
 * number of ranges. Independent of how RAM is realized. */
static inline unsigned vmm_mem_layout(uint64_t mem,
				      struct vmm_range r[VMM_MAX_RANGES])
{
	uint64_t low = mem < COWVM_LOW_MEM_MAX ? mem : COWVM_LOW_MEM_MAX;

	r[0].gpa = 0;
	r[0].size = low;
	if (mem == low)
		return 1;
	r[1].gpa = COWVM_HIGH_MEM_BASE;
	r[1].size = mem - low;
	return 2;
}

/* One past the highest guest-physical RAM address for mem bytes of RAM. */
static inline uint64_t vmm_mem_top(uint64_t mem)
{
	struct vmm_range r[VMM_MAX_RANGES];
	unsigned n = vmm_mem_layout(mem, r);

	return r[n - 1].gpa + r[n - 1].size;
}

struct vmm_mem;

/* Realize size bytes of zeroed guest RAM (vmm_mem_layout) and register it
 * with the VM vm_fd as memslots; 0 and *out, or -errno. */
int vmm_mem_create(int vm_fd, uint64_t size, struct vmm_mem **out);

/* Host address of guest-physical [gpa, gpa + len), or NULL unless the whole
 * range lies in one RAM range (len 0: gpa itself must be RAM). Overflow-safe.
 * Ranges never touch (the hole below 4 GiB), so one range is no restriction. */
void *vmm_mem_gpa(const struct vmm_mem *mem, uint64_t gpa, uint64_t len);

/* Bytes of guest RAM. */
uint64_t vmm_mem_size(const struct vmm_mem *mem);

/* Release the RAM; call after the VM fd is closed. NULL is ignored. */
void vmm_mem_destroy(struct vmm_mem *mem);

#endif
