/* Helpers shared by the state and pool tests: VMs made through the internal
 * interfaces, console lengths, fd counts, direct MSR reads. */
#ifndef STATE_UTIL_H
#define STATE_UTIL_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "pool.h"
#include "state.h"
#include "test_util.h"
#include "test_vm.h"
#include "vmm.h"

#define MIB	 (1ull << 20)
#define TEST_MEM (32 * MIB)

/* A new pristine VM with zero RAM and a memfd console, from vmm_vm_new. */
struct tvm st_new_vm(void);

/* Bytes written to t's console so far. */
size_t st_console_len(struct tvm *t);

/* Open file descriptors of this process. */
int st_count_fds(void);

/* Read one MSR of vm's vCPU directly. */
uint64_t st_get_msr(struct cowvm *vm, uint32_t index);

/* Microseconds between two test_now() readings. */
static inline double st_us(double t0, double t1)
{
	return (t1 - t0) * 1e6;
}

#endif
