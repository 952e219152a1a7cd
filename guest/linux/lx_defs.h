/* The Linux x86-64 user ABI values the personality serves: system call
 * numbers, errno values, flags and structure layouts (from the Linux UAPI,
 * restated here so that the guest needs no host headers). */
#ifndef LX_DEFS_H
#define LX_DEFS_H

#include <stdint.h>

enum lx_nr {
	NR_read = 0,
	NR_write = 1,
	NR_open = 2,
	NR_close = 3,
	NR_stat = 4,
	NR_fstat = 5,
	NR_lstat = 6,
	NR_poll = 7,
	NR_lseek = 8,
	NR_mmap = 9,
	NR_mprotect = 10,
	NR_munmap = 11,
	NR_brk = 12,
	NR_rt_sigaction = 13,
	NR_rt_sigprocmask = 14,
	NR_rt_sigreturn = 15,
	NR_ioctl = 16,
	NR_pread64 = 17,
	NR_pwrite64 = 18,
	NR_readv = 19,
	NR_writev = 20,
	NR_access = 21,
	NR_pipe = 22,
	NR_select = 23,
	NR_sched_yield = 24,
	NR_mremap = 25,
	NR_msync = 26,
	NR_mincore = 27,
	NR_madvise = 28,
	NR_dup = 32,
	NR_dup2 = 33,
	NR_pause = 34,
	NR_nanosleep = 35,
	NR_getitimer = 36,
	NR_alarm = 37,
	NR_setitimer = 38,
	NR_getpid = 39,
	NR_socket = 41,
	NR_clone = 56,
	NR_fork = 57,
	NR_vfork = 58,
	NR_execve = 59,
	NR_exit = 60,
	NR_wait4 = 61,
	NR_kill = 62,
	NR_uname = 63,
	NR_fcntl = 72,
	NR_flock = 73,
	NR_fsync = 74,
	NR_fdatasync = 75,
	NR_ftruncate = 77,
	NR_getdents = 78,
	NR_getcwd = 79,
	NR_chdir = 80,
	NR_fchdir = 81,
	NR_rename = 82,
	NR_mkdir = 83,
	NR_rmdir = 84,
	NR_unlink = 87,
	NR_readlink = 89,
	NR_chmod = 90,
	NR_umask = 95,
	NR_gettimeofday = 96,
	NR_getrlimit = 97,
	NR_getrusage = 98,
	NR_sysinfo = 99,
	NR_times = 100,
	NR_getuid = 102,
	NR_getgid = 104,
	NR_setuid = 105,
	NR_setgid = 106,
	NR_geteuid = 107,
	NR_getegid = 108,
	NR_setpgid = 109,
	NR_getppid = 110,
	NR_getpgrp = 111,
	NR_setsid = 112,
	NR_getgroups = 115,
	NR_getpgid = 121,
	NR_getsid = 124,
	NR_rt_sigpending = 127,
	NR_sigaltstack = 131,
	NR_personality = 135,
	NR_statfs = 137,
	NR_fstatfs = 138,
	NR_getpriority = 140,
	NR_sched_getparam = 143,
	NR_sched_getscheduler = 145,
	NR_prctl = 157,
	NR_arch_prctl = 158,
	NR_setrlimit = 160,
	NR_gettid = 186,
	NR_time = 201,
	NR_futex = 202,
	NR_sched_getaffinity = 204,
	NR_getdents64 = 217,
	NR_set_tid_address = 218,
	NR_fadvise64 = 221,
	NR_clock_gettime = 228,
	NR_clock_getres = 229,
	NR_clock_nanosleep = 230,
	NR_exit_group = 231,
	NR_tgkill = 234,
	NR_openat = 257,
	NR_mkdirat = 258,
	NR_newfstatat = 262,
	NR_unlinkat = 263,
	NR_readlinkat = 267,
	NR_faccessat = 269,
	NR_pselect6 = 270,
	NR_ppoll = 271,
	NR_set_robust_list = 273,
	NR_get_robust_list = 274,
	NR_pipe2 = 293,
	NR_dup3 = 292,
	NR_prlimit64 = 302,
	NR_getcpu = 309,
	NR_getrandom = 318,
	NR_memfd_create = 319,
	NR_execveat = 322,
	NR_statx = 332,
	NR_rseq = 334,
	NR_clone3 = 435,
	NR_faccessat2 = 439,
};

