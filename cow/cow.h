/* The copy-on-write guest-physical page table engine: frame store and trees. */
#ifndef COW_H
#define COW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A cow_store owns a frame store (4 KiB pages in one memfd) and a pool of
 * 4 KiB tables. A cow_tree maps a 48-bit guest-physical space onto frames
 * through 4 levels of 512-entry tables. Forking a tree shares every table
 * below the root; a write through a shared table copies the path first.
 *
 * Functions returning int return 0 (or a count) on success and -errno on
 * failure; functions returning pointers return NULL and set errno. Nothing
 * here prints or exits. A store and its trees are not thread-safe: one thread
 * at a time.
 */

#define COW_PAGE_SIZE  4096u
#define COW_PAGE_SHIFT 12
#define COW_GPA_BITS   48
#define COW_GPA_LIMIT  (1ull << COW_GPA_BITS)

struct cow_store;
struct cow_tree;

struct cow_store_config {
	uint32_t max_frames; /* frame limit; 0 = default (16M = 64 GiB) */
	uint32_t max_tables; /* table limit; 0 = default (1M = 4 GiB) */
	uint32_t
		punch_batch; /* freed frames discarded per batch; 0 = default */
	uint32_t window_frames; /* frame indices for windows, numbered from
				 * max_frames up; a multiple of 512; 0 = no
				 * windows (see cow_window_reserve) */
};

/* Per-store totals and event counters (counters only ever grow). */
struct cow_store_stats {
	uint64_t frames_used, frames_max;
	uint64_t tables_used, tables_max;
	uint64_t frame_copies; /* frames copied by break-on-write */
	uint64_t table_copies; /* tables copied by break-on-write */
	uint64_t frames_freed, tables_freed;
	uint64_t table_scans; /* tables whose entries were walked by fork,
			       * copy, put or reset */
	uint64_t punches;     /* hole-punch calls on the frame memfd */
	uint64_t window_frames_held; /* window indices in chunks in use */
};

/* Per-tree accounting, computed by a walk. */
struct cow_stats {
	uint64_t pages_mapped;	      /* present leaf entries */
	uint64_t pages_private;	      /* pages only this tree reaches */
	uint64_t pages_shared;	      /* pages_mapped - pages_private */
	uint64_t table_bytes;	      /* tables reachable from this tree */
	uint64_t table_private_bytes; /* tables only this tree reaches */
};

/* Create a store with the given limits (NULL = defaults); NULL+errno. */
struct cow_store *cow_store_create(const struct cow_store_config *cfg);

/* Destroy a store, its remaining trees and all memory. NULL is ignored. */
void cow_store_destroy(struct cow_store *store);

/* Fill *st with the store's totals and counters. */
void cow_store_stats(const struct cow_store *store, struct cow_store_stats *st);

/* Recompute every refcount and total from the live trees; 0 if they match
 * the stored ones, else -EUCLEAN with a description in why[n]. */
int cow_store_check(struct cow_store *store, char *why, size_t n);

/* Discard the contents of all freed frames now (they read as zero). */
void cow_store_trim(struct cow_store *store);

/* The memfd holding every frame; frame f lives at cow_frame_offset(f). */
int cow_frame_fd(const struct cow_store *store);

/* Byte offset of frame f in the memfd. */
static inline uint64_t cow_frame_offset(uint32_t frame)
{
	return (uint64_t)frame << COW_PAGE_SHIFT;
}

/* Host address of frame f in the store's shared mapping of the memfd. */
void *cow_frame_ptr(const struct cow_store *store, uint32_t frame);

/* Reference count of frame f (0 = free); for tests and accounting. */
uint32_t cow_frame_refcount(const struct cow_store *store, uint32_t frame);

/* Create an empty tree (all of guest-physical space reads as zero). */
struct cow_tree *cow_tree_create(struct cow_store *store);

/* Destroy a tree, freeing whatever only it held. NULL is ignored. */
void cow_tree_destroy(struct cow_tree *tree);

/* The store a tree belongs to. */
struct cow_store *cow_tree_store(const struct cow_tree *tree);

/* Fork: a new tree with the same contents sharing every table below the
 * root; O(512) whatever the size. NULL+errno (ENOMEM) on failure. */
struct cow_tree *cow_tree_fork(struct cow_tree *tree);

/* Naive fork baseline: a new tree with its own tables, built by mapping
 * every page of tree one at a time (frames shared). NULL+errno. */
struct cow_tree *cow_tree_fork_naive(struct cow_tree *tree);

/* Copy [gpa, gpa+len) out of the tree; unmapped pages read as zero.
 * -EINVAL if the range leaves the 48-bit space. */
int cow_tree_read(const struct cow_tree *tree, uint64_t gpa, void *buf,
		  size_t len);

/* Write [gpa, gpa+len), allocating and breaking copy-on-write as needed.
 * -ENOMEM leaves the tree and the store unchanged; -EINVAL out of range. */
int cow_tree_write(struct cow_tree *tree, uint64_t gpa, const void *buf,
		   size_t len);

/* Frame mapped at gpa (read-only lookup), or -ENOENT if none. */
int64_t cow_tree_translate(const struct cow_tree *tree, uint64_t gpa);

/* Private frame at gpa after break-on-write (allocated, zero, if unmapped);
 * -ENOMEM leaves everything unchanged. */
