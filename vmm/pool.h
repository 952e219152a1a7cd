/* A pool of ready-made VMs refilled by a background thread (vmm/pool.c); the
 * VMs it lets go, and every other discarded VM, go to the reaper
 * (vmm_vm_discard in kvm/vmm.h). */
#ifndef VMM_POOL_H
#define VMM_POOL_H

#include "vmm.h"

/* Keep n ready VMs of cfg's (mem_size, mem_mode), created and refilled in
 * the background; n = 0 drains them. 0 or -errno (-EINVAL for a bad cfg). */
int vmm_pool_reserve(const struct cowvm_config *cfg, unsigned n);

/* A pristine VM for cfg (console, timeout and vCPUs taken from cfg) with
 * memslots over empty RAM: a ready one if the pool holds one, else one
 * created now. NULL and errno on failure (reason in vmm_vm_error()). */
struct cowvm *vmm_pool_take(const struct cowvm_config *cfg);

/* Counters for tests and benchmarks. */
struct vmm_pool_stats {
	unsigned ready;	       /* ready VMs of the class asked about */
	unsigned target;       /* its reserve */
	unsigned reaping;      /* VMs waiting for the reaper, all classes */
	unsigned long taken;   /* takes served from the pool, all classes */
	unsigned long missed;  /* takes that created a VM synchronously */
	unsigned long created; /* VMs created by the filler */
	unsigned long reaped;  /* VMs destroyed by the reaper */
	int last_error;	       /* the filler's last -errno, 0 if none */
};

/* The counters, with ready/target for cfg's class (cfg may be NULL). */
struct vmm_pool_stats vmm_pool_stats(const struct cowvm_config *cfg);

/* Wait until the filler creates no VM and the reaper's queue is empty with
 * no VM being destroyed, or timeout_ms passes; 0 or -ETIMEDOUT. */
int vmm_pool_wait_reaped(unsigned timeout_ms);

/* Wait until cfg's class holds at least n ready VMs, or timeout_ms
 * passes; 0 or -ETIMEDOUT. */
int vmm_pool_wait_ready(const struct cowvm_config *cfg, unsigned n,
			unsigned timeout_ms);

/* In a forked child: start with no pool and no filler (vmm/fork.c). */
void vmm_pool_fork_child(void);

#endif
