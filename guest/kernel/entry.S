/* The cowvm guest's ring-0 code: the PVH note and 32-bit entry for QEMU, the
 * 64-bit cowvm entry, the common init that drops to ring 3, the GDT, TSS and
 * IDT, the exception stubs and a ring-0 service for tests. Every ring-0
 * instruction is emulated on our KVM (about 1 us each), so the path from
 * entry to ring 3 and the service are kept short. */

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_CS (0x18 | 3)
#define USER_DS (0x20 | 3)
#define TSS_SEL 0x28
#define NR_GATES 32 /* the CPU exception vectors */
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084
#define IOBITMAP_PORTS 0x800 /* ports below this are open to ring 3 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/*
 * PVH note: "Xen" owner, type XEN_ELFNOTE_PHYS32_ENTRY, descriptor = the
 * 32-bit physical entry. QEMU reads the descriptor of an ELF64 note as 8
 * bytes and pads the name to the PT_NOTE segment's alignment, so the note
 * is 4-byte aligned with an 8-byte descriptor.
 */
	.section .note.pvh, "a", @note
	.balign 4
	.long 2f - 1f                  /* namesz */
	.long 4f - 3f                  /* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY /* type */
1:	.asciz "Xen"
2:	.balign 4
3:	.quad guest_pvh_entry
4:	.balign 4

	.section .text.entry, "ax", @progbits

/* cowvm entry (ELF e_entry): 64-bit mode, identity map, rdi = start info. */
	.code64
	.globl guest_entry64
	.type guest_entry64, @function
guest_entry64:
	mov %rdi, %rbx
	jmp guest_common64
	.size guest_entry64, . - guest_entry64

/*
 * QEMU PVH entry: 32-bit protected mode, paging off, ebx = start info.
 * Builds an identity map of the first 4 GiB from 2 MiB pages in BSS (the
 * loader zeroed it), enables SSE, PAE, long mode and paging, and far-jumps
 * to 64-bit code.
 */
	.code32
	.globl guest_pvh_entry
	.type guest_pvh_entry, @function
guest_pvh_entry:
	cli
	mov $pvh_pd, %edi
	mov $0x87, %eax /* P | RW | US | PS */
	xor %ecx, %ecx
1:	mov %eax, (%edi,%ecx,8)
	add $0x200000, %eax
	inc %ecx
	cmp $2048, %ecx
	jb 1b
	movl $(pvh_pdpt + 7), pvh_pml4
	movl $(pvh_pd + 0x0000 + 7), pvh_pdpt + 0
	movl $(pvh_pd + 0x1000 + 7), pvh_pdpt + 8
	movl $(pvh_pd + 0x2000 + 7), pvh_pdpt + 16
	movl $(pvh_pd + 0x3000 + 7), pvh_pdpt + 24
	mov $pvh_pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $((1 << 5) | (1 << 9) | (1 << 10)), %eax /* PAE|OSFXSR|OSXMMEXCPT */
	mov %eax, %cr4
	mov $0xc0000080, %ecx /* EFER */
	rdmsr
	or $(1 << 8), %eax /* LME */
	wrmsr
	mov %cr0, %eax
	and $~(1 << 2), %eax /* clear EM */
	or $((1 << 31) | (1 << 5) | (1 << 1) | 1), %eax /* PG|NE|MP|PE */
	mov %eax, %cr0
	lgdt guest_gdt_ptr
	ljmp $KERNEL_CS, $pvh_entry64
	.size guest_pvh_entry, . - guest_pvh_entry

	.code64
pvh_entry64:
	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %ebx, %ebx /* zero-extend the start info address */
	mov %rbx, %rdi
	/* fall through */

/*
 * Common 64-bit init at CPL 0, rbx = start info: kernel stack, GDT with TSS,
 * IDT, then iretq to guest_main in ring 3 with IOPL 3 and interrupts off.
 */
	.globl guest_common64
