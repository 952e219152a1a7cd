/* Fault injection state: per thread, the kind and ordinal of the call to
 * fail and the calls counted since arming (fault.h). */
#include <errno.h>

#include "fault.h"

_Thread_local bool vmm_fault_on;
static _Thread_local enum vmm_fault_kind fault_kind;
static _Thread_local uint64_t fault_n;
static _Thread_local int fault_err;
static _Thread_local bool fault_fired;
static _Thread_local uint64_t fault_calls[VMM_FAULT_KINDS];

static const char *const fault_names[VMM_FAULT_KINDS] = {
	[VMM_FAULT_MMAP] = "mmap",	 [VMM_FAULT_MUNMAP] = "munmap",
	[VMM_FAULT_MADVISE] = "madvise", [VMM_FAULT_IOCTL] = "ioctl",
	[VMM_FAULT_ALLOC] = "alloc",	 [VMM_FAULT_COW] = "cow",
};

/* Arm (n > 0) or disarm (n = 0) this thread's injection; counts restart. */
void vmm_fault_arm(enum vmm_fault_kind kind, uint64_t n, int err)
{
	for (unsigned k = 0; k < VMM_FAULT_KINDS; k++)
		fault_calls[k] = 0;
	fault_kind = kind;
	fault_n = n;
	fault_err = err ? err : ENOMEM;
	fault_fired = false;
	vmm_fault_on = n > 0 && kind < VMM_FAULT_KINDS;
}

/* Calls of kind since the last arm. */
uint64_t vmm_fault_calls(enum vmm_fault_kind kind)
{
	return kind < VMM_FAULT_KINDS ? fault_calls[kind] : 0;
}

/* Whether the armed call failed since the last arm. */
bool vmm_fault_fired(void)
{
	return fault_fired;
}

/* The name of kind. */
const char *vmm_fault_name(enum vmm_fault_kind kind)
{
	return kind < VMM_FAULT_KINDS ? fault_names[kind] : "?";
}

/* Count this call of kind; fail it (errno set) when it is the armed one. */
bool vmm_fault_hit_(enum vmm_fault_kind kind)
{
	if (++fault_calls[kind] != fault_n || kind != fault_kind)
		return false;
	fault_fired = true;
	errno = fault_err;
	return true;
}
