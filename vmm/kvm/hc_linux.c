/* Hypercalls of the Linux personality (cowvm_linux_abi.h): I/O on the VM's
 * three standard host descriptors, random bytes, sleeps and the death of
 * the program by a signal; every guest range goes through vmm_gpa. A READ,
 * WRITE or SLEEP that blocks when the run timeout fires returns -EINTR at
 * once, so that the run stops with COWVM_EXIT_TIMEOUT; no Linux signal
 * caused it, so the personality should retry it when the run resumes. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowvm_linux_abi.h"
#include "vmm.h"

#define HC_LINUX_SLEEP_MAX_NS                                                  \
	(10ull * 1000000000ull) /* longest sleep per call */

/* Whether the run timeout fired for vm's vCPU (timer.c sets the flag). */
static bool hc_linux_timed_out(struct cowvm *vm)
{
	return __atomic_load_n(&vm->vcpu.run->immediate_exit,
			       __ATOMIC_RELAXED) != 0;
}

/* Block until fd is ready for events or until timeout (NULL: none), with
 * the run-timeout signal let through only while blocked, so that a
 * timeout that fired before or during the wait is never missed; 0 when
 * ready or the time passed, -EINTR when the run timed out. Other signals
 * restart the wait. */
static int hc_linux_wait(struct cowvm *vm, int fd, short events,
			 const struct timespec *timeout)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	sigset_t block, old;
	int r = -EINTR;

	sigemptyset(&block);
	sigaddset(&block, COWVM_TIMER_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	while (!hc_linux_timed_out(vm)) {
		int n = ppoll(fd >= 0 ? &pfd : NULL, fd >= 0, timeout, &old);

		if (n >= 0 || errno != EINTR || timeout) {
			r = 0;
			if (n < 0 && errno == EINTR && hc_linux_timed_out(vm))
				r = -EINTR;
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* Whether fd is a regular file whose offset has reached its size. */
static bool hc_linux_at_end(int fd)
{
	struct stat st;
	off_t off;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	off = lseek(fd, 0, SEEK_CUR);
	return off >= 0 && off >= st.st_size;
}

/* READ: one read(2) of up to a->len bytes into guest RAM; count or -errno
 * in a->ret (-EINTR when the run timed out while it waited). */
static int hc_linux_read(struct cowvm *vm, int fd, struct cowvm_hc_linux_io *a,
			 struct cowvm_exit *exit)
{
	void *p = vmm_gpa_write(vm, a->buf, a->len);
	ssize_t n;
	int r;

	if (!p)
		return VMM_HC_BAD(exit, COWVM_HC_LINUX_IO,
				  "buf [0x%llx, +%llu) is not guest RAM",
				  (unsigned long long)a->buf,
				  (unsigned long long)a->len);
	if (fd < 0 || a->len == 0) {
		a->ret = 0;
		return VMM_CONTINUE;
	}
	do {
		r = hc_linux_wait(vm, fd, POLLIN, NULL);
		if (r) {
			a->ret = r;
			return VMM_CONTINUE;
		}
		n = read(fd, p, a->len);
	} while (n < 0 && errno == EINTR);
	a->ret = n < 0 ? -errno : n;
	a->eof = n >= 0 && hc_linux_at_end(fd);
	return VMM_CONTINUE;
}

/* WRITE: all a->len bytes of guest RAM to fd; a->ret = a->len, or the
 * count written before an error, or -errno if none was. */
static int hc_linux_write(struct cowvm *vm, int fd, struct cowvm_hc_linux_io *a,
			  struct cowvm_exit *exit)
{
	const char *p = vmm_gpa(vm, a->buf, a->len);
	uint64_t done = 0;
	int err = 0;

	if (!p)
		return VMM_HC_BAD(exit, COWVM_HC_LINUX_IO,
				  "buf [0x%llx, +%llu) is not guest RAM",
				  (unsigned long long)a->buf,
				  (unsigned long long)a->len);
	while (fd >= 0 && done < a->len && !err) {
		ssize_t n;

		err = hc_linux_wait(vm, fd, POLLOUT, NULL);
		if (err)
			break;
		n = write(fd, p + done, a->len - done);
		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n > 0)
			done += (uint64_t)n;
	}
	a->ret = done || !err ? (int64_t)(fd >= 0 ? done : a->len) : err;
	return VMM_CONTINUE;
}

/* FLUSH: write every record of the output log [log, log + len) to its
 * descriptor; 0, or the first -errno. */
static int64_t hc_linux_flush(struct cowvm *vm, uint64_t log, uint64_t len)
{
	const char *p = vmm_gpa(vm, log, len);
	uint64_t pos = 0;
	int64_t err = 0;

	if (!p || len > COWVM_LINUX_OUT_MAX)
		return -EFAULT;
	while (pos + sizeof(struct cowvm_linux_out) <= len) {
		struct cowvm_linux_out h;
		struct cowvm_hc_linux_io w = {
			COWVM_LINUX_IO_WRITE, 0, 0, 0, 0, 0, 0};
		struct cowvm_exit ignored;

		memcpy(&h, p + pos, sizeof(h));
		pos += sizeof(h);
		if ((h.fd != 1 && h.fd != 2) || h.len > len - pos)
			return -EINVAL;
		w.buf = log + pos;
		w.len = h.len;
		if (!err) {
			hc_linux_write(vm, vm->stdio[h.fd], &w, &ignored);
			if (w.ret < 0)
				err = w.ret;
		}
		pos = (pos + h.len + 7) & ~7ull;
	}
	return err;
}

/* READ with COWVM_LINUX_IO_SNAPSHOT: stop for the snapshot; the read is
 * replayed without the flag when the VM resumes (vmm_hypercall_resume). */
static int hc_linux_snapshot_read(struct cowvm *vm, struct cowvm_exit *exit)
{
	vm->snap_pending = true;
	vm->snap_io = true;
	vm->snap_ret = 0;
	exit->reason = COWVM_EXIT_SNAPSHOT;
	exit->tag = COWVM_LINUX_STDIN_TAG;
	snprintf(exit->detail, sizeof(exit->detail),
		 "guest snapshot tag %llu (at its first read of stdin)",
		 (unsigned long long)COWVM_LINUX_STDIN_TAG);
	return VMM_STOP;
}

/* STAT: a->ret = st_mode of fd (a character device for a closed one). */
static void hc_linux_stat(int fd, struct cowvm_hc_linux_io *a)
{
	struct stat st;

	if (fd < 0)
		a->ret = S_IFCHR | 0666;
	else
		a->ret = fstat(fd, &st) < 0 ? -errno : (int64_t)st.st_mode;
}

/* LINUX_IO: validate op, fd and len, then perform the op on the VM's
 * host descriptor. */
int vmm_hc_linux_io(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_linux_io *a = arg;
	int fd;

	if (a->fd > 2)
		return VMM_HC_BAD(exit, COWVM_HC_LINUX_IO,
				  "fd %u is not 0, 1 or 2", a->fd);
	if (a->len > COWVM_LINUX_IO_MAX)
		return VMM_HC_BAD(exit, COWVM_HC_LINUX_IO, "len %llu > %u",
				  (unsigned long long)a->len,
				  COWVM_LINUX_IO_MAX);
	if (a->flags & ~COWVM_LINUX_IO_SNAPSHOT ||
	    (a->flags && a->op != COWVM_LINUX_IO_READ))
		return VMM_HC_BAD(exit, COWVM_HC_LINUX_IO,
				  "flags 0x%x on op %u", a->flags, a->op);
	if (a->flags)
		return hc_linux_snapshot_read(vm, exit);
	fd = vm->stdio[a->fd];
	switch (a->op) {
	case COWVM_LINUX_IO_READ:
		return hc_linux_read(vm, fd, a, exit);
	case COWVM_LINUX_IO_WRITE:
		return hc_linux_write(vm, fd, a, exit);
	case COWVM_LINUX_IO_STAT:
		hc_linux_stat(fd, a);
		return VMM_CONTINUE;
	case COWVM_LINUX_IO_ISATTY:
		a->ret = fd >= 0 && isatty(fd);
		return VMM_CONTINUE;
	case COWVM_LINUX_IO_FLUSH:
		a->ret = hc_linux_flush(vm, a->buf, a->len);
		return VMM_CONTINUE;
	default:
		return VMM_HC_BAD(exit, COWVM_HC_LINUX_IO, "unknown op %u",
				  a->op);
	}
}

/* LINUX_RANDOM: fill the guest buffer from getrandom(2). */
int vmm_hc_linux_random(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_linux_buf *a = arg;
	uint8_t *p;
	uint64_t done = 0;

	if (a->len > COWVM_LINUX_RANDOM_MAX)
		return VMM_HC_BAD(exit, COWVM_HC_LINUX_RANDOM, "len %llu > %u",
				  (unsigned long long)a->len,
				  COWVM_LINUX_RANDOM_MAX);
	p = vmm_gpa_write(vm, a->buf, a->len);
	if (!p)
		return VMM_HC_BAD(exit, COWVM_HC_LINUX_RANDOM,
				  "buf [0x%llx, +%llu) is not guest RAM",
				  (unsigned long long)a->buf,
				  (unsigned long long)a->len);
	while (done < a->len) {
		ssize_t n = getrandom(p + done, a->len - done, 0);

		if (n < 0 && errno != EINTR)
			return vmm_stop_error(exit, "getrandom failed: %s",
					      strerror(errno));
		if (n > 0)
			done += (uint64_t)n;
	}
	return VMM_CONTINUE;
}

/* LINUX_SLEEP: sleep up to 10 s of a->ns; a->ret = 0, or -EINTR when the
 * run timed out during the sleep (the guest checks its clock for the
 * rest of a longer sleep). */
int vmm_hc_linux_sleep(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_linux_sleep *a = arg;
	uint64_t ns =
		a->ns < HC_LINUX_SLEEP_MAX_NS ? a->ns : HC_LINUX_SLEEP_MAX_NS;
	struct timespec now, end, left;

	(void)exit;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)(ns / 1000000000ull);
	end.tv_nsec += (long)(ns % 1000000000ull);
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	a->ret = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = end.tv_sec - now.tv_sec;
		left.tv_nsec = end.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			return VMM_CONTINUE;
		a->ret = hc_linux_wait(vm, -1, 0, &left);
		if (a->ret)
			return VMM_CONTINUE;
	}
}

