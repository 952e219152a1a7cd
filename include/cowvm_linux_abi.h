/* The cowvm Linux-program ABI (version COWVM_LINUX_VERSION): how the VMM
 * hands an unmodified static x86-64 Linux executable to the guest's Linux
 * personality, and the hypercalls that personality makes (freestanding
 * C99, shared by guest and VMM). */
#ifndef COWVM_LINUX_ABI_H
#define COWVM_LINUX_ABI_H

#include <stdint.h>

#include "cowvm_abi.h"

#define COWVM_LINUX_VERSION 2
#define COWVM_LINUX_MAGIC   0x58554e4cu /* "LNUX" */

/*
 * Loading. The VMM boots the personality kernel (an ELF of the cowvm boot
 * protocol, at [1 MiB, 2 MiB)) with the command line "linux" and writes,
 * before the first run:
 *   - the program's PT_LOAD segments at their virtual addresses (ET_EXEC)
 *     or at COWVM_LINUX_PIE_BASE + vaddr (static-pie ET_DYN), all at or
 *     above COWVM_LINUX_LOAD_MIN and below brk_limit; the bytes past
 *     p_filesz are zero. Guest memory is identity mapped, so a program's
 *     virtual address is its guest-physical address;
 *   - the initial stack at the top of [stack_lo, stack_top) exactly as
 *     Linux builds it (argc, argv, envp, auxv with AT_PHDR, AT_PHENT,
 *     AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID, AT_EUID,
 *     AT_GID, AT_EGID, AT_SECURE, AT_RANDOM, AT_HWCAP, AT_HWCAP2,
 *     AT_CLKTCK, AT_PLATFORM, AT_EXECFN, the strings they point to);
 *   - the file tree: struct cowvm_linux_file[nr_files] at files, their
 *     paths and contents, all in [files_lo, stack_lo);
 *   - struct cowvm_linux_boot at COWVM_LINUX_BOOT;
 *   - a page table at COWVM_LINUX_PT0 for [0, 2 MiB) with page 0 absent
 *     (a NULL dereference faults), referenced from the boot PD.
 * CR4.FSGSBASE is set so that ring 3 can set the FS base (arch_prctl).
 *
 * Memory map of a Linux VM (all below COWVM_LOW_MEM_MAX):
 *   [0, 4K)            absent
 *   [4K, 1M)           boot structures, this boot block, page tables
 *   [1M, 2M)           the personality kernel (its state lives here)
 *   [2M, brk_start)    the program image
 *   [brk_start, ...)   the heap (brk), growing up
 *   [..., files_lo)    anonymous and file mappings (mmap), growing down
 *   [files_lo, stack_lo) the file tree
 *   [stack_lo, stack_top) the stack (COWVM_LINUX_STACK_SIZE)
 *
 * Everything the process is (registers, memory, heap and mapping bounds,
 * descriptors and offsets, signal handlers, clock base) lives in guest
 * memory or vCPU state, so a snapshot, clone, fork or reset carries a
 * running program exactly.
 */
#define COWVM_LINUX_BOOT       0x80000ull /* struct cowvm_linux_boot */
#define COWVM_LINUX_PT0	       0x5f000ull
#define COWVM_LINUX_LOAD_MIN   0x200000ull
#define COWVM_LINUX_PIE_BASE   0x400000ull
#define COWVM_LINUX_STACK_SIZE (8ull << 20)
#define COWVM_LINUX_PATH_MAX   4096u
#define COWVM_LINUX_ARGS_MAX   (256u << 10) /* argv + envp strings */

enum cowvm_linux_flags {
	COWVM_LINUX_STRACE = 1u << 0,	      /* print every call */
	COWVM_LINUX_SNAPSHOT_STDIN = 1u << 1, /* snapshot at first stdin read */
	/* Hold what the program writes to stdout and stderr in guest memory
	 * (in order, up to COWVM_LINUX_OUT_MAX) and write it out with one
	 * exit at the next read of stdin, sleep, sync(2), snapshot request
	 * through the personality, death or exit (COWVM_HC_LINUX_EXIT):
	 * for hosts that collect the output of a whole run. Output still held
	 * when a run times out or the VM is destroyed is lost. */
	COWVM_LINUX_BUFFER_OUTPUT = 1u << 2,
};
#define COWVM_LINUX_OUT_MAX (64u << 10)

/* The tag of the snapshot COWVM_LINUX_SNAPSHOT_STDIN requests (by a READ
 * with COWVM_LINUX_IO_SNAPSHOT). */
#define COWVM_LINUX_STDIN_TAG 0x57d1ull

struct cowvm_linux_boot {
	uint32_t magic;	  /* COWVM_LINUX_MAGIC */
	uint32_t version; /* COWVM_LINUX_VERSION */
	uint32_t flags;	  /* enum cowvm_linux_flags */
	uint32_t nr_files;
	uint64_t entry;	    /* the program's entry point */
	uint64_t rsp;	    /* the initial stack pointer (at argc) */
	uint64_t brk_start; /* page-aligned end of the image */
	uint64_t files_lo;  /* mmap allocates below this */
	uint64_t stack_lo, stack_top;
	uint64_t files;	      /* struct cowvm_linux_file[nr_files] */
	uint64_t exe;	      /* NUL-terminated path /proc/self/exe names */
	uint64_t tsc_khz;     /* guest TSC frequency, 0 if unknown */
	uint64_t realtime_ns; /* host CLOCK_REALTIME at load */
	uint32_t uid, gid, pid, reserved;
};

/* One node of the read-only file tree: a regular file or a directory
 * (every directory of every path is listed, "/" included; directories
 * made up for a path get mode 0755 and the load time). */
