/* The fuzz runtime of a libFuzzer-style harness built as a static Linux
 * program (scripts/build-harness.sh): main runs LLVMFuzzerInitialize,
 * snapshots, then runs LLVMFuzzerTestOneInput on one input per resume, as
 * cowvm_fuzz_abi.h describes; outside cowvm it runs the files named on its
 * command line once each, as a libFuzzer binary does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "cowvm_guest.h"
#include "cowvm_fuzz_abi.h"
#include "fuzz_cov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* What the host reads and writes, in this program's memory (identity
 * mapped, so these addresses are guest-physical ones). */
static struct {
	struct cowvm_fuzz_ctl ctl __attribute__((aligned(4096)));
	uint8_t map[COWVM_FUZZ_MAP_SIZE] __attribute__((aligned(4096)));
	struct cowvm_fuzz_cmp_log cmp __attribute__((aligned(4096)));
	uint8_t in[sizeof(struct cowvm_fuzz_input) + COWVM_FUZZ_INPUT_MAX]
		__attribute__((aligned(4096)));
} area;
#define IN	 ((const struct cowvm_fuzz_input *)area.in)
#define DATA	 (area.in + sizeof(struct cowvm_fuzz_input))
#define DATA_MAX COWVM_FUZZ_INPUT_MAX

uint8_t *const fuzz_cov_map = area.map;

/* Stop the VM with status (COWVM_HC_EXIT from ring 3, no system call). */
__attribute__((noreturn)) static void fuzz_exit(uint32_t status)
{
	static volatile struct cowvm_hc_exit e;

	e.status = status;
	for (;;)
		__asm__ volatile("outl %0, %1"
				 :
				 : "a"((uint32_t)(uintptr_t)&e),
				   "Nd"((uint16_t)COWVM_HC_PORT(COWVM_HC_EXIT))
				 : "memory");
}

/* Request the fuzz snapshot; save the x87/SSE state before and load it
 * again right after each resume (COWVM_FUZZ_F_FXRSTOR). */
static void fuzz_snapshot(void)
{
	static struct cowvm_hc_snapshot snap;
	static uint8_t fx[512] __attribute__((aligned(16)));

	snap.tag = COWVM_FUZZ_LINUX_TAG | (uint32_t)(uintptr_t)&area.ctl;
	__asm__ volatile("fxsave %0\n\toutl %1, %2\n\tfxrstor %0"
			 : "+m"(fx)
			 : "a"((uint32_t)(uintptr_t)&snap),
			   "Nd"((uint16_t)COWVM_HC_PORT(COWVM_HC_SNAPSHOT))
			 : "memory");
}

/* After the fuzz snapshot: getrandom gives the stream below. */
static int fuzz_serving;
static uint64_t fuzz_rand = 0x636f77766d2d7267ull;

/* Under cowvm fuzz: snapshot after init, then run the input of this
 * resume and exit with its result. */
__attribute__((noreturn)) static void fuzz_serve(void)
{
	uint64_t len;
	int r;

	memset(area.map, 0, sizeof(area.map));
	area.ctl.magic = COWVM_FUZZ_MAGIC;
	area.ctl.version = COWVM_FUZZ_VERSION;
	area.ctl.guards = fuzz_cov_guards();
	area.ctl.flags = COWVM_FUZZ_F_FXRSTOR;
	area.ctl.map = (uintptr_t)area.map;
	area.ctl.input = (uintptr_t)area.in;
	area.ctl.cmp = (uintptr_t)&area.cmp;
	fuzz_cov_cmp = &area.cmp;
	fflush(NULL);
	fuzz_serving = 1;
	fuzz_snapshot();
	fuzz_cov_cmp_on = (IN->flags & COWVM_FUZZ_IN_CMPLOG) != 0;
	len = IN->len < DATA_MAX ? IN->len : DATA_MAX;
	r = LLVMFuzzerTestOneInput(DATA, (size_t)len);
	fuzz_cov_cmp_on = 0;
	if (r == 0)
		fuzz_exit(COWVM_FUZZ_EXIT_OK);
	if (r == -1)
		fuzz_exit(COWVM_FUZZ_EXIT_REJECT);
	area.ctl.crash_value = r;
	fuzz_exit(COWVM_FUZZ_EXIT_RETURN);
}

/* Outside cowvm: run each file argument once; 0, or 1 if one is
 * unreadable. */
static int fuzz_run_files(int argc, char **argv)
{
	int bad = 0;

	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t n;

		if (!f) {
			perror(argv[i]);
			bad = 1;
			continue;
		}
		n = fread(DATA, 1, DATA_MAX, f);
		fclose(f);
		fprintf(stderr, "Running: %s (%zu bytes)\n", argv[i], n);
		LLVMFuzzerTestOneInput(DATA, n);
	}
	return bad;
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (cowvm_guest_present())
		fuzz_serve();
	return fuzz_run_files(argc, argv);
}

