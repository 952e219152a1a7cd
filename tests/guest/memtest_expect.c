/* Host helper for the guest tests: prints the line the guest's memtest
 * workload must print for a seed and size, computed here with its own
 * implementation of the pattern documented in cowvm_workload_abi.h. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cowvm_abi.h"
#include "cowvm_workload_abi.h"

/* The n-th (1-based) output of a splitmix64 generator seeded with seed. */
static uint64_t splitmix64_nth(uint64_t seed, uint64_t n)
{
	uint64_t z = seed + n * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Parse an unsigned number (decimal or 0x hex) or exit 2. */
static uint64_t parse(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (!*s || *end) {
		fprintf(stderr, "memtest-expect: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* memtest-expect SEED MIB: print the expected memtest line. */
int main(int argc, char **argv)
{
	uint64_t seed, bytes, h = 0xcbf29ce484222325ull;

	if (argc != 3) {
		fprintf(stderr, "usage: memtest-expect SEED MIB\n");
		return 2;
	}
	seed = parse(argv[1]);
	bytes = parse(argv[2]) << 20;
	for (uint64_t i = 0; i < bytes / 8; i++)
		h = (h ^ splitmix64_nth(seed, i + 1)) * 0x100000001b3ull;
	printf("memtest: seed=%" PRIu64 " base=0x%" PRIx64 " bytes=%" PRIu64
	       " checksum=0x%016" PRIx64 "\n",
	       seed, (uint64_t)COWVM_MEMTEST_BASE, bytes, h);
	return 0;
}
