/* Guest RAM: owned by the cow engine (one table per VM) and realized for
 * KVM as mmaps of the engine's frame memfd; the one interface the rest of
 * the VMM uses to get RAM into KVM, reach it, snapshot and restore it. */
#ifndef VMM_MEM_H
#define VMM_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cowvm.h"
#include "cowvm_abi.h"

/* A guest-physical RAM range. */
struct vmm_range {
	uint64_t gpa;
	uint64_t size;
};

#define VMM_MAX_RANGES 2u

/* The ABI layout of mem bytes of RAM (cowvm_abi.h): fills r[] with the low
 * range and, when mem exceeds COWVM_LOW_MEM_MAX, the high one; returns the
 * number of ranges. Independent of how RAM is realized. */
static inline unsigned vmm_mem_layout(uint64_t mem,
				      struct vmm_range r[VMM_MAX_RANGES])
{
	uint64_t low = mem < COWVM_LOW_MEM_MAX ? mem : COWVM_LOW_MEM_MAX;

	r[0].gpa = 0;
	r[0].size = low;
	if (mem == low)
		return 1;
	r[1].gpa = COWVM_HIGH_MEM_BASE;
	r[1].size = mem - low;
	return 2;
}

/* Words of a bitmap of one bit per page for pages pages. */
static inline uint64_t vmm_bitmap_words(uint64_t pages)
{
	return (pages + 63) / 64;
}

/* One past the highest guest-physical RAM address for mem bytes of RAM. */
static inline uint64_t vmm_mem_top(uint64_t mem)
{
	struct vmm_range r[VMM_MAX_RANGES];
	unsigned n = vmm_mem_layout(mem, r);

	return r[n - 1].gpa + r[n - 1].size;
}

/*
 * A vmm_mem is one VM's RAM: a cow_tree in the process-wide frame store
 * (the single truth of what the VM holds) and one host VA region covering
 * all of RAM (low range, then high range) registered once as memslots.
 * Regions are carved from a process-wide arena reserved far from the
 * kernel's mmap area; an empty mem's region is a hole (nothing mapped), so
 * that realizing it replaces no mapping under its memslots (replacing one
 * costs an O(memory) KVM invalidation under shadow paging).
 * Frames are laid out gpa-congruently in windows of the store's memfd, so
 * the region is realized by one mmap per run of pages sharing a window.
 * A fresh VM maps its own window MAP_SHARED (writes land in its frames).
 * Once an image was taken or realized, RAM is mapped MAP_PRIVATE over the
 * image's frames: pages only read stay shared, written pages become private
 * copies that are folded into the table (copied into frames) when an image
 * is taken. KERNEL mode lets the host kernel copy on write and learns the
 * written pages from KVM's dirty log plus the host writes made through
 * vmm_mem_gpa_write; UFFD mode write-protects RAM with userfaultfd and
 * records every first write in a handler thread.
 *
 * Every function that changes contents or mappings must be called while
 * the VM's vCPU is outside KVM_RUN. Functions on different mems and images
 * may run on different threads (the store is locked inside).
 */
struct vmm_mem;
struct vmm_mem_image;

/* Register RAM of size bytes (vmm_mem_layout) as memslots of vm_fd over one
 * VA region of the arena. empty = false: zero RAM ready to run; empty =
 * true: no contents and no mapping until vmm_mem_realize (a pool VM; its
 * vCPU must not run before). mode DEFAULT picks the default. 0 and *out,
 * or -errno. */
int vmm_mem_create(int vm_fd, uint64_t size, enum cowvm_mem_mode mode,
		   bool empty, struct vmm_mem **out);

/* Host address of guest-physical [gpa, gpa + len) for reading, or NULL
 * unless the whole range lies in one RAM range (len 0: gpa itself must be
 * RAM). Overflow-safe. Ranges never touch (the hole below 4 GiB). On an
 * empty mem the address lies in its unmapped region. */
void *vmm_mem_gpa(const struct vmm_mem *mem, uint64_t gpa, uint64_t len);
/* Copy RAM [gpa, gpa + len) to buf, as the guest would read it, without
 * filling lazy pages (their bytes come from their frames); 0 or -EFAULT
 * unless it lies in one RAM range. */
int vmm_mem_read(struct vmm_mem *mem, uint64_t gpa, void *buf, uint64_t len);

/* The pages of mem's host mapping that are present now: those the guest
 * (through KVM) or the host touched since they were last mapped, a
 * respawned spare's earlier runs included. A new bitmap, one bit per RAM
 * page in RAM order (low range, then high), to free(); NULL with errno. */
uint64_t *vmm_mem_touched(struct vmm_mem *mem);

/* Like vmm_mem_gpa, for host writes: the pages are recorded as written
 * (and, in UFFD mode, opened for writing without a fault). NULL if the
 * range is not RAM or mem is empty. */
void *vmm_mem_gpa_write(struct vmm_mem *mem, uint64_t gpa, uint64_t len);

/* Freeze mem's current contents into a new image (refcount 1): a fork of
 * its table after folding the pages written since the last fold; cost
 * O(pages written since then). mem runs on, copy-on-write. -EINVAL on an
 * empty mem, -ENOMEM, -ENOSPC (frame windows), or a mapping's -errno. */
int vmm_mem_image_take(struct vmm_mem *mem, struct vmm_mem_image **out);

/* A new image (refcount 1) of size bytes of RAM whose pages are those of
 * the file fd from byte off (page aligned) on, in RAM order (the low
 * range, then the high one). Unless copy, read in place: the file is
 * mapped, never copied, so this costs O(1) whatever the size; a page is
 * copied into the frame store only when written, and the file must not
 * change while the image or anything made from it lives. With copy (VMs
 * in UFFD mode, which cannot write-protect a file's mapping), its data is
 * read into frames: O(size). -EINVAL, -ENOMEM, -ENOSPC, -EIO. */
