/* Snapshot files: forktest saved at its first snapshot and after two
 * rounds, opened in a new process (this program run again with --open),
 * two clones of each run to the end with every line and every page of
 * their region checked against forkref (one file by three processes at
 * once); a file renamed over or rewritten under a live clone; then every
 * kind of bad file is refused with errno and one line naming the cause. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowvm_snapfile.h"
#include "fork_util.h"

#define ROUNDS 5
static const uint64_t ids[ROUNDS] = {7, 3, 99, 12, 5};

/* The forktest family of this test. */
static void sf_family(struct ft *f, const char *elf, enum cowvm_mem_mode m)
{
	ft_init(f, elf, 64 * MIB, m, 11, 8, ROUNDS, 24);
}

/* path opened for f's VMs (mode, console); fails the test if it cannot. */
static struct cowvm_snapshot *sf_open(struct ft *f, enum cowvm_mem_mode mode,
				      const char *path)
{
	struct cowvm_config cfg;
	struct cowvm_snapshot *snap;

	cowvm_config_init(&cfg);
	cfg.mem_mode = mode;
	cfg.console_fd = f->console;
	snap = cowvm_snapshot_open(path, &cfg);
	TEST_ASSERT(snap, "open %s: %s", path, cowvm_error(NULL));
	return snap;
}

/* In this (new) process: open path, where forktest had finished done
 * rounds with ids; run two clones to the end with different ids after
 * the first (and, salt, different from other processes' clones). */
static int sf_open_side(const char *elf, enum cowvm_mem_mode mode,
			const char *path, uint64_t done, uint64_t salt)
{
	struct cowvm_snapshot *snap;
	struct ft f;

	sf_family(&f, elf, mode);
	snap = sf_open(&f, mode, path);
	for (int c = 0; c < 2; c++) {
		struct fnode n = {.vm = cowvm_clone(snap), .done = done};

		TEST_ASSERT(n.vm, "clone: %s", cowvm_error(NULL));
		memcpy(n.ids, ids, done * sizeof(ids[0]));
		ft_check_mem(&f, &n, "clone of the opened file");
		for (uint64_t r = done; r < ROUNDS; r++)
			ft_advance(&f, &n,
				   ids[r] + (r > done ? 1000 * c + 100 * salt
						      : 0));
		TEST_ASSERT(n.exited, "clone %d did not finish", c);
		cowvm_destroy(n.vm);
	}
	cowvm_snapshot_put(snap);
	ft_fini(&f);
	return 0;
}

/* Run this program with --open path done in nproc new processes at once,
 * each with its own salt; all must pass. */
static void sf_open_elsewhere(const char *elf, const char *mode,
			      const char *path, uint64_t done, int nproc)
{
	pid_t pid[8];
	int status;

	TEST_ASSERT(nproc <= 8, "processes");
	for (int i = 0; i < nproc; i++) {
		char d[8], s[8];

		snprintf(d, sizeof(d), "%llu", (unsigned long long)done);
		snprintf(s, sizeof(s), "%d", i);
		pid[i] = fork();
		TEST_ASSERT_GE(pid[i], 0, "fork");
		if (!pid[i]) {
			char *a[] = {"test-fork-snapfile",
				     (char *)elf,
				     (char *)mode,
				     "--open",
				     (char *)path,
				     d,
				     s,
				     NULL};

			execv("/proc/self/exe", a);
			_exit(126);
		}
	}
	for (int i = 0; i < nproc; i++) {
		TEST_ASSERT_EQ(waitpid(pid[i], &status, 0), pid[i]);
		TEST_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			    "opening process %d failed: status %#x", i, status);
	}
}

/* A file renamed over while a clone of it runs: the clone runs on from
 * the old file to the end, a new open gets the new one; then a file
 * rewritten in place: new clones are refused with ESTALE. */
