/* The store: lifetime of the frame store, the table pool and the tree list. */
#include <errno.h>
#include <stdlib.h>

#include "cow_internal.h"

#define DEFAULT_MAX_FRAMES  (1u << 24) /* 64 GiB of guest memory */
#define DEFAULT_MAX_TABLES  (1u << 20) /* 4 GiB of tables */
#define DEFAULT_PUNCH_BATCH 4096u /* up to 16 MiB freed, resident, reusable */

/* Largest limits whose byte sizes and entry indices stay representable. */
#define MAX_OBJECTS (1u << 31)

/* Create a store with the given limits (NULL = defaults); NULL+errno. */
struct cow_store *cow_store_create(const struct cow_store_config *cfg)
{
	struct cow_store_config c = cfg ? *cfg : (struct cow_store_config){0};
	struct cow_store *s;
	int r;

	c.max_frames = c.max_frames ? c.max_frames : DEFAULT_MAX_FRAMES;
	c.max_tables = c.max_tables ? c.max_tables : DEFAULT_MAX_TABLES;
	c.punch_batch = c.punch_batch ? c.punch_batch : DEFAULT_PUNCH_BATCH;
	if (c.max_frames > MAX_OBJECTS || c.max_tables > MAX_OBJECTS ||
	    c.window_frames > MAX_OBJECTS - c.max_frames ||
	    c.window_frames % COW_CHUNK) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->memfd = -1;
	s->trees.next = s->trees.prev = &s->trees;
	s->wbase = c.max_frames;
	s->wframes = c.window_frames;
	r = cow_frames_init(s, c.max_frames, c.punch_batch, c.window_frames);
	if (!r)
		r = cow_windows_init(s);
	if (!r)
		r = cow_tables_init(s, c.max_tables);
	if (r) {
		cow_store_destroy(s);
		errno = -r;
		return NULL;
	}
	return s;
}

/* Destroy remaining trees, then release frames and tables. */
void cow_store_destroy(struct cow_store *s)
{
	if (!s)
		return;
	while (s->trees.next != &s->trees && s->trees.next)
		cow_tree_destroy(s->trees.next);
	cow_tables_fini(s);
	cow_frames_fini(s);
	cow_windows_fini(s);
	free(s);
}

/* Copy out the counters and current totals. */
void cow_store_stats(const struct cow_store *s, struct cow_store_stats *st)
{
	*st = s->st;
	st->frames_used = s->frames.used;
	st->frames_max = s->frames.max;
	st->tables_used = s->tables.used;
	st->tables_max = s->tables.max;
	st->window_frames_held = 0;
	for (uint32_t c = 0; c < s->wtop; c++)
		st->window_frames_held += s->wchunk[c] ? COW_CHUNK : 0;
}

/* Add tree t to the store's list of live trees. */
void cow_store_link(struct cow_store *s, struct cow_tree *t)
{
	t->next = &s->trees;
	t->prev = s->trees.prev;
	s->trees.prev->next = t;
	s->trees.prev = t;
}

/* Remove tree t from the store's list. */
void cow_store_unlink(struct cow_store *s, struct cow_tree *t)
{
	(void)s;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
}
