/* The register half of the `forktest` workload: load known values into
 * general, SSE and x87 registers and RFLAGS, issue COWVM_HC_SNAPSHOT and
 * compare every register afterwards without calling anything in between. */

#define HC_SNAPSHOT_PORT 0x504 /* COWVM_HC_PORT(COWVM_HC_SNAPSHOT) */

/* Offsets into struct forktest_regs (guest/workloads/forktest.c). */
#define R_XMM 0       /* 16 x 16 bytes: xmm0..xmm15 */
#define R_GPR 256     /* 13 x 8: rbx rcx rsi rdi rbp r8..r15 */
#define R_MXCSR 360   /* 32-bit MXCSR value */
#define R_FCW 368     /* 16-bit x87 control word */
#define R_X87 376     /* 2 x 8: integers pushed onto the x87 stack */
#define R_FLAGS 392   /* CF PF AF ZF SF DF OF to set (within FLAGS_MASK) */
#define FLAGS_MASK 0xcd5

/* Mismatch bits returned in rax: 0..12 the GPRs in R_GPR order, 16..31
 * xmm0..xmm15, 40 MXCSR, 41 x87 control word, 42 st(0), 43 st(1),
 * 44 rdx no longer the port, 45 the status flags and DF, 63 rsp. */

	.text
	.code64

/* Compare register \reg with GPR slot \slot; set bit \slot on mismatch. */
.macro CHKGPR reg, slot
	cmp R_GPR + 8 * \slot(%rax), \reg
	je 1f
	bts $\slot, %rdx
1:
.endm

/* Compare xmm register \n with its slot; set bit 16 + \n on mismatch. */
.macro CHKXMM n
	pcmpeqd R_XMM + 16 * \n(%rax), %xmm\n
	pmovmskb %xmm\n, %ecx
	cmp $0xffff, %ecx
	je 1f
	bts $(16 + \n), %rdx
1:
.endm

/*
 * uint64_t guest_forktest_hc(struct cowvm_hc_snapshot *s,
 *                            const struct forktest_regs *v)
 * Load every register, the status flags and DF from *v (16-byte aligned),
 * outl s to the SNAPSHOT port, then compare; returns the mismatch bits (0:
 * all survived). Preserves the SysV callee-saved registers and leaves MXCSR
 * and the x87 control word at their defaults, the x87 stack empty and DF
 * clear.
 */
	.globl guest_forktest_hc
	.type guest_forktest_hc, @function
guest_forktest_hc:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	sub $16, %rsp
	mov %rdi, 0(%rsp)
	mov %rsi, 8(%rsp)
	mov %rsp, forktest_saved_rsp(%rip)
	mov %rsi, %rax
	ldmxcsr R_MXCSR(%rax)
	fninit
	fldcw R_FCW(%rax)
	fildq R_X87 + 0(%rax)
	fildq R_X87 + 8(%rax)
	movdqa R_XMM + 16 * 0(%rax), %xmm0
	movdqa R_XMM + 16 * 1(%rax), %xmm1
	movdqa R_XMM + 16 * 2(%rax), %xmm2
	movdqa R_XMM + 16 * 3(%rax), %xmm3
	movdqa R_XMM + 16 * 4(%rax), %xmm4
	movdqa R_XMM + 16 * 5(%rax), %xmm5
	movdqa R_XMM + 16 * 6(%rax), %xmm6
	movdqa R_XMM + 16 * 7(%rax), %xmm7
	movdqa R_XMM + 16 * 8(%rax), %xmm8
	movdqa R_XMM + 16 * 9(%rax), %xmm9
	movdqa R_XMM + 16 * 10(%rax), %xmm10
	movdqa R_XMM + 16 * 11(%rax), %xmm11
	movdqa R_XMM + 16 * 12(%rax), %xmm12
	movdqa R_XMM + 16 * 13(%rax), %xmm13
	movdqa R_XMM + 16 * 14(%rax), %xmm14
	movdqa R_XMM + 16 * 15(%rax), %xmm15
	/* The status flags and DF: nothing below changes them. */
	pushfq
	pop %rcx
	and $~FLAGS_MASK, %rcx
	or R_FLAGS(%rax), %rcx
	push %rcx
	popfq
	mov R_GPR + 8 * 0(%rax), %rbx
	mov R_GPR + 8 * 1(%rax), %rcx
	mov R_GPR + 8 * 2(%rax), %rsi
	mov R_GPR + 8 * 3(%rax), %rdi
	mov R_GPR + 8 * 4(%rax), %rbp
	mov R_GPR + 8 * 5(%rax), %r8
	mov R_GPR + 8 * 6(%rax), %r9
	mov R_GPR + 8 * 7(%rax), %r10
	mov R_GPR + 8 * 8(%rax), %r11
	mov R_GPR + 8 * 9(%rax), %r12
	mov R_GPR + 8 * 10(%rax), %r13
	mov R_GPR + 8 * 11(%rax), %r14
	mov R_GPR + 8 * 12(%rax), %r15
	mov 0(%rsp), %rax
	mov $HC_SNAPSHOT_PORT, %edx
	outl %eax, %dx
	/* Here the guest resumes, in the original or in a clone. */
	.globl guest_forktest_resume
