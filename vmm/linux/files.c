/* The read-only file tree of a Linux VM: host files and directories
 * (walked recursively, symlinks followed) under their guest paths, with
 * the program and every parent directory, sorted and copied into RAM. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux.h"

/* A directory being walked, for the loop check (symlinks are followed). */
struct tree_up {
	const struct tree_up *up;
	dev_t dev;
	ino_t ino;
};

/* Normalize guest path in into out (PATH_MAX bytes): absolute, single
 * slashes, no trailing slash, no "." or ".."; 0 or -EINVAL. */
static int tree_guest_path(struct cowvm *vm, const char *in, char *out)
{
	size_t len = 0;
	const char *s = in;

	if (!in || in[0] != '/')
		return vmm_fail(vm, EINVAL, "guest path '%s' is not absolute",
				in ? in : "(null)");
	while (*s) {
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if (!n)
			break;
		if ((n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return vmm_fail(vm, EINVAL,
					"guest path '%s' holds '.' or '..'",
					in);
		if (len + 1 + n >= COWVM_LINUX_PATH_MAX)
			return vmm_fail(vm, EINVAL,
					"guest path '%.64s...' is too long",
					in);
		out[len++] = '/';
		memcpy(out + len, s, n);
		len += n;
		s += n;
	}
	if (!len)
		out[len++] = '/';
	out[len] = 0;
	return 0;
}

/* Append a node: a directory (st NULL or a directory's) or the regular
 * file host with st; 0 or -errno. */
static int tree_add(struct cowvm *vm, struct linux_tree *t, const char *guest,
		    const char *host, const struct stat *st)
{
	struct linux_node *n;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct linux_node *v = vmm_realloc(t->v, cap * sizeof(*v));

		if (!v)
			return vmm_fail(vm, ENOMEM, "out of memory");
		t->v = v;
		t->cap = cap;
	}
	n = &t->v[t->n];
	memset(n, 0, sizeof(*n));
	n->dir = !st || S_ISDIR(st->st_mode);
	n->mode = st ? (uint32_t)(st->st_mode & (S_IFMT | 07777))
		     : (uint32_t)(S_IFDIR | 0755);
	n->mtime = st && st->st_mtime > 0 ? (uint32_t)st->st_mtime : 0;
	n->guest = strdup(guest);
	n->host = n->dir || !host ? NULL : strdup(host);
	if (!n->guest || (!n->dir && !n->host)) {
		free(n->guest);
		free(n->host);
		return vmm_fail(vm, ENOMEM, "out of memory");
	}
	if (!n->dir) {
		n->size = (uint64_t)st->st_size;
		n->dev = st->st_dev;
		n->ino = st->st_ino;
	}
	t->n++;
	return 0;
}

/* child = dir + "/" + name in a PATH_MAX buffer; 0 or -ENAMETOOLONG. */
static int tree_join(struct cowvm *vm, char *child, const char *dir,
		     const char *name)
{
	int n = snprintf(child, COWVM_LINUX_PATH_MAX, "%s%s%s", dir,
			 strcmp(dir, "/") ? "/" : "", name);

	if (n < 0 || n >= (int)COWVM_LINUX_PATH_MAX)
		return vmm_fail(vm, ENAMETOOLONG, "%s/%s: path too long", dir,
				name);
	return 0;
}

static int tree_walk(struct cowvm *vm, struct linux_tree *t, const char *host,
		     const char *guest, const struct tree_up *up);

/* Add the entry name of host dir (guest path guest) to t, walking into
 * directories; entries that are neither (or dangling links) are left
 * out. 0 or -errno. */
static int tree_entry(struct cowvm *vm, struct linux_tree *t, const char *host,
		      const char *guest, const char *name,
		      const struct tree_up *up)
{
	char *h = vmm_malloc(2 * COWVM_LINUX_PATH_MAX);
	char *g = h + COWVM_LINUX_PATH_MAX;
	struct stat st;
	int err = h ? tree_join(vm, h, host, name)
		    : vmm_fail(vm, ENOMEM, "out of memory");

	if (!err)
		err = tree_join(vm, g, guest, name);
	if (!err && stat(h, &st) < 0) {
		if (errno != ENOENT && errno != ELOOP)
			err = vmm_fail(vm, errno, "%s: %s", h, strerror(errno));
		st.st_mode = 0; /* a dangling link: left out */
	}
	for (const struct tree_up *u = up; !err && u; u = u->up)
		if (S_ISDIR(st.st_mode) && u->dev == st.st_dev &&
		    u->ino == st.st_ino)
			err = vmm_fail(vm, ELOOP,
				       "%s: a symlink loops back to a parent "
				       "directory",
				       h);
	if (!err && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
		err = tree_add(vm, t, g, h, &st);
	if (!err && S_ISDIR(st.st_mode))
		err = tree_walk(vm, t, h, g, up);
	free(h);
	return err;
}

/* Add every entry under the host directory host (seen at guest). */
static int tree_walk(struct cowvm *vm, struct linux_tree *t, const char *host,
		     const char *guest, const struct tree_up *up)
{
	struct tree_up me = {.up = up};
	struct stat st;
	struct dirent *de;
	DIR *d = opendir(host);
	int err = 0;

	if (!d || fstat(dirfd(d), &st) < 0) {
		err = vmm_fail(vm, errno, "%s: %s", host, strerror(errno));
		if (d)
			closedir(d);
		return err;
	}
	me.dev = st.st_dev;
	me.ino = st.st_ino;
	while (!err && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			err = tree_entry(vm, t, host, guest, de->d_name, &me);
	closedir(d);
	return err;
}

/* Add one lx->files entry (a file, or a directory and all below it). */
static int tree_add_path(struct cowvm *vm, struct linux_tree *t,
			 const struct cowvm_linux_path *f)
{
	char g[COWVM_LINUX_PATH_MAX];
	struct stat st;
	int err;

	if (!f->host)
		return vmm_fail(vm, EINVAL, "a file without a host path");
	err = tree_guest_path(vm, f->guest, g);
	if (err)
		return err;
	if (stat(f->host, &st) < 0)
		return vmm_fail(vm, errno, "%s: %s", f->host, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return vmm_fail(vm, EINVAL,
				"%s: not a regular file or a directory",
				f->host);
	err = tree_add(vm, t, g, f->host, &st);
	if (!err && S_ISDIR(st.st_mode))
		err = tree_walk(vm, t, f->host, g, NULL);
	return err;
}

/* Add "/" and every parent directory of the nodes so far. */
static int tree_add_parents(struct cowvm *vm, struct linux_tree *t)
{
	size_t n = t->n;
	int err = tree_add(vm, t, "/", NULL, NULL);

	for (size_t i = 0; i < n && !err; i++) {
		char p[COWVM_LINUX_PATH_MAX];
		char *s;

		snprintf(p, sizeof(p), "%s", t->v[i].guest);
		while (!err && (s = strrchr(p, '/')) && s != p) {
			*s = 0;
			err = tree_add(vm, t, p, NULL, NULL);
		}
	}
	return err;
}

/* qsort order of nodes: by guest path. */
static int tree_cmp(const void *a, const void *b)
{
	return strcmp(((const struct linux_node *)a)->guest,
		      ((const struct linux_node *)b)->guest);
}

/* Sort the nodes and merge those of one guest path: directories, or one
 * host file named twice; anything else is -EINVAL. */
static int tree_merge(struct cowvm *vm, struct linux_tree *t)
{
	size_t out = 0;

	qsort(t->v, t->n, sizeof(*t->v), tree_cmp);
	for (size_t i = 0; i < t->n; i++) {
		struct linux_node *a = out ? &t->v[out - 1] : NULL;
		struct linux_node *b = &t->v[i];

		if (!a || strcmp(a->guest, b->guest)) {
			t->v[out++] = *b;
			continue;
		}
		if (a->dir != b->dir ||
		    (!a->dir && (a->dev != b->dev || a->ino != b->ino))) {
			vmm_fail(vm, EINVAL,
				 "guest path %s named twice (%s, %s)", a->guest,
				 a->dir ? "a directory" : a->host,
				 b->dir ? "a directory" : b->host);
			t->n = out + (t->n - i); /* what is left to free */
			memmove(&t->v[out], b, (t->n - out) * sizeof(*b));
			return -EINVAL;
		}
		free(b->guest);
		free(b->host);
	}
	t->n = out;
	return 0;
}

/* Collect, sort and size the tree; 0 or -errno. */
int linux_tree_build(struct cowvm *vm, const struct cowvm_linux *lx,
		     const char *exe, struct linux_tree *t)
{
	const struct cowvm_linux_path prog = {.host = exe, .guest = exe};
	uint64_t meta;
	int err = 0;

	memset(t, 0, sizeof(*t));
	t->exe_path = exe;
	if (lx->nr_files && !lx->files)
		return vmm_fail(vm, EINVAL, "%u files but no list",
				lx->nr_files);
	for (unsigned i = 0; i < lx->nr_files && !err; i++)
		err = tree_add_path(vm, t, &lx->files[i]);
	if (!err)
		err = tree_add_path(vm, t, &prog);
	if (!err)
		err = tree_add_parents(vm, t);
	if (!err)
		err = tree_merge(vm, t);
	if (err)
		return err;
	meta = t->n * sizeof(struct cowvm_linux_file);
	for (size_t i = 0; i < t->n; i++) {
		meta += strlen(t->v[i].guest) + 1;
		if (t->v[i].size > UINT64_MAX / 2 - t->data)
			return vmm_fail(vm, E2BIG, "%s: too large",
					t->v[i].host);
		t->data += linux_page_up(t->v[i].size);
	}
	t->meta = linux_page_up(meta);
	return 0;
}

/* Read a node's size bytes from its host file into guest RAM. */
static int tree_read(struct cowvm *vm, const struct linux_node *n)
{
	uint8_t *dst = vmm_gpa_write(vm, n->data_at, n->size);
	int fd = open(n->host, O_RDONLY | O_CLOEXEC);
	uint64_t done = 0;
	int err = 0;

	if (!dst)
		err = vmm_fail(vm, EFAULT, "%s: not guest RAM", n->host);
	else if (fd < 0)
		err = vmm_fail(vm, errno, "%s: %s", n->host, strerror(errno));
	while (!err && done < n->size) {
		ssize_t r = read(fd, dst + done, n->size - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = vmm_fail(vm, errno, "%s: %s", n->host,
				       strerror(errno));
		else if (r == 0)
			err = vmm_fail(vm, EIO,
				       "%s: shrank below %llu bytes while "
				       "loading",
				       n->host, (unsigned long long)n->size);
		else
			done += (uint64_t)r;
	}
	if (fd >= 0)
		close(fd);
	return err;
}

/* Lay the tree out at lo: table, paths, then page-aligned contents. */
int linux_tree_write(struct cowvm *vm, struct linux_tree *t, uint64_t lo)
{
	struct cowvm_linux_file *tab;
	uint64_t str = lo + t->n * sizeof(*tab), data = lo + t->meta;
	char *meta = vmm_gpa_write(vm, lo, t->meta);
	int err = 0;

	if (!meta)
		return vmm_fail(vm, EFAULT, "the file tree is not guest RAM");
	tab = (struct cowvm_linux_file *)meta;
	t->lo = lo;
	for (size_t i = 0; i < t->n && !err; i++) {
		struct linux_node *n = &t->v[i];
		size_t len = strlen(n->guest) + 1;

		n->path_at = str;
		memcpy(meta + (str - lo), n->guest, len);
		if (!strcmp(n->guest, t->exe_path))
			t->exe = n->path_at;
		str += len;
		n->data_at = n->size ? data : 0;
		data += linux_page_up(n->size);
		tab[i] = (struct cowvm_linux_file){
			.path = n->path_at,
			.data = n->data_at,
			.size = n->size,
			.mode = (n->dir ? (uint32_t)S_IFDIR
					: (uint32_t)S_IFREG) |
				(n->mode & 07777),
			.mtime = n->mtime ? n->mtime : (uint32_t)time(NULL),
		};
		if (n->size)
			err = tree_read(vm, n);
	}
	return err;
}

/* Free every node and the array. */
void linux_tree_free(struct linux_tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].guest);
		free(t->v[i].host);
	}
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}
