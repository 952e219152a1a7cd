/* cowvm fuzz's corpus: the queue of kept inputs, what a run's result does
 * to it (crashes, timeouts, new coverage), the files written under -o and
 * the seeds read from -i. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_internal.h"

/* Write len bytes to dir/name (dir NULL: name; created or replaced); 0 or
 * -errno. */
static int write_file(const char *dir, const char *name, const void *data,
		      size_t len)
{
	char path[4096];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s%s%s", dir ? dir : "", dir ? "/" : "",
		 name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n < 0 || (size_t)n != len) {
		int e = n < 0 ? errno : EIO;

		close(fd);
		return -e;
	}
	return close(fd) ? -errno : 0;
}

/* Save an input in out/sub as name, and the reason in name.txt when
 * what is set; 0 or -errno (err filled). */
static int save(struct fuzz *f, const char *sub, const char *name,
		const uint8_t *data, size_t len, const char *what, char *err,
		size_t errlen)
{
	char dir[4096], txt[512], line[512];
	int r, n;

	if (!f->o.out_dir)
		return 0;
	snprintf(dir, sizeof(dir), "%s/%s", f->o.out_dir, sub);
	r = write_file(dir, name, data, len);
	if (!r && what) {
		snprintf(txt, sizeof(txt), "%s.txt", name);
		n = snprintf(line, sizeof(line),
			     "%s\nrun=%llu seconds=%.3f seed=%llu len=%zu\n",
			     what, (unsigned long long)f->st.runs,
			     f->st.elapsed_s, (unsigned long long)f->o.seed,
			     len);
		r = write_file(dir, txt, line, (size_t)n);
	}
	if (r)
		return fuzz_fail(err, errlen, -r, "cannot write %s/%s: %s", dir,
				 name, strerror(-r));
	return 0;
}

/* The libFuzzer-style name of data: 16 hex digits of its FNV-1a hash. */
static void content_name(const uint8_t *data, size_t len, char *buf, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ data[i]) * 0x100000001b3ull;
	snprintf(buf, n, "%016llx", (unsigned long long)h);
}

/* As libFuzzer does: a new entry into the first corpus folder as
 * DIR/HASH, a crash or timeout as PREFIXkind-HASH (-artifact_prefix),
 * announced as "Test unit written to PATH"; 0 or -errno. */
static int save_libfuzzer(struct fuzz *f, const char *kind, const uint8_t *data,
			  size_t len, char *err, size_t errlen)
{
	char name[64], path[4200];
	const char *dir = f->o.corpus_dirs ? f->o.corpus_dirs[0] : NULL;
	int r;

	if (kind ? !f->o.artifact_prefix : !dir)
		return 0;
	content_name(data, len, name, sizeof(name));
	if (kind)
		snprintf(path, sizeof(path), "%s%s-%s", f->o.artifact_prefix,
			 kind, name);
	else
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	r = write_file(NULL, path, data, len);
	if (r)
		return fuzz_fail(err, errlen, -r, "cannot write %s: %s", path,
				 strerror(-r));
	if (kind)
		fprintf(stderr, "Test unit written to %s\n", path);
	return 0;
}

/* Add an input to the corpus (and out/queue); 0 or -errno. */
int fuzz_add_entry(struct fuzz *f, const uint8_t *data, size_t len,
		   const char *how, char *err, size_t errlen)
{
	char name[256];
	struct fuzz_entry *q;
	int r;

	if (f->nqueue == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;

		q = realloc(f->queue, cap * sizeof(*q));
		if (!q)
			return fuzz_fail(err, errlen, ENOMEM, "out of memory");
		f->queue = q;
		f->cap = cap;
	}
	q = &f->queue[f->nqueue];
	q->data = malloc(len ? len : 1);
	if (!q->data)
		return fuzz_fail(err, errlen, ENOMEM, "out of memory");
	memcpy(q->data, data, len);
	q->len = len;
	q->picked = 0;
	q->cmp_done = 0;
	snprintf(name, sizeof(name), "id:%06zu,%s", f->nqueue, how);
	f->nqueue++;
	f->st.corpus = f->nqueue;
	r = strncmp(how, "orig:", 5)
		    ? save_libfuzzer(f, NULL, data, len, err, errlen)
		    : 0;
	return r ? r : save(f, "queue", name, data, len, NULL, err, errlen);
}

/* Count a timeout and save it (up to FUZZ_MAX_SAVED); 0 or -errno. */
static int note_timeout(struct fuzz *f, const uint8_t *data, size_t len,
			const struct fuzz_result *res, char *err, size_t errlen)
{
	char name[64];
	int r;

	f->st.timeouts++;
	if (f->st.timeouts_saved >= FUZZ_MAX_SAVED)
		return 0;
	snprintf(name, sizeof(name), "id:%06llu",
		 (unsigned long long)f->st.timeouts_saved++);
	r = save_libfuzzer(f, "timeout", data, len, err, errlen);
	return r ? r
		 : save(f, "hangs", name, data, len, res->what, err, errlen);
}

/* Count a crash, note the first, and save it when its signature is new
 * (up to FUZZ_MAX_SAVED); 1, or -errno. */
