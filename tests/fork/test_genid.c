/* COWVM_HC_GENID: the genid workload prints its generation before each
 * snapshot request; every VM made from a snapshot (clone, fork, reset)
 * must report a new id, never another VM's, and its line's counter, while
 * a VM that was only snapshotted keeps its generation. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "fork_util.h"
#include "test_vm.h"

#define NIDS 16

struct gen {
	char id[33];
	unsigned long r, counter, reserved;
};

static char seen[NIDS][33];
static unsigned nseen;
static size_t console_at; /* bytes of the shared console already parsed */

/* Run vm to its next stop (a snapshot request, or exit 0 after the last
 * round) and parse the one genid line it printed on t's console. */
static struct gen gen_run(struct tvm *t, struct cowvm *vm, const char *who)
{
	struct cowvm_exit e;
	struct gen g;
	char *out;

	TEST_OK(cowvm_run(vm, &e));
	TEST_ASSERT(e.reason == COWVM_EXIT_SNAPSHOT ||
			    (e.reason == COWVM_EXIT_GUEST && e.status == 0),
		    "%s: reason %d status %d: %s", who, (int)e.reason, e.status,
		    e.detail);
	out = tvm_console(t);
	TEST_ASSERT_EQ(sscanf(out + console_at,
			      "genid r=%lu id=%32[0-9a-f] counter=%lu "
			      "reserved=%lu\n",
			      &g.r, g.id, &g.counter, &g.reserved),
		       4, "%s printed: %s", who, out + console_at);
	TEST_ASSERT_EQ(strlen(g.id), 32, "%s: id %s", who, g.id);
	TEST_ASSERT_EQ(g.reserved, 0, "%s", who);
	console_at = strlen(out);
	free(out);
	return g;
}

/* g must be a generation no VM reported before. */
static void gen_new(const struct gen *g, const char *who)
{
	for (unsigned i = 0; i < nseen; i++)
		TEST_ASSERT(strcmp(seen[i], g->id), "%s reused id %s", who,
			    g->id);
	TEST_ASSERT_LT(nseen, NIDS);
	memcpy(seen[nseen++], g->id, sizeof(g->id));
}

/* Boot the genid workload (3 snapshot requests) in a 64 MiB VM of mode
 * whose console is a memfd. */
static struct tvm gen_boot(const char *elf, enum cowvm_mem_mode mode)
{
	struct cowvm_config cfg;
	struct tvm t;

	t.console = memfd_create("console", MFD_CLOEXEC);
	TEST_ASSERT_GE(t.console, 0, "memfd_create");
	cowvm_config_init(&cfg);
	cfg.mem_size = 64 << 20;
	cfg.mem_mode = mode;
	cfg.console_fd = t.console;
	t.vm = cowvm_create(&cfg);
	TEST_ASSERT(t.vm, "cowvm_create: %s", cowvm_error(NULL));
	TEST_ASSERT_EQ(cowvm_load_elf(t.vm, elf, "genid 3"), 0, "load: %s",
		       cowvm_error(t.vm));
	return t;
}

int main(int argc, char **argv)
{
	struct tvm t;
	struct cowvm_snapshot *snap;
	struct cowvm *c1, *c2, *f;
	struct gen boot, g;

	t = gen_boot(argv[1], ft_args(argc, argv));
	boot = gen_run(&t, t.vm, "boot");
	TEST_ASSERT_EQ(boot.counter, 0, "boot");
	gen_new(&boot, "boot");
	snap = cowvm_snapshot(t.vm);
	TEST_ASSERT(snap, "snapshot: %s", cowvm_error(t.vm));

	c1 = cowvm_clone(snap);
	c2 = cowvm_clone(snap);
	TEST_ASSERT(c1 && c2, "clone: %s", cowvm_error(NULL));
	g = gen_run(&t, c1, "clone 1");
	TEST_ASSERT(g.r == 1 && g.counter == 1, "clone 1: r %lu counter %lu",
		    g.r, g.counter);
	gen_new(&g, "clone 1");
	g = gen_run(&t, c2, "clone 2");
	TEST_ASSERT(g.r == 1 && g.counter == 1, "clone 2: counter %lu",
		    g.counter);
	gen_new(&g, "clone 2");

	/* Taking a snapshot does not copy the VM: its generation stays. */
	g = gen_run(&t, t.vm, "parent");
	TEST_ASSERT(!strcmp(g.id, boot.id) && g.counter == 0,
		    "parent: id %s counter %lu, booted as %s", g.id, g.counter,
		    boot.id);

	/* A fork of clone 1 is a generation further; clone 1 keeps its. */
	f = cowvm_fork(c1);
	TEST_ASSERT(f, "fork: %s", cowvm_error(c1));
	g = gen_run(&t, f, "fork of clone 1");
	TEST_ASSERT(g.r == 2 && g.counter == 2, "fork: counter %lu", g.counter);
	gen_new(&g, "fork of clone 1");
	g = gen_run(&t, c1, "clone 1 after its fork");
	TEST_ASSERT(!strcmp(g.id, seen[1]) && g.counter == 1,
		    "clone 1 changed generation across its fork: %s", g.id);

	/* A reset to the snapshot is a new generation too. */
	TEST_OK(cowvm_reset(c2, snap));
	g = gen_run(&t, c2, "clone 2 reset");
	TEST_ASSERT(g.r == 1 && g.counter == 1, "reset: counter %lu",
		    g.counter);
	gen_new(&g, "clone 2 reset");

	cowvm_destroy(f);
	cowvm_destroy(c1);
	cowvm_destroy(c2);
	cowvm_snapshot_put(snap);
	tvm_free(&t);
	printf("genid: %u generations, each new where it must be\n", nseen);
	return 0;
}
