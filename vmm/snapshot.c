/* Snapshots, clones, forks and resets: the public API over the memory image
 * (mem/mem.h) and the machine state (state/state.h) of a VM. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

/* A VM frozen at one instant: an image of its RAM and all its other state.
 * Immutable once taken; freed when the last reference is put. */
struct cowvm_snapshot {
	atomic_uint refs;
	struct cowvm_config cfg; /* of the VM it was taken from */
	struct vmm_mem_image *mem;
	struct vmm_state *state;
	unsigned gen;		/* vmm_fork_gen when taken */
	pthread_mutex_t lock;	/* guards the spares */
	struct cowvm *spares;	/* destroyed clones reset to it (pool_next) */
	unsigned nspares, keep; /* held, and most to hold */
	unsigned ahead;		/* spares made ahead: takes leaving fewer are
				 * announced */
	bool r3_pending;	/* state read from a file: its ring-3 proof is
				 * decided on the first clone's RAM */
	struct vmm_verify *verify; /* the check of the file RAM is mapped
				    * from (snapfile_check.c), or NULL */
	atomic_bool record;	   /* made ahead, nothing recorded: the next
				    * destroyed clone that ran records what it
				    * touched (a flag read without the lock on every
				    * destroy) */
	bool recorded;		   /* under lock: a record was taken */
	uint64_t *warm;	    /* the pages clones made ahead are warmed for: those
			     * it holds, with those its first destroyed clone
			     * that ran touched once recorded; immutable */
	uint64_t *warm_old; /* what warm replaced (a pass may still read it) */
};

/* Announce takes that leave snap fewer than n spares (0: none). */
void vmm_snapshot_set_ahead(struct cowvm_snapshot *snap, unsigned n)
{
	pthread_mutex_lock(&snap->lock);
	snap->ahead = n;
	if (n && !snap->recorded)
		atomic_store(&snap->record, true);
	pthread_mutex_unlock(&snap->lock);
}

/* Whether snap was taken before this process was forked from its taker. */
static bool snap_inherited(const struct cowvm_snapshot *snap)
{
	return snap->gen != vmm_fork_gen;
}

/* vm's RAM now comes from the file v checks (NULL: from none). */
static void snap_set_verify(struct cowvm *vm, struct vmm_verify *v)
{
	vmm_verify_get(v);
	vmm_verify_put(vm->verify);
	vm->verify = v;
}

/* Discard every VM of list (linked through pool_next). */
static void snap_discard_list(struct cowvm *list)
{
	while (list) {
		struct cowvm *next = list->pool_next;

		snap_set_verify(list, NULL);
		vmm_vm_discard(list);
		list = next;
	}
}

/* Record that what (snapshot, realize) of vm's RAM failed with -err;
 * returns err. */
static int snap_mem_fail(struct cowvm *vm, int err, const char *what)
{
	char note[160] = "";

	if (err == -ENOMEM)
		vmm_mem_maps_note(note, sizeof(note));
	return vmm_fail(vm, -err, "cannot %s guest RAM: %s%s", what,
			strerror(-err), note);
}

/* vm is no longer consistent (its RAM broke, or only part of a state was
 * restored): stop it for good with vm->err as the reason, so that it never
 * runs on; returns err. */
static int snap_stop(struct cowvm *vm, int err)
{
	vm->state = VMM_STOPPED;
	memset(&vm->stop_exit, 0, sizeof(vm->stop_exit));
	vm->stop_exit.reason = COWVM_EXIT_ERROR;
	snprintf(vm->stop_exit.detail, sizeof(vm->stop_exit.detail), "%.*s",
		 (int)sizeof(vm->stop_exit.detail) - 1, vm->err);
	return err;
}

/* Free a snapshot's parts and spares; NULL is ignored. */
static void snap_free(struct cowvm_snapshot *snap)
{
	if (!snap)
		return;
	snap_discard_list(snap->spares);
	pthread_mutex_destroy(&snap->lock);
	vmm_mem_image_put(snap->mem);
	vmm_state_free(snap->state);
	vmm_verify_put(snap->verify);
	free(snap->warm);
	free(snap->warm_old);
	free(snap);
}

/* A snapshot of cfg, st and img (taken over) checked by verify. */
struct cowvm_snapshot *vmm_snapshot_make(const struct cowvm_config *cfg,
					 struct vmm_state *st,
					 struct vmm_mem_image *img,
					 struct vmm_verify *verify)
{
	struct cowvm_snapshot *snap = vmm_calloc(1, sizeof(*snap));

	if (!snap) {
		vmm_mem_image_put(img);
		vmm_state_free(st);
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&snap->refs, 1);
	atomic_init(&snap->record, false);
	snap->gen = vmm_fork_gen;
	pthread_mutex_init(&snap->lock, NULL);
	snap->cfg = *cfg;
	snap->state = st;
	snap->mem = img;
	snap->verify = vmm_verify_get(verify);
	snap->r3_pending = !st->id; /* not prepared at its capture */
	return snap;
}

