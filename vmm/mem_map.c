/* Extents (which frames realize which pages), run lists, and the mmaps
 * that realize extents in a VM's RAM region. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "mem_internal.h"

/* Extents with room for n entries, refcount 1; NULL on ENOMEM. */
struct vmm_extents *vmm_extents_new(uint64_t n)
{
	struct vmm_extents *x = malloc(sizeof(*x) + n * sizeof(x->e[0]));

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
static uint64_t extents_find(const struct vmm_extents *ext, uint64_t off)
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
	const struct vmm_extent *e = &ext->e[extents_find(ext, off)];

	return e->frame + (uint32_t)(off - e->off);
}

/* One mmap of the frame memfd with flags per extent piece of RAM pages
 * [off, off + n); stops at the first failure with *done pages mapped. A
 * MAP_FIXED_NOREPLACE mmap that lands elsewhere (a kernel older than the
 * flag) is undone and fails with EEXIST. */
static int map_pieces(struct vmm_mem *mem, const struct vmm_extents *ext,
		      uint64_t off, uint64_t n, int flags, uint64_t *done)
{
	int fd = cow_frame_fd(vmm_store());
	uint64_t i = extents_find(ext, off), start = off, end = off + n;

	for (; off < end; i++) {
		const struct vmm_extent *e = &ext->e[i];
		uint64_t stop = e->off + e->n < end ? e->off + e->n : end;
		uint64_t frame = e->frame + (off - e->off);
		uint8_t *want = mem->base + off * VMM_PAGE;
		void *p = mmap(want, (stop - off) * VMM_PAGE,
			       PROT_READ | PROT_WRITE, flags, fd,
			       (off_t)(frame * VMM_PAGE));

		if (p != MAP_FAILED && p != want) {
			munmap(p, (stop - off) * VMM_PAGE);
			errno = EEXIST;
			p = MAP_FAILED;
		}
		if (p == MAP_FAILED) {
			*done = off - start;
			return -errno;
		}
		off = stop;
	}
	*done = n;
	return 0;
}

/* MAP_FIXED over whatever the range holds. */
int vmm_mem_map_range(struct vmm_mem *mem, const struct vmm_extents *ext,
		      uint64_t off, uint64_t n, bool shared)
{
	uint64_t done;
	int err = map_pieces(mem, ext, off, n,
			     (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED |
				     MAP_NORESERVE,
			     &done);

	vmm_mem_unkeep(mem, off, done);
	return err;
}

/* MAP_FIXED_NOREPLACE piece by piece; on failure unmap the pieces mapped
 * so far (ours: nothing else could have been there). */
int vmm_mem_map_hole(struct vmm_mem *mem, const struct vmm_extents *ext)
{
	uint64_t done;
	int err = map_pieces(mem, ext, 0, mem->pages,
			     MAP_PRIVATE | MAP_FIXED_NOREPLACE | MAP_NORESERVE,
			     &done);

	if (err && done)
		munmap(mem->base, done * VMM_PAGE);
	return err == -EEXIST ? -EBUSY : err;
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
		struct vmm_run *r = realloc(runs->r, cap * sizeof(*r));

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

/* Lines of a /proc file, or the number on its first line with first. */
static long proc_count(const char *path, bool first)
{
	FILE *fp = fopen(path, "r");
	long n = 0;
	int c;

	if (!fp)
		return -1;
	if (first)
		n = fscanf(fp, "%ld", &n) == 1 ? n : -1;
	else
		while ((c = fgetc(fp)) != EOF)
			n += c == '\n';
	fclose(fp);
	return n;
}

/* Why an mmap of guest RAM may have failed with ENOMEM: when this process
 * holds all but a few of the vm.max_map_count mappings, say so in buf. */
const char *vmm_mem_maps_note(char *buf, size_t n)
{
	long maps = proc_count("/proc/self/maps", false);
	long max = proc_count("/proc/sys/vm/max_map_count", true);

	buf[0] = 0;
	if (maps >= 0 && max > 0 && maps + 64 >= max)
		snprintf(buf, n,
			 " (%ld of vm.max_map_count %ld mappings in use: "
			 "destroy VMs or raise vm.max_map_count)",
			 maps, max);
	return buf;
}
