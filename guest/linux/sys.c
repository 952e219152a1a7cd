/* The Linux personality's system-call dispatch: one table indexed by
 * number, filled from the families' tables on first use; --strace lines;
 * the count of unimplemented calls. */
#include <stdarg.h>

#include "lx.h"

#define LX_RFLAGS_USER 0x40cd5ull /* CF PF AF ZF SF DF OF AC */
#define LX_RFLAGS_BASE 0x3002ull  /* IOPL 3, IF 0 */

static const struct lx_sys *lx_table[LX_NR_SYSCALLS + 1];
static int lx_table_ready;

/* Index every family's entries by number. */
static void lx_table_fill(void)
{
	static const struct lx_sys *const families[] = {
		lx_unimplemented_calls,
		lx_mem_calls,
		lx_fs_calls,
		lx_io_calls,
		lx_proc_calls,
		lx_sig_calls,
		lx_dir_calls,
		lx_time_calls,
	};

	for (unsigned f = 0; f < sizeof(families) / sizeof(families[0]); f++)
		for (const struct lx_sys *s = families[f]; s->name; s++)
			if (s->nr <= LX_NR_SYSCALLS)
				lx_table[s->nr] = s;
	lx_table_ready = 1;
}

/* The name of system call nr, or "syscall_N" formatted into buf. */
const char *lx_sys_name(uint64_t nr, char *buf, size_t size)
{
	if (nr <= LX_NR_SYSCALLS && lx_table[nr])
		return lx_table[nr]->name;
	guest_snprintf(buf, size, "syscall_%llu", (unsigned long long)nr);
	return buf;
}

/* Write a formatted line (up to 1 KiB) to the program's stderr. */
void lx_trace(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = guest_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	lx_out_write(2, (uint64_t)(uintptr_t)buf, n);
}

/* Print "name(args) = ret" for a finished call. */
static void lx_strace(const struct lx_sys *s, uint64_t nr, const uint64_t *a,
		      int64_t ret)
{
	char line[640], name[32], *p = line;
	size_t left = sizeof(line), n;
	unsigned nargs = s ? s->nargs : 6;

	n = guest_snprintf(p, left, "%s(", lx_sys_name(nr, name, sizeof(name)));
	for (unsigned i = 0; i < nargs && n < left; i++) {
		p += n;
		left -= n;
		if (s && s->path_arg == i + 1 && lx_user_strlen(a[i], 256) >= 0)
			n = guest_snprintf(p, left, "%s\"%s\"", i ? ", " : "",
					   (const char *)(uintptr_t)a[i]);
		else
			n = guest_snprintf(p, left, "%s0x%llx", i ? ", " : "",
					   (unsigned long long)a[i]);
	}
	if (n < left) {
		p += n;
		left -= n;
	}
	if (ret < 0 && ret > -4096)
		guest_snprintf(p, left, ") = -1 errno %lld%s\n",
			       (long long)-ret,
			       s && s->fn ? "" : " (not implemented)");
	else
		guest_snprintf(p, left, ") = %lld (0x%llx)\n", (long long)ret,
			       (unsigned long long)ret);
	lx_trace("%s", line);
}

/* Length of the NUL-terminated user string at p, within max bytes. */
int64_t lx_user_strlen(uint64_t p, uint64_t max)
{
	const char *s = (const char *)(uintptr_t)p;

	for (uint64_t i = 0; i < max; i++) {
		if (!lx_user_ok(p + i, 1))
			return -LX_EFAULT;
		if (!s[i])
			return (int64_t)i;
	}
	return -LX_ENAMETOOLONG;
}

/* Serve the system call at r->rip (called from lx_entry.S); resumes the
 * program past it, or delivers SIGILL when the #UD was no SYSCALL. */
void lx_syscall(struct lx_regs *r)
{
	const uint8_t *ip = (const uint8_t *)(uintptr_t)r->rip;
	uint64_t a[6] = {r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9};
	const struct lx_sys *s;
	uint64_t nr = r->rax;
	int64_t ret;

	r->rflags = (r->rflags & LX_RFLAGS_USER) | LX_RFLAGS_BASE;
	if (!lx_user_ok(r->rip, 2) || ip[0] != 0x0f || ip[1] != 0x05) {
		r->vector = 6;
		lx_signal_raise(r, LX_SIGILL, 2 /* ILL_ILLOPN */, r->rip);
		return;
	}
	if (!lx_table_ready)
		lx_table_fill();
	r->rip += 2;
	s = nr <= LX_NR_SYSCALLS ? lx_table[nr] : 0;
	if (s && s->fn) {
		ret = s->fn(r, a[0], a[1], a[2], a[3], a[4], a[5]);
	} else {
		ret = -LX_ENOSYS;
		lx.enosys[nr <= LX_NR_SYSCALLS ? nr : LX_NR_SYSCALLS]++;
	}
	if (nr != NR_rt_sigreturn) {
		r->rax = (uint64_t)ret;
		r->rcx = r->rip;
		r->r11 = r->rflags;
	}
	if (lx.flags & COWVM_LINUX_STRACE)
		lx_strace(s, nr, a, ret);
	lx_signal_pending(r);
}

/* At exit with --strace: one line naming the unimplemented calls made. */
void lx_strace_summary(void)
{
	char line[900], name[32];
	size_t pos = 0;

	if (!(lx.flags & COWVM_LINUX_STRACE))
		return;
	for (unsigned nr = 0; nr <= LX_NR_SYSCALLS; nr++) {
		if (!lx.enosys[nr] || pos >= sizeof(line))
			continue;
		pos += guest_snprintf(
			line + pos, sizeof(line) - pos, " %s (%u)",
			nr == LX_NR_SYSCALLS
				? "above 450"
				: lx_sys_name(nr, name, sizeof(name)),
			lx.enosys[nr]);
	}
	if (pos)
		lx_trace("cowvm-linux: unimplemented system calls:%s\n", line);
}
