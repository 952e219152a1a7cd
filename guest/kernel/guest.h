/* The cowvm guest kernel's interface to the ring-3 code linked with it:
 * boot information, fault sites, port I/O, hypercalls, console, exit, the
 * memory map and the small library (guest_libc.h). */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "cowvm_abi.h"
#include "guest_libc.h"

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

/* Ring-3 fault sites (faults.S); tests compare their addresses with
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

#endif
