/* The invariant checker: recompute every refcount and total from scratch. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cow_internal.h"

#define FREE_MARK   0xff /* seen[] value of an index on a free list */
#define ZERO_SAMPLE 4	 /* free frames checked for zero at each end */

struct check {
	const struct cow_store *s;
	uint32_t *tref, *fref; /* recomputed refcounts; frame slots: classic
				* frames, then 512 per non-free chunk */
	uint32_t *cslot;       /* chunk -> its slot block, or COW_NONE */
	uint32_t nchunks;      /* non-free chunks below wtop */
	uint8_t *tseen;	       /* table: 0 unseen, level+1, or FREE_MARK */
	uint8_t *fseen;	       /* frame: 0 or FREE_MARK */
	char *why;
	size_t n;
};

/* Record the first failure in why; always -EUCLEAN. */
static int fail(struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->n) {
		va_start(ap, fmt);
		vsnprintf(c->why, c->n, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

/* Slot of frame x in fref/fseen, or COW_NONE if x was never handed out. */
static uint32_t fslot(const struct check *c, uint32_t x)
{
	const struct cow_store *s = c->s;
	uint32_t ch;

	if (x < s->frames.next)
		return x;
	if (!cow_frame_in_window(s, x))
		return COW_NONE;
	ch = cow_frame_chunk(s, x);
	if (ch >= s->wtop || c->cslot[ch] == COW_NONE)
		return COW_NONE;
	return s->frames.next + c->cslot[ch] * COW_CHUNK +
	       (x & (COW_CHUNK - 1));
}

/* Count the references level-L table t holds, once per distinct table. */
static int check_table(struct check *c, uint32_t t, int level)
{
	const struct cow_store *s = c->s;
	const uint64_t *e = cow_table_ptr(s, t);
	unsigned i;
	int r;

	if (c->tseen[t])
		return c->tseen[t] == level + 1
			       ? 0
			       : fail(c, "table %u reached at levels %d and %d",
				      t, c->tseen[t] - 1, level);
	c->tseen[t] = (uint8_t)(level + 1);
	for (i = 0; i < COW_ENTRIES; i++) {
		uint32_t x = cow_pte_idx(e[i]);

		if ((e[i] & COW_PTE_RESERVED) ||
		    (!cow_pte_present(e[i]) && e[i]))
			return fail(c, "table %u entry %u malformed: %#llx", t,
				    i, (unsigned long long)e[i]);
		if (!cow_pte_present(e[i]))
			continue;
		if (!level) {
			uint32_t slot = fslot(c, x);

			if (slot == COW_NONE)
				return fail(c,
					    "table %u entry %u: frame %u "
					    "never allocated",
					    t, i, x);
			c->fref[slot]++;
			continue;
		}
		if (x >= s->tables.next)
			return fail(c,
				    "table %u entry %u: table %u never "
				    "allocated",
				    t, i, x);
		c->tref[x]++;
		r = check_table(c, x, level - 1);
		if (r)
			return r;
	}
	return 0;
}

/* Compare recomputed and stored refcounts of one pool's classic indices;
 * count in-use ones (plus *extra, the pool's window frames in use). */
static int check_refs(struct check *c, const struct cow_pool *p,
		      const uint32_t *want, const char *what, uint32_t extra,
		      uint32_t *classic)
{
	uint32_t i, used = 0;

	for (i = 0; i < p->next; i++) {
		if (p->ref[i] != want[i])
			return fail(c, "%s %u: refcount %u, recomputed %u",
				    what, i, p->ref[i], want[i]);
		used += p->ref[i] > 0;
	}
	*classic = used;
	used += extra;
	if (used != p->used)
		return fail(c, "%s: %u in use, counter says %u", what, used,
			    p->used);
	return 0;
}

/* Each index on a free list: allocated once, refcount 0, listed once;
 * frames may be window frames (frames = true). */
static int check_free(struct check *c, const struct cow_pool *p,
		      const uint32_t *list, uint32_t n, uint8_t *seen,
		      const char *what, bool frames)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint32_t x = list[i];
		uint32_t slot = frames ? fslot(c, x) : x;

		if (slot == COW_NONE || x >= p->nidx ||
		    (!frames && x >= p->next) || p->ref[x] ||
		    seen[slot] == FREE_MARK)
			return fail(c,
				    "%s %u on a free list: bad, busy or "
				    "listed twice",
				    what, x);
		seen[slot] = FREE_MARK;
	}
	return 0;
}

/* Window chunks: refcounts of their frames, the chunk counters (frames in
 * use + pending + reservations), and free reserved frames reading zero. */
