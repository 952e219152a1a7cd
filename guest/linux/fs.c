/* The Linux personality's file tree: path resolution over the read-only
 * table the VMM loaded, the special files (/dev/null, /dev/zero,
 * /dev/urandom, /dev/std*, /proc/self/exe), open, stat, getdents64,
 * access, readlink and the working directory. */
#include "lx.h"

/* Special nodes: path, descriptor kind, device minor (major 1). */
static const struct {
	const char *path;
	uint8_t kind, minor;
} lx_devs[] = {
	{"/dev/null", LX_FD_NULL, 3},
	{"/dev/zero", LX_FD_ZERO, 5},
	{"/dev/random", LX_FD_RANDOM, 8},
	{"/dev/urandom", LX_FD_RANDOM, 9},
};

/* Open descriptors 0, 1 and 2 on the host's standard descriptors. */
void lx_fs_init(void)
{
	for (int i = 0; i < 3; i++) {
		struct lx_fd *d = lx_fd_install(i, 0);

		d->kind = LX_FD_STDIO;
		d->stdio = (uint8_t)i;
		d->flags = i ? LX_O_WRONLY : 0;
	}
}

/* Append the components of p to the normalized absolute path out
 * (resolving "." and ".."); -ENAMETOOLONG if it does not fit. */
int64_t lx_path_join(char *out, const char *p)
{
	size_t n = strlen(out);

	while (*p) {
		const char *c = p;
		size_t len;

		while (*p && *p != '/')
			p++;
		len = (size_t)(p - c);
		if (*p)
			p++;
		if (!len || (len == 1 && c[0] == '.'))
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			while (n > 1 && out[n - 1] != '/')
				n--;
			if (n > 1)
				n--;
			out[n] = 0;
			continue;
		}
		if (n + 1 + len >= LX_PATH)
			return -LX_ENAMETOOLONG;
		if (n > 1)
			out[n++] = '/';
		lx_copy(out + n, c, len);
		n += len;
		out[n] = 0;
	}
	return 0;
}

/* The absolute normalized path of user string upath relative to dirfd. */
int64_t lx_path(int64_t dirfd, uint64_t upath, char *out, int empty_ok)
{
	int64_t len = lx_user_strlen(upath, LX_PATH);
	const char *p = (const char *)(uintptr_t)upath;
	const struct lx_fd *d;

	if (len < 0)
		return len;
	if (!len && !empty_ok)
		return -LX_ENOENT;
	out[0] = '/';
	out[1] = 0;
	if (p[0] != '/') {
		if ((int32_t)dirfd == LX_AT_FDCWD) {
			lx_path_join(out, lx.cwd);
		} else {
			d = lx_fd_get((uint64_t)dirfd);
			if (!d)
				return -LX_EBADF;
			if (d->kind != LX_FD_DIR)
				return -LX_ENOTDIR;
			lx_path_join(out,
				     (const char *)(uintptr_t)lx.files[d->node]
					     .path);
		}
	}
	return lx_path_join(out, p);
}

/* The file table index of path, or -ENOENT (the table is sorted). */
int64_t lx_lookup(const char *path)
{
	uint32_t lo = 0, hi = lx.nr_files;

	if (!strcmp(path, "/proc/self/exe"))
		path = (const char *)(uintptr_t)lx.boot->exe;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp((const char *)(uintptr_t)lx.files[mid].path,
			       path);

		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -LX_ENOENT;
}

/* What path names: a table index (>= 0), a device (-100 - index into
 * lx_devs), a standard descriptor (-200 - fd) or -errno. */
int64_t lx_resolve(const char *path)
{
	for (unsigned i = 0; i < sizeof(lx_devs) / sizeof(lx_devs[0]); i++)
		if (!strcmp(path, lx_devs[i].path))
			return -100 - (int64_t)i;
	if (!strcmp(path, "/dev/stdin") || !strcmp(path, "/dev/fd/0"))
		return -200;
	if (!strcmp(path, "/dev/stdout") || !strcmp(path, "/dev/fd/1"))
		return -201;
	if (!strcmp(path, "/dev/stderr") || !strcmp(path, "/dev/fd/2"))
		return -202;
	return lx_lookup(path);
}

/* The lowest free descriptor at or above min, or -EMFILE. */
int64_t lx_fd_alloc(uint64_t min)
{
	for (uint64_t i = min; i < LX_NR_FDS; i++)
		if (!lx.fdt[i].ofd)
			return (int64_t)i;
	return -LX_EMFILE;
}

/* A new description for free descriptor fd (there are as many
 * descriptions as descriptors, so one is free). */
