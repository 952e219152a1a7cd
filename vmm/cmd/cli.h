/* Helpers shared by the cowvm command's subcommands: argument parsing,
 * usage errors, command lines, /proc figures and timing. */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Print "WHO: " and fmt with arg, then " (try cowvm --help)", as one line
 * on stderr. */
void cli_usage(const char *who, const char *fmt, const char *arg);

/* Parse an unsigned decimal into *out; 0, or -1 if s is not one. */
int cli_parse_u64(const char *s, uint64_t *out);

/* Parse an unsigned decimal in [min, max] into *out; 0, or -1 if s is not
 * one or is out of range. */
int cli_parse_range(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parse SIZE, bytes with an optional K/M/G suffix, into *out; 0, or -1 if
 * s is not a size or overflows 64 bits. */
int cli_parse_size(const char *s, uint64_t *out);

/* Parse a guest RAM size: a SIZE in COWVM_MEM_MIN..COWVM_MEM_MAX that is a
 * multiple of 4K; 0, or -1 if s is not one. */
int cli_parse_mem(const char *s, uint64_t *out);

/* Parse a number of seconds in [0, max] (fractions allowed) into *out; 0,
 * or -1 if s is not one. */
int cli_parse_seconds(const char *s, double max, double *out);

/* Join words[0, n) with single spaces into a new string ("" for none);
 * NULL when out of memory. */
char *cli_join_words(char *const *words, int n);

/* The guest command line after GUEST.elf, from argv[i]: none, or "--" and
 * its words joined into *cmdline (NULL if none; free it); 0, or -1 after
 * one usage line led by who. */
int cli_guest_cmdline(const char *who, int argc, char **argv, int i,
		      char **cmdline);

/* Sum of the kB values of the lines of path that start with key (as in
 * /proc/PID/status and smaps_rollup); -1 if path cannot be read. */
long cli_proc_kib(const char *path, const char *key);

/* The monotonic time seconds (>= 0, fractions allowed) from now. */
struct timespec cli_deadline(double seconds);

/* Milliseconds on the monotonic clock from now until dl, at least 1. */
uint64_t cli_ms_until(const struct timespec *dl);

/* Microseconds on the monotonic clock. */
double cli_now_us(void);

/* Sort v[0, n) in ascending order. */
void cli_sort_doubles(double *v, size_t n);

/* Median of v[0, n) (sorts v); 0 if n is 0. */
double cli_median(double *v, size_t n);

#endif
