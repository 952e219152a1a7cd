/* Guest RAM lifecycle: memslots over one VA region of the arena, fresh RAM
 * on its own window, host access and accounting. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "mem_internal.h"

/* The realization COWVM_MEM_DEFAULT selects. KERNEL, by measurement on
 * our nested KVM: a guest's first write to a shared page costs ~8-15 us
 * (the host kernel's copy on write, with dirty logging) against ~40-50 us
 * through userfaultfd, and realizing 4 GiB into an empty VM ~0.6-1 ms
 * against ~7 ms (write-protecting the whole range is O(memory)); folding
 * and resetting cost the same in both modes. The written pages come from
 * KVM's dirty log (~30 us at 4 GiB whatever was touched), not from
 * PAGEMAP_SCAN, which walks every mapped page (~7-13 ms once a VM has read
 * 1 GiB). */
#define VMM_MEM_DEFAULT COWVM_MEM_KERNEL

static _Atomic(uint8_t *) vmm_last_hole; /* for tests */

/* Register slot i of mem with KVM; 0 or -errno. */
static int mem_register(struct vmm_mem *mem, unsigned i)
{
	struct kvm_userspace_memory_region region = {
		.slot = i,
		.flags = mem->mode == COWVM_MEM_KERNEL ? KVM_MEM_LOG_DIRTY_PAGES
						       : 0,
		.guest_phys_addr = mem->slot[i].range.gpa,
		.memory_size = mem->slot[i].range.size,
		.userspace_addr =
			(uint64_t)(uintptr_t)(mem->base +
					      mem->slot[i].off * VMM_PAGE),
	};

	if (vmm_ioctl(mem->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return -errno;
	return 0;
}

/* Ask KVM to write-protect logged pages again only on KVM_CLEAR_DIRTY_LOG
 * (before any slot exists), so that hot pages can stay writable; without
 * the capability every collection re-protects everything. */
static void mem_manual_protect(struct vmm_mem *mem)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = {KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE},
	};

	mem->manual = vmm_ioctl(mem->vm_fd, KVM_CHECK_EXTENSION,
				KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) > 0 &&
		      vmm_ioctl(mem->vm_fd, KVM_ENABLE_CAP, &cap) == 0;
}

/* Give mem a window of its own, map it linearly in a new table and map
 * the region MAP_SHARED onto it; O(pages) once. 0 or -errno. */
static int mem_fresh(struct vmm_mem *mem)
{
	struct cow_store *s = vmm_store();
	int64_t w;
	int err = 0;

	pthread_mutex_lock(&vmm_store_lock);
	mem->tree = vmm_fault(VMM_FAULT_COW) ? NULL : cow_tree_create(s);
	w = mem->tree ? cow_window_reserve(s, mem->pages) : -ENOMEM;
	for (unsigned i = 0; w >= 0 && !err && i < mem->nr; i++)
		err = cow_tree_map_linear(mem->tree, mem->slot[i].range.gpa,
					  mem->slot[i].range.size / VMM_PAGE,
					  (uint32_t)(w + mem->slot[i].off));
	if (w >= 0)
		cow_window_release(s, (uint32_t)w, mem->pages);
	pthread_mutex_unlock(&vmm_store_lock);
	if (w < 0)
		return (int)w;
	if (err)
		return err;
	mem->ext = vmm_extents_new(1);
	if (!mem->ext)
		return -ENOMEM;
	mem->ext->e[0] = (struct vmm_extent){0, mem->pages, (uint32_t)w};
	mem->direct = true;
	return vmm_mem_map_range(mem, mem->ext, 0, mem->pages, true);
}

