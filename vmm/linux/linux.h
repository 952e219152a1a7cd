/* The linux layer (vmm/linux/): a static x86-64 Linux program loaded into
 * a VM for the guest's Linux personality (cowvm_linux_abi.h): its ELF
 * checks and segments, its file tree, its initial stack and the boot
 * block. It calls only kvm/ (vmm.h) and mem/ below it; the public entry
 * point cowvm_load_linux (vmm/cowvm.c) calls vmm_linux_load. */
#ifndef VMM_LINUX_H
#define VMM_LINUX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cowvm_linux_abi.h"
#include "vmm_elf.h"
#include "vmm.h"

#define LINUX_PAGE     4096ull
#define LINUX_HEAP_MIN (16ull << 20) /* heap the layout must leave */

/* Round x up or down to a page boundary. */
static inline uint64_t linux_page_up(uint64_t x)
{
	return (x + LINUX_PAGE - 1) & ~(LINUX_PAGE - 1);
}

static inline uint64_t linux_page_down(uint64_t x)
{
	return x & ~(LINUX_PAGE - 1);
}

/* An open, checked program and where it loads. */
struct linux_prog {
	struct vmm_elf f;   /* the open file (kvm/vmm_elf.h) */
	uint64_t bias;	    /* 0 (ET_EXEC) or COWVM_LINUX_PIE_BASE */
	uint64_t entry;	    /* bias + e_entry */
	uint64_t phdr;	    /* AT_PHDR: guest address of the headers, or 0 */
	uint64_t brk_start; /* page-aligned end of the highest segment */
};

/* One node of the file tree being built. */
struct linux_node {
	char *guest;   /* absolute guest path */
	char *host;    /* host path of a regular file; NULL for a
			* directory */
	uint64_t size; /* bytes of a regular file */
	dev_t dev;     /* of a regular file: merges the same file */
	ino_t ino;
	bool dir;
	uint32_t mode;	  /* the host's S_IFMT and permission bits */
	uint32_t mtime;	  /* the host's st_mtime (0: made up) */
	uint64_t path_at; /* guest addresses once laid out */
	uint64_t data_at;
};

/* The file tree: nodes sorted by guest path, every parent listed. */
struct linux_tree {
	struct linux_node *v;
	size_t n, cap;
	uint64_t meta; /* page-aligned bytes of the table and the paths */
	uint64_t data; /* page-aligned bytes of the contents */
	uint64_t lo;   /* guest address of the table (the lowest page) */
	const char *exe_path; /* the program's guest path */
	uint64_t exe;	      /* guest address of the program's path string */
};

/* linux.c: load lx's program, file tree, stack and boot block into vm,
 * whose personality kernel is booted (vmm_boot_vcpu done); 0 or -errno
 * with one line in vm->err. */
int vmm_linux_load(struct cowvm *vm, const struct cowvm_linux *lx);

/* load.c: open and check the program at path for guest RAM below top:
 * static x86-64 ET_EXEC or static-pie, segments in [2 MiB, top); 0 or
 * -errno (-ENOENT, -EACCES, -ENOEXEC). Close p in every case. */
int linux_prog_open(struct cowvm *vm, const char *path, uint64_t top,
		    struct linux_prog *p);
/* load.c: copy the checked segments into guest RAM; 0 or -errno. */
int linux_prog_copy(struct cowvm *vm, const struct linux_prog *p);
/* load.c: release what linux_prog_open holds (safe on a failed open). */
void linux_prog_close(struct linux_prog *p);

/* files.c: collect lx's files and directories and the program at its
 * host realpath exe, with every parent directory, sorted; sets t->meta
 * and t->data. 0 or -errno (-EINVAL for a bad or duplicate guest path).
 * Free t in every case. */
int linux_tree_build(struct cowvm *vm, const struct cowvm_linux *lx,
		     const char *exe, struct linux_tree *t);
/* files.c: write the tree at guest address lo (page-aligned, with
 * t->meta + t->data bytes free); sets t->lo and t->exe. 0 or -errno. */
int linux_tree_write(struct cowvm *vm, struct linux_tree *t, uint64_t lo);
/* files.c: free the nodes. */
void linux_tree_free(struct linux_tree *t);

/* stack.c: check that lx's argument and environment strings fit
 * (COWVM_LINUX_ARGS_MAX); 0 or -E2BIG. */
int linux_stack_check(struct cowvm *vm, const struct cowvm_linux *lx,
		      const char *execfn);
/* stack.c: build the initial stack of p below top, down to at most lo,
 * as Linux does; *rsp = the address of argc. 0 or -errno. */
int linux_stack_build(struct cowvm *vm, const struct cowvm_linux *lx,
		      const struct linux_prog *p, const char *execfn,
		      uint64_t top, uint64_t lo, uint64_t *rsp);

#endif
