/* Internal state of guest RAM realization shared by the files of vmm/mem/;
 * the order of their declarations below is the order of calls: a file calls
 * only files declared above it (store, arena, extents, watch, kept, lazy,
 * map, written, uffd), and mem.c, image.c, file.c and check.c call them
 * all (file.c also image.c). */
#ifndef VMM_MEM_INTERNAL_H
#define VMM_MEM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "cow.h"
#include "fault.h"
#include "mem.h"

#define VMM_PAGE 4096ull

/* Most kept copies one VM holds (16 MiB), most of them left writable for
 * the guest between resets (hot), and the resets in a row a hot page may go
 * unwritten before it cools down; see kept.c. */
#define VMM_KEEP_MAX 4096u
#define VMM_HOT_MAX  128u
#define VMM_HOT_IDLE 16u

/* Alignment of arena ranges, and the PROT_NONE guard left after each. */
#define VMM_ARENA_ALIGN (2ull << 20)

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* A run of RAM pages (by page offset in RAM order: low range, then high)
 * mapped onto a run of frames: page off + i is frame frame + i; or, with
 * frame VMM_FRAME_LAZY, realized lazily: an anonymous mapping whose pages
 * are copied in from the table on first touch (lazy.c). */
struct vmm_extent {
	uint64_t off, n;
	uint32_t frame;
};

#define VMM_FRAME_LAZY UINT32_MAX
/* The fewest pages of an extent kept mapped when extents are bounded. */
#define VMM_MAP_MIN 64

/* An immutable, shared list of extents covering all of RAM in order. Where
 * extents are not lazy they say exactly what the table says; in lazy ones
 * the table alone says which frame a page holds. */
struct vmm_extents {
	atomic_uint refs;
	uint64_t n;
	struct vmm_extent e[];
};

/* A run of RAM pages [off, off + n). */
struct vmm_run {
	uint64_t off, n;
};

/* A growable list of runs. */
struct vmm_runs {
	struct vmm_run *r;
	uint64_t n, cap;
};

struct vmm_mem_slot {
	struct vmm_range range;
	uint64_t off; /* first RAM page offset of the range */
};

/* Pages written since the last fold, as recorded: host writes
 * (vmm_mem_gpa_write), the KVM dirty log (KERNEL mode) and write-protect
 * faults (UFFD mode). */
struct vmm_mem_record {
	pthread_mutex_t lock; /* the handler thread records too */
	/* Held by the UFFD handler around record + unprotect of one fault,
	 * and by image_take and realize for their whole run, so that a fault
	 * still queued when the vCPU stopped cannot open a page after the
	 * fold read the record (the page would stay writable, unrecorded). */
	pthread_mutex_t quiesce;
	bool init;
	uint64_t *bits; /* one bit per RAM page: recorded */
	uint64_t *list; /* RAM page offsets recorded, unsorted */
	uint64_t nlist, caplist;
	int err; /* first failure to record, -errno */
};

/* UFFD mode: the write-protect fault handler. */
struct vmm_mem_uffd {
	int fd;
	int stop[2]; /* pipe that ends the handler thread */
	pthread_t thread;
	bool running;
	uint64_t faults;
};

struct vmm_mem_image {
	atomic_uint refs;
	uint64_t size;
	uint64_t id; /* unique in the process: see vmm_mem.base_id */
	struct cow_tree *tree;
	struct vmm_extents *ext;
};

struct vmm_mem {
	int vm_fd;
	uint64_t size, pages;
	enum cowvm_mem_mode mode;
	uint8_t *base; /* the VA region of all RAM */
	uint64_t span; /* bytes of arena held from base (with the guard) */
	bool hole;     /* nothing of mem is mapped in the region (empty) */
	bool broken;   /* a failure left it unusable (vmm_mem_break) */
	unsigned nr;
	struct vmm_mem_slot slot[VMM_MAX_RANGES];
	struct cow_tree *tree;	 /* NULL while empty */
	struct vmm_extents *ext; /* NULL while empty */
	bool direct; /* MAP_SHARED over its own frames: the table is exact */
	/* The image mem's table was last made equal to (taken or realized);
	 * since then only the written pages changed. 0: none. */
	uint64_t base_id;
	atomic_uint lazy_busy; /* lazy faults being served (lazy.c) */
	bool lazy;	       /* in the registry of lazy.c */
	uint64_t *filled;      /* one bit per RAM page: a lazy page filled */
	int pagemap;	       /* /proc/self/pagemap, for the checker */
	uint64_t *dirty;       /* KVM_GET_DIRTY_LOG buffer (KERNEL mode) */
	struct vmm_mem_record rec;
	struct vmm_mem_uffd uffd;
	uint64_t *kept; /* one bit per RAM page: a kept copy (kept.c) */
	uint64_t nkept;
	uint64_t *hot; /* one bit per RAM page: a hot kept copy */
	uint64_t nhot;
	uint8_t *hot_idle; /* per RAM page: resets a hot page went unwritten */
	bool manual;	   /* KVM re-protects only on KVM_CLEAR_DIRTY_LOG */
	struct vmm_watch watch[VMM_WATCH_MAX]; /* watch.c */
	unsigned nwatch;
	bool watch_hit;
};

