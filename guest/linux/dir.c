/* The Linux personality's directory calls: getdents64, access, readlink,
 * the working directory, and the calls a read-only tree refuses. */
#include "lx.h"

#define LX_DT_DIR 4
#define LX_DT_REG 8

/* The name of table node i if it is a direct child of directory path d
 * (length dl), else 0. */
static const char *lx_child(uint32_t i, const char *d, size_t dl)
{
	const char *p = (const char *)(uintptr_t)lx.files[i].path;
	const char *name;

	if (dl == 1) {
		if (p[0] != '/' || !p[1])
			return 0;
		name = p + 1;
	} else {
		if (memcmp(p, d, dl) || p[dl] != '/')
			return 0;
		name = p + dl + 1;
	}
	for (const char *c = name; *c; c++)
		if (*c == '/')
			return 0;
	return name;
}

/* Append one struct linux_dirent64 at buf + *pos if it fits. */
static int lx_dirent(uint8_t *buf, uint64_t count, uint64_t *pos, uint64_t ino,
		     uint64_t next, uint8_t type, const char *name)
{
	size_t len = strlen(name);
	uint64_t rec = (19 + len + 1 + 7) & ~7ull;
	uint8_t *e = buf + *pos;

	if (*pos + rec > count)
		return 0;
	lx_zero(e, rec);
	lx_copy(e, &ino, 8);
	lx_copy(e + 8, &next, 8);
	e[16] = (uint8_t)rec;
	e[17] = (uint8_t)(rec >> 8);
	e[18] = type;
	lx_copy(e + 19, name, len);
	*pos += rec;
	return 1;
}

/* getdents64(fd, buf, count): ".", ".." then the children in path order;
 * the offset counts entries. */
static int64_t sys_getdents64(struct lx_regs *r, uint64_t fd, uint64_t ubuf,
			      uint64_t count, uint64_t d, uint64_t e,
			      uint64_t f)
{
	struct lx_fd *x = lx_fd_get(fd);
	uint8_t *buf = (uint8_t *)(uintptr_t)ubuf;
	uint64_t pos = 0;
	const char *dir;
	size_t dl;

	(void)r, (void)d, (void)e, (void)f;
	if (!x)
		return -LX_EBADF;
	if (x->kind != LX_FD_DIR)
		return -LX_ENOTDIR;
	if (!lx_user_ok(ubuf, count))
		return -LX_EFAULT;
	dir = (const char *)(uintptr_t)lx.files[x->node].path;
	dl = strlen(dir);
	for (; x->off < 2 + (uint64_t)lx.nr_files; x->off++) {
		uint64_t i = x->off;
		const char *name = i == 0 ? "." : i == 1 ? ".." : 0;
		uint8_t type = LX_DT_DIR;

		if (!name) {
			name = lx_child((uint32_t)(i - 2), dir, dl);
			if (!name)
				continue;
			if ((lx.files[i - 2].mode & LX_S_IFMT) != LX_S_IFDIR)
				type = LX_DT_REG;
		}
		if (!lx_dirent(buf, count, &pos, 1000 + i, i + 1, type, name))
			return pos ? (int64_t)pos : -LX_EINVAL;
	}
	return (int64_t)pos;
}

/* faccessat(dirfd, path, mode): W_OK is refused (a read-only tree),
 * X_OK follows the mode bits. */
static int64_t sys_faccessat(struct lx_regs *r, uint64_t dirfd, uint64_t upath,
			     uint64_t mode, uint64_t d, uint64_t e, uint64_t f)
{
	char path[LX_PATH];
	int64_t what, err = lx_path((int64_t)dirfd, upath, path, 0);

	(void)r, (void)d, (void)e, (void)f;
	if (err)
		return err;
	what = lx_resolve(path);
	if (what < 0 && what > -100)
		return what;
	if (what >= 0 && mode & 2)
		return -LX_EROFS;
	if (what >= 0 && mode & 1 && !(lx.files[what].mode & 0111))
		return -LX_EACCES;
	return 0;
}

/* access(path, mode). */
static int64_t sys_access(struct lx_regs *r, uint64_t upath, uint64_t mode,
			  uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	(void)c, (void)d, (void)e, (void)f;
	return sys_faccessat(r, (uint64_t)(int64_t)LX_AT_FDCWD, upath, mode, 0,
			     0, 0);
}

