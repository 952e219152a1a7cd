/* The Linux personality's signals, as far as one thread needs: handlers,
 * the mask, the alternate stack, kill of itself, CPU faults turned into
 * SIGSEGV, SIGFPE, SIGILL, SIGBUS or SIGTRAP, delivery through a Linux
 * x86-64 signal frame and rt_sigreturn. A signal with no handler whose
 * default action is to terminate stops the VM (COWVM_HC_LINUX_SIGNAL). */
#include "lx.h"

#define LX_BIT(s)      (1ull << ((s)-1))
#define LX_UNBLOCKABLE (LX_BIT(LX_SIGKILL) | LX_BIT(LX_SIGSTOP))
#define LX_FPSTATE     512u /* FXSAVE image */

extern char guest_image_start[], guest_image_end[];

/* Die of sig: the VM stops with COWVM_EXIT_SIGNAL. */
__attribute__((noreturn)) static void lx_die(int sig, int code, uint64_t rip,
					     uint64_t addr)
{
	struct cowvm_hc_linux_signal s = {(uint32_t)sig, (uint32_t)code, rip,
					  addr};

	lx_strace_summary();
	lx_out_flush();
	for (;;)
		guest_hc(COWVM_HC_LINUX_SIGNAL, &s);
}

/* Whether sig's default action is to ignore it. */
static int lx_default_ignores(int sig)
{
	return sig == LX_SIGCHLD || sig == LX_SIGCONT || sig == LX_SIGURG ||
	       sig == LX_SIGWINCH;
}

/* Build the signal frame for sig on the program's stack and point r at
 * the handler; dies when the frame cannot be written. */
static void lx_deliver(struct lx_regs *r, int sig, int code, uint64_t addr)
{
	struct lx_sigaction *a = &lx.sigs[sig];
	uint64_t sp = r->rsp - 128, fp; /* below the red zone */
	struct lx_sigframe *fr;

	if (a->flags & LX_SA_ONSTACK && lx.altstack_size &&
	    !(lx.altstack_flags & LX_SS_DISABLE) &&
	    !(r->rsp > lx.altstack_sp &&
	      r->rsp <= lx.altstack_sp + lx.altstack_size))
		sp = lx.altstack_sp + lx.altstack_size;
	fp = (sp - LX_FPSTATE) & ~63ull;
	sp = ((fp - sizeof(*fr)) & ~15ull) - 8;
	if (!(a->flags & LX_SA_RESTORER) ||
	    !lx_user_ok(sp, fp + LX_FPSTATE - sp))
		lx_die(sig, code, r->rip, addr);
	fr = (struct lx_sigframe *)(uintptr_t)sp;
	lx_zero(fr, sizeof(*fr));
	__asm__ volatile("fxsave64 %0" : "=m"(*(char(*)[512])(uintptr_t)fp));
	fr->pretcode = a->restorer;
	fr->uc.ss_sp = lx.altstack_sp;
	fr->uc.ss_size = lx.altstack_size;
	fr->uc.ss_flags = (int32_t)lx.altstack_flags;
	fr->uc.mc = (struct lx_sigcontext){
		r->r8,	    r->r9,
		r->r10,	    r->r11,
		r->r12,	    r->r13,
		r->r14,	    r->r15,
		r->rdi,	    r->rsi,
		r->rbp,	    r->rbx,
		r->rdx,	    r->rax,
		r->rcx,	    r->rsp,
		r->rip,	    r->rflags,
		0x1b,	    0,
		0,	    0x23,
		r->error,   r->vector == LX_VECTOR_SYSCALL ? 0 : r->vector,
		lx.sigmask, r->cr2,
		fp,	    {0},
	};
	fr->uc.sigmask = lx.sigmask;
	fr->info.signo = sig;
	fr->info.code = code;
	fr->info.addr = addr;
	if (code <= 0) /* SI_USER, SI_TKILL: si_pid, si_uid */
		fr->info.addr = lx.boot->pid | (uint64_t)lx.boot->uid << 32;
	lx.sigmask |= a->mask | (a->flags & LX_SA_NODEFER ? 0 : LX_BIT(sig));
	lx.sigmask &= ~LX_UNBLOCKABLE;
	r->rip = a->handler;
	r->rsp = sp;
	r->rdi = (uint64_t)sig;
	r->rsi = (uint64_t)(uintptr_t)&fr->info;
	r->rdx = (uint64_t)(uintptr_t)&fr->uc;
	r->rax = 0;
	r->rflags &= ~0x500ull; /* DF, TF */
	if (a->flags & LX_SA_RESETHAND)
		a->handler = LX_SIG_DFL;
}

