/* libnyx.so for afl-fuzz's Nyx mode (-X): AFL++ 4.04c loads a plugin of
 * this name and drives a VM through it; this one runs a libFuzzer-style
 * harness (scripts/build-harness.sh) in a cowvm VM through cowvm fuzz's
 * engine, a fresh VM state per input. The share directory holds
 * config.ron (afl-fuzz requires the file; cowvm ignores its contents), the
 * harness as `target`, and optionally the personality kernel as
 * `linux.elf` (else $COWVM_LINUX_KERNEL, else the one the build made). Only
 * standalone mode (-X): -Y's parent/child instances are refused. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowvm_fuzz_abi.h"
#include "fuzz.h"

/* What nyx_exec returns (AFL++'s enum NyxReturnValue). */
enum nyx_return {
	NYX_NORMAL,
	NYX_CRASH,
	NYX_ASAN,
	NYX_TIMEOUT,
	NYX_INVALID_WRITE_TO_PAYLOAD,
	NYX_ERROR,
	NYX_IO_ERROR,
	NYX_ABORT,
};

struct cowvm_nyx {
	struct fuzz *f;
	struct cowvm_linux lx;
	const char *argv[2];
	char target[PATH_MAX], kernel[PATH_MAX];
	uint8_t bitmap[COWVM_FUZZ_MAP_SIZE];
	uint8_t *input;
	uint32_t len, max;
	uint64_t timeout_ms;
	char aux[256];
};

/* Open the share directory's harness in a VM; NULL after one line. */
void *nyx_new(const char *sharedir, const char *workdir, uint32_t cpu_id,
	      uint32_t input_size, bool write_protect)
{
	static const char *const no_env[] = {NULL};
	struct cowvm_nyx *n = calloc(1, sizeof(*n));
	struct fuzz_opts o = {.timeout_ms = 2000,
			      .mem = 64ull << 20,
			      .raw_map = 1,
			      .no_cmp = 1};
	enum fuzz_open_error why;
	const char *env = getenv("COWVM_LINUX_KERNEL");
	char err[1024];

	(void)workdir, (void)cpu_id, (void)write_protect;
	if (!n || !(n->input = malloc(input_size ? input_size : 1))) {
		free(n);
		return NULL;
	}
	n->max = input_size;
	snprintf(n->target, sizeof(n->target), "%s/target", sharedir);
	snprintf(n->kernel, sizeof(n->kernel), "%s/linux.elf", sharedir);
	if (access(n->kernel, R_OK))
		snprintf(n->kernel, sizeof(n->kernel), "%s",
			 env && *env ? env : COWVM_LINUX_KERNEL);
	n->argv[0] = n->target;
	n->lx = (struct cowvm_linux){.kernel = n->kernel,
				     .program = n->target,
				     .argv = n->argv,
				     .envp = no_env};
	o.elf = n->target;
	o.linux = &n->lx;
	n->f = fuzz_open(&o, err, sizeof(err), &why);
	if (!n->f) {
		fprintf(stderr, "cowvm libnyx: %s\n", err);
		free(n->input);
		free(n);
		return NULL;
	}
	return n;
}

/* -Y's parent: the same as standalone. */
void *nyx_new_parent(const char *sharedir, const char *workdir, uint32_t cpu_id,
		     uint32_t input_size, bool write_protect)
{
	return nyx_new(sharedir, workdir, cpu_id, input_size, write_protect);
}

/* -Y's children share the parent's VM in QEMU-Nyx; not offered. */
void *nyx_new_child(const char *sharedir, const char *workdir, uint32_t cpu_id,
		    uint32_t worker_id)
{
	(void)sharedir, (void)workdir, (void)cpu_id, (void)worker_id;
	fprintf(stderr, "cowvm libnyx: -Y child instances are not supported "
			"(use -X, or cowvm fuzz -j N)\n");
	return NULL;
}

/* Destroy the VM. */
void nyx_shutdown(void *p)
{
	struct cowvm_nyx *n = p;

	if (!n)
		return;
	fuzz_close(n->f);
	free(n->input);
	free(n);
}

/* Every input starts from the snapshot in cowvm: reload is always on. */
void nyx_option_set_reload_mode(void *p, bool enable)
{
	(void)p, (void)enable;
}

/* The per-input timeout, applied by nyx_option_apply. */
void nyx_option_set_timeout(void *p, uint8_t sec, uint32_t usec)
{
	struct cowvm_nyx *n = p;

	n->timeout_ms = (uint64_t)sec * 1000 + usec / 1000;
}

/* Apply the options set. */
void nyx_option_apply(void *p)
{
	struct cowvm_nyx *n = p;

	if (n->timeout_ms)
		(void)fuzz_set_timeout(n->f, n->timeout_ms);
}

/* The next input (cut to the size given at nyx_new). */
void nyx_set_afl_input(void *p, uint8_t *buf, uint32_t size)
{
	struct cowvm_nyx *n = p;

	n->len = size < n->max ? size : n->max;
	memcpy(n->input, buf, n->len);
}

/* Run the input from the snapshot; its hit counts land in the bitmap. */
enum nyx_return nyx_exec(void *p)
{
	struct cowvm_nyx *n = p;
	struct fuzz_result res;
	size_t len;
	const uint8_t *trace;

	n->aux[0] = 0;
	if (fuzz_exec(n->f, n->input, n->len, &res, n->aux, sizeof(n->aux))) {
		fprintf(stderr, "cowvm libnyx: %s\n", n->aux);
		return NYX_ERROR;
	}
	trace = fuzz_trace(n->f, &len);
	memcpy(n->bitmap, trace, len);
	memset(n->bitmap + len, 0, sizeof(n->bitmap) - len);
	snprintf(n->aux, sizeof(n->aux), "%s", res.what);
	if (res.outcome == FUZZ_CRASH)
		return NYX_CRASH;
	return res.outcome == FUZZ_TIMEOUT ? NYX_TIMEOUT : NYX_NORMAL;
}

/* The coverage bitmap afl-fuzz reads after each nyx_exec. */
uint8_t *nyx_get_bitmap_buffer(void *p)
{
	return ((struct cowvm_nyx *)p)->bitmap;
}

size_t nyx_get_bitmap_buffer_size(void *p)
{
	(void)p;
	return COWVM_FUZZ_MAP_SIZE;
}

/* The last run's one-line reason into buf; its length. */
uint32_t nyx_get_aux_string(void *p, uint8_t *buf, uint32_t size)
{
	struct cowvm_nyx *n = p;
	size_t l = strlen(n->aux);

	if (!size)
		return 0;
	l = l < size - 1 ? l : size - 1;
	memcpy(buf, n->aux, l);
	buf[l] = 0;
	return (uint32_t)l;
}