/* "SIGSEGV" for 11, "SIG?" when unknown; buf holds at least 16 bytes. */
static const char *hc_linux_signame(unsigned signo, char *buf, size_t size)
{
	const char *abbrev = signo < 65 ? sigabbrev_np((int)signo) : NULL;

	snprintf(buf, size, "SIG%s", abbrev ? abbrev : "?");
	return buf;
}

/* LINUX_SIGNAL: the program died of a signal; the VM stops. */
int vmm_hc_linux_signal(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_linux_signal *a = arg;
	char name[24];

	(void)vm;
	if (a->signo == 0 || a->signo > 64)
		return VMM_HC_BAD(exit, COWVM_HC_LINUX_SIGNAL,
				  "signal %u is not 1..64", a->signo);
	exit->reason = COWVM_EXIT_SIGNAL;
	exit->status = (int)a->signo;
	exit->fault.rip = a->rip;
	exit->fault.cr2 = a->addr;
	exit->fault.error_code = a->code;
	snprintf(exit->detail, sizeof(exit->detail),
		 "killed by signal %u (%s) at rip 0x%llx address 0x%llx",
		 a->signo, hc_linux_signame(a->signo, name, sizeof(name)),
		 (unsigned long long)a->rip, (unsigned long long)a->addr);
	return VMM_STOP;
}

/* LINUX_EXIT: write the output log, then the program has exited. */
int vmm_hc_linux_exit(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_linux_exit *a = arg;

	if (a->status > 255 || a->len > COWVM_LINUX_OUT_MAX)
		return VMM_HC_BAD(exit, COWVM_HC_LINUX_EXIT,
				  "status %u or log length %llu too large",
				  a->status, (unsigned long long)a->len);
	if (a->len && hc_linux_flush(vm, a->log, a->len) == -EFAULT)
		return VMM_HC_BAD(exit, COWVM_HC_LINUX_EXIT,
				  "log [0x%llx, +%llu) is not guest RAM",
				  (unsigned long long)a->log,
				  (unsigned long long)a->len);
	exit->reason = COWVM_EXIT_GUEST;
	exit->status = (int)a->status;
	snprintf(exit->detail, sizeof(exit->detail), "guest exited with %u",
		 a->status);
	return VMM_STOP;
}