int64_t cow_tree_frame_for_write(struct cow_tree *tree, uint64_t gpa);

/* 1 when only tree reaches the page at gpa (the frame and every table on
 * its path have refcount 1), else 0 (also when unmapped). */
int cow_tree_page_private(const struct cow_tree *tree, uint64_t gpa);

/* Make tree's contents identical to snap's in time proportional to what
 * differs; -EINVAL if they belong to different stores. Tables only tree
 * reaches are rewritten in place and kept (they count in
 * table_private_bytes), so rewriting the same pages copies no table. */
int cow_tree_reset(struct cow_tree *tree, const struct cow_tree *snap);

/* Called per private page; a nonzero return stops the walk. */
typedef int (*cow_page_fn)(uint64_t gpa, uint32_t frame, void *arg);

/* Call fn for each page only this tree reaches (its dirty set relative to
 * the tree it was forked from), in gpa order; returns fn's nonzero result or
 * 0. Shared subtrees are skipped without descending. */
int cow_tree_for_each_private(const struct cow_tree *tree, cow_page_fn fn,
			      void *arg);

/* Compute the tree's accounting into *st by walking it. */
void cow_tree_stats(const struct cow_tree *tree, struct cow_stats *st);

/*
 * Windows: frames placed at chosen indices, so that a user can lay frames
 * out in the memfd congruently with guest-physical addresses (a run of
 * pages on a run of frames maps with one mmap). The window region holds
 * cfg.window_frames indices above max_frames; it is handed out in chunks of
 * 512 frames. Window frames count against max_frames like any other, are
 * refcounted, shared, copied and freed the same way; a freed window frame
 * is punched and its index becomes reusable once its whole chunk is free.
 */

/* Reserve n (> 0) contiguous free window frame indices, all reading as
 * zero; returns the first (a multiple of 512 above max_frames) or -ENOSPC
 * when no run is free, -EINVAL without windows. Frames inside stay usable
 * for cow_tree_map_linear/cow_tree_place until cow_window_release. */
int64_t cow_window_reserve(struct cow_store *store, uint64_t n);

/* End the reservation cow_window_reserve(n) returned first for; chunks
 * left without frames become free. */
void cow_window_release(struct cow_store *store, uint32_t first, uint64_t n);

/* Map pages [gpa, gpa + npages * 4 KiB) of tree onto the free, reserved
 * window frames first, first + 1, ... (refcount 1 each, contents zero).
 * The range must be unmapped. All or nothing: -EINVAL (range or frames
 * outside a reservation), -EBUSY (a frame in use), -EEXIST (a page already
 * mapped), -ENOMEM (tables or frame limit). */
int cow_tree_map_linear(struct cow_tree *tree, uint64_t gpa, uint64_t npages,
			uint32_t first);

/* A private frame at gpa for a caller about to overwrite the whole page:
 * the frame already there when only tree holds it, else the free reserved
 * window frame at (contents zero, the old page is NOT copied), after
 * breaking shared tables on the path. Returns the frame; -EINVAL, -EBUSY
 * or -ENOMEM leave everything unchanged. */
int64_t cow_tree_place(struct cow_tree *tree, uint64_t gpa, uint32_t at);

/*
 * Backings: the pages of a read-only file (a snapshot file's RAM image)
 * standing for the absent pages of trees in given guest frame ranges, in
 * the order of the ranges. A backing's pages take window indices, and the
 * store's view of those indices maps the file, so cow_frame_ptr reads
 * them; trees never write them: a write copies the page into a frame of
 * the store first. A tree made over a backing costs O(1) whatever the
 * file's size; forks and resets carry the backing along.
 */
#define COW_BACKING_RANGES 4

struct cow_backing;

struct cow_backing_range {
	uint64_t gfn, n; /* guest frames [gfn, gfn + n) */
};

/* A backing of the file fd (duplicated) from byte off (page aligned) for
 * nr ascending, disjoint ranges, with one reference; NULL+errno: EINVAL,
 * ENOSPC (no window room), or the mmap's. */
struct cow_backing *cow_backing_create(struct cow_store *store, int fd,
				       uint64_t off,
				       const struct cow_backing_range *r,
				       unsigned nr);

/* Take one more reference on b. */
void cow_backing_get(struct cow_backing *b);

/* Drop a reference; the last gives b's indices back. NULL is ignored. */
void cow_backing_put(struct cow_backing *b);

/* The frame b places at gfn, or UINT32_MAX outside its ranges (or NULL). */
uint32_t cow_backing_frame(const struct cow_backing *b, uint64_t gfn);

/* Whether frame f is a backing's page. */
int cow_frame_backed(const struct cow_store *store, uint32_t f);

/* The file and byte offset holding frame f (the memfd, or a backing's
 * file); returns how many frames from f on follow at consecutive offsets
 * of the same file. */
uint64_t cow_frame_source(const struct cow_store *store, uint32_t f, int *fd,
			  uint64_t *off);

/* An empty tree whose absent pages read as b's (b NULL: as zero); takes a
 * reference on b. NULL+errno. */
struct cow_tree *cow_tree_create_backed(struct cow_store *store,
					struct cow_backing *b);

/* The backing of tree, NULL for none. */
struct cow_backing *cow_tree_backing(const struct cow_tree *tree);

#ifdef __cplusplus
}
#endif

#endif