/* Freeze vm (loaded, not stopped) into a new snapshot holding one ref. */
struct cowvm_snapshot *cowvm_snapshot(struct cowvm *vm)
{
	struct vmm_mem_image *img = NULL;
	struct vmm_state *st = NULL;
	int err;

	if (vmm_inherited(vm)) {
		errno = -vmm_fail_inherited(vm);
		return NULL;
	}
	if (vm->state != VMM_READY) {
		vmm_fail(vm, EINVAL, "%s",
			 vm->state == VMM_CREATED ? "no guest is loaded"
						  : "the VM has stopped");
		errno = EINVAL;
		return NULL;
	}
	err = vmm_state_save(vm, &st);
	if (!err) {
		err = vmm_mem_image_take(vm->mem, &img);
		if (err)
			snap_mem_fail(vm, err, "snapshot");
		if (err && vmm_mem_broken(vm->mem))
			snap_stop(vm, err);
	}
	if (err) {
		vmm_state_free(st);
		errno = -err;
		return NULL;
	}
	return vmm_snapshot_make(&vm->cfg, st, img, vm->verify);
}

/* Make vm's RAM and state those of snap; 0 or -errno with vm->err. A
 * failure leaves vm as it was, or stops it (a broken RAM, a partly
 * restored state). */
static int snap_apply(struct cowvm *vm, struct cowvm_snapshot *snap)
{
	int err = vmm_mem_realize(vm->mem, snap->mem);

	if (err) {
		snap_mem_fail(vm, err, "realize");
		return vmm_mem_broken(vm->mem) ? snap_stop(vm, err) : err;
	}
	snap_set_verify(vm, snap->verify);
	err = vmm_state_restore(vm, snap->state);
	return err ? snap_stop(vm, err) : 0;
}

/* The config snap was taken with. */
const struct cowvm_config *vmm_snapshot_cfg(const struct cowvm_snapshot *snap)
{
	return &snap->cfg;
}

/* The non-RAM state snap froze. */
const struct vmm_state *vmm_snapshot_state(const struct cowvm_snapshot *snap)
{
	return snap->state;
}

/* Whether snap was taken before this process was forked from its taker. */
bool vmm_snapshot_inherited(const struct cowvm_snapshot *snap)
{
	return snap_inherited(snap);
}

/* The image of snap's RAM. */
const struct vmm_mem_image *
vmm_snapshot_image(const struct cowvm_snapshot *snap)
{
	return snap->mem;
}

/* Whether snap keeps spares. */
static bool snap_keeps(struct cowvm_snapshot *snap)
{
	bool keeps;

	pthread_mutex_lock(&snap->lock);
	keeps = snap->keep > 0;
	pthread_mutex_unlock(&snap->lock);
	return keeps;
}

/* Whether snap's file failed its check or changed in place: then no new
 * VM is made from it (errno and the error say why). */
static bool snap_refused(struct cowvm_snapshot *snap)
{
	char why[400];
	int err = vmm_verify_state(snap->verify, why, sizeof(why));

	if (!err)
		return false;
	vmm_vm_set_error(why);
	errno = -err;
	return true;
}

/* One of snap's spares, made to look new (config, no error, stdio 0, 1,
 * 2), or NULL. */
static struct cowvm *snap_take_spare(struct cowvm_snapshot *snap)
{
	struct cowvm *vm;
	bool ahead;

	pthread_mutex_lock(&snap->lock);
	vm = snap->spares;
	if (vm) {
		snap->spares = vm->pool_next;
		snap->nspares--;
	}
	ahead = snap->nspares < snap->ahead;
	pthread_mutex_unlock(&snap->lock);
	if (ahead)
		vmm_snapshot_kick();
	if (!vm)
		return NULL;
	vm->pool_next = NULL;
	vm->cfg = snap->cfg;
	vm->err[0] = 0;
	for (int i = 0; i < 3; i++)
		vm->stdio[i] = i;
	return vm;
}

/* Reset vm, a clone of snap being destroyed, to snap and keep it as a
 * spare while snap has room and other references; false if not kept.
 * A VM that stopped on a VMM error is never kept. */
static bool snap_keep_spare(struct cowvm_snapshot *snap, struct cowvm *vm)
{
	bool room;

	pthread_mutex_lock(&snap->lock);
	room = snap->nspares < snap->keep;
	pthread_mutex_unlock(&snap->lock);
	vm->prefaulted = 0;
	if (!room || atomic_load(&snap->refs) < 2 ||
	    (vm->state == VMM_STOPPED &&
	     vm->stop_exit.reason == COWVM_EXIT_ERROR) ||
	    snap_apply(vm, snap))
		return false;
	return vmm_snapshot_add_spare(snap, vm);
}

