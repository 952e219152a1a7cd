/* The VM pool: reserve, take (warm and synchronous), refill, drain, several
 * classes, the reaper (no fd left behind) and pooled VMs running the guest
 * after their RAM and state are set. */
#include <pthread.h>
#include <sys/mman.h>

#include "state_util.h"

static const char *guest;

/* A guest stopped at its SNAPSHOT exit, frozen as a RAM image and a state. */
struct source {
	struct tvm t;
	struct vmm_mem_image *img;
	struct vmm_state *st;
	size_t mark; /* console bytes before the snapshot */
};

/* Boot hypercalls in a VM of cfg's size and mode up to its snapshot. */
static struct source source_new(const struct cowvm_config *cfg)
{
	struct cowvm_config c = *cfg;
	struct cowvm_exit e;
	struct source s;

	s.t.console = memfd_create("console", MFD_CLOEXEC);
	c.console_fd = s.t.console;
	s.t.vm = cowvm_create(&c);
	TEST_ASSERT(s.t.vm, "cowvm_create: %s", cowvm_error(NULL));
	TEST_OK(cowvm_load_elf(s.t.vm, guest, "hypercalls"));
	e = tvm_run(&s.t);
	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT);
	s.mark = st_console_len(&s.t);
	TEST_OK(vmm_mem_image_take(s.t.vm->mem, &s.img));
	TEST_OK(vmm_state_save(s.t.vm, &s.st));
	return s;
}

/* Release a source. */
static void source_free(struct source *s)
{
	vmm_state_free(s->st);
	vmm_mem_image_put(s->img);
	tvm_free(&s->t);
}

/* Give vm (pristine, empty RAM) the source's RAM and state, run it to its
 * end and expect the source's output after the snapshot. */
static void run_from_source(struct cowvm *vm, struct source *s)
{
	struct tvm t = {.vm = vm, .console = memfd_create("c", MFD_CLOEXEC)};
	struct vmm_state *fresh;
	struct cowvm_exit e;
	char *out;

	TEST_ASSERT(vm->pristine, "a VM from the pool must be pristine");
	TEST_OK(vmm_state_save(vm, &fresh));
	TEST_ASSERT_EQ(fresh->same, 0x1ff,
		       "a pooled VM differs from a fresh one");
	vmm_state_free(fresh);
	vm->cfg.console_fd = t.console;
	TEST_OK(vmm_mem_realize(vm->mem, s->img));
	TEST_ASSERT_EQ(vmm_state_restore(vm, s->st), 0, "restore: %s",
		       cowvm_error(vm));
	e = tvm_run(&t);
	out = tvm_console(&t);
	TEST_ASSERT_EXIT_STATUS(e, 0, "output:\n%s", out);
	TEST_ASSERT(strstr(out, "snapshot tag=0xc0e5a9 ret=0") &&
			    strstr(out, "hypercalls: PASS") &&
			    !strstr(out, "hypercalls: info"),
		    "output of a pooled VM:\n%s", out);
	free(out);
	close(t.console);
}

/* A config of size bytes in mode, console dropped. */
static struct cowvm_config pool_cfg(uint64_t size, enum cowvm_mem_mode mode)
{
	struct cowvm_config cfg;

	cowvm_config_init(&cfg);
	cfg.mem_size = size;
	cfg.mem_mode = mode;
	cfg.console_fd = -1;
	return cfg;
}

/* Reserve 2, take 3 (2 warm, 1 synchronous), all run the guest; the pool
 * refills; a second class is independent; n = 0 drains; the reaper leaves
 * no fd behind. */
