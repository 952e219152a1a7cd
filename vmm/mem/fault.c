/* Fault injection state: per thread, the kind and ordinal of the call to
 * fail and the calls counted since arming (fault.h). */
#include <errno.h>
#include <pthread.h>

#include "fault.h"

_Thread_local bool vmm_fault_on;
bool vmm_fault_any;
static _Thread_local unsigned long *fault_trace;
static _Thread_local unsigned fault_trace_max, fault_trace_n;
/* The process-wide injection of vmm_fault_arm_all. */
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static enum vmm_fault_kind any_kind;
static uint64_t any_n, any_calls;
static int any_err;
static bool any_fired;
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
	vmm_fault_on = (n > 0 && kind < VMM_FAULT_KINDS) || fault_trace_max;
}

/* Arm (n > 0) or disarm the injection counted over every thread. */
void vmm_fault_arm_all(enum vmm_fault_kind kind, uint64_t n, int err)
{
	pthread_mutex_lock(&fault_lock);
	any_kind = kind;
	any_n = n;
	any_calls = 0;
	any_err = err ? err : ENOMEM;
	any_fired = false;
	__atomic_store_n(&vmm_fault_any, n > 0 && kind < VMM_FAULT_KINDS,
			 __ATOMIC_RELAXED);
	pthread_mutex_unlock(&fault_lock);
}

/* Start (max > 0) or stop recording this thread's ioctl requests. */
void vmm_fault_trace(unsigned long *trace, unsigned max)
{
	fault_trace = trace;
	fault_trace_max = trace ? max : 0;
	fault_trace_n = 0;
	vmm_fault_on = fault_trace_max || fault_n;
}

/* Ioctls recorded since the trace started. */
unsigned vmm_fault_traced(void)
{
	return fault_trace_n;
}

/* Record req in the trace; never fails the call itself. */
bool vmm_fault_ioctl_(unsigned long req)
{
	if (fault_trace_n < fault_trace_max)
		fault_trace[fault_trace_n] = req;
	if (fault_trace_max)
		fault_trace_n++;
	return false;
}

/* Calls of kind since the last arm. */
uint64_t vmm_fault_calls(enum vmm_fault_kind kind)
{
	return kind < VMM_FAULT_KINDS ? fault_calls[kind] : 0;
}

/* Whether the armed call failed since the last arm (of either kind). */
bool vmm_fault_fired(void)
{
	bool any;

	pthread_mutex_lock(&fault_lock);
	any = any_fired;
	pthread_mutex_unlock(&fault_lock);
	return fault_fired || any;
}

/* The process-wide count: fail the armed call on whichever thread. */
static bool fault_hit_any(enum vmm_fault_kind kind)
{
	bool hit;

	pthread_mutex_lock(&fault_lock);
	hit = vmm_fault_any && kind == any_kind && ++any_calls == any_n;
	if (hit) {
		any_fired = true;
		errno = any_err;
	}
	pthread_mutex_unlock(&fault_lock);
	return hit;
}

/* The name of kind. */
const char *vmm_fault_name(enum vmm_fault_kind kind)
{
	return kind < VMM_FAULT_KINDS ? fault_names[kind] : "?";
}

/* Count this call of kind; fail it (errno set) when it is the armed one. */
bool vmm_fault_hit_(enum vmm_fault_kind kind)
{
	if (__atomic_load_n(&vmm_fault_any, __ATOMIC_RELAXED) &&
	    fault_hit_any(kind))
		return true;
	if (!fault_n || ++fault_calls[kind] != fault_n || kind != fault_kind)
		return false;
	fault_fired = true;
	errno = fault_err;
	return true;
}
