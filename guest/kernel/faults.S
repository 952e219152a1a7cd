/* Ring-3 fault sites of the `fault` workload: each global label is the
 * exact instruction that faults, so tests can compare the reported rip with
 * the symbol's address in the ELF. None of them returns. */

	.text
	.code64

/* #UD: an undefined opcode. */
	.globl guest_fault_ud
	.type guest_fault_ud, @function
guest_fault_ud:
	ud2
	.size guest_fault_ud, . - guest_fault_ud

/* #PF: a read of a non-present address (cr2 = 0x7ff000000000). */
	.globl guest_fault_pf
	.type guest_fault_pf, @function
guest_fault_pf:
	movabs 0x7ff000000000, %rax
	ud2
	.size guest_fault_pf, . - guest_fault_pf

/* #GP: hlt is privileged in ring 3. */
	.globl guest_fault_gp
	.type guest_fault_gp, @function
guest_fault_gp:
	hlt
	ud2
	.size guest_fault_gp, . - guest_fault_gp

/* #DE: a division by zero (the divisor is cleared first, so the label
 * follows the setup). */
	.globl guest_fault_de_setup
	.type guest_fault_de_setup, @function
guest_fault_de_setup:
	xor %ecx, %ecx
	mov $1, %eax
	xor %edx, %edx
	.globl guest_fault_de
guest_fault_de:
	div %ecx
	ud2
	.size guest_fault_de_setup, . - guest_fault_de_setup

	.section .note.GNU-stack, "", @progbits
