/* Guest RAM as one sparse memfd mapped MAP_SHARED, one memslot per range. */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "mem.h"

struct vmm_mem_slot {
	struct vmm_range range;
	uint8_t *hva;
};

struct vmm_mem {
	int memfd;
	uint8_t *base; /* the whole memfd, ranges back to back */
	uint64_t size;
	unsigned nr;
	struct vmm_mem_slot slot[VMM_MAX_RANGES];
};

/* Register slot i of mem with KVM; 0 or -errno. */
static int mem_register(int vm_fd, const struct vmm_mem *mem, unsigned i)
{
	struct kvm_userspace_memory_region region = {
		.slot = i,
		.guest_phys_addr = mem->slot[i].range.gpa,
		.memory_size = mem->slot[i].range.size,
		.userspace_addr = (uint64_t)(uintptr_t)mem->slot[i].hva,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return -errno;
	return 0;
}

/* Create the memfd and its mapping; 0 or -errno (mem->memfd/base set). */
static int mem_map(struct vmm_mem *mem)
{
	void *p;

	mem->memfd = memfd_create("cowvm-ram", MFD_CLOEXEC);
	if (mem->memfd < 0)
		return -errno;
	if (ftruncate(mem->memfd, (off_t)mem->size) < 0)
		return -errno;
	p = mmap(NULL, mem->size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_NORESERVE, mem->memfd, 0);
	if (p == MAP_FAILED)
		return -errno;
	mem->base = p;
	return 0;
}

/* Map a sparse memfd of size bytes and register one memslot per range. */
int vmm_mem_create(int vm_fd, uint64_t size, struct vmm_mem **out)
{
	struct vmm_range r[VMM_MAX_RANGES];
	struct vmm_mem *mem;
	uint64_t off = 0;
	int err;

	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	mem->memfd = -1;
	mem->size = size;
	mem->nr = vmm_mem_layout(size, r);
	err = mem_map(mem);
	for (unsigned i = 0; !err && i < mem->nr; i++) {
		mem->slot[i].range = r[i];
		mem->slot[i].hva = mem->base + off;
		off += r[i].size;
		err = mem_register(vm_fd, mem, i);
	}
	if (err) {
		vmm_mem_destroy(mem);
		return err;
	}
	*out = mem;
	return 0;
}

/* Host address of [gpa, gpa + len) if it lies in one RAM range, else NULL. */
void *vmm_mem_gpa(const struct vmm_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr; i++) {
		const struct vmm_mem_slot *s = &mem->slot[i];
		uint64_t off = gpa - s->range.gpa;

		if (gpa < s->range.gpa || off >= s->range.size)
			continue;
		if (len > s->range.size - off)
			return NULL;
		return s->hva + off;
	}
	return NULL;
}

/* Bytes of guest RAM. */
uint64_t vmm_mem_size(const struct vmm_mem *mem)
{
	return mem->size;
}

/* Unmap and close the RAM; NULL is ignored. */
void vmm_mem_destroy(struct vmm_mem *mem)
{
	if (!mem)
		return;
	if (mem->base)
		munmap(mem->base, mem->size);
	if (mem->memfd >= 0)
		close(mem->memfd);
	free(mem);
}
