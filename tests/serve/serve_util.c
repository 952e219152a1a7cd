/* Helpers of the serve tests: the template boot and single requests. */
#include "serve_util.h"

/* Boot the serve template of elf with a small state. */
void st_boot(const char *elf, struct serve_template *t, struct serve_model *m)
{
	struct serve_cfg c = {.elf = elf,
			      .state_mib = ST_STATE_MIB,
			      .seed = 7,
			      .timeout_ms = 20000};
	char err[SERVE_ERR_MAX];

	TEST_OK(serve_model_init(m, c.state_mib, c.seed));
	TEST_ASSERT_EQ(serve_template_boot(&c, t, err), 0, "boot: %s", err);
}

/* Serve the NUL-terminated req on vm and return its response data. */
const char *st_request(struct cowvm *vm, const char *req, int want)
{
	static struct serve_resp r;
	char err[SERVE_ERR_MAX];

	TEST_ASSERT_EQ(serve_vm_request(vm, req, strlen(req), &r, err), 0,
		       "request '%s': %s", req, err);
	TEST_ASSERT_EQ(r.status, want, "request '%s': response %s", req,
		       r.data);
	return r.data;
}