guest_forktest_resume:
	pushfq
	pop %rax
	cmp $HC_SNAPSHOT_PORT, %rdx
	mov $0, %edx /* mov keeps the flags */
	je 2f
	bts $44, %rdx
2:	cmp forktest_saved_rsp(%rip), %rsp
	je 3f
	mov forktest_saved_rsp(%rip), %rsp
	bts $63, %rdx
3:	and $FLAGS_MASK, %rax
	mov %rax, 0(%rsp)
	mov 8(%rsp), %rax
	cld
	CHKGPR %rbx, 0
	CHKGPR %rcx, 1
	CHKGPR %rsi, 2
	CHKGPR %rdi, 3
	CHKGPR %rbp, 4
	CHKGPR %r8, 5
	CHKGPR %r9, 6
	CHKGPR %r10, 7
	CHKGPR %r11, 8
	CHKGPR %r12, 9
	CHKGPR %r13, 10
	CHKGPR %r14, 11
	CHKGPR %r15, 12
	mov 0(%rsp), %rcx
	cmp R_FLAGS(%rax), %rcx
	je 8f
	bts $45, %rdx
8:
	CHKXMM 0
	CHKXMM 1
	CHKXMM 2
	CHKXMM 3
	CHKXMM 4
	CHKXMM 5
	CHKXMM 6
	CHKXMM 7
	CHKXMM 8
	CHKXMM 9
	CHKXMM 10
	CHKXMM 11
	CHKXMM 12
	CHKXMM 13
	CHKXMM 14
	CHKXMM 15
	stmxcsr 0(%rsp)
	mov 0(%rsp), %ecx
	cmp R_MXCSR(%rax), %ecx
	je 4f
	bts $40, %rdx
4:	fnstcw 0(%rsp)
	movzwl 0(%rsp), %ecx
	cmp R_FCW(%rax), %cx
	je 5f
	bts $41, %rdx
5:	fistpq 0(%rsp)
	mov 0(%rsp), %rcx
	cmp R_X87 + 8(%rax), %rcx
	je 6f
	bts $42, %rdx
6:	fistpq 0(%rsp)
	mov 0(%rsp), %rcx
	cmp R_X87 + 0(%rax), %rcx
	je 7f
	bts $43, %rdx
7:	fninit
	movl $0x1f80, 0(%rsp)
	ldmxcsr 0(%rsp)
	mov %rdx, %rax
	add $16, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
	.size guest_forktest_hc, . - guest_forktest_hc

	.section .bss, "aw", @nobits
	.balign 8
forktest_saved_rsp:
	.skip 8

	.section .note.GNU-stack, "", @progbits
