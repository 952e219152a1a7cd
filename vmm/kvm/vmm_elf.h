/* The kvm layer's ELF reader (elf.c): an ELF64 x86-64 file opened with
 * libelf and checked field by field, for the kernel loader here and the
 * Linux-program loader above (vmm/linux/). */
#ifndef VMM_ELF_H
#define VMM_ELF_H

#include <gelf.h>
#include <libelf.h>

#include "vmm.h"

/* An open, checked ELF file. */
struct vmm_elf {
	const char *path; /* as the caller named it, for messages */
	int fd;		  /* -1 when closed */
	uint64_t size;	  /* of the file */
	Elf *elf;
	GElf_Ehdr ehdr;
	size_t phnum;
};

/* Open path, a regular file, and check that it is a little-endian ELF64
 * for x86-64 whose program headers lie in the file (the type is the
 * caller's to check); 0, or -errno with one line naming the file and the
 * cause. f is safe to vmm_elf_close either way. */
int vmm_elf_open(struct cowvm *vm, const char *path, struct vmm_elf *f);

/* Program header i of f into *ph; 0 or -ENOEXEC. */
int vmm_elf_phdr(struct cowvm *vm, const struct vmm_elf *f, size_t i,
		 GElf_Phdr *ph);

/* Check that segment i (ph) holds no more file bytes than memory bytes
 * and that its file bytes lie in the file; 0 or -ENOEXEC. */
int vmm_elf_check_data(struct cowvm *vm, const struct vmm_elf *f, size_t i,
		       const GElf_Phdr *ph);

/* Read len bytes of f at file offset off into dst (for segment i); 0 or
 * -errno. */
int vmm_elf_read(struct cowvm *vm, const struct vmm_elf *f, size_t i, void *dst,
		 uint64_t off, uint64_t len);

/* Release the libelf handle and the descriptor. */
void vmm_elf_close(struct vmm_elf *f);

#endif
