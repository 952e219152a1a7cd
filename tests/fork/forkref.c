/* Host reference for the forktest workload, written from the formulas in
 * cowvm_workload_abi.h: pages are resolved to the last round that wrote them rather
 * than replayed, so it shares no structure with the guest's code. */
#include "forkref.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define GOLDEN 0x9e3779b97f4a7c15ull

/* splitmix64's output function. */
static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Word i of the memtest pattern of seed. */
static uint64_t word(uint64_t seed, uint64_t i)
{
	return mix(seed + (i + 1) * GOLDEN);
}

/* The pattern seed of the pages round r writes after receiving id. */
static uint64_t round_seed(const struct forkref *f, uint64_t r, uint64_t id)
{
	return mix(mix(f->seed + r * GOLDEN) + id * GOLDEN);
}

/* Prepare the reference for "forktest seed=seed mib=mib pages=pages";
 * 0, or -1 when the arguments are invalid or memory runs out. */
int forkref_init(struct forkref *f, uint64_t seed, uint64_t mib, uint64_t pages)
{
	uint64_t n, h = 0xcbf29ce484222325ull;

	f->seed = seed;
	f->mib = mib;
	f->pages = pages;
	f->npages = mib * (1024 * 1024 / FORKREF_PAGE);
	if (!mib || pages > f->npages)
		return -1;
	n = f->npages * FORKREF_WORDS;
	f->initial = malloc(n * sizeof(uint64_t));
	if (!f->initial)
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		f->initial[i] = word(seed, i);
		h = (h ^ f->initial[i]) * 0x100000001b3ull;
	}
	f->initial_checksum = h;
	return 0;
}

/* Release what forkref_init allocated. */
void forkref_free(struct forkref *f)
{
	free(f->initial);
	f->initial = NULL;
}

/* Nonzero when round r (1-based) with snapshot id writes region page p. */
int forkref_writes(const struct forkref *f, uint64_t r, uint64_t id, uint64_t p)
{
	uint64_t start = (id * f->pages + 13 * r) % f->npages;

	/* Distance from start to p going up and wrapping at npages. */
	return (p + f->npages - start) % f->npages < f->pages;
}

/* The round (1..n) that last wrote page p after rounds 1..n received
 * ids[0..n-1]; 0 when no round wrote it. */
uint64_t forkref_last_round(const struct forkref *f, const uint64_t *ids,
			    uint64_t n, uint64_t p)
{
	for (uint64_t r = n; r >= 1; r--)
		if (forkref_writes(f, r, ids[r - 1], p))
			return r;
	return 0;
}

/* Fill out[0..511] with the expected words of page p after n rounds. */
void forkref_page(const struct forkref *f, const uint64_t *ids, uint64_t n,
		  uint64_t p, uint64_t *out)
{
	uint64_t r = forkref_last_round(f, ids, n, p),
		 first = p * FORKREF_WORDS;

	for (uint64_t w = 0; w < FORKREF_WORDS; w++)
		out[w] = r ? word(round_seed(f, r, ids[r - 1]), first + w)
			   : f->initial[first + w];
}

/* The expected checksum of the whole region after n rounds (n = 0: the
 * checksum printed before the first round). */
uint64_t forkref_checksum(const struct forkref *f, const uint64_t *ids,
			  uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ull, buf[FORKREF_WORDS];

	if (!n)
		return f->initial_checksum;
	for (uint64_t p = 0; p < f->npages; p++) {
		forkref_page(f, ids, n, p, buf);
		for (uint64_t w = 0; w < FORKREF_WORDS; w++)
			h = (h ^ buf[w]) * 0x100000001b3ull;
	}
	return h;
}

/* Format the line the guest prints after round n (without newline) into
 * buf; returns buf. */
char *forkref_round_line(const struct forkref *f, const uint64_t *ids,
			 uint64_t n, char *buf, size_t size)
{
	snprintf(buf, size,
		 "forktest: round=%" PRIu64 " id=%" PRIu64
		 " checksum=0x%016" PRIx64,
		 n, ids[n - 1], forkref_checksum(f, ids, n));
	return buf;
}

/* Format the line the guest prints before the first round, for a run with
 * rounds rounds, into buf; returns buf. */
char *forkref_first_line(const struct forkref *f, uint64_t rounds, char *buf,
			 size_t size)
{
	snprintf(buf, size,
		 "forktest: seed=%" PRIu64 " mib=%" PRIu64 " rounds=%" PRIu64
		 " pages=%" PRIu64 " checksum=0x%016" PRIx64,
		 f->seed, f->mib, rounds, f->pages, f->initial_checksum);
	return buf;
}
