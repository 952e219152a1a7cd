/* Saving a snapshot to a file (cowvm_snapfile.h): the state packed, every
 * page that is not zero written at its place in the RAM image (zero pages
 * stay holes) in large batches through io_uring, the map, the block sums
 * and the header last, into a temporary file that is synced and then
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
	uint8_t *map;	     /* MAP: one bit per RAM page, set when stored */
	uint32_t *sums;	     /* SUMS: CRC-32C per block */
	uint64_t pages, low; /* RAM pages; pages in the low range */
	uint64_t nsum;	     /* a child: pages stored so far */
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

/* Guest-physical address of RAM page i. */
static uint64_t sf_gpa(const struct sf_save *s, uint64_t i)
{
	return i < s->low ? i * SF_PAGE
			  : COWVM_HIGH_MEM_BASE + (i - s->low) * SF_PAGE;
}

/* Whether RAM page i is marked stored in s's map. */
static bool sf_stored(const struct sf_save *s, uint64_t i)
{
	return s->map[i / 8] >> (i % 8) & 1;
}

/* RAM pages [first, first + n) into buf as the file holds them: a whole
 * file every page (marking them stored in the map), a child those its
 * map marks (the others left as they are). */
static void sf_block_read(struct sf_save *s, uint64_t first, uint64_t n,
			  uint8_t *buf)
{
	for (uint64_t i = 0, j; i < n; i = j) {
		uint64_t gpa = sf_gpa(s, first + i);

		for (j = i + 1;
		     j < n && sf_gpa(s, first + j) == gpa + (j - i) * SF_PAGE;
		     j++)
			;
		if (!s->parent) {
			vmm_mem_image_read(s->img, gpa, buf + i * SF_PAGE,
					   (j - i) * SF_PAGE);
			for (uint64_t k = first + i; k < first + j; k++)
				s->map[k / 8] |= (uint8_t)(1u << (k % 8));
			continue;
		}
		for (uint64_t k = i; k < j; k++)
			if (sf_stored(s, first + k))
				vmm_mem_image_read(s->img,
						   gpa + (k - i) * SF_PAGE,
						   buf + k * SF_PAGE, SF_PAGE);
	}
}

/* A child: mark in the map the pages of [first, first + n) that may
 * differ from its parent's; returns how many. */
static uint64_t sf_block_mark(struct sf_save *s, uint64_t first, uint64_t n)
{
	uint64_t marked = 0;

	for (uint64_t i = first; i < first + n; i++)
		if (!vmm_mem_image_same(s->img, s->parent, sf_gpa(s, i))) {
			s->map[i / 8] |= (uint8_t)(1u << (i % 8));
			marked++;
		}
	return marked;
}

/* CRC-32C of a zero page. */
static uint32_t sf_zero_sum(void)
{
	static const uint8_t zero[SF_PAGE];
	static uint32_t crc;

	if (!crc)
		crc = vmm_crc32c(0, zero, SF_PAGE);
	return crc;
}

/* Whether RAM page i, read at p, goes into the file as data: stored and
 * not zero (a zero page stays a hole). */
static bool sf_data(const struct sf_save *s, uint64_t i, const uint8_t *p)
{
	static const uint8_t zero[SF_PAGE];

	return sf_stored(s, i) && memcmp(p, zero, SF_PAGE);
}

/* A child's block: the pages it stores packed one after the other at
 * the end of its PAGES so far, each summed. */
static int sf_block_packed(struct sf_save *s, uint64_t first, uint64_t n,
			   uint8_t *buf, unsigned idx)
{
	uint64_t base = s->h.section[COWVM_SNAPFILE_PAGES].offset;
	uint64_t kept = 0, at = s->nsum;
	int err;

	for (uint64_t i = 0; i < n; i++) {
		if (!sf_stored(s, first + i))
			continue;
		if (kept != i)
			memcpy(buf + kept * SF_PAGE, buf + i * SF_PAGE,
			       SF_PAGE);
		s->sums[s->nsum++] =
			vmm_crc32c(0, buf + kept * SF_PAGE, SF_PAGE);
		kept++;
	}
	err = kept ? sf_writer_put(&s->w, idx, 0, kept * SF_PAGE,
				   base + at * SF_PAGE)
		   : 0;
	if (!err)
		err = sf_writer_done(&s->w, idx);
	return err ? sf_fail(s, err, "write") : 0;
}

/* Block b of PAGES: read, summed, its pages that are not zero written at
 * their place (a run per write); zero pages stay holes. A child's block
 * it stores nothing of is a hole: no read, no write. */
