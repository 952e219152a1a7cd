/* The Linux personality's descriptor calls: read and write (and their
 * vector and positioned forms), lseek, close, dup, fcntl, ioctl and poll.
 * Descriptors 0-2 reach the host's stdio through COWVM_HC_LINUX_IO; files
 * of the tree are read from guest memory without an exit. */
#include "lx.h"

#define LX_BOUNCE (64u << 10)

/* Gathers writev's pieces for one exit. */
static char lx_bounce[LX_BOUNCE];

/* One COWVM_HC_LINUX_IO call with flags, again without them when the
 * host's run timeout cut it (-EINTR: the VM resumes after the timeout as
 * if nothing happened); a write to a closed pipe raises SIGPIPE. Its
 * ret. */
static int64_t lx_hc_io_flags(uint32_t op, uint32_t fd, uint64_t buf,
			      uint64_t len, uint32_t flags)
{
	struct cowvm_hc_linux_io a = {op, fd, buf, len, -LX_EINTR, 0, flags};

	while (a.ret == -LX_EINTR) {
		a.ret = 0;
		guest_hc(COWVM_HC_LINUX_IO, &a);
		a.flags = 0;
	}
	if (a.ret == -LX_EPIPE &&
	    (op == COWVM_LINUX_IO_WRITE || op == COWVM_LINUX_IO_FLUSH))
		lx_signal_post(LX_SIGPIPE, 0);
	if (op == COWVM_LINUX_IO_READ && a.eof && fd < 3)
		lx.stdio_eof[fd] = 1;
	return a.ret;
}

/* One COWVM_HC_LINUX_IO call (lx_hc_io_flags without flags). */
int64_t lx_hc_io(uint32_t op, uint32_t fd, uint64_t buf, uint64_t len)
{
	return lx_hc_io_flags(op, fd, buf, len, 0);
}

/* Write out the held output. */
int64_t lx_out_flush(void)
{
	int64_t r = 0;

	if (lx.out_used)
		r = lx_hc_io(COWVM_LINUX_IO_FLUSH, 0,
			     (uint64_t)(uintptr_t)lx.out, lx.out_used);
	lx.out_used = 0;
	return r;
}

/* Write to host stdio fd: appended to the held output when it fits, else
 * (after a flush) straight through, in pieces of COWVM_LINUX_IO_MAX. */
int64_t lx_out_write(uint32_t fd, uint64_t buf, uint64_t len)
{
	uint64_t done = 0,
		 rec = (sizeof(struct cowvm_linux_out) + len + 7) & ~7ull;
	struct cowvm_linux_out h = {fd, (uint32_t)len};

	if (lx.flags & COWVM_LINUX_BUFFER_OUTPUT &&
	    len <= COWVM_LINUX_OUT_MAX / 4) {
		if (lx.out_used + rec > COWVM_LINUX_OUT_MAX &&
		    lx_out_flush() < 0)
			return -LX_EPIPE;
		lx_copy(lx.out + lx.out_used, &h, sizeof(h));
		lx_copy(lx.out + lx.out_used + sizeof(h),
			(const void *)(uintptr_t)buf, len);
		lx.out_used += (uint32_t)rec;
		return (int64_t)len;
	}
	if (lx_out_flush() < 0)
		return -LX_EPIPE;
	while (done < len) {
		uint64_t n = len - done < COWVM_LINUX_IO_MAX
				     ? len - done
				     : COWVM_LINUX_IO_MAX;
		int64_t r = lx_hc_io(COWVM_LINUX_IO_WRITE, fd, buf + done, n);

		if (r < 0)
			return done ? (int64_t)done : r;
		done += (uint64_t)r;
	}
	return (int64_t)done;
}

/* The open descriptor fd, or 0. */
struct lx_fd *lx_fd_get(uint64_t fd)
{
	if (fd >= LX_NR_FDS || !lx.fdt[fd].ofd)
		return 0;
	return &lx.ofds[lx.fdt[fd].ofd - 1];
}

/* Read up to len bytes of host stdio fd into buf: at the first read of
 * standard input with --snapshot-at stdin, the snapshot is taken there
 * and the read made when the VM resumes (one exit for both). */
