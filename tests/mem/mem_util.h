/* Helpers shared by the guest RAM tests: bare KVM VMs, mems on them, host
 * writes mirrored into byte models, checks against the models, and views of
 * this process's mappings. */
#ifndef MEM_UTIL_H
#define MEM_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "mem_internal.h"
#include "test_util.h"

#define MiB  (1ull << 20)
#define GiB  (1ull << 30)
#define PAGE 4096ull

/* Fail unless the mem checker accepts mem. */
#define CHECK_MEM(mem, full)                                                   \
	do {                                                                   \
		char why_[256];                                                \
		int r_ = vmm_mem_check((mem), (full), why_, sizeof(why_));     \
		TEST_ASSERT_EQ(r_, 0, "mem checker: %s", why_);                \
	} while (0)

/* A bare KVM VM (no vCPU) to register memslots in; exits 77 without KVM. */
int mt_kvm_vm(void);

/* A mem of size bytes in mode on a VM of its own (*vm_fd). */
struct vmm_mem *mt_mem_new(uint64_t size, enum cowvm_mem_mode mode, bool empty,
			   int *vm_fd);

/* Destroy a mem made by mt_mem_new and close its VM. */
void mt_mem_free(struct vmm_mem *mem, int vm_fd);

/* Host-write len bytes of seeded pattern at gpa, mirrored into model
 * (model indexed by RAM offset; NULL for none). */
void mt_host_write(struct vmm_mem *mem, uint8_t *model, uint64_t gpa,
		   size_t len, uint64_t seed);

/* Fail unless all of mem reads as model (by RAM offset). */
void mt_expect_model(struct vmm_mem *mem, const uint8_t *model);

/* Fail unless img's table holds model (by RAM offset of like's layout). */
void mt_expect_image(struct vmm_mem *like, struct vmm_mem_image *img,
		     const uint8_t *model);

/* Memory stats of mem. */
struct cowvm_mem_stats mt_mem_stats(struct vmm_mem *mem);

/* Bytes of anonymous memory of this process (smaps_rollup). */
uint64_t mt_anon_bytes(void);

/* Bytes of [lo, lo + len) covered by mappings (/proc/self/maps); 0 for a
 * hole. */
uint64_t mt_mapped_bytes(const void *lo, uint64_t len);

/* Mappings (VMAs) of this process. */
unsigned mt_vma_count(void);

/* Map one anonymous page at p, where nothing may be mapped, holding the
 * byte mark: something that is not the VM's in its region. */
void *mt_foreign_page(void *p, uint8_t mark);

/* Fail unless the foreign page at p is still mapped and holds mark. */
void mt_expect_foreign(const void *p, uint8_t mark);

/* Name of a mode for messages. */
const char *mt_mode_name(enum cowvm_mem_mode m);

#endif
