/* Images and realization: folding written pages into the table, freezing
 * a table into an image, and making a VM's RAM equal an image. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mem_internal.h"

/* Pieces of a fold: pages given new frames in the fold's window, and
 * pages whose private frame was overwritten in place. The written runs
 * are packed one after the other into a window of as many frames as they
 * have pages (each run on consecutive frames, so it maps with one mmap):
 * page off of run i has frame w + at[i] + off - runs->r[i].off. Packing,
 * rather than placing pages at their distance, keeps a fold's window as
 * small as what it wrote, whatever the spread of the writes. */
struct fold {
	struct vmm_runs moved, inplace;
	const struct vmm_runs *runs; /* the written runs */
	uint64_t *at;		     /* per run: its first frame - w */
	uint32_t w;
	uint64_t placed; /* pages whose frame the table changed */
};

/* The frame the fold gave page off of a moved run. */
static uint32_t fold_frame(const struct fold *fo, uint64_t off)
{
	uint64_t lo = 0, hi = fo->runs->n;

	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (fo->runs->r[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return (uint32_t)(fo->w + fo->at[lo] + (off - fo->runs->r[lo].off));
}

/* Copy every written page into a private frame: frames the table already
 * holds alone are overwritten in place, the others are placed in a fresh
 * window, packed (struct fold). Stops at the first error with everything
 * done so far recorded in fo. */
static int fold_pages(struct vmm_mem *mem, const struct vmm_runs *runs,
		      struct fold *fo)
{
	struct cow_store *s = vmm_store();
	uint64_t span = vmm_runs_pages(runs);
	int64_t w;
	int err = 0;

	fo->runs = runs;
	fo->at = vmm_malloc(runs->n * sizeof(*fo->at));
	if (!fo->at)
		return -ENOMEM;
	for (uint64_t i = 0, pos = 0; i < runs->n; pos += runs->r[i++].n)
		fo->at[i] = pos;
	pthread_mutex_lock(&vmm_store_lock);
	w = vmm_fault(VMM_FAULT_COW) ? -ENOMEM : cow_window_reserve(s, span);
	if (w < 0) {
		pthread_mutex_unlock(&vmm_store_lock);
		return (int)w;
	}
	fo->w = (uint32_t)w;
	for (uint64_t i = 0; !err && i < runs->n; i++) {
		for (uint64_t k = 0; !err && k < runs->r[i].n; k++) {
			uint64_t off = runs->r[i].off + k;
			uint32_t at = (uint32_t)(w + (int64_t)(fo->at[i] + k));
			int64_t f = vmm_fault(VMM_FAULT_COW)
					    ? -ENOMEM
					    : cow_tree_place(
						      mem->tree,
						      vmm_mem_off_gpa(mem, off),
						      at);

			if (f < 0) {
				err = (int)f;
				break;
			}
			fo->placed++;
			memcpy(cow_frame_ptr(s, (uint32_t)f),
			       mem->base + off * VMM_PAGE, VMM_PAGE);
			err = vmm_runs_add(f == at ? &fo->moved : &fo->inplace,
					   off, 1);
		}
	}
	cow_window_release(s, (uint32_t)w, span);
	pthread_mutex_unlock(&vmm_store_lock);
	return err;
}

/* Runs closer than this many pages are dropped by one madvise: dropping a
 * page only read costs one read fault later, a syscall costs more. */
#define DROP_GAP 32

/* Drop the private copies of runs (they read the frames below again). */
static int drop_runs(struct vmm_mem *mem, const struct vmm_runs *runs)
{
	for (uint64_t i = 0, j; i < runs->n; i = j) {
		uint64_t off = runs->r[i].off, end = off + runs->r[i].n;
		int err = 0;

		for (j = i + 1; j < runs->n && runs->r[j].off - end <= DROP_GAP;
		     j++)
			end = runs->r[j].off + runs->r[j].n;
		if (vmm_madvise(mem->base + off * VMM_PAGE,
				(end - off) * VMM_PAGE, MADV_DONTNEED) < 0)
			return -errno;
		vmm_mem_unkeep(mem, off, end - off);
		vmm_lazy_forget(mem, off, end - off);
		if (mem->mode == COWVM_MEM_UFFD)
			err = vmm_uffd_protect(mem, off, end - off, false);
		if (err)
			return err;
	}
	return 0;
}

/* Pages overwritten in place by a fold: their private copies now equal
 * their frames, so keep them while there is room, else drop them. */
static int keep_inplace(struct vmm_mem *mem, const struct vmm_runs *runs)
{
	if (!vmm_mem_keep_room(mem, vmm_runs_pages(runs)))
		return drop_runs(mem, runs);
	for (uint64_t i = 0; i < runs->n; i++) {
		int err = vmm_mem_keep(mem, runs->r[i].off, runs->r[i].n);

		if (err)
			return err;
	}
	return 0;
}

/* After a reset to mem->ext, give the written pages outside diff (which
 * is mapped anew next) their frames' contents back: copy the frame into
 * the private page and keep it while there is room (no copy on write at
 * the next write), else drop the copy (the next access faults it in). A
 * page written again since the last reset stays (or becomes) hot; a hot
 * page found equal to its frame was not written, and cools down after
 * VMM_HOT_IDLE such resets in a row (requests that take turns keep the
 * pages each writes hot). */
static int restore_written(struct vmm_mem *mem, const struct vmm_runs *written,
			   const struct vmm_runs *diff)
{
	struct cow_store *s = vmm_store();

	if (!vmm_mem_keep_room(mem, vmm_runs_pages(written)))
		return drop_runs(mem, written);
	for (uint64_t i = 0; i < written->n; i++) {
		for (uint64_t k = 0; k < written->r[i].n; k++) {
			uint64_t off = written->r[i].off + k;
			int err;

			if (vmm_runs_has(diff, off))
				continue;
			if (vmm_mem_hot_clean(mem, off)) {
				if (vmm_mem_hot_idle(mem, off))
					vmm_mem_hot_del(mem, off);
				continue;
			}
			memcpy(mem->base + off * VMM_PAGE,
			       cow_frame_ptr(s, (uint32_t)vmm_mem_page_frame(
							mem, off)),
			       VMM_PAGE);
			err = vmm_mem_keep(mem, off, 1);
			if (!err)
				err = vmm_mem_hot_add(mem, off);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Map runs anew as ext says (MAP_PRIVATE, write-protected in UFFD mode). */
static int map_runs(struct vmm_mem *mem, const struct vmm_extents *ext,
		    const struct vmm_runs *runs)
{
	for (uint64_t i = 0; i < runs->n; i++) {
		int err = vmm_mem_map_range(mem, ext, runs->r[i].off,
					    runs->r[i].n, false);

		if (!err && mem->mode == COWVM_MEM_UFFD)
			err = vmm_uffd_protect(mem, runs->r[i].off,
					       runs->r[i].n, true);
		if (err)
			return err;
	}
	return 0;
}

/* The pieces of fo's moved runs outside mem's lazy extents, on their new
 * frames (moved pages of a lazy extent stay lazy: their private copies
 * hold their new frames' bytes); NULL on ENOMEM. */
static struct vmm_extent *fold_moved(struct vmm_mem *mem, const struct fold *fo,
				     uint64_t *n)
{
	const struct vmm_extents *x = mem->ext;
	struct vmm_extent *add = vmm_malloc((fo->moved.n + 1) * sizeof(*add));
	uint64_t cap = fo->moved.n + 1;

	*n = 0;
	for (uint64_t i = 0; add && i < fo->moved.n; i++) {
		uint64_t off = fo->moved.r[i].off, end = off + fo->moved.r[i].n;

		for (uint64_t j = vmm_extents_find(x, off); off < end; j++) {
			uint64_t stop = x->e[j].off + x->e[j].n < end
						? x->e[j].off + x->e[j].n
						: end;

			if (x->e[j].frame != VMM_FRAME_LAZY && *n == cap) {
				struct vmm_extent *a = vmm_realloc(
					add, 2 * cap * sizeof(*add));

				if (!a) {
					free(add);
					return NULL;
				}
				add = a;
				cap *= 2;
			}
			if (x->e[j].frame != VMM_FRAME_LAZY)
				add[(*n)++] = (struct vmm_extent){
					off, stop - off, fold_frame(fo, off)};
			off = stop;
		}
	}
	return add;
}

/* The extents of mem with fo's moved runs on their new frames, bounded in
 * KERNEL mode (vmm_extents_bound); NULL on ENOMEM. */
static struct vmm_extents *fold_extents(struct vmm_mem *mem,
					const struct fold *fo)
{
	uint64_t n;
	struct vmm_extent *add = fold_moved(mem, fo, &n);
	struct vmm_extents *ext = NULL, *bounded;

	if (!add)
		return NULL;
	ext = vmm_extents_overlay(mem->ext, add, n);
	free(add);
	if (!ext || mem->mode != COWVM_MEM_KERNEL)
		return ext;
	bounded = vmm_extents_bound(ext);
	vmm_extents_put(ext);
	return bounded;
}

/* Keep the in-place runs not mapped anew (diff) while there is room. */
static int fold_keep(struct vmm_mem *mem, const struct fold *fo,
		     const struct vmm_runs *diff)
{
	struct vmm_runs left = {0};
	int err = 0;

	for (uint64_t i = 0; !err && i < fo->inplace.n; i++)
		for (uint64_t k = 0; !err && k < fo->inplace.r[i].n; k++)
			if (!vmm_runs_has(diff, fo->inplace.r[i].off + k))
				err = vmm_runs_add(&left,
						   fo->inplace.r[i].off + k, 1);
	if (!err)
		err = keep_inplace(mem, &left);
	vmm_runs_free(&left);
	return err;
}

/* Fold the pages written since the last fold into the table, then remap
 * them onto their frames so that the private copies go. A failure before
 * the first page is placed leaves mem as it was; after, it breaks mem. */
static int mem_fold(struct vmm_mem *mem)
{
	struct vmm_runs runs = {0}, diff = {0};
	struct fold fo = {0};
	struct vmm_extents *ext = NULL;
	int err = vmm_mem_written_runs(mem, &runs);

	if (err || !runs.n)
		goto out;
	err = fold_pages(mem, &runs, &fo);
	if (err && !fo.placed)
		goto out;
	if (!err)
		ext = fold_extents(mem, &fo);
	if (!err && !ext)
		err = -ENOMEM;
	if (!err)
		err = vmm_extents_diff(mem->ext, ext, &diff);
	if (!err) {
		vmm_extents_put(mem->ext);
		mem->ext = ext;
		ext = NULL;
		err = map_runs(mem, mem->ext, &diff);
	}
	if (!err)
		err = fold_keep(mem, &fo, &diff);
	if (!err)
		err = vmm_mem_written_clear(mem, false);
	if (err)
		vmm_mem_break(mem);
out:
	vmm_extents_put(ext);
	vmm_runs_free(&runs);
	vmm_runs_free(&diff);
	vmm_runs_free(&fo.moved);
	vmm_runs_free(&fo.inplace);
	free(fo.at);
	return err;
}

/* Leave direct mode: map RAM MAP_PRIVATE over the frames it has; a
 * failure breaks mem. */
static int mem_undirect(struct vmm_mem *mem)
{
	int err = vmm_mem_map_range(mem, mem->ext, 0, mem->pages, false);

	if (!err && mem->mode == COWVM_MEM_UFFD)
		err = vmm_uffd_protect(mem, 0, mem->pages, true);
	if (!err)
		mem->direct = false;
	if (!err) /* what was written so far is in the frames already */
		err = vmm_mem_written_clear(mem, true);
	if (err)
		vmm_mem_break(mem);
	return err;
}

static atomic_uint_fast64_t image_ids; /* the last image id given */

/* Fold (or leave direct mode), then fork the table. */
static int image_take_quiet(struct vmm_mem *mem, struct vmm_mem_image **out)
{
	struct vmm_mem_image *img;
	int err;

	if (mem->broken)
		return -EIO;
	if (!mem->tree)
		return -EINVAL;
	img = vmm_calloc(1, sizeof(*img));
	if (!img)
		return -ENOMEM;
	err = mem->direct ? mem_undirect(mem) : mem_fold(mem);
	if (!err) {
		pthread_mutex_lock(&vmm_store_lock);
		img->tree = vmm_fault(VMM_FAULT_COW) ? NULL
						     : cow_tree_fork(mem->tree);
		pthread_mutex_unlock(&vmm_store_lock);
		if (!img->tree)
			err = -ENOMEM;
	}
	if (err || !vmm_store_get()) {
		pthread_mutex_lock(&vmm_store_lock);
		cow_tree_destroy(img->tree);
		pthread_mutex_unlock(&vmm_store_lock);
		free(img);
		return err ? err : -ENOMEM;
	}
	atomic_init(&img->refs, 1);
	img->size = mem->size;
	img->id = vmm_mem_image_id();
	img->ext = vmm_extents_get(mem->ext);
	mem->base_id = img->id;
	*out = img;
	return 0;
}

/* A new image id, unique in the process. */
uint64_t vmm_mem_image_id(void)
{
	return atomic_fetch_add(&image_ids, 1) + 1;
}

/* Empty mem: fork the table and map the image's runs into the hole, one
 * mmap per run and no invalidation of the memslots. The dirty log is left
 * alone: an empty mem never ran, so it is clean (collecting it would cost
 * O(memory)). A foreign mapping in the hole fails with -EBUSY, untouched,
 * and leaves mem empty. */
static int realize_empty(struct vmm_mem *mem, struct vmm_mem_image *img)
{
	int err;

	if (!mem->hole)
		return -EINVAL; /* released by vmm_mem_release */
	pthread_mutex_lock(&vmm_store_lock);
	mem->tree = vmm_fault(VMM_FAULT_COW) ? NULL : cow_tree_fork(img->tree);
	pthread_mutex_unlock(&vmm_store_lock);
	if (!mem->tree)
		return -ENOMEM;
	mem->ext = vmm_extents_get(img->ext);
	err = vmm_mem_map_hole(mem, mem->ext);
	if (err) {
		vmm_mem_release(mem);
		return err;
	}
	mem->hole = false;
	mem->base_id = img->id;
	if (mem->mode == COWVM_MEM_UFFD)
		err = vmm_uffd_protect(mem, 0, mem->pages, true);
	if (!err)
		err = vmm_mem_written_clear(mem, false);
	if (err)
		vmm_mem_break(mem);
	return err;
}

/* Reset the table, drop the written copies, remap runs laid out
 * differently from the image; pages lazy on both sides are dropped too
 * (they fill from the new table) unless mem's table was img's but for the
 * written pages. A failure before the table is reset leaves mem as it
 * was; after, it breaks mem. */
static int realize_quiet(struct vmm_mem *mem, struct vmm_mem_image *img)
{
	struct vmm_runs written = {0}, diff = {0}, lazy = {0};
	bool was_direct = mem->direct;
	int err;

	if (mem->broken)
		return -EIO;
	if (img->size != mem->size)
		return -EINVAL;
	if (!mem->tree)
		return realize_empty(mem, img);
	err = vmm_mem_written_runs(mem, &written);
	if (!err && mem->direct)
		err = vmm_runs_add(&diff, 0, mem->pages);
	else if (!err)
		err = vmm_extents_diff(mem->ext, img->ext, &diff);
	if (!err && !mem->direct && mem->base_id != img->id)
		err = vmm_extents_both_lazy(mem->ext, img->ext, &lazy);
	if (err)
		goto out;
	pthread_mutex_lock(&vmm_store_lock);
	err = vmm_fault(VMM_FAULT_COW) ? -ENOMEM
				       : cow_tree_reset(mem->tree, img->tree);
	pthread_mutex_unlock(&vmm_store_lock);
	if (err)
		goto out;
	vmm_extents_put(mem->ext);
	mem->ext = vmm_extents_get(img->ext);
	mem->direct = false;
	mem->base_id = img->id;
	err = restore_written(mem, &written, &diff);
	if (!err)
		err = map_runs(mem, mem->ext, &diff);
	if (!err)
		err = drop_runs(mem, &lazy);
	if (!err)
		err = vmm_mem_written_clear(mem, was_direct);
	if (err)
		vmm_mem_break(mem);
out:
	vmm_runs_free(&written);
	vmm_runs_free(&diff);
	vmm_runs_free(&lazy);
	return err;
}

/* One more reference. */
void vmm_mem_image_get(struct vmm_mem_image *img)
{
	atomic_fetch_add(&img->refs, 1);
}

/* Drop a reference; the last frees the table, the extents and the store
 * reference. */
void vmm_mem_image_put(struct vmm_mem_image *img)
{
	if (!img || atomic_fetch_sub(&img->refs, 1) != 1)
		return;
	pthread_mutex_lock(&vmm_store_lock);
	cow_tree_destroy(img->tree);
	pthread_mutex_unlock(&vmm_store_lock);
	vmm_extents_put(img->ext);
	free(img);
	vmm_store_put();
}

/* Bytes of RAM the image holds. */
uint64_t vmm_mem_image_size(const struct vmm_mem_image *img)
{
	return img->size;
}

/* Freeze mem into a new image with no write-protect fault in flight. */
int vmm_mem_image_take(struct vmm_mem *mem, struct vmm_mem_image **out)
{
	int err;

	pthread_mutex_lock(&mem->rec.quiesce);
	err = image_take_quiet(mem, out);
	pthread_mutex_unlock(&mem->rec.quiesce);
	return err;
}

/* Make mem's contents equal img's with no write-protect fault in flight. */
int vmm_mem_realize(struct vmm_mem *mem, struct vmm_mem_image *img)
{
	int err;

	pthread_mutex_lock(&mem->rec.quiesce);
	err = realize_quiet(mem, img);
	pthread_mutex_unlock(&mem->rec.quiesce);
	return err;
}