guest_common64:
	lea guest_kstack_top(%rip), %rsp
	/* Patch the TSS base into its descriptor (bits 0-31; the image is
	 * below 4 GiB, so the upper half stays 0). */
	lea guest_tss(%rip), %rax
	lea guest_gdt_tss(%rip), %rdx
	mov %ax, 2(%rdx)
	shr $16, %eax
	mov %al, 4(%rdx)
	mov %ah, 7(%rdx)
	lgdt guest_gdt_ptr(%rip)
	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $TSS_SEL, %eax
	ltr %ax
	/* Gates: selector, IST and type are static; fill in the offsets of
	 * the 16-byte stubs (all below 4 GiB). */
	lea guest_isr_stubs(%rip), %rax
	lea guest_idt(%rip), %rdx
	mov $NR_GATES, %ecx
2:	mov %ax, (%rdx)
	mov %eax, %esi
	shr $16, %esi
	mov %si, 6(%rdx)
	add $16, %rax
	add $16, %rdx
	dec %ecx
	jnz 2b
	lidt guest_idt_ptr(%rip)
	/* SYSCALL targets: EFER.SCE stays clear, so hardware raises #UD, but
	 * a software-based KVM may enter LSTAR anyway; STAR names the kernel
	 * segments and guest_syscall_entry turns the call into that #UD. */
	mov $MSR_LSTAR, %ecx
	lea guest_syscall_entry(%rip), %eax
	xor %edx, %edx
	wrmsr
	mov $MSR_STAR, %ecx
	mov $KERNEL_CS, %edx
	xor %eax, %eax
	wrmsr
	/* iretq frame: ss, rsp, rflags (IOPL 3, IF 0), cs, rip. The user
	 * stack is entered as if by a call (rsp + 8 16-byte aligned). */
	pushq $USER_DS
	lea guest_ustack_top - 8(%rip), %rax
	push %rax
	pushq $0x3002
	pushq $USER_CS
	lea guest_main(%rip), %rax
	push %rax
	mov %rbx, %rdi
	iretq

/*
 * SYSCALL from ring 3 when the CPU enters LSTAR although EFER.SCE is clear
 * (rcx = the next rip, r11 = rflags, rsp = the user's): deliver the #UD
 * that SCE clear means, through IDT gate 6 with its frame on the RSP0
 * stack, as the CPU would have. A guest may define its own (faster)
 * guest_syscall_entry; this one is weak.
 */
	.weak guest_syscall_entry
	.type guest_syscall_entry, @function
guest_syscall_entry:
	mov %rsp, %rax
	lea guest_kstack_top(%rip), %rsp
	pushq $USER_DS
	push %rax
	push %r11
	pushq $USER_CS
	lea -2(%rcx), %rax
	push %rax
	movzwl guest_idt + 16 * 6 + 6(%rip), %eax
	shl $16, %eax
	mov guest_idt + 16 * 6(%rip), %ax
	jmp *%rax
	.size guest_syscall_entry, . - guest_syscall_entry

/*
 * Exception stubs, 16 bytes apart: push a 0 error code for vectors that
 * push none, push the vector, join guest_isr_common.
 */