/* Act on sig now: deliver, ignore or die. fault: it came from the CPU
 * (ignoring or blocking it cannot help: the instruction would fault
 * again). */
static void lx_act(struct lx_regs *r, int sig, int code, uint64_t addr,
		   int fault)
{
	uint64_t h = lx.sigs[sig].handler;

	if (fault && (h == LX_SIG_IGN || lx.sigmask & LX_BIT(sig)))
		h = LX_SIG_DFL;
	if (h == LX_SIG_IGN || (h == LX_SIG_DFL && lx_default_ignores(sig)))
		return;
	if (h == LX_SIG_DFL || sig == LX_SIGKILL || sig == LX_SIGSTOP)
		lx_die(sig, code, fault ? r->rip : 0, addr);
	lx_deliver(r, sig, code, addr);
}

/* A CPU fault at r->rip (from lx_entry.S). Faults inside the personality
 * are its own bugs: reported as guest faults. */
void lx_fault(struct lx_regs *r)
{
	static const int8_t sig_of[22] = {
		LX_SIGFPE,  LX_SIGTRAP, 0,	    LX_SIGTRAP, LX_SIGSEGV,
		LX_SIGSEGV, LX_SIGILL,	LX_SIGSEGV, 0,		0,
		LX_SIGSEGV, LX_SIGBUS,	LX_SIGBUS,  LX_SIGSEGV, LX_SIGSEGV,
		0,	    LX_SIGFPE,	LX_SIGBUS,  0,		LX_SIGFPE,
		LX_SIGSEGV, LX_SIGSEGV,
	};
	int sig = r->vector < 22 ? sig_of[r->vector] : 0;
	int code = 0x80; /* SI_KERNEL */
	uint64_t addr = 0;

	if (!sig || (r->rip >= (uint64_t)(uintptr_t)guest_image_start &&
		     r->rip < (uint64_t)(uintptr_t)guest_image_end)) {
		struct cowvm_hc_fault f = {r->vector, r->error, r->rip,
					   r->cr2,    r->rsp,	0x1b};

		for (;;)
			guest_hc(COWVM_HC_FAULT, &f);
	}
	if (r->vector == 14) {
		code = r->error & 1 ? 2 : 1; /* SEGV_ACCERR, SEGV_MAPERR */
		addr = r->cr2;
	} else if (r->vector == 0) {
		code = 1; /* FPE_INTDIV */
		addr = r->rip;
	} else if (sig == LX_SIGFPE || sig == LX_SIGILL) {
		addr = r->rip;
	}
	r->rflags = (r->rflags & 0x40cd5ull) | 0x3002ull;
	lx_act(r, sig, code, addr, 1);
}

/* Raise sig: act now unless blocked (then pending). */
void lx_signal_raise(struct lx_regs *r, int sig, int code, uint64_t addr)
{
	if (code > 0) { /* from the CPU */
		lx_act(r, sig, code, addr, 1);
		return;
	}
	lx_signal_post(sig, code);
	lx_signal_pending(r);
}

/* Make sig pending (delivered when the current call returns, or when
 * unblocked); a signal already pending keeps its first code. */
void lx_signal_post(int sig, int code)
{
	if (!(lx.sigpending & LX_BIT(sig)))
		lx.sigcode[sig] = code;
	lx.sigpending |= LX_BIT(sig);
}

