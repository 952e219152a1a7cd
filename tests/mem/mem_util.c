/* Helpers of the guest RAM tests: bare KVM VMs and mems, byte models, and
 * this process's mappings read from /proc. */
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kvm.h>

#include "mem_util.h"

/* A bare KVM VM (no vCPU) to register memslots in; exits 77 without KVM. */
int mt_kvm_vm(void)
{
	int kvm, vm;

	test_require_kvm();
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	TEST_ASSERT_GE(kvm, 0, "open /dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	TEST_ASSERT_GE(vm, 0, "KVM_CREATE_VM");
	close(kvm);
	return vm;
}

/* A mem of size bytes in mode on a VM of its own (*vm_fd). */
struct vmm_mem *mt_mem_new(uint64_t size, enum cowvm_mem_mode mode, bool empty,
			   int *vm_fd)
{
	struct vmm_mem *mem;

	*vm_fd = mt_kvm_vm();
	TEST_OK(vmm_mem_create(*vm_fd, size, mode, empty, &mem));
	return mem;
}

/* Destroy a mem made by mt_mem_new and close its VM. */
void mt_mem_free(struct vmm_mem *mem, int vm_fd)
{
	close(vm_fd);
	vmm_mem_destroy(mem);
}

/* Host-write len bytes of seeded pattern at gpa, mirrored into model. */
void mt_host_write(struct vmm_mem *mem, uint8_t *model, uint64_t gpa,
		   size_t len, uint64_t seed)
{
	uint8_t *p = vmm_mem_gpa_write(mem, gpa, len);
	uint8_t *buf = malloc(len);

	TEST_ASSERT(p && buf, "gpa_write %#llx+%zu", (unsigned long long)gpa,
		    len);
	test_fill(buf, len, seed);
	memcpy(p, buf, len);
	if (model)
		memcpy(model + (p - mem->base), buf, len);
	free(buf);
}

/* Fail unless all of mem reads as model (by RAM offset). */
void mt_expect_model(struct vmm_mem *mem, const uint8_t *model)
{
	for (uint64_t off = 0; off < mem->size; off += PAGE)
		TEST_ASSERT(
			!memcmp(mem->base + off, model + off, PAGE),
			"page %llu (gpa %#llx) differs from the model",
			(unsigned long long)(off / PAGE),
			(unsigned long long)vmm_mem_off_gpa(mem, off / PAGE));
}

/* Fail unless img's table holds model (by RAM offset). */
void mt_expect_image(struct vmm_mem *like, struct vmm_mem_image *img,
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
struct cowvm_mem_stats mt_mem_stats(struct vmm_mem *mem)
{
	struct cowvm_mem_stats st;

	TEST_OK(vmm_mem_stats(mem, &st));
	return st;
}

/* Bytes of anonymous memory of this process (smaps_rollup). */
uint64_t mt_anon_bytes(void)
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

/* Bytes of [lo, lo + len) covered by mappings; 0 for a hole. */
uint64_t mt_mapped_bytes(const void *lo, uint64_t len)
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
unsigned mt_vma_count(void)
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
 * byte mark. */
void *mt_foreign_page(void *p, uint8_t mark)
{
	void *q =
		mmap(p, PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	TEST_ASSERT_EQ(q, p, "foreign page");
	memset(q, mark, PAGE);
	return q;
}

/* Fail unless the foreign page at p is still mapped and holds mark. */
void mt_expect_foreign(const void *p, uint8_t mark)
{
	const uint8_t *b = p;

	TEST_ASSERT_EQ(mt_mapped_bytes(p, PAGE), PAGE, "foreign page %p gone",
		       p);
	for (uint64_t i = 0; i < PAGE; i++)
		TEST_ASSERT_EQ(b[i], mark, "foreign page %p byte %llu", p,
			       (unsigned long long)i);
}

/* Name of a mode for messages. */
const char *mt_mode_name(enum cowvm_mem_mode m)
{
	return m == COWVM_MEM_UFFD ? "uffd" : "kernel";
}
