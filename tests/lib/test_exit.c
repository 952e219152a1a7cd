/* Exit assertions of the cowvm test library: a VM exit checked against the
 * expected reason (and status or tag), reported by name with every field. */
#include <inttypes.h>
#include <stdarg.h>

#include "cowvm.h"
#include "test_util.h"

/* The name of a cowvm exit reason, or "?". */
const char *test_exit_name(int reason)
{
	switch (reason) {
	case COWVM_EXIT_GUEST:
		return "GUEST";
	case COWVM_EXIT_FAULT:
		return "FAULT";
	case COWVM_EXIT_TIMEOUT:
		return "TIMEOUT";
	case COWVM_EXIT_SNAPSHOT:
		return "SNAPSHOT";
	case COWVM_EXIT_SHUTDOWN:
		return "SHUTDOWN";
	case COWVM_EXIT_ERROR:
		return "ERROR";
	}
	return "?";
}

/* Print every field of e, one line each, indented, to stderr. */
void test_exit_print(const struct cowvm_exit *e)
{
	fprintf(stderr,
		"  reason %s (%d), status %d, tag %#" PRIx64 ", rip %#" PRIx64
		"\n",
		test_exit_name((int)e->reason), (int)e->reason, e->status,
		e->tag, e->rip);
	fprintf(stderr,
		"  fault: vector %" PRIu64 " error_code %#" PRIx64
		" rip %#" PRIx64 " cr2 %#" PRIx64 " rsp %#" PRIx64
		" cs %#" PRIx64 "\n",
		e->fault.vector, e->fault.error_code, e->fault.rip,
		e->fault.cr2, e->fault.rsp, e->fault.cs);
	fprintf(stderr, "  detail: %.*s\n", (int)sizeof(e->detail), e->detail);
}

/* Whether e matches want and, as check says, value. */
static int test_exit_matches(const struct cowvm_exit *e, int want,
			     enum test_exit_check check, uint64_t value)
{
	if ((int)e->reason != want)
		return 0;
	if (check == TEST_EXIT_STATUS)
		return (int64_t)e->status == (int64_t)value;
	if (check == TEST_EXIT_TAG)
		return e->tag == value;
	return 1;
}

/* Return if exit e matches; otherwise report both and exit 1. */
void test_exit_expect(const char *file, int line, const char *expr,
		      const struct cowvm_exit *e, int want,
		      enum test_exit_check check, uint64_t value,
		      const char *fmt, ...)
{
	va_list ap;

	if (test_exit_matches(e, want, check, value))
		return;
	fprintf(stderr, "%s:%d: assertion failed: exit %s is %s", file, line,
		expr, test_exit_name(want));
	if (check == TEST_EXIT_STATUS)
		fprintf(stderr, " with status %" PRId64, (int64_t)value);
	else if (check == TEST_EXIT_TAG)
		fprintf(stderr, " with tag %#" PRIx64, value);
	fprintf(stderr, "\n  got %s", test_exit_name((int)e->reason));
	if (check == TEST_EXIT_STATUS)
		fprintf(stderr, " with status %d", e->status);
	else if (check == TEST_EXIT_TAG)
		fprintf(stderr, " with tag %#" PRIx64, e->tag);
	fputc('\n', stderr);
	test_exit_print(e);
	if (fmt[1]) {
		fputs("  ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt + 1, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	exit(1);
}
