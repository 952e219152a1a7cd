/* Backings: a read-only file whose pages stand for a tree's absent pages
 * in given ranges, placed in the store's window index space and mapped
 * over the store's view of it, so that a tree made from a file costs O(1)
 * and its frames read through cow_frame_ptr like any other. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cow_internal.h"

/* Map bytes of fd at off over the store's view of frames [first, ...). */
static int backing_overlay(struct cow_store *s, uint32_t first, uint64_t n,
			   int fd, uint64_t off, int prot)
{
	void *want = cow_frame_ptr(s, first);
	void *p = mmap(want, n << COW_PAGE_SHIFT, prot,
		       MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, (off_t)off);

	return p == MAP_FAILED ? -errno : 0;
}

/* Pages of all ranges of r, or 0 when they are not ascending and disjoint. */
static uint64_t backing_pages(const struct cow_backing_range *r, unsigned nr)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < nr; i++) {
		if (!r[i].n || r[i].gfn >= COW_GFN_LIMIT ||
		    r[i].n > COW_GFN_LIMIT - r[i].gfn ||
		    (i && r[i].gfn < r[i - 1].gfn + r[i - 1].n))
			return 0;
		n += r[i].n;
	}
	return n;
}

/* A backing of the pages at byte off of fd (page aligned) for ranges r,
 * in order, with one reference; NULL+errno: EINVAL (ranges, alignment),
 * ENOSPC (window space), or the mmap's. */
struct cow_backing *cow_backing_create(struct cow_store *s, int fd,
				       uint64_t off,
				       const struct cow_backing_range *r,
				       unsigned nr)
{
	uint64_t n = nr <= COW_BACKING_RANGES ? backing_pages(r, nr) : 0;
	struct cow_backing *b;
	int64_t w;
	int err;

	if (!n || off % COW_PAGE_SIZE || n > UINT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	b->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	w = b->fd < 0 ? -errno : cow_window_reserve(s, n);
	err = w < 0 ? (int)w
		    : backing_overlay(s, (uint32_t)w, n, b->fd, off, PROT_READ);
	if (err) {
		if (w >= 0)
			cow_window_release(s, (uint32_t)w, n);
		if (b->fd >= 0)
			close(b->fd);
		free(b);
		errno = -err;
		return NULL;
	}
	b->store = s;
	b->refs = 1;
	b->first = (uint32_t)w;
	b->n = n;
	b->off = off;
	b->nr = nr;
	for (unsigned i = 0; i < nr; i++)
		b->r[i] = r[i];
	b->next = s->backings;
	s->backings = b;
	return b;
}

/* One more reference on b. */
void cow_backing_get(struct cow_backing *b)
{
	b->refs++;
}

/* Drop a reference; the last puts the store's own view back over b's
 * frames and gives their window indices back. NULL is ignored. */
void cow_backing_put(struct cow_backing *b)
{
	struct cow_store *s;
	struct cow_backing **pp;

	if (!b || --b->refs)
		return;
	s = b->store;
	for (pp = &s->backings; *pp != b; pp = &(*pp)->next)
		;
	*pp = b->next;
	/* On failure the indices stay mapped to the file: never hand them
	 * out again rather than expose the file's bytes as free frames. */
	if (!backing_overlay(s, b->first, b->n, s->memfd,
			     cow_frame_offset(b->first),
			     PROT_READ | PROT_WRITE))
		cow_window_release(s, b->first, b->n);
	close(b->fd);
	free(b);
}

/* The frame b places at gfn, or COW_NONE outside its ranges. */
uint32_t cow_backing_frame(const struct cow_backing *b, uint64_t gfn)
{
	uint64_t at = 0;

	if (!b)
		return COW_NONE;
	for (unsigned i = 0; i < b->nr; i++) {
		if (gfn >= b->r[i].gfn && gfn - b->r[i].gfn < b->r[i].n)
			return (uint32_t)(b->first + at + (gfn - b->r[i].gfn));
		at += b->r[i].n;
	}
	return COW_NONE;
}

/* The backing whose frames include f, or NULL. */
static const struct cow_backing *backing_of(const struct cow_store *s,
					    uint32_t f)
{
	for (const struct cow_backing *b = s->backings; b; b = b->next)
		if (f >= b->first && f - b->first < b->n)
			return b;
	return NULL;
}

/* Whether frame f holds a backing's page (its bytes are the file's). */
int cow_frame_backed(const struct cow_store *s, uint32_t f)
{
	return backing_of(s, f) != NULL;
}

/* The file and byte offset holding frame f: the memfd, or a backing's
 * file; returns how many frames from f on lie in the same file at
 * consecutive offsets (at least 1). */
uint64_t cow_frame_source(const struct cow_store *s, uint32_t f, int *fd,
			  uint64_t *off)
{
	const struct cow_backing *b = backing_of(s, f);
	uint64_t end = (uint64_t)s->frames.nidx;

	if (b) {
		*fd = b->fd;
		*off = b->off + cow_frame_offset(f - b->first);
		return b->first + b->n - f;
	}
	for (const struct cow_backing *o = s->backings; o; o = o->next)
		if (o->first > f && o->first < end)
			end = o->first;
	*fd = s->memfd;
	*off = cow_frame_offset(f);
	return end - f;
}

/* An empty tree whose absent pages read as b's (a reference taken). */
struct cow_tree *cow_tree_create_backed(struct cow_store *s,
					struct cow_backing *b)
{
	struct cow_tree *t = cow_tree_create(s);

	if (t && b) {
		cow_backing_get(b);
		t->backing = b;
	}
	return t;
}

/* The backing of tree (NULL for none). */
struct cow_backing *cow_tree_backing(const struct cow_tree *tree)
{
	return tree->backing;
}
