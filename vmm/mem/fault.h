/* Fault injection for tests: make the Nth fallible call of one kind on the
 * calling thread fail, so that a test can walk every error path of an
 * operation. Every mmap, munmap, madvise, ioctl and allocation of the vmm/
 * layers, and every fallible call into cow/ from them, goes through the
 * wrappers below. Disarmed (the default), a wrapper costs one thread-local
 * load. */
#ifndef VMM_FAULT_H
#define VMM_FAULT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

enum vmm_fault_kind {
	VMM_FAULT_MMAP,	   /* mmap of guest RAM or the kvm_run page */
	VMM_FAULT_MUNMAP,  /* munmap */
	VMM_FAULT_MADVISE, /* madvise that drops private copies */
	VMM_FAULT_IOCTL,   /* KVM, userfaultfd and pagemap ioctls */
	VMM_FAULT_ALLOC,   /* malloc, calloc, realloc */
	VMM_FAULT_COW,	   /* a fallible call into the cow engine */
	VMM_FAULT_KINDS
};

/* The calling thread's injection: the nth call of kind from now on fails
 * with err (n = 0 disarms every kind). */
void vmm_fault_arm(enum vmm_fault_kind kind, uint64_t n, int err);
/* The same for calls on any thread (a handler thread's, say), counted
 * together; n = 0 disarms. */
void vmm_fault_arm_all(enum vmm_fault_kind kind, uint64_t n, int err);
/* Record the request codes of the calling thread's ioctls from now on
 * into trace[0..max) (max = 0 stops); returns nothing, see _traced. */
void vmm_fault_trace(unsigned long *trace, unsigned max);
/* Ioctls recorded since vmm_fault_trace (may exceed max: then the trace
 * holds the first max). */
unsigned vmm_fault_traced(void);
/* Calls of kind counted on this thread since it was last armed. */
uint64_t vmm_fault_calls(enum vmm_fault_kind kind);
/* Whether the armed call was reached (and failed) since the last arm. */
bool vmm_fault_fired(void);
/* A name for kind ("mmap", "ioctl", ...). */
const char *vmm_fault_name(enum vmm_fault_kind kind);

/* Whether this call of kind must fail; then errno is the armed error. */
bool vmm_fault_hit_(enum vmm_fault_kind kind);
/* Count an ioctl request into the trace; false. */
bool vmm_fault_ioctl_(unsigned long req);
extern _Thread_local bool vmm_fault_on;
extern bool vmm_fault_any; /* vmm_fault_arm_all is armed */

static inline bool vmm_fault(enum vmm_fault_kind kind)
{
	return (vmm_fault_on ||
		__atomic_load_n(&vmm_fault_any, __ATOMIC_RELAXED)) &&
	       vmm_fault_hit_(kind);
}

static inline void *vmm_mmap(void *addr, size_t len, int prot, int flags,
			     int fd, off_t off)
{
	return vmm_fault(VMM_FAULT_MMAP)
		       ? MAP_FAILED
		       : mmap(addr, len, prot, flags, fd, off);
}

static inline int vmm_munmap(void *addr, size_t len)
{
	return vmm_fault(VMM_FAULT_MUNMAP) ? -1 : munmap(addr, len);
}

static inline int vmm_madvise(void *addr, size_t len, int advice)
{
	return vmm_fault(VMM_FAULT_MADVISE) ? -1 : madvise(addr, len, advice);
}

/* ioctl(fd, req, arg) with arg a pointer or an integer, as ioctl takes. */
#define vmm_ioctl(fd, req, arg)                                                \
	((vmm_fault_on && vmm_fault_ioctl_(req)) || vmm_fault(VMM_FAULT_IOCTL) \
		 ? -1                                                          \
		 : ioctl((fd), (req), (arg)))

static inline void *vmm_malloc(size_t n)
{
	return vmm_fault(VMM_FAULT_ALLOC) ? NULL : malloc(n);
}

static inline void *vmm_calloc(size_t n, size_t size)
{
	return vmm_fault(VMM_FAULT_ALLOC) ? NULL : calloc(n, size);
}

static inline void *vmm_realloc(void *p, size_t n)
{
	return vmm_fault(VMM_FAULT_ALLOC) ? NULL : realloc(p, n);
}

#endif
