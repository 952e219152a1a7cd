/* The cowvm fuzz harness ABI, between a fuzz target ELF and `cowvm fuzz`
 * (freestanding C99). */
#ifndef COWVM_FUZZ_ABI_H
#define COWVM_FUZZ_ABI_H

#include <stdint.h>

#include "cowvm_abi.h"

/*
 * The fuzz harness ABI (version COWVM_FUZZ_VERSION), between a fuzz target
 * ELF (guest kernel + guest/fuzz/fuzz_harness.c + a target compiled with
 * -fsanitize-coverage=trace-pc-guard) and the host fuzzer (`cowvm fuzz`).
 *
 * At boot the harness numbers the target's coverage guards 1..N (guard g
 * counts in map byte g % COWVM_FUZZ_MAP_SIZE, skipping byte 0), calls
 * cowvm_target_init() if the target defines it, zeroes the map, fills in
 * struct cowvm_fuzz_ctl and issues COWVM_HC_SNAPSHOT with tag
 * COWVM_FUZZ_SNAPSHOT_TAG. Each time it resumes from there it reads struct
 * cowvm_fuzz_input (the host wrote it while the guest was stopped), calls
 * cowvm_target(data, len) once and stops with COWVM_HC_EXIT:
 *   COWVM_FUZZ_EXIT_OK      the target returned 0;
 *   COWVM_FUZZ_EXIT_RETURN  it returned nonzero (ctl.crash_value, rip 0);
 *   COWVM_FUZZ_EXIT_ABORT   it called cowvm_target_abort() (ctl.crash_rip
 *                           is the caller's return address).
 * A CPU exception (including __builtin_trap's #UD) stops the VM through
 * COWVM_HC_FAULT. The map holds one 8-bit hit counter per guard (they
 * saturate at 255); trace-pc-guard places guards on edges, so a guard id is
 * an edge id. Bytes 1..ctl.guards (at most COWVM_FUZZ_MAP_SIZE - 1) are
 * the ones in use. With COWVM_FUZZ_F_FXRSTOR in ctl.flags, the harness
 * saves its x87/SSE state (FXSAVE) right before the snapshot request and
 * restores it (FXRSTOR) right after each resume, before any other
 * instruction, so the host need not restore that state. Everything lies below the 4 MiB minimum of guest RAM and
 * above the guest image (which must end below COWVM_FUZZ_CTL).
 */
#define COWVM_FUZZ_VERSION 1
#define COWVM_FUZZ_MAGIC 0x5a5a5546u /* "FUZZ" */
#define COWVM_FUZZ_SNAPSHOT_TAG 0x7a7a7566ull /* "fuzz" */
#define COWVM_FUZZ_CTL 0x200000ull    /* struct cowvm_fuzz_ctl */
#define COWVM_FUZZ_MAP 0x201000ull    /* uint8_t[COWVM_FUZZ_MAP_SIZE] */
#define COWVM_FUZZ_MAP_SIZE 65536u
#define COWVM_FUZZ_INPUT 0x211000ull  /* struct cowvm_fuzz_input */
#define COWVM_FUZZ_INPUT_MAX (1u << 20) /* bytes of data */

#define COWVM_FUZZ_F_FXRSTOR 1u /* restores x87/SSE after each resume */

enum cowvm_fuzz_exit {
	COWVM_FUZZ_EXIT_OK = 0,
	COWVM_FUZZ_EXIT_RETURN = 100,
	COWVM_FUZZ_EXIT_ABORT = 101,
};

/* Written by the harness: at boot (magic..guards), before a crash exit
 * (crash_*). */
struct cowvm_fuzz_ctl {
	uint32_t magic;	   /* COWVM_FUZZ_MAGIC */
	uint32_t version;  /* COWVM_FUZZ_VERSION */
	uint32_t guards;   /* coverage guards numbered (map bytes 1..) */
	uint32_t flags;	   /* COWVM_FUZZ_F_* */
	int64_t crash_value; /* COWVM_FUZZ_EXIT_RETURN: what the target
			      * returned */
	uint64_t crash_rip;  /* COWVM_FUZZ_EXIT_ABORT: the caller */
};

/* Written by the host before each run: len bytes of data follow. */
struct cowvm_fuzz_input {
	uint64_t len; /* at most COWVM_FUZZ_INPUT_MAX */
	uint8_t data[];
};

_Static_assert(sizeof(struct cowvm_fuzz_ctl) == 32, "fuzz ctl layout");
_Static_assert(sizeof(struct cowvm_fuzz_input) == 8, "fuzz input layout");
_Static_assert(COWVM_FUZZ_CTL + sizeof(struct cowvm_fuzz_ctl) <=
		       COWVM_FUZZ_MAP &&
	       COWVM_FUZZ_MAP + COWVM_FUZZ_MAP_SIZE <= COWVM_FUZZ_INPUT &&
	       COWVM_FUZZ_INPUT + 8 + COWVM_FUZZ_INPUT_MAX <= COWVM_MEM_MIN,
	       "fuzz areas overlap or leave the minimum RAM");

#endif
