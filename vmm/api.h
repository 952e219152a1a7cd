/* What the public entry points of vmm/ (cowvm.c, snapshot.c, pool.c,
 * fork.c) share: the layers below them and the check that an object was
 * made in this process, not inherited through fork(). */
#ifndef VMM_API_H
#define VMM_API_H

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

/* fork.c: record in vm->err that vm came from before a fork; -ECHILD. */
int vmm_fail_inherited(struct cowvm *vm);

/* Whether vm was made before this process was forked from its maker. */
static inline bool vmm_inherited(const struct cowvm *vm)
{
	return vm->gen != vmm_fork_gen;
}

#endif
