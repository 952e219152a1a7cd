/* The VA arena of guest RAM: PROT_NONE reservations far from where the
 * kernel places mmaps, carved into one range per mem and reused once a
 * mem is gone. An empty mem keeps its RAM a hole (no mapping at all) in its
 * range, so realizing it maps into nothing: no mapping under a live memslot
 * is replaced, and KVM's MMU notifier (whose invalidation walks every gfn
 * of the range under shadow paging) is not called. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "mem_internal.h"

/* Where the arena goes first: 32 TiB, above AddressSanitizer's shadow
 * (which ends below 16 TiB + 2 GiB), far below PIE images and the mmap
 * area (which start near 85 TiB and 128 TiB and grow toward each other);
 * kernel-placed mmaps reach it only after some 50 TiB of others. */
#define ARENA_BASE  0x200000000000ull
#define ARENA_CHUNK (1ull << 40) /* reserved at a time */
#define ARENA_TRIES 16u		 /* chunks tried at fixed addresses */

/* A free stretch of reserved (PROT_NONE) arena. */
struct arena_free {
	uint64_t start, len;
};

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena_free *arena_list; /* sorted, never adjacent */
static size_t arena_n, arena_cap;
static uint64_t arena_next = ARENA_BASE; /* next fixed address to try */

/* Insert [start, start + len) into the free list, merging with its
 * neighbours; 0 or -ENOMEM (the stretch is then lost). Lock held. */
static int arena_insert(uint64_t start, uint64_t len)
{
	size_t i = 0;

	while (i < arena_n && arena_list[i].start < start)
		i++;
	if (i && arena_list[i - 1].start + arena_list[i - 1].len == start) {
		arena_list[i - 1].len += len;
		if (i < arena_n && start + len == arena_list[i].start) {
			arena_list[i - 1].len += arena_list[i].len;
			for (size_t k = i; k + 1 < arena_n; k++)
				arena_list[k] = arena_list[k + 1];
			arena_n--;
		}
		return 0;
	}
	if (i < arena_n && start + len == arena_list[i].start) {
		arena_list[i].start = start;
		arena_list[i].len += len;
		return 0;
	}
	if (arena_n == arena_cap) {
		size_t cap = arena_cap ? 2 * arena_cap : 16;
		struct arena_free *l =
			vmm_realloc(arena_list, cap * sizeof(*arena_list));

		if (!l)
			return -ENOMEM;
		arena_list = l;
		arena_cap = cap;
	}
	for (size_t k = arena_n; k > i; k--)
		arena_list[k] = arena_list[k - 1];
	arena_list[i] = (struct arena_free){start, len};
	arena_n++;
	return 0;
}

/* Reserve len bytes at p (NULL: where the kernel likes) as PROT_NONE;
 * the address or MAP_FAILED, never anything but p when p is given. */
static void *arena_reserve(void *p, uint64_t len)
{
	void *q = vmm_mmap(p, len, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
				   (p ? MAP_FIXED_NOREPLACE : 0),
			   -1, 0);

	if (q != MAP_FAILED && p && q != p) { /* a kernel without NOREPLACE */
		vmm_munmap(q, len);
		return MAP_FAILED;
	}
	return q;
}

/* Reserve a new chunk of at least len bytes: at the next fixed addresses
 * first, else wherever the kernel puts it; 0 or -errno. Lock held. */
static int arena_grow(uint64_t len)
{
	uint64_t chunk = len > ARENA_CHUNK ? len : ARENA_CHUNK;
	void *p = MAP_FAILED;

	for (unsigned i = 0; p == MAP_FAILED && i < ARENA_TRIES; i++) {
		p = arena_reserve((void *)(uintptr_t)arena_next, chunk);
		arena_next += chunk;
	}
	if (p == MAP_FAILED)
		p = arena_reserve(NULL, chunk);
	if (p == MAP_FAILED && chunk > len) {
		chunk = len;
		p = arena_reserve(NULL, chunk);
	}
	if (p == MAP_FAILED)
		return -errno;
	if (arena_insert((uint64_t)(uintptr_t)p, chunk)) {
		vmm_munmap(p, chunk);
		return -ENOMEM;
	}
	return 0;
}

/* First fit, growing the arena when nothing fits. */
int vmm_arena_alloc(uint64_t size, uint8_t **base, uint64_t *span)
{
	uint64_t len = (size + VMM_ARENA_ALIGN - 1) / VMM_ARENA_ALIGN *
			       VMM_ARENA_ALIGN +
		       VMM_ARENA_ALIGN;
	int err = 0;

	pthread_mutex_lock(&arena_lock);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < arena_n; i++) {
			struct arena_free *f = &arena_list[i];

			if (f->len < len)
				continue;
			*base = (uint8_t *)(uintptr_t)f->start;
			*span = len;
			f->start += len;
			f->len -= len;
			if (!f->len) {
				for (size_t k = i; k + 1 < arena_n; k++)
					arena_list[k] = arena_list[k + 1];
				arena_n--;
			}
			pthread_mutex_unlock(&arena_lock);
			return 0;
		}
		if (pass || (err = arena_grow(len)))
			break;
	}
	pthread_mutex_unlock(&arena_lock);
	return err ? err : -ENOMEM;
}

/* Hold the arena across fork() (fork.c), so that the child's list is
 * whole. */
void vmm_arena_fork_lock(void)
{
	pthread_mutex_lock(&arena_lock);
}

/* Release it after fork(), in the parent and in the child. */
void vmm_arena_fork_unlock(void)
{
	pthread_mutex_unlock(&arena_lock);
}

/* Back into the free list; the caller reserved it as PROT_NONE again. */
void vmm_arena_free(uint8_t *base, uint64_t span)
{
	pthread_mutex_lock(&arena_lock);
	(void)arena_insert((uint64_t)(uintptr_t)base, span);
	pthread_mutex_unlock(&arena_lock);
}
