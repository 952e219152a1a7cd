/* Host reference for the guest's forktest workload: the expected content of
 * every page and the expected checksums of a VM that received a given
 * sequence of snapshot ids, computed from the formulas in cowvm_workload_abi.h. */
#ifndef FORKREF_H
#define FORKREF_H

#include <stddef.h>
#include <stdint.h>

#define FORKREF_PAGE  4096u
#define FORKREF_WORDS (FORKREF_PAGE / 8u)

/* One forktest configuration and the region's content before any round. */
struct forkref {
	uint64_t seed, mib, pages; /* the workload's S, M and K */
	uint64_t npages;	   /* pages in the region */
	uint64_t *initial;	   /* the memtest fill, npages * 512 words */
	uint64_t initial_checksum;
};

/* Prepare the reference for "forktest seed=seed mib=mib pages=pages";
 * 0, or -1 when the arguments are invalid or memory runs out. */
int forkref_init(struct forkref *f, uint64_t seed, uint64_t mib,
		 uint64_t pages);

/* Release what forkref_init allocated. */
void forkref_free(struct forkref *f);

/* Nonzero when round r (1-based) with snapshot id writes region page p. */
int forkref_writes(const struct forkref *f, uint64_t r, uint64_t id,
		   uint64_t p);

/* The round (1..n) that last wrote page p after rounds 1..n received
 * ids[0..n-1]; 0 when no round wrote it. */
uint64_t forkref_last_round(const struct forkref *f, const uint64_t *ids,
			    uint64_t n, uint64_t p);

/* Fill out[0..511] with the expected words of page p after n rounds. */
void forkref_page(const struct forkref *f, const uint64_t *ids, uint64_t n,
		  uint64_t p, uint64_t *out);

/* The expected checksum of the whole region after n rounds (n = 0: the
 * checksum printed before the first round). */
uint64_t forkref_checksum(const struct forkref *f, const uint64_t *ids,
			  uint64_t n);

/* Format the line the guest prints after round n (without newline) into
 * buf; returns buf. */
char *forkref_round_line(const struct forkref *f, const uint64_t *ids,
			 uint64_t n, char *buf, size_t size);

/* Format the line the guest prints before the first round, for a run with
 * rounds rounds, into buf; returns buf. */
char *forkref_first_line(const struct forkref *f, uint64_t rounds, char *buf,
			 size_t size);

#endif
