/* AFL++-style parallel fuzzing: every instance keeps its own folder in a
 * sync folder (queue/id:NNNNNN,..., crashes/, hangs/, fuzzer_stats) and
 * imports the queue entries the others add: a main instance (with an
 * is_main_node file) from every instance, a secondary only from main
 * ones. cowvm fuzz and afl-fuzz instances read each other's folders. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_internal.h"

/* The queue id of file name "id:NNNNNN..." into *id; 0, or -1 if the name
 * is not a queue entry's. */
static int queue_id(const char *name, unsigned long *id)
{
	char *end;

	if (strncmp(name, "id:", 3) || name[3] < '0' || name[3] > '9')
		return -1;
	*id = strtoul(name + 3, &end, 10);
	return *end == ',' || !*end ? 0 : -1;
}

/* Order queue entries by id. */
static int by_id(const struct dirent **a, const struct dirent **b)
{
	unsigned long x = 0, y = 0;

	queue_id((*a)->d_name, &x);
	queue_id((*b)->d_name, &y);
	return x < y ? -1 : x > y;
}

/* Only entries named id:NNNNNN,... */
static int is_entry(const struct dirent *d)
{
	unsigned long id;

	return !queue_id(d->d_name, &id);
}

/* The import state of peer name, added at its first sight; NULL when out
 * of memory. */
static struct fuzz_peer *peer(struct fuzz *f, const char *name)
{
	struct fuzz_peer *p;

	for (size_t i = 0; i < f->npeers; i++)
		if (!strcmp(f->peers[i].name, name))
			return &f->peers[i];
	p = realloc(f->peers, (f->npeers + 1) * sizeof(*p));
	if (!p)
		return NULL;
	f->peers = p;
	p = &f->peers[f->npeers++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->next_id = 0;
	return p;
}

/* Import the new queue entries of peer p; as fuzz_sync. */
static int import_peer(struct fuzz *f, struct fuzz_peer *p, char *err,
		       size_t errlen)
{
	char dir[4096], path[4400], how[300];
	struct dirent **names = NULL;
	int n, r = 0, crashed = 0;

	snprintf(dir, sizeof(dir), "%s/%s/queue", f->o.sync_dir, p->name);
	n = scandir(dir, &names, is_entry, by_id);
	for (int i = 0; i < n; i++) {
		unsigned long id = 0;
		ssize_t len;

		queue_id(names[i]->d_name, &id);
		if (r >= 0 && id >= p->next_id) {
			snprintf(path, sizeof(path), "%s/%s", dir,
				 names[i]->d_name);
			len = fuzz_read_file(path, f->work, FUZZ_MAX_LEN);
			p->next_id = id + 1;
			if (len >= 0) {
				uint64_t before = f->nqueue;

				snprintf(how, sizeof(how),
					 "sync:%.200s,src:%06lu", p->name, id);
				r = fuzz_try_input(f, f->work, (size_t)len, how,
						   0, err, errlen);
				crashed |= r == 1;
				f->st.import_runs++;
				f->st.imported += f->nqueue - before;
			}
		}
		free(names[i]);
	}
	free(names);
	return r < 0 ? r : crashed;
}

/* Whether sync folder entry name is an instance to import from. */
static int wanted(const struct fuzz *f, const char *name)
{
	char path[4400];
	struct stat sb;

	if (name[0] == '.' || !strcmp(name, f->o.sync_name))
		return 0;
	snprintf(path, sizeof(path), "%s/%s/queue", f->o.sync_dir, name);
	if (stat(path, &sb) || !S_ISDIR(sb.st_mode))
		return 0;
	snprintf(path, sizeof(path), "%s/%s/is_main_node", f->o.sync_dir, name);
	return f->o.sync_main || !access(path, F_OK);
}

/* Import from every other instance (see fuzz_internal.h). */
int fuzz_sync(struct fuzz *f, char *err, size_t errlen)
{
	DIR *d = opendir(f->o.sync_dir);
	struct dirent *e;
	int r = 0, crashed = 0;

	if (!d)
		return fuzz_fail(err, errlen, errno,
				 "cannot read sync folder %s: %s",
				 f->o.sync_dir, strerror(errno));
	while (r >= 0 && (e = readdir(d))) {
		struct fuzz_peer *p;

		if (!wanted(f, e->d_name))
			continue;
		p = peer(f, e->d_name);
		if (!p) {
			r = fuzz_fail(err, errlen, ENOMEM, "out of memory");
			break;
		}
		r = import_peer(f, p, err, errlen);
		crashed |= r == 1;
	}
	closedir(d);
	return r < 0 ? r : crashed;
}
