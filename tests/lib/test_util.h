/* The cowvm test library: assertions that print what failed (both sides of
 * a comparison, a VM exit by name), skips, and helpers every test shares. */
#ifndef COWVM_TEST_UTIL_H
#define COWVM_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The exit status meson counts as a skipped test. */
#define TEST_SKIP 77

struct cowvm_exit;

/* Fail the test unless cond holds: print the condition, file:line, errno and
 * a formatted explanation, then exit 1. */
#define TEST_ASSERT(cond, ...)                                                 \
	do {                                                                   \
		if (!(cond)) {                                                 \
			int test_errno_ = errno;                               \
			test_fail(__FILE__, __LINE__, #cond, test_errno_,      \
				  __VA_ARGS__);                                \
		}                                                              \
	} while (0)

/* Fail unless a -errno style return value is zero or positive. */
#define TEST_OK(expr)                                                          \
	do {                                                                   \
		long test_r_ = (long)(expr);                                   \
		if (test_r_ < 0)                                               \
			test_fail_ok(__FILE__, __LINE__, #expr, test_r_);      \
	} while (0)

/* Whether x is an integer constant expression (x is not evaluated). */
#define TEST_CONST_(x)                                                         \
	(sizeof(int) == sizeof(*(8 ? ((void *)((long)(x)*0l)) : (int *)8)))

/* The type TEST_CMP_ keeps operand x (a or b) in: their common type when
 * one of them is a constant (the conversion the comparison makes, which
 * draws no warning), else x's own promoted type, so that comparing the two
 * copies draws the warnings (sign-compare...) comparing a and b would. */
#define TEST_TYPE_(x, a, b)                                                    \
	__typeof__(__builtin_choose_expr(TEST_CONST_(a) || TEST_CONST_(b),     \
					 1 ? (a) : (b), 1 ? (x) : (x)))

/* Fail unless a op b: print both expressions and both values (unsigned,
 * signed when negative, hex), file:line, errno and the optional explanation
 * (a format string literal and its arguments), then exit 1. a and b are
 * evaluated once each and compared as "(a) op (b)" would compare them. For
 * integers, enums and pointers. */
#define TEST_CMP_(a, op, b, sa, sb, ...)                                       \
	do {                                                                   \
		_Static_assert(_Generic(1 ? (a) : (b), float : 0, double : 0,  \
					long double : 0, default : 1),         \
			       "compare floating point with TEST_ASSERT");     \
		TEST_TYPE_(a, a, b) test_a_ = (a);                             \
		TEST_TYPE_(b, a, b) test_b_ = (b);                             \
		if (!(test_a_ op test_b_)) {                                   \
			int test_errno_ = errno;                               \
			test_cmp_fail(__FILE__, __LINE__, sa, #op, sb,         \
				      (uint64_t)(uintptr_t)test_a_,            \
				      (uint64_t)(uintptr_t)test_b_,            \
				      test_errno_, " " __VA_ARGS__);           \
		}                                                              \
	} while (0)

/* The comparisons; a and b are printed as written (not macro-expanded). */
#define TEST_ASSERT_EQ(a, b, ...) TEST_CMP_(a, ==, b, #a, #b, __VA_ARGS__)
#define TEST_ASSERT_NE(a, b, ...) TEST_CMP_(a, !=, b, #a, #b, __VA_ARGS__)
#define TEST_ASSERT_LT(a, b, ...) TEST_CMP_(a, <, b, #a, #b, __VA_ARGS__)
#define TEST_ASSERT_LE(a, b, ...) TEST_CMP_(a, <=, b, #a, #b, __VA_ARGS__)
#define TEST_ASSERT_GT(a, b, ...) TEST_CMP_(a, >, b, #a, #b, __VA_ARGS__)
#define TEST_ASSERT_GE(a, b, ...) TEST_CMP_(a, >=, b, #a, #b, __VA_ARGS__)

/* What an exit assertion checks besides the reason. */
enum test_exit_check {
	TEST_EXIT_REASON, /* the reason only */
	TEST_EXIT_STATUS, /* COWVM_EXIT_GUEST with a given status */
	TEST_EXIT_TAG,	  /* COWVM_EXIT_SNAPSHOT with a given tag */
};

/* Fail unless the struct cowvm_exit e (include cowvm.h) has reason want;
 * print the expected and actual reason by name, every field of e and the
 * optional explanation, then exit 1. */
#define TEST_ASSERT_EXIT(e, want, ...)                                         \
	TEST_EXIT_(e, #e, want, TEST_EXIT_REASON, 0, __VA_ARGS__)

/* Fail unless e is a COWVM_EXIT_GUEST exit with exit status status. */
#define TEST_ASSERT_EXIT_STATUS(e, status, ...)                                \
	TEST_EXIT_(e, #e, COWVM_EXIT_GUEST, TEST_EXIT_STATUS,                  \
		   (uint64_t)(int64_t)(status), __VA_ARGS__)

/* Fail unless e is a COWVM_EXIT_SNAPSHOT exit with tag tag. */
#define TEST_ASSERT_EXIT_TAG(e, tag, ...)                                      \
	TEST_EXIT_(e, #e, COWVM_EXIT_SNAPSHOT, TEST_EXIT_TAG, (uint64_t)(tag), \
		   __VA_ARGS__)

/* The exit assertions' common body: e may be an rvalue, so check a copy. */
#define TEST_EXIT_(e, se, want, check, value, ...)                             \
	do {                                                                   \
		const struct cowvm_exit test_exit_ = (e);                      \
		test_exit_expect(__FILE__, __LINE__, se, &test_exit_,          \
				 (int)(want), (check), (value),                \
				 " " __VA_ARGS__);                             \
	} while (0)

/* Print "file:line: assertion failed: what", errno and the message fmt,
 * then exit 1. */
_Noreturn void test_fail(const char *file, int line, const char *what, int err,
			 const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Report that expr returned the negative errno r, then exit 1. */
_Noreturn void test_fail_ok(const char *file, int line, const char *expr,
			    long r);

/* Report that "a op b" is false for the values va and vb, with errno err
 * and the message fmt + 1 (fmt starts with a space), then exit 1. */
_Noreturn void test_cmp_fail(const char *file, int line, const char *a,
			     const char *op, const char *b, uint64_t va,
			     uint64_t vb, int err, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));

/* Return if exit e (the expression expr) has reason want and, as check
 * says, the status or tag value; otherwise report both and exit 1. fmt
 * starts with a space. */
void test_exit_expect(const char *file, int line, const char *expr,
		      const struct cowvm_exit *e, int want,
		      enum test_exit_check check, uint64_t value,
		      const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

/* The name of a cowvm exit reason ("GUEST", "SNAPSHOT", ...), or "?". */
const char *test_exit_name(int reason);

/* Print every field of e, one line each, indented, to stderr. */
void test_exit_print(const struct cowvm_exit *e);

/* Exit with TEST_SKIP and a one-line message unless /dev/kvm opens
 * read-write; /dev/kvm that exists but does not open is also a skip. */
void test_require_kvm(void);

/* Seconds on the monotonic clock. */
double test_now(void);

/* Fill len bytes at buf with the deterministic bytes of seed (xorshift). */
void test_fill(void *buf, size_t len, uint64_t seed);

/* Nonzero when the len bytes at buf are all zero. */
int test_all_zero(const void *buf, size_t len);

#endif
