/* The Linux personality's process calls: identity, uname, arch_prctl, the
 * thread-library startup calls, limits, randomness and exit. There is one
 * process with one thread: pid and tid are the boot block's pid. */
#include "lx.h"

/* Fill buf with fresh host randomness (one exit per 4 KiB). */
void lx_random(void *buf, uint64_t len)
{
	char *p = buf;

	while (len) {
		uint64_t n = len < COWVM_LINUX_RANDOM_MAX
				     ? len
				     : COWVM_LINUX_RANDOM_MAX;
		struct cowvm_hc_linux_buf a = {(uint64_t)(uintptr_t)p, n};

		guest_hc(COWVM_HC_LINUX_RANDOM, &a);
		p += n;
		len -= n;
	}
}

/* exit_group: with --strace, the summary first; the held output goes
 * with the exit itself (one exit). */
void lx_exit(unsigned status)
{
	struct cowvm_hc_linux_exit e = {
		status & 0xff, 0, (uint64_t)(uintptr_t)lx.out, lx.out_used};

	lx_strace_summary();
	e.len = lx.out_used;
	for (;;)
		guest_hc(COWVM_HC_LINUX_EXIT, &e);
}

/* sync, syncfs, fsync, fdatasync: write out the held output. */
static int64_t sys_sync(struct lx_regs *r, uint64_t a, uint64_t b, uint64_t c,
			uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
	lx_out_flush();
	return 0;
}

/* exit(status) and exit_group(status). */
static int64_t sys_exit(struct lx_regs *r, uint64_t status, uint64_t b,
			uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	(void)b, (void)c, (void)d, (void)e, (void)f;
	if (lx.flags & COWVM_LINUX_STRACE)
		lx_trace("%s(%llu) = ?\n",
			 r->rax == NR_exit ? "exit" : "exit_group",
			 (unsigned long long)status);
	lx_exit((unsigned)status);
}

/* getpid, gettid, getpgrp, getsid, getpgid: the one process. */
static int64_t sys_getpid(struct lx_regs *r, uint64_t a, uint64_t b, uint64_t c,
			  uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
	return lx.boot->pid;
}

/* getppid: no parent inside the VM. */
static int64_t sys_getppid(struct lx_regs *r, uint64_t a, uint64_t b,
			   uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
	return 0;
}

/* getuid and geteuid. */
static int64_t sys_getuid(struct lx_regs *r, uint64_t a, uint64_t b, uint64_t c,
			  uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
	return lx.boot->uid;
}

/* getgid and getegid. */
static int64_t sys_getgid(struct lx_regs *r, uint64_t a, uint64_t b, uint64_t c,
			  uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
	return lx.boot->gid;
}

/* Calls that succeed with 0 and change nothing a single-threaded program
 * can observe: set_robust_list, sched_yield, fsync, madvise hints... */
static int64_t sys_zero(struct lx_regs *r, uint64_t a, uint64_t b, uint64_t c,
			uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
	return 0;
}

/* set_tid_address(p): remembered; returns the tid. */
static int64_t sys_set_tid_address(struct lx_regs *r, uint64_t p, uint64_t b,
				   uint64_t c, uint64_t d, uint64_t e,
				   uint64_t f)
{
	(void)r, (void)b, (void)c, (void)d, (void)e, (void)f;
	lx.tid_address = p;
	return lx.boot->pid;
}

/* Copy a NUL-terminated s into a 65-byte utsname field. */
static void lx_uts(char *field, const char *s)
{
	lx_zero(field, 65);
	lx_copy(field, s, strlen(s));
}

/* uname(buf). */
static int64_t sys_uname(struct lx_regs *r, uint64_t ubuf, uint64_t b,
			 uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	char *u = (char *)(uintptr_t)ubuf;

	(void)r, (void)b, (void)c, (void)d, (void)e, (void)f;
	if (!lx_user_ok(ubuf, 6 * 65))
		return -LX_EFAULT;
	lx_uts(u, "Linux");
	lx_uts(u + 65, "cowvm");
	lx_uts(u + 130, "6.1.0-cowvm");
	lx_uts(u + 195, "#1 cowvm Linux personality");
	lx_uts(u + 260, "x86_64");
	lx_uts(u + 325, "(none)");
	return 0;
}

