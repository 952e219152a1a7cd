/* The vmm internals bench-vmm's baselines need, behind a C interface the
 * C++ harness can include (the internal headers use C11 atomics). */
#ifndef VMM_BENCH_UTIL_H
#define VMM_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "cowvm.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmm_state;

/* The ABI constants the harness needs (cowvm_abi.h is C only). */
extern const uint64_t bvm_low_mem_max;	 /* COWVM_LOW_MEM_MAX */
extern const uint64_t bvm_high_mem_base; /* COWVM_HIGH_MEM_BASE */
extern const uint64_t bvm_memtest_base;	 /* COWVM_MEMTEST_BASE */

/* Save vm's complete non-RAM state (vmm_state_save); NULL and errno. */
struct vmm_state *bvm_state_save(struct cowvm *vm);

/* A state from the len bytes of a snapshot file's STATE section
 * (vmm_state_unpack); NULL and errno. */
struct vmm_state *bvm_state_unpack(const void *buf, size_t len);

/* Free a state from bvm_state_save; NULL is ignored. */
void bvm_state_free(struct vmm_state *st);

/* The file holding vm's RAM after a snapshot, in RAM order: the frame
 * memfd of cowvm's store and the byte offset of vm's linear run in it.
 * 0, or -ENOTSUP when vm's RAM is not one linear run (it wrote pages that
 * were folded elsewhere). *fd is a new descriptor the caller closes. */
int bvm_ram_file(struct cowvm *vm, int *fd, uint64_t *off);

/* Firecracker-style restore, all of it synchronous: a new KVM VM with its
 * in-kernel devices, memslots and vCPU (vmm_vm_new, no pool), its RAM
 * region replaced by mmap(MAP_FIXED | MAP_PRIVATE) of [off, off + size)
 * of fd, then vmm_state_restore(st). NULL and errno. The result may be
 * read through bvm_ram but not run through cowvm (its RAM is not in the
 * cow engine); free it with bvm_vm_free, which unmaps that file. */
struct cowvm *bvm_restore_mapped(const struct cowvm_config *cfg, int fd,
				 uint64_t off, const struct vmm_state *st);

/* Close vm's fds and free its RAM on this thread, synchronously. */
void bvm_vm_free(struct cowvm *vm);

/* Host address of guest-physical gpa in vm's RAM region (for reading),
 * NULL if not RAM. */
const void *bvm_ram(struct cowvm *vm, uint64_t gpa);

/* The full-copy clone: copy all of src's RAM into dst (a VM made by
 * cowvm_create, whose RAM is fresh pages of its own) and restore st into
 * dst; 0 or -errno. */
int bvm_full_copy(struct cowvm *dst, struct cowvm *src,
		  const struct vmm_state *st);

/* Wait until the pool class of cfg holds n ready VMs and the reaper is
 * idle; 0 or -ETIMEDOUT. */
int bvm_pool_settle(const struct cowvm_config *cfg, unsigned n,
		    unsigned timeout_ms);

/* Give the memory of freed frames back to the system (cow_store_trim of
 * the process-wide store); freed frames otherwise stay resident for
 * reuse. */
void bvm_store_trim(void);

/* Bytes of memory the frame store's memfd holds now (its allocated
 * blocks: frames in use plus freed frames not yet punched), 0 if there is
 * no store. Safe from any thread. */
uint64_t bvm_store_bytes(void);

/* Wait until the reaper is idle; 0 or -ETIMEDOUT. */
int bvm_pool_wait_reaped(unsigned timeout_ms);

/* Pool counters: takes served from the pool and takes that missed. */
void bvm_pool_counts(unsigned long *taken, unsigned long *missed);

/* What the last vmm_state_restore of this thread issued. */
void bvm_restore_stats(unsigned *ioctls, unsigned *msrs);

#ifdef __cplusplus
}
#endif

#endif
