/* Windows: frames placed at chosen indices, reserved in runs of chunks. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "cow_internal.h"

/* A lazily zeroed array of n 32-bit counters, or NULL. */
static uint32_t *window_array(uint32_t n)
{
	void *p =
		mmap(NULL, (size_t)n * sizeof(uint32_t), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Number of chunks in the window region. */
static uint32_t window_chunks(const struct cow_store *s)
{
	return s->wframes >> COW_CHUNK_SHIFT;
}

/* Allocate the per-chunk counters when the store has windows; -errno. */
int cow_windows_init(struct cow_store *s)
{
	if (!s->wframes)
		return 0;
	s->wchunk = window_array(window_chunks(s));
	s->wpend = window_array(window_chunks(s));
	return s->wchunk && s->wpend ? 0 : -ENOMEM;
}

/* Release the window bookkeeping (safe on a partly initialized store). */
void cow_windows_fini(struct cow_store *s)
{
	size_t bytes = (size_t)window_chunks(s) * sizeof(uint32_t);

	if (s->wchunk)
		munmap(s->wchunk, bytes);
	if (s->wpend)
		munmap(s->wpend, bytes);
	free(s->res);
	s->wchunk = s->wpend = NULL;
	s->res = NULL;
}

/* First chunk of a run of nc free chunks, searching from the hint and then
 * from 0; UINT32_MAX if there is none. */
static uint32_t window_find(const struct cow_store *s, uint32_t nc)
{
	uint32_t total = window_chunks(s), c, run, start = 0;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		run = 0;
		for (c = pass ? 0 : s->whint; c < total; c++) {
			if (s->wchunk[c]) {
				run = 0;
				continue;
			}
			if (!run)
				start = c;
			if (++run == nc)
				return start;
		}
	}
	return UINT32_MAX;
}

/* Reserve a run of whole chunks covering n frames; first frame or -errno. */
int64_t cow_window_reserve(struct cow_store *s, uint64_t n)
{
	uint64_t nc64 = (n + COW_CHUNK - 1) >> COW_CHUNK_SHIFT;
	uint32_t nc, c, start;

	if (!s->wframes || !n)
		return -EINVAL;
	if (nc64 > window_chunks(s))
		return -ENOSPC;
	nc = (uint32_t)nc64;
	if (s->nres == s->cres) {
		uint32_t cap = s->cres ? 2 * s->cres : 8;
		struct cow_window_res *r = realloc(s->res, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		s->res = r;
		s->cres = cap;
	}
	start = window_find(s, nc);
	if (start == UINT32_MAX)
		return -ENOSPC;
	for (c = start; c < start + nc; c++)
		s->wchunk[c]++;
	s->res[s->nres++] = (struct cow_window_res){start, nc};
	s->whint = start + nc;
	if (s->wtop < start + nc)
		s->wtop = start + nc;
	return (int64_t)s->wbase + ((int64_t)start << COW_CHUNK_SHIFT);
}

/* Drop one hold on chunk c. */
static void window_chunk_put(struct cow_store *s, uint32_t c)
{
	s->wchunk[c]--;
}

/* Find and remove the reservation, then drop its holds. */
void cow_window_release(struct cow_store *s, uint32_t first, uint64_t n)
{
	uint32_t chunk, nc, i, c;

	if (!cow_frame_in_window(s, first))
		return;
	chunk = cow_frame_chunk(s, first);
	nc = (uint32_t)((n + COW_CHUNK - 1) >> COW_CHUNK_SHIFT);
	for (i = 0; i < s->nres; i++)
		if (s->res[i].chunk == chunk && s->res[i].n == nc)
			break;
	if (i == s->nres)
		return;
	s->res[i] = s->res[--s->nres];
	for (c = chunk; c < chunk + nc; c++)
		window_chunk_put(s, c);
}

/* Window frame f was freed and punched: it no longer holds its chunk. */
void cow_window_frame_done(struct cow_store *s, uint32_t f)
{
	uint32_t c = cow_frame_chunk(s, f);

	s->wpend[c]--;
	window_chunk_put(s, c);
}

/* True when chunk c lies in a live reservation. */
static bool window_reserved(const struct cow_store *s, uint32_t c)
{
	for (uint32_t i = 0; i < s->nres; i++)
		if (c >= s->res[i].chunk && c - s->res[i].chunk < s->res[i].n)
			return true;
	return false;
}

/* 0 when f can be taken by cow_frame_take_at, else -EINVAL/-EBUSY.
 * Punches pending frames first when f's chunk has any (so that a frame
 * freed during the reservation is not handed out twice). */
static int window_frame_ok(struct cow_store *s, uint32_t f)
{
	if (!cow_frame_in_window(s, f) ||
	    !window_reserved(s, cow_frame_chunk(s, f)))
		return -EINVAL;
	if (s->wpend[cow_frame_chunk(s, f)])
		cow_store_trim(s);
	return s->frames.ref[f] ? -EBUSY : 0;
}

/* Make free reserved window frame f a frame with refcount 1. */
int cow_frame_take_at(struct cow_store *s, uint32_t f)
{
	int r = window_frame_ok(s, f);

	if (r)
		return r;
	if (!cow_pool_avail(&s->frames))
		return -ENOMEM;
	s->frames.ref[f] = 1;
	s->frames.used++;
	s->wchunk[cow_frame_chunk(s, f)]++;
	return 0;
}

/* Leaf table entries for gfn (read-only walk), or NULL if absent. */
static const uint64_t *window_leaf(const struct cow_tree *tree, uint64_t gfn)
{
	const struct cow_store *s = tree->store;
	const uint64_t *t = cow_table_ptr(s, tree->root);
	int level;

	for (level = COW_ROOT_LEVEL; level > 0; level--) {
		uint64_t pte = t[cow_pte_index(gfn, level)];

		if (!cow_pte_present(pte))
			return NULL;
		t = cow_table_ptr(s, cow_pte_idx(pte));
	}
	return t;
}

/* 0 when pages [lo, hi] of tree are all unmapped, else -EEXIST; visits
 * one leaf table per 512 pages. */
static int window_unmapped(const struct cow_tree *tree, uint64_t lo,
			   uint64_t hi)
{
	uint64_t g = lo;

	while (g <= hi) {
		uint64_t end = (g | (COW_ENTRIES - 1)) < hi
				       ? (g | (COW_ENTRIES - 1))
				       : hi;
		const uint64_t *e = window_leaf(tree, g);

		for (; e && g <= end; g++)
			if (cow_pte_present(e[cow_pte_index(g, 0)]))
				return -EEXIST;
		g = end + 1;
	}
	return 0;
}

/* Validate everything, then fill leaf tables block by block. */
int cow_tree_map_linear(struct cow_tree *tree, uint64_t gpa, uint64_t npages,
			uint32_t first)
{
	struct cow_store *s = tree->store;
	uint64_t lo = gpa >> COW_PAGE_SHIFT, hi = lo + npages - 1, k;
	int r;

	if ((gpa & (COW_PAGE_SIZE - 1)) || !npages || gpa >= COW_GPA_LIMIT ||
	    npages > COW_GFN_LIMIT - lo)
		return -EINVAL;
	if (!cow_frame_in_window(s, first) ||
	    npages > (uint64_t)s->wbase + s->wframes - first)
		return -EINVAL;
	for (k = 0; k < npages; k += COW_CHUNK) {
		r = window_frame_ok(s, (uint32_t)(first + k));
		if (r == -EINVAL)
			return r;
	}
	r = window_frame_ok(s, (uint32_t)(first + npages - 1));
	if (r == -EINVAL)
		return r;
	for (k = 0; k < npages; k++)
		if (s->frames.ref[first + k])
			return -EBUSY;
	r = window_unmapped(tree, lo, hi);
	if (!r)
		r = cow_tree_plan_write(tree, lo, hi);
	if (r)
		return r;
	for (k = 0; k < npages;) {
		uint64_t *e = cow_tree_leaf_for_write(tree, lo + k);
		unsigned i = cow_pte_index(lo + k, 0);

		if (!e)
			return -ENOMEM; /* unreachable after planning */
		for (; i < COW_ENTRIES && k < npages; i++, k++, e++) {
			uint32_t f = (uint32_t)(first + k);

			*e = cow_pte_make(f);
			s->frames.ref[f] = 1;
			s->frames.used++;
			s->wchunk[cow_frame_chunk(s, f)]++;
		}
	}
	return 0;
}

/* Plan, validate at, break tables, then keep a private frame or place at. */
int64_t cow_tree_place(struct cow_tree *tree, uint64_t gpa, uint32_t at)
{
	struct cow_store *s = tree->store;
	uint64_t gfn = gpa >> COW_PAGE_SHIFT, *pte;
	uint32_t old;
	int r;

	if (gpa >= COW_GPA_LIMIT)
		return -EINVAL;
	r = cow_tree_plan_write(tree, gfn, gfn);
	if (!r)
		r = window_frame_ok(s, at);
	if (r)
		return r;
	pte = cow_tree_leaf_for_write(tree, gfn);
	if (!pte)
		return -ENOMEM; /* unreachable after planning */
	old = cow_pte_idx(*pte);
	if (cow_pte_present(*pte) && s->frames.ref[old] == 1)
		return old;
	r = cow_frame_take_at(s, at);
	if (r)
		return r; /* unreachable: checked above */
	if (cow_pte_present(*pte)) {
		s->frames.ref[old]--; /* was > 1 */
		s->st.frame_copies++;
	}
	*pte = cow_pte_make(at);
	return at;
}