static int64_t lx_stdio_read(uint32_t fd, uint64_t buf, uint64_t len)
{
	uint32_t flags = 0;

	if (fd == 0 && lx.flags & COWVM_LINUX_SNAPSHOT_STDIN &&
	    !lx.snapshotted) {
		struct cowvm_hc_snapshot s = {COWVM_LINUX_STDIN_TAG, 0};

		lx.snapshotted = 1;
		lx_out_flush();
		if (lx.stdio_eof[0] || !len)
			guest_hc(COWVM_HC_SNAPSHOT, &s);
		else
			flags = COWVM_LINUX_IO_SNAPSHOT;
	}
	if (lx.stdio_eof[fd] || !len)
		return 0;
	lx_out_flush();
	return lx_hc_io_flags(
		COWVM_LINUX_IO_READ, fd, buf,
		len < COWVM_LINUX_IO_MAX ? len : COWVM_LINUX_IO_MAX, flags);
}

/* Read up to len bytes of fd into user memory at buf, at offset off (-1:
 * the descriptor's own offset, which then moves). */
int64_t lx_fd_read(int fd, uint64_t buf, uint64_t len, int64_t off)
{
	struct lx_fd *f = lx_fd_get((uint64_t)fd);
	const struct cowvm_linux_file *n;
	uint64_t pos, cnt;

	if (!f || (f->flags & LX_O_ACCMODE) == LX_O_WRONLY)
		return -LX_EBADF;
	if (!lx_user_ok(buf, len))
		return -LX_EFAULT;
	switch (f->kind) {
	case LX_FD_STDIO:
		if (off >= 0)
			return -LX_ESPIPE;
		return lx_stdio_read(f->stdio, buf, len);
	case LX_FD_NULL:
		return 0;
	case LX_FD_ZERO:
		lx_zero((void *)(uintptr_t)buf, len);
		return (int64_t)len;
	case LX_FD_RANDOM:
		lx_random((void *)(uintptr_t)buf, len);
		return (int64_t)len;
	case LX_FD_DIR:
		return -LX_EISDIR;
	}
	n = &lx.files[f->node];
	pos = off >= 0 ? (uint64_t)off : f->off;
	cnt = pos < n->size ? n->size - pos : 0;
	if (cnt > len)
		cnt = len;
	lx_copy((void *)(uintptr_t)buf,
		(const void *)(uintptr_t)(n->data + pos), cnt);
	if (off < 0)
		f->off = pos + cnt;
	return (int64_t)cnt;
}

/* Write len bytes at buf, already checked (or the personality's own), to
 * fd. */
static int64_t lx_fd_write_checked(int fd, uint64_t buf, uint64_t len,
				   int64_t off)
{
	struct lx_fd *f = lx_fd_get((uint64_t)fd);
	uint64_t done = 0;

	if (!f ||
	    (f->kind != LX_FD_STDIO && f->kind != LX_FD_NULL &&
	     f->kind != LX_FD_RANDOM) ||
	    (f->flags & LX_O_ACCMODE) == 0)
		return -LX_EBADF;
	if (f->kind != LX_FD_STDIO)
		return (int64_t)len;
	if (off >= 0)
		return -LX_ESPIPE;
	if (f->stdio == 0) { /* a host stdin opened for writing */
		while (done < len) {
			uint64_t n = len - done < COWVM_LINUX_IO_MAX
					     ? len - done
					     : COWVM_LINUX_IO_MAX;
			int64_t r = lx_hc_io(COWVM_LINUX_IO_WRITE, 0,
					     buf + done, n);

			if (r < 0)
				return done ? (int64_t)done : r;
			done += (uint64_t)r;
		}
		return (int64_t)done;
	}
	return lx_out_write(f->stdio, buf, len);
}

/* Write len bytes from user memory at buf to fd. */
int64_t lx_fd_write(int fd, uint64_t buf, uint64_t len, int64_t off)
{
	if (!lx_user_ok(buf, len))
		return lx_fd_get((uint64_t)fd) ? -LX_EFAULT : -LX_EBADF;
	return lx_fd_write_checked(fd, buf, len, off);
}

/* read(fd, buf, len). */
static int64_t sys_read(struct lx_regs *r, uint64_t fd, uint64_t buf,
			uint64_t len, uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)d, (void)e, (void)f;
	return lx_fd_read((int)fd, buf, len, -1);
}