/* store.c: the process-wide store and its lock. */
extern pthread_mutex_t vmm_store_lock;
/* store.c: take a reference on the store (creating it); NULL+errno. */
struct cow_store *vmm_store_get(void);
/* store.c: drop a reference on the store (destroying it at zero). */
void vmm_store_put(void);
/* store.c: the store (a reference must be held). */
struct cow_store *vmm_store(void);
/* store.c: in a forked child: a new store from now on. */
void vmm_store_fork_child(void);

/* arena.c: a range of the VA arena for size bytes of RAM, reserved
 * PROT_NONE, at *base for *span bytes; 0 or -errno. */
int vmm_arena_alloc(uint64_t size, uint8_t **base, uint64_t *span);
/* arena.c: give a range back, reserved PROT_NONE again. */
void vmm_arena_free(uint8_t *base, uint64_t span);

/* extents.c: extents with n entries, refcount 1; NULL on ENOMEM. */
struct vmm_extents *vmm_extents_new(uint64_t n);
/* extents.c: drop a reference on ext. NULL is ignored. */
void vmm_extents_put(struct vmm_extents *ext);
/* extents.c: take a reference on ext; returns ext. */
struct vmm_extents *vmm_extents_get(struct vmm_extents *ext);
/* extents.c: ext with [off, off + n) moved onto frames frame..; a new
 * list (refcount 1), or NULL on ENOMEM. */
struct vmm_extents *vmm_extents_overlay(const struct vmm_extents *ext,
					const struct vmm_extent *add,
					uint64_t nadd);
/* extents.c: the index of the extent holding page off (ext covers it). */
uint64_t vmm_extents_find(const struct vmm_extents *ext, uint64_t off);
/* extents.c: the frame ext maps page off to (VMM_FRAME_LAZY in a lazy
 * extent). */
uint32_t vmm_extents_frame(const struct vmm_extents *ext, uint64_t off);
/* extents.c: most extents a layout keeps (so host mappings of one VM's
 * RAM): COWVM_MAPPINGS_MAX unless the environment says otherwise. */
uint64_t vmm_extents_max(void);
/* extents.c: at most vmm_extents_max() extents: ext itself (a new
 * reference) when it has no more, else a new list keeping its largest
 * mapped extents and making the rest lazy; NULL on ENOMEM. */
struct vmm_extents *vmm_extents_bound(struct vmm_extents *ext);
/* extents.c: pages in lazy extents of ext. */
uint64_t vmm_extents_lazy_pages(const struct vmm_extents *ext);
/* extents.c: the runs lazy in both a and b. */
int vmm_extents_both_lazy(const struct vmm_extents *a,
			  const struct vmm_extents *b, struct vmm_runs *out);
/* extents.c: guest-physical address of RAM page offset off. */
uint64_t vmm_mem_off_gpa(const struct vmm_mem *mem, uint64_t off);
/* extents.c: the frame RAM page off of mem holds, by its extents or, in a
 * lazy extent, by its table (read by mem's owner or under vmm_store_lock);
 * -errno. */
int64_t vmm_mem_page_frame(const struct vmm_mem *mem, uint64_t off);
/* extents.c: whether off lies in one of the sorted runs. */
bool vmm_runs_has(const struct vmm_runs *runs, uint64_t off);
/* extents.c: pages in all the runs. */
uint64_t vmm_runs_pages(const struct vmm_runs *runs);
/* extents.c: append run [off, off + n) to runs, merging with the last;
 * 0 or -ENOMEM. */
int vmm_runs_add(struct vmm_runs *runs, uint64_t off, uint64_t n);
/* extents.c: release a run list. */
void vmm_runs_free(struct vmm_runs *runs);
/* extents.c: the runs where a and b map pages to different frames. */
int vmm_extents_diff(const struct vmm_extents *a, const struct vmm_extents *b,
		     struct vmm_runs *out);

/* watch.c: note a write to [gpa, gpa + len) against the watch. */
void vmm_mem_watch_write(struct vmm_mem *mem, uint64_t gpa, uint64_t len);

/* kept.c: whether n more pages may be kept (KERNEL mode only). */
bool vmm_mem_keep_room(const struct vmm_mem *mem, uint64_t n);
/* kept.c: mark pages [off, off + n) kept; 0 or -ENOMEM. */
int vmm_mem_keep(struct vmm_mem *mem, uint64_t off, uint64_t n);
/* kept.c: pages [off, off + n) hold no kept copy any more. */
void vmm_mem_unkeep(struct vmm_mem *mem, uint64_t off, uint64_t n);
/* kept.c: whether page off holds a kept copy. */
bool vmm_mem_is_kept(const struct vmm_mem *mem, uint64_t off);
/* kept.c: make kept page off hot if there is room: the guest may go on
 * writing it without a fault, and every reset compares and refills it. */