/* Deliver the lowest pending unblocked signal, if any. */
void lx_signal_pending(struct lx_regs *r)
{
	uint64_t ready = lx.sigpending & ~lx.sigmask;
	int sig;

	if (!ready)
		return;
	sig = __builtin_ctzll(ready) + 1;
	lx.sigpending &= ~LX_BIT(sig);
	lx_act(r, sig, lx.sigcode[sig], 0, 0);
}

/* rt_sigaction(sig, act, oact, size). */
static int64_t sys_rt_sigaction(struct lx_regs *r, uint64_t sig, uint64_t uact,
				uint64_t uold, uint64_t size, uint64_t e,
				uint64_t f)
{
	struct lx_sigaction *a = &lx.sigs[sig < LX_NR_SIGS ? sig : 0];

	(void)r, (void)e, (void)f;
	if (!sig || sig > LX_NR_SIGS || size != 8)
		return -LX_EINVAL;
	a = &lx.sigs[sig];
	if (uact && (sig == LX_SIGKILL || sig == LX_SIGSTOP))
		return -LX_EINVAL;
	if ((uact && !lx_user_ok(uact, sizeof(*a))) ||
	    (uold && !lx_user_ok(uold, sizeof(*a))))
		return -LX_EFAULT;
	if (uold)
		lx_copy((void *)(uintptr_t)uold, a, sizeof(*a));
	if (uact) {
		lx_copy(a, (const void *)(uintptr_t)uact, sizeof(*a));
		a->mask &= ~LX_UNBLOCKABLE;
	}
	return 0;
}

/* rt_sigprocmask(how, set, oset, size). */
static int64_t sys_rt_sigprocmask(struct lx_regs *r, uint64_t how,
				  uint64_t uset, uint64_t uold, uint64_t size,
				  uint64_t e, uint64_t f)
{
	uint64_t set;

	(void)r, (void)e, (void)f;
	if (size != 8)
		return -LX_EINVAL;
	if ((uset && !lx_user_ok(uset, 8)) || (uold && !lx_user_ok(uold, 8)))
		return -LX_EFAULT;
	if (uold)
		*(uint64_t *)(uintptr_t)uold = lx.sigmask;
	if (!uset)
		return 0;
	set = *(const uint64_t *)(uintptr_t)uset;
	if (how == 0)
		lx.sigmask |= set;
	else if (how == 1)
		lx.sigmask &= ~set;
	else if (how == 2)
		lx.sigmask = set;
	else
		return -LX_EINVAL;
	lx.sigmask &= ~LX_UNBLOCKABLE;
	return 0;
}

/* sigaltstack(ss, old). */
static int64_t sys_sigaltstack(struct lx_regs *r, uint64_t uss, uint64_t uold,
			       uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	uint64_t *o = (uint64_t *)(uintptr_t)uold;
	const uint64_t *s = (const uint64_t *)(uintptr_t)uss;
	int on = r->rsp > lx.altstack_sp &&
		 r->rsp <= lx.altstack_sp + lx.altstack_size;

	(void)c, (void)d, (void)e, (void)f;
	if ((uss && !lx_user_ok(uss, 24)) || (uold && !lx_user_ok(uold, 24)))
		return -LX_EFAULT;
	if (uold) {
		o[0] = lx.altstack_sp;
		o[1] = lx.altstack_size ? (on ? LX_SS_ONSTACK : 0)
					: LX_SS_DISABLE;
		o[2] = lx.altstack_size;
	}
	if (!uss)
		return 0;
	if (on)
		return -LX_EPERM;
	if ((uint32_t)s[1] & LX_SS_DISABLE) {
		lx.altstack_sp = lx.altstack_size = 0;
		return 0;
	}
	if ((uint32_t)s[1] & ~(uint32_t)LX_SS_ONSTACK)
		return -LX_EINVAL;
	if (s[2] < 2048)
		return -LX_ENOMEM;
	lx.altstack_sp = s[0];
	lx.altstack_size = s[2];
	lx.altstack_flags = 0;
	return 0;
}

