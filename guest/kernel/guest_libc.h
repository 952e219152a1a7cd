/* The guest kernel's small C library as ring-3 code sees it (lib.c, io.c):
 * the string functions and a printf to the console; no libc behind it. */
#ifndef GUEST_LIBC_H
#define GUEST_LIBC_H

#include <stddef.h>

/* Fill n bytes at d with c; returns d. */
void *memset(void *d, int c, size_t n);
/* Copy n bytes from s to d (non-overlapping); returns d. */
void *memcpy(void *d, const void *s, size_t n);
/* Copy n bytes from s to d, overlap allowed; returns d. */
void *memmove(void *d, const void *s, size_t n);
/* Compare n bytes; returns <0, 0 or >0 like the C library. */
int memcmp(const void *a, const void *b, size_t n);
/* Length of the NUL-terminated string s. */
size_t strlen(const char *s);
/* Compare NUL-terminated strings; returns 0 when equal. */
int strcmp(const char *a, const char *b);

/* Format and write to the console in one piece (up to 1 KiB), with the
 * printf subset %s %c %d %u %x %% (optional l/ll and zero-padded width);
 * slow: one hypercall under cowvm. */
void guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