/* Add vm, made by vmm_snapshot_realize(snap), to snap's spares if there is
 * room; false (vm untouched) if not. */
bool vmm_snapshot_add_spare(struct cowvm_snapshot *snap, struct cowvm *vm)
{
	bool kept;

	pthread_mutex_lock(&snap->lock);
	kept = snap->nspares < snap->keep;
	if (kept) {
		vm->pool_next = snap->spares;
		snap->spares = vm;
		snap->nspares++;
	}
	pthread_mutex_unlock(&snap->lock);
	return kept;
}

/* Let snap keep at least n spares (cowvm_snapshot_keep). */
void vmm_snapshot_keep_min(struct cowvm_snapshot *snap, unsigned n)
{
	pthread_mutex_lock(&snap->lock);
	snap->keep = snap->keep < n ? n : snap->keep;
	pthread_mutex_unlock(&snap->lock);
}

/* The spares snap holds now. */
unsigned vmm_snapshot_nspares(struct cowvm_snapshot *snap)
{
	unsigned n;

	pthread_mutex_lock(&snap->lock);
	n = snap->nspares;
	pthread_mutex_unlock(&snap->lock);
	return n;
}

/* Keep up to n destroyed clones of snap as spares; 0 or -errno. */
int cowvm_snapshot_keep(struct cowvm_snapshot *snap, unsigned n)
{
	struct cowvm *extra = NULL;

	if (!snap)
		return -EINVAL;
	if (snap_inherited(snap))
		return -ECHILD;
	pthread_mutex_lock(&snap->lock);
	snap->keep = n;
	while (snap->nspares > n) {
		struct cowvm *vm = snap->spares;

		snap->spares = vm->pool_next;
		snap->nspares--;
		vm->pool_next = extra;
		extra = vm;
	}
	pthread_mutex_unlock(&snap->lock);
	snap_discard_list(extra);
	return 0;
}

/* Let resets to snap leave the FPU state to the guest; 0 or -errno. */
int cowvm_snapshot_guest_fpu(struct cowvm_snapshot *snap)
{
	if (!snap)
		return -EINVAL;
	if (snap_inherited(snap))
		return -ECHILD;
	if (!vmm_state_guest_fpu_ok(snap->state))
		return -EINVAL;
	snap->state->guest_fpu = true;
	return 0;
}

/* The pages clones of snap made ahead are warmed for (computed the first
 * time: O(pages)); NULL if out of memory. */
static const uint64_t *snap_warm_set(struct cowvm_snapshot *snap)
{
	uint64_t *held = NULL;
	const uint64_t *w;

	pthread_mutex_lock(&snap->lock);
	w = snap->warm;
	pthread_mutex_unlock(&snap->lock);
	if (w)
		return w;
	held = vmm_mem_image_held(snap->mem);
	pthread_mutex_lock(&snap->lock);
	if (!snap->warm) {
		snap->warm = held;
		held = NULL;
	}
	w = snap->warm;
	pthread_mutex_unlock(&snap->lock);
	free(held);
	return w;
}

/* Add the pages vm, a clone of snap that ran, touched to snap's warm set,
 * if snap records and has no record yet (once per snapshot: O(pages vm
 * maps)). */
static void snap_record(struct cowvm_snapshot *snap, struct cowvm *vm)
{
	const uint64_t *held;
	uint64_t *bits;
	bool want;

	if (!vm->ran ||
	    !atomic_load_explicit(&snap->record, memory_order_relaxed))
		return;
	pthread_mutex_lock(&snap->lock);
	want = !snap->recorded;
	snap->recorded = true;
	atomic_store(&snap->record, false);
	pthread_mutex_unlock(&snap->lock);
	if (!want || !(bits = vmm_mem_touched(vm->mem)))
		return;
	held = snap_warm_set(snap);
	for (uint64_t i = 0;
	     held && i < vmm_bitmap_words(vmm_mem_image_size(snap->mem) / 4096);
	     i++)
		bits[i] |= held[i];
	pthread_mutex_lock(&snap->lock);
	snap->warm_old = snap->warm;
	snap->warm = bits;
	pthread_mutex_unlock(&snap->lock);
}

/* Warm vm, just made by vmm_snapshot_realize(snap), for snap's warm set,
 * then put it back into snap's state; 0, or -errno if vm is unusable now
 * (vm->err says why). */
int vmm_snapshot_warm(struct cowvm_snapshot *snap, struct cowvm *vm)
{
	const uint64_t *bits = snap_warm_set(snap);
	int r;

	if (!bits)
		return 0;
	r = vmm_state_warm(vm, snap->state, bits, &vm->prefaulted);
	if (r == 0 || r == -EOPNOTSUPP) /* the guest did not run */
		return 0;
	return snap_apply(vm, snap);
}