/* write(fd, buf, len). */
static int64_t sys_write(struct lx_regs *r, uint64_t fd, uint64_t buf,
			 uint64_t len, uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)d, (void)e, (void)f;
	return lx_fd_write((int)fd, buf, len, -1);
}

/* pread64(fd, buf, len, off). */
static int64_t sys_pread64(struct lx_regs *r, uint64_t fd, uint64_t buf,
			   uint64_t len, uint64_t off, uint64_t e, uint64_t f)
{
	(void)r, (void)e, (void)f;
	if ((int64_t)off < 0)
		return -LX_EINVAL;
	return lx_fd_read((int)fd, buf, len, (int64_t)off);
}

/* pwrite64(fd, buf, len, off). */
static int64_t sys_pwrite64(struct lx_regs *r, uint64_t fd, uint64_t buf,
			    uint64_t len, uint64_t off, uint64_t e, uint64_t f)
{
	(void)r, (void)e, (void)f;
	if ((int64_t)off < 0)
		return -LX_EINVAL;
	return lx_fd_write((int)fd, buf, len, (int64_t)off);
}

/* The user iovec array of cnt entries, or 0. */
static const struct lx_iovec *lx_iov(uint64_t uiov, uint64_t cnt)
{
	if (cnt > 1024 || !lx_user_ok(uiov, cnt * sizeof(struct lx_iovec)))
		return 0;
	return (const struct lx_iovec *)(uintptr_t)uiov;
}

/* readv(fd, iov, cnt): piece by piece until a short read. */
static int64_t sys_readv(struct lx_regs *r, uint64_t fd, uint64_t uiov,
			 uint64_t cnt, uint64_t d, uint64_t e, uint64_t f)
{
	const struct lx_iovec *iov = lx_iov(uiov, cnt);
	int64_t total = 0;

	(void)r, (void)d, (void)e, (void)f;
	if (!iov)
		return cnt > 1024 ? -LX_EINVAL : -LX_EFAULT;
	for (uint64_t i = 0; i < cnt; i++) {
		int64_t n;

		if (!iov[i].len)
			continue;
		n = lx_fd_read((int)fd, iov[i].base, iov[i].len, -1);
		if (n < 0)
			return total ? total : n;
		total += n;
		if ((uint64_t)n < iov[i].len)
			break;
	}
	return total;
}

/* writev(fd, iov, cnt): gathered into one write when small. */
static int64_t sys_writev(struct lx_regs *r, uint64_t fd, uint64_t uiov,
			  uint64_t cnt, uint64_t d, uint64_t e, uint64_t f)
{
	const struct lx_iovec *iov = lx_iov(uiov, cnt);
	uint64_t sum = 0;
	int64_t total = 0;

	(void)r, (void)d, (void)e, (void)f;
	if (!iov)
		return cnt > 1024 ? -LX_EINVAL : -LX_EFAULT;
	for (uint64_t i = 0; i < cnt; i++) {
		if (!lx_user_ok(iov[i].base, iov[i].len))
			return -LX_EFAULT;
		sum += iov[i].len;
	}
	if (sum <= LX_BOUNCE) {
		for (uint64_t i = 0, pos = 0; i < cnt; pos += iov[i++].len)
			lx_copy(lx_bounce + pos,
				(const void *)(uintptr_t)iov[i].base,
				iov[i].len);
		return lx_fd_write_checked(
			(int)fd, (uint64_t)(uintptr_t)lx_bounce, sum, -1);
	}
	for (uint64_t i = 0; i < cnt; i++) {
		int64_t n = lx_fd_write((int)fd, iov[i].base, iov[i].len, -1);

		if (n < 0)
			return total ? total : n;
		total += n;
	}
	return total;
}

/* lseek(fd, off, whence) on files and directories of the tree. */
static int64_t sys_lseek(struct lx_regs *r, uint64_t fd, uint64_t off,
			 uint64_t whence, uint64_t d, uint64_t e, uint64_t f)
{
	struct lx_fd *x = lx_fd_get(fd);
	int64_t base;

	(void)r, (void)d, (void)e, (void)f;
	if (!x)
		return -LX_EBADF;
	if (x->kind == LX_FD_NULL || x->kind == LX_FD_ZERO ||
	    x->kind == LX_FD_RANDOM)
		return 0;
	if (x->kind != LX_FD_FILE && x->kind != LX_FD_DIR)
		return -LX_ESPIPE;
	if (whence == 0)
		base = 0;
	else if (whence == 1)
		base = (int64_t)x->off;
	else if (whence == 2 && x->kind == LX_FD_FILE)
		base = (int64_t)lx.files[x->node].size;
	else
		return -LX_EINVAL;
	if (base + (int64_t)off < 0)
		return -LX_EINVAL;
	x->off = (uint64_t)(base + (int64_t)off);
	return (int64_t)x->off;
}

