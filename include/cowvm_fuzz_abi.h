/* The cowvm fuzz harness ABI, between a fuzz target ELF and `cowvm fuzz`
 * (freestanding C99). */
#ifndef COWVM_FUZZ_ABI_H
#define COWVM_FUZZ_ABI_H

#include <stdint.h>

#include "cowvm_abi.h"

/*
 * The fuzz harness ABI (version COWVM_FUZZ_VERSION), between a fuzz target
 * and the host fuzzer (`cowvm fuzz`). A target is either
 *   - a cowvm guest ELF: guest kernel + guest/fuzz/fuzz_harness.c + a
 *     freestanding target compiled with -fsanitize-coverage=trace-pc-guard
 *     (scripts/build-target.sh), its areas at the fixed addresses below; or
 *   - a static Linux program: a libFuzzer-style harness
 *     (LLVMFuzzerTestOneInput) linked with guest/fuzz/libfuzzer.c
 *     (scripts/build-harness.sh), run under the Linux personality, its
 *     areas in its own memory (identity mapped, below 4 GiB).
 *
 * After its init the harness numbers the coverage guards 1..N (guard g
 * counts in map byte g % COWVM_FUZZ_MAP_SIZE, skipping byte 0), zeroes the
 * map, fills in struct cowvm_fuzz_ctl and issues COWVM_HC_SNAPSHOT with tag
 * COWVM_FUZZ_SNAPSHOT_TAG (a cowvm guest: ctl at COWVM_FUZZ_CTL) or
 * COWVM_FUZZ_LINUX_TAG | ctl (a Linux program: the low 32 bits of the tag
 * are the address of its 4 KiB-aligned ctl). Each time it resumes from
 * there it reads struct cowvm_fuzz_input at ctl.input (the host wrote it
 * while the guest was stopped), runs the target once on it and stops with
 * COWVM_HC_EXIT:
 *   COWVM_FUZZ_EXIT_OK      the target returned 0;
 *   COWVM_FUZZ_EXIT_REJECT  it returned -1 (libFuzzer: keep this input
 *                           out of the corpus);
 *   COWVM_FUZZ_EXIT_RETURN  it returned another value (ctl.crash_value);
 *   COWVM_FUZZ_EXIT_ABORT   it called cowvm_target_abort() (ctl.crash_rip
 *                           is the caller's return address).
 * A CPU exception (including __builtin_trap's #UD) stops a cowvm guest
 * through COWVM_HC_FAULT, and a Linux program through its fatal signal
 * (COWVM_EXIT_SIGNAL; abort() is SIGABRT). The map holds one 8-bit hit
 * counter per guard (they saturate at 255); trace-pc-guard places guards on
 * edges, so a guard id is an edge id. Bytes 1..ctl.guards (at most
 * COWVM_FUZZ_MAP_SIZE - 1) are the ones in use. With COWVM_FUZZ_F_FXRSTOR
 * in ctl.flags, the harness saves its x87/SSE state (FXSAVE) right before
 * the snapshot request and restores it (FXRSTOR) right after each resume,
 * before any other instruction, so the host need not restore that state.
 *
 * Comparison log: with COWVM_FUZZ_IN_CMPLOG in the input's flags, the
 * harness records the operands of the target's comparisons (trace-cmp
 * hooks; memcmp, strcmp and the like) into struct cowvm_fuzz_cmp_log at
 * ctl.cmp (0: the harness keeps none): the first COWVM_FUZZ_CMP_MAX
 * distinct sites of the run, count all. The host uses them to solve magic
 * values (input-to-state replacement) and as dictionary tokens.
 *
 * The cowvm guest areas lie below the 4 MiB minimum of guest RAM and above
 * the guest image (which must end below COWVM_FUZZ_CTL).
 */
#define COWVM_FUZZ_VERSION	2
#define COWVM_FUZZ_MAGIC	0x5a5a5546u	      /* "FUZZ" */
#define COWVM_FUZZ_SNAPSHOT_TAG 0x7a7a7566ull	      /* "fuzz" */
#define COWVM_FUZZ_LINUX_TAG	(0x786e6c66ull << 32) /* "flnx", | ctl */
#define COWVM_FUZZ_CTL		0x200000ull /* struct cowvm_fuzz_ctl */
#define COWVM_FUZZ_MAP		0x201000ull /* uint8_t[COWVM_FUZZ_MAP_SIZE] */
#define COWVM_FUZZ_MAP_SIZE	65536u
#define COWVM_FUZZ_INPUT	0x211000ull /* struct cowvm_fuzz_input */
#define COWVM_FUZZ_INPUT_MAX	(1u << 20)  /* bytes of data */
#define COWVM_FUZZ_CMP		0x312000ull /* struct cowvm_fuzz_cmp_log */

