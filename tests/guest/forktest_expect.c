/* Host helper for the guest tests: prints every line the guest's forktest
 * workload must print for its arguments and the ids the host returns (0
 * when none are given: cowvm run and QEMU), computed by tests/fork/forkref. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../fork/forkref.h"

/* Parse an unsigned number (decimal or 0x hex) or exit 2. */
static uint64_t parse(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (!*s || *end) {
		fprintf(stderr, "forktest-expect: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* forktest-expect SEED MIB ROUNDS PAGES [ID...]: print the expected
 * forktest lines; round r receives the r-th ID, or 0 past the last. */
int main(int argc, char **argv)
{
	uint64_t rounds, *ids;
	struct forkref f;
	char line[160];

	if (argc < 5) {
		fprintf(stderr, "usage: forktest-expect SEED MIB ROUNDS PAGES "
				"[ID...]\n");
		return 2;
	}
	rounds = parse(argv[3]);
	ids = calloc(rounds + 1, sizeof(*ids));
	if (!ids ||
	    forkref_init(&f, parse(argv[1]), parse(argv[2]), parse(argv[4]))) {
		fprintf(stderr, "forktest-expect: invalid arguments\n");
		return 2;
	}
	for (uint64_t r = 0; r < rounds && (int)r + 5 < argc; r++)
		ids[r] = parse(argv[r + 5]);
	printf("%s\n", forkref_first_line(&f, rounds, line, sizeof(line)));
	for (uint64_t r = 1; r <= rounds; r++)
		printf("%s\n",
		       forkref_round_line(&f, ids, r, line, sizeof(line)));
	printf("forktest: PASS\n");
	forkref_free(&f);
	free(ids);
	return 0;
}