int vmm_mem_hot_add(struct vmm_mem *mem, uint64_t off);
/* kept.c: hot page off was found unwritten at a reset; true when it has
 * been for VMM_HOT_IDLE resets in a row (it should cool down). */
bool vmm_mem_hot_idle(struct vmm_mem *mem, uint64_t off);
/* kept.c: page off is no longer hot. */
void vmm_mem_hot_del(struct vmm_mem *mem, uint64_t off);
/* kept.c: whether page off is hot. */
bool vmm_mem_is_hot(const struct vmm_mem *mem, uint64_t off);
/* kept.c: whether page off is hot and holds its frame's bytes. */
bool vmm_mem_hot_clean(const struct vmm_mem *mem, uint64_t off);

/* lazy.c: serve mem's lazy faults from now on (the process-wide
 * userfaultfd and its thread start on first use); 0 or -errno. */
int vmm_lazy_add(struct vmm_mem *mem);
/* lazy.c: stop serving mem's lazy faults, waiting for those in flight. */
void vmm_lazy_del(struct vmm_mem *mem);
/* lazy.c: pages [off, off + n) are missing again (mapped anew or dropped). */
void vmm_lazy_forget(struct vmm_mem *mem, uint64_t off, uint64_t n);
/* lazy.c: copy len bytes at byte pos of RAM page off into buf from its
 * frame if the page is lazy and not filled yet (a host read must not fill
 * it); false if it must be read in place. */
bool vmm_lazy_read(struct vmm_mem *mem, uint64_t off, uint64_t pos, void *buf,
		   uint64_t len);
/* lazy.c: RAM pages [off, off + n) were just mapped anonymous: register
 * them for missing-page faults, each served by a copy of the page's frame
 * in mem's table; 0 or -errno. */
int vmm_lazy_register(struct vmm_mem *mem, uint64_t off, uint64_t n);
/* lazy.c: in a forked child: no handler, no registry. */
void vmm_lazy_fork_child(void);

/* map.c: map RAM pages [off, off + n) as ext says (MAP_PRIVATE, or
 * MAP_SHARED when shared; lazy extents anonymous) over what is there;
 * 0 or -errno. */
int vmm_mem_map_range(struct vmm_mem *mem, const struct vmm_extents *ext,
		      uint64_t off, uint64_t n, bool shared);
/* map.c: map all of RAM MAP_PRIVATE as ext says into the hole of an
 * empty mem, never replacing a mapping: 0, or -EBUSY when something else
 * is mapped in the region (left untouched), or -errno; on failure the
 * region is a hole again. */
int vmm_mem_map_hole(struct vmm_mem *mem, const struct vmm_extents *ext);

/* written.c: set up the record and, in KERNEL mode, the dirty log
 * buffer; -errno. */
int vmm_mem_record_init(struct vmm_mem *mem);
/* written.c: release what vmm_mem_record_init set up. */
void vmm_mem_record_fini(struct vmm_mem *mem);
/* written.c: record RAM pages [off, off + n) as written; 0 or -errno. */
int vmm_mem_record(struct vmm_mem *mem, uint64_t off, uint64_t n);
/* written.c: the sorted runs of pages written since the last fold
 * (the record, after collecting the KVM dirty log in KERNEL mode). */
int vmm_mem_written_runs(struct vmm_mem *mem, struct vmm_runs *out);
/* written.c: written pages were folded or dropped: forget them and
 * write-protect them again in KVM except the hot ones; with log also the
 * KVM dirty log so far (KERNEL mode; without, the caller has just
 * collected it). */
int vmm_mem_written_clear(struct vmm_mem *mem, bool log);
/* written.c: the sorted runs of anonymous pages in the region
 * (PAGEMAP_SCAN): what the host kernel copied on write. */
int vmm_mem_anon_runs(struct vmm_mem *mem, struct vmm_runs *out);

/* uffd.c: set up userfaultfd and its handler thread; -errno. */
int vmm_uffd_start(struct vmm_mem *mem);
/* uffd.c: stop the handler and close userfaultfd. */
void vmm_uffd_stop(struct vmm_mem *mem);
/* uffd.c: register RAM pages [off, off + n) for write-protect faults
 * (after they were mapped anew) and write-protect them; 0 or -errno. */
int vmm_uffd_protect(struct vmm_mem *mem, uint64_t off, uint64_t n, bool reg);
/* uffd.c: record RAM pages [off, off + n) as written and open them
 * for writing (waking a thread that waits on them); 0 or -errno. */
int vmm_uffd_unprotect(struct vmm_mem *mem, uint64_t off, uint64_t n);

/* image.c: a new image id, unique in the process. */
uint64_t vmm_mem_image_id(void);

/* mem.c: give up on mem after a failure that left its table, extents and
 * mapping out of step: no RAM mapped, no table, every access refused. */
void vmm_mem_break(struct vmm_mem *mem);

#endif
