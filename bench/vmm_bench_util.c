/* The vmm internals bench-vmm's baselines need: state save/restore, the
 * frame memfd holding a snapshot's RAM, VMs created without the pool. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem_internal.h"
#include "pool.h"
#include "state.h"
#include "vmm.h"
#include "vmm_bench_util.h"
#include "cowvm_workload_abi.h"

const uint64_t bvm_low_mem_max = COWVM_LOW_MEM_MAX;
const uint64_t bvm_high_mem_base = COWVM_HIGH_MEM_BASE;
const uint64_t bvm_memtest_base = COWVM_MEMTEST_BASE;

/* vmm_state_save with errno. */
struct vmm_state *bvm_state_save(struct cowvm *vm)
{
	struct vmm_state *st = NULL;
	int err = vmm_state_save(vm, &st);

	if (err) {
		errno = -err;
		return NULL;
	}
	return st;
}

/* vmm_state_unpack with errno. */
struct vmm_state *bvm_state_unpack(const void *buf, size_t len)
{
	struct vmm_state *st = NULL;
	int err = vmm_state_unpack(buf, len, &st);

	if (err) {
		errno = -err;
		return NULL;
	}
	return st;
}

/* vmm_state_free. */
void bvm_state_free(struct vmm_state *st)
{
	vmm_state_free(st);
}

/* vm's RAM as one linear run of the frame memfd, if it is one. */
int bvm_ram_file(struct cowvm *vm, int *fd, uint64_t *off)
{
	const struct vmm_mem *mem = vm->mem;
	int dup_fd;

	if (!mem || !mem->ext || mem->ext->n != 1 || mem->ext->e[0].off ||
	    mem->ext->e[0].n != mem->pages)
		return -ENOTSUP;
	dup_fd = fcntl(cow_frame_fd(vmm_store()), F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return -errno;
	*fd = dup_fd;
	*off = cow_frame_offset(mem->ext->e[0].frame);
	return 0;
}

/* New VM without the pool, RAM mapped privately from the file, state. */
struct cowvm *bvm_restore_mapped(const struct cowvm_config *cfg, int fd,
				 uint64_t off, const struct vmm_state *st)
{
	struct cowvm *vm;
	void *base;
	int err = vmm_vm_new(cfg, true, &vm);

	if (err) {
		errno = -err;
		return NULL;
	}
	base = vmm_mem_gpa(vm->mem, 0, 0);
	if (!base || mmap(base, cfg->mem_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_FIXED, fd, (off_t)off) != base) {
		err = base ? -errno : -EFAULT;
	}
	if (!err)
		err = vmm_state_restore(vm, st);
	if (err) {
		vmm_vm_free(vm);
		errno = -err;
		return NULL;
	}
	return vm;
}

/* Free a VM from bvm_restore_mapped: unmap the file mapping first, so its
 * RAM range goes back to cowvm's address-space arena as the hole it was. */
void bvm_vm_free(struct cowvm *vm)
{
	void *base = vmm_mem_gpa(vm->mem, 0, 0);

	if (base)
		munmap(base, vm->cfg.mem_size);
	vmm_vm_free(vm);
}

/* Host address of gpa for reading. */
const void *bvm_ram(struct cowvm *vm, uint64_t gpa)
{
	return vmm_mem_gpa(vm->mem, gpa, 0);
}

/* Copy every RAM range of src into dst's fresh pages, then the state. */
int bvm_full_copy(struct cowvm *dst, struct cowvm *src,
		  const struct vmm_state *st)
{
	struct vmm_range r[VMM_MAX_RANGES];
	unsigned n = vmm_mem_layout(src->cfg.mem_size, r);

	if (dst->cfg.mem_size != src->cfg.mem_size)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		const void *from = vmm_mem_gpa(src->mem, r[i].gpa, r[i].size);
		void *to = vmm_mem_gpa_write(dst->mem, r[i].gpa, r[i].size);

		if (!from || !to)
			return -EFAULT;
		memcpy(to, from, r[i].size);
	}
	return vmm_state_restore(dst, st);
}

/* Ready VMs of cfg's class and an idle reaper. */
int bvm_pool_settle(const struct cowvm_config *cfg, unsigned n,
		    unsigned timeout_ms)
{
	int err = vmm_pool_wait_reaped(timeout_ms);

	if (!err && n)
		err = vmm_pool_wait_ready(cfg, n, timeout_ms);
	return err;
}

/* Punch the store's freed frames. */
void bvm_store_trim(void)
{
	struct cow_store *s = vmm_store_get();

	if (!s)
		return;
	pthread_mutex_lock(&vmm_store_lock);
	cow_store_trim(s);
	pthread_mutex_unlock(&vmm_store_lock);
	vmm_store_put();
}

/* The store memfd's allocated bytes, read under the store lock so that
 * the store cannot go meanwhile. */
uint64_t bvm_store_bytes(void)
{
	struct stat sb;
	uint64_t n = 0;

	pthread_mutex_lock(&vmm_store_lock);
	if (vmm_store() && !fstat(cow_frame_fd(vmm_store()), &sb))
		n = (uint64_t)sb.st_blocks * 512;
	pthread_mutex_unlock(&vmm_store_lock);
	return n;
}

/* Idle reaper. */
int bvm_pool_wait_reaped(unsigned timeout_ms)
{
	return vmm_pool_wait_reaped(timeout_ms);
}

/* Pool take counters. */
void bvm_pool_counts(unsigned long *taken, unsigned long *missed)
{
	struct vmm_pool_stats s = vmm_pool_stats(NULL);

	*taken = s.taken;
	*missed = s.missed;
}

/* The last restore's ioctl and MSR counts. */
void bvm_restore_stats(unsigned *ioctls, unsigned *msrs)
{
	struct vmm_state_stats s = vmm_state_last_stats();

	*ioctls = s.ioctls;
	*msrs = s.msrs;
}