/* arch_prctl(code, addr): the FS and GS bases through FSGSBASE. */
static int64_t sys_arch_prctl(struct lx_regs *r, uint64_t code, uint64_t addr,
			      uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	uint64_t v;

	(void)r, (void)c, (void)d, (void)e, (void)f;
	switch (code) {
	case 0x1001: /* ARCH_SET_GS */
		__asm__ volatile("wrgsbase %0" : : "r"(addr));
		return 0;
	case 0x1002: /* ARCH_SET_FS */
		__asm__ volatile("wrfsbase %0" : : "r"(addr));
		return 0;
	case 0x1003: /* ARCH_GET_FS */
	case 0x1004: /* ARCH_GET_GS */
		if (!lx_user_ok(addr, 8))
			return -LX_EFAULT;
		if (code == 0x1003)
			__asm__ volatile("rdfsbase %0" : "=r"(v));
		else
			__asm__ volatile("rdgsbase %0" : "=r"(v));
		*(uint64_t *)(uintptr_t)addr = v;
		return 0;
	}
	return -LX_EINVAL;
}

/* The limits the program sees: stack 8 MiB, 256 descriptors, the rest
 * unlimited (core: 0). */
static void lx_rlimit(uint64_t res, uint64_t *lim)
{
	lim[0] = lim[1] = ~0ull;
	if (res == 3) { /* RLIMIT_STACK */
		lim[0] = COWVM_LINUX_STACK_SIZE;
	} else if (res == 7) { /* RLIMIT_NOFILE */
		lim[0] = lim[1] = LX_NR_FDS;
	} else if (res == 4) { /* RLIMIT_CORE */
		lim[0] = 0;
	}
}

/* prlimit64(pid, res, new, old): new limits are accepted and ignored. */
static int64_t sys_prlimit64(struct lx_regs *r, uint64_t pid, uint64_t res,
			     uint64_t unew, uint64_t uold, uint64_t e,
			     uint64_t f)
{
	(void)r, (void)unew, (void)e, (void)f;
	if (pid && pid != lx.boot->pid)
		return -LX_ESRCH;
	if (res > 15)
		return -LX_EINVAL;
	if (uold) {
		if (!lx_user_ok(uold, 16))
			return -LX_EFAULT;
		lx_rlimit(res, (uint64_t *)(uintptr_t)uold);
	}
	return 0;
}

/* getrlimit(res, old). */
static int64_t sys_getrlimit(struct lx_regs *r, uint64_t res, uint64_t uold,
			     uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	(void)c, (void)d, (void)e, (void)f;
	return sys_prlimit64(r, 0, res, 0, uold ? uold : 1, 0, 0);
}

/* getrandom(buf, len, flags). */
static int64_t sys_getrandom(struct lx_regs *r, uint64_t ubuf, uint64_t len,
			     uint64_t flags, uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)d, (void)e, (void)f;
	if (flags & ~7ull)
		return -LX_EINVAL;
	if (len > (32u << 20) - 1)
		len = (32u << 20) - 1;
	if (!lx_user_ok(ubuf, len))
		return -LX_EFAULT;
	lx_random((void *)(uintptr_t)ubuf, len);
	return (int64_t)len;
}

/* sched_getaffinity(pid, size, mask): CPU 0. */
static int64_t sys_sched_getaffinity(struct lx_regs *r, uint64_t pid,
				     uint64_t size, uint64_t umask, uint64_t d,
				     uint64_t e, uint64_t f)
{
	(void)r, (void)pid, (void)d, (void)e, (void)f;
	if (size < 8 || size & 7)
		return -LX_EINVAL;
	if (!lx_user_ok(umask, 8))
		return -LX_EFAULT;
	*(uint64_t *)(uintptr_t)umask = 1;
	return 8;
}

/* umask(mask): the old mask. */
static int64_t sys_umask(struct lx_regs *r, uint64_t mask, uint64_t b,
			 uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	uint32_t old = lx.umask;

	(void)r, (void)b, (void)c, (void)d, (void)e, (void)f;
	lx.umask = (uint32_t)mask & 0777;
	return old;
}