/* errno values. */
enum lx_errno {
	LX_EPERM = 1,
	LX_ENOENT = 2,
	LX_ESRCH = 3,
	LX_EINTR = 4,
	LX_EIO = 5,
	LX_EBADF = 9,
	LX_ECHILD = 10,
	LX_EAGAIN = 11,
	LX_ENOMEM = 12,
	LX_EACCES = 13,
	LX_EFAULT = 14,
	LX_EEXIST = 17,
	LX_ENODEV = 19,
	LX_ENOTDIR = 20,
	LX_EISDIR = 21,
	LX_EINVAL = 22,
	LX_EMFILE = 24,
	LX_ENOTTY = 25,
	LX_ESPIPE = 29,
	LX_EROFS = 30,
	LX_EPIPE = 32,
	LX_ERANGE = 34,
	LX_ENAMETOOLONG = 36,
	LX_ENOSYS = 38,
	LX_ENOTEMPTY = 39,
	LX_ELOOP = 40,
	LX_ENODATA = 61,
	LX_EOVERFLOW = 75,
	LX_ENOTSOCK = 88,
	LX_EOPNOTSUPP = 95,
};

#define LX_AT_FDCWD	       (-100)
#define LX_AT_SYMLINK_NOFOLLOW 0x100
#define LX_AT_EMPTY_PATH       0x1000

#define LX_O_ACCMODE   3
#define LX_O_WRONLY    1
#define LX_O_RDWR      2
#define LX_O_CREAT     0100
#define LX_O_TRUNC     01000
#define LX_O_APPEND    02000
#define LX_O_NONBLOCK  04000
#define LX_O_DIRECTORY 0200000
#define LX_O_CLOEXEC   02000000

#define LX_S_IFMT  0170000
#define LX_S_IFDIR 0040000
#define LX_S_IFCHR 0020000
#define LX_S_IFREG 0100000

#define LX_PROT_NONE	       0
#define LX_MAP_SHARED	       0x01
#define LX_MAP_PRIVATE	       0x02
#define LX_MAP_FIXED	       0x10
#define LX_MAP_ANONYMOUS       0x20
#define LX_MAP_FIXED_NOREPLACE 0x100000
#define LX_MREMAP_MAYMOVE      1
#define LX_MREMAP_FIXED	       2

#define LX_SIG_DFL	0
#define LX_SIG_IGN	1
#define LX_SA_SIGINFO	0x4
#define LX_SA_ONSTACK	0x08000000
#define LX_SA_RESTORER	0x04000000
#define LX_SA_NODEFER	0x40000000
#define LX_SA_RESETHAND 0x80000000
#define LX_SS_ONSTACK	1
#define LX_SS_DISABLE	2

enum lx_sig {
	LX_SIGHUP = 1,
	LX_SIGINT = 2,
	LX_SIGQUIT = 3,
	LX_SIGILL = 4,
	LX_SIGTRAP = 5,
	LX_SIGABRT = 6,
	LX_SIGBUS = 7,
	LX_SIGFPE = 8,
	LX_SIGKILL = 9,
	LX_SIGUSR1 = 10,
	LX_SIGSEGV = 11,
	LX_SIGUSR2 = 12,
	LX_SIGPIPE = 13,
	LX_SIGALRM = 14,
	LX_SIGTERM = 15,
	LX_SIGCHLD = 17,
	LX_SIGCONT = 18,
	LX_SIGSTOP = 19,
	LX_SIGURG = 23,
	LX_SIGWINCH = 28,
};

/* struct stat of x86-64. */
struct lx_stat {
	uint64_t st_dev, st_ino, st_nlink;
	uint32_t st_mode, st_uid, st_gid, pad0;
	uint64_t st_rdev;
	int64_t st_size, st_blksize, st_blocks;
	uint64_t st_atime, st_atime_ns, st_mtime, st_mtime_ns, st_ctime,
		st_ctime_ns;
	int64_t reserved[3];
};
_Static_assert(sizeof(struct lx_stat) == 144, "struct stat");

struct lx_statx_ts {
	int64_t sec;
	uint32_t nsec, pad;
};
struct lx_statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, pad0;
	uint64_t ino, size, blocks, attributes_mask;
	struct lx_statx_ts atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t spare[14];
};
_Static_assert(sizeof(struct lx_statx) == 256, "struct statx");

struct lx_iovec {
	uint64_t base, len;
};

struct lx_timespec {
	int64_t sec, nsec;
};

/* The signal frame of x86-64 Linux: what a handler finds on its stack. */
struct lx_siginfo {
	int32_t signo, errno_, code, pad;
	uint64_t addr; /* si_addr for faults; si_pid/si_uid for kill */
	uint8_t rest[128 - 24];
};
_Static_assert(sizeof(struct lx_siginfo) == 128, "siginfo");

struct lx_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2, fpstate;
	uint64_t reserved1[8];
};
_Static_assert(sizeof(struct lx_sigcontext) == 256, "sigcontext");

struct lx_ucontext {
	uint64_t uc_flags, uc_link;
	uint64_t ss_sp;
	int32_t ss_flags, pad;
	uint64_t ss_size;
	struct lx_sigcontext mc;
	uint64_t sigmask;
};

struct lx_sigframe {
	uint64_t pretcode;
	struct lx_ucontext uc;
	struct lx_siginfo info;
};

#endif