static void test_pool(void)
{
	struct cowvm_config cfg = pool_cfg(TEST_MEM, COWVM_MEM_DEFAULT);
	struct cowvm_config small = pool_cfg(16 * MIB, COWVM_MEM_DEFAULT);
	struct vmm_pool_stats s0, s;
	struct cowvm *vm[3];
	struct source src;
	double take_us[3], t0;
	int fds0;

	TEST_ASSERT_EQ(vmm_pool_wait_reaped(20000), 0, "reaper idle");
	fds0 = st_count_fds();
	s0 = vmm_pool_stats(&cfg);
	TEST_OK(vmm_pool_reserve(&cfg, 2));
	TEST_ASSERT_EQ(vmm_pool_wait_ready(&cfg, 2, 30000), 0,
		       "the pool never reached 2 ready VMs (error %d)",
		       vmm_pool_stats(&cfg).last_error);
	s = vmm_pool_stats(&cfg);
	TEST_ASSERT_EQ(s.ready, 2);
	TEST_ASSERT_EQ(s.target, 2);
	for (int i = 0; i < 3; i++) {
		t0 = test_now();
		vm[i] = vmm_pool_take(&cfg);
		take_us[i] = st_us(t0, test_now());
		TEST_ASSERT(vm[i], "take %d: %s", i, vmm_vm_error());
		TEST_ASSERT_EQ(vm[i]->cfg.mem_size, TEST_MEM, "size");
	}
	s = vmm_pool_stats(&cfg);
	TEST_ASSERT_EQ(s.taken, s0.taken + 2, "taken %lu missed %lu",
		       s.taken - s0.taken, s.missed - s0.missed);
	TEST_ASSERT_EQ(s.missed, s0.missed + 1, "taken %lu missed %lu",
		       s.taken - s0.taken, s.missed - s0.missed);
	printf("pool: take warm %.1f us, %.1f us; synchronous %.0f us\n",
	       take_us[0], take_us[1], take_us[2]);

	for (int i = 0; i < 3; i += 2) { /* a warm and a synchronous VM */
		vm[i]->vcpu.run->immediate_exit = 1;
		t0 = test_now();
		ioctl(vm[i]->vcpu.fd, KVM_RUN, 0);
		take_us[i] = st_us(t0, test_now());
		vm[i]->vcpu.run->immediate_exit = 0;
	}
	printf("pool: first KVM_RUN on a pooled VM %.1f us, on a new one "
	       "%.1f us\n",
	       take_us[0], take_us[2]);
	src = source_new(&cfg);
	for (int i = 0; i < 3; i++)
		run_from_source(vm[i], &src);
	TEST_ASSERT_EQ(vmm_pool_wait_ready(&cfg, 2, 30000), 0,
		       "no refill to 2 (ready %u)", vmm_pool_stats(&cfg).ready);

	/* a second class, independent of the first */
	TEST_OK(vmm_pool_reserve(&small, 1));
	TEST_ASSERT_EQ(vmm_pool_wait_ready(&small, 1, 30000), 0, "small class");
	TEST_ASSERT_EQ(vmm_pool_stats(&cfg).ready, 2, "first class kept 2");
	{
		struct cowvm *v = vmm_pool_take(&small);

		TEST_ASSERT(v, "small take");
		TEST_ASSERT_EQ(v->cfg.mem_size, 16 * MIB, "small take");
		vmm_vm_discard(v);
	}
	/* DEFAULT and the mode it resolves to share one class */
	small.mem_mode = vmm_mem_mode(vm[0]->mem);
	TEST_ASSERT_NE(small.mem_mode, COWVM_MEM_DEFAULT, "resolved mode");
	TEST_OK(vmm_pool_reserve(&small, 1));
	TEST_ASSERT_EQ(vmm_pool_wait_ready(&small, 1, 30000), 0, "refill");
	{
		struct cowvm *v = vmm_pool_take(&small);
		struct vmm_pool_stats s1 = vmm_pool_stats(&small);

		TEST_ASSERT(v, "a %d-mode take from the DEFAULT class: %s",
			    small.mem_mode, vmm_vm_error());
		TEST_ASSERT_EQ(s1.ready, 0,
			       "a %d-mode take from the DEFAULT class",
			       small.mem_mode);
		TEST_ASSERT_EQ(s1.target, 1,
			       "a %d-mode take from the DEFAULT class",
			       small.mem_mode);
		vmm_vm_discard(v);
	}
	TEST_OK(vmm_pool_reserve(&small, 0));
	small.mem_mode = COWVM_MEM_DEFAULT;
	TEST_ASSERT_EQ(vmm_pool_stats(&small).target, 0, "one class");

	/* destroy: through the reaper, and directly */
	t0 = test_now();
	cowvm_destroy(vm[0]);
	take_us[0] = st_us(t0, test_now());
	t0 = test_now();
	vmm_vm_free(vm[1]);
	take_us[1] = st_us(t0, test_now());
	cowvm_destroy(vm[2]);
	printf("pool: destroy via the reaper %.0f us, directly %.0f us\n",
	       take_us[0], take_us[1]);

	/* n = 0 drains */
	TEST_OK(vmm_pool_reserve(&cfg, 0));
	s = vmm_pool_stats(&cfg);
	TEST_ASSERT_EQ(s.ready, 0, "drained");
	TEST_ASSERT_EQ(s.target, 0, "drained");
	source_free(&src);
	TEST_ASSERT_EQ(vmm_pool_wait_reaped(30000), 0, "reaper never idle");
	s = vmm_pool_stats(&cfg);
	TEST_ASSERT_EQ(s.reaping, 0, "reaped %lu", s.reaped - s0.reaped);
	TEST_ASSERT_GE(s.reaped, s0.reaped + 6, "reaped");
	TEST_ASSERT_EQ(st_count_fds(), fds0, "fds after, before");
}

/* Bad arguments: -EINVAL from reserve, EINVAL from take. */
static void test_bad_args(void)
{
	struct cowvm_config cfg = pool_cfg(TEST_MEM + 1, COWVM_MEM_DEFAULT);

	TEST_ASSERT_EQ(vmm_pool_reserve(&cfg, 1), -EINVAL, "odd size");
	TEST_ASSERT_EQ(vmm_pool_reserve(NULL, 1), -EINVAL, "NULL cfg");
	cfg.mem_size = TEST_MEM;
	cfg.mem_mode = (enum cowvm_mem_mode)7;
	TEST_ASSERT_EQ(cowvm_pool_reserve(&cfg, 1), -EINVAL, "bad mode");
	cfg.mem_mode = COWVM_MEM_DEFAULT;
	cfg.vcpus = 2;
	errno = 0;
	TEST_ASSERT(!vmm_pool_take(&cfg), "2 vCPUs");
	TEST_ASSERT_EQ(errno, EINVAL, "2 vCPUs");
}

