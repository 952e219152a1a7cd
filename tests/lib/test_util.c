/* The cowvm test library's failure reports, KVM check and small helpers. */
#include <inttypes.h>
#include <stdarg.h>
#include <time.h>

#include "test_util.h"

/* Print the errno line and, unless fmt is empty, the explanation. */
static void test_report_tail(int err, const char *fmt, va_list ap)
{
	fprintf(stderr, "  errno %d (%s)\n", err, strerror(err));
	if (fmt[0]) {
		fputs("  ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
}

/* Print "file:line: assertion failed: what", errno and fmt, exit 1. */
_Noreturn void test_fail(const char *file, int line, const char *what, int err,
			 const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, what);
	va_start(ap, fmt);
	test_report_tail(err, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Report that expr returned the negative errno r, then exit 1. */
_Noreturn void test_fail_ok(const char *file, int line, const char *expr,
			    long r)
{
	fprintf(stderr, "%s:%d: assertion failed: %s >= 0\n", file, line, expr);
	fprintf(stderr, "  returned %ld (%s)\n", r, strerror((int)-r));
	exit(1);
}

/* Print one side of a comparison: the expression and its value as
 * unsigned, as signed when that is negative, and in hex. */
static void test_print_value(const char *expr, uint64_t v)
{
	fprintf(stderr, "  %s = %" PRIu64 " (", expr, v);
	if ((int64_t)v < 0)
		fprintf(stderr, "signed %" PRId64 ", ", (int64_t)v);
	fprintf(stderr, "0x%" PRIx64 ")\n", v);
}

/* Report that "a op b" is false for va and vb, then exit 1. */
_Noreturn void test_cmp_fail(const char *file, int line, const char *a,
			     const char *op, const char *b, uint64_t va,
			     uint64_t vb, int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: assertion failed: %s %s %s\n", file, line, a,
		op, b);
	test_print_value(a, va);
	test_print_value(b, vb);
	va_start(ap, fmt);
	test_report_tail(err, fmt + 1, ap);
	va_end(ap);
	exit(1);
}

/* Exit with TEST_SKIP unless /dev/kvm opens read-write. */
void test_require_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "skip: /dev/kvm is not usable: %s\n",
			strerror(errno));
		exit(TEST_SKIP);
	}
	close(fd);
}

/* Seconds on the monotonic clock. */
double test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fill len bytes at buf with the deterministic bytes of seed. */
void test_fill(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

/* Nonzero when the len bytes at buf are all zero. */
int test_all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}