struct lx_fd *lx_fd_install(int64_t fd, int cloexec)
{
	uint16_t i = 0;

	while (lx.ofds[i].refs)
		i++;
	lx_zero(&lx.ofds[i], sizeof(lx.ofds[i]));
	lx.ofds[i].refs = 1;
	lx.fdt[fd].ofd = (uint16_t)(i + 1);
	lx.fdt[fd].cloexec = (uint8_t)cloexec;
	return &lx.ofds[i];
}

/* Fill st for table node idx, device dev or standard descriptor sfd. */
static int64_t lx_stat_node(int64_t what, struct lx_stat *st)
{
	const struct cowvm_linux_file *n;

	lx_zero(st, sizeof(*st));
	st->st_nlink = 1;
	st->st_uid = lx.boot->uid;
	st->st_gid = lx.boot->gid;
	st->st_blksize = 4096;
	st->st_mtime = st->st_atime = st->st_ctime =
		lx.boot->realtime_ns / 1000000000ull;
	if (what <= -200) {
		int64_t m = lx_hc_io(COWVM_LINUX_IO_STAT,
				     (uint32_t)(-200 - what), 0, 0);

		st->st_mode = m > 0 ? (uint32_t)m : LX_S_IFCHR | 0620;
		st->st_ino = 100 + (uint64_t)(-200 - what);
		st->st_dev = 0x16;
		return 0;
	}
	if (what <= -100) {
		st->st_mode = LX_S_IFCHR | 0666;
		st->st_rdev = 0x100 | lx_devs[-100 - what].minor;
		st->st_ino = 10 + (uint64_t)(-100 - what);
		st->st_dev = 0x5;
		return 0;
	}
	n = &lx.files[what];
	st->st_mode = n->mode;
	st->st_ino = 1000 + (uint64_t)what;
	st->st_dev = 0x2a;
	st->st_size = (int64_t)n->size;
	if ((n->mode & LX_S_IFMT) == LX_S_IFDIR) {
		st->st_nlink = 2;
		st->st_size = 4096;
	}
	st->st_blocks = (st->st_size + 4095) / 4096 * 8; /* 4 KiB blocks */
	if (n->mtime)
		st->st_mtime = st->st_atime = st->st_ctime = n->mtime;
	return 0;
}

/* What an open descriptor names, in lx_resolve's encoding. */
static int64_t lx_fd_what(const struct lx_fd *f)
{
	switch (f->kind) {
	case LX_FD_STDIO:
		return -200 - (int64_t)f->stdio;
	case LX_FD_FILE:
	case LX_FD_DIR:
		return f->node;
	case LX_FD_NULL:
		return -100;
	case LX_FD_ZERO:
		return -101;
	default:
		return -103;
	}
}

/* openat(dirfd, path, flags, mode). */
static int64_t sys_openat(struct lx_regs *r, uint64_t dirfd, uint64_t upath,
			  uint64_t flags, uint64_t mode, uint64_t e, uint64_t f)
{
	char path[LX_PATH];
	int64_t what, fd, err = lx_path((int64_t)dirfd, upath, path, 0);
	struct lx_fd *d;

	(void)r, (void)mode, (void)e, (void)f;
	if (err)
		return err;
	what = lx_resolve(path);
	if (what == -LX_ENOENT)
		return flags & LX_O_CREAT ? -LX_EROFS : -LX_ENOENT;
	if (what >= 0 && (lx.files[what].mode & LX_S_IFMT) == LX_S_IFDIR) {
		if ((flags & LX_O_ACCMODE) != 0)
			return -LX_EISDIR;
	} else if (what >= 0) {
		if (flags & LX_O_DIRECTORY)
			return -LX_ENOTDIR;
		if ((flags & LX_O_ACCMODE) != 0 || flags & LX_O_TRUNC)
			return -LX_EROFS;
	}
	fd = lx_fd_alloc(0);
	if (fd < 0)
		return fd;
	d = lx_fd_install(fd, !!(flags & LX_O_CLOEXEC));
	d->flags = (uint32_t)flags;
	if (what <= -200) {
		d->kind = LX_FD_STDIO;
		d->stdio = (uint8_t)(-200 - what);
	} else if (what <= -100) {
		d->kind = lx_devs[-100 - what].kind;
	} else {
		d->kind = (lx.files[what].mode & LX_S_IFMT) == LX_S_IFDIR
				  ? LX_FD_DIR
				  : LX_FD_FILE;
		d->node = (uint32_t)what;
	}
	return fd;
}

