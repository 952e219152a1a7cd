/* The cowvm Linux personality's internal interface: the register frame of
 * a system call or fault, the process state (all of it in guest memory, so
 * snapshots carry it), user-pointer checks and the system-call families. */
#ifndef LX_H
#define LX_H

#include <stdint.h>

#include "cowvm_linux_abi.h"
#include "guest.h"
#include "lx_defs.h"

/* The program's registers as lx_entry.S saves them (this order). */
struct lx_regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t rip, rflags, rsp;
	uint64_t vector, error, cr2; /* faults only; syscall: vector = ~0 */
};
#define LX_VECTOR_SYSCALL (~0ull)

/* One open file description: what open made, shared (with its offset)
 * by every descriptor dup'ed from it. */
enum lx_fd_kind {
	LX_FD_FREE = 0,
	LX_FD_STDIO,  /* host stdio: stdio holds 0, 1 or 2 */
	LX_FD_FILE,   /* a regular file of the tree */
	LX_FD_DIR,    /* a directory of the tree (getdents64) */
	LX_FD_NULL,   /* /dev/null */
	LX_FD_ZERO,   /* /dev/zero */
	LX_FD_RANDOM, /* /dev/urandom, /dev/random */
};

struct lx_fd {
	uint8_t kind;	/* enum lx_fd_kind; LX_FD_FREE: unused */
	uint8_t stdio;	/* LX_FD_STDIO: the host descriptor 0..2 */
	uint16_t refs;	/* descriptors naming it (at most LX_NR_FDS) */
	uint32_t flags; /* open flags (O_ACCMODE, O_APPEND, O_NONBLOCK) */
	uint32_t node;	/* LX_FD_FILE, LX_FD_DIR: index in the file table */
	uint32_t pad2;
	uint64_t off; /* file offset, or getdents64 position */
};

/* One descriptor: its description (index + 1, 0: closed) and flag. */
struct lx_fdslot {
	uint16_t ofd;
	uint8_t cloexec;
	uint8_t pad;
};

/* One mapping made by mmap (the heap is brk's, not listed). */
struct lx_map {
	uint64_t start, end;
};

struct lx_sigaction {
	uint64_t handler, flags, restorer, mask;
};

#define LX_NR_FDS      256
#define LX_NR_MAPS     1024
#define LX_NR_SIGS     64
#define LX_NR_SYSCALLS 450

/* The whole process: lives in the personality's BSS (guest memory). */
struct lx_proc {
	const struct cowvm_linux_boot *boot;
	const struct cowvm_linux_file *files;
	uint32_t nr_files;
	uint32_t flags;	  /* enum cowvm_linux_flags */
	uint64_t ram_top; /* stack_top: no user address reaches it */
	uint64_t brk_start, brk, brk_dirty; /* dirty: highest brk ever */
	uint64_t mmap_top, mmap_dirty;	    /* below mmap_dirty: never used */
	uint8_t stdio_eof[3]; /* the host said: a regular file read to its end
			       */
	uint32_t out_used;    /* bytes of out in use (BUFFER_OUTPUT) */
	/* next to the fields a request changes, so that a short output
	 * shares their page */
	char out[COWVM_LINUX_OUT_MAX] __attribute__((aligned(8)));
	struct lx_map maps[LX_NR_MAPS];
	uint32_t nr_maps;
	uint32_t umask;
	struct lx_fd ofds[LX_NR_FDS];	 /* open file descriptions */
	struct lx_fdslot fdt[LX_NR_FDS]; /* descriptors */
	struct lx_sigaction sigs[LX_NR_SIGS + 1];
	uint64_t sigmask, sigpending;
	int32_t sigcode[LX_NR_SIGS + 1]; /* si_code of a pending signal */
	uint64_t altstack_sp, altstack_size;
	uint32_t altstack_flags;
	uint32_t snapshotted;	  /* the stdin snapshot was taken */
	uint64_t tsc0, realtime0; /* the guest clock: realtime at tsc0 */
	uint64_t tid_address;
	char cwd[256];
	uint32_t enosys[LX_NR_SYSCALLS + 1]; /* unimplemented calls seen */
};

extern struct lx_proc lx;

/* A system call: the six arguments; returns the result or -errno. */
typedef int64_t (*lx_sys_fn)(struct lx_regs *r, uint64_t a, uint64_t b,
			     uint64_t c, uint64_t d, uint64_t e, uint64_t f);

/* THE user-pointer check: nonzero when [p, p + len) lies in the program's
 * memory, [COWVM_LINUX_LOAD_MIN, stack top), with no wrap: the boot
 * structures and the personality below are no program's (-EFAULT, as a
 * kernel address is for Linux); an empty range is always fine. */
static inline int lx_user_ok(uint64_t p, uint64_t len)
{
	return !len || (p >= COWVM_LINUX_LOAD_MIN && p <= lx.ram_top &&
			len <= lx.ram_top - p);
}