#define COWVM_FUZZ_F_FXRSTOR 1u /* restores x87/SSE after each resume */

#define COWVM_FUZZ_IN_CMPLOG 1u /* input flag: log comparisons this run */

enum cowvm_fuzz_exit {
	COWVM_FUZZ_EXIT_OK = 0,
	COWVM_FUZZ_EXIT_REJECT = 1,
	COWVM_FUZZ_EXIT_RETURN = 100,
	COWVM_FUZZ_EXIT_ABORT = 101,
};

/* Written by the harness: at boot (magic..cmp), before a crash exit
 * (crash_*). */
struct cowvm_fuzz_ctl {
	uint32_t magic;	     /* COWVM_FUZZ_MAGIC */
	uint32_t version;    /* COWVM_FUZZ_VERSION */
	uint32_t guards;     /* coverage guards numbered (map bytes 1..) */
	uint32_t flags;	     /* COWVM_FUZZ_F_* */
	int64_t crash_value; /* COWVM_FUZZ_EXIT_RETURN: what the target
			      * returned */
	uint64_t crash_rip;  /* COWVM_FUZZ_EXIT_ABORT: the caller */
	uint64_t map;	     /* uint8_t[COWVM_FUZZ_MAP_SIZE] */
	uint64_t input;	     /* struct cowvm_fuzz_input + INPUT_MAX bytes */
	uint64_t cmp;	     /* struct cowvm_fuzz_cmp_log, 0: none */
	uint64_t reserved;
};

/* Written by the host before each run: len bytes of data follow. */
struct cowvm_fuzz_input {
	uint64_t len;	/* at most COWVM_FUZZ_INPUT_MAX */
	uint64_t flags; /* COWVM_FUZZ_IN_* */
	uint8_t data[];
};

/* One comparison: operands a and b as the target compared them (integers
 * little-endian, alen = blen = their size; strings and memory up to
 * COWVM_FUZZ_CMP_BYTES bytes each). */
#define COWVM_FUZZ_CMP_MAX   256u
#define COWVM_FUZZ_CMP_BYTES 32u
enum cowvm_fuzz_cmp_kind {
	COWVM_FUZZ_CMP_INT = 1,	  /* integer ==, <, switch... */
	COWVM_FUZZ_CMP_CONST = 2, /* integer, a is a constant of the code */
	COWVM_FUZZ_CMP_MEM = 3,	  /* memcmp, strcmp and the like */
};
struct cowvm_fuzz_cmp {
	uint8_t kind; /* enum cowvm_fuzz_cmp_kind */
	uint8_t alen, blen;
	uint8_t reserved;
	uint32_t site; /* the comparison's address (low 32 bits) */
	uint8_t a[COWVM_FUZZ_CMP_BYTES], b[COWVM_FUZZ_CMP_BYTES];
};
struct cowvm_fuzz_cmp_log {
	uint32_t count; /* entries written, at most COWVM_FUZZ_CMP_MAX */
	uint32_t seen;	/* comparisons met, logged or not */
	struct cowvm_fuzz_cmp e[COWVM_FUZZ_CMP_MAX];
};

_Static_assert(sizeof(struct cowvm_fuzz_ctl) == 64, "fuzz ctl layout");
_Static_assert(sizeof(struct cowvm_fuzz_input) == 16, "fuzz input layout");
_Static_assert(sizeof(struct cowvm_fuzz_cmp) == 72, "fuzz cmp layout");
_Static_assert(sizeof(struct cowvm_fuzz_cmp_log) == 8 + 72 * 256,
	       "fuzz cmp log layout");
_Static_assert(COWVM_FUZZ_CTL + sizeof(struct cowvm_fuzz_ctl) <=
			       COWVM_FUZZ_MAP &&
		       COWVM_FUZZ_MAP + COWVM_FUZZ_MAP_SIZE <=
			       COWVM_FUZZ_INPUT &&
		       COWVM_FUZZ_INPUT + 16 + COWVM_FUZZ_INPUT_MAX <=
			       COWVM_FUZZ_CMP &&
		       COWVM_FUZZ_CMP + 8 + 72 * 256 <= COWVM_MEM_MIN,
	       "fuzz areas overlap or leave the minimum RAM");

#endif
