/* Extents (which frames realize which RAM pages) and run lists: plain
 * data, no mapping. */
#include <errno.h>
#include <stdlib.h>

#include "mem_internal.h"

/* Extents with room for n entries, refcount 1; NULL on ENOMEM. */
struct vmm_extents *vmm_extents_new(uint64_t n)
{
	struct vmm_extents *x = vmm_malloc(sizeof(*x) + n * sizeof(x->e[0]));

	if (!x)
		return NULL;
	atomic_init(&x->refs, 1);
	x->n = n;
	return x;
}

/* One more reference; returns ext. */
struct vmm_extents *vmm_extents_get(struct vmm_extents *ext)
{
	atomic_fetch_add(&ext->refs, 1);
	return ext;
}

/* Drop a reference, freeing at zero. */
void vmm_extents_put(struct vmm_extents *ext)
{
	if (ext && atomic_fetch_sub(&ext->refs, 1) == 1)
		free(ext);
}

/* The frame e maps page off to (e holds it), or VMM_FRAME_LAZY. */
static uint32_t extent_frame_at(const struct vmm_extent *e, uint64_t off)
{
	return e->frame == VMM_FRAME_LAZY ? VMM_FRAME_LAZY
					  : (uint32_t)(e->frame + off - e->off);
}

/* Append [off, off + n) -> frame to x, merging with a contiguous last
 * (two lazy extents always merge). */
static void extents_emit(struct vmm_extents *x, uint64_t off, uint64_t n,
			 uint32_t frame)
{
	struct vmm_extent *l = x->n ? &x->e[x->n - 1] : NULL;

	if (l && l->off + l->n == off &&
	    (l->frame == VMM_FRAME_LAZY ? frame == VMM_FRAME_LAZY
					: (uint64_t)l->frame + l->n == frame)) {
		l->n += n;
		return;
	}
	x->e[x->n++] = (struct vmm_extent){off, n, frame};
}

/* Walk ext and the sorted add runs together, add winning. */
struct vmm_extents *vmm_extents_overlay(const struct vmm_extents *ext,
					const struct vmm_extent *add,
					uint64_t nadd)
{
	const struct vmm_extent *last = &ext->e[ext->n - 1];
	uint64_t total = last->off + last->n, pos = 0, i = 0, j = 0;
	struct vmm_extents *x = vmm_extents_new(ext->n + 2 * nadd + 1);

	if (!x)
		return NULL;
	x->n = 0;
	while (pos < total) {
		const struct vmm_extent *e;
		uint64_t end;

		while (ext->e[i].off + ext->e[i].n <= pos)
			i++;
		e = &ext->e[i];
		if (j < nadd && add[j].off <= pos) {
			end = add[j].off + add[j].n;
			extents_emit(x, pos, end - pos,
				     extent_frame_at(&add[j], pos));
			pos = end;
			j++;
			continue;
		}
		end = e->off + e->n;
		if (j < nadd && add[j].off < end)
			end = add[j].off;
		extents_emit(x, pos, end - pos, extent_frame_at(e, pos));
		pos = end;
	}
	return x;
}

/* Sizes of the mapped extents, largest first (ties: lower offset). */
static int cmp_size(const void *a, const void *b)
{
	const struct vmm_extent *x = *(const struct vmm_extent *const *)a;
	const struct vmm_extent *y = *(const struct vmm_extent *const *)b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return (x->off > y->off) - (x->off < y->off);
}

/* COWVM_MAPPINGS_MAX, or the environment's (4 to 65536), read once. */
uint64_t vmm_extents_max(void)
{
	static _Atomic uint64_t max;
	uint64_t m = atomic_load(&max);
	const char *env;

	if (m)
		return m;
	env = getenv("COWVM_MAPPINGS_MAX");
	m = env ? strtoull(env, NULL, 10) : 0;
	m = m < 4 ? COWVM_MAPPINGS_MAX : m > 65536 ? 65536 : m;
	atomic_store(&max, m);
	return m;
}

/* Keep the vmm_extents_max() / 4 largest mapped extents of at least
 * VMM_MAP_MIN pages, the rest lazy: at most twice that plus one extents,
 * so that several folds pass before the next bound. A lazy page costs a
 * copy on its first touch, a mapped one nothing but every clone pays an
 * mmap for it: keeping the largest keeps the most pages shared, and a
 * small one would cost each clone more than the copies it saves. */
struct vmm_extents *vmm_extents_bound(struct vmm_extents *ext)
{
	const struct vmm_extent **by = NULL;
	struct vmm_extents *x = NULL;
	uint64_t nby = 0, keep = vmm_extents_max() / 4;

	if (ext->n <= vmm_extents_max())
		return vmm_extents_get(ext);
	by = vmm_malloc(ext->n * sizeof(*by));
	x = by ? vmm_extents_new(2 * keep + 1) : NULL;
	if (!x) {
		free(by);
		return NULL;
	}
	for (uint64_t i = 0; i < ext->n; i++)
		if (ext->e[i].frame != VMM_FRAME_LAZY)
			by[nby++] = &ext->e[i];
	qsort(by, nby, sizeof(*by), cmp_size);
	while (keep && (keep > nby || by[keep - 1]->n < VMM_MAP_MIN))
		keep--;
	x->n = 0;
	for (uint64_t i = 0, k; i < ext->n; i++) {
		const struct vmm_extent *e = &ext->e[i];

		for (k = 0; k < keep && by[k] != e; k++)
			;
		extents_emit(x, e->off, e->n,
			     k < keep ? e->frame : VMM_FRAME_LAZY);
	}
	free(by);
	return x;
}