struct cowvm_linux_file {
	uint64_t path;	/* NUL-terminated absolute path, no "." or ".." */
	uint64_t data;	/* contents (regular files) */
	uint64_t size;	/* bytes at data; 0 for directories */
	uint32_t mode;	/* S_IFREG or S_IFDIR and the host's permission bits
			 * (Linux values; the tree is read-only all the same) */
	uint32_t mtime; /* the host's modification time, seconds since 1970 */
};

/*
 * Hypercalls of the personality (numbers in cowvm_abi.h's hypercall
 * space). The personality serves every system call itself in guest ring
 * 3; only these leave the VM.
 */
enum cowvm_linux_hc_nr {
	COWVM_HC_LINUX_IO = 8,	    /* struct cowvm_hc_linux_io */
	COWVM_HC_LINUX_RANDOM = 9,  /* struct cowvm_hc_linux_buf */
	COWVM_HC_LINUX_SLEEP = 10,  /* struct cowvm_hc_linux_sleep */
	COWVM_HC_LINUX_SIGNAL = 11, /* struct cowvm_hc_linux_signal; does not
				     * return */
	COWVM_HC_LINUX_EXIT = 12,   /* struct cowvm_hc_linux_exit; does not
				     * return */
};

/* COWVM_HC_LINUX_IO ops on the VM's standard descriptors 0, 1 and 2, which
 * the host chose for this VM (cowvm_set_stdio); ret is the count or a
 * negative Linux errno. */
enum cowvm_linux_io_op {
	COWVM_LINUX_IO_READ = 0,   /* up to len bytes into buf; 0 at EOF */
	COWVM_LINUX_IO_WRITE = 1,  /* len bytes from buf */
	COWVM_LINUX_IO_STAT = 2,   /* ret = st_mode of the host descriptor */
	COWVM_LINUX_IO_ISATTY = 3, /* ret = 1 for a terminal, else 0 */
	COWVM_LINUX_IO_FLUSH = 4   /* write the output log at buf (len bytes;
				    * fd unused); ret = 0 or the first
				    * negative errno (-EPIPE...) */
};

/* The output log of COWVM_LINUX_BUFFER_OUTPUT: records one after the
 * other, each this header and len bytes, the next at an 8-byte boundary. */
struct cowvm_linux_out {
	uint32_t fd; /* 1 or 2 */
	uint32_t len;
};
#define COWVM_LINUX_IO_MAX (1u << 20) /* len limit of one READ or WRITE */

struct cowvm_hc_linux_io {
	uint32_t op; /* in: enum cowvm_linux_io_op */
	uint32_t fd; /* in: 0, 1 or 2 */
	uint64_t buf;
	uint64_t len;
	int64_t ret;	/* out */
	uint32_t eof;	/* out, READ: 1 when the host descriptor is a regular
			 * file now read to its end (the next read would give
			 * 0); the personality then answers EOF itself */
	uint32_t flags; /* in: COWVM_LINUX_IO_SNAPSHOT, else 0 */
};

/* READ flag: stop the run with COWVM_EXIT_SNAPSHOT (tag
 * COWVM_LINUX_STDIN_TAG) before reading. The read is performed when this
 * VM, or a clone, fork or reset of a snapshot taken there, next runs, on
 * the stdin it has then, before the guest resumes: a clone gets its
 * request without another exit. ret -EINTR (the run timed out while the
 * read waited): the personality reads again without the flag. */
#define COWVM_LINUX_IO_SNAPSHOT (1u << 0)

/* COWVM_HC_LINUX_RANDOM: fill buf with len (<= COWVM_LINUX_RANDOM_MAX)
 * fresh random bytes from the host: different in every VM and on every
 * call, so clones of one snapshot never share them. */
#define COWVM_LINUX_RANDOM_MAX 4096u
struct cowvm_hc_linux_buf {
	uint64_t buf;
	uint64_t len;
};

/* COWVM_HC_LINUX_SLEEP: block the vCPU for ns nanoseconds (the host may
 * cut a sleep short at its run timeout; ret is 0, or -EINTR if cut). */
struct cowvm_hc_linux_sleep {
	uint64_t ns;
	int64_t ret;
};

/* COWVM_HC_LINUX_SIGNAL: the program dies of signal signo (no handler, or
 * one that cannot be delivered); the VM stops with COWVM_EXIT_SIGNAL.
 * rip and addr tell where (the faulting instruction and address for a
 * CPU fault, else 0). */
struct cowvm_hc_linux_signal {
	uint32_t signo;
	uint32_t code; /* si_code */
	uint64_t rip;
	uint64_t addr;
};

/* COWVM_HC_LINUX_EXIT: write the output log [log, log + len) as FLUSH
 * does, then stop the VM with COWVM_EXIT_GUEST and status (0..255). */
struct cowvm_hc_linux_exit {
	uint32_t status;
	uint32_t reserved;
	uint64_t log;
	uint64_t len; /* at most COWVM_LINUX_OUT_MAX */
};

_Static_assert(sizeof(struct cowvm_linux_boot) == 112, "linux boot layout");
_Static_assert(sizeof(struct cowvm_linux_file) == 32, "linux file layout");
_Static_assert(sizeof(struct cowvm_hc_linux_io) == 40, "linux io layout");
_Static_assert(sizeof(struct cowvm_linux_out) == 8, "linux out layout");
_Static_assert(sizeof(struct cowvm_hc_linux_exit) == 24, "linux exit");
_Static_assert(sizeof(struct cowvm_hc_linux_buf) == 16, "linux buf layout");
_Static_assert(sizeof(struct cowvm_hc_linux_sleep) == 16, "linux sleep");
_Static_assert(sizeof(struct cowvm_hc_linux_signal) == 24, "linux signal");

#endif
