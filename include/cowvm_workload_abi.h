/* The cowvm guest's validation workloads (memtest, forktest): the output
 * each prints and the memory it writes, so that hosts and tests can check
 * them independently (freestanding C99). */
#ifndef COWVM_WORKLOAD_ABI_H
#define COWVM_WORKLOAD_ABI_H

#include "cowvm_abi.h"

#define COWVM_WORKLOAD_VERSION 1

/*
 * The memtest pattern: the 64-bit word at index i (counting 8-byte words from
 * the start of the filled range) is splitmix64 of (seed + (i + 1) * golden),
 * and the reported checksum folds every word w in order as
 * h = (h ^ w) * 0x100000001b3, starting from h = 0xcbf29ce484222325.
 * golden = 0x9e3779b97f4a7c15 and splitmix64(z) is the standard finalizer:
 * z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
 * z = (z ^ (z >> 27)) * 0x94d049bb133111eb; result z ^ (z >> 31).
 * All arithmetic is modulo 2^64.
 * The guest prints "memtest: seed=S base=0xB bytes=N checksum=0xH" with S
 * and N in decimal, B in lowercase hex without padding and H as exactly 16
 * lowercase hex digits.
 */
#define COWVM_MEMTEST_BASE (8ull << 20)

/*
 * The forktest workload, "forktest seed=S mib=M rounds=R pages=K" (defaults
 * 1, 16, 4, 8): it fills [COWVM_MEMTEST_BASE, + M MiB) with the memtest
 * pattern of seed S and prints
 * "forktest: seed=S mib=M rounds=R pages=K checksum=0xH" with the memtest
 * checksum H of the region. Each round r = 1..R loads known values into
 * rbx rcx rsi rdi rbp r8-r15, xmm0-xmm15, MXCSR, the x87 control word, two
 * x87 registers and the status flags and DF of RFLAGS, issues
 * COWVM_HC_SNAPSHOT with tag r (ret preset to 0 under QEMU, where nothing
 * answers), and takes id = ret, which must be >= 0.
 * It checks that every register survived and that the region's checksum
 * is still the one printed last, then writes K whole pages: with
 * npages = M * 256 and start = (id * K + 13 * r) mod npages (products and
 * sums modulo 2^64 before the mod), pages (start + j) mod npages for
 * j = 0..K-1, counted from COWVM_MEMTEST_BASE. Page p gets the memtest
 * pattern of seed t = splitmix64(splitmix64(S + r * golden) + id * golden)
 * at its own word positions: word i of the region (i = p * 512 .. p * 512
 * + 511) becomes splitmix64(t + (i + 1) * golden). It then prints
 * "forktest: round=r id=ID checksum=0xH" (r and ID decimal, H the checksum
 * of the whole region, 16 lowercase hex digits). After round R it prints
 * "forktest: PASS" and exits 0; a failed check prints "forktest: FAIL ..."
 * and exits 1; bad arguments exit 2.
 */

#endif
