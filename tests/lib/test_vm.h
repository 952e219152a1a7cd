/* VMs under test for the cowvm test library: a VM booted through the public
 * API whose console goes to a memfd, run, read and freed by helpers that
 * fail the test on error. Link cowvm_dep or vmm_internal_dep with it. */
#ifndef COWVM_TEST_VM_H
#define COWVM_TEST_VM_H

#include <stdint.h>

#include "cowvm.h"
#include "test_util.h"

/* A VM under test and the memfd that receives its console. */
struct tvm {
	struct cowvm *vm;
	int console;
};

/* Create an empty VM of mem bytes with its console dropped. */
struct cowvm *tvm_create(uint64_t mem);

/* Create a VM of mem bytes with a memfd console and load elf with cmdline. */
struct tvm tvm_boot(uint64_t mem, const char *elf, const char *cmdline);

/* Run t until it stops; the exit must be filled (run returns 0). */
struct cowvm_exit tvm_run(struct tvm *t);

/* Everything written to t's console so far, NUL-terminated (free it). */
char *tvm_console(struct tvm *t);

/* Destroy t's VM and close its console. */
void tvm_free(struct tvm *t);

/* Read a 64-bit word of t's guest memory at gpa. */
uint64_t tvm_read64(struct tvm *t, uint64_t gpa);

#endif