static int note_crash(struct fuzz *f, const uint8_t *data, size_t len,
		      const struct fuzz_result *res, char *err, size_t errlen)
{
	char name[64];
	int fresh = 1, r;

	f->st.crashes++;
	if (!f->st.first_crash_run) {
		f->st.first_crash_run = f->st.runs;
		f->st.first_crash_s = f->st.elapsed_s;
		snprintf(f->st.first_crash, sizeof(f->st.first_crash), "%s",
			 res->what);
	}
	for (uint64_t i = 0; i < f->st.crashes_saved; i++)
		if (f->sigs[i] == res->sig)
			fresh = 0;
	if (!fresh || f->st.crashes_saved >= FUZZ_MAX_SAVED)
		return 1;
	f->sigs[f->st.crashes_saved] = res->sig;
	snprintf(name, sizeof(name), "id:%06llu",
		 (unsigned long long)f->st.crashes_saved++);
	r = save_libfuzzer(f, "crash", data, len, err, errlen);
	if (!r)
		r = save(f, "crashes", name, data, len, res->what, err, errlen);
	return r ? r : 1;
}

/* Merge the trace of a clean run and keep the input if it found coverage
 * (or is a seed); a new edge makes it the frontier and restarts the byte
 * sweep on it. 0 or -errno. */
static int note_coverage(struct fuzz *f, const uint8_t *data, size_t len,
			 const char *how, int seed, char *err, size_t errlen)
{
	uint32_t edges = f->st.edges;
	char label[160];
	int r;

	if (f->o.no_coverage) {
		if (seed)
			return fuzz_add_entry(f, data, len, how, err, errlen);
		return 0;
	}
	r = fuzz_merge(f->virgin, f->trace, f->map_len, &f->st.edges);
	if (!r && !seed)
		return 0;
	if (f->st.edges > edges) {
		f->frontier = f->nqueue;
		/* a new edge restarts the sweep on the new entry */
		f->sweep = len <= FUZZ_SWEEP_MAX ? f->nqueue : SIZE_MAX;
		f->sweep_pos = 0;
		f->sweep_k = 1;
	}
	snprintf(label, sizeof(label), "%s%s", how,
		 f->st.edges > edges ? ",+cov" : "");
	return fuzz_add_entry(f, data, len, label, err, errlen);
}

/* Run one input and act on the result; see fuzz_internal.h. */
int fuzz_try_input(struct fuzz *f, const uint8_t *data, size_t len,
		   const char *how, int seed, char *err, size_t errlen)
{
	struct fuzz_result res;
	int r = fuzz_exec(f, data, len, &res, err, errlen);

	if (r)
		return r;
	f->st.elapsed_s = fuzz_elapsed(f);
	if (res.outcome == FUZZ_TIMEOUT)
		return note_timeout(f, data, len, &res, err, errlen);
	if (res.outcome == FUZZ_CRASH)
		return note_crash(f, data, len, &res, err, errlen);
	if (res.reject)
		return 0;
	return note_coverage(f, data, len, how, seed, err, errlen);
}

/* Compare directory entries by name, for a stable seed order. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Read a file (see fuzz_internal.h). */
ssize_t fuzz_read_file(const char *path, uint8_t *buf, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -errno;
	while (got < max && (n = read(fd, buf + got, max - got)) > 0)
		got += (size_t)n;
	n = n < 0 ? -errno : (ssize_t)got;
	close(fd);
	return n;
}

/* Run every regular file of dir in name order as a seed; 1 if one
 * crashed, 0, or -errno (*why FUZZ_ERR_DIR for an unreadable folder). */
static int run_seed_dir(struct fuzz *f, const char *dir, char *err,
			size_t errlen, enum fuzz_open_error *why)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, by_name), r = 0, crashed = 0;

	if (n < 0) {
		*why = FUZZ_ERR_DIR;
		return fuzz_fail(err, errlen, errno,
				 "cannot read corpus folder %s: %s", dir,
				 strerror(errno));
	}
	for (int i = 0; i < n && r >= 0; i++) {
		char path[4096], how[300];
		struct stat sb;
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (stat(path, &sb) || !S_ISREG(sb.st_mode))
			continue;
		len = fuzz_read_file(path, f->work, FUZZ_MAX_LEN);
		if (len < 0) {
			*why = FUZZ_ERR_DIR;
			r = fuzz_fail(err, errlen, (int)-len,
				      "cannot read %s: %s", path,
				      strerror((int)-len));
			break;
		}
		snprintf(how, sizeof(how), "orig:%.200s", names[i]->d_name);
		r = fuzz_try_input(f, f->work, (size_t)len, how, 1, err,
				   errlen);
		crashed |= r == 1;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r < 0 ? r : crashed;
}

/* Run the seeds: the files of -i and of every corpus folder, or the
 * built-in seed; 1 if one crashed, 0, or -errno. */
int fuzz_run_seeds(struct fuzz *f, char *err, size_t errlen,
		   enum fuzz_open_error *why)
{
	int r = 0, crashed = 0;

	if (f->o.in_dir)
		r = run_seed_dir(f, f->o.in_dir, err, errlen, why);
	crashed |= r == 1;
	for (size_t i = 0; r >= 0 && f->o.corpus_dirs && f->o.corpus_dirs[i];
	     i++) {
		r = run_seed_dir(f, f->o.corpus_dirs[i], err, errlen, why);
		crashed |= r == 1;
	}
	if (r >= 0 && !f->nqueue) {
		memset(f->work, 0, FUZZ_SEED_LEN);
		r = fuzz_try_input(f, f->work, FUZZ_SEED_LEN, "orig:builtin", 1,
				   err, errlen);
		crashed |= r == 1;
	}
	if (r >= 0 && !f->nqueue) {
		/* every seed crashed or timed out: start from the built-in */
		memset(f->work, 0, FUZZ_SEED_LEN);
		r = fuzz_add_entry(f, f->work, FUZZ_SEED_LEN, "orig:builtin",
				   err, errlen);
	}
	return r < 0 ? r : crashed;
}
