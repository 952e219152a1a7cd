/* Helpers shared by the guest RAM tests: bare KVM VMs, checks, models. */
#ifndef MEM_TEST_H
#define MEM_TEST_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include <linux/kvm.h>

#include "mem_internal.h"
#include "test.h"

#define MiB  (1ull << 20)
#define GiB  (1ull << 30)
#define PAGE 4096ull

/* A bare KVM VM (no vCPU) to register memslots in; exits 77 without KVM. */
static inline int kvm_vm(void)
{
	int kvm, vm;

	test_require_kvm();
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	TEST_ASSERT(kvm >= 0, "open /dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	TEST_ASSERT(vm >= 0, "KVM_CREATE_VM");
	close(kvm);
	return vm;
}

/* A mem of size bytes in mode on a VM of its own (*vm_fd). */
static inline struct vmm_mem *mem_new(uint64_t size, enum cowvm_mem_mode mode,
				      bool empty, int *vm_fd)
{
	struct vmm_mem *mem;

	*vm_fd = kvm_vm();
	TEST_OK(vmm_mem_create(*vm_fd, size, mode, empty, &mem));
	return mem;
}

/* Destroy a mem made by mem_new and close its VM. */
static inline void mem_free(struct vmm_mem *mem, int vm_fd)
{
	close(vm_fd);
	vmm_mem_destroy(mem);
}

/* Fail unless the mem checker accepts mem. */
#define CHECK_MEM(mem, full)                                                   \
	do {                                                                   \
		char why_[256];                                                \
		int r_ = vmm_mem_check((mem), (full), why_, sizeof(why_));     \
		TEST_ASSERT(r_ == 0, "mem checker: %d %s", r_, why_);          \
	} while (0)

/* Deterministic bytes derived from seed (xorshift). */
static inline void fill(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

/* Host-write len bytes of seeded pattern at gpa, mirrored into model
 * (model indexed by RAM offset; NULL for none). */
static inline void host_write(struct vmm_mem *mem, uint8_t *model, uint64_t gpa,
			      size_t len, uint64_t seed)
{
	uint8_t *p = vmm_mem_gpa_write(mem, gpa, len);
	uint8_t *buf = malloc(len);

	TEST_ASSERT(p && buf, "gpa_write %#llx+%zu", (unsigned long long)gpa,
		    len);
	fill(buf, len, seed);
	memcpy(p, buf, len);
	if (model)
		memcpy(model + (p - mem->base), buf, len);
	free(buf);
}

/* Fail unless all of mem reads as model (by RAM offset). */
static inline void expect_model(struct vmm_mem *mem, const uint8_t *model)
{
	for (uint64_t off = 0; off < mem->size; off += PAGE)
		TEST_ASSERT(
			!memcmp(mem->base + off, model + off, PAGE),
			"page %llu (gpa %#llx) differs from the model",
			(unsigned long long)(off / PAGE),
			(unsigned long long)vmm_mem_off_gpa(mem, off / PAGE));
}

/* Fail unless img's table holds model (by RAM offset). */
static inline void expect_image(struct vmm_mem *like, struct vmm_mem_image *img,
				const uint8_t *model)
{
	uint8_t page[PAGE];

	for (uint64_t off = 0; off < like->size; off += PAGE) {
		TEST_OK(cow_tree_read(img->tree,
				      vmm_mem_off_gpa(like, off / PAGE), page,
				      PAGE));
		TEST_ASSERT(!memcmp(page, model + off, PAGE),
			    "image page %llu differs from the model",
			    (unsigned long long)(off / PAGE));
	}
}

/* Memory stats of mem. */
static inline struct cowvm_mem_stats mem_stats(struct vmm_mem *mem)
{
	struct cowvm_mem_stats st;

	TEST_OK(vmm_mem_stats(mem, &st));
	return st;
}

/* Bytes of anonymous memory of this process (smaps_rollup). */
static inline uint64_t anon_bytes(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "re");
	char line[256];
	unsigned long long kb = 0;

	TEST_ASSERT(f, "smaps_rollup");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Anonymous: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* Bytes of [lo, lo + len) covered by mappings (/proc/self/maps); 0 for a
 * hole. */
static inline uint64_t mapped_bytes(const void *lo, uint64_t len)
{
	uint64_t a = (uint64_t)(uintptr_t)lo, b = a + len, n = 0;
	unsigned long long s, e;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	TEST_ASSERT(f, "/proc/self/maps");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx-%llx", &s, &e) == 2 && e > a && s < b)
			n += (e < b ? e : b) - (s > a ? s : a);
	fclose(f);
	return n;
}

/* Mappings (VMAs) of this process. */
static inline unsigned vma_count(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned n = 0;
	int c;

	TEST_ASSERT(f, "/proc/self/maps");
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Map one anonymous page at p, where nothing may be mapped, holding the
 * byte mark: something that is not the VM's in its region. */
static inline void *foreign_page(void *p, uint8_t mark)
{
	void *q =
		mmap(p, PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	TEST_ASSERT(q == p, "foreign page at %p: got %p", p, q);
	memset(q, mark, PAGE);
	return q;
}

/* Fail unless the foreign page at p is still mapped and holds mark. */
static inline void expect_foreign(const void *p, uint8_t mark)
{
	const uint8_t *b = p;

	TEST_ASSERT(mapped_bytes(p, PAGE) == PAGE, "foreign page %p gone", p);
	for (uint64_t i = 0; i < PAGE; i++)
		TEST_ASSERT(b[i] == mark, "foreign page %p byte %llu: %u", p,
			    (unsigned long long)i, b[i]);
}

/* Monotonic seconds. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Name of a mode for messages. */
static inline const char *mode_name(enum cowvm_mem_mode m)
{
	return m == COWVM_MEM_UFFD ? "uffd" : "kernel";
}

#endif