/* Destroy vm, or keep it as a spare of the snapshot it was cloned from;
 * either way drop its reference to that snapshot. */
void cowvm_destroy(struct cowvm *vm)
{
	struct cowvm_snapshot *origin;

	if (!vm || vmm_inherited(vm))
		return; /* its frames are the parent's too: left alone */
	origin = vm->origin;
	vm->origin = NULL;
	if (origin)
		snap_record(origin, vm);
	if (!origin || !snap_keep_spare(origin, vm)) {
		snap_set_verify(vm, NULL);
		vmm_vm_discard(vm);
	}
	cowvm_snapshot_put(origin);
}

/* Before vm, whose RAM was just realized from snap's image, gets snap's
 * state: decide the state's ring-3 proof on that RAM if no capture did
 * (a state read from a file), once; every clone passes the lock, so none
 * reads the state while it changes. */
static void snap_r3_decide(struct cowvm_snapshot *snap, struct cowvm *vm)
{
	pthread_mutex_lock(&snap->lock);
	if (snap->r3_pending)
		vmm_r3_prepare(vm, snap->state);
	snap->r3_pending = false;
	pthread_mutex_unlock(&snap->lock);
}

/* A new VM in snap's state made from a pool VM (or one created now): not
 * a spare, no origin. NULL with errno and the error. */
static struct cowvm *snap_realize(struct cowvm_snapshot *snap)
{
	struct cowvm *vm;
	int err;

	vm = vmm_pool_take(&snap->cfg);
	if (!vm)
		return NULL;
	err = vmm_mem_realize(vm->mem, snap->mem);
	if (err == -EBUSY) {
		vmm_vm_discard(vm);
		err = vmm_vm_new(&snap->cfg, true, &vm);
		if (err) {
			errno = -err;
			return NULL;
		}
		err = vmm_mem_realize(vm->mem, snap->mem);
	}
	if (err) {
		snap_mem_fail(vm, err, "realize");
	} else {
		snap_r3_decide(snap, vm);
		err = vmm_state_restore(vm, snap->state);
	}
	if (err) {
		vmm_vm_set_error(vm->err);
		vmm_vm_discard(vm);
		errno = -err;
		return NULL;
	}
	snap_set_verify(vm, snap->verify);
	return vm;
}

/* A new VM in snap's state: a spare of snap, else a VM from the pool when
 * it holds one, else one created now. A pool VM whose empty RAM region got
 * a foreign mapping (-EBUSY, untouched) is discarded for one created now.
 * While snap keeps spares, the clone holds a reference to it until
 * destroyed. */
struct cowvm *cowvm_clone(struct cowvm_snapshot *snap)
{
	struct cowvm *vm;

	if (snap_inherited(snap)) {
		vmm_vm_set_error("this snapshot was taken before fork(): only "
				 "the process that took it can use it");
		errno = ECHILD;
		return NULL;
	}
	if (snap_refused(snap))
		return NULL;
	vm = snap_take_spare(snap);
	if (vm) {
		vm->origin = cowvm_snapshot_get(snap);
		return vm;
	}
	vm = snap_realize(snap);
	if (vm)
		vm->origin = snap_keeps(snap) ? cowvm_snapshot_get(snap) : NULL;
	return vm;
}

/* snap_realize for ahead.c, after the check cowvm_clone makes too. */
struct cowvm *vmm_snapshot_realize(struct cowvm_snapshot *snap)
{
	return snap_refused(snap) ? NULL : snap_realize(snap);
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
	if (vmm_inherited(vm))
		return vmm_fail_inherited(vm);
	if (snap_inherited(snap))
		return vmm_fail(vm, ECHILD,
				"the snapshot was taken before fork(): only "
				"the process that took it can use it");
	if (vm->cfg.mem_size != snap->cfg.mem_size)
		return vmm_fail(vm, EINVAL,
				"snapshot of %llu bytes of RAM, VM has %llu",
				(unsigned long long)snap->cfg.mem_size,
				(unsigned long long)vm->cfg.mem_size);
	return snap_apply(vm, snap);
}

/* Wait for the verdict on the pages of the file snap's RAM is mapped from. */
int cowvm_snapshot_verify(struct cowvm_snapshot *snap)
{
	char why[400];
	int err;

	if (!snap)
		return -EINVAL;
	err = vmm_verify_wait(snap->verify, why, sizeof(why));
	if (err)
		vmm_vm_set_error(why);
	return err;
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
	if (!snap || snap_inherited(snap))
		return; /* its frames are the parent's too: left alone */
	if (atomic_fetch_sub(&snap->refs, 1) == 1)
		snap_free(snap);
}
