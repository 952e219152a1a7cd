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
	uint32_t *tref, *fref; /* recomputed refcounts */
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
			if (x >= s->frames.next)
				return fail(c,
					    "table %u entry %u: frame %u "
					    "never allocated",
					    t, i, x);
			c->fref[x]++;
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

/* Compare recomputed and stored refcounts of one pool; count in-use ones. */
static int check_refs(struct check *c, const struct cow_pool *p,
		      const uint32_t *want, const char *what)
{
	uint32_t i, used = 0;

	for (i = 0; i < p->next; i++) {
		if (p->ref[i] != want[i])
			return fail(c, "%s %u: refcount %u, recomputed %u",
				    what, i, p->ref[i], want[i]);
		used += p->ref[i] > 0;
	}
	if (used != p->used)
		return fail(c, "%s: %u in use, counter says %u", what, used,
			    p->used);
	return 0;
}

/* Each index on a free list: allocated once, refcount 0, listed once. */
static int check_free(struct check *c, const struct cow_pool *p,
		      const uint32_t *list, uint32_t n, uint8_t *seen,
		      const char *what)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint32_t x = list[i];

		if (x >= p->next || p->ref[x] || seen[x] == FREE_MARK)
			return fail(c,
				    "%s %u on a free list: bad, busy or "
				    "listed twice",
				    what, x);
		seen[x] = FREE_MARK;
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
	int r;

	for (t = s->trees.next; t != &s->trees; t = t->next) {
		if (t->root >= s->tables.next)
			return fail(c, "tree root %u never allocated", t->root);
		c->tref[t->root]++;
		r = check_table(c, t->root, COW_ROOT_LEVEL);
		if (r)
			return r;
	}
	r = check_refs(c, &s->tables, c->tref, "table");
	if (!r)
		r = check_refs(c, &s->frames, c->fref, "frame");
	if (!r)
		r = check_free(c, &s->tables, s->tables.free, s->tables.nfree,
			       c->tseen, "table");
	if (!r)
		r = check_free(c, &s->frames, s->frames.free, s->frames.nfree,
			       c->fseen, "frame");
	if (!r)
		r = check_free(c, &s->frames, s->pending, s->npending, c->fseen,
			       "frame");
	if (r)
		return r;
	if (s->tables.nfree + s->tables.used != s->tables.next)
		return fail(c, "tables: %u free + %u used != %u allocated",
			    s->tables.nfree, s->tables.used, s->tables.next);
	if (s->frames.nfree + s->npending + s->frames.used != s->frames.next)
		return fail(c, "frames: %u free + %u pending + %u used != %u",
			    s->frames.nfree, s->npending, s->frames.used,
			    s->frames.next);
	return check_zero(c);
}

int cow_store_check(struct cow_store *s, char *why, size_t n)
{
	struct check c = {.s = s, .why = why, .n = n};
	size_t nt = s->tables.next ? s->tables.next : 1;
	size_t nf = s->frames.next ? s->frames.next : 1;
	int r = -ENOMEM;

	if (n)
		why[0] = '\0';
	c.tref = calloc(nt, sizeof(*c.tref));
	c.fref = calloc(nf, sizeof(*c.fref));
	c.tseen = calloc(nt, 1);
	c.fseen = calloc(nf, 1);
	if (c.tref && c.fref && c.tseen && c.fseen)
		r = check_all(&c);
	free(c.tref);
	free(c.fref);
	free(c.tseen);
	free(c.fseen);
	return r;
}
