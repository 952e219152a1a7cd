/* Process forks: a child of a process that used cowvm gets a library of its
 * own (a new frame store, an empty pool and reaper, no threads), and the VMs
 * and snapshots it inherited become inert, since their frames live in the memfd
 * it shares with the parent: using or freeing them there would change the
 * parent's guest memory. */
#include <errno.h>
#include <pthread.h>

#include "api.h"

/* Before fork: hold the locks whose state the child keeps. */
static void vmm_fork_prepare(void)
{
	vmm_arena_fork_lock();
}

/* After fork, in the parent: release them. */
static void vmm_fork_parent(void)
{
	vmm_arena_fork_unlock();
}

/* After fork, in the child (one thread): start the library afresh. */
static void vmm_fork_child(void)
{
	vmm_fork_gen++;
	vmm_arena_fork_unlock();
	vmm_mem_fork_child();
	vmm_pool_fork_child();
	vmm_reaper_fork_child();
	vmm_timer_fork_child();
}

/* Install the fork handlers when the library is loaded, before any VM. */
__attribute__((constructor)) static void vmm_fork_install(void)
{
	(void)pthread_atfork(vmm_fork_prepare, vmm_fork_parent, vmm_fork_child);
}

/* vm is its parent's: say so; -ECHILD. */
int vmm_fail_inherited(struct cowvm *vm)
{
	return vmm_fail(vm, ECHILD,
			"this VM was made before fork(): only the process "
			"that made it can use it");
}
