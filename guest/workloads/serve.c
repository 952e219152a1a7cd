/* The cowvm guest's `serve` workload: builds the runtime state, stops at the
 * template snapshot, then serves the one request the host left in guest
 * memory and exits with its status (cowvm_serve_abi.h). */
#include "workloads.h"
#include "serve_app.h"
#include "cowvm_serve_abi.h"

/* The runtime state; in BSS, so clones share it with the template. */
static struct serve_app serve_state;

/* Parse "name=value" argument a into *out if it starts with name=;
 * 1 when it matched and parsed, 0 when it is another name, -1 on junk. */
static int serve_arg(const char *a, const char *name, uint64_t *out)
{
	size_t n = strlen(name);

	if (memcmp(a, name, n) || a[n] != '=')
		return 0;
	return guest_parse_u64(a + n + 1, out) ? -1 : 1;
}

/* Parse the command line into mib, seed and the init fault flag; 0 or -1
 * after a message. */
static int serve_parse(int argc, char **argv, uint64_t *mib, uint64_t *seed,
		       int *fault)
{
	for (int i = 1; i < argc; i++) {
		int hit = serve_arg(argv[i], "state_mib", mib);

		if (!hit)
			hit = serve_arg(argv[i], "seed", seed);
		if (!hit && !strcmp(argv[i], "fault=init"))
			hit = *fault = 1;
		if (hit != 1) {
			guest_printf("serve: bad argument '%s' (usage: serve "
				     "[state_mib=M] [seed=S] [fault=init])\n",
				     argv[i]);
			return -1;
		}
	}
	if (!serve_app_size_ok(*mib)) {
		guest_printf("serve: state_mib=%lu is outside 1..65536\n",
			     *mib);
		return -1;
	}
	return 0;
}

/* Serve the request at COWVM_SERVE_REQ into COWVM_SERVE_RESP; returns the
 * status (faults on a crash command). */
static int serve_one(void)
{
	const struct cowvm_serve_msg *req =
		(const struct cowvm_serve_msg *)(uintptr_t)COWVM_SERVE_REQ;
	struct cowvm_serve_msg *resp =
		(struct cowvm_serve_msg *)(uintptr_t)COWVM_SERVE_RESP;
	char *out = (char *)(resp + 1);
	uint32_t len = 0;
	int status;

	if (req->magic != COWVM_SERVE_REQ_MAGIC ||
	    req->version != COWVM_SERVE_VERSION ||
	    req->len > COWVM_SERVE_DATA_MAX) {
		static const char msg[] = "error: no request";

		len = sizeof(msg) - 1;
		memcpy(out, msg, len);
		status = COWVM_SERVE_NOREQ;
	} else {
		status = serve_app_handle(&serve_state, (const char *)(req + 1),
					  req->len, out, &len);
		if (status == SERVE_APP_CRASH)
			__asm__ volatile("ud2");
	}
	resp->magic = COWVM_SERVE_RESP_MAGIC;
	resp->version = COWVM_SERVE_VERSION;
	resp->len = len;
	resp->status = (uint32_t)status;
	return status;
}

/* serve [state_mib=M] [seed=S] [fault=init]: see cowvm_serve_abi.h. */
int guest_serve(int argc, char **argv)
{
	uint64_t mib = 16, seed = 1, bytes;
	struct cowvm_hc_snapshot s = {COWVM_SERVE_TAG, 0};
	int fault = 0;

	if (serve_parse(argc, argv, &mib, &seed, &fault))
		return COWVM_SERVE_ARGS;
	bytes = mib << 20;
	if (!guest_ram_contains(COWVM_SERVE_REQ,
				COWVM_SERVE_STATE + bytes - COWVM_SERVE_REQ) ||
	    COWVM_SERVE_STATE + bytes > guest_mapped_top()) {
		guest_printf("serve: state 0x%llx..0x%llx is not in RAM (RAM "
			     "total %lu MiB)\n",
			     COWVM_SERVE_STATE, COWVM_SERVE_STATE + bytes,
			     guest_ram_total() >> 20);
		return COWVM_SERVE_ARGS;
	}
	if (fault) {
		guest_printf("serve: fault=init: faulting before the "
			     "snapshot\n");
		__asm__ volatile("ud2");
	}
	serve_app_init(&serve_state, (void *)(uintptr_t)COWVM_SERVE_STATE, mib,
		       seed);
	guest_printf("serve: state_mib=%lu seed=%lu slots=%lu keys=%lu\n", mib,
		     seed, serve_state.nslots, serve_state.nkeys);
	guest_hc(COWVM_HC_SNAPSHOT, &s);
	return serve_one();
}
