/* The cowvm serve workload ABI, between the guest's warm runtime and
 * `cowvm serve` (freestanding C99). */
#ifndef COWVM_SERVE_ABI_H
#define COWVM_SERVE_ABI_H

#include <stdint.h>

#include "cowvm_workload_abi.h"

/*
 * The serve workload, "serve [state_mib=M] [seed=S] [fault=init]"
 * (defaults 16, 1): a warm runtime for `cowvm serve`.
 *
 * Init builds a hash table of M MiB at COWVM_SERVE_STATE mapping numbers
 * I (below 2^63) to values: S = M * 65536 slots of 16 bytes {I + 1, value},
 * 0 in the first word marking an empty slot. It inserts I -> value(I) for
 * I = 0 .. n - 1, n = S / 2, in order, where h(I) = splitmix64(seed +
 * (I + 1) * golden) (the memtest pattern) and value(I) = splitmix64(h(I)
 * ^ COWVM_SERVE_VALUE_XOR). The probe for I starts at slot (h(I) * S) >>
 * 64 (the high half of the 128-bit product) and goes on linearly,
 * wrapping. Init prints "serve: state_mib=M seed=S slots=S keys=n" and
 * issues COWVM_HC_SNAPSHOT with tag COWVM_SERVE_TAG: the template point.
 * fault=init takes a ud2 fault in ring 3 before the snapshot (a test
 * hook); bad arguments or a state outside RAM exit COWVM_SERVE_ARGS.
 *
 * Each resume (the original VM, a clone or a reset VM) serves exactly one
 * request and exits: it reads a struct cowvm_serve_msg with magic
 * COWVM_SERVE_REQ_MAGIC at COWVM_SERVE_REQ followed by len bytes, writes
 * one with magic COWVM_SERVE_RESP_MAGIC at COWVM_SERVE_RESP, and exits
 * through COWVM_HC_EXIT with the response's status (enum
 * cowvm_serve_status). A host serves the next request from a new clone of
 * the template snapshot or after cowvm_reset of the VM to it, so no request
 * sees another's writes.
 *
 * Request data: commands separated by ';' or '\n', each of words separated
 * by ' ', '\t' or '\r'; empty commands are skipped; at most
 * COWVM_SERVE_CMDS_MAX commands, all checked before any runs. A number I
 * or V is decimal digits or "0x" and hex digits (either case), spanning
 * the whole word, I below 2^63, V below 2^64. Commands:
 *   get I      -> "I=VVVVVVVVVVVVVVVV" (the value of I) or "I=none"
 *   put I V    -> "I:OOOOOOOOOOOOOOOO->VVVVVVVVVVVVVVVV" or "I:none->V..."
 *                 (sets the value of I, inserting I if absent; later
 *                 commands of the same request see it)
 *   agg WORD   -> "agg=H:SSSSSSSSSSSSSSSS": h = FNV-1a 64 of WORD's bytes
 *                 (offset 0xcbf29ce484222325, prime 0x100000001b3); for
 *                 j = 1 .. COWVM_SERVE_AGG_LOOKUPS it looks up
 *                 I = splitmix64(h + j * golden) mod 2n; H counts the
 *                 lookups that found I, S sums their values mod 2^64
 *   crash      -> the handler takes a ud2 fault (a test hook)
 * I and H are printed in decimal, values as 16 lowercase hex digits. The
 * response data is "req=C" (C counts the requests this VM's memory has
 * served since init: always 1 for a host that clones or resets), then for
 * each command in order one space and its result, with status
 * COWVM_SERVE_OK. Any other command, word count or number makes the whole
 * response "error: command N" (N the 1-based index of the first bad
 * non-empty command; N = COWVM_SERVE_CMDS_MAX + 1 when there are too
 * many) with status COWVM_SERVE_BAD. A request header with a wrong magic
 * or version or len > COWVM_SERVE_DATA_MAX gets the response "error: no
 * request" with status COWVM_SERVE_NOREQ.
 */
#define COWVM_SERVE_VERSION	1
#define COWVM_SERVE_TAG		0x5e7eull /* snapshot tag of the template */
#define COWVM_SERVE_REQ		0x600000ull /* struct cowvm_serve_msg */
#define COWVM_SERVE_RESP	0x610000ull /* struct cowvm_serve_msg */
#define COWVM_SERVE_BUF_SIZE	0x10000u    /* each, header included */
#define COWVM_SERVE_DATA_MAX	(COWVM_SERVE_BUF_SIZE - 16u)
#define COWVM_SERVE_STATE	COWVM_MEMTEST_BASE
#define COWVM_SERVE_CMDS_MAX	64u
#define COWVM_SERVE_AGG_LOOKUPS	16u
#define COWVM_SERVE_VALUE_XOR	0x5e7e5e7e5e7e5e7eull
#define COWVM_SERVE_REQ_MAGIC	0x51524553u /* "SERQ" */
#define COWVM_SERVE_RESP_MAGIC	0x50524553u /* "SERP" */

enum cowvm_serve_status {
	COWVM_SERVE_OK = 0,    /* every command ran */
	COWVM_SERVE_BAD = 1,   /* a bad command: "error: command N" */
	COWVM_SERVE_ARGS = 2,  /* init: bad arguments or state outside RAM */
	COWVM_SERVE_NOREQ = 3, /* no valid request header */
};

/* The header of a request (host -> guest) or response (guest -> host);
 * len bytes of data follow it. */
struct cowvm_serve_msg {
	uint32_t magic;	  /* COWVM_SERVE_REQ_MAGIC or COWVM_SERVE_RESP_MAGIC */
	uint32_t version; /* COWVM_SERVE_VERSION */
	uint32_t len;	  /* data bytes, at most COWVM_SERVE_DATA_MAX */
	uint32_t status;  /* response: enum cowvm_serve_status; request: 0 */
};

_Static_assert(sizeof(struct cowvm_serve_msg) == 16, "serve msg layout");
_Static_assert(COWVM_SERVE_REQ + COWVM_SERVE_BUF_SIZE <= COWVM_SERVE_RESP,
	       "serve buffers overlap");
_Static_assert(COWVM_SERVE_RESP + COWVM_SERVE_BUF_SIZE <= COWVM_SERVE_STATE,
	       "serve response overlaps the state");

#endif
