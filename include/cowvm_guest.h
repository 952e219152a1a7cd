/* The ring-3 API a Linux program running under `cowvm exec` may call
 * (header only, C99 on x86-64 with a C library): know whether it runs in a
 * cowvm VM, and ask for a snapshot at a point of its choosing, without a
 * system call. */
#ifndef COWVM_GUEST_H
#define COWVM_GUEST_H

#include <stdint.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cowvm_abi.h"

/* Nonzero when the program runs under cowvm's Linux personality (its
 * uname release ends in "-cowvm"); the calls below fault elsewhere. */
static inline int cowvm_guest_present(void)
{
	struct utsname u;
	size_t n;

	if (uname(&u))
		return 0;
	n = strlen(u.release);
	return n >= 6 && !strcmp(u.release + n - 6, "-cowvm");
}

/*
 * Ask the host for a snapshot here, labelled tag: the host's run returns
 * COWVM_EXIT_SNAPSHOT with this tag, and when the program resumes (in the
 * original VM or in any clone, fork or reset of the snapshot) the call
 * returns the value the host chose for that VM (cowvm_set_snapshot_ret;
 * 0 by default). One OUT instruction: ring 3 reaches the hypercall port.
 * The request must lie below 4 GiB, as every address of a cowvm Linux
 * program does (its stack included). sync() first writes out output the
 * personality may hold (COWVM_LINUX_BUFFER_OUTPUT), so that no clone
 * repeats it.
 */
static inline int64_t cowvm_guest_snapshot(uint64_t tag)
{
	volatile struct cowvm_hc_snapshot s = {tag, 0};

	sync();
	__asm__ volatile("outl %0, %1"
			 :
			 : "a"((uint32_t)(uintptr_t)&s),
			   "Nd"((uint16_t)COWVM_HC_PORT(COWVM_HC_SNAPSHOT))
			 : "memory");
	return s.ret;
}

#endif
