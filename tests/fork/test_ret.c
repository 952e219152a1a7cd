/* cowvm_set_snapshot_ret without forks: one forktest VM receives a chosen
 * id per round and prints and holds exactly what forkref computes. */
#include "fork_util.h"

/* Run every check against the guest ELF given as argv[1]. */
int main(int argc, char **argv)
{
	enum cowvm_mem_mode mode;
	static const uint64_t ids[] = {5, 0, 123456789, 77, 1ull << 40};
	const uint64_t rounds = sizeof(ids) / sizeof(ids[0]);
	struct cowvm_exit e;
	struct fnode n;
	struct ft f;
	char *out;

	mode = ft_args(argc, argv);
	ft_init(&f, argv[1], 64 * MIB, mode, 42, 2, rounds, 24);
	n = ft_boot(&f);
	ft_check_mem(&f, &n, "booted");
	for (uint64_t r = 0; r < rounds; r++) {
		/* The last value set before the run is the one the guest
		 * sees. */
		TEST_OK(cowvm_set_snapshot_ret(n.vm, 111));
		ft_advance(&f, &n, ids[r]);
		ft_check_mem(&f, &n, "after a round");
	}
	/* No request is pending once the guest exited. */
	TEST_ASSERT_EQ(cowvm_set_snapshot_ret(n.vm, 1), -EINVAL,
		       "set_snapshot_ret after exit");
	cowvm_destroy(n.vm);

	/* A negative ret is refused by the guest: FAIL and exit 1. */
	n = ft_boot(&f);
	TEST_OK(cowvm_set_snapshot_ret(n.vm, -3));
	out = ft_run(&f, &n, &e);
	TEST_ASSERT_EXIT_STATUS(e, 1, "negative id:\n%s", out);
	TEST_ASSERT(strstr(out, "forktest: FAIL round=1 ret=-3"),
		    "negative id:\n%s", out);
	free(out);
	cowvm_destroy(n.vm);
	ft_fini(&f);
	printf("ret: %" PRIu64 " rounds with chosen ids ok\n", rounds);
	return 0;
}
