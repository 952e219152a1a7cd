/* The command's snapshot files: cowvm run --save-snapshot, cowvm snapshot
 * info and cowvm run --from (a new process each), with the guest's own
 * checks passing from the file; a bad file and bad uses refused. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cowvm_snapfile.h"
#include "vmm_util.h"

/* Flip one byte of the first page of path's RAM image. */
static void flip_page_byte(const char *path)
{
	struct cowvm_snapfile_header h;
	int fd = open(path, O_RDWR);
	uint8_t b = 0;
	off_t at;

	TEST_ASSERT(fd >= 0, "%s", path);
	TEST_ASSERT_EQ(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	at = (off_t)h.section[COWVM_SNAPFILE_PAGES].offset + 100;
	TEST_ASSERT_EQ(pread(fd, &b, 1, at), 1);
	b ^= 0x40;
	TEST_ASSERT_EQ(pwrite(fd, &b, 1, at), 1);
	close(fd);
}

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
	TEST_ASSERT(strstr(r.out, "format version 2") &&
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
	/* a flipped byte of the mapped pages: the run is refused once the
	 * background check finds it, and info says so */
	snprintf(cmd, sizeof(cmd), "cp %s %s", file, bad);
	TEST_ASSERT_EQ(system(cmd), 0);
	flip_page_byte(bad);
	r = test_cmd((char *[]){cowvm, "run", "--from", bad, NULL});
	TEST_ASSERT(r.status != 0 && strstr(r.err, "checksum mismatch") &&
			    !strstr(r.out, "forktest: PASS"),
		    "flipped page: status %d: %s", r.status, r.err);
	r = test_cmd((char *[]){cowvm, "snapshot", "info", bad, NULL});
	TEST_ASSERT(r.status == 1 && strstr(r.err, "checksum mismatch"),
		    "info of a flipped page: %s", r.err);
	r = test_cmd((char *[]){cowvm, "run", "--from", file, guest, NULL});
	TEST_ASSERT_EQ(r.status, 120, "--from with an ELF: %s", r.err);
	r = test_cmd((char *[]){cowvm, "snapshot", "show", file, NULL});
	TEST_ASSERT_EQ(r.status, 120, "snapshot show: %s", r.err);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	TEST_ASSERT_EQ(system(cmd), 0);
	printf("snapcmd: saved, inspected, run from the file\n");
	return 0;
}