/* The memory and string comparisons of the program's own objects and
 * libraries (linked with --wrap): logged, then done by the C library. */
int __real_memcmp(const void *a, const void *b, size_t n);
int __real_bcmp(const void *a, const void *b, size_t n);
int __real_strcmp(const char *a, const char *b);
int __real_strncmp(const char *a, const char *b, size_t n);
int __real_strcasecmp(const char *a, const char *b);
int __real_strncasecmp(const char *a, const char *b, size_t n);

/* Log strings a and b, up to n bytes (and their NULs). */
static void log_str(uintptr_t site, const char *a, const char *b, size_t n)
{
	if (fuzz_cov_cmp_on)
		fuzz_cov_log(COWVM_FUZZ_CMP_MEM, site, a,
			     strnlen(a, n < COWVM_FUZZ_CMP_BYTES
						? n
						: COWVM_FUZZ_CMP_BYTES),
			     b,
			     strnlen(b, n < COWVM_FUZZ_CMP_BYTES
						? n
						: COWVM_FUZZ_CMP_BYTES));
}

#define SITE ((uintptr_t)__builtin_return_address(0))

int __wrap_memcmp(const void *a, const void *b, size_t n);
int __wrap_memcmp(const void *a, const void *b, size_t n)
{
	if (fuzz_cov_cmp_on)
		fuzz_cov_log(COWVM_FUZZ_CMP_MEM, SITE, a, n, b, n);
	return __real_memcmp(a, b, n);
}

int __wrap_bcmp(const void *a, const void *b, size_t n);
int __wrap_bcmp(const void *a, const void *b, size_t n)
{
	if (fuzz_cov_cmp_on)
		fuzz_cov_log(COWVM_FUZZ_CMP_MEM, SITE, a, n, b, n);
	return __real_bcmp(a, b, n);
}

int __wrap_strcmp(const char *a, const char *b);
int __wrap_strcmp(const char *a, const char *b)
{
	log_str(SITE, a, b, SIZE_MAX);
	return __real_strcmp(a, b);
}

int __wrap_strncmp(const char *a, const char *b, size_t n);
int __wrap_strncmp(const char *a, const char *b, size_t n)
{
	log_str(SITE, a, b, n);
	return __real_strncmp(a, b, n);
}

int __wrap_strcasecmp(const char *a, const char *b);
int __wrap_strcasecmp(const char *a, const char *b)
{
	log_str(SITE, a, b, SIZE_MAX);
	return __real_strcasecmp(a, b);
}

int __wrap_strncasecmp(const char *a, const char *b, size_t n);
int __wrap_strncasecmp(const char *a, const char *b, size_t n)
{
	log_str(SITE, a, b, n);
	return __real_strncasecmp(a, b, n);
}

/* The entropy of the program's own objects and libraries (getrandom,
 * arc4random_buf and arc4random, --wrap): after the fuzz snapshot, a
 * deterministic stream (splitmix64) that starts over with every input, so
 * that a run does not leave the VM for entropy (a hash-seeding library
 * would otherwise cost a VM exit per input) and an input reproduces
 * exactly; before it, and natively, the C library's. */
ssize_t __real_getrandom(void *buf, size_t len, unsigned flags);
void __real_arc4random_buf(void *buf, size_t len) __attribute__((weak));
uint32_t __real_arc4random(void) __attribute__((weak));

/* Fill buf with the next len bytes of the stream. */
static void fuzz_stream(void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t z = 0;

	for (size_t i = 0; i < len; i++) {
		if (!(i % 8)) {
			z = (fuzz_rand += 0x9e3779b97f4a7c15ull);
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
			z ^= z >> 31;
		}
		p[i] = (uint8_t)(z >> (8 * (i % 8)));
	}
}

ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags);
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags)
{
	if (!fuzz_serving)
		return __real_getrandom(buf, len, flags);
	fuzz_stream(buf, len);
	return (ssize_t)len;
}

void __wrap_arc4random_buf(void *buf, size_t len);
void __wrap_arc4random_buf(void *buf, size_t len)
{
	if (!fuzz_serving && __real_arc4random_buf)
		__real_arc4random_buf(buf, len);
	else if (!fuzz_serving)
		while (__real_getrandom(buf, len, 0) != (ssize_t)len)
			;
	else
		fuzz_stream(buf, len);
}

uint32_t __wrap_arc4random(void);
uint32_t __wrap_arc4random(void)
{
	uint32_t v;

	if (!fuzz_serving && __real_arc4random)
		return __real_arc4random();
	__wrap_arc4random_buf(&v, sizeof(v));
	return v;
}