/* Many discards at once: all reaped, no fd left. */
static void test_reaper_burst(void)
{
	struct cowvm_config cfg = pool_cfg(TEST_MEM, COWVM_MEM_DEFAULT);
	struct cowvm *vm[8];
	int fds0;
	double t0, t1;

	TEST_ASSERT_EQ(vmm_pool_wait_reaped(30000), 0, "reaper idle");
	fds0 = st_count_fds();
	for (int i = 0; i < 8; i++) {
		TEST_OK(vmm_vm_new(&cfg, false, &vm[i]));
		TEST_ASSERT_GT(st_count_fds(), fds0, "a VM holds fds");
	}
	t0 = test_now();
	for (int i = 0; i < 8; i++)
		cowvm_destroy(vm[i]);
	t1 = test_now();
	TEST_ASSERT_EQ(vmm_pool_wait_reaped(30000), 0, "reaper never idle");
	printf("pool: 8 destroys returned in %.0f us, reaped after %.0f us\n",
	       st_us(t0, t1), st_us(t0, test_now()));
	TEST_ASSERT_EQ(st_count_fds(), fds0, "fds after, before");
}

/* One thread of test_threads: take and discard VMs of its class. */
static void *taker(void *arg)
{
	const struct cowvm_config *cfg = arg;

	for (int i = 0; i < 6; i++) {
		struct cowvm *vm = vmm_pool_take(cfg);

		TEST_ASSERT(vm, "concurrent take: %s", vmm_vm_error());
		TEST_ASSERT(vm->pristine, "concurrent take: %s",
			    vmm_vm_error());
		TEST_ASSERT_EQ(vm->cfg.mem_size, cfg->mem_size,
			       "concurrent take: %s", vmm_vm_error());
		if (i % 2)
			cowvm_destroy(vm);
		else
			vmm_vm_discard(vm);
	}
	return NULL;
}

/* Four threads take and discard at once while the filler refills and
 * another thread changes the reserve; every VM accounted for. */
static void test_threads(void)
{
	struct cowvm_config cfg = pool_cfg(TEST_MEM, COWVM_MEM_DEFAULT);
	struct vmm_pool_stats s0 = vmm_pool_stats(&cfg), s;
	pthread_t t[4];
	int fds0;

	TEST_ASSERT_EQ(vmm_pool_wait_reaped(30000), 0, "reaper idle");
	fds0 = st_count_fds();
	TEST_OK(vmm_pool_reserve(&cfg, 3));
	TEST_ASSERT_EQ(vmm_pool_wait_ready(&cfg, 3, 30000), 0, "3 ready");
	for (int i = 0; i < 4; i++)
		TEST_ASSERT(!pthread_create(&t[i], NULL, taker, &cfg),
			    "thread");
	for (int n = 1; n <= 4; n++) { /* 1, 2, 3, 0 while they take */
		usleep(5000);
		TEST_OK(vmm_pool_reserve(&cfg, (unsigned)(n % 4)));
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	TEST_OK(vmm_pool_reserve(&cfg, 0));
	TEST_ASSERT_EQ(vmm_pool_wait_reaped(60000), 0, "reaper never idle");
	s = vmm_pool_stats(&cfg);
	TEST_ASSERT_EQ(s.taken + s.missed, s0.taken + s0.missed + 24,
		       "24 takes, %lu counted",
		       s.taken + s.missed - s0.taken - s0.missed);
	TEST_ASSERT_GE(s.taken, s0.taken + 3, "the 3 ready VMs were taken");
	TEST_ASSERT_EQ(s.ready, 0, "ready after the threads");
	TEST_ASSERT_EQ(st_count_fds(), fds0, "fds after, before");
	printf("pool: 4 threads, 24 takes: %lu warm, %lu synchronous\n",
	       s.taken - s0.taken, s.missed - s0.missed);
}

/* Run the pool checks; leave a reserve behind so that process exit must
 * shut the threads down and free every pooled VM (LSan checks it). */
int main(int argc, char **argv)
{
	struct cowvm_config cfg = pool_cfg(TEST_MEM, COWVM_MEM_DEFAULT);
	double t0 = test_now();

	TEST_ASSERT_EQ(argc, 2, "usage: test-state-pool GUEST.elf");
	guest = argv[1];
	test_require_kvm();
	TEST_OK(vmm_state_init());
	test_bad_args();
	test_pool();
	test_reaper_burst();
	test_threads();
	TEST_OK(cowvm_pool_reserve(&cfg, 2));
	TEST_ASSERT_EQ(vmm_pool_wait_ready(&cfg, 2, 30000), 0, "final reserve");
	printf("test-state-pool: PASS (%.2f s)\n", test_now() - t0);
	return 0;
}
