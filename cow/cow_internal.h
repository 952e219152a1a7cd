/* Internal layout of the cow engine: store, tree, entry format, helpers. */
#ifndef COW_INTERNAL_H
#define COW_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "cow.h"

/*
 * Table entry format (EPT-like, 64 bits):
 *   bit  0      present
 *   bits 1..11  reserved, zero
 *   bits 12..51 index: of a table (interior levels 3..1) or of a frame
 *               (level 0, the leaf table)
 *   bits 52..63 reserved, zero
 * Sharing is not recorded in the entry: an object is shared when its
 * refcount is above 1.
 *
 * Levels: the root is level 3; an entry of a level-L table covers 512^L
 * pages; gfn bits 9L..9L+8 index a level-L table.
 */
#define COW_PTE_PRESENT	  1ull
#define COW_PTE_IDX_SHIFT 12
#define COW_PTE_IDX_MASK  0x000ffffffffff000ull
#define COW_PTE_RESERVED  (~(COW_PTE_IDX_MASK | COW_PTE_PRESENT))
#define COW_ENTRIES	  512
#define COW_LEVELS	  4
#define COW_ROOT_LEVEL	  3
#define COW_GFN_LIMIT	  (COW_GPA_LIMIT >> COW_PAGE_SHIFT)
#define COW_NONE	  UINT32_MAX

struct cow_tree {
	struct cow_store *store;
	uint32_t root;
	struct cow_backing *backing;  /* what absent pages read as; NULL: 0 */
	struct cow_tree *prev, *next; /* the store's list of live trees */
};

/* A pool of equal objects indexed by 32-bit numbers: refcounts plus a
 * free stack; used for tables and for frames. */
struct cow_pool {
	uint32_t max;	/* limit on indices taken by cow_pool_take, and on
			 * objects in use */
	uint32_t nidx;	/* size of ref (>= max: frames add the windows) */
	uint32_t next;	/* never-used indices start here */
	uint32_t used;	/* objects with refcount > 0 */
	uint32_t nfree; /* entries on the free stack */
	uint32_t *ref;	/* refcount per index, 0 = free */
	uint32_t *free; /* free stack */
};

struct cow_store {
	struct cow_pool frames;
	struct cow_pool tables;
	int memfd;
	uint8_t *frame_mem;  /* MAP_SHARED view of the memfd */
	uint64_t *table_mem; /* table pool reservation */
	uint32_t *pending;   /* freed frames whose contents await a punch */
	uint32_t npending;
	uint32_t punch_batch;  /* capacity of pending */
	struct cow_tree trees; /* list head of live trees */
	struct cow_store_stats st;
	/* Windows: frame indices [wbase, wbase + wframes), handed out in
	 * contiguous runs of whole chunks (COW_CHUNK frames) by
	 * cow_window_reserve. wchunk[c] counts chunk c's frames in use or
	 * pending a punch, plus the reservations holding it; 0 = free. */
	uint32_t wbase, wframes;
	uint32_t *wchunk;
	uint32_t *wpend; /* per chunk: its frames pending a punch */
	uint32_t whint;	 /* chunk where the next search starts */
	uint32_t wtop;	 /* chunks [0, wtop) have ever been reserved */
	struct cow_window_res *res;
	uint32_t nres, cres;
	struct cow_backing *backings; /* live backings (backing.c) */
};

/* A file standing for absent pages of trees (cow.h): window indices
 * [first, first + n) hold its pages from byte off on, range by range. */
struct cow_backing {
	struct cow_store *store;
	uint32_t refs;
	uint32_t first;
	uint64_t n;
	int fd;
	uint64_t off;
	unsigned nr;
	struct cow_backing_range r[COW_BACKING_RANGES];
	struct cow_backing *next;
};

/* One live reservation of whole chunks [chunk, chunk + n). */
struct cow_window_res {
	uint32_t chunk, n;
};

#define COW_CHUNK_SHIFT 9
#define COW_CHUNK	(1u << COW_CHUNK_SHIFT)

/* True when frame f lies in the window region. */
static inline bool cow_frame_in_window(const struct cow_store *s, uint32_t f)
{
	return f >= s->wbase && f - s->wbase < s->wframes;
}

/* Window chunk of window frame f. */
static inline uint32_t cow_frame_chunk(const struct cow_store *s, uint32_t f)
{
	return (f - s->wbase) >> COW_CHUNK_SHIFT;
}

static inline bool cow_pte_present(uint64_t pte)
{
	return pte & COW_PTE_PRESENT;
}

