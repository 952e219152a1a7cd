/* Saving a snapshot to a file (cowvm_snapfile.h): the state packed, every
 * page that is not zero written in large batches through io_uring, the
 * map and the header last, into a temporary file that is synced and then
 * renamed over the target, so that a reader sees the old file or the
 * whole new one. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cowvm_linux_abi.h"
#include "cowvm_snapfile.h"
#include "snapfile.h"

#ifndef COWVM_VERSION
#define COWVM_VERSION "unknown"
#endif

#define SF_PAGE 4096ull

/* One save in progress. */
struct sf_save {
	const struct vmm_mem_image *img;    /* the snapshot's RAM */
	const struct vmm_mem_image *parent; /* a child's parent's, or NULL */
	int fd;
	struct sf_writer w;
	struct cowvm_snapfile_header h;
	uint64_t *map; /* guest-physical address of each stored page */
	uint64_t nmap, cap;
	uint64_t off; /* the next page's file offset */
	uint32_t crc; /* of the pages so far */
	char err[200];
};

/* Round n up to the format's alignment. */
static uint64_t sf_align(uint64_t n)
{
	return (n + COWVM_SNAPFILE_ALIGN - 1) &
	       ~(uint64_t)(COWVM_SNAPFILE_ALIGN - 1);
}

/* Record that the save failed with -err doing what; returns err. */
static int sf_fail(struct sf_save *s, int err, const char *what)
{
	if (!s->err[0])
		snprintf(s->err, sizeof(s->err),
			 "cannot save the snapshot: %.120s: %s", what,
			 strerror(-err));
	return err;
}