/* Close descriptor fd: its description goes with its last descriptor. */
int64_t lx_fd_close(uint64_t fd)
{
	struct lx_fd *x = lx_fd_get(fd);

	if (!x)
		return -LX_EBADF;
	if (!--x->refs)
		lx_zero(x, sizeof(*x));
	lx.fdt[fd].ofd = 0;
	lx.fdt[fd].cloexec = 0;
	return 0;
}

/* close(fd). */
static int64_t sys_close(struct lx_regs *r, uint64_t fd, uint64_t b, uint64_t c,
			 uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)b, (void)c, (void)d, (void)e, (void)f;
	return lx_fd_close(fd);
}

/* Make newfd name oldfd's description (closing newfd first). */
static int64_t lx_dup_to(uint64_t oldfd, uint64_t newfd, int cloexec)
{
	struct lx_fd *x = lx_fd_get(oldfd);

	if (!x || newfd >= LX_NR_FDS)
		return -LX_EBADF;
	if (lx.fdt[newfd].ofd)
		lx_fd_close(newfd);
	x->refs++;
	lx.fdt[newfd].ofd = lx.fdt[oldfd].ofd;
	lx.fdt[newfd].cloexec = (uint8_t)cloexec;
	return (int64_t)newfd;
}

/* dup(fd). */
static int64_t sys_dup(struct lx_regs *r, uint64_t fd, uint64_t b, uint64_t c,
		       uint64_t d, uint64_t e, uint64_t f)
{
	int64_t n = lx_fd_alloc(0);

	(void)r, (void)b, (void)c, (void)d, (void)e, (void)f;
	if (!lx_fd_get(fd))
		return -LX_EBADF;
	return n < 0 ? n : lx_dup_to(fd, (uint64_t)n, 0);
}

/* dup2(old, new) and dup3(old, new, flags). */
static int64_t sys_dup3(struct lx_regs *r, uint64_t oldfd, uint64_t newfd,
			uint64_t flags, uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)d, (void)e, (void)f;
	if (flags & ~(uint64_t)LX_O_CLOEXEC || oldfd == newfd)
		return -LX_EINVAL;
	return lx_dup_to(oldfd, newfd, !!flags);
}

/* dup2(old, new): new == old is fine when old is open. */
static int64_t sys_dup2(struct lx_regs *r, uint64_t oldfd, uint64_t newfd,
			uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	(void)c, (void)d, (void)e, (void)f;
	if (oldfd == newfd)
		return lx_fd_get(oldfd) ? (int64_t)oldfd : -LX_EBADF;
	return sys_dup3(r, oldfd, newfd, 0, 0, 0, 0);
}

/* fcntl(fd, cmd, arg): F_DUPFD(_CLOEXEC), F_GETFD/SETFD, F_GETFL/SETFL;
 * locks always succeed (one process). */
static int64_t sys_fcntl(struct lx_regs *r, uint64_t fd, uint64_t cmd,
			 uint64_t arg, uint64_t d, uint64_t e, uint64_t f)
{
	struct lx_fd *x = lx_fd_get(fd);
	int64_t n;

	(void)r, (void)d, (void)e, (void)f;
	if (!x)
		return -LX_EBADF;
	switch (cmd) {
	case 0:	   /* F_DUPFD */
	case 1030: /* F_DUPFD_CLOEXEC */
		n = lx_fd_alloc(arg);
		return n < 0 ? n : lx_dup_to(fd, (uint64_t)n, cmd == 1030);
	case 1: /* F_GETFD */
		return lx.fdt[fd].cloexec;
	case 2: /* F_SETFD */
		lx.fdt[fd].cloexec = arg & 1;
		return 0;
	case 3: /* F_GETFL */
		return x->flags & (LX_O_ACCMODE | LX_O_APPEND | LX_O_NONBLOCK);
	case 4: /* F_SETFL */
		x->flags =
			(x->flags & ~(uint32_t)(LX_O_APPEND | LX_O_NONBLOCK)) |
			(uint32_t)(arg & (LX_O_APPEND | LX_O_NONBLOCK));
		return 0;
	case 5:
	case 6:
	case 7: /* F_GETLK, F_SETLK, F_SETLKW */
		return 0;
	}
	return -LX_EINVAL;
}