static void sf_replaced(const char *elf, enum cowvm_mem_mode mode,
			const char *dir, const char *a, const char *b)
{
	char live[4096], next[4096], cmd[17000];
	struct cowvm_snapshot *snap;
	struct fnode n = {.done = 0};
	struct ft f;
	int fd;

	snprintf(live, sizeof(live), "%s/live.cowvm", dir);
	snprintf(next, sizeof(next), "%s/next.cowvm", dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s && cp %s %s", a, live, b, next);
	TEST_ASSERT_EQ(system(cmd), 0);
	sf_family(&f, elf, mode);
	snap = sf_open(&f, mode, live);
	n.vm = cowvm_clone(snap);
	TEST_ASSERT(n.vm, "clone: %s", cowvm_error(NULL));
	TEST_ASSERT_EQ(rename(next, live), 0, "rename over");
	for (uint64_t r = 0; r < ROUNDS; r++)
		ft_advance(&f, &n, ids[r]);
	TEST_ASSERT(n.exited, "the clone did not finish");
	cowvm_destroy(n.vm);
	cowvm_snapshot_put(snap);
	snap = sf_open(&f, mode, live);
	n = (struct fnode){.vm = cowvm_clone(snap), .done = 2};
	TEST_ASSERT(n.vm, "clone: %s", cowvm_error(NULL));
	memcpy(n.ids, ids, 2 * sizeof(ids[0]));
	ft_check_mem(&f, &n, "clone of the file renamed over");
	cowvm_destroy(n.vm);
	fd = open(live, O_WRONLY);
	TEST_ASSERT(fd >= 0 && pwrite(fd, "x", 1, 4096 * 2 + 5) == 1,
		    "rewrite in place");
	close(fd);
	TEST_ASSERT(!cowvm_clone(snap), "clone of a file rewritten in place");
	TEST_ASSERT(errno == ESTALE && strstr(cowvm_error(NULL), "in place"),
		    "errno %d: %s", errno, cowvm_error(NULL));
	cowvm_snapshot_put(snap);
	ft_fini(&f);
}

/* CRC-32C, to forge headers. */
static uint32_t crc32c(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t c = ~0u;

	while (n--) {
		c ^= *b++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & -(c & 1));
	}
	return ~c;
}

/* Copy src to dst, keeping len bytes (all: UINT64_MAX), then apply fix. */
static void sf_copy(const char *src, const char *dst, uint64_t len,
		    void (*fix)(struct cowvm_snapfile_header *h, int fd))
{
	int in = open(src, O_RDONLY), out;
	static char buf[1 << 20];
	uint64_t done = 0;
	ssize_t k;

	out = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644);
	TEST_ASSERT(in >= 0 && out >= 0, "copy %s", src);
	while (done < len && (k = read(in, buf, sizeof(buf))) > 0) {
		size_t n = (uint64_t)k < len - done ? (size_t)k : len - done;

		TEST_ASSERT_EQ(write(out, buf, n), (ssize_t)n);
		done += n;
	}
	if (fix) {
		struct cowvm_snapfile_header h;

		TEST_ASSERT_EQ(pread(out, &h, sizeof(h), 0),
			       (ssize_t)sizeof(h));
		fix(&h, out);
	}
	close(in);
	close(out);
}

