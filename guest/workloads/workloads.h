/* The cowvm guest's workloads, dispatched by main.c from the first word of
 * the command line, and the ring-0 service the r0swap workload installs. */
#ifndef GUEST_WORKLOADS_H
#define GUEST_WORKLOADS_H

#include <stdint.h>

#include "guest.h"

/* IDT vector of the guest's ring-0 service for tests (its entry is
 * guest_r0_kgs_swap in guest/kernel/entry.S): #BP, which the CPU raises for
 * nothing but int3, and which our PVM-based KVM delivers from ring 3 where
 * int n with other vectors (15, 16, 0x80) gives #UD. Until
 * guest_r0_service_install, int3 is reported as a fault like any
 * exception. */
#define GUEST_R0_VECTOR 3

/* Make the GUEST_R0_VECTOR gate a DPL-3 entry to the ring-0 service (ring
 * 3 writes the IDT, which the identity map leaves writable). */
void guest_r0_service_install(void);

/* Enter ring 0 through the ring-0 service (int3) to swap
 * IA32_KERNEL_GS_BASE with v: about ten emulated instructions at CPL 0, the
 * iret frame on the TSS's RSP0 stack. Returns the old value. */
static inline uint64_t guest_r0_swap_kgs(uint64_t v)
{
	uint64_t old;

	__asm__ volatile("int %[vec]"
			 : "=a"(old)
			 : [vec] "i"(GUEST_R0_VECTOR), "D"(v)
			 : "rcx", "rdx", "rsi", "memory");
	return old;
}

/* The workloads: argc/argv are the command-line words, argv[0] the name;
 * each returns the exit status (some never return). */
int guest_selftest(int argc, char **argv);
int guest_memtest(int argc, char **argv);
int guest_fault(int argc, char **argv);
int guest_spin(int argc, char **argv);
int guest_exit_cmd(int argc, char **argv);
int guest_hypercalls(int argc, char **argv);
int guest_badcall(int argc, char **argv);
int guest_serial(int argc, char **argv);
int guest_forktest(int argc, char **argv);
int guest_serve(int argc, char **argv);
int guest_r0swap(int argc, char **argv);
int guest_genid(int argc, char **argv);

#endif