/* ioctl(fd, req, arg): TCGETS and TIOCGWINSZ answer for a terminal. */
static int64_t sys_ioctl(struct lx_regs *r, uint64_t fd, uint64_t req,
			 uint64_t arg, uint64_t d, uint64_t e, uint64_t f)
{
	struct lx_fd *x = lx_fd_get(fd);
	uint32_t *t = (uint32_t *)(uintptr_t)arg;

	(void)r, (void)d, (void)e, (void)f;
	if (!x)
		return -LX_EBADF;
	if (x->kind != LX_FD_STDIO ||
	    lx_hc_io(COWVM_LINUX_IO_ISATTY, x->stdio, 0, 0) != 1)
		return -LX_ENOTTY;
	if (req == 0x5401 && lx_user_ok(arg, 60)) { /* TCGETS */
		lx_zero(t, 60);
		t[0] = 0x500;  /* ICRNL | IXON */
		t[1] = 0x5;    /* OPOST | ONLCR */
		t[2] = 0xbf;   /* B38400 | CS8 | CREAD */
		t[3] = 0x8a3b; /* ISIG ICANON ECHO ECHOE ECHOK IEXTEN ... */
		return 0;
	}
	if (req == 0x5413 && lx_user_ok(arg, 8)) { /* TIOCGWINSZ */
		t[0] = 24 | 80u << 16;
		t[1] = 0;
		return 0;
	}
	return -LX_ENOTTY;
}

/* poll(fds, n, timeout): every open descriptor is ready for what it
 * asks (reads block in the host, not here). */
static int64_t sys_poll(struct lx_regs *r, uint64_t ufds, uint64_t n,
			uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	struct {
		int32_t fd;
		int16_t events, revents;
	} *p = (void *)(uintptr_t)ufds;
	int64_t ready = 0;

	(void)r, (void)c, (void)d, (void)e, (void)f;
	if (n > LX_NR_FDS || !lx_user_ok(ufds, n * 8))
		return -LX_EFAULT;
	for (uint64_t i = 0; i < n; i++) {
		p[i].revents = 0;
		if (p[i].fd < 0)
			continue;
		p[i].revents = lx_fd_get((uint64_t)p[i].fd)
				       ? (int16_t)(p[i].events & 0x5)
				       : 0x20; /* POLLNVAL */
		ready += p[i].revents != 0;
	}
	return ready;
}

/* ppoll(fds, n, timeout, sigmask, size): as poll (the mask would only
 * matter while blocked, and nothing blocks here). */
static int64_t sys_ppoll(struct lx_regs *r, uint64_t ufds, uint64_t n,
			 uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	(void)c, (void)d, (void)e, (void)f;
	return sys_poll(r, ufds, n, 0, 0, 0, 0);
}

const struct lx_sys lx_io_calls[] = {
	{NR_read, 3, 0, "read", sys_read},
	{NR_write, 3, 0, "write", sys_write},
	{NR_pread64, 4, 0, "pread64", sys_pread64},
	{NR_pwrite64, 4, 0, "pwrite64", sys_pwrite64},
	{NR_readv, 3, 0, "readv", sys_readv},
	{NR_writev, 3, 0, "writev", sys_writev},
	{NR_lseek, 3, 0, "lseek", sys_lseek},
	{NR_close, 1, 0, "close", sys_close},
	{NR_dup, 1, 0, "dup", sys_dup},
	{NR_dup2, 2, 0, "dup2", sys_dup2},
	{NR_dup3, 3, 0, "dup3", sys_dup3},
	{NR_fcntl, 3, 0, "fcntl", sys_fcntl},
	{NR_ioctl, 3, 0, "ioctl", sys_ioctl},
	{NR_poll, 3, 0, "poll", sys_poll},
	{NR_ppoll, 5, 0, "ppoll", sys_ppoll},
	{0, 0, 0, 0, 0},
};
