/* Opening a snapshot file (cowvm_snapfile.h): every check of the header,
 * state, map and sums before anything is trusted (magic, version,
 * checksums, layout, bounds, this host's CPU features), then the RAM image
 * mapped in place (MAP_PRIVATE through the frame store: no page is read or
 * copied, so opening costs the same at any size) with its pages checked
 * against the sums in the background; a child file's own pages are read,
 * checked and written over a clone of its parent chain. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "cowvm_snapfile.h"
#include "snapfile.h"

#define SO_PAGE 4096ull

/* One open in progress. */
struct sf_open {
	const char *path;
	int fd;
	uint64_t size; /* of the file */
	struct cowvm_snapfile_header h;
	struct cowvm_config cfg; /* of the VMs made from it */
	char err[600];
};

/* Record why the file cannot be opened; returns -err. */
static int so_fail(struct sf_open *o, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int so_fail(struct sf_open *o, int err, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(o->err, sizeof(o->err), "%s: ", o->path);

	va_start(ap, fmt);
	vsnprintf(o->err + n, sizeof(o->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return -err;
}

/* Bytes of the MAP section of h's RAM. */
static uint64_t so_map_bytes(const struct cowvm_snapfile_header *h)
{
	return (h->mem_size / SO_PAGE + 7) / 8;
}

/* The header: magic, version, checksum, layout, sections inside the file. */
static int so_header(struct sf_open *o)
{
	struct cowvm_snapfile_header *h = &o->h;

	if (o->size < sizeof(*h) || sf_io(false, o->fd, h, sizeof(*h), 0))
		return so_fail(o, ENOEXEC, "truncated: %llu bytes, no header",
			       (unsigned long long)o->size);
	if (memcmp(h->magic, COWVM_SNAPFILE_MAGIC, sizeof(h->magic)))
		return so_fail(o, ENOEXEC, "not a cowvm snapshot file");
	if (h->version != COWVM_SNAPFILE_VERSION)
		return so_fail(o, ENOEXEC,
			       "snapshot format version %u; this cowvm reads "
			       "version %u",
			       h->version, COWVM_SNAPFILE_VERSION);
	if (h->header_size != sizeof(*h) ||
	    vmm_crc32c(0, h,
		       offsetof(struct cowvm_snapfile_header, header_crc32c)) !=
		    h->header_crc32c)
		return so_fail(o, EBADMSG, "header checksum mismatch");
	if (h->state_layout != sizeof(struct vmm_state) ||
	    h->abi_version != COWVM_ABI_VERSION)
		return so_fail(o, ENOEXEC,
			       "saved by cowvm %.32s (ABI %u), whose machine "
			       "state this build cannot read",
			       h->cowvm_version, h->abi_version);
	for (unsigned i = 0; i < COWVM_SNAPFILE_NSECTIONS; i++) {
		const struct cowvm_snapfile_section *s = &h->section[i];

		if (s->offset > o->size || s->length > o->size - s->offset)
			return so_fail(o, ENOEXEC,
				       "truncated: %llu bytes, section %u "
				       "needs [%llu, +%llu)",
				       (unsigned long long)o->size, i,
				       (unsigned long long)s->offset,
				       (unsigned long long)s->length);
	}
	if (!h->mem_size || h->mem_size % SO_PAGE ||
	    h->nr_pages > h->mem_size / SO_PAGE ||
	    h->section[COWVM_SNAPFILE_PAGES].length !=
		    (h->parent[0] ? h->nr_pages * SO_PAGE : h->mem_size) ||
	    h->section[COWVM_SNAPFILE_PAGES].offset % SO_PAGE ||
	    h->section[COWVM_SNAPFILE_MAP].length != so_map_bytes(h) ||
	    h->section[COWVM_SNAPFILE_SUMS].length != h->nr_pages * 4)
		return so_fail(o, ENOEXEC, "RAM size and sections disagree");
	return 0;
}

/* The name of bit b of CPU word w, or NULL when it has none here. */
static const char *so_cpu_name(unsigned w, unsigned b)
{
	static const struct {
		unsigned w, b;
		const char *name;
	} names[] = {
		{VMM_CPU_1_ECX, 0, "sse3"},
		{VMM_CPU_1_ECX, 9, "ssse3"},
		{VMM_CPU_1_ECX, 12, "fma"},
		{VMM_CPU_1_ECX, 19, "sse4.1"},
		{VMM_CPU_1_ECX, 20, "sse4.2"},
		{VMM_CPU_1_ECX, 22, "movbe"},
		{VMM_CPU_1_ECX, 23, "popcnt"},
		{VMM_CPU_1_ECX, 25, "aes"},
		{VMM_CPU_1_ECX, 26, "xsave"},
		{VMM_CPU_1_ECX, 28, "avx"},
		{VMM_CPU_1_ECX, 29, "f16c"},
		{VMM_CPU_1_ECX, 30, "rdrand"},
		{VMM_CPU_7_EBX, 3, "bmi1"},
		{VMM_CPU_7_EBX, 5, "avx2"},
		{VMM_CPU_7_EBX, 8, "bmi2"},
		{VMM_CPU_7_EBX, 16, "avx512f"},
		{VMM_CPU_7_EBX, 18, "rdseed"},
		{VMM_CPU_7_EBX, 19, "adx"},
		{VMM_CPU_7_EBX, 29, "sha"},
		{VMM_CPU_7_EBX, 30, "avx512bw"},
		{VMM_CPU_7_EBX, 31, "avx512vl"},
		{VMM_CPU_7_ECX, 9, "vaes"},
		{VMM_CPU_7_ECX, 10, "vpclmulqdq"},
		{VMM_CPU_7_EDX, 4, "fsrm"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].w == w && names[i].b == b)
			return names[i].name;
	return NULL;
}

/* Every CPU feature bit the guest saw must be on this host's vCPU. */
static int so_cpu(struct sf_open *o)
{
	static const char *const word[VMM_CPU_WORDS] = {
		"1.ecx", "1.edx",   "7.ebx",	      "7.ecx",
		"7.edx", "0xd.eax", "0x80000001.ecx", "0x80000001.edx"};
	uint32_t have[VMM_CPU_WORDS];

	int err = vmm_cpu_features_probe(have);

	if (err)
		return so_fail(o, -err, "cannot ask KVM for its CPUID: %s",
			       strerror(-err));

	for (unsigned w = 0; w < VMM_CPU_WORDS; w++) {
		uint32_t lack = o->h.cpu[w] & ~have[w];
		unsigned b = lack ? (unsigned)__builtin_ctz(lack) : 0;
		const char *n = lack ? so_cpu_name(w, b) : NULL;
		char bit[48];

		if (!lack)
			continue;
		snprintf(bit, sizeof(bit), "CPUID %s bit %u", word[w], b);
		return so_fail(o, ENOTSUP,
			       "saved where the guest saw %s; this host lacks "
			       "%s",
			       n ? n : bit, n ? n : bit);
	}
	return 0;
}

/* Section i into a new buffer (checksum verified); NULL after so_fail. */
static void *so_section(struct sf_open *o, unsigned i, const char *name)
{
	const struct cowvm_snapfile_section *s = &o->h.section[i];
	void *p = malloc(s->length ? s->length : 1);
	int err = p ? sf_io(false, o->fd, p, s->length, s->offset) : -ENOMEM;

	if (!err && vmm_crc32c(0, p, s->length) != s->crc32c)
		err = -EBADMSG;
	if (err) {
		so_fail(o, -err, "%s section: %s", name,
			err == -EBADMSG ? "checksum mismatch" : strerror(-err));
		free(p);
		return NULL;
	}
	return p;
}

static struct cowvm_snapshot *so_snapshot(struct sf_open *o, unsigned depth);

#define SO_CHAIN_MAX 64 /* most parents a chain may have */

/* The path of o's parent: the name in o's header, relative to o's folder
 * unless absolute. */
static void so_parent_path(const struct sf_open *o, char *buf, size_t n)
{
	char *c = strdup(o->path);

	if (o->h.parent[0] == '/' || !c)
		snprintf(buf, n, "%.256s", o->h.parent);
	else
		snprintf(buf, n, "%s/%.256s", dirname(c), o->h.parent);
	free(c);
}

/* Open path into o (header checked); 0 or -errno with o->err. */
static int so_file(struct sf_open *o, const char *path)
{
	struct stat st;

	o->path = path;
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0 || fstat(o->fd, &st))
		return so_fail(o, errno, "%s", strerror(errno));
	o->size = (uint64_t)st.st_size;
	return so_header(o);
}

/* o's parent (the one o was saved against) as a snapshot; NULL with
 * o->err. */
static struct cowvm_snapshot *so_parent(struct sf_open *o, unsigned depth)
{
	char path[4400];
	struct sf_open p = {.fd = -1, .cfg = o->cfg};
	struct cowvm_snapshot *snap = NULL;
	int err;

	if (depth == SO_CHAIN_MAX) {
		so_fail(o, ELOOP, "more than %u parents", SO_CHAIN_MAX);
		return NULL;
	}
	so_parent_path(o, path, sizeof(path));
	err = so_file(&p, path);
	if (err == -ENOENT)
		so_fail(&p, ENOENT, "missing");
	if (!err && p.h.header_crc32c != o->h.parent_header_crc32c)
		err = so_fail(&p, ESTALE, "changed since its child was saved");
	if (!err && p.h.mem_size != o->h.mem_size)
		err = so_fail(&p, ENOEXEC, "RAM size differs from its child's");
	if (!err) {
		snap = so_snapshot(&p, depth + 1);
		err = snap ? 0 : -errno;
	}
	err = -err;
	if (p.fd >= 0)
		close(p.fd);
	if (!snap) {
		snprintf(o->err, sizeof(o->err), "%.200s: parent %.390s",
			 o->path, p.err);
		errno = err;
	}
	return snap;
}

/* Whether page i is marked stored in map. */
static bool so_stored(const uint8_t *map, uint64_t i)
{
	return map[i / 8] >> (i % 8) & 1;
}

/* Guest-physical address of RAM page i of o. */
static uint64_t so_gpa(const struct sf_open *o, uint64_t i)
{
	struct vmm_range r[VMM_MAX_RANGES];

	vmm_mem_layout(o->h.mem_size, r);
	return i < r[0].size / SO_PAGE
		       ? i * SO_PAGE
		       : r[1].gpa + (i - r[0].size / SO_PAGE) * SO_PAGE;
}

/* A child's stored pages over vm (a clone of its parent), runs of up to
 * SF_BLOCK at a time, each page checked against its sum first. */
static int so_child_pages(struct sf_open *o, struct cowvm *vm,
			  const uint8_t *map, const uint32_t *sums)
{
	uint64_t pages = o->h.mem_size / SO_PAGE;
	uint64_t base = o->h.section[COWVM_SNAPFILE_PAGES].offset;
	uint8_t *buf = malloc((size_t)SF_BLOCK * SO_PAGE);
	uint64_t at = 0; /* stored pages before page i */
	int err = buf ? 0 : so_fail(o, ENOMEM, "out of memory");

	for (uint64_t i = 0; i < so_map_bytes(&o->h); i++)
		at += (uint64_t)__builtin_popcount(map[i]);
	if (!err && at != o->h.nr_pages)
		err = so_fail(o, ENOEXEC, "its map holds %llu pages, not %llu",
			      (unsigned long long)at,
			      (unsigned long long)o->h.nr_pages);
	at = 0;
	for (uint64_t i = 0, j; !err && i < pages; at += j - i, i = j) {
		if (!so_stored(map, i)) {
			j = i % 8 || map[i / 8] ? i + 1 : i + 8;
			at -= j - i; /* none stored */
			continue;
		}
		for (j = i + 1;
		     j < pages && j - i < SF_BLOCK && so_stored(map, j) &&
		     so_gpa(o, j) == so_gpa(o, i) + (j - i) * SO_PAGE;
		     j++)
			;
		err = sf_io(false, o->fd, buf, (j - i) * SO_PAGE,
			    base + at * SO_PAGE);
		if (err)
			err = so_fail(o, -err, "pages: %s", strerror(-err));
		for (uint64_t k = i; !err && k < j; k++)
			if (vmm_crc32c(0, buf + (k - i) * SO_PAGE, SO_PAGE) !=
			    sums[at + k - i])
				err = so_fail(o, EBADMSG,
					      "pages section: checksum "
					      "mismatch at RAM page %llu",
					      (unsigned long long)k);
		uint8_t *p = err ? NULL
				 : vmm_gpa_write(vm, so_gpa(o, i),
						 (j - i) * SO_PAGE);

		if (p)
			memcpy(p, buf, (j - i) * SO_PAGE);
		else if (!err)
			err = so_fail(o, EFAULT, "%s", vm->err);
	}
	free(buf);
	return err;
}

/* A child file: its parent chain's snapshot cloned, its own pages and
 * state over the clone, a snapshot of that. */
static struct cowvm_snapshot *so_child(struct sf_open *o, unsigned depth,
				       struct vmm_state *st, const uint8_t *map,
				       const uint32_t *sums)
{
	struct cowvm_snapshot *parent = so_parent(o, depth), *snap = NULL;
	struct cowvm *vm = parent ? cowvm_clone(parent) : NULL;
	int err = vm ? 0 : errno ? errno : EIO;

	if (parent && !vm)
		so_fail(o, err, "%s", vmm_vm_error());
	if (vm)
		err = -so_child_pages(o, vm, map, sums);
	if (!err && vmm_state_restore(vm, st))
		err = -so_fail(o, EINVAL, "restore: %s", vm->err);
	if (!err) {
		snap = cowvm_snapshot(vm);
		if (!snap)
			err = -so_fail(o, errno, "%s", vm->err);
	}
	cowvm_destroy(vm);
	cowvm_snapshot_put(parent);
	vmm_state_free(st);
	errno = err;
	return snap;
}

/* A file without parent: its RAM image mapped in place, its map and pages
 * checked in the background. */
static struct cowvm_snapshot *so_root(struct sf_open *o, struct vmm_state *st)
{
	uint64_t pages = o->h.mem_size / SO_PAGE, off;
	struct vmm_mem_image *img = NULL;
	struct vmm_verify *v = NULL;
	struct cowvm_snapshot *snap;
	int err = 0;

	if (o->h.nr_pages != pages)
		err = so_fail(o, ENOEXEC,
			      "a file without parent stores %llu of %llu pages",
			      (unsigned long long)o->h.nr_pages,
			      (unsigned long long)pages);
	off = o->h.section[COWVM_SNAPFILE_PAGES].offset;
	if (!err &&
	    (err = vmm_mem_image_file(o->fd, off, o->h.mem_size,
				      o->cfg.mem_mode == COWVM_MEM_UFFD, &img)))
		so_fail(o, -err, "cannot map its pages: %s", strerror(-err));
	if (!err &&
	    (err = vmm_verify_start(o->fd, o->path, off, pages,
				    o->h.section + COWVM_SNAPFILE_MAP,
				    o->h.section + COWVM_SNAPFILE_SUMS, &v)))
		so_fail(o, -err, "cannot check its pages: %s", strerror(-err));
	if (err) {
		vmm_mem_image_put(img);
		vmm_state_free(st);
		errno = -err;
		return NULL;
	}
	snap = vmm_snapshot_make(&o->cfg, st, img, v);
	vmm_verify_put(v);
	if (!snap)
		so_fail(o, ENOMEM, "out of memory");
	return snap;
}

/* The snapshot o's file holds; NULL with errno and o->err. */
static struct cowvm_snapshot *so_snapshot(struct sf_open *o, unsigned depth)
{
	void *packed = so_section(o, COWVM_SNAPFILE_STATE, "state");
	/* a root's map (all set) and sums are checked in the background:
	 * reading them here would cost page faults and an munmap per open */
	bool child = o->h.parent[0];
	uint8_t *map = packed && child
			       ? so_section(o, COWVM_SNAPFILE_MAP, "map")
			       : NULL;
	uint32_t *sums =
		map ? so_section(o, COWVM_SNAPFILE_SUMS, "sums") : NULL;
	struct vmm_state *st = NULL;
	struct cowvm_snapshot *snap = NULL;
	int err = packed && (!child || sums) ? 0 : EBADMSG;

	if (!err && (err = so_cpu(o)))
		err = -err;
	if (!err &&
	    vmm_state_unpack(packed, o->h.section[COWVM_SNAPFILE_STATE].length,
			     &st))
		err = -so_fail(o, ENOEXEC, "state section: not this build's");
	if (!err && child)
		snap = so_child(o, depth, st, map, sums);
	else if (!err)
		snap = so_root(o, st);
	free(sums);
	err = snap ? 0 : err ? err : errno;
	free(packed);
	free(map);
	errno = err;
	return snap;
}

/* Open the snapshot saved at path, for VMs of cfg (NULL: defaults; its
 * mem_size must be 0 or the file's); NULL with errno and cowvm_error(NULL)
 * naming the file and the cause. */
struct cowvm_snapshot *cowvm_snapshot_open(const char *path,
					   const struct cowvm_config *cfg)
{
	struct sf_open o = {.path = path ? path : "", .fd = -1};
	struct cowvm_snapshot *snap = NULL;
	int err = path ? -so_file(&o, path) : -so_fail(&o, EINVAL, "no path");

	if (cfg)
		o.cfg = *cfg;
	else
		cowvm_config_init(&o.cfg);
	if (!err && cfg && cfg->mem_size && cfg->mem_size != o.h.mem_size)
		err = -so_fail(&o, EINVAL,
			       "holds %llu bytes of RAM, the config asks for "
			       "%llu",
			       (unsigned long long)o.h.mem_size,
			       (unsigned long long)cfg->mem_size);
	o.cfg.mem_size = o.h.mem_size;
	if (!err) {
		snap = so_snapshot(&o, 0);
		err = snap ? 0 : errno;
	}
	if (o.fd >= 0)
		close(o.fd);
	if (err) {
		vmm_vm_set_error(o.err);
		errno = err > 0 ? err : -err;
	}
	return snap;
}