/* Copy n bytes (rep movsb; no SSE state touched). */
static inline void lx_copy(void *d, const void *s, uint64_t n)
{
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

/* Zero n bytes (rep stosb). */
static inline void lx_zero(void *d, uint64_t n)
{
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0) : "memory");
}

/* Length of the user string at p if it is NUL-terminated within max bytes
 * of user memory; -EFAULT or -ENAMETOOLONG otherwise. */
int64_t lx_user_strlen(uint64_t p, uint64_t max);

/* The entry points of lx_entry.S. */
void lx_ud_gate(void);
void lx_fault_gate(void);
/* Resume the program with the registers in r (does not return). */
__attribute__((noreturn)) void lx_resume(struct lx_regs *r);
/* Enter the program at entry with stack rsp (does not return). */
__attribute__((noreturn)) void lx_start(uint64_t entry, uint64_t rsp);

/* sys.c: serve the system call in r (called by lx_entry.S). */
void lx_syscall(struct lx_regs *r);
/* sys.c: the name of system call nr ("syscall_N" kept in buf if none). */
const char *lx_sys_name(uint64_t nr, char *buf, size_t size);
/* sys.c: print one strace line to the program's stderr. */
void lx_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* sys.c: with --strace, name the unimplemented calls the program made. */
void lx_strace_summary(void);

/* One entry of a family's table: number, name, argument count, which
 * argument (1-based, 0 none) is a path strace prints, handler (0: known
 * but unimplemented). Tables end with name 0. */
struct lx_sys {
	uint16_t nr;
	uint8_t nargs, path_arg;
	const char *name;
	lx_sys_fn fn;
};

extern const struct lx_sys lx_mem_calls[], lx_fs_calls[], lx_io_calls[],
	lx_proc_calls[], lx_sig_calls[], lx_dir_calls[], lx_time_calls[],
	lx_unimplemented_calls[];

#define LX_PATH 512 /* the longest path served, NUL included */
/* fs.c: append path p's components to the normalized absolute path out. */
int64_t lx_path_join(char *out, const char *p);
/* fs.c: the normalized absolute path of user string upath relative to
 * dirfd (empty only when empty_ok); 0 or -errno. */
int64_t lx_path(int64_t dirfd, uint64_t upath, char *out, int empty_ok);
/* fs.c: the file table index of an absolute path, or -ENOENT. */
int64_t lx_lookup(const char *path);
/* fs.c: a table index (>= 0), a device (-100 - i), a standard descriptor
 * (-200 - fd), or -errno (> -100). */
int64_t lx_resolve(const char *path);
/* fs.c: the lowest free descriptor at or above min, or -EMFILE. */
int64_t lx_fd_alloc(uint64_t min);
/* fs.c: install a new zeroed description at free descriptor fd; it. */
struct lx_fd *lx_fd_install(int64_t fd, int cloexec);
/* io.c: close descriptor fd; 0 or -EBADF. */
int64_t lx_fd_close(uint64_t fd);
/* fs.c: set up descriptors 0, 1 and 2. */
void lx_fs_init(void);
/* io.c: one host stdio hypercall; returns its ret. */
int64_t lx_hc_io(uint32_t op, uint32_t fd, uint64_t buf, uint64_t len);
/* io.c: write out the held output (one exit); 0 or -errno. */
int64_t lx_out_flush(void);
/* io.c: write len bytes at buf to host stdio fd (1 or 2), held when
 * BUFFER_OUTPUT; the count or -errno. */
int64_t lx_out_write(uint32_t fd, uint64_t buf, uint64_t len);
/* io.c: read or write on descriptor fd (shared by read, readv, pread). */
int64_t lx_fd_read(int fd, uint64_t buf, uint64_t len, int64_t off);
int64_t lx_fd_write(int fd, uint64_t buf, uint64_t len, int64_t off);
/* io.c: the descriptor fd if open, else 0. */
struct lx_fd *lx_fd_get(uint64_t fd);
/* proc.c: fill buf with fresh host randomness. */
void lx_random(void *buf, uint64_t len);
/* proc.c: nanoseconds of the guest clock (CLOCK_MONOTONIC since boot). */
uint64_t lx_clock_ns(void);
/* proc.c: exit the program with status (exit_group). */
__attribute__((noreturn)) void lx_exit(unsigned status);

/* signal.c: a CPU fault of the program (called by lx_entry.S). */
void lx_fault(struct lx_regs *r);
/* signal.c: make sig pending with si_code code (kill, tkill, EPIPE). */
void lx_signal_post(int sig, int code);
/* signal.c: raise sig in the program: deliver it on return through r,
 * leave it pending when blocked, or kill the program. */
void lx_signal_raise(struct lx_regs *r, int sig, int code, uint64_t addr);
/* signal.c: deliver pending unblocked signals before returning via r. */
void lx_signal_pending(struct lx_regs *r);

#endif
