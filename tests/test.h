/* Test helpers shared by every cowvm test executable (KVM selftests style). */
#ifndef COWVM_TEST_H
#define COWVM_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST_SKIP 77

/* Fail the test unless cond holds: print the condition, file:line, errno and
 * a formatted explanation, then exit 1. */
#define TEST_ASSERT(cond, ...)                                                 \
	do {                                                                   \
		if (!(cond)) {                                                 \
			int e_ = errno;                                        \
			fprintf(stderr, "%s:%d: assertion failed: %s\n",      \
				__FILE__, __LINE__, #cond);                    \
			fprintf(stderr, "  errno %d (%s): ", e_,              \
				strerror(e_));                                 \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			exit(1);                                               \
		}                                                              \
	} while (0)

/* Assert that a -errno style return value is zero or positive. */
#define TEST_OK(expr)                                                          \
	do {                                                                   \
		long r_ = (long)(expr);                                        \
		TEST_ASSERT(r_ >= 0, "%s returned %ld (%s)", #expr, r_,       \
			    strerror((int)-r_));                               \
	} while (0)

/* Exit with the skip status unless /dev/kvm can be opened. */
static inline void test_require_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0 && (errno == ENOENT || errno == ENODEV)) {
		fprintf(stderr, "skip: /dev/kvm is absent (%s)\n",
			strerror(errno));
		exit(TEST_SKIP);
	}
	TEST_ASSERT(fd >= 0, "/dev/kvm exists but cannot be opened");
	close(fd);
}

#endif