.macro ISR v
	.org guest_isr_stubs + 16 * \v
	.if (\v == 8) || (\v == 10) || (\v == 11) || (\v == 12) || (\v == 13) || (\v == 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
	.else
	pushq $0
	.endif
	pushq $\v
	jmp guest_isr_common
.endm

	.balign 16
	.globl guest_isr_stubs
guest_isr_stubs:
	.irp v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	ISR \v
	.endr
	.org guest_isr_stubs + 16 * NR_GATES

/* Frame on the kernel stack: vector, error, rip, cs, rflags, rsp, ss. */
guest_isr_common:
	mov %rsp, %rdi
	mov %cr2, %rsi
	and $-16, %rsp
	call guest_fault_report
4:	cli
	hlt
	jmp 4b

/*
 * The ring-0 service, not reachable until guest_r0_service_install points
 * the #BP gate at it with DPL 3 (int3 from ring 3, rdi = v): swap MSR
 * IA32_KERNEL_GS_BASE with v, return the old value in rax, iretq to ring 3
 * (#BP is a trap: the frame's rip is past the int3). Clobbers rcx, rdx and
 * rsi; touches no memory but its frame on the RSP0 stack.
 */
	.globl guest_r0_kgs_swap
guest_r0_kgs_swap:
	mov $MSR_KERNEL_GS_BASE, %ecx
	rdmsr
	shl $32, %rdx
	lea (%rax,%rdx), %rsi /* rdmsr zeroed the upper half of rax */
	mov %edi, %eax
	mov %rdi, %rdx
	shr $32, %rdx
	wrmsr
	mov %rsi, %rax
	iretq

/*
 * The GDT, TSS and IDT fill pages of their own: nothing ring 3 writes may
 * share a page with them, or the VMM's proof that ring 3 never entered
 * ring 0 (it watches these pages in the dirty log) fails on every reset.
 */
	.section .data, "aw", @progbits
	.balign 4096
	.globl guest_gdt
guest_gdt:
	.quad 0
	.quad 0x00af9a000000ffff /* 0x08 kernel code, 64-bit */
	.quad 0x00cf92000000ffff /* 0x10 kernel data */
	.quad 0x00affa000000ffff /* 0x18 user code, 64-bit, DPL 3 */
	.quad 0x00cff2000000ffff /* 0x20 user data, DPL 3 */
guest_gdt_tss:                   /* 0x28 64-bit TSS, base patched at boot */
	.word guest_tss_end - guest_tss - 1, 0
	.byte 0, 0x89, 0, 0
	.long 0, 0
guest_gdt_end:

	.balign 8
	.word 0, 0, 0
guest_gdt_ptr:
	.word guest_gdt_end - guest_gdt - 1
	.quad guest_gdt

	.word 0, 0, 0
guest_idt_ptr:
	.word NR_GATES * 16 - 1
	.quad guest_idt

/*
 * 64-bit TSS: RSP0 is the kernel stack (where exceptions from ring 3 and
 * the ring-0 service push their frames), IST1 (double fault) its own. It
 * carries an all-open I/O permission bitmap for ports below IOBITMAP_PORTS:
 * ring 3 runs with IOPL 3, which is enough on hardware-assisted KVM and
 * QEMU, but PVM-based KVM (ours) runs guest user mode at hardware IOPL 0
 * and emulates the faulting in/out only if the guest TSS bitmap allows it.
 */
	.balign 16
	.globl guest_tss
guest_tss:
	.long 0
	.quad guest_kstack_top /* rsp0 */
	.quad 0, 0             /* rsp1, rsp2 */
	.quad 0
	.quad guest_ist_top    /* ist1 */
	.quad 0, 0, 0, 0, 0, 0 /* ist2-7 */
	.quad 0
	.word 0
	.word guest_tss_iobitmap - guest_tss
guest_tss_iobitmap:
	.fill IOBITMAP_PORTS / 8, 1, 0
	.byte 0xff             /* the bitmap's required terminator */
guest_tss_end:

/* Interrupt gates to KERNEL_CS, DPL 0, IST 1 for the double fault.
 * Offsets are filled in at boot. guest_r0_service_install turns the #BP
 * gate into the DPL-3 entry of the ring-0 service. */
	.balign 16
	.globl guest_idt
guest_idt:
	.set vec, 0
	.rept NR_GATES
	.word 0, KERNEL_CS
	.if vec == 8
	.byte 1, 0x8e
	.else
	.byte 0, 0x8e
	.endif
	.word 0
	.long 0, 0
	.set vec, vec + 1
	.endr
	.balign 4096 /* the page is the descriptors' alone */

	.section .bss, "aw", @nobits
	.balign 4096
pvh_pml4:
	.skip 4096
pvh_pdpt:
	.skip 4096
pvh_pd:
	.skip 4 * 4096
guest_kstack:
	.skip 16384
	.globl guest_kstack_top
guest_kstack_top:
	.skip 8192
guest_ist_top:
	.globl guest_ustack, guest_ustack_top
guest_ustack:
	.skip 65536
guest_ustack_top:

	.section .note.GNU-stack, "", @progbits
