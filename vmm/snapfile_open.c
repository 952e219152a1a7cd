/* Opening a snapshot file (cowvm_snapfile.h): every check before anything
 * is trusted (magic, version, header checksum, layout, bounds, this host's
 * CPU features, each section's checksum), then the pages read straight into
 * a new VM's RAM, the state restored into it and a snapshot taken of it.
 * The snapshot holds its own copy: the file may go or change afterwards. */
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
	struct cowvm *vm;
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
	if (h->section[COWVM_SNAPFILE_PAGES].length != h->nr_pages * SO_PAGE ||
	    h->section[COWVM_SNAPFILE_MAP].length != h->nr_pages * 8)
		return so_fail(o, ENOEXEC, "page count and sections disagree");
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
	const uint32_t *have = o->vm->vcpu.features;

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

/* Whether gpa is a page of o's RAM. */
static bool so_in_ram(const struct sf_open *o, uint64_t gpa)
{
	struct vmm_range r[VMM_MAX_RANGES];
	unsigned n = vmm_mem_layout(o->h.mem_size, r);

	for (unsigned i = 0; i < n; i++)
		if (gpa >= r[i].gpa && gpa - r[i].gpa < r[i].size)
			return gpa % SO_PAGE == 0;
	return false;
}

static int so_chain(struct sf_open *o, unsigned depth);

/* Read the stored pages into o->vm's RAM, runs of consecutive pages at a
 * time, checking the map and the pages' checksum. */
static int so_pages(struct sf_open *o, const uint64_t *map)
{
	const struct cowvm_snapfile_section *s =
		&o->h.section[COWVM_SNAPFILE_PAGES];
	uint64_t n = o->h.nr_pages, off = s->offset;
	uint32_t crc = 0;

	for (uint64_t i = 0, j; i < n; i = j) {
		uint8_t *p;
		int err;

		for (j = i + 1;
		     j < n && map[j] == map[j - 1] + SO_PAGE && j - i < 1024;
		     j++)
			;
		for (uint64_t k = i; k < j; k++)
			if (!so_in_ram(o, map[k]) ||
			    (k && map[k] <= map[k - 1]))
				return so_fail(
					o, ENOEXEC,
					"page map entry %llu (0x%llx) is "
					"not an ascending page of RAM",
					(unsigned long long)k,
					(unsigned long long)map[k]);
		p = vmm_mem_gpa_write(o->vm->mem, map[i], (j - i) * SO_PAGE);
		err = p ? sf_io(false, o->fd, p, (j - i) * SO_PAGE, off)
			: -EFAULT;
		if (err)
			return so_fail(o, -err, "pages: %s", strerror(-err));
		crc = vmm_crc32c(crc, p, (j - i) * SO_PAGE);
		off += (j - i) * SO_PAGE;
	}
	if (crc != s->crc32c)
		return so_fail(o, EBADMSG, "pages section: checksum mismatch");
	return 0;
}

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

/* Open o's parent p (header checked, the one o was saved against), then
 * load its chain into o->vm; 0 or -errno with o->err. */
static int so_parent(struct sf_open *o, unsigned depth)
{
	char path[4400];
	struct sf_open p = {.path = path, .fd = -1, .vm = o->vm};
	struct stat st;
	int err = 0;

	if (depth == SO_CHAIN_MAX)
		return so_fail(o, ELOOP, "more than %u parents", SO_CHAIN_MAX);
	so_parent_path(o, path, sizeof(path));
	p.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p.fd < 0 || fstat(p.fd, &st))
		err = so_fail(&p, errno, "missing: %s", strerror(errno));
	p.size = err ? 0 : (uint64_t)st.st_size;
	if (!err)
		err = so_header(&p);
	if (!err && p.h.header_crc32c != o->h.parent_header_crc32c)
		err = so_fail(&p, ESTALE, "changed since its child was saved");
	if (!err && p.h.mem_size != o->h.mem_size)
		err = so_fail(&p, ENOEXEC, "RAM size differs from its child's");
	if (!err)
		err = so_chain(&p, depth + 1);
	if (p.fd >= 0)
		close(p.fd);
	if (err)
		snprintf(o->err, sizeof(o->err), "%.200s: parent %.390s",
			 o->path, p.err);
	return err;
}

/* The pages of o's chain into o->vm, oldest parent first. */
static int so_chain(struct sf_open *o, unsigned depth)
{
	uint64_t *map;
	int err = o->h.parent[0] ? so_parent(o, depth) : 0;

	if (err)
		return err;
	map = so_section(o, COWVM_SNAPFILE_MAP, "map");
	err = map ? so_pages(o, map) : -EBADMSG;
	free(map);
	return err;
}

/* A new VM of the file's size and mode, cfg's other settings. */
static int so_vm(struct sf_open *o, const struct cowvm_config *cfg)
{
	struct cowvm_config c;

	if (cfg)
		c = *cfg;
	else
		cowvm_config_init(&c);
	if (cfg && cfg->mem_size && cfg->mem_size != o->h.mem_size)
		return so_fail(o, EINVAL,
			       "holds %llu bytes of RAM, the config asks for "
			       "%llu",
			       (unsigned long long)o->h.mem_size,
			       (unsigned long long)cfg->mem_size);
	c.mem_size = o->h.mem_size;
	o->vm = cowvm_create(&c);
	if (!o->vm)
		return so_fail(o, errno ? errno : EINVAL, "%s",
			       cowvm_error(NULL));
	return 0;
}

/* State and RAM into o->vm. */
static int so_fill(struct sf_open *o)
{
	void *packed = so_section(o, COWVM_SNAPFILE_STATE, "state");
	struct vmm_state *st = NULL;
	int err = packed ? 0 : -EBADMSG;

	if (!err &&
	    vmm_state_unpack(packed, o->h.section[COWVM_SNAPFILE_STATE].length,
			     &st))
		err = so_fail(o, ENOEXEC, "state section: not this build's");
	if (!err)
		err = so_chain(o, 0);
	if (!err && vmm_state_restore(o->vm, st))
		err = so_fail(o, EINVAL, "restore: %s", o->vm->err);
	vmm_state_free(st);
	free(packed);
	return err;
}

/* Open the snapshot saved at path, for VMs of cfg (NULL: defaults; its
 * mem_size must be 0 or the file's); NULL with errno and cowvm_error(NULL)
 * naming the file and the cause. */
struct cowvm_snapshot *cowvm_snapshot_open(const char *path,
					   const struct cowvm_config *cfg)
{
	struct sf_open o = {.path = path ? path : "", .fd = -1};
	struct cowvm_snapshot *snap = NULL;
	struct stat st;
	int err = 0;

	o.fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (o.fd < 0 || fstat(o.fd, &st))
		err = so_fail(&o, path ? errno : EINVAL, "%s",
			      strerror(path ? errno : EINVAL));
	o.size = err ? 0 : (uint64_t)st.st_size;
	if (!err)
		err = so_header(&o);
	if (!err)
		err = so_vm(&o, cfg);
	if (!err)
		err = so_cpu(&o);
	if (!err)
		err = so_fill(&o);
	if (!err) {
		snap = cowvm_snapshot(o.vm);
		if (!snap)
			err = so_fail(&o, errno, "%s", o.vm->err);
	}
	if (o.fd >= 0)
		close(o.fd);
	cowvm_destroy(o.vm);
	if (err) {
		vmm_vm_set_error(o.err);
		errno = -err;
	}
	return snap;
}
