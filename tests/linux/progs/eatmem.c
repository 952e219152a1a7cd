/* Allocates and touches 1 MiB blocks until malloc returns NULL, then exits
 * 3; exits 4 if 4 GiB were allocated without a failure. Run it only where
 * memory is bounded (a small VM). */
#include <stdio.h>
#include <stdlib.h>

#define EAT_BLOCK (1ul << 20)
#define EAT_LIMIT 4096

/* Allocate until NULL; every page of each block is written once. */
int main(void)
{
	unsigned long n;

	for (n = 0; n < EAT_LIMIT; n++) {
		char *p = malloc(EAT_BLOCK);

		if (!p) {
			fprintf(stderr, "eatmem: NULL after %lu MiB\n", n);
			return 3;
		}
		for (unsigned long i = 0; i < EAT_BLOCK; i += 4096)
			p[i] = (char)i;
	}
	fprintf(stderr, "eatmem: %lu MiB without a NULL\n", n);
	return 4;
}
