/* Helpers shared by the cowvm command's subcommands: argument parsing,
 * usage errors, command lines, /proc figures and timing. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cowvm_abi.h"
#include "cli.h"

/* Print one usage error line for who. */
void cli_usage(const char *who, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", who);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (try cowvm --help)\n");
}

/* strtoull of a string that starts with a digit, with *end after it; 0, or
 * -1 if s does not start with a digit or overflows. */
static int cli_digits(const char *s, unsigned long long *v, char **end)
{
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, end, 10);
	return errno ? -1 : 0;
}

/* Parse an unsigned decimal into *out; 0 or -1. */
int cli_parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (cli_digits(s, &v, &end) || *end)
		return -1;
	*out = v;
	return 0;
}

/* Parse an unsigned decimal in [min, max] into *out; 0 or -1. */
int cli_parse_range(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (cli_parse_u64(s, &v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parse SIZE with an optional K/M/G suffix into *out; 0 or -1. */
int cli_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (cli_digits(s, &v, &end))
		return -1;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Parse a guest RAM size (4M..64G, 4K-aligned) into *out; 0 or -1. */
int cli_parse_mem(const char *s, uint64_t *out)
{
	uint64_t v;

	if (cli_parse_size(s, &v) || v < COWVM_MEM_MIN || v > COWVM_MEM_MAX ||
	    v % 4096)
		return -1;
	*out = v;
	return 0;
}

/* Join words with single spaces into a new string; NULL if out of memory. */
char *cli_join_words(char *const *words, int n)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (int i = 0; i < n; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, words[i]);
	}
	return s;
}

/* The guest command line after GUEST.elf, from argv[i]: none, or "--" and
 * its words joined into *cmdline; 0, or -1 after one usage line. */
int cli_guest_cmdline(const char *who, int argc, char **argv, int i,
		      char **cmdline)
{
	*cmdline = NULL;
	if (i < argc && strcmp(argv[i], "--")) {
		cli_usage(who,
			  "unexpected argument '%s' (the guest command line "
			  "goes after --)",
			  argv[i]);
		return -1;
	}
	if (i < argc) {
		*cmdline = cli_join_words(argv + i + 1, argc - i - 1);
		if (!*cmdline) {
			cli_usage(who, "%s", "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Sum of the kB values of path's lines starting with key; -1 if
 * unreadable. */
long cli_proc_kib(const char *path, const char *key)
{
	char line[256];
	long sum = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			sum += strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return sum;
}

/* Microseconds on the monotonic clock. */
double cli_now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Ascending order of doubles for qsort. */
static int cli_cmp_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sort v[0, n) in ascending order. */
void cli_sort_doubles(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cli_cmp_doubles);
}

/* Median of n doubles (sorts v); 0 if n is 0. */
double cli_median(double *v, size_t n)
{
	if (!n)
		return 0;
	cli_sort_doubles(v, n);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The monotonic time seconds from now. */
struct timespec cli_deadline(double seconds)
{
	struct timespec dl;
	double whole = (double)(time_t)seconds;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += (time_t)whole;
	dl.tv_nsec += (long)((seconds - whole) * 1e9);
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	return dl;
}

/* Milliseconds from now until dl, at least 1. */
uint64_t cli_ms_until(const struct timespec *dl)
{
	struct timespec now;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(dl->tv_sec - now.tv_sec) * 1e3 +
	     (double)(dl->tv_nsec - now.tv_nsec) / 1e6;
	return ms < 1 ? 1 : (uint64_t)ms;
}

/* Parse seconds in [0, max]. */
int cli_parse_seconds(const char *s, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}
