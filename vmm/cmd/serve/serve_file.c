/* `cowvm serve`'s templates in snapshot files: a booted template saved
 * (--save-snapshot), and one opened from a file (--from) with the
 * workload's settings read back from the guest command line in its RAM. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "serve.h"
#include "cowvm_abi.h"
#include "cowvm_snapfile.h"

/* The guest RAM size a snapshot file's header states, 0 if unreadable
 * (cowvm_snapshot_open then says what is wrong). */
static uint64_t serve_file_mem(const char *path)
{
	struct cowvm_snapfile_header h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : pread(fd, &h, sizeof(h), 0);

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, COWVM_SNAPFILE_MAGIC, sizeof(h.magic)))
		return 0;
	return h.mem_size;
}

/* The value of word key=V in the command line cmd into *v; 0 or -1. */
static int serve_word(const char *cmd, const char *key, uint64_t *v)
{
	size_t n = strlen(key);

	for (const char *p = cmd; (p = strstr(p, key)); p += n) {
		char *end;

		if ((p != cmd && p[-1] != ' ') || p[n] != '=')
			continue;
		errno = 0;
		*v = strtoull(p + n + 1, &end, 10);
		if (!errno && end != p + n + 1 && (*end == ' ' || !*end))
			return 0;
	}
	return -1;
}

/* Read the serve workload's settings from a clone of t->snap into c;
 * 0 or -EINVAL with err. */
static int serve_file_settings(struct serve_template *t, struct serve_cfg *c,
			       const char *path, char *err)
{
	char cmd[COWVM_CMDLINE_MAX];
	struct cowvm *vm = cowvm_clone(t->snap);
	int r = vm ? cowvm_read(vm, COWVM_BOOT_CMDLINE, cmd, sizeof(cmd)) : -1;

	cowvm_destroy(vm);
	cmd[sizeof(cmd) - 1] = 0;
	if (!vm) {
		snprintf(err, SERVE_ERR_MAX, "%.120s: %s", path,
			 cowvm_error(NULL));
		return -errno;
	}
	if (r || strncmp(cmd, "serve ", 6) ||
	    serve_word(cmd, "state_mib", &c->state_mib) ||
	    serve_word(cmd, "seed", &c->seed) || !c->state_mib ||
	    c->state_mib > 65536) {
		snprintf(err, SERVE_ERR_MAX,
			 "%.100s: not a serve template (its guest command line "
			 "is '%.40s', not 'serve state_mib=M seed=S')",
			 path, r ? "" : cmd);
		return -EINVAL;
	}
	return 0;
}

/* Open the template saved at path. */
int serve_template_open(const char *path, struct serve_cfg *c,
			struct serve_template *t, char *err)
{
	double t0 = serve_now_us();
	int r;

	memset(t, 0, sizeof(*t));
	t->console = memfd_create("serve-console", MFD_CLOEXEC);
	if (t->console < 0) {
		snprintf(err, SERVE_ERR_MAX, "memfd_create: %s",
			 strerror(errno));
		return -errno;
	}
	cowvm_config_init(&t->cfg);
	t->cfg.console_fd = t->console;
	t->cfg.timeout_ms = c->timeout_ms;
	t->cfg.mem_size = serve_file_mem(path); /* its pool class */
	t->snap = cowvm_snapshot_open(path, &t->cfg);
	if (!t->snap) {
		snprintf(err, SERVE_ERR_MAX, "%s", cowvm_error(NULL));
		r = errno == ENOENT ? -ENOENT : -EINVAL;
		goto bad;
	}
	r = serve_file_settings(t, c, path, err);
	if (r)
		goto bad;
	c->mem = t->cfg.mem_size;
	t->file = path;
	t->boot_ms = (serve_now_us() - t0) / 1e3;
	return 0;
bad:
	serve_template_free(t);
	return r;
}

/* Save t's snapshot to path. */
int serve_template_save(struct serve_template *t, const char *path, char *err)
{
	int r = cowvm_snapshot_save(t->snap, path);

	if (r)
		snprintf(err, SERVE_ERR_MAX, "%s", cowvm_error(NULL));
	return r;
}
