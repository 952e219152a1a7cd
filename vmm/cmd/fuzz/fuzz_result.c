/* What one fuzz run did: each exit of a fuzz target (a cowvm guest's
 * hypercall exits and faults, a Linux program's fatal signals) as an
 * outcome, a one-line reason naming the function where the ELF has
 * symbols, and a crash signature. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cowvm_fuzz_abi.h"
#include "fuzz_internal.h"
#include "fuzz_sym.h"

/* The short name of exception vector v, "" if none. */
const char *fuzz_vector_name(uint64_t v)
{
	static const char *const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
		"#DF", "",    "#TS", "#NP", "#SS", "#GP", "#PF", "",
		"#MF", "#AC", "#MC", "#XM", "#VE", "#CP"};

	return v < sizeof(names) / sizeof(names[0]) ? names[v] : "";
}

/* The name of Linux signal n, "" if not a common one. */
const char *fuzz_signal_name(int n)
{
	static const char *const names[] = {
		"",	   "SIGHUP",	"SIGINT",  "SIGQUIT",  "SIGILL",
		"SIGTRAP", "SIGABRT",	"SIGBUS",  "SIGFPE",   "SIGKILL",
		"SIGUSR1", "SIGSEGV",	"SIGUSR2", "SIGPIPE",  "SIGALRM",
		"SIGTERM", "",		"SIGCHLD", "SIGCONT",  "SIGSTOP",
		"SIGTSTP", "SIGTTIN",	"SIGTTOU", "SIGURG",   "SIGXCPU",
		"SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",
		"SIGPWR",  "SIGSYS"};

	return n >= 0 && n < (int)(sizeof(names) / sizeof(names[0])) ? names[n]
								     : "";
}

/* " in FUNCTION+0xOFF" for rip, or "" (into buf). */
static const char *where(const struct fuzz *f, uint64_t rip, char *buf,
			 size_t len)
{
	char name[160];

	buf[0] = 0;
	if (rip && *fuzz_sym_name(f->sym, rip, name, sizeof(name)))
		snprintf(buf, len, " in %s", name);
	return buf;
}

/* A guest exit with a harness status: ok, rejected or a crash. */
static void guest_exit(struct fuzz *f, const struct cowvm_exit *e,
		       struct fuzz_result *res)
{
	struct cowvm_fuzz_ctl ctl;
	char at[192];

	if (e->status == COWVM_FUZZ_EXIT_OK ||
	    e->status == COWVM_FUZZ_EXIT_REJECT) {
		res->outcome = FUZZ_OK;
		res->reject = e->status == COWVM_FUZZ_EXIT_REJECT;
		return;
	}
	res->outcome = FUZZ_CRASH;
	if (cowvm_read(f->vm, f->ctl_gpa, &ctl, sizeof(ctl)))
		memset(&ctl, 0, sizeof(ctl));
	if (e->status == COWVM_FUZZ_EXIT_RETURN) {
		snprintf(res->what, sizeof(res->what),
			 "crash: the target returned %lld",
			 (long long)ctl.crash_value);
		res->sig = 1ull << 62 | (uint64_t)ctl.crash_value;
	} else if (e->status == COWVM_FUZZ_EXIT_ABORT) {
		snprintf(res->what, sizeof(res->what),
			 "crash: cowvm_target_abort called from rip=0x%llx%s",
			 (unsigned long long)ctl.crash_rip,
			 where(f, ctl.crash_rip, at, sizeof(at)));
		res->sig = 2ull << 62 | ctl.crash_rip;
	} else {
		snprintf(res->what, sizeof(res->what),
			 "crash: the guest exited with status %d", e->status);
		res->sig = 3ull << 62 | (uint64_t)e->status;
	}
}

/* A CPU exception (cowvm guest) or a fatal signal (Linux program). */
static void crash_exit(struct fuzz *f, const struct cowvm_exit *e,
		       struct fuzz_result *res)
{
	char at[192];

	res->outcome = FUZZ_CRASH;
	where(f, e->fault.rip, at, sizeof(at));
	if (e->reason == COWVM_EXIT_SIGNAL && !e->fault.rip) {
		snprintf(res->what, sizeof(res->what),
			 "crash: signal %d %s sent by the program itself "
			 "(abort, raise or kill)",
			 e->status, fuzz_signal_name(e->status));
		res->sig = (uint64_t)(e->status + 64) << 48;
		return;
	}
	if (e->reason == COWVM_EXIT_SIGNAL) {
		snprintf(res->what, sizeof(res->what),
			 "crash: signal %d %s rip=0x%llx%s addr=0x%llx",
			 e->status, fuzz_signal_name(e->status),
			 (unsigned long long)e->fault.rip, at,
			 (unsigned long long)e->fault.cr2);
		res->sig = (uint64_t)(e->status + 64) << 48 ^ e->fault.rip;
		return;
	}
	snprintf(res->what, sizeof(res->what),
		 "crash: fault vector=%llu %s error=0x%llx rip=0x%llx%s "
		 "cr2=0x%llx rsp=0x%llx",
		 (unsigned long long)e->fault.vector,
		 fuzz_vector_name(e->fault.vector),
		 (unsigned long long)e->fault.error_code,
		 (unsigned long long)e->fault.rip, at,
		 (unsigned long long)e->fault.cr2,
		 (unsigned long long)e->fault.rsp);
	res->sig = e->fault.vector << 48 ^ e->fault.rip;
}

/* Describe a finished run in res (see fuzz_internal.h). */
int fuzz_classify_exit(struct fuzz *f, const struct cowvm_exit *e,
		       struct fuzz_result *res, char *err, size_t errlen)
{
	res->sig = 0;
	res->reject = 0;
	res->what[0] = 0;
	switch (e->reason) {
	case COWVM_EXIT_GUEST:
		guest_exit(f, e, res);
		return 0;
	case COWVM_EXIT_FAULT:
	case COWVM_EXIT_SIGNAL:
		crash_exit(f, e, res);
		return 0;
	case COWVM_EXIT_SHUTDOWN:
		res->outcome = FUZZ_CRASH;
		snprintf(res->what, sizeof(res->what), "crash: shutdown: %s",
			 e->detail);
		res->sig = 3ull << 62 | 0xffff;
		return 0;
	case COWVM_EXIT_TIMEOUT:
		res->outcome = FUZZ_TIMEOUT;
		snprintf(res->what, sizeof(res->what),
			 "timeout: no exit within %llu ms (rip=0x%llx)",
			 (unsigned long long)f->o.timeout_ms,
			 (unsigned long long)e->rip);
		return 0;
	case COWVM_EXIT_SNAPSHOT:
		return fuzz_fail(err, errlen, EIO,
				 "the target requested a snapshot of its own "
				 "(tag 0x%llx)",
				 (unsigned long long)e->tag);
	default:
		return fuzz_fail(err, errlen, EIO, "VM error: %s", e->detail);
	}
}
