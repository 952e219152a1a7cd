/* A tiny CPL-0 probe guest for VMM tests, independent of guest/: the first
 * byte of the command line selects what it does (see test_probe.c). */
#include "probe.h"

#define HC(nr, arg)                                                            \
	mov $(arg), %eax;                                                      \
	mov $(0x500 + (nr)), %dx;                                              \
	outl %eax, %dx

	.code64
	.section .text
	.globl _start
_start:
	mov %rsp, PROBE_OUT + 0x10
	mov $PROBE_STACK, %rsp
	mov %rdi, PROBE_OUT + 0x00
	mov %rbx, PROBE_OUT + 0x08
	mov 24(%rdi), %rsi /* cmdline_paddr */
	test %rsi, %rsi
	jz mode_state
	movzbl (%rsi), %eax
	cmp $'s', %al
	je mode_state
	cmp $'p', %al
	je mode_ports
	cmp $'x', %al
	je mode_serial
	cmp $'l', %al
	je mode_loop
	cmp $'m', %al
	je mode_mmio
	cmp $'t', %al
	je mode_triple
	cmp $'h', %al
	je mode_hypercalls
	cmp $'b', %al
	je mode_badputs
	cmp $'e', %al
	je mode_badexit
	cmp $'f', %al
	je mode_fault
	cmp $'k', %al
	je mode_unknown_hc
	cmp $'w', %al
	je mode_narrow_hc
	cmp $'X', %al
	je mode_exit200
	cmp $'o', %al
	je mode_outloop
	movl $99, PROBE_ARG
	HC(2, PROBE_ARG)
	jmp .

/* Boot state: control registers, segments, flags, GDTR. (No SSE here:
 * this KVM's CPL-0 emulator does not implement stmxcsr and friends.) */
mode_state:
	mov %cr0, %rax
	mov %rax, PROBE_OUT + 0x18
	mov %cr3, %rax
	mov %rax, PROBE_OUT + 0x20
	mov %cr4, %rax
	mov %rax, PROBE_OUT + 0x28
	mov $0xc0000080, %ecx
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, PROBE_OUT + 0x30
	mov %cs, %eax
	mov %rax, PROBE_OUT + 0x38
	mov %ds, %eax
	mov %rax, PROBE_OUT + 0x40
	mov %ss, %eax
	mov %rax, PROBE_OUT + 0x48
	pushfq
	pop %rax
	mov %rax, PROBE_OUT + 0x50
	sgdt PROBE_OUT + 0x68
	movl $7, PROBE_ARG
	HC(2, PROBE_ARG)
	jmp .

/* Unassigned ports read all-ones; UART scratch and LSR. */
mode_ports:
	mov $0x1234, %dx
	mov $0x5a, %al
	outb %al, %dx
	xor %eax, %eax
	inb %dx, %al
	mov %rax, PROBE_OUT + 0x18
	xor %eax, %eax
	inl %dx, %eax
	mov %rax, PROBE_OUT + 0x20
	mov $0x3ff, %dx
	mov $0xa5, %al
	outb %al, %dx
	xor %eax, %eax
	inb %dx, %al
	mov %rax, PROBE_OUT + 0x28
	mov $0x3fd, %dx
	xor %eax, %eax
	inb %dx, %al
	mov %rax, PROBE_OUT + 0x30
	movl $0, PROBE_ARG
	HC(2, PROBE_ARG)
	jmp .

/* Print the rest of the command line through the UART, polling LSR. */
mode_serial:
	inc %rsi
1:	movzbl (%rsi), %ebx
	test %bl, %bl
	jz 3f
	mov $0x3fd, %dx
2:	inb %dx, %al
	test $0x20, %al
	jz 2b
	mov $0x3f8, %dx
	mov %bl, %al
	outb %al, %dx
	inc %rsi
	jmp 1b
3:	movl $0, PROBE_ARG
	HC(2, PROBE_ARG)
	jmp .

mode_loop:
	incq PROBE_OUT + 0x18
	jmp mode_loop

/* The boot map leaves the hole out: map its 2 MiB page at PROBE_MMIO_ADDR
 * in the PD of the fourth GiB (PML4[0] -> PDPT[3]), then read it. */
mode_mmio:
	mov %cr3, %rax
	mov (%rax), %rax
	and $~0xfff, %rax
	mov 24(%rax), %rax
	and $~0xfff, %rax
	movq $(PROBE_MMIO_ADDR | 0x83), %rcx /* P | RW | PS */
	mov %rcx, (((PROBE_MMIO_ADDR >> 21) & 511) * 8)(%rax)
	mov $PROBE_MMIO_ADDR, %rbx
	mov (%rbx), %eax
	movl $0, PROBE_ARG
	HC(2, PROBE_ARG)
	jmp .

/* An empty IDT: #UD cannot be delivered, then #DF, then shutdown. */
mode_triple:
	lidt idt_empty
	ud2
	jmp .

/* INFO, CMDLINE + PUTS, SNAPSHOT (ret seen after resume), EXIT 42. */
mode_hypercalls:
	HC(0, PROBE_ARG)
	mov PROBE_ARG, %rax
	mov %rax, PROBE_OUT + 0x18
	mov PROBE_ARG + 8, %rax
	mov %rax, PROBE_OUT + 0x20
	movq $PROBE_BUF, PROBE_ARG
	movq $PROBE_BUF_SIZE, PROBE_ARG + 8
	movq $-1, PROBE_ARG + 16
	HC(5, PROBE_ARG)
	mov PROBE_ARG + 16, %rax
	mov %rax, PROBE_OUT + 0x28
	movq $PROBE_BUF, PROBE_ARG
	mov %rax, PROBE_ARG + 8
	HC(1, PROBE_ARG)
	movq $PROBE_TAG, PROBE_ARG
	movq $-1, PROBE_ARG + 8
	HC(4, PROBE_ARG)
	mov PROBE_ARG + 8, %rax
	mov %rax, PROBE_OUT + 0x30
	movl $42, PROBE_ARG
	HC(2, PROBE_ARG)
	jmp .

mode_badputs:
	movabs $PROBE_BAD_GPA, %rax
	mov %rax, PROBE_ARG
	movq $16, PROBE_ARG + 8
	HC(1, PROBE_ARG)
	movl $0, PROBE_ARG
	HC(2, PROBE_ARG)
	jmp .

mode_badexit:
	movl $300, PROBE_ARG
	HC(2, PROBE_ARG)
	jmp .

mode_fault:
	movq $14, PROBE_ARG
	movq $6, PROBE_ARG + 8
	movq $0x123456, PROBE_ARG + 16
	movq $0x7ff000000000, %rax
	mov %rax, PROBE_ARG + 24
	movq $0x8000, PROBE_ARG + 32
	movq $0x2b, PROBE_ARG + 40
	HC(3, PROBE_ARG)
	jmp .

/* Exit to the VMM as often as possible: an out to an unassigned port. */
mode_outloop:
	mov $0x1234, %dx
1:	outb %al, %dx
	incq PROBE_OUT + 0x18
	jmp 1b

mode_exit200:
	movl $200, PROBE_ARG
	HC(2, PROBE_ARG)
	jmp .

mode_unknown_hc:
	HC(15, PROBE_ARG) /* no hypercall has number 15 */
	jmp .

mode_narrow_hc:
	mov $0x502, %dx
	mov $0x10, %al
	outb %al, %dx
	jmp .

	.section .rodata
idt_empty:
	.word 0
	.quad 0

	/* A zero-initialized tail (memsz > filesz) for test_api.c. */
	.section .bss
	.skip 8192