/* open(path, flags, mode). */
static int64_t sys_open(struct lx_regs *r, uint64_t upath, uint64_t flags,
			uint64_t mode, uint64_t d, uint64_t e, uint64_t f)
{
	(void)d, (void)e, (void)f;
	return sys_openat(r, (uint64_t)(int64_t)LX_AT_FDCWD, upath, flags, mode,
			  0, 0);
}

/* The node of (dirfd, path, flags) for the stat family. */
static int64_t lx_stat_target(uint64_t dirfd, uint64_t upath, uint64_t flags)
{
	char path[LX_PATH];
	const struct lx_fd *d;
	int64_t err;

	if (flags & LX_AT_EMPTY_PATH && lx_user_strlen(upath, 1) == 0) {
		if ((int32_t)dirfd == LX_AT_FDCWD)
			return lx_lookup(lx.cwd);
		d = lx_fd_get(dirfd);
		return d ? lx_fd_what(d) : -LX_EBADF;
	}
	err = lx_path((int64_t)dirfd, upath, path, 0);
	return err ? err : lx_resolve(path);
}

/* newfstatat(dirfd, path, st, flags). */
static int64_t sys_newfstatat(struct lx_regs *r, uint64_t dirfd, uint64_t upath,
			      uint64_t ust, uint64_t flags, uint64_t e,
			      uint64_t f)
{
	int64_t what = lx_stat_target(dirfd, upath, flags);

	(void)r, (void)e, (void)f;
	if (what < 0 && what > -100)
		return what;
	if (!lx_user_ok(ust, sizeof(struct lx_stat)))
		return -LX_EFAULT;
	return lx_stat_node(what, (struct lx_stat *)(uintptr_t)ust);
}

/* stat(path, st) and lstat (there are no symbolic links). */
static int64_t sys_stat(struct lx_regs *r, uint64_t upath, uint64_t ust,
			uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	(void)c, (void)d, (void)e, (void)f;
	return sys_newfstatat(r, (uint64_t)(int64_t)LX_AT_FDCWD, upath, ust, 0,
			      0, 0);
}

/* fstat(fd, st). */
static int64_t sys_fstat(struct lx_regs *r, uint64_t fd, uint64_t ust,
			 uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	const struct lx_fd *x = lx_fd_get(fd);

	(void)r, (void)c, (void)d, (void)e, (void)f;
	if (!x)
		return -LX_EBADF;
	if (!lx_user_ok(ust, sizeof(struct lx_stat)))
		return -LX_EFAULT;
	return lx_stat_node(lx_fd_what(x), (struct lx_stat *)(uintptr_t)ust);
}

/* statx(dirfd, path, flags, mask, buf): the basic fields. */
static int64_t sys_statx(struct lx_regs *r, uint64_t dirfd, uint64_t upath,
			 uint64_t flags, uint64_t mask, uint64_t ubuf,
			 uint64_t f)
{
	int64_t what = lx_stat_target(dirfd, upath, flags);
	struct lx_statx *x = (struct lx_statx *)(uintptr_t)ubuf;
	struct lx_stat st;

	(void)r, (void)mask, (void)f;
	if (what < 0 && what > -100)
		return what;
	if (!lx_user_ok(ubuf, sizeof(*x)))
		return -LX_EFAULT;
	lx_stat_node(what, &st);
	lx_zero(x, sizeof(*x));
	x->mask = 0x7ff; /* STATX_BASIC_STATS */
	x->blksize = 4096;
	x->nlink = (uint32_t)st.st_nlink;
	x->uid = st.st_uid;
	x->gid = st.st_gid;
	x->mode = (uint16_t)st.st_mode;
	x->ino = st.st_ino;
	x->size = (uint64_t)st.st_size;
	x->blocks = (uint64_t)st.st_blocks;
	x->atime.sec = x->mtime.sec = x->ctime.sec = (int64_t)st.st_mtime;
	x->rdev_major = (uint32_t)(st.st_rdev >> 8);
	x->rdev_minor = (uint32_t)(st.st_rdev & 0xff);
	x->dev_minor = (uint32_t)st.st_dev;
	return 0;
}

const struct lx_sys lx_fs_calls[] = {
	{NR_open, 3, 1, "open", sys_open},
	{NR_openat, 4, 2, "openat", sys_openat},
	{NR_stat, 2, 1, "stat", sys_stat},
	{NR_lstat, 2, 1, "lstat", sys_stat},
	{NR_fstat, 2, 0, "fstat", sys_fstat},
	{NR_newfstatat, 4, 2, "newfstatat", sys_newfstatat},
	{NR_statx, 5, 2, "statx", sys_statx},
	{0, 0, 0, 0, 0},
};