/* readlinkat(dirfd, path, buf, size): only /proc/self/exe is a link. */
static int64_t sys_readlinkat(struct lx_regs *r, uint64_t dirfd, uint64_t upath,
			      uint64_t ubuf, uint64_t size, uint64_t e,
			      uint64_t f)
{
	char path[LX_PATH];
	const char *exe = (const char *)(uintptr_t)lx.boot->exe;
	int64_t err = lx_path((int64_t)dirfd, upath, path, 0);
	uint64_t n;

	(void)r, (void)e, (void)f;
	if (err)
		return err;
	if (strcmp(path, "/proc/self/exe"))
		return lx_resolve(path) == -LX_ENOENT ? -LX_ENOENT : -LX_EINVAL;
	if (!size || !lx_user_ok(ubuf, size))
		return -LX_EFAULT;
	n = strlen(exe);
	if (n > size)
		n = size;
	lx_copy((void *)(uintptr_t)ubuf, exe, n);
	return (int64_t)n;
}

/* readlink(path, buf, size). */
static int64_t sys_readlink(struct lx_regs *r, uint64_t upath, uint64_t ubuf,
			    uint64_t size, uint64_t d, uint64_t e, uint64_t f)
{
	(void)d, (void)e, (void)f;
	return sys_readlinkat(r, (uint64_t)(int64_t)LX_AT_FDCWD, upath, ubuf,
			      size, 0, 0);
}

/* getcwd(buf, size): the length with its NUL. */
static int64_t sys_getcwd(struct lx_regs *r, uint64_t ubuf, uint64_t size,
			  uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	uint64_t n = strlen(lx.cwd) + 1;

	(void)r, (void)c, (void)d, (void)e, (void)f;
	if (size < n)
		return -LX_ERANGE;
	if (!lx_user_ok(ubuf, n))
		return -LX_EFAULT;
	lx_copy((void *)(uintptr_t)ubuf, lx.cwd, n);
	return (int64_t)n;
}

/* chdir(path) to a directory of the tree. */
static int64_t sys_chdir(struct lx_regs *r, uint64_t upath, uint64_t b,
			 uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	char path[LX_PATH];
	int64_t what, err = lx_path(LX_AT_FDCWD, upath, path, 0);

	(void)r, (void)b, (void)c, (void)d, (void)e, (void)f;
	if (err)
		return err;
	what = lx_resolve(path);
	if (what < 0)
		return what > -100 ? what : -LX_ENOTDIR;
	if ((lx.files[what].mode & LX_S_IFMT) != LX_S_IFDIR)
		return -LX_ENOTDIR;
	if (strlen(path) >= sizeof(lx.cwd))
		return -LX_ENAMETOOLONG;
	lx_copy(lx.cwd, path, strlen(path) + 1);
	return 0;
}

/* fchdir(fd) to an open directory. */
static int64_t sys_fchdir(struct lx_regs *r, uint64_t fd, uint64_t b,
			  uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	const struct lx_fd *x = lx_fd_get(fd);
	const char *p;

	(void)r, (void)b, (void)c, (void)d, (void)e, (void)f;
	if (!x)
		return -LX_EBADF;
	if (x->kind != LX_FD_DIR)
		return -LX_ENOTDIR;
	p = (const char *)(uintptr_t)lx.files[x->node].path;
	if (strlen(p) >= sizeof(lx.cwd))
		return -LX_ENAMETOOLONG;
	lx_copy(lx.cwd, p, strlen(p) + 1);
	return 0;
}

/* Calls that would change the tree: it is read-only. */
static int64_t sys_erofs(struct lx_regs *r, uint64_t a, uint64_t b, uint64_t c,
			 uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
	return -LX_EROFS;
}

const struct lx_sys lx_dir_calls[] = {
	{NR_getdents64, 3, 0, "getdents64", sys_getdents64},
	{NR_access, 2, 1, "access", sys_access},
	{NR_faccessat, 3, 2, "faccessat", sys_faccessat},
	{NR_faccessat2, 4, 2, "faccessat2", sys_faccessat},
	{NR_readlink, 3, 1, "readlink", sys_readlink},
	{NR_readlinkat, 4, 2, "readlinkat", sys_readlinkat},
	{NR_getcwd, 2, 0, "getcwd", sys_getcwd},
	{NR_chdir, 1, 1, "chdir", sys_chdir},
	{NR_fchdir, 1, 0, "fchdir", sys_fchdir},
	{NR_mkdir, 2, 1, "mkdir", sys_erofs},
	{NR_mkdirat, 3, 2, "mkdirat", sys_erofs},
	{NR_rmdir, 1, 1, "rmdir", sys_erofs},
	{NR_unlink, 1, 1, "unlink", sys_erofs},
	{NR_unlinkat, 3, 2, "unlinkat", sys_erofs},
	{NR_rename, 2, 1, "rename", sys_erofs},
	{NR_chmod, 2, 1, "chmod", sys_erofs},
	{NR_ftruncate, 2, 0, "ftruncate", sys_erofs},
	{0, 0, 0, 0, 0},
};