static int check_windows(struct check *c, uint32_t *used)
{
	const struct cow_store *s = c->s;
	static const uint8_t zero[COW_PAGE_SIZE];
	uint32_t ch, k, i;

	for (ch = 0; ch < s->wtop; ch++) {
		uint32_t want = 0, pend = 0, zeros = 0;

		if (c->cslot[ch] == COW_NONE)
			continue;
		for (i = 0; i < s->nres; i++)
			want += ch >= s->res[i].chunk &&
				ch - s->res[i].chunk < s->res[i].n;
		for (k = 0; k < COW_CHUNK; k++) {
			uint32_t x = s->wbase + ch * COW_CHUNK + k;
			uint32_t slot = fslot(c, x);

			if (s->frames.ref[x] != c->fref[slot])
				return fail(c,
					    "frame %u: refcount %u, "
					    "recomputed %u",
					    x, s->frames.ref[x], c->fref[slot]);
			*used += s->frames.ref[x] > 0;
			want += s->frames.ref[x] > 0;
			pend += c->fseen[slot] == FREE_MARK;
			if (s->frames.ref[x] || c->fseen[slot] ||
			    zeros == ZERO_SAMPLE || cow_frame_backed(s, x))
				continue;
			zeros++;
			if (memcmp(cow_frame_ptr(s, x), zero, COW_PAGE_SIZE))
				return fail(c,
					    "free window frame %u is not "
					    "zero",
					    x);
		}
		if (pend != s->wpend[ch] || want + pend != s->wchunk[ch])
			return fail(c,
				    "window chunk %u: count %u pending %u, "
				    "recomputed %u and %u",
				    ch, s->wchunk[ch], s->wpend[ch],
				    want + pend, pend);
	}
	return 0;
}

/* A frame handed out again must read as zero: sample the free stack. */
static int check_zero(struct check *c)
{
	const struct cow_pool *p = &c->s->frames;
	static const uint8_t zero[COW_PAGE_SIZE];
	uint32_t i;

	for (i = 0; i < p->nfree; i++) {
		uint32_t f = p->free[i];

		if (i == ZERO_SAMPLE && p->nfree > 2 * ZERO_SAMPLE)
			i = p->nfree - ZERO_SAMPLE;
		if (memcmp(cow_frame_ptr(c->s, f), zero, COW_PAGE_SIZE))
			return fail(c, "free frame %u is not zero", f);
	}
	return 0;
}

/* Walk every tree, then compare counts and free lists. */
static int check_all(struct check *c)
{
	const struct cow_store *s = c->s;
	const struct cow_tree *t;
	uint32_t wused = 0, tused, fused = 0, i, wpending = 0;
	int r;

	for (t = s->trees.next; t != &s->trees; t = t->next) {
		if (t->root >= s->tables.next)
			return fail(c, "tree root %u never allocated", t->root);
		c->tref[t->root]++;
		r = check_table(c, t->root, COW_ROOT_LEVEL);
		if (r)
			return r;
	}
	r = check_free(c, &s->tables, s->tables.free, s->tables.nfree, c->tseen,
		       "table", false);
	if (!r)
		r = check_free(c, &s->frames, s->frames.free, s->frames.nfree,
			       c->fseen, "frame", true);
	if (!r)
		r = check_free(c, &s->frames, s->pending, s->npending, c->fseen,
			       "frame", true);
	for (i = 0; !r && i < s->frames.nfree; i++)
		if (cow_frame_in_window(s, s->frames.free[i]))
			r = fail(c, "window frame %u on the free stack",
				 s->frames.free[i]);
	for (i = 0; i < s->npending; i++)
		wpending += cow_frame_in_window(s, s->pending[i]);
	if (!r)
		r = check_windows(c, &wused);
	if (!r)
		r = check_refs(c, &s->tables, c->tref, "table", 0, &tused);
	if (!r)
		r = check_refs(c, &s->frames, c->fref, "frame", wused, &fused);
	if (r)
		return r;
	if (s->tables.nfree + s->tables.used != s->tables.next)
		return fail(c, "tables: %u free + %u used != %u allocated",
			    s->tables.nfree, s->tables.used, s->tables.next);
	if (s->frames.nfree + s->npending - wpending + fused != s->frames.next)
		return fail(c, "frames: %u free + %u pending + %u used != %u",
			    s->frames.nfree, s->npending - wpending, fused,
			    s->frames.next);
	return check_zero(c);
}

/* 0 when every stored count matches a recount, else -EUCLEAN (or
 * -ENOMEM for the scratch arrays) with the first mismatch in why. */
int cow_store_check(struct cow_store *s, char *why, size_t n)
{
	struct check c = {.s = s, .why = why, .n = n};
	size_t nt = s->tables.next ? s->tables.next : 1;
	size_t nf;
	uint32_t ch;
	int r = -ENOMEM;

	if (n)
		why[0] = '\0';
	c.cslot = malloc(((size_t)s->wtop + 1) * sizeof(*c.cslot));
	if (!c.cslot)
		return -ENOMEM;
	for (ch = 0; ch < s->wtop; ch++)
		c.cslot[ch] = s->wchunk[ch] ? c.nchunks++ : COW_NONE;
	nf = (size_t)s->frames.next + (size_t)c.nchunks * COW_CHUNK + 1;
	c.tref = calloc(nt, sizeof(*c.tref));
	c.fref = calloc(nf, sizeof(*c.fref));
	c.tseen = calloc(nt, 1);
	c.fseen = calloc(nf, 1);
	if (c.tref && c.fref && c.tseen && c.fseen)
		r = check_all(&c);
	free(c.cslot);
	free(c.tref);
	free(c.fref);
	free(c.tseen);
	free(c.fseen);
	return r;
}
