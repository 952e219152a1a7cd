/* The Linux personality's entry paths. SYSCALL raises #UD (EFER.SCE is
 * clear) and a CPU fault raises its vector; each gate runs a few ring-0
 * instructions (emulated, about 1 us each on our KVM) that move the frame
 * to fixed slots and iretq into ring-3 code here, which saves the program's
 * registers as a struct lx_regs on the personality's own stack and calls C.
 * The frame pushed on the TSS stack keeps the VMM's proof of ring-3-only
 * runs honest: a run that made a system call is seen to have entered
 * ring 0. lx_resume returns to the program without a scratch register. */

	.text
	.code64

/* #UD gate, CPL 0, frame: rip, cs, rflags, rsp, ss. */
	.balign 16
	.globl lx_ud_gate
lx_ud_gate:
	popq lx_trap_rip(%rip)
	pushq $lx_sys_entry
	iretq

/* SYSCALL entering LSTAR (a software-based KVM does so with EFER.SCE
 * clear; guest/kernel/entry.S points LSTAR here): rcx = the next rip,
 * r11 = rflags, rsp = the program's. The frame goes on the RSP0 stack,
 * as a #UD's would, and the call joins the #UD path in ring 3. */
	.globl guest_syscall_entry
guest_syscall_entry:
	lea -2(%rcx), %rcx
	mov %rcx, lx_trap_rip(%rip)
	mov %rsp, %rcx
	lea lx_rsp0_top(%rip), %rsp
	pushq $0x23 /* user data */
	push %rcx
	push %r11
	pushq $0x1b /* user code */
	pushq $lx_sys_entry
	iretq

/* Fault gates, 16 bytes apart by vector: push a 0 error code where the CPU
 * pushes none, then the vector. */
.macro LXF v
	.org lx_fault_gate + 16 * \v
	.if (\v == 8) || (\v == 10) || (\v == 11) || (\v == 12) || (\v == 13) || (\v == 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
	.else
	pushq $0
	.endif
	pushq $\v
	jmp lx_fault_r0
.endm

	.balign 16
	.globl lx_fault_gate
lx_fault_gate:
	.irp v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21
	LXF \v
	.endr
	.org lx_fault_gate + 16 * 22

/* Frame: vector, error, rip, cs, rflags, rsp, ss. */
lx_fault_r0:
	popq lx_trap_vec(%rip)
	popq lx_trap_err(%rip)
	popq lx_trap_rip(%rip)
	push %rax
	mov %cr2, %rax
	mov %rax, lx_trap_cr2(%rip)
	pop %rax
	pushq $lx_fault_entry
	iretq

/* Ring 3 from here on. */
lx_sys_entry:
	mov %rsp, lx_trap_rsp(%rip)
	lea lx_kstack_top(%rip), %rsp
	pushq $0  /* cr2 */
	pushq $0  /* error */
	pushq $-1 /* vector: a system call */
	call lx_save
	call lx_syscall
	mov %rbx, %rdi
	jmp lx_resume

lx_fault_entry:
	mov %rsp, lx_trap_rsp(%rip)
	lea lx_kstack_top(%rip), %rsp
	pushq lx_trap_cr2(%rip)
	pushq lx_trap_err(%rip)
	pushq lx_trap_vec(%rip)
	call lx_save
	call lx_fault
	mov %rbx, %rdi
	jmp lx_resume

/* Push rsp, rflags, rip and the general registers below the caller's
 * three words (the return address moves to the bottom), leave rdi = rbx =
 * the struct lx_regs and rsp 16-byte aligned for a C call. */
lx_save:
	popq lx_save_ret(%rip)
	pushq lx_trap_rsp(%rip)
	pushfq
	pushq lx_trap_rip(%rip)
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	mov %rsp, %rbx
	cld
	sub $8, %rsp
	jmp *lx_save_ret(%rip)

/* lx_resume(struct lx_regs *r): load every register from r and jump to
 * r->rip on stack r->rsp. */
	.globl lx_resume
lx_resume:
	mov %rdi, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	popq lx_ret_rip(%rip)
	popfq
	mov (%rsp), %rsp
	jmp *lx_ret_rip(%rip)

/* lx_start(entry, rsp): enter the program as Linux does, every other
 * register 0 (rdx = 0: no exit handler from a dynamic loader). */
	.globl lx_start
lx_start:
	mov %rdi, lx_ret_rip(%rip)
	mov %rsi, %rsp
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	jmp *lx_ret_rip(%rip)

/* One page holds what a system call writes on the way in: the top of the
 * personality's stack, the trap slots and the frame the CPU pushes at RSP0
 * (main.c points the TSS there), so that a clone's call privatizes one
 * page, not three. */
	.section .bss, "aw", @nobits
	.balign 4096
lx_kstack:
	.skip 65536 - 256
lx_kstack_top:
lx_trap_rip: .skip 8
lx_trap_rsp: .skip 8
lx_trap_vec: .skip 8
lx_trap_err: .skip 8
lx_trap_cr2: .skip 8
lx_ret_rip: .skip 8
lx_save_ret: .skip 8
	.balign 16
	.skip 64 /* an interrupt frame, 16-byte aligned */
	.globl lx_rsp0_top
lx_rsp0_top:

	.section .note.GNU-stack, "", @progbits
