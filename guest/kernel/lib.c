/* The cowvm guest's tiny freestanding C library: memory and string helpers
 * the compiler may call, number parsing and a printf subset. */
#include "guest.h"

/* Fill n bytes at d with c; returns d. */
void *memset(void *d, int c, size_t n)
{
	void *p = d;

	__asm__ volatile("rep stosb" : "+D"(p), "+c"(n) : "a"(c) : "memory");
	return d;
}

/* Copy n bytes from s to d (non-overlapping); returns d. */
void *memcpy(void *d, const void *s, size_t n)
{
	void *p = d;

	__asm__ volatile("rep movsb" : "+D"(p), "+S"(s), "+c"(n) : : "memory");
	return d;
}

/* Copy n bytes from s to d, overlap allowed; returns d. */
void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

/* Compare n bytes; returns <0, 0 or >0 like the C library. */
int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/* Length of the NUL-terminated string s. */
size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* Compare NUL-terminated strings; returns 0 when equal. */
int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

/* Parse an unsigned decimal or 0x-prefixed hex number spanning all of s;
 * returns 0 on success, -1 on junk, empty input or overflow. */
int guest_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0, base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -1;
	for (; *s; s++) {
		uint64_t d;

		if (*s >= '0' && *s <= '9')
			d = (uint64_t)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (uint64_t)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (uint64_t)(*s - 'A' + 10);
		else
			return -1;
		if (v > (UINT64_MAX - d) / base)
			return -1;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

/* Append c to the output if there is room (always counting it). */
static void put(char *buf, size_t size, size_t *pos, char c)
{
	if (*pos + 1 < size)
		buf[*pos] = c;
	(*pos)++;
}

/* Append v in base 10 or 16, zero-padded to width digits. */
static void put_num(char *buf, size_t size, size_t *pos, uint64_t v,
		    unsigned base, unsigned width)
{
	char tmp[24];
	unsigned n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width > n && width--)
		put(buf, size, pos, '0');
	while (n)
		put(buf, size, pos, tmp[--n]);
}

/* Format into buf (at most size bytes incl. the NUL) with a printf subset:
 * %s %c %d %u %x %% with optional l/ll and zero-padded width; returns the
 * length written without the NUL. */
size_t guest_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	size_t pos = 0;

	for (; *fmt; fmt++) {
		unsigned width = 0, lng = 0;

		if (*fmt != '%') {
			put(buf, size, &pos, *fmt);
			continue;
		}
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned)(*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			while (*s)
				put(buf, size, &pos, *s++);
			break;
		}
		case 'c':
			put(buf, size, &pos, (char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);

			if (v < 0) {
				put(buf, size, &pos, '-');
				put_num(buf, size, &pos, -(uint64_t)v, 10,
					width);
			} else {
				put_num(buf, size, &pos, (uint64_t)v, 10,
					width);
			}
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = lng ? va_arg(ap, uint64_t)
					 : va_arg(ap, unsigned);

			put_num(buf, size, &pos, v, *fmt == 'x' ? 16 : 10,
				width);
			break;
		}
		case '%':
			put(buf, size, &pos, '%');
			break;
		default:
			put(buf, size, &pos, '?');
			if (!*fmt)
				fmt--;
			break;
		}
	}
	if (size)
		buf[pos < size ? pos : size - 1] = 0;
	return pos < size ? pos : (size ? size - 1 : 0);
}

/* guest_vsnprintf with variadic arguments. */
size_t guest_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = guest_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
