/* Snapshots, clones, forks and resets: the public API over the memory image
 * (vmm/mem.h) and the machine state (vmm/state.h) of a VM. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "state.h"
#include "vmm.h"

/* A VM frozen at one instant: an image of its RAM and all its other state.
 * Immutable once taken; freed when the last reference is put. */
struct cowvm_snapshot {
	atomic_uint refs;
	struct cowvm_config cfg; /* of the VM it was taken from */
	struct vmm_mem_image *mem;
	struct vmm_state *state;
};

/* Free a snapshot's parts; NULL is ignored. */
static void snap_free(struct cowvm_snapshot *snap)
{
	if (!snap)
		return;
	vmm_mem_image_put(snap->mem);
	vmm_state_free(snap->state);
	free(snap);
}

/* Freeze vm (loaded, not stopped) into a new snapshot holding one ref. */
struct cowvm_snapshot *cowvm_snapshot(struct cowvm *vm)
{
	struct cowvm_snapshot *snap;
	int err;

	if (vm->state != VMM_READY) {
		vmm_fail(vm, EINVAL, "%s",
			 vm->state == VMM_CREATED ? "no guest is loaded"
						  : "the VM has stopped");
		errno = EINVAL;
		return NULL;
	}
	snap = calloc(1, sizeof(*snap));
	if (!snap) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&snap->refs, 1);
	snap->cfg = vm->cfg;
	err = vmm_state_save(vm, &snap->state);
	if (!err) {
		err = vmm_mem_image_take(vm->mem, &snap->mem);
		if (err)
			vmm_fail(vm, -err, "cannot snapshot guest RAM: %s",
				 strerror(-err));
	}
	if (err) {
		snap_free(snap);
		errno = -err;
		return NULL;
	}
	return snap;
}

/* Make vm's RAM and state those of snap; 0 or -errno with vm->err. */
static int snap_apply(struct cowvm *vm, struct cowvm_snapshot *snap)
{
	int err = vmm_mem_realize(vm->mem, snap->mem);

	if (err)
		return vmm_fail(vm, -err, "cannot realize guest RAM: %s",
				strerror(-err));
	return vmm_state_restore(vm, snap->state);
}

/* A new VM in snap's state, from the pool when it holds one. A VM whose
 * empty RAM region got a foreign mapping (-EBUSY, untouched) is discarded
 * for one created now. */
struct cowvm *cowvm_clone(struct cowvm_snapshot *snap)
{
	struct cowvm *vm = vmm_pool_take(&snap->cfg);
	int err;

	if (!vm)
		return NULL;
	err = vmm_mem_realize(vm->mem, snap->mem);
	if (err == -EBUSY) {
		vmm_pool_discard(vm);
		err = vmm_vm_new(&snap->cfg, true, &vm);
		if (err) {
			errno = -err;
			return NULL;
		}
		err = vmm_mem_realize(vm->mem, snap->mem);
	}
	if (err)
		vmm_fail(vm, -err, "cannot realize guest RAM: %s",
			 strerror(-err));
	else
		err = vmm_state_restore(vm, snap->state);
	if (err) {
		vmm_vm_set_error(vm->err);
		vmm_pool_discard(vm);
		errno = -err;
		return NULL;
	}
	return vm;
}

/* A new VM identical to parent now: snapshot, clone, drop the snapshot. */
struct cowvm *cowvm_fork(struct cowvm *parent)
{
	struct cowvm_snapshot *snap = cowvm_snapshot(parent);
	struct cowvm *child;
	int err;

	if (!snap)
		return NULL;
	child = cowvm_clone(snap);
	err = errno;
	if (!child)
		vmm_fail(parent, err, "cannot fork: %s", vmm_vm_error());
	cowvm_snapshot_put(snap);
	errno = err;
	return child;
}

/* Put vm back into snap's state; O(pages vm wrote since). */
int cowvm_reset(struct cowvm *vm, struct cowvm_snapshot *snap)
{
	if (vm->cfg.mem_size != snap->cfg.mem_size)
		return vmm_fail(vm, EINVAL,
				"snapshot of %llu bytes of RAM, VM has %llu",
				(unsigned long long)snap->cfg.mem_size,
				(unsigned long long)vm->cfg.mem_size);
	return snap_apply(vm, snap);
}

/* Take one more reference to snap. */
struct cowvm_snapshot *cowvm_snapshot_get(struct cowvm_snapshot *snap)
{
	atomic_fetch_add(&snap->refs, 1);
	return snap;
}

/* Drop a reference; the last one frees the snapshot. NULL is ignored. */
void cowvm_snapshot_put(struct cowvm_snapshot *snap)
{
	if (snap && atomic_fetch_sub(&snap->refs, 1) == 1)
		snap_free(snap);
}

/* Memory accounting of vm from its guest page table; 0 or -errno. */
int cowvm_mem_stats(struct cowvm *vm, struct cowvm_mem_stats *st)
{
	return vmm_mem_stats(vm->mem, st);
}
