/* The frame store: refcounted 4 KiB pages in one sparse, shared memfd. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cow_internal.h"

/* Create the memfd (max frames, then window frames), size it sparsely and
 * map it once; -errno. */
int cow_frames_init(struct cow_store *s, uint32_t max, uint32_t batch,
		    uint32_t window)
{
	size_t bytes = ((size_t)max + window) << COW_PAGE_SHIFT;
	int r = cow_pool_init(&s->frames, max, window);

	if (r)
		return r;
	s->punch_batch = batch;
	s->pending = calloc(batch, sizeof(*s->pending));
	s->memfd = memfd_create("cowvm-frames", MFD_CLOEXEC);
	if (!s->pending || s->memfd < 0)
		goto fail;
	if (ftruncate(s->memfd, (off_t)bytes) < 0)
		goto fail;
	s->frame_mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_NORESERVE, s->memfd, 0);
	if (s->frame_mem == MAP_FAILED) {
		s->frame_mem = NULL;
		goto fail;
	}
	return 0;
fail:
	r = errno ? -errno : -ENOMEM;
	cow_frames_fini(s);
	return r;
}

/* Unmap and close the frame store (safe on a partly initialized store). */
void cow_frames_fini(struct cow_store *s)
{
	if (s->frame_mem)
		munmap(s->frame_mem, (size_t)s->frames.nidx << COW_PAGE_SHIFT);
	if (s->memfd >= 0)
		close(s->memfd);
	free(s->pending);
	cow_pool_fini(&s->frames);
	s->frame_mem = NULL;
	s->memfd = -1;
	s->pending = NULL;
}

/* qsort order of frame indices. */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Discard frames [first, first+n) so that they read as zero. */
static void frames_discard(struct cow_store *s, uint32_t first, uint32_t n)
{
	off_t off = (off_t)cow_frame_offset(first);
	off_t len = (off_t)n << COW_PAGE_SHIFT;

	s->st.punches++;
	if (fallocate(s->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
		      len) < 0)
		memset(s->frame_mem + off, 0, (size_t)len);
}

/* Punch every pending frame (adjacent ones in one call), then make them
 * allocatable (window frames go back to their chunk). */
static void frames_flush(struct cow_store *s)
{
	uint32_t *p = s->pending, n = s->npending, i, run;

	qsort(p, n, sizeof(*p), cmp_u32);
	for (i = 0; i < n; i += run) {
		for (run = 1; i + run < n && p[i + run] == p[i] + run; run++)
			;
		frames_discard(s, p[i], run);
	}
	/* Push in descending order so that the lowest frame is reused first. */
	for (i = n; i-- > 0;) {
		if (cow_frame_in_window(s, p[i]))
			cow_window_frame_done(s, p[i]);
		else
			s->frames.free[s->frames.nfree++] = p[i];
	}
	s->npending = 0;
}

/* Punch every pending frame now. */
void cow_store_trim(struct cow_store *s)
{
	frames_flush(s);
}

/* Take the most recently freed, not yet punched, non-window frame off the
 * pending list; COW_NONE if there is none. */
static uint32_t pending_take(struct cow_store *s)
{
	uint32_t i = s->npending, f;

	while (i-- > 0) {
		f = s->pending[i];
		if (cow_frame_in_window(s, f))
			continue;
		s->pending[i] = s->pending[--s->npending];
		return f;
	}
	return COW_NONE;
}

/* Allocate a zero frame with refcount 1; -ENOMEM at the limit. A freed
 * frame still waiting for its punch is resident: zeroing it by hand costs
 * less than the punch plus the page fault of a discarded one, so those
 * are reused first, then discarded ones, then never-used ones. */
int64_t cow_frame_alloc(struct cow_store *s)
{
	bool reused;
	uint32_t f;

	if (s->frames.used >= s->frames.max)
		return -ENOMEM;
	f = pending_take(s);
	if (f != COW_NONE) {
		memset(cow_frame_ptr(s, f), 0, COW_PAGE_SIZE);
		s->frames.ref[f] = 1;
		s->frames.used++;
		return f;
	}
	if (!s->frames.nfree && s->npending)
		frames_flush(s);
	f = cow_pool_take(&s->frames, &reused);
	return f == COW_NONE ? -ENOMEM : (int64_t)f;
}

/* One more reference on allocated frame f. */
void cow_frame_get(struct cow_store *s, uint32_t f)
{
	s->frames.ref[f]++;
}

/* Drop a reference; a frame reaching zero waits in pending for a punch. */
void cow_frame_put(struct cow_store *s, uint32_t f)
{
	if (--s->frames.ref[f])
		return;
	s->frames.used--;
	s->st.frames_freed++;
	if (cow_frame_in_window(s, f))
		s->wpend[cow_frame_chunk(s, f)]++;
	s->pending[s->npending++] = f;
	if (s->npending == s->punch_batch)
		frames_flush(s);
}

/* The memfd behind every frame (owned by the store). */
int cow_frame_fd(const struct cow_store *s)
{
	return s->memfd;
}

/* Host address of frame f in the store's mapping. */
void *cow_frame_ptr(const struct cow_store *s, uint32_t f)
{
	return s->frame_mem + cow_frame_offset(f);
}

/* Refcount of frame f; 0 for a free or never-used index. */
uint32_t cow_frame_refcount(const struct cow_store *s, uint32_t f)
{
	return f < s->frames.next || cow_frame_in_window(s, f)
		       ? s->frames.ref[f]
		       : 0;
}