/* Reserve the VA region, fill it (unless empty), register the slots. */
int vmm_mem_create(int vm_fd, uint64_t size, enum cowvm_mem_mode mode,
		   bool empty, struct vmm_mem **out)
{
	struct vmm_range r[VMM_MAX_RANGES];
	struct vmm_mem *mem;
	uint64_t off = 0;
	int err = 0;

	if (!size || size % VMM_PAGE || mode > COWVM_MEM_UFFD)
		return -EINVAL;
	mem = vmm_calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	mem->vm_fd = vm_fd;
	mem->size = size;
	mem->pages = size / VMM_PAGE;
	mem->mode = mode == COWVM_MEM_DEFAULT ? VMM_MEM_DEFAULT : mode;
	mem->pagemap = -1;
	mem->uffd.fd = -1;
	mem->uffd.stop[0] = mem->uffd.stop[1] = -1;
	mem->nr = vmm_mem_layout(size, r);
	for (unsigned i = 0; i < mem->nr; i++) {
		mem->slot[i].range = r[i];
		mem->slot[i].off = off;
		off += r[i].size / VMM_PAGE;
	}
	if (!vmm_store_get()) {
		free(mem);
		return errno ? -errno : -ENOMEM;
	}
	err = vmm_arena_alloc(size, &mem->base, &mem->span);
	if (!err && empty) { /* a hole: realizing then replaces nothing */
		if (vmm_munmap(mem->base, size) < 0)
			err = -errno;
		else
			mem->hole = true;
	}
	if (!err && empty)
		atomic_store(&vmm_last_hole, mem->base);
	if (!err) {
		mem->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		if (mem->pagemap < 0)
			err = -errno;
	}
	if (!err)
		err = vmm_mem_record_init(mem);
	if (!err && mem->mode == COWVM_MEM_UFFD)
		err = vmm_uffd_start(mem);
	if (!err && mem->mode == COWVM_MEM_KERNEL)
		mem_manual_protect(mem);
	if (!err && !empty)
		err = mem_fresh(mem);
	for (unsigned i = 0; !err && i < mem->nr; i++)
		err = mem_register(mem, i);
	if (err) {
		vmm_mem_destroy(mem);
		return err;
	}
	*out = mem;
	return 0;
}

/* Host address of [gpa, gpa + len) if it lies in one RAM range, else NULL. */
void *vmm_mem_gpa(const struct vmm_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; !mem->broken && i < mem->nr; i++) {
		const struct vmm_mem_slot *s = &mem->slot[i];
		uint64_t off = gpa - s->range.gpa;

		if (gpa < s->range.gpa || off >= s->range.size)
			continue;
		if (len > s->range.size - off)
			return NULL;
		return mem->base + s->off * VMM_PAGE + off;
	}
	return NULL;
}

/* Page by page: a lazy page not filled yet from its frame, else in place. */
int vmm_mem_read(struct vmm_mem *mem, uint64_t gpa, void *buf, uint64_t len)
{
	const uint8_t *p = vmm_mem_gpa(mem, gpa, len);
	uint8_t *out = buf;

	if (!p)
		return -EFAULT;
	while (len) {
		uint64_t at = (uint64_t)(p - mem->base), pos = at % VMM_PAGE;
		uint64_t n = VMM_PAGE - pos < len ? VMM_PAGE - pos : len;

		if (!mem->tree ||
		    !vmm_lazy_read(mem, at / VMM_PAGE, pos, out, n))
			memcpy(out, p, n);
		p += n;
		out += n;
		len -= n;
	}
	return 0;
}

/* Copy len bytes (whole pages) of img's RAM at gpa into buf, from the
 * frames its table maps, zero where it maps none. */
void vmm_mem_image_read(const struct vmm_mem_image *img, uint64_t gpa,
			void *buf, uint64_t len)
{
	uint8_t *out = buf;

	pthread_mutex_lock(&vmm_store_lock);
	for (uint64_t o = 0; o < len; o += VMM_PAGE) {
		int64_t f = cow_tree_translate(img->tree, gpa + o);

		if (f < 0)
			memset(out + o, 0, VMM_PAGE);
		else
			memcpy(out + o, cow_frame_ptr(vmm_store(), (uint32_t)f),
			       VMM_PAGE);
	}
	pthread_mutex_unlock(&vmm_store_lock);
}

/* Whether img and other map the same frame (or none) at page gpa. */
bool vmm_mem_image_same(const struct vmm_mem_image *img,
			const struct vmm_mem_image *other, uint64_t gpa)
{
	int64_t a, b;

	pthread_mutex_lock(&vmm_store_lock);
	a = cow_tree_translate(img->tree, gpa);
	b = cow_tree_translate(other->tree, gpa);
	pthread_mutex_unlock(&vmm_store_lock);
	return a == b || (a < 0 && b < 0);
}

/* Where the last data or hole lookup of image_held landed: [lo, hi) of fd
 * is data (or a hole). */
struct held_cursor {
	int fd;
	bool data;
	uint64_t lo, hi;
};

/* Whether byte off of fd lies in data (not in a hole: a page of a memfd
 * never touched, or of a file never written). */
