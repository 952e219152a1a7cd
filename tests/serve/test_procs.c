/* Batches served by worker processes that open the template's snapshot file:
 * generated loads in every mode checked against the model, given requests
 * answered as the model says in request order, problems named by their
 * number in the load, and a folder that cannot hold the file refused. */
#include <stdlib.h>

#include "serve_util.h"
#include "cowvm_serve_abi.h"

/* Serve n generated requests in mode on p processes of c threads; all must
 * be right and timed. */
static void load(struct serve_template *t, const struct serve_model *m,
		 enum serve_mode mode, unsigned p, unsigned c, uint64_t n)
{
	struct serve_batch b = {
		.mode = mode, .concurrency = c, .n = n, .processes = p};
	struct serve_stats s;
	char err[SERVE_ERR_MAX];

	TEST_ASSERT_EQ(serve_batch_run(t, m, &b, &s, err), 0, "batch: %s", err);
	TEST_ASSERT_EQ(s.ok, n, "%s %ux%u: %llu failed, %llu wrong: %s",
		       serve_mode_name(mode), p, c,
		       (unsigned long long)s.failed,
		       (unsigned long long)s.mismatched, s.first_error);
	TEST_ASSERT(!s.failed && !s.mismatched, "%s", s.first_error);
	for (uint64_t k = 0; k < n; k++)
		TEST_ASSERT(s.lat_us[k] > 0, "latency of request %llu",
			    (unsigned long long)k + 1);
	TEST_ASSERT(s.seconds > 0, "seconds %f", s.seconds);
	printf("%s %u processes x %u: %llu requests in %.3f s\n",
	       serve_mode_name(mode), p, c, (unsigned long long)n, s.seconds);
	free(s.lat_us);
}

/* Given requests on three processes: each response and status is the
 * model's; the crash fails alone and is named by its number. */
static void given(struct serve_template *t, const struct serve_model *m,
		  enum serve_mode mode)
{
	static const char *const reqs[] = {
		"get 1", "put 1 2; get 1", "get 1", "agg a; agg b",
		"crash", "nonsense",	   "get 2", "put 2 9; get 2"};
	enum { N = sizeof(reqs) / sizeof(reqs[0]) };
	size_t lens[N];
	char *resp[N];
	int st[N];
	struct serve_batch b = {.mode = mode,
				.concurrency = 2,
				.n = N,
				.reqs = reqs,
				.lens = lens,
				.responses = resp,
				.statuses = st,
				.processes = 3};
	struct serve_stats s;
	char err[SERVE_ERR_MAX], want[COWVM_SERVE_DATA_MAX + 1];

	for (int k = 0; k < N; k++)
		lens[k] = strlen(reqs[k]);
	TEST_ASSERT_EQ(serve_batch_run(t, m, &b, &s, err), 0, "batch: %s", err);
	TEST_ASSERT_EQ(s.ok, N - 1, "given requests: %s", s.first_error);
	TEST_ASSERT_EQ(s.failed, 1, "failed");
	TEST_ASSERT(!strncmp(s.first_error, "request 5:", 10), "first: '%s'",
		    s.first_error);
	for (int k = 0; k < N; k++) {
		size_t wlen;
		int ws = serve_model_respond(m, reqs[k], lens[k], want, &wlen);

		TEST_ASSERT(resp[k], "no response to '%s'", reqs[k]);
		if (ws == SERVE_MODEL_CRASH) {
			TEST_ASSERT(!strncmp(resp[k], "failed: ", 8), "'%s'",
				    resp[k]);
			TEST_ASSERT(st[k] < 0, "crash status %d", st[k]);
		} else {
			want[wlen] = 0;
			TEST_ASSERT_EQ(ws, st[k], "'%s'", reqs[k]);
			TEST_ASSERT(!strcmp(want, resp[k]),
				    "'%s': '%s', want '%s'", reqs[k], resp[k],
				    want);
		}
		free(resp[k]);
	}
	free(s.lat_us);
}

/* A folder the template file cannot be written to: one clear error. */
static void bad_dir(struct serve_template *t, const struct serve_model *m)
{
	struct serve_batch b = {.mode = SERVE_CLONE, .n = 4, .processes = 2};
	struct serve_stats s;
	char err[SERVE_ERR_MAX];

	setenv("COWVM_SERVE_DIR", "/nonexistent/cowvm", 1);
	TEST_ASSERT(serve_batch_run(t, m, &b, &s, err) < 0, "no error");
	TEST_ASSERT(strstr(err, "/nonexistent/cowvm"), "err '%s'", err);
	unsetenv("COWVM_SERVE_DIR");
	free(s.lat_us);
}

int main(int argc, char **argv)
{
	struct serve_template t;
	struct serve_model m;

	TEST_ASSERT_EQ(argc, 2, "usage: %s GUEST_ELF", argv[0]);
	test_require_kvm();
	st_boot(argv[1], &t, &m);
	load(&t, &m, SERVE_CLONE, 2, 1, 101);
	load(&t, &m, SERVE_SPARE, 2, 2, 301);
	load(&t, &m, SERVE_RESET, 3, 1, 301);
	load(&t, &m, SERVE_SPARE, 5, 1, 3); /* more processes than requests */
	given(&t, &m, SERVE_CLONE);
	given(&t, &m, SERVE_SPARE);
	given(&t, &m, SERVE_RESET);
	bad_dir(&t, &m);
	serve_template_free(&t);
	return 0;
}
