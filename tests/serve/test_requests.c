/* Generated loads in clone, reset, spare and ahead mode, on one and on two
 * workers: every response is checked against the host model and none may
 * fail. */
#include "serve_util.h"
#include "cowvm_serve_abi.h"

/* Serve n generated requests in mode on c workers; all must be right. */
static void load(struct serve_template *t, const struct serve_model *m,
		 enum serve_mode mode, unsigned c, uint64_t n)
{
	struct serve_batch b = {.mode = mode, .concurrency = c, .n = n};
	struct serve_stats s;
	char err[SERVE_ERR_MAX];

	TEST_ASSERT_EQ(serve_batch_run(t, m, &b, &s, err), 0, "batch: %s", err);
	TEST_ASSERT_EQ(
		s.ok, n, "mode %d x%u: %llu ok, %llu failed, %llu wrong: %s",
		mode, c, (unsigned long long)s.ok, (unsigned long long)s.failed,
		(unsigned long long)s.mismatched, s.first_error);
	TEST_ASSERT(!s.failed,
		    "mode %d x%u: %llu ok, %llu failed, %llu wrong: %s", mode,
		    c, (unsigned long long)s.ok, (unsigned long long)s.failed,
		    (unsigned long long)s.mismatched, s.first_error);
	TEST_ASSERT(!s.mismatched,
		    "mode %d x%u: %llu ok, %llu failed, %llu wrong: %s", mode,
		    c, (unsigned long long)s.ok, (unsigned long long)s.failed,
		    (unsigned long long)s.mismatched, s.first_error);
	for (uint64_t k = 0; k < n; k++)
		TEST_ASSERT(s.lat_us[k] > 0, "latency of request %llu",
			    (unsigned long long)k);
	printf("mode %s x%u: %llu requests in %.3f s, p50 %.1f us\n",
	       serve_mode_name(mode), c, (unsigned long long)n, s.seconds,
	       serve_percentile(s.lat_us, n, 50));
	free(s.lat_us);
}

/* Given requests, responses kept: each matches the model verbatim. */
static void given(struct serve_template *t, const struct serve_model *m,
		  enum serve_mode mode)
{
	static const char *const reqs[] = {"get 1", "put 1 2; get 1",
					   "agg a; agg b", "nonsense", ""};
	size_t lens[5];
	char *resp[5];
	int st[5];
	struct serve_batch b = {.mode = mode,
				.concurrency = 2,
				.n = 5,
				.reqs = reqs,
				.lens = lens,
				.responses = resp,
				.statuses = st};
	struct serve_stats s;
	char err[SERVE_ERR_MAX], want[COWVM_SERVE_DATA_MAX + 1];

	for (int k = 0; k < 5; k++)
		lens[k] = strlen(reqs[k]);
	TEST_ASSERT_EQ(serve_batch_run(t, m, &b, &s, err), 0, "batch: %s", err);
	TEST_ASSERT_EQ(s.ok, 5, "given requests: %s", s.first_error);
	for (int k = 0; k < 5; k++) {
		size_t wlen;
		int ws = serve_model_respond(m, reqs[k], lens[k], want, &wlen);

		want[wlen] = 0;
		TEST_ASSERT_EQ(ws, st[k], "'%s': '%s', want '%s'", reqs[k],
			       resp[k], want);
		TEST_ASSERT(!strcmp(want, resp[k]),
			    "'%s': %d '%s', want %d '%s'", reqs[k], st[k],
			    resp[k], ws, want);
		free(resp[k]);
	}
	TEST_ASSERT_EQ(st[3], COWVM_SERVE_BAD, "nonsense was accepted");
	free(s.lat_us);
}

int main(int argc, char **argv)
{
	struct serve_template t;
	struct serve_model m;

	TEST_ASSERT_EQ(argc, 2, "usage: %s GUEST_ELF", argv[0]);
	test_require_kvm();
	st_boot(argv[1], &t, &m);
	load(&t, &m, SERVE_CLONE, 1, 150);
	load(&t, &m, SERVE_RESET, 1, 400);
	load(&t, &m, SERVE_SPARE, 1, 400);
	load(&t, &m, SERVE_CLONE, 2, 150);
	load(&t, &m, SERVE_RESET, 2, 400);
	load(&t, &m, SERVE_SPARE, 2, 400);
	load(&t, &m, SERVE_AHEAD, 1, 200);
	load(&t, &m, SERVE_AHEAD, 2, 400);
	given(&t, &m, SERVE_CLONE);
	given(&t, &m, SERVE_RESET);
	given(&t, &m, SERVE_SPARE);
	given(&t, &m, SERVE_AHEAD);
	serve_template_free(&t);
	return 0;
}
