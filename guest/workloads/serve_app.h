/* The serve workload's runtime, shared by the guest and the native
 * host-fork baseline: the hash table and request handler of
 * cowvm_serve_abi.h. */
#ifndef SERVE_APP_H
#define SERVE_APP_H

#include <stdint.h>

#include "cowvm_abi.h"
#include "cowvm_serve_abi.h"

/* A built state: the table and the count of requests served on it. */
struct serve_app {
	uint64_t *slots; /* nslots pairs {I + 1 or 0, value} */
	uint64_t nslots, nkeys, seed;
	uint64_t served;
};

/* serve_app_handle's result when the request reached a crash command. */
#define SERVE_APP_CRASH (-1)

/* Whether state_mib MiB make a table this code can build: 1..65536. */
int serve_app_size_ok(uint64_t state_mib);

/* Build the table of state_mib MiB at mem (every byte written) for seed. */
void serve_app_init(struct serve_app *a, void *mem, uint64_t state_mib,
		    uint64_t seed);

/* Handle the request data req[0, len): write the response data to resp
 * (at most COWVM_SERVE_DATA_MAX bytes) and its length to *resp_len; the
 * enum cowvm_serve_status, or SERVE_APP_CRASH when a crash command is next
 * to run (the commands before it have run). */
int serve_app_handle(struct serve_app *a, const char *req, uint32_t len,
		     char *resp, uint32_t *resp_len);

#endif
