/* The process-wide frame store every VM's guest page table lives in: made
 * on first use, destroyed with its last reference, started afresh in a
 * forked child. */
#include <pthread.h>

#include "mem_internal.h"

/* Frame limit (256 GiB of guest pages) and window index space (4 TiB) of
 * the process-wide store; the memfd is sparse, so only the written pages
 * cost memory. */
#define VMM_STORE_FRAMES  (1u << 26)
#define VMM_STORE_WINDOWS (1u << 30)

pthread_mutex_t vmm_store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cow_store *vmm_store_ptr;
static unsigned vmm_store_refs;
static struct cow_store *vmm_store_inherited; /* forked child: the parent's */

/* Take a reference on the store, creating it on first use; NULL+errno. */
struct cow_store *vmm_store_get(void)
{
	struct cow_store_config cfg = {.max_frames = VMM_STORE_FRAMES,
				       .window_frames = VMM_STORE_WINDOWS};
	struct cow_store *s;

	pthread_mutex_lock(&vmm_store_lock);
	if (!vmm_store_ptr)
		vmm_store_ptr = cow_store_create(&cfg);
	s = vmm_store_ptr;
	if (s)
		vmm_store_refs++;
	pthread_mutex_unlock(&vmm_store_lock);
	return s;
}

/* Drop a reference; the last one destroys the store. */
void vmm_store_put(void)
{
	pthread_mutex_lock(&vmm_store_lock);
	if (vmm_store_refs && !--vmm_store_refs) {
		cow_store_destroy(vmm_store_ptr);
		vmm_store_ptr = NULL;
	}
	pthread_mutex_unlock(&vmm_store_lock);
}

/* In a forked child: a new store for the VMs made from now on; the
 * inherited one, whose memfd the parent shares, is never touched again. */
void vmm_store_fork_child(void)
{
	if (vmm_store_ptr)
		vmm_store_inherited = vmm_store_ptr;
	vmm_store_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	vmm_store_ptr = NULL;
	vmm_store_refs = 0;
}

/* The store; the caller holds a reference. */
struct cow_store *vmm_store(void)
{
	return vmm_store_ptr;
}

/* Frames in use in the store (0 when there is none). */
uint64_t vmm_mem_store_frames(void)
{
	struct cow_store_stats st = {0};

	pthread_mutex_lock(&vmm_store_lock);
	if (vmm_store_ptr)
		cow_store_stats(vmm_store_ptr, &st);
	pthread_mutex_unlock(&vmm_store_lock);
	return st.frames_used;
}
