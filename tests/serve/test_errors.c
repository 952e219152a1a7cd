/* Errors of the serve engine: missing and bad guest ELFs, a guest that
 * crashes or exits during init, oversized and malformed requests, a request
 * that crashes its clone (the next clone still serves). */
#include "serve_util.h"
#include "cowvm_serve_abi.h"

/* Boot with extra guest words and elf; returns the error, err filled. */
static int boot_fails(const char *elf, const char *extra, char *err)
{
	struct serve_cfg c = {.elf = elf,
			      .state_mib = ST_STATE_MIB,
			      .seed = 1,
			      .guest_extra = extra};
	struct serve_template t;
	int r = serve_template_boot(&c, &t, err);

	TEST_ASSERT_LT(r, 0, "boot of %s with '%s' succeeded", elf,
		       extra ? extra : "");
	TEST_ASSERT(!t.vm && !t.snap, "failed boot left a VM");
	return r;
}

int main(int argc, char **argv)
{
	struct cowvm_serve_msg h = {0x1234, COWVM_SERVE_VERSION, 0, 0};
	char err[SERVE_ERR_MAX], path[] = "/tmp/serve-test-XXXXXX";
	static struct serve_resp resp;
	struct serve_template t;
	struct serve_model m;
	struct cowvm_exit e;
	struct cowvm *vm;
	char *huge;
	int fd;

	TEST_ASSERT_EQ(argc, 2, "usage: %s GUEST_ELF", argv[0]);
	test_require_kvm();

	boot_fails("/nonexistent/guest.elf", NULL, err);
	TEST_ASSERT(strstr(err, "/nonexistent/guest.elf") ||
			    strstr(err, "No such file"),
		    "missing ELF: '%s'", err);
	fd = mkstemp(path);
	TEST_ASSERT_GE(fd, 0, "mkstemp");
	TEST_ASSERT_EQ(write(fd, "not an ELF\n", 11), 11, "write");
	close(fd);
	boot_fails(path, NULL, err);
	TEST_ASSERT(err[0], "bad ELF gave no message");
	unlink(path);

	TEST_ASSERT_EQ(boot_fails(argv[1], "fault=init", err), -EIO, "fault");
	TEST_ASSERT(strstr(err, "crashed during init") && strstr(err, "#UD") &&
			    strstr(err, "fault=init"),
		    "init crash: '%s'", err);
	TEST_ASSERT_EQ(boot_fails(argv[1], "state_mib=999", err), -EIO, "big");
	TEST_ASSERT(strstr(err, "exited with status 2 during init") &&
			    strstr(err, "not in RAM"),
		    "state outside RAM: '%s'", err);
	TEST_ASSERT_EQ(boot_fails(argv[1], "bogus=1", err), -EIO, "arg");
	TEST_ASSERT(strstr(err, "bad argument 'bogus=1'"), "bad arg: '%s'",
		    err);

	st_boot(argv[1], &t, &m);
	vm = cowvm_clone(t.snap);
	TEST_ASSERT(vm, "clone: %s", cowvm_error(NULL));
	huge = calloc(1, COWVM_SERVE_DATA_MAX + 1);
	TEST_ASSERT(huge, "calloc");
	TEST_ASSERT_EQ(serve_vm_request(vm, huge, COWVM_SERVE_DATA_MAX + 1,
					&resp, err),
		       -EMSGSIZE, "oversized request: '%s'", err);
	free(huge);
	TEST_ASSERT(!strcmp(st_request(vm, "get 1 2", COWVM_SERVE_BAD),
			    "error: command 1"),
		    "bad command");
	cowvm_destroy(vm);

	/* A header with a wrong magic: "error: no request", status 3. */
	vm = cowvm_clone(t.snap);
	TEST_ASSERT(vm, "clone: %s", cowvm_error(NULL));
	TEST_OK(cowvm_write(vm, COWVM_SERVE_REQ, &h, sizeof(h)));
	TEST_OK(cowvm_run(vm, &e));
	TEST_ASSERT_EXIT_STATUS(e, COWVM_SERVE_NOREQ, "no request");
	TEST_OK(cowvm_read(vm, COWVM_SERVE_RESP, &h, sizeof(h)));
	TEST_ASSERT_EQ(h.magic, COWVM_SERVE_RESP_MAGIC, "resp");
	TEST_ASSERT_EQ(h.len, 17, "resp");
	cowvm_destroy(vm);

	/* A crashing request fails alone. */
	vm = cowvm_clone(t.snap);
	TEST_ASSERT(vm, "clone: %s", cowvm_error(NULL));
	TEST_ASSERT_EQ(serve_vm_request(vm, "get 1; crash", 12, &resp, err),
		       -EIO, "crash: '%s'", err);
	TEST_ASSERT(strstr(err, "crashed"), "crash: '%s'", err);
	TEST_ASSERT(strstr(err, "#UD"), "crash: '%s'", err);
	TEST_OK(cowvm_reset(vm, t.snap));
	TEST_ASSERT(!strncmp(st_request(vm, "get 1", COWVM_SERVE_OK),
			     "req=1 1=", 8),
		    "reset after a crash");
	cowvm_destroy(vm);
	vm = cowvm_clone(t.snap);
	TEST_ASSERT(vm, "clone: %s", cowvm_error(NULL));
	TEST_ASSERT(!strncmp(st_request(vm, "get 1", COWVM_SERVE_OK),
			     "req=1 1=", 8),
		    "clone after a crash");
	cowvm_destroy(vm);
	serve_template_free(&t);
	printf("errors reported\n");
	return 0;
}
