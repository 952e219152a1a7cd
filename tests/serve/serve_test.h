/* Helpers shared by the serve tests: a small template booted through the
 * serve engine, and requests served on clones or reset clones. */
#ifndef SERVE_TEST_H
#define SERVE_TEST_H

#include "serve.h"
#include "../test.h"

#define ST_STATE_MIB 4

/* Boot the serve template of elf with a small state; exits on failure. */
static inline void st_boot(const char *elf, struct serve_template *t,
			   struct serve_model *m)
{
	struct serve_cfg c = {.elf = elf,
			      .state_mib = ST_STATE_MIB,
			      .seed = 7,
			      .timeout_ms = 20000};
	char err[SERVE_ERR_MAX];

	TEST_OK(serve_model_init(m, c.state_mib, c.seed));
	TEST_ASSERT(serve_template_boot(&c, t, err) == 0, "boot: %s", err);
}

/* Serve the NUL-terminated req on vm and return its response data
 * (static); exits unless the guest answered with status want. */
static inline const char *st_request(struct cowvm *vm, const char *req,
				     int want)
{
	static struct serve_resp r;
	char err[SERVE_ERR_MAX];

	TEST_ASSERT(serve_vm_request(vm, req, strlen(req), &r, err) == 0,
		    "request '%s': %s", req, err);
	TEST_ASSERT(r.status == want, "request '%s': status %d, want %d (%s)",
		    req, r.status, want, r.data);
	return r.data;
}

#endif
