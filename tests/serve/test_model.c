/* The host model against the native build of the guest's runtime
 * (guest/workloads/serve_app.c): the same answers to fixed, generated and random
 * requests, including malformed ones, and to every initial key. */
#include <stdint.h>

#include "serve_app.h"
#include "serve_util.h"
#include "cowvm_serve_abi.h"

/* A random request of mostly valid commands, some junk, some separators. */
static size_t random_request(uint64_t *x, char *buf, size_t cap)
{
	static const char *const words[] = {"get",
					    "put",
					    "agg",
					    "crash",
					    "0x",
					    "0x1F",
					    "12",
					    "007",
					    "9223372036854775807",
					    "9223372036854775808",
					    "18446744073709551615",
					    "18446744073709551616",
					    "-1",
					    "+3",
					    "0X10",
					    " ",
					    "\t",
					    ";",
					    "\n",
					    "\r",
					    "x",
					    "getx",
					    "1e3",
					    ";;"};
	size_t len = 0, n;

	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	n = (*x >> 33) % 24;
	for (size_t k = 0; k < n && len + 32 < cap; k++) {
		const char *w;
		char num[24];

		*x = *x * 6364136223846793005ull + 1442695040888963407ull;
		if ((*x >> 60) < 4) {
			snprintf(num, sizeof(num), "%llu",
				 (unsigned long long)((*x >> 20) % 300000));
			w = num;
		} else {
			w = words[(*x >> 35) %
				  (sizeof(words) / sizeof(words[0]))];
		}
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", w,
					(*x >> 10) % 3 ? " " : "");
	}
	return len;
}

#define MODEL_MIB 1

static void *pristine; /* the freshly built table */

/* Compare model and app on one request; the app's state is restored only
 * when the request may have written it. */
static void compare(const struct serve_model *m, struct serve_app *a, void *mem,
		    const char *req, size_t len)
{
	static char want[COWVM_SERVE_DATA_MAX + 1], got[COWVM_SERVE_DATA_MAX];
	size_t wlen;
	uint32_t glen = 0;
	int ws = serve_model_respond(m, req, len, want, &wlen);
	int gs;

	a->served = 0;
	gs = serve_app_handle(a, req, (uint32_t)len, got, &glen);
	TEST_ASSERT_EQ(ws, gs, "request '%.*s': model %d '%.*s', app %d '%.*s'",
		       (int)len, req, ws, (int)wlen, want, gs, (int)glen, got);
	TEST_ASSERT_EQ(wlen, glen,
		       "request '%.*s': model %d '%.*s', app %d '%.*s'",
		       (int)len, req, ws, (int)wlen, want, gs, (int)glen, got);
	TEST_ASSERT(!memcmp(want, got, wlen),
		    "request '%.*s': model %d '%.*s', app %d '%.*s'", (int)len,
		    req, ws, (int)wlen, want, gs, (int)glen, got);
	if (memmem(req, len, "put", 3))
		memcpy(mem, pristine, MODEL_MIB << 20);
}

int main(void)
{
	static const char *const fixed[] = {
		"",
		"get 0",
		"get 32767; get 32768; get 0x7fff",
		"put 5 7; get 5; put 5 0x8; get 5",
		"put 999999 1; get 999999; agg x",
		"agg hello; agg hello",
		"get 9223372036854775807; get 9223372036854775808",
		"  ;\n; get 1 ;",
		"get",
		"get 1 2",
		"put 1",
		"bogus",
		"crash",
		"get 1; crash; get 2",
		"get 1; bogus; crash",
		"get 0x; get 1",
		"get 0X1",
	};
	struct serve_model m;
	struct serve_app a;
	uint64_t x = 42;
	char buf[4096];
	void *mem;

	TEST_ASSERT_EQ(serve_model_init(&m, 0, 7), -EINVAL, "0 MiB");
	TEST_ASSERT_EQ(serve_model_init(&m, 65537, 7), -EINVAL, "64 GiB");
	TEST_OK(serve_model_init(&m, MODEL_MIB, 7));
	mem = malloc(MODEL_MIB << 20);
	pristine = malloc(MODEL_MIB << 20);
	TEST_ASSERT(mem && pristine, "malloc");
	serve_app_init(&a, mem, MODEL_MIB, 7);
	memcpy(pristine, mem, MODEL_MIB << 20);
	TEST_ASSERT_EQ(a.nkeys, m.nkeys, "sizes");
	TEST_ASSERT_EQ(a.nslots, m.nslots, "sizes");
	for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
		compare(&m, &a, mem, fixed[k], strlen(fixed[k]));
	/* 64 commands pass, a 65th non-empty one does not. */
	buf[0] = 0;
	for (int k = 0; k < 64; k++)
		strcat(buf, "get 3;;");
	compare(&m, &a, mem, buf, strlen(buf));
	strcat(buf, "get 4");
	compare(&m, &a, mem, buf, strlen(buf));
	/* Every key the table holds and some it does not, 64 at a time. */
	for (uint64_t i = 0; i < 2 * m.nkeys; i += 64) {
		size_t len = 0;

		for (uint64_t j = i; j < i + 64; j++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
						"get %llu;",
						(unsigned long long)j);
		compare(&m, &a, mem, buf, len);
	}
	for (uint64_t k = 0; k < 2000; k++) {
		size_t len = serve_gen_request(&m, k, buf, sizeof(buf));

		compare(&m, &a, mem, buf, len);
	}
	for (int k = 0; k < 20000; k++) {
		size_t len = random_request(&x, buf, sizeof(buf));

		compare(&m, &a, mem, buf, len);
	}
	free(mem);
	free(pristine);
	printf("model and native runtime agree\n");
	return 0;
}