/* The fixes: each makes one kind of bad file. */
static void put_header(struct cowvm_snapfile_header *h, int fd, int resign)
{
	if (resign)
		h->header_crc32c =
			crc32c(h, offsetof(struct cowvm_snapfile_header,
					   header_crc32c));
	TEST_ASSERT_EQ(pwrite(fd, h, sizeof(*h), 0), (ssize_t)sizeof(*h));
}
static void fix_version(struct cowvm_snapfile_header *h, int fd)
{
	h->version = 99;
	put_header(h, fd, 1);
}
static void fix_magic(struct cowvm_snapfile_header *h, int fd)
{
	h->magic[0] = 'X';
	put_header(h, fd, 1);
}
static void fix_header(struct cowvm_snapfile_header *h, int fd)
{
	h->mem_size += 4096; /* not re-signed */
	put_header(h, fd, 0);
}
static void flip_at(int fd, uint64_t off)
{
	uint8_t b;

	TEST_ASSERT_EQ(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x10;
	TEST_ASSERT_EQ(pwrite(fd, &b, 1, (off_t)off), 1);
}
static void fix_pages(struct cowvm_snapfile_header *h, int fd)
{
	flip_at(fd, h->section[COWVM_SNAPFILE_PAGES].offset + 4096 * 3 + 77);
}
static void fix_state(struct cowvm_snapfile_header *h, int fd)
{
	flip_at(fd, h->section[COWVM_SNAPFILE_STATE].offset + 200);
}
static void fix_cpu(struct cowvm_snapfile_header *h, int fd)
{
	/* a feature bit this host's guest did not see: leaf 7 EBX */
	uint32_t lack = ~h->cpu[2];

	TEST_ASSERT(lack, "the host has every leaf 7 EBX feature");
	h->cpu[2] |= lack & -lack;
	put_header(h, fd, 1);
}

/* Opening path must fail with errno err and a message containing want. */
static void sf_refused(const char *path, int err, const char *want)
{
	struct cowvm_snapshot *s = cowvm_snapshot_open(path, NULL);
	const char *msg = cowvm_error(NULL);

	TEST_ASSERT(!s, "%s opened", path);
	TEST_ASSERT_EQ(errno, err, "%s: %s", path, msg);
	TEST_ASSERT(strstr(msg, want) && strstr(msg, path) &&
			    !strchr(msg, '\n'),
		    "%s: '%s' lacks '%s'", path, msg, want);
}

static void sf_refused(const char *path, int err, const char *want);

/* The pages a file stores (its header's count). */
static uint64_t sf_pages_of(const char *path)
{
	struct cowvm_snapfile_header h;
	int fd = open(path, O_RDONLY);

	TEST_ASSERT_GE(fd, 0, "%s", path);
	TEST_ASSERT_EQ(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	return h.nr_pages;
}

/* Three generations: boot (whole, at a), a child after two rounds (b2)
 * and its child after the third (c), from the same node n; c opened in a
 * new process runs on; a missing or changed parent is refused. */
static void sf_chain(struct ft *f, struct fnode *n, const char *dir,
		     const char *elf, const char *mode)
{
	char a[4096], b2[4096], c[4096], moved[4096];
	struct cowvm_snapshot *sa = cowvm_snapshot(n->vm), *sb, *sc;

	snprintf(a, sizeof(a), "%s/gen1.cowvm", dir);
	snprintf(b2, sizeof(b2), "%s/gen2.cowvm", dir);
	snprintf(c, sizeof(c), "%s/gen3.cowvm", dir);
	snprintf(moved, sizeof(moved), "%s/gen2.moved", dir);
	TEST_OK(cowvm_snapshot_save(sa, a));
	ft_advance(f, n, ids[0]);
	ft_advance(f, n, ids[1]);
	sb = cowvm_snapshot(n->vm);
	TEST_OK(cowvm_snapshot_save_child(sb, sa, a, b2));
	ft_advance(f, n, ids[2]);
	sc = cowvm_snapshot(n->vm);
	TEST_OK(cowvm_snapshot_save_child(sc, sb, b2, c));
	/* a round writes 24 pages (plus the guest's own few) */
	TEST_ASSERT_LT(sf_pages_of(c) * 20, sf_pages_of(a),
		       "the child stored its parent's pages");
	sf_open_elsewhere(elf, mode, c, 3, 1);

	TEST_ASSERT_EQ(rename(b2, moved), 0);
	sf_refused(c, ENOENT, "parent");
	TEST_ASSERT_EQ(rename(moved, b2), 0);
	TEST_OK(cowvm_snapshot_save(sb, b2)); /* whole now: another file */
	sf_refused(c, ESTALE, "changed since its child was saved");
	cowvm_snapshot_put(sa);
	cowvm_snapshot_put(sb);
	cowvm_snapshot_put(sc);
}

/* A flipped byte of the mapped pages: the file opens (its pages are
 * checked in the background), but a clone's run, the verdict and every
 * later clone fail with EBADMSG naming the file and the block. */
static void sf_bad_pages(const char *path)
{
	struct cowvm_snapshot *s = cowvm_snapshot_open(path, NULL);
	struct cowvm *vm = s ? cowvm_clone(s) : NULL;
	struct cowvm_exit e;

	TEST_ASSERT(s, "%s: %s", path, cowvm_error(NULL));
	if (vm) { /* made before the verdict: its run reports it */
		TEST_ASSERT_EQ(cowvm_run(vm, &e), -EBADMSG, "run");
		TEST_ASSERT_EQ(e.reason, COWVM_EXIT_ERROR);
		TEST_ASSERT(strstr(cowvm_error(vm), "checksum mismatch"), "%s",
			    cowvm_error(vm));
		cowvm_destroy(vm);
	}
	TEST_ASSERT_EQ(cowvm_snapshot_verify(s), -EBADMSG, "verdict");
	TEST_ASSERT(
		strstr(cowvm_error(NULL), path) &&
			strstr(cowvm_error(NULL),
			       "pages section: checksum mismatch at RAM page"),
		"%s", cowvm_error(NULL));
	TEST_ASSERT(!cowvm_clone(s), "clone after the verdict");
	TEST_ASSERT_EQ(errno, EBADMSG);
	cowvm_snapshot_put(s);
}

/* Every bad file of a good one at path, in dir. */
static void sf_bad_files(const char *dir, const char *path)
{
	char p[4096];
	struct stat st;

	TEST_ASSERT_EQ(stat(path, &st), 0);
	snprintf(p, sizeof(p), "%s/bad", dir);
	sf_copy(path, p, (uint64_t)st.st_size / 2, NULL);
	sf_refused(p, ENOEXEC, "truncated");
	sf_copy(path, p, 100, NULL);
	sf_refused(p, ENOEXEC, "truncated");
	sf_copy(path, p, UINT64_MAX, fix_pages);
	sf_bad_pages(p);
	sf_copy(path, p, UINT64_MAX, fix_state);
	sf_refused(p, EBADMSG, "state section: checksum mismatch");
	sf_copy(path, p, UINT64_MAX, fix_header);
	sf_refused(p, EBADMSG, "header checksum mismatch");
	sf_copy(path, p, UINT64_MAX, fix_version);
	sf_refused(p, ENOEXEC, "format version 99");
	sf_copy(path, p, UINT64_MAX, fix_magic);
	sf_refused(p, ENOEXEC, "not a cowvm snapshot file");
	sf_copy(path, p, UINT64_MAX, fix_cpu);
	sf_refused(p, ENOTSUP, "this host lacks");
	snprintf(p, sizeof(p), "%s/missing", dir);
	sf_refused(p, ENOENT, "No such file");
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/cowvm-snapfile-XXXXXX", a[4096], b[4096];
	enum cowvm_mem_mode mode;
	struct cowvm_snapshot *snap;
	struct fnode n;
	struct ft f;

	if (argc == 7 && !strcmp(argv[3], "--open"))
		return sf_open_side(argv[1], ft_args(3, argv), argv[4],
				    strtoull(argv[5], NULL, 10),
				    strtoull(argv[6], NULL, 10));
	mode = ft_args(argc, argv);
	TEST_ASSERT(mkdtemp(dir), "mkdtemp");
	snprintf(a, sizeof(a), "%s/booted.cowvm", dir);
	snprintf(b, sizeof(b), "%s/round2.cowvm", dir);
	sf_family(&f, argv[1], mode);
	n = ft_boot(&f);
	snap = cowvm_snapshot(n.vm);
	TEST_ASSERT(snap, "snapshot: %s", cowvm_error(n.vm));
	TEST_OK(cowvm_snapshot_save(snap, a));
	cowvm_snapshot_put(snap);
	ft_advance(&f, &n, ids[0]);
	ft_advance(&f, &n, ids[1]);
	snap = cowvm_snapshot(n.vm);
	TEST_OK(cowvm_snapshot_save(snap, b));
	TEST_OK(cowvm_snapshot_save(snap, b)); /* replaces it whole */
	TEST_ASSERT_EQ(cowvm_snapshot_save(snap, "/proc/none/x.cowvm"), -ENOENT,
		       "save into a missing folder");
	cowvm_snapshot_put(snap);
	cowvm_destroy(n.vm);
	ft_fini(&f);
	sf_family(&f, argv[1], mode);
	n = ft_boot(&f);
	sf_chain(&f, &n, dir, argv[1], argc > 2 ? argv[2] : "default");
	cowvm_destroy(n.vm);
	ft_fini(&f);

	sf_open_elsewhere(argv[1], argc > 2 ? argv[2] : "default", a, 0, 1);
	/* three processes clone one file at once: each clone's memory is
	 * checked against its own model as they write different rounds */
	sf_open_elsewhere(argv[1], argc > 2 ? argv[2] : "default", b, 2, 3);
	sf_replaced(argv[1], mode, dir, a, b);
	sf_bad_files(dir, b);
	snprintf(a, sizeof(a), "rm -rf %s", dir);
	TEST_ASSERT_EQ(system(a), 0);
	printf("snapfile: saved, opened in new processes, bad files refused\n");
	return 0;
}
