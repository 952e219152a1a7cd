/* Test harness of every way a libFuzzer-style run can end, picked by the
 * first input byte (G prints 8 bytes of getrandom); with COWVM_TEST_INIT_CRASH
 * set, LLVMFuzzerInitialize writes through NULL. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int initialized;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (getenv("COWVM_TEST_INIT_CRASH"))
		*(volatile int *)(uintptr_t)0 = 1;
	initialized = 1;
	return 0;
}

/* Print 8 bytes of getrandom. */
static void print_random(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		abort();
	printf("random %016llx\n", (unsigned long long)v);
	fflush(stdout);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static volatile int zero, hundred = 100;

	if (!initialized || !n)
		return 0;
	switch (d[0]) {
	case 'A':
		abort();
	case 'T':
		__builtin_trap();
	case 'S':
		*(volatile int *)(uintptr_t)0x10 = 1;
		break;
	case 'D':
		return hundred / zero;
	case 'K':
		raise(SIGUSR1);
		break;
	case 'R':
		return 7;
	case 'J':
		return -1;
	case 'H':
		for (;;)
			__asm__ volatile("" ::: "memory");
	case 'P':
		printf("kinds says %zu\n", n);
		fflush(stdout);
		break;
	case 'G':
		print_random();
		break;
	}
	return 0;
}
