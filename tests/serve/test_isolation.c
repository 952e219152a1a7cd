/* Requests do not see each other: a request's writes to the state are gone
 * for the next request on a new clone, on a clone alive next to the
 * writer, on the same clone after cowvm_reset and on a clone destroyed
 * into a spare and taken again; the guest's request counter stays at 1. */
#include "serve_util.h"
#include "cowvm_serve_abi.h"

int main(int argc, char **argv)
{
	struct serve_template t;
	struct serve_model m;
	struct cowvm *a, *b;
	char orig[17], want[256];
	const char *r;

	TEST_ASSERT_EQ(argc, 2, "usage: %s GUEST_ELF", argv[0]);
	test_require_kvm();
	st_boot(argv[1], &t, &m);

	/* The original value of key 5 and of an absent key. */
	a = cowvm_clone(t.snap);
	TEST_ASSERT(a, "clone: %s", cowvm_error(NULL));
	r = st_request(a, "get 5; get 99999999", COWVM_SERVE_OK);
	TEST_ASSERT(!strncmp(r, "req=1 5=", 8), "first response '%s'", r);
	TEST_ASSERT_EQ(strlen(r), 8 + 16 + 14, "first response '%s'", r);
	snprintf(orig, sizeof(orig), "%.16s", r + 8);
	TEST_ASSERT(strstr(r, " 99999999=none"), "absent key: '%s'", r);
	cowvm_destroy(a);

	/* Clone a writes; clone b, alive at the same time, must not see it. */
	a = cowvm_clone(t.snap);
	b = cowvm_clone(t.snap);
	TEST_ASSERT(a && b, "clone: %s", cowvm_error(NULL));
	r = st_request(a, "put 5 0xabc; put 99999999 1; get 5; get 99999999",
		       COWVM_SERVE_OK);
	snprintf(want, sizeof(want),
		 "req=1 5:%s->0000000000000abc 99999999:none->"
		 "0000000000000001 5=0000000000000abc "
		 "99999999=0000000000000001",
		 orig);
	TEST_ASSERT(!strcmp(r, want), "writer got '%s', want '%s'", r, want);
	r = st_request(b, "get 5; get 99999999", COWVM_SERVE_OK);
	snprintf(want, sizeof(want), "req=1 5=%s 99999999=none", orig);
	TEST_ASSERT(!strcmp(r, want), "sibling saw '%s', want '%s'", r, want);
	cowvm_destroy(b);

	/* Reset the writer: its write and its request count are gone. */
	for (int i = 0; i < 20; i++) {
		TEST_OK(cowvm_reset(a, t.snap));
		r = st_request(a, "get 5; get 99999999; put 5 3",
			       COWVM_SERVE_OK);
		snprintf(want, sizeof(want),
			 "req=1 5=%s 99999999=none 5:%s->0000000000000003",
			 orig, orig);
		TEST_ASSERT(!strcmp(r, want), "after reset %d: '%s', want '%s'",
			    i, r, want);
	}
	cowvm_destroy(a);

	/* A new clone after all of that still sees the template's state. */
	b = cowvm_clone(t.snap);
	TEST_ASSERT(b, "clone: %s", cowvm_error(NULL));
	r = st_request(b, "get 5; get 99999999", COWVM_SERVE_OK);
	snprintf(want, sizeof(want), "req=1 5=%s 99999999=none", orig);
	TEST_ASSERT(!strcmp(r, want), "late clone saw '%s'", r);
	cowvm_destroy(b);

	/* A writer destroyed into a spare comes back without its write. */
	TEST_OK(cowvm_snapshot_keep(t.snap, 1));
	for (int i = 0; i < 20; i++) {
		a = cowvm_clone(t.snap);
		TEST_ASSERT(a && (!i || a == b), "clone %d: %s", i,
			    a ? "not the spare" : cowvm_error(NULL));
		r = st_request(a, "get 5; get 99999999; put 5 3",
			       COWVM_SERVE_OK);
		snprintf(want, sizeof(want),
			 "req=1 5=%s 99999999=none 5:%s->0000000000000003",
			 orig, orig);
		TEST_ASSERT(!strcmp(r, want), "spare %d: '%s', want '%s'", i, r,
			    want);
		b = a;
		cowvm_destroy(a);
	}
	TEST_OK(cowvm_snapshot_keep(t.snap, 0));
	serve_template_free(&t);
	printf("isolation holds\n");
	return 0;
}
