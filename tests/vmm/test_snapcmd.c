/* The command's snapshot files: cowvm run --save-snapshot, cowvm snapshot
 * info and cowvm run --from (a new process each), with the guest's own
 * checks passing from the file; a bad file and bad uses refused. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm_util.h"

int main(int argc, char **argv)
{
	char dir[] = "/tmp/cowvm-snapcmd-XXXXXX", file[256], bad[256];
	char cmd[600];
	struct cmd_result r;
	char *cowvm, *guest;

	TEST_ASSERT_EQ(argc, 3, "usage: test-vmm-snapcmd COWVM GUEST.elf");
	cowvm = argv[1], guest = argv[2];
	TEST_ASSERT(mkdtemp(dir), "mkdtemp");
	snprintf(file, sizeof(file), "%s/ft.cowvm", dir);
	snprintf(bad, sizeof(bad), "%s/bad.cowvm", dir);

	r = test_cmd((char *[]){cowvm, "run", "--save-snapshot", file, guest,
				"--", "forktest", "seed=5", "mib=4", "rounds=3",
				"pages=8", NULL});
	TEST_ASSERT_EQ(r.status, 0, "save: %s", r.err);
	TEST_ASSERT(strstr(r.out, "forktest: PASS"), "save run: %s", r.out);
	r = test_cmd((char *[]){cowvm, "snapshot", "info", file, NULL});
	TEST_ASSERT_EQ(r.status, 0, "info: %s", r.err);
	TEST_ASSERT(strstr(r.out, "format version 1") &&
			    strstr(r.out, "checksums verified"),
		    "info: %s", r.out);
	/* from the file, the guest redoes its three rounds and checks its
	 * memory in each */
	r = test_cmd((char *[]){cowvm, "run", "--from", file, NULL});
	TEST_ASSERT_EQ(r.status, 0, "from: %s", r.err);
	TEST_ASSERT(strstr(r.out, "round=3") && strstr(r.out, "forktest: PASS"),
		    "from: %s", r.out);

	snprintf(cmd, sizeof(cmd), "head -c 20000 %s > %s", file, bad);
	TEST_ASSERT_EQ(system(cmd), 0);
	r = test_cmd((char *[]){cowvm, "run", "--from", bad, NULL});
	TEST_ASSERT_EQ(r.status, 121, "truncated: %s", r.err);
	TEST_ASSERT(r.err_lines == 1 && strstr(r.err, "truncated"), "%s",
		    r.err);
	r = test_cmd((char *[]){cowvm, "snapshot", "info", bad, NULL});
	TEST_ASSERT_EQ(r.status, 1, "info of a truncated file: %s", r.err);
	r = test_cmd((char *[]){cowvm, "run", "--from", file, guest, NULL});
	TEST_ASSERT_EQ(r.status, 120, "--from with an ELF: %s", r.err);
	r = test_cmd((char *[]){cowvm, "snapshot", "show", file, NULL});
	TEST_ASSERT_EQ(r.status, 120, "snapshot show: %s", r.err);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	TEST_ASSERT_EQ(system(cmd), 0);
	printf("snapcmd: saved, inspected, run from the file\n");
	return 0;
}
