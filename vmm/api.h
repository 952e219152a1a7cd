/* What the public entry points of vmm/ (cowvm.c, snapshot.c, pool.c,
 * fork.c) share: the layers below them and the check that an object was
 * made in this process, not inherited through fork(). */
#ifndef VMM_API_H
#define VMM_API_H

#include "cowvm_snapfile.h"
#include "pool.h"
#include "state.h"
#include "vmm.h"

/* snapshot.c: the config and the non-RAM state snap froze. */
const struct cowvm_config *vmm_snapshot_cfg(const struct cowvm_snapshot *snap);
const struct vmm_state *vmm_snapshot_state(const struct cowvm_snapshot *snap);
/* snapshot.c: whether snap was taken before this process was forked. */
bool vmm_snapshot_inherited(const struct cowvm_snapshot *snap);
/* snapshot.c: the image of snap's RAM. */
const struct vmm_mem_image *
vmm_snapshot_image(const struct cowvm_snapshot *snap);

/* snapfile_check.c: the background check of a snapshot file's pages. */
struct vmm_verify;
/* Start checking the map (every page stored), the sums and pages pages
 * of fd at byte off against them; 0 with one reference in *out, or
 * -errno. */
int vmm_verify_start(int fd, const char *path, uint64_t off, uint64_t pages,
		     const struct cowvm_snapfile_section *map,
		     const struct cowvm_snapfile_section *sums,
		     struct vmm_verify **out);
/* One more reference (NULL is ignored); returns v. */
struct vmm_verify *vmm_verify_get(struct vmm_verify *v);
/* Drop a reference; the last stops the check. NULL is ignored. */
void vmm_verify_put(struct vmm_verify *v);
/* Known now: -EBADMSG/-EIO (a block failed), -ESTALE (the file changed in
 * place), else 0; why says what failed. NULL passes. */
int vmm_verify_state(struct vmm_verify *v, char *why, size_t n);
/* The same once the check has ended. */
int vmm_verify_wait(struct vmm_verify *v, char *why, size_t n);

/* snapshot.c: a snapshot of cfg, state st and RAM img (all taken over),
 * whose pages verify checks (a reference taken); NULL+errno. */
struct cowvm_snapshot *vmm_snapshot_make(const struct cowvm_config *cfg,
					 struct vmm_state *st,
					 struct vmm_mem_image *img,
					 struct vmm_verify *verify);

/* snapshot.c: a new VM in snap's state, not a spare and with no origin
 * (cowvm_clone's check, then its part after the spares); NULL with
 * errno. */
struct cowvm *vmm_snapshot_realize(struct cowvm_snapshot *snap);
/* snapshot.c: add vm (from vmm_snapshot_realize(snap)) to snap's spares
 * when there is room (cowvm_snapshot_keep); false if not. */
bool vmm_snapshot_add_spare(struct cowvm_snapshot *snap, struct cowvm *vm);
/* snapshot.c: warm vm, just made by vmm_snapshot_realize(snap), for the
 * pages snap holds and those its first destroyed clone that ran touched
 * (vmm_state_warm), then put it back into snap's state; 0, or -errno if vm is unusable now
 * (vm->err says why). */
int vmm_snapshot_warm(struct cowvm_snapshot *snap, struct cowvm *vm);
/* snapshot.c: raise snap's cowvm_snapshot_keep count to n if lower. */
void vmm_snapshot_keep_min(struct cowvm_snapshot *snap, unsigned n);
/* snapshot.c: the spares snap holds. */
unsigned vmm_snapshot_nspares(struct cowvm_snapshot *snap);

/* snapshot.c: announce takes that leave snap fewer than n spares. */
void vmm_snapshot_set_ahead(struct cowvm_snapshot *snap, unsigned n);
/* takes.c: the takes of spares of snapshots made ahead (ahead.c's refill
 * thread waits for them): announce a take (or wake the waiter); the number
 * so far; wait for more than seen. */
void vmm_snapshot_kick(void);
unsigned long vmm_snapshot_takes(void);
unsigned long vmm_snapshot_wait_take(unsigned long seen);

/* fork.c: record in vm->err that vm came from before a fork; -ECHILD. */
int vmm_fail_inherited(struct cowvm *vm);

/* Whether vm was made before this process was forked from its maker. */
static inline bool vmm_inherited(const struct cowvm *vm)
{
	return vm->gen != vmm_fork_gen;
}

#endif
