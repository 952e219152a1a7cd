/* VMs under test: boot through the public API with a memfd console, run,
 * console capture, guest memory reads. */
#include <sys/mman.h>

#include "test_vm.h"

/* Create an empty VM of mem bytes with its console dropped. */
struct cowvm *tvm_create(uint64_t mem)
{
	struct cowvm_config cfg;
	struct cowvm *vm;

	cowvm_config_init(&cfg);
	cfg.mem_size = mem;
	cfg.console_fd = -1;
	vm = cowvm_create(&cfg);
	TEST_ASSERT(vm, "cowvm_create %llu: %s", (unsigned long long)mem,
		    cowvm_error(NULL));
	return vm;
}

/* Create a VM of mem bytes with a memfd console and load elf with cmdline. */
struct tvm tvm_boot(uint64_t mem, const char *elf, const char *cmdline)
{
	struct cowvm_config cfg;
	struct tvm t;

	t.console = memfd_create("console", MFD_CLOEXEC);
	TEST_ASSERT_GE(t.console, 0, "memfd_create");
	cowvm_config_init(&cfg);
	cfg.mem_size = mem;
	cfg.console_fd = t.console;
	t.vm = cowvm_create(&cfg);
	TEST_ASSERT(t.vm, "cowvm_create: %s", cowvm_error(NULL));
	TEST_ASSERT_EQ(cowvm_load_elf(t.vm, elf, cmdline), 0,
		       "cowvm_load_elf %s '%s': %s", elf,
		       cmdline ? cmdline : "", cowvm_error(t.vm));
	return t;
}

/* Run t until it stops; the exit must be filled (run returns 0). */
struct cowvm_exit tvm_run(struct tvm *t)
{
	struct cowvm_exit e;
	int r = cowvm_run(t->vm, &e);

	TEST_ASSERT_EQ(r, 0, "cowvm_run: %s", cowvm_error(t->vm));
	return e;
}

/* Everything written to t's console so far, NUL-terminated (free it). */
char *tvm_console(struct tvm *t)
{
	off_t n = lseek(t->console, 0, SEEK_END);
	char *s;

	TEST_ASSERT_GE(n, 0, "console size");
	s = calloc(1, (size_t)n + 1);
	TEST_ASSERT(s, "calloc");
	TEST_ASSERT_EQ(pread(t->console, s, (size_t)n, 0), n, "console read");
	return s;
}

/* Destroy t's VM and close its console. */
void tvm_free(struct tvm *t)
{
	cowvm_destroy(t->vm);
	close(t->console);
}

/* Read a 64-bit word of t's guest memory at gpa. */
uint64_t tvm_read64(struct tvm *t, uint64_t gpa)
{
	uint64_t v;

	TEST_OK(cowvm_read(t->vm, gpa, &v, sizeof(v)));
	return v;
}