static bool held_data(struct held_cursor *c, int fd, uint64_t off)
{
	off_t d, h;

	if (c->fd == fd && off >= c->lo && off < c->hi)
		return c->data;
	d = lseek(fd, (off_t)off, SEEK_DATA);
	c->fd = fd;
	if (d < 0 || (uint64_t)d > off) { /* a hole up to d (or the end) */
		c->data = false;
		c->lo = off;
		c->hi = d < 0 ? UINT64_MAX : (uint64_t)d;
		return false;
	}
	h = lseek(fd, (off_t)off, SEEK_HOLE);
	c->data = true;
	c->lo = off;
	c->hi = h < 0 ? off + VMM_PAGE : (uint64_t)h;
	return true;
}

/* Set in bits the page at RAM offset off if img maps gpa to a frame that
 * holds data; under the store lock. */
static void image_held_page(const struct vmm_mem_image *img, uint64_t gpa,
			    uint64_t off, struct held_cursor *c, uint64_t *bits)
{
	int64_t f = cow_tree_translate(img->tree, gpa);
	uint64_t at;
	int fd;

	if (f < 0)
		return;
	cow_frame_source(vmm_store(), (uint32_t)f, &fd, &at);
	if (held_data(c, fd, at))
		bits[off / 64] |= 1ull << (off % 64);
}

/* The pages img holds (vmm_mem.h). */
uint64_t *vmm_mem_image_held(const struct vmm_mem_image *img)
{
	struct vmm_range r[VMM_MAX_RANGES];
	unsigned n = vmm_mem_layout(img->size, r);
	uint64_t pages = img->size / VMM_PAGE, off = 0;
	uint64_t *bits = vmm_calloc(vmm_bitmap_words(pages), sizeof(*bits));
	struct held_cursor c = {.fd = -1};

	if (!bits) {
		errno = ENOMEM;
		return NULL;
	}
	for (unsigned i = 0; i < n; i++)
		for (uint64_t p = 0; p < r[i].size / VMM_PAGE;) {
			pthread_mutex_lock(&vmm_store_lock); /* 512 at a time */
			do
				image_held_page(img, r[i].gpa + p * VMM_PAGE,
						off++, &c, bits);
			while (++p < r[i].size / VMM_PAGE && p % 512);
			pthread_mutex_unlock(&vmm_store_lock);
		}
	return bits;
}

/* Translate, then record the pages (in UFFD mode also open them for
 * writing, so that the write does not fault). */
void *vmm_mem_gpa_write(struct vmm_mem *mem, uint64_t gpa, uint64_t len)
{
	uint8_t *p = vmm_mem_gpa(mem, gpa, len);
	uint64_t first, last;
	int err = 0;

	if (!p || !mem->tree)
		return NULL;
	vmm_mem_watch_write(mem, gpa, len);
	if (mem->direct || !len)
		return p; /* writes land in mem's own frames */
	first = (uint64_t)(p - mem->base) / VMM_PAGE;
	last = (uint64_t)(p + len - 1 - mem->base) / VMM_PAGE;
	if (mem->mode == COWVM_MEM_UFFD)
		err = vmm_uffd_unprotect(mem, first, last - first + 1);
	else
		(void)vmm_mem_record(mem, first, last - first + 1);
	return err ? NULL : p; /* a failed record is kept for the next fold */
}

/* Bytes of guest RAM. */
uint64_t vmm_mem_size(const struct vmm_mem *mem)
{
	return mem->size;
}

/* The realization in use. */
enum cowvm_mem_mode vmm_mem_mode(const struct vmm_mem *mem)
{
	return mem->mode;
}

/* Table accounting, then move written pages the table still shares to
 * private (the VM holds its own copy of each); kept copies not written
 * since are counted apart. */
