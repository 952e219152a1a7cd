/* `cowvm snapshot info FILE`: what a snapshot file holds, from its header
 * (cowvm_snapfile.h), then opened in full to verify every checksum and
 * that this host can run it; and the save of `cowvm run --save-snapshot`. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cowvm_snapfile.h"
#include "snapshot_cmd.h"

const char snapshot_help_text[] =
	"\n"
	"cowvm snapshot info FILE prints what a snapshot file saved by\n"
	"cowvm run --save-snapshot (or cowvm_snapshot_save) holds: format\n"
	"and saver versions, guest RAM, pages stored, its sections with\n"
	"their checksums and the CPU features the guest saw; then opens it\n"
	"as cowvm run --from would, which checks every checksum and that\n"
	"this host has those features.\n"
	"exit status of cowvm snapshot:\n"
	"  0      the file is whole and this host can run it\n"
	"  1      it is not (one line on stderr says why)\n"
	"  120    usage error\n";

static const char *const sf_names[COWVM_SNAPFILE_NSECTIONS] = {"state", "pages",
							       "map", "sums"};

/* Print the header of the file at fd; 0, or -1 when it has none. */
static int snapshot_header(int fd)
{
	struct cowvm_snapfile_header h;

	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, COWVM_SNAPFILE_MAGIC, sizeof(h.magic)))
		return -1;
	printf("format version %u, saved by cowvm %.32s (ABI %u, Linux ABI "
	       "%u)\n",
	       h.version, h.cowvm_version, h.abi_version, h.linux_version);
	printf("guest RAM %llu MiB, %llu pages stored (%.1f MiB; %s)\n",
	       (unsigned long long)(h.mem_size >> 20),
	       (unsigned long long)h.nr_pages,
	       (double)h.nr_pages * 4096 / (1 << 20),
	       h.parent[0] ? "the rest from the parent" : "zero ones as holes");
	if (h.parent[0])
		printf("parent %.256s (header crc32c %08x)\n", h.parent,
		       h.parent_header_crc32c);
	for (unsigned i = 0; i < COWVM_SNAPFILE_NSECTIONS; i++)
		printf("section %-5s at %12llu, %12llu bytes, crc32c %08x\n",
		       sf_names[i], (unsigned long long)h.section[i].offset,
		       (unsigned long long)h.section[i].length,
		       h.section[i].crc32c);
	printf("CPUID the guest saw:");
	for (unsigned i = 0; i < COWVM_SNAPFILE_CPU_WORDS; i++)
		printf(" %08x", h.cpu[i]);
	printf("\n");
	return 0;
}

/* `cowvm snapshot info FILE`. */
int snapshot_cmd_main(int argc, char **argv)
{
	struct cowvm_snapshot *snap;
	int fd;

	if (argc != 3 || strcmp(argv[1], "info")) {
		cli_usage("cowvm snapshot", "%s",
			  argc < 2 ? "missing 'info FILE'"
				   : "the command is 'info FILE'");
		return 120;
	}
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && snapshot_header(fd))
		printf("%s: not a cowvm snapshot file\n", argv[2]);
	if (fd >= 0)
		close(fd);
	snap = cowvm_snapshot_open(argv[2], NULL);
	if (!snap || cowvm_snapshot_verify(snap)) {
		fprintf(stderr, "cowvm snapshot: %s\n", cowvm_error(NULL));
		cowvm_snapshot_put(snap);
		return 1;
	}
	cowvm_snapshot_put(snap);
	printf("checksums verified; this host can run it\n");
	return 0;
}

/* Snapshot vm and save it to path. */
int snapshot_cmd_save(struct cowvm *vm, const char *path)
{
	struct cowvm_snapshot *snap = cowvm_snapshot(vm);
	int err = snap ? cowvm_snapshot_save(snap, path) : -1;

	if (err)
		fprintf(stderr, "cowvm: %s\n",
			snap ? cowvm_error(NULL) : cowvm_error(vm));
	cowvm_snapshot_put(snap);
	return err ? -1 : 0;
}