static inline uint32_t cow_pte_idx(uint64_t pte)
{
	return (uint32_t)((pte & COW_PTE_IDX_MASK) >> COW_PTE_IDX_SHIFT);
}

static inline uint64_t cow_pte_make(uint32_t idx)
{
	return ((uint64_t)idx << COW_PTE_IDX_SHIFT) | COW_PTE_PRESENT;
}

/* Index into a level-L table for guest frame number gfn. */
static inline unsigned cow_pte_index(uint64_t gfn, int level)
{
	return (unsigned)(gfn >> (9 * level)) & (COW_ENTRIES - 1);
}

/* Pages covered by one entry of a level-L table. */
static inline uint64_t cow_level_span(int level)
{
	return 1ull << (9 * level);
}

static inline uint64_t *cow_table_ptr(const struct cow_store *s, uint32_t t)
{
	return s->table_mem + (uint64_t)t * COW_ENTRIES;
}

/* pool.c: index allocation shared by frames and tables; ref covers
 * max + extra indices (extra ones are managed by the caller). */
int cow_pool_init(struct cow_pool *p, uint32_t max, uint32_t extra);
void cow_pool_fini(struct cow_pool *p);
/* Take an index off the free stack or the bump pointer; COW_NONE if full. */
uint32_t cow_pool_take(struct cow_pool *p, bool *reused);
/* Return index i (refcount already 0) to the free stack. */
void cow_pool_give(struct cow_pool *p, uint32_t i);
/* Objects that can still be allocated. */
static inline uint64_t cow_pool_avail(const struct cow_pool *p)
{
	return (uint64_t)p->max - p->used;
}

/* frame.c */
int cow_frames_init(struct cow_store *s, uint32_t max, uint32_t batch,
		    uint32_t window);
void cow_frames_fini(struct cow_store *s);
/* Allocate a zero frame with refcount 1; -ENOMEM at the limit. */
int64_t cow_frame_alloc(struct cow_store *s);
/* Take one more reference on frame f. */
void cow_frame_get(struct cow_store *s, uint32_t f);
/* Drop a reference on frame f, freeing it at zero. */
void cow_frame_put(struct cow_store *s, uint32_t f);

/* table.c */
int cow_tables_init(struct cow_store *s, uint32_t max);
void cow_tables_fini(struct cow_store *s);
/* Allocate an all-absent table with refcount 1; -ENOMEM at the limit. */
int64_t cow_table_alloc(struct cow_store *s);
/* Take one more reference on table t. */
void cow_table_get(struct cow_store *s, uint32_t t);
/* Drop a reference on level-L table t; at zero free it and drop what it
 * held, recursively. */
void cow_table_put(struct cow_store *s, uint32_t t, int level);
/* Take a reference on the child of a present entry of a level-L table. */
void cow_entry_get(struct cow_store *s, uint64_t pte, int level);
/* Drop the child of a present entry of a level-L table. */
void cow_entry_put(struct cow_store *s, uint64_t pte, int level);
/* New level-L table with t's entries, each child ref++; t untouched.
 * -ENOMEM at the limit. */
int64_t cow_table_dup(struct cow_store *s, uint32_t t, int level);

/* window.c: set up and release the window bookkeeping; -errno. */
int cow_windows_init(struct cow_store *s);
void cow_windows_fini(struct cow_store *s);
/* window.c: a window frame's last reference went and its contents were
 * punched: release its place in its chunk. */
void cow_window_frame_done(struct cow_store *s, uint32_t f);
/* window.c: make free window frame f (in a reserved chunk) a frame with
 * refcount 1; -EINVAL outside a reservation, -EBUSY in use, -ENOMEM at the
 * frame limit. */
int cow_frame_take_at(struct cow_store *s, uint32_t f);

/* tree_write.c: the leaf entry for gfn, allocating absent tables and
 * copying shared ones on the way (the caller planned for them). */
uint64_t *cow_tree_leaf_for_write(struct cow_tree *tree, uint64_t gfn);
/* tree_write.c: 0 if the store can supply the tables and frames writing
 * pages [lo, hi] needs, -ENOMEM otherwise. */
int cow_tree_plan_write(const struct cow_tree *tree, uint64_t lo, uint64_t hi);

/* store.c */
void cow_store_link(struct cow_store *s, struct cow_tree *t);
void cow_store_unlink(struct cow_store *s, struct cow_tree *t);

/* tree_walk.c: call fn for every mapped page, or only private ones. */
int cow_tree_walk(const struct cow_tree *tree, bool only_private,
		  cow_page_fn fn, void *arg);

#endif