int vmm_mem_stats(struct vmm_mem *mem, struct cowvm_mem_stats *st)
{
	struct vmm_runs runs = {0};
	struct cow_stats cs;
	uint64_t kept;
	int err;

	if (!mem->tree)
		return -EINVAL;
	err = mem->direct ? 0 : vmm_mem_written_runs(mem, &runs);
	if (err)
		return err;
	pthread_mutex_lock(&vmm_store_lock);
	cow_tree_stats(mem->tree, &cs);
	kept = mem->nkept;
	for (uint64_t i = 0; i < runs.n; i++)
		for (uint64_t k = 0; k < runs.r[i].n; k++) {
			uint64_t off = runs.r[i].off + k;

			if (vmm_mem_hot_clean(mem, off))
				continue; /* not written: still kept */
			kept -= vmm_mem_is_kept(mem, off);
			if (!cow_tree_page_private(mem->tree,
						   vmm_mem_off_gpa(mem, off))) {
				cs.pages_private++;
				cs.pages_shared--;
			}
		}
	pthread_mutex_unlock(&vmm_store_lock);
	vmm_runs_free(&runs);
	*st = (struct cowvm_mem_stats){
		.pages_mapped = cs.pages_mapped,
		.pages_private = cs.pages_private,
		.pages_shared = cs.pages_shared,
		.table_bytes = cs.table_bytes,
		.table_private_bytes = cs.table_private_bytes,
		.pages_kept = kept,
		.mappings = mem->ext->n,
		.pages_lazy = vmm_extents_lazy_pages(mem->ext),
	};
	return 0;
}

/* Pages written since the last fold. */
int64_t vmm_mem_written(struct vmm_mem *mem)
{
	struct vmm_runs runs = {0};
	int64_t n = 0;
	int err = mem->direct ? 0 : vmm_mem_written_runs(mem, &runs);

	if (err)
		return err;
	for (uint64_t i = 0; i < runs.n; i++)
		n += (int64_t)runs.r[i].n;
	vmm_runs_free(&runs);
	return n;
}

/* In a forked child: a new store and no lazy handler from now on. */
void vmm_mem_fork_child(void)
{
	vmm_store_fork_child();
	vmm_lazy_fork_child();
}

/* The region of the last empty mem created. */
void *vmm_mem_last_hole(void)
{
	return atomic_load(&vmm_last_hole);
}

/* Drop the table and the extents. */
void vmm_mem_release(struct vmm_mem *mem)
{
	pthread_mutex_lock(&vmm_store_lock);
	cow_tree_destroy(mem->tree);
	pthread_mutex_unlock(&vmm_store_lock);
	mem->tree = NULL;
	vmm_extents_put(mem->ext);
	mem->ext = NULL;
	mem->direct = false;
	mem->base_id = 0;
	vmm_mem_unkeep(mem, 0, mem->pages);
	vmm_mem_watch(mem, NULL, 0);
}

/* Reserve the region PROT_NONE again and give it back to the arena: over
 * mem's own mappings with MAP_FIXED, into a hole only where nothing else
 * got mapped meanwhile; a region holding a foreign mapping stays out of
 * the arena for good, the mapping untouched. */
static void mem_region_put(struct vmm_mem *mem)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		    (mem->hole ? MAP_FIXED_NOREPLACE : MAP_FIXED);
	void *p;

	if (!mem->base)
		return;
	p = mmap(mem->base, mem->size, PROT_NONE, flags, -1, 0);
	if (p == mem->base) {
		vmm_arena_free(mem->base, mem->span);
		return;
	}
	if (p != MAP_FAILED)
		munmap(p, mem->size);
	else if (!mem->hole)
		munmap(mem->base, mem->size);
}

/* After a failure that left mem's table, extents and mapping out of step:
 * unmap RAM first, then free the table (the frames only it held go back
 * to the store), so that nothing reaches a frame mem no longer owns. A
 * region that cannot be unmapped keeps its table, and so its frames. */
void vmm_mem_break(struct vmm_mem *mem)
{
	mem->broken = true;
	if (mem->hole || munmap(mem->base, mem->size) == 0) {
		mem->hole = true;
		vmm_mem_release(mem);
	}
}

/* Whether a failure broke mem (vmm_mem_break). */
bool vmm_mem_broken(const struct vmm_mem *mem)
{
	return mem->broken;
}

/* Stop the handler, give the region back, drop the table and the store
 * reference. */
void vmm_mem_destroy(struct vmm_mem *mem)
{
	if (!mem)
		return;
	vmm_lazy_del(mem);
	vmm_uffd_stop(mem);
	vmm_mem_record_fini(mem);
	mem_region_put(mem);
	if (mem->pagemap >= 0)
		close(mem->pagemap);
	vmm_mem_release(mem);
	free(mem->kept);
	free(mem->hot);
	free(mem->hot_idle);
	free(mem);
	vmm_store_put();
}
