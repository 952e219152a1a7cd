/* A static Linux program that times N system calls of one kind between two
 * CLOCK_MONOTONIC reads and prints how long they took, for bench-linux to
 * run natively and inside cowvm.
 * usage: syscost getpid|pread|stdin N FILE SNAP
 *   getpid  N getpid calls (the raw system call, never a cached pid)
 *   pread   N 4 KiB preads of FILE, at offsets 0, 4 KiB, ... cycling over
 *           its whole 4 KiB pages
 *   stdin   N 4 KiB reads of stdin (which must hold (N + 1) * 4 KiB)
 * One warm-up call comes first; with SNAP 1 (in cowvm only) the program
 * then asks for a snapshot (cowvm_guest_snapshot, no system call) just
 * before the first clock read. Prints "MODE N NS" on stdout, exits 0, or
 * 1 with a message on stderr. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cowvm_guest.h"

#define SC_SNAP_TAG 0x5c05u
#define SC_BUF	    4096

enum sc_mode { SC_GETPID, SC_PREAD, SC_STDIN };

static char sc_buf[SC_BUF];

/* Nanoseconds of CLOCK_MONOTONIC now. */
static long long sc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Make calls [from, to) of mode on fd (a file of pages 4 KiB pages);
 * 0, or -1 when one fails or comes up short. */
static int sc_loop(enum sc_mode mode, long from, long to, int fd, long pages)
{
	long i;

	switch (mode) {
	case SC_GETPID:
		for (i = from; i < to; i++)
			if (syscall(SYS_getpid) <= 0)
				return -1;
		return 0;
	case SC_PREAD:
		for (i = from; i < to; i++)
			if (pread(fd, sc_buf, SC_BUF,
				  (off_t)(i % pages) * SC_BUF) != SC_BUF)
				return -1;
		return 0;
	case SC_STDIN:
		for (i = from; i < to; i++)
			if (read(0, sc_buf, SC_BUF) != SC_BUF)
				return -1;
		return 0;
	}
	return -1;
}

/* The mode named s, or -1. */
static int sc_mode_of(const char *s)
{
	if (!strcmp(s, "getpid"))
		return SC_GETPID;
	if (!strcmp(s, "pread"))
		return SC_PREAD;
	if (!strcmp(s, "stdin"))
		return SC_STDIN;
	return -1;
}

/* Parse, warm up, optionally stop for a snapshot, time N calls, print. */
int main(int argc, char **argv)
{
	struct stat st;
	long n, pages = 1;
	long long t0, t1;
	int mode, fd = -1;

	if (argc != 5 || (mode = sc_mode_of(argv[1])) < 0 ||
	    (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: syscost getpid|pread|stdin N FILE "
				"SNAP\n");
		return 1;
	}
	if (mode == SC_PREAD) {
		fd = open(argv[3], O_RDONLY);
		if (fd < 0 || fstat(fd, &st) || st.st_size < SC_BUF) {
			fprintf(stderr, "syscost: cannot read %s\n", argv[3]);
			return 1;
		}
		pages = (long)(st.st_size / SC_BUF);
	}
	if (sc_loop(mode, 0, 1, fd, pages)) {
		fprintf(stderr, "syscost: warm-up %s failed\n", argv[1]);
		return 1;
	}
	if (atoi(argv[4]) && cowvm_guest_present())
		cowvm_guest_snapshot(SC_SNAP_TAG);
	t0 = sc_now();
	if (sc_loop(mode, 1, n + 1, fd, pages)) {
		fprintf(stderr, "syscost: a %s call failed\n", argv[1]);
		return 1;
	}
	t1 = sc_now();
	printf("%s %ld %lld\n", argv[1], n, t1 - t0);
	return 0;
}