int vmm_mem_image_file(int fd, uint64_t off, uint64_t size, bool copy,
		       struct vmm_mem_image **out);

/* Make mem's contents equal img's (same size, else -EINVAL). On an empty
 * mem: a table fork and one mmap per run of the image's layout into the
 * hole, no per-page work (plus, in UFFD mode, write-protecting all of RAM:
 * O(memory)); -EBUSY, mem staying empty, if something else got mapped in
 * its region (which is left untouched: the caller needs another VM). On a
 * mem that ran: O(pages written since it was realized or last folded,
 * plus runs whose layout differs). */
int vmm_mem_realize(struct vmm_mem *mem, struct vmm_mem_image *img);

/* A guest-physical byte range watched for writes (vmm_mem_watch). */
struct vmm_watch {
	uint64_t gpa, len;
};

#define VMM_WATCH_MAX 32u

/* Watch the n ranges w for writes from now on (n = 0: stop): a guest write
 * to any page holding one (seen in the KVM dirty log when the next fold or
 * realize collects it), or a host write (vmm_mem_gpa_write) overlapping
 * one. false, watching nothing, unless mem is in KERNEL mode and
 * n <= VMM_WATCH_MAX. */
bool vmm_mem_watch(struct vmm_mem *mem, const struct vmm_watch *w, unsigned n);
/* Whether mem watches ranges none of which was written since
 * vmm_mem_watch, as far as the last collection saw. */
bool vmm_mem_watch_clean(const struct vmm_mem *mem);

/* Copy len bytes (whole pages) of img's RAM at gpa into buf, from the
 * frames its table maps (zero where none): no VM, no fault. */
void vmm_mem_image_read(const struct vmm_mem_image *img, uint64_t gpa,
			void *buf, uint64_t len);

/* Whether img and other map the same frame (or none) at page gpa: the
 * page cannot differ between them. */
bool vmm_mem_image_same(const struct vmm_mem_image *img,
			const struct vmm_mem_image *other, uint64_t gpa);

/* The pages img holds: those mapped to a frame that is data in its file
 * (a frame of the store's memfd that was touched, a page a snapshot file
 * stores), so not the pages the VM never touched. A new bitmap, one bit
 * per RAM page in RAM order, to free(); NULL with errno. O(pages). */
uint64_t *vmm_mem_image_held(const struct vmm_mem_image *img);

/* Take one more reference on img. */
void vmm_mem_image_get(struct vmm_mem_image *img);

/* Drop a reference on img, freeing it (and the frames only it holds) at
 * zero. NULL is ignored. */
void vmm_mem_image_put(struct vmm_mem_image *img);

/* Bytes of RAM an image holds (its VM's size). */
uint64_t vmm_mem_image_size(const struct vmm_mem_image *img);

/* Accounting of mem from its table, written-but-unfolded pages counted as
 * private; 0, or -EINVAL on an empty mem. */
int vmm_mem_stats(struct vmm_mem *mem, struct cowvm_mem_stats *st);

/* Whether a failed vmm_mem_image_take or vmm_mem_realize left mem broken:
 * then it has no table and no RAM mapped, vmm_mem_gpa and _gpa_write give
 * NULL and every other call fails with -EIO; the VM must stop. A failure
 * that leaves mem intact (as before the call) does not break it. */
bool vmm_mem_broken(const struct vmm_mem *mem);

/* Bytes of guest RAM. */
uint64_t vmm_mem_size(const struct vmm_mem *mem);

/* The realization mem uses (never COWVM_MEM_DEFAULT). */
enum cowvm_mem_mode vmm_mem_mode(const struct vmm_mem *mem);

/* Free mem's table now (the frames only it holds go back to the store)
 * while its mappings stay until vmm_mem_destroy, for a VM whose vCPU will
 * never run again and whose fd is still open: unmapping under live
 * memslots costs an O(memory) KVM invalidation, after the close nothing.
 * Afterwards only vmm_mem_destroy may be called. */
void vmm_mem_release(struct vmm_mem *mem);

/* Release the RAM and give the region back to the arena; call after the
 * VM fd is closed (unmapping under live memslots costs O(memory)). NULL is
 * ignored. */
void vmm_mem_destroy(struct vmm_mem *mem);

/* For tests: 0 if mem's host mappings (from /proc/self/maps) realize
 * exactly what its table says, the pages not written since the last fold
 * read the same through the mapping as in their frames (all pages when
 * full, else a sample), every page the host kernel copied on write
 * (PAGEMAP_SCAN) is recorded as written, and the frame store passes
 * cow_store_check; else -EUCLEAN with a description in why[n]. */
int vmm_mem_check(struct vmm_mem *mem, bool full, char *why, size_t n);

/* map.c: a note for an ENOMEM from guest RAM mappings when this process
 * is at vm.max_map_count (each fold may add mappings), else ""; in buf. */
const char *vmm_mem_maps_note(char *buf, size_t n);

/* For tests: pages of mem written since its last fold (guest and host). */
int64_t vmm_mem_written(struct vmm_mem *mem);

/* store.c: in a forked child, start a new store for the VMs made from
 * now on (the inherited one is never touched again). */
void vmm_mem_fork_child(void);
/* arena.c: hold and release the arena around fork() (vmm/fork.c). */
void vmm_arena_fork_lock(void);
void vmm_arena_fork_unlock(void);

/* For tests: the region of the most recently created empty mem (a hole
 * until realized), or NULL. */
void *vmm_mem_last_hole(void);

/* For tests: frames in use in the process-wide store, or 0 if none. */
uint64_t vmm_mem_store_frames(void);

#endif
