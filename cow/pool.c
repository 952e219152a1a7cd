/* Index pools: refcount arrays and free stacks behind frames and tables. */
#include <errno.h>
#include <sys/mman.h>

#include "cow_internal.h"

/* Reserve a lazily zeroed, never-committed array of n 32-bit words. */
static uint32_t *pool_array(uint32_t n)
{
	void *p =
		mmap(NULL, (size_t)n * sizeof(uint32_t), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Set up an empty pool of at most max objects whose refcount array also
 * covers extra indices above max; -errno. */
int cow_pool_init(struct cow_pool *p, uint32_t max, uint32_t extra)
{
	*p = (struct cow_pool){.max = max, .nidx = max + extra};
	p->ref = pool_array(p->nidx);
	p->free = pool_array(max);
	if (!p->ref || !p->free) {
		cow_pool_fini(p);
		return -ENOMEM;
	}
	return 0;
}

/* Release a pool's arrays (safe on a partly initialized pool). */
void cow_pool_fini(struct cow_pool *p)
{
	if (p->ref)
		munmap(p->ref, (size_t)p->nidx * sizeof(uint32_t));
	if (p->free)
		munmap(p->free, (size_t)p->max * sizeof(uint32_t));
	p->ref = p->free = NULL;
}

/* Pop the free stack, else bump; refcount set to 1; COW_NONE when full. */
uint32_t cow_pool_take(struct cow_pool *p, bool *reused)
{
	uint32_t i;

	if (p->nfree) {
		i = p->free[--p->nfree];
		*reused = true;
	} else if (p->next < p->max) {
		i = p->next++;
		*reused = false;
	} else {
		return COW_NONE;
	}
	p->ref[i] = 1;
	p->used++;
	return i;
}

/* Push index i, whose refcount just reached 0, on the free stack. */
void cow_pool_give(struct cow_pool *p, uint32_t i)
{
	p->free[p->nfree++] = i;
	p->used--;
}