/* Append gpa to the map; 0 or -ENOMEM. */
static int sf_map_add(struct sf_save *s, uint64_t gpa)
{
	if (s->nmap == s->cap) {
		uint64_t cap = s->cap ? s->cap * 2 : 4096;
		uint64_t *m = realloc(s->map, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		s->map = m;
		s->cap = cap;
	}
	s->map[s->nmap++] = gpa;
	return 0;
}

/* Queue the pages of RAM [gpa, gpa + len) that are not zero (len at most
 * SF_BUF): read into a writer buffer, packed, written at s->off. */
static int sf_chunk(struct sf_save *s, uint64_t gpa, uint64_t len)
{
	static const uint8_t zero[SF_PAGE];
	unsigned idx;
	int err;
	uint8_t *buf = sf_writer_buf(&s->w, &idx, &err);
	uint64_t kept = 0;

	if (!buf)
		return sf_fail(s, err, "write");
	if (!s->parent)
		vmm_mem_image_read(s->img, gpa, buf, len);
	for (uint64_t p = 0; p < len; p += SF_PAGE) {
		if (s->parent && vmm_mem_image_same(s->img, s->parent, gpa + p))
			continue; /* a child keeps what its parent has */
		if (s->parent)
			vmm_mem_image_read(s->img, gpa + p, buf + p, SF_PAGE);
		else if (!memcmp(buf + p, zero, SF_PAGE))
			continue;
		if (sf_map_add(s, gpa + p))
			return sf_fail(s, -ENOMEM, "page map");
		if (kept != p)
			memcpy(buf + kept, buf + p, SF_PAGE);
		kept += SF_PAGE;
	}
	if (!kept)
		return 0;
	s->crc = vmm_crc32c(s->crc, buf, kept);
	err = sf_writer_put(&s->w, idx, kept, s->off);
	s->off += kept;
	return err ? sf_fail(s, err, "write") : 0;
}

/* The PAGES section: every RAM range in chunks. */
static int sf_pages(struct sf_save *s)
{
	struct vmm_range r[VMM_MAX_RANGES];
	unsigned n = vmm_mem_layout(s->h.mem_size, r);
	struct cowvm_snapfile_section *sec =
		&s->h.section[COWVM_SNAPFILE_PAGES];
	int err = sf_writer_init(&s->w, s->fd);

	if (err)
		return sf_fail(s, err, "io_uring");
	sec->offset = s->off;
	for (unsigned i = 0; !err && i < n; i++)
		for (uint64_t o = 0; !err && o < r[i].size; o += SF_BUF)
			err = sf_chunk(s, r[i].gpa + o,
				       r[i].size - o < SF_BUF ? r[i].size - o
							      : SF_BUF);
	if (!err)
		err = sf_writer_finish(&s->w);
	else
		sf_writer_finish(&s->w);
	if (err)
		return sf_fail(s, err, "write");
	sec->length = s->off - sec->offset;
	sec->crc32c = s->crc;
	s->h.nr_pages = s->nmap;
	return 0;
}

/* The header (but for the sections) of a snapshot of cfg and st. */
static void sf_header_init(struct sf_save *s, const struct cowvm_config *cfg,
			   size_t state_len)
{
	struct cowvm_snapfile_header *h = &s->h;

	memcpy(h->magic, COWVM_SNAPFILE_MAGIC, sizeof(h->magic));
	h->version = COWVM_SNAPFILE_VERSION;
	h->header_size = sizeof(*h);
	h->abi_version = COWVM_ABI_VERSION;
	h->linux_version = COWVM_LINUX_VERSION;
	h->state_layout = (uint32_t)sizeof(struct vmm_state);
	h->mem_mode = (uint32_t)cfg->mem_mode;
	h->mem_size = cfg->mem_size;
	snprintf(h->cowvm_version, sizeof(h->cowvm_version), "%s",
		 COWVM_VERSION);
	_Static_assert(COWVM_SNAPFILE_CPU_WORDS >= VMM_CPU_WORDS, "cpu words");
	vmm_cpu_features(h->cpu);
	h->section[COWVM_SNAPFILE_STATE].offset = COWVM_SNAPFILE_ALIGN;
	h->section[COWVM_SNAPFILE_STATE].length = state_len;
	s->off = sf_align(COWVM_SNAPFILE_ALIGN + state_len);
}

/* State, pages, map and header into s->fd. */
static int sf_write_all(struct sf_save *s, const struct cowvm_config *cfg,
			const struct vmm_state *st)
{
	struct cowvm_snapfile_section *map = &s->h.section[COWVM_SNAPFILE_MAP];
	void *packed = NULL;
	size_t len;
	int err = vmm_state_pack(st, &packed, &len);

	if (err)
		return sf_fail(s, err, "state");
	sf_header_init(s, cfg, len);
	s->h.section[COWVM_SNAPFILE_STATE].crc32c = vmm_crc32c(0, packed, len);
	err = sf_io(true, s->fd, packed, len, COWVM_SNAPFILE_ALIGN);
	free(packed);
	if (!err)
		err = sf_pages(s);
	if (err)
		return sf_fail(s, err, "write");
	map->offset = s->off;
	map->length = s->nmap * sizeof(uint64_t);
	map->crc32c = vmm_crc32c(0, s->map, map->length);
	err = sf_io(true, s->fd, s->map, map->length, map->offset);
	s->h.header_crc32c = vmm_crc32c(
		0, &s->h,
		offsetof(struct cowvm_snapfile_header, header_crc32c));
	if (!err)
		err = sf_io(true, s->fd, &s->h, sizeof(s->h), 0);
	if (!err && fsync(s->fd))
		err = -errno;
	return err ? sf_fail(s, err, "write") : 0;
}

/* Make the rename of tmp to path durable: sync path's directory. */
static void sf_sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
		      : -1;

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* How a child names parent_path: by its file name when both are in one
 * folder, else by its absolute path; -ENAMETOOLONG if it does not fit. */
static int sf_parent_name(char name[256], const char *parent_path,
			  const char *path)
{
	char *a = realpath(parent_path, NULL), *pc = strdup(path);
	char *ac = a ? strdup(a) : NULL;
	int err = 0;

	if (!a || !pc || !ac)
		err = a ? -ENOMEM : -errno;
	else if (!strcmp(dirname(ac), dirname(pc)))
		err = snprintf(name, 256, "%s", basename(a)) >= 256
			      ? -ENAMETOOLONG
			      : 0;
	else
		err = snprintf(name, 256, "%s", a) >= 256 ? -ENAMETOOLONG : 0;
	free(a);
	free(ac);
	free(pc);
	return err;
}

/* Name parent_path, a saved file of the same RAM size, in s's header;
 * 0 or -errno with s->err. */
static int sf_parent(struct sf_save *s, const char *parent_path,
		     const char *path, uint64_t mem_size)
{
	struct cowvm_snapfile_header ph;
	int fd = open(parent_path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return sf_fail(s, -errno, parent_path);
	err = sf_io(false, fd, &ph, sizeof(ph), 0);
	close(fd);
	if (err || memcmp(ph.magic, COWVM_SNAPFILE_MAGIC, sizeof(ph.magic)) ||
	    ph.version != COWVM_SNAPFILE_VERSION || ph.mem_size != mem_size)
		return sf_fail(s, -EINVAL, parent_path);
	s->h.parent_header_crc32c = ph.header_crc32c;
	err = sf_parent_name(s->h.parent, parent_path, path);
	return err ? sf_fail(s, err, parent_path) : 0;
}

/* Save snap to path (atomically replacing it), as a child of parent saved
 * at parent_path when parent is not NULL; 0 or -errno with the reason in
 * cowvm_error(NULL). */
static int sf_save(struct cowvm_snapshot *snap, struct cowvm_snapshot *parent,
		   const char *parent_path, const char *path)
{
	struct sf_save s = {.fd = -1};
	char tmp[4096];
	int err;

	if (!snap || !path || !*path || (parent && !parent_path))
		return -EINVAL;
	if (vmm_snapshot_inherited(snap)) {
		vmm_vm_set_error("this snapshot was taken before fork(): only "
				 "the process that took it can save it");
		return -ECHILD;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	s.img = vmm_snapshot_image(snap);
	s.parent = parent ? vmm_snapshot_image(parent) : NULL;
	s.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	err = s.fd < 0 ? sf_fail(&s, -errno, tmp) : 0;
	if (!err && parent)
		err = sf_parent(&s, parent_path, path,
				vmm_snapshot_cfg(snap)->mem_size);
	if (!err)
		err = sf_write_all(&s, vmm_snapshot_cfg(snap),
				   vmm_snapshot_state(snap));
	if (s.fd >= 0 && close(s.fd) && !err)
		err = sf_fail(&s, -errno, "close");
	if (!err && rename(tmp, path))
		err = sf_fail(&s, -errno, path);
	if (err && s.fd >= 0)
		unlink(tmp);
	if (!err)
		sf_sync_dir(path);
	else
		vmm_vm_set_error(s.err);
	free(s.map);
	return err;
}

/* Save snap to path, whole. */
int cowvm_snapshot_save(struct cowvm_snapshot *snap, const char *path)
{
	return sf_save(snap, NULL, NULL, path);
}

/* Save snap to path as a child of parent, saved at parent_path. */
int cowvm_snapshot_save_child(struct cowvm_snapshot *snap,
			      struct cowvm_snapshot *parent,
			      const char *parent_path, const char *path)
{
	return sf_save(snap, parent, parent_path, path);
}