/* rt_sigreturn(): restore the context of the frame at rsp - 8. */
static int64_t sys_rt_sigreturn(struct lx_regs *r, uint64_t a, uint64_t b,
				uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	uint64_t sp = r->rsp - 8;
	const struct lx_sigframe *fr = (const void *)(uintptr_t)sp;
	const struct lx_sigcontext *m = &fr->uc.mc;

	(void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
	if (!lx_user_ok(sp, sizeof(*fr)))
		lx_die(LX_SIGSEGV, 0x80, r->rip, sp);
	*r = (struct lx_regs){m->r15,
			      m->r14,
			      m->r13,
			      m->r12,
			      m->r11,
			      m->r10,
			      m->r9,
			      m->r8,
			      m->rbp,
			      m->rdi,
			      m->rsi,
			      m->rdx,
			      m->rcx,
			      m->rbx,
			      m->rax,
			      m->rip,
			      m->eflags,
			      m->rsp,
			      LX_VECTOR_SYSCALL,
			      0,
			      0};
	r->rflags = (r->rflags & 0x40cd5ull) | 0x3002ull;
	if (m->fpstate && lx_user_ok(m->fpstate, LX_FPSTATE) &&
	    !(m->fpstate & 15))
		__asm__ volatile(
			"fxrstor64 %0"
			:
			: "m"(*(const char(*)[512])(uintptr_t)m->fpstate));
	lx.sigmask = fr->uc.sigmask & ~LX_UNBLOCKABLE;
	return (int64_t)r->rax;
}

/* kill(pid, sig) of itself with si_code code (SI_USER 0, SI_TKILL -6). */
static int64_t lx_kill(uint64_t pid, uint64_t sig, int code)
{
	if ((int64_t)pid != 0 && (int64_t)pid != -1 && pid != lx.boot->pid)
		return -LX_ESRCH;
	if (sig > LX_NR_SIGS)
		return -LX_EINVAL;
	if (sig)
		lx_signal_post((int)sig, code);
	return 0;
}

/* kill(pid, sig). */
static int64_t sys_kill(struct lx_regs *r, uint64_t pid, uint64_t sig,
			uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)c, (void)d, (void)e, (void)f;
	return lx_kill(pid, sig, 0);
}

/* tkill(tid, sig). */
static int64_t sys_tkill(struct lx_regs *r, uint64_t tid, uint64_t sig,
			 uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)c, (void)d, (void)e, (void)f;
	if (tid != lx.boot->pid)
		return -LX_ESRCH;
	return lx_kill(tid, sig, -6);
}

/* tgkill(tgid, tid, sig). */
static int64_t sys_tgkill(struct lx_regs *r, uint64_t tgid, uint64_t tid,
			  uint64_t sig, uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)d, (void)e, (void)f;
	if (tid != lx.boot->pid)
		return -LX_ESRCH;
	return lx_kill(tgid, sig, -6);
}

/* rt_sigpending(set, size). */
static int64_t sys_rt_sigpending(struct lx_regs *r, uint64_t uset,
				 uint64_t size, uint64_t c, uint64_t d,
				 uint64_t e, uint64_t f)
{
	(void)r, (void)c, (void)d, (void)e, (void)f;
	if (size > 8)
		return -LX_EINVAL;
	if (!lx_user_ok(uset, size))
		return -LX_EFAULT;
	lx_copy((void *)(uintptr_t)uset, &lx.sigpending, size);
	return 0;
}

const struct lx_sys lx_sig_calls[] = {
	{NR_rt_sigaction, 4, 0, "rt_sigaction", sys_rt_sigaction},
	{NR_rt_sigprocmask, 4, 0, "rt_sigprocmask", sys_rt_sigprocmask},
	{NR_rt_sigreturn, 0, 0, "rt_sigreturn", sys_rt_sigreturn},
	{NR_sigaltstack, 2, 0, "sigaltstack", sys_sigaltstack},
	{NR_kill, 2, 0, "kill", sys_kill},
	{NR_tgkill, 3, 0, "tgkill", sys_tgkill},
	{200, 2, 0, "tkill", sys_tkill},
	{NR_rt_sigpending, 2, 0, "rt_sigpending", sys_rt_sigpending},
	{0, 0, 0, 0, 0},
};