/* Sum of the lazy extents' pages. */
uint64_t vmm_extents_lazy_pages(const struct vmm_extents *ext)
{
	uint64_t n = 0;

	for (uint64_t i = 0; ext && i < ext->n; i++)
		n += ext->e[i].frame == VMM_FRAME_LAZY ? ext->e[i].n : 0;
	return n;
}

/* Index of the extent holding page off (ext covers it). */
uint64_t vmm_extents_find(const struct vmm_extents *ext, uint64_t off)
{
	uint64_t lo = 0, hi = ext->n - 1;

	while (lo < hi) {
		uint64_t mid = (lo + hi + 1) / 2;

		if (ext->e[mid].off <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* The frame ext maps page off to (ext covers it). */
uint32_t vmm_extents_frame(const struct vmm_extents *ext, uint64_t off)
{
	return extent_frame_at(&ext->e[vmm_extents_find(ext, off)], off);
}

/* Guest-physical address of RAM page offset off. */
uint64_t vmm_mem_off_gpa(const struct vmm_mem *mem, uint64_t off)
{
	unsigned i = mem->nr > 1 && off >= mem->slot[1].off;

	return mem->slot[i].range.gpa + (off - mem->slot[i].off) * VMM_PAGE;
}

/* By the extents, or by the table in a lazy extent. */
int64_t vmm_mem_page_frame(const struct vmm_mem *mem, uint64_t off)
{
	uint32_t f = vmm_extents_frame(mem->ext, off);

	if (f != VMM_FRAME_LAZY)
		return f;
	return cow_tree_translate(mem->tree, vmm_mem_off_gpa(mem, off));
}

/* Append a run, merging with a contiguous last one. */
int vmm_runs_add(struct vmm_runs *runs, uint64_t off, uint64_t n)
{
	struct vmm_run *l = runs->n ? &runs->r[runs->n - 1] : NULL;

	if (l && l->off + l->n == off) {
		l->n += n;
		return 0;
	}
	if (runs->n == runs->cap) {
		uint64_t cap = runs->cap ? 2 * runs->cap : 64;
		struct vmm_run *r = vmm_realloc(runs->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		runs->r = r;
		runs->cap = cap;
	}
	runs->r[runs->n++] = (struct vmm_run){off, n};
	return 0;
}

/* Whether off lies in one of the sorted runs. */
bool vmm_runs_has(const struct vmm_runs *r, uint64_t off)
{
	uint64_t lo = 0, hi = r->n;

	while (lo < hi) {
		uint64_t mid = (lo + hi) / 2;

		if (off < r->r[mid].off)
			hi = mid;
		else if (off - r->r[mid].off >= r->r[mid].n)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* Pages in all the runs. */
uint64_t vmm_runs_pages(const struct vmm_runs *runs)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < runs->n; i++)
		n += runs->r[i].n;
	return n;
}

/* Release a run list. */
void vmm_runs_free(struct vmm_runs *runs)
{
	free(runs->r);
	*runs = (struct vmm_runs){0};
}

/* Walk both lists by common pieces; a piece differs iff its first page
 * does (both sides are linear inside a piece); with lazy, collect the
 * pieces lazy on both sides instead. */
static int extents_pieces(const struct vmm_extents *a,
			  const struct vmm_extents *b, bool lazy,
			  struct vmm_runs *out)
{
	const struct vmm_extent *last = &a->e[a->n - 1];
	uint64_t total = last->off + last->n, pos = 0, i = 0, j = 0;
	int err = 0;

	while (!err && pos < total) {
		const struct vmm_extent *x, *y;
		uint64_t end;

		while (a->e[i].off + a->e[i].n <= pos)
			i++;
		while (b->e[j].off + b->e[j].n <= pos)
			j++;
		x = &a->e[i];
		y = &b->e[j];
		end = x->off + x->n < y->off + y->n ? x->off + x->n
						    : y->off + y->n;
		if (lazy ? x->frame == VMM_FRAME_LAZY &&
				    y->frame == VMM_FRAME_LAZY
			 : extent_frame_at(x, pos) != extent_frame_at(y, pos))
			err = vmm_runs_add(out, pos, end - pos);
		pos = end;
	}
	return err;
}

/* The runs mapped differently by a and b (a lazy piece on both sides is
 * the same mapping). */
int vmm_extents_diff(const struct vmm_extents *a, const struct vmm_extents *b,
		     struct vmm_runs *out)
{
	return a == b ? 0 : extents_pieces(a, b, false, out);
}

/* The runs lazy in both. */
int vmm_extents_both_lazy(const struct vmm_extents *a,
			  const struct vmm_extents *b, struct vmm_runs *out)
{
	return extents_pieces(a, b, true, out);
}
