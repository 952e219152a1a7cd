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

/* Append [off, off + n) -> frame to x, merging with a contiguous last. */
static void extents_emit(struct vmm_extents *x, uint64_t off, uint64_t n,
			 uint32_t frame)
{
	struct vmm_extent *l = x->n ? &x->e[x->n - 1] : NULL;

	if (l && l->off + l->n == off && (uint64_t)l->frame + l->n == frame) {
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
			extents_emit(
				x, pos, end - pos,
				(uint32_t)(add[j].frame + pos - add[j].off));
			pos = end;
			j++;
			continue;
		}
		end = e->off + e->n;
		if (j < nadd && add[j].off < end)
			end = add[j].off;
		extents_emit(x, pos, end - pos,
			     (uint32_t)(e->frame + pos - e->off));
		pos = end;
	}
	return x;
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
	const struct vmm_extent *e = &ext->e[vmm_extents_find(ext, off)];

	return e->frame + (uint32_t)(off - e->off);
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
 * does (both sides are linear inside a piece). */
int vmm_extents_diff(const struct vmm_extents *a, const struct vmm_extents *b,
		     struct vmm_runs *out)
{
	const struct vmm_extent *last = &a->e[a->n - 1];
	uint64_t total = last->off + last->n, pos = 0, i = 0, j = 0;
	int err = 0;

	if (a == b)
		return 0;
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
		if (x->frame + (pos - x->off) != y->frame + (pos - y->off))
			err = vmm_runs_add(out, pos, end - pos);
		pos = end;
	}
	return err;
}