/* fork, vfork, clone, clone3, execve: one process, one thread. */
static int64_t sys_noproc(struct lx_regs *r, uint64_t a, uint64_t b, uint64_t c,
			  uint64_t d, uint64_t e, uint64_t f)
{
	char name[32];
	uint64_t nr = r->rax;

	(void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
	lx_trace("cowvm-linux: %s: new processes and threads are not "
		 "supported in a cowvm VM\n",
		 lx_sys_name(nr, name, sizeof(name)));
	lx.enosys[nr <= LX_NR_SYSCALLS ? nr : LX_NR_SYSCALLS]++;
	return -LX_ENOSYS;
}

const struct lx_sys lx_proc_calls[] = {
	{NR_exit, 1, 0, "exit", sys_exit},
	{NR_exit_group, 1, 0, "exit_group", sys_exit},
	{NR_getpid, 0, 0, "getpid", sys_getpid},
	{NR_gettid, 0, 0, "gettid", sys_getpid},
	{NR_getpgrp, 0, 0, "getpgrp", sys_getpid},
	{NR_getpgid, 1, 0, "getpgid", sys_getpid},
	{NR_getsid, 1, 0, "getsid", sys_getpid},
	{NR_getppid, 0, 0, "getppid", sys_getppid},
	{NR_getuid, 0, 0, "getuid", sys_getuid},
	{NR_geteuid, 0, 0, "geteuid", sys_getuid},
	{NR_getgid, 0, 0, "getgid", sys_getgid},
	{NR_getegid, 0, 0, "getegid", sys_getgid},
	{NR_set_tid_address, 1, 0, "set_tid_address", sys_set_tid_address},
	{NR_set_robust_list, 2, 0, "set_robust_list", sys_zero},
	{NR_sched_yield, 0, 0, "sched_yield", sys_zero},
	{NR_fsync, 1, 0, "fsync", sys_sync},
	{NR_fdatasync, 1, 0, "fdatasync", sys_sync},
	{162, 0, 0, "sync", sys_sync},
	{306, 1, 0, "syncfs", sys_sync},
	{NR_fadvise64, 4, 0, "fadvise64", sys_zero},
	{NR_prctl, 5, 0, "prctl", sys_zero},
	{NR_uname, 1, 0, "uname", sys_uname},
	{NR_arch_prctl, 2, 0, "arch_prctl", sys_arch_prctl},
	{NR_prlimit64, 4, 0, "prlimit64", sys_prlimit64},
	{NR_getrlimit, 2, 0, "getrlimit", sys_getrlimit},
	{NR_setrlimit, 2, 0, "setrlimit", sys_zero},
	{NR_getrandom, 3, 0, "getrandom", sys_getrandom},
	{NR_sched_getaffinity, 3, 0, "sched_getaffinity",
	 sys_sched_getaffinity},
	{NR_umask, 1, 0, "umask", sys_umask},
	{NR_fork, 0, 0, "fork", sys_noproc},
	{NR_vfork, 0, 0, "vfork", sys_noproc},
	{NR_clone, 5, 0, "clone", sys_noproc},
	{NR_clone3, 2, 0, "clone3", sys_noproc},
	{NR_execve, 3, 1, "execve", sys_noproc},
	{NR_execveat, 5, 2, "execveat", sys_noproc},
	{0, 0, 0, 0, 0},
};

/* Known calls left unimplemented (-ENOSYS), named for --strace. */
const struct lx_sys lx_unimplemented_calls[] = {
	{NR_pipe, 1, 0, "pipe", 0},
	{NR_pipe2, 2, 0, "pipe2", 0},
	{NR_select, 5, 0, "select", 0},
	{NR_pselect6, 6, 0, "pselect6", 0},
	{NR_socket, 3, 0, "socket", 0},
	{NR_wait4, 4, 0, "wait4", 0},
	{NR_futex, 6, 0, "futex", 0},
	{NR_rseq, 4, 0, "rseq", 0},
	{NR_alarm, 1, 0, "alarm", 0},
	{NR_setitimer, 3, 0, "setitimer", 0},
	{NR_getitimer, 2, 0, "getitimer", 0},
	{NR_pause, 0, 0, "pause", 0},
	{NR_msync, 3, 0, "msync", 0},
	{NR_mincore, 3, 0, "mincore", 0},
	{NR_flock, 2, 0, "flock", 0},
	{NR_getdents, 3, 0, "getdents", 0},
	{NR_statfs, 2, 1, "statfs", 0},
	{NR_fstatfs, 2, 0, "fstatfs", 0},
	{NR_memfd_create, 2, 1, "memfd_create", 0},
	{NR_get_robust_list, 3, 0, "get_robust_list", 0},
	{NR_setuid, 1, 0, "setuid", 0},
	{NR_setgid, 1, 0, "setgid", 0},
	{NR_setpgid, 2, 0, "setpgid", 0},
	{NR_setsid, 0, 0, "setsid", 0},
	{NR_getgroups, 2, 0, "getgroups", 0},
	{NR_personality, 1, 0, "personality", 0},
	{NR_getpriority, 2, 0, "getpriority", 0},
	{NR_sched_getparam, 2, 0, "sched_getparam", 0},
	{NR_sched_getscheduler, 1, 0, "sched_getscheduler", 0},
	{NR_getcpu, 3, 0, "getcpu", 0},
	{0, 0, 0, 0, 0},
};