static int sf_block(struct sf_save *s, uint64_t b)
{
	uint64_t first = b * SF_BLOCK, n = s->pages - first;
	uint64_t base = s->h.section[COWVM_SNAPFILE_PAGES].offset;
	unsigned idx;
	int err;
	uint8_t *buf;

	n = n < SF_BLOCK ? n : SF_BLOCK;
	if (s->parent && !sf_block_mark(s, first, n))
		return 0; /* the parent holds the whole block */
	buf = sf_writer_buf(&s->w, &idx, &err);
	if (!buf)
		return sf_fail(s, err, "write");
	sf_block_read(s, first, n, buf);
	if (s->parent)
		return sf_block_packed(s, first, n, buf, idx);
	for (uint64_t i = first; i < first + n; i++)
		s->sums[i] = sf_zero_sum();
	for (uint64_t i = 0, j; !err && i < n; i = j) {
		if (!sf_data(s, first + i, buf + i * SF_PAGE)) {
			j = i + 1;
			continue;
		}
		for (j = i + 1;
		     j < n && sf_data(s, first + j, buf + j * SF_PAGE); j++)
			;
		for (uint64_t k = i; k < j; k++)
			s->sums[first + k] =
				vmm_crc32c(0, buf + k * SF_PAGE, SF_PAGE);
		err = sf_writer_put(&s->w, idx, i * SF_PAGE, (j - i) * SF_PAGE,
				    base + (first + i) * SF_PAGE);
	}
	if (!err)
		err = sf_writer_done(&s->w, idx);
	return err ? sf_fail(s, err, "write") : 0;
}

/* The PAGES section, block by block, with the map and the sums. */
static int sf_pages(struct sf_save *s)
{
	struct vmm_range r[VMM_MAX_RANGES];
	uint64_t nblk;
	int err;

	vmm_mem_layout(s->h.mem_size, r);
	s->pages = s->h.mem_size / SF_PAGE;
	s->low = r[0].size / SF_PAGE;
	nblk = (s->pages + SF_BLOCK - 1) / SF_BLOCK;
	s->map = calloc(1, (s->pages + 7) / 8);
	s->sums = calloc(s->pages, sizeof(*s->sums));
	if (!s->map || !s->sums)
		return sf_fail(s, -ENOMEM, "page map");
	err = sf_writer_init(&s->w, s->fd);
	if (err)
		return sf_fail(s, err, "io_uring");
	for (uint64_t b = 0; !err && b < nblk; b++)
		err = sf_block(s, b);
	if (!err)
		err = sf_writer_finish(&s->w);
	else
		sf_writer_finish(&s->w);
	if (err)
		return sf_fail(s, err, "write");
	for (uint64_t i = 0; i < (s->pages + 7) / 8; i++)
		s->h.nr_pages += (uint64_t)__builtin_popcount(s->map[i]);
	s->h.section[COWVM_SNAPFILE_PAGES].length =
		s->parent ? s->h.nr_pages * SF_PAGE : s->h.mem_size;
	return 0;
}

/* Section i: n bytes at p, at the end of the file so far. */
static int sf_section(struct sf_save *s, unsigned i, const void *p, size_t n,
		      uint64_t off)
{
	struct cowvm_snapfile_section *sec = &s->h.section[i];

	sec->offset = off;
	sec->length = n;
	sec->crc32c = vmm_crc32c(0, p, n);
	return sf_io(true, s->fd, (void *)p, n, off);
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
	h->section[COWVM_SNAPFILE_PAGES].offset =
		sf_align(COWVM_SNAPFILE_ALIGN + state_len);
}

/* State, pages, map, sums and header into s->fd. */
static int sf_write_all(struct sf_save *s, const struct cowvm_config *cfg,
			const struct vmm_state *st)
{
	void *packed = NULL;
	size_t len;
	uint64_t end;
	int err = vmm_state_pack(st, &packed, &len);

	if (err)
		return sf_fail(s, err, "state");
	sf_header_init(s, cfg, len);
	err = sf_section(s, COWVM_SNAPFILE_STATE, packed, len,
			 COWVM_SNAPFILE_ALIGN);
	free(packed);
	if (!err)
		err = sf_pages(s);
	if (err)
		return sf_fail(s, err, "write");
	end = s->h.section[COWVM_SNAPFILE_PAGES].offset +
	      s->h.section[COWVM_SNAPFILE_PAGES].length;
	err = sf_section(s, COWVM_SNAPFILE_MAP, s->map, (s->pages + 7) / 8,
			 end);
	end = sf_align(end + (s->pages + 7) / 8);
	if (!err)
		err = sf_section(s, COWVM_SNAPFILE_SUMS, s->sums,
				 s->h.nr_pages * sizeof(*s->sums), end);
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
	free(s.sums);
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
