/* Shared declarations of the cowvm guest kernel: port I/O, console,
 * hypercalls, tiny libc and the workloads that run in ring 3. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "cowvm_abi.h"

/* Port of QEMU's isa-debug-exit device: QEMU exits with (value << 1) | 1. */
#define GUEST_DEBUG_EXIT_PORT 0xf4
/* The first 16550 UART. */
#define GUEST_SERIAL_PORT 0x3f8
/* Nonzero once COWVM_HC_INFO answered with the cowvm magic. */
extern int guest_cowvm;
/* The start info handed over by the loader (cowvm or QEMU's PVH boot). */
extern const struct cowvm_start_info *guest_start;

/* Linker-provided bounds of the image and the BSS stacks. */
extern char guest_image_start[], guest_image_end[];
extern char guest_ustack[], guest_ustack_top[];

/* Ring-3 fault sites (guest/faults.S); tests compare their addresses with
 * the rip reported on a fault. */
void guest_fault_ud(void);
void guest_fault_pf(void);
void guest_fault_gp(void);
void guest_fault_de(void);
/* Clears the divisor, then falls into guest_fault_de. */
void guest_fault_de_setup(void);

/* Write one byte to an I/O port (ring 3 may: IOPL 3 and the TSS bitmap). */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

/* Read one byte from an I/O port. */
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* IDT vector of the guest's ring-0 service for tests (guest/entry.S): #BP,
 * which the CPU raises for nothing but int3, and which our PVM-based KVM
 * delivers from ring 3 where int n with other vectors (15, 16, 0x80) gives
 * #UD. Until guest_r0_service_install, int3 is reported as a fault like
 * any exception. */
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

/* Issue hypercall nr with its argument struct at arg (identity mapped, so
 * its virtual address is its guest-physical address, below 4 GiB): one
 * outl of that address to the call's port. */
static inline void guest_hc(unsigned nr, void *arg)
{
	__asm__ volatile("outl %0, %1"
			 :
			 : "a"((uint32_t)(uintptr_t)arg),
			   "Nd"((uint16_t)(COWVM_HC_PORT_BASE + nr))
			 : "memory");
}

/* Fill n bytes at d with c; returns d. */
void *memset(void *d, int c, size_t n);
/* Copy n bytes from s to d (non-overlapping); returns d. */
void *memcpy(void *d, const void *s, size_t n);
/* Copy n bytes from s to d, overlap allowed; returns d. */
void *memmove(void *d, const void *s, size_t n);
/* Compare n bytes; returns <0, 0 or >0 like the C library. */
int memcmp(const void *a, const void *b, size_t n);
/* Length of the NUL-terminated string s. */
size_t strlen(const char *s);
/* Compare NUL-terminated strings; returns 0 when equal. */
int strcmp(const char *a, const char *b);
/* Parse an unsigned decimal or 0x-prefixed hex number spanning all of s;
 * returns 0 on success, -1 on junk, empty input or overflow. */
int guest_parse_u64(const char *s, uint64_t *out);

/* Format into buf (at most size bytes incl. the NUL) with a printf subset:
 * %s %c %d %u %x %% with optional l/ll and zero-padded width; returns the
 * length written without the NUL. */
size_t guest_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
/* guest_vsnprintf with variadic arguments. */
size_t guest_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write len bytes to the 16550 at GUEST_SERIAL_PORT, polling LSR. */
void guest_serial_write(const char *s, size_t len);
/* Write len bytes to the console: one COWVM_HC_PUTS per call (split only
 * above COWVM_PUTS_MAX) under cowvm, the 16550 otherwise. */
void guest_console_write(const char *s, size_t len);
/* Format and write to the console in one piece (up to 1 KiB). */
void guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Stop the guest with status: COWVM_HC_EXIT under cowvm, isa-debug-exit
 * otherwise; if neither stops it, spin (hlt is privileged in ring 3). */
__attribute__((noreturn)) void guest_exit(unsigned status);

/* Sum of the sizes of the type-1 (RAM) entries of the memory map. */
uint64_t guest_ram_total(void);
/* Nonzero if [base, base + len) lies in one RAM entry of the memory map. */
int guest_ram_contains(uint64_t base, uint64_t len);
/* End of the highest RAM entry of the memory map. */
uint64_t guest_ram_top(void);
/* Highest address our page tables map: all of RAM under cowvm, 4 GiB under
 * the PVH boot's own tables. */
uint64_t guest_mapped_top(void);

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

#endif
