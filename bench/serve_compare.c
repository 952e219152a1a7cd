/* serve-compare: the serverless warm start measured in one run, each
 * response checked against the host model: cowvm serve in clone, spare,
 * reset and ahead modes in this process, the first three on --workers
 * worker processes too, a fresh VM booted per request, and host fork() of a
 * process holding the same state (the guest's runtime built natively).
 * Prints medians over repetitions of throughput, p50/p99 latency and
 * memory per live clone. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve.h"
#include "serve_app.h"
#include "cowvm_serve_abi.h"

#ifndef BENCH_GUEST_ELF
#define BENCH_GUEST_ELF "build/guest/guest.elf"
#endif

#define SC_MAX_REPS 64

enum {
	SC_CLONE,
	SC_SPARE,
	SC_RESET,
	SC_AHEAD,   /* clone mode with spares made ahead */
	SC_CLONE_P, /* the three modes on --workers processes */
	SC_SPARE_P,
	SC_RESET_P,
	SC_FRESH,
	SC_FORK,
	SC_CONFIGS
};

static const char *const sc_names[SC_CONFIGS] = {
	"cowvm clone", "cowvm spare", "cowvm reset",
	"cowvm ahead", "clone procs", "spare procs",
	"reset procs", "fresh VM",    "host fork()"};

/* One repetition of one configuration. */
struct sc_rep {
	double rps, p50, p99, kib, idle_kib;
	double cow_kib; /* cowvm_mem_stats private pages + tables, -1 */
	unsigned long long ok, bad;
};

struct sc_opts {
	const char *elf;
	uint64_t state_mib, requests, fresh_requests;
	uint64_t warm_requests; /* of the modes that reuse VMs (spare,
				 * ahead, reset): long enough that each
				 * worker process's warm-up does not count */
	unsigned reps, live, fresh_live;
	unsigned workers; /* processes of the "procs" rows */
};

/* Fill throughput and percentiles of r from n latencies over seconds. */
static void sc_times(struct sc_rep *r, double *lat, uint64_t n, double sec)
{
	r->rps = sec > 0 ? (double)n / sec : 0;
	r->p50 = serve_percentile(lat, n, 50);
	r->p99 = serve_percentile(lat, n, 99);
}

/* Read exactly n bytes from fd; 0 or -1. */
static int sc_read_all(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t k = read(fd, p, n);

		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Write exactly n bytes to fd; 0 or -1. */
static int sc_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t k = write(fd, p, n);

		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Fork a child that handles req on a and writes {status, len, data} to a
 * pipe; with hold (a pipe) not NULL it then blocks until hold's write end
 * is closed. Returns the pid and the pipe's read end in *rfd, or -1. */
static pid_t sc_fork_one(struct serve_app *a, const char *req, size_t len,
			 const int *hold, int *rfd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		static char out[COWVM_SERVE_DATA_MAX];
		uint32_t olen = 0;
		int32_t st =
			serve_app_handle(a, req, (uint32_t)len, out, &olen);
		char c;

		close(p[0]);
		if (hold)
			close(hold[1]);
		if (sc_write_all(p[1], &st, 4) ||
		    sc_write_all(p[1], &olen, 4) ||
		    sc_write_all(p[1], out, olen))
			_exit(1);
		if (hold)
			while (read(hold[0], &c, 1) < 0 && errno == EINTR)
				;
		_exit(0);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	*rfd = p[0];
	return pid;
}

/* Read a forked child's response from rfd into r (closes rfd); 0 or -1. */
static int sc_fork_read(int rfd, struct serve_resp *r)
{
	int32_t st;
	uint32_t len;
	int bad = sc_read_all(rfd, &st, 4) || sc_read_all(rfd, &len, 4) ||
		  len > COWVM_SERVE_DATA_MAX || sc_read_all(rfd, r->data, len);

	close(rfd);
	if (bad)
		return -1;
	r->status = st;
	r->len = len;
	r->data[len] = 0;
	return 0;
}

/* The host fork() baseline, run in a process that holds no VM: build the
 * state natively, then per repetition serve the generated load with one
 * fork() per request and measure K children alive. Writes reps results
 * to fd. */
static int sc_fork_baseline(const struct sc_opts *o, int fd)
{
	static struct serve_resp r;
	struct serve_model m;
	struct serve_app a;
	char req[512], err[SERVE_ERR_MAX];
	double *lat = calloc(o->requests, sizeof(double));
	void *mem = mmap(NULL, o->state_mib << 20, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (!lat || mem == MAP_FAILED || serve_model_init(&m, o->state_mib, 1))
		return 1;
	serve_app_init(&a, mem, o->state_mib, 1);
	for (unsigned rep = 0; rep < o->reps; rep++) {
		struct sc_rep res = {0};
		pid_t *kids = calloc(o->live, sizeof(pid_t));
		int hold[2];
		double t0 = serve_now_us(), kib = 0;

		for (uint64_t k = 0; k < o->requests; k++) {
			size_t len = serve_gen_request(&m, k, req, sizeof(req));
			double s = serve_now_us();
			int rfd, ok;
			pid_t pid = sc_fork_one(&a, req, len, NULL, &rfd);

			ok = pid > 0 && !sc_fork_read(rfd, &r);
			lat[k] = serve_now_us() - s;
			if (pid > 0)
				waitpid(pid, NULL, 0);
			if (ok && serve_check(&m, req, len, &r, err))
				res.ok++;
			else
				res.bad++;
		}
		sc_times(&res, lat, o->requests, (serve_now_us() - t0) / 1e6);
		/* K children alive, each after its request. */
		if (!kids || pipe(hold))
			return 1;
		for (unsigned k = 0; k < o->live; k++) {
			size_t len = serve_gen_request(&m, k, req, sizeof(req));
			int rfd;

			kids[k] = sc_fork_one(&a, req, len, hold, &rfd);
			if (kids[k] < 0 || sc_fork_read(rfd, &r) ||
			    !serve_check(&m, req, len, &r, err))
				res.bad++;
		}
		for (unsigned k = 0; k < o->live; k++)
			kib += kids[k] > 0 ? (double)serve_proc_kib(kids[k], 1)
					   : 0;
		close(hold[1]);
		close(hold[0]);
		for (unsigned k = 0; k < o->live; k++)
			if (kids[k] > 0)
				waitpid(kids[k], NULL, 0);
		free(kids);
		res.kib = kib / o->live;
		res.idle_kib = -1;
		res.cow_kib = -1;
		if (sc_write_all(fd, &res, sizeof(res)))
			return 1;
	}
	free(lat);
	munmap(mem, o->state_mib << 20);
	return 0;
}

/* Boot a fresh VM up to its template point (create + load + init). */
static struct cowvm *sc_fresh_boot(const struct sc_opts *o, char *err)
{
	struct cowvm_config cfg;
	struct cowvm_exit e;
	struct cowvm *vm;
	char cmd[96];

	cowvm_config_init(&cfg);
	cfg.mem_size = serve_default_mem(o->state_mib);
	cfg.console_fd = -1;
	vm = cowvm_create(&cfg);
	if (!vm) {
		snprintf(err, SERVE_ERR_MAX, "%s", cowvm_error(NULL));
		return NULL;
	}
	snprintf(cmd, sizeof(cmd), "serve state_mib=%llu seed=1",
		 (unsigned long long)o->state_mib);
	if (cowvm_load_elf(vm, o->elf, cmd) || cowvm_run(vm, &e) ||
	    e.reason != COWVM_EXIT_SNAPSHOT) {
		snprintf(err, SERVE_ERR_MAX, "fresh VM init: %s",
			 cowvm_error(vm));
		cowvm_destroy(vm);
		return NULL;
	}
	return vm;
}

/* The fresh-VM baseline: per request a new VM booted through init. */
static int sc_fresh(const struct sc_opts *o, const struct serve_model *m,
		    struct sc_rep *res, char *err)
{
	static struct serve_resp r;
	double *lat = calloc(o->fresh_requests, sizeof(double));
	struct cowvm **vms = calloc(o->fresh_live, sizeof(*vms));
	char req[512];
	double t0 = serve_now_us(), cow = 0;
	long base, live;

	if (!lat || !vms)
		return -ENOMEM;
	for (uint64_t k = 0; k < o->fresh_requests; k++) {
		size_t len = serve_gen_request(m, k, req, sizeof(req));
		double s = serve_now_us();
		struct cowvm *vm = sc_fresh_boot(o, err);

		if (!vm)
			return -EIO;
		if (!serve_vm_request(vm, req, len, &r, err) &&
		    serve_check(m, req, len, &r, err))
			res->ok++;
		else
			res->bad++;
		lat[k] = serve_now_us() - s;
		cowvm_destroy(vm);
	}
	sc_times(res, lat, o->fresh_requests, (serve_now_us() - t0) / 1e6);
	free(lat);
	base = serve_proc_kib(0, 0);
	for (unsigned k = 0; k < o->fresh_live; k++) {
		size_t len = serve_gen_request(m, k, req, sizeof(req));

		struct cowvm_mem_stats st = {0};

		vms[k] = sc_fresh_boot(o, err);
		if (!vms[k] || serve_vm_request(vms[k], req, len, &r, err) ||
		    !serve_check(m, req, len, &r, err) ||
		    cowvm_mem_stats(vms[k], &st))
			res->bad++;
		cow += (double)st.pages_private * 4 +
		       (double)st.table_private_bytes / 1024;
	}
	live = serve_proc_kib(0, 0);
	for (unsigned k = 0; k < o->fresh_live; k++)
		cowvm_destroy(vms[k]);
	free(vms);
	res->kib = (double)(live - base) / o->fresh_live;
	res->cow_kib = cow / o->fresh_live;
	res->idle_kib = -1;
	return 0;
}

/* Requests of a repetition in mode. */
static uint64_t sc_requests(const struct sc_opts *o, enum serve_mode mode)
{
	return mode == SERVE_CLONE ? o->requests : o->warm_requests;
}

/* One repetition of cowvm serve in mode on t, on procs worker processes
 * (memory measured only for this one's, procs <= 1). */
static int sc_cowvm(const struct sc_opts *o, struct serve_template *t,
		    const struct serve_model *m, enum serve_mode mode,
		    unsigned procs, struct sc_rep *res, char *err)
{
	struct serve_batch b = {.mode = mode,
				.concurrency = 1,
				.n = sc_requests(o, mode),
				.processes = procs};
	struct serve_stats s;
	struct serve_mem mem;
	int r;

	/* Let the pool's reaper finish the previous phase's VMs. */
	sleep(1);
	r = serve_batch_run(t, m, &b, &s, err);

	if (r)
		return r;
	sc_times(res, s.lat_us, b.n, s.seconds);
	res->ok = s.ok;
	res->bad = s.failed + s.mismatched;
	free(s.lat_us);
	res->kib = res->idle_kib = res->cow_kib = -1;
	if (procs > 1)
		return 0;
	r = serve_measure_mem(t, m, mode, o->live, &mem, err);
	res->kib = mem.host_kib;
	res->idle_kib = mem.idle_kib;
	res->cow_kib = mem.private_kib + mem.table_kib;
	return r;
}

/* Repetition i of the three modes on procs processes into rows row,
 * row + 1, row + 2 of reps (left at zero when procs is 0). */
static int sc_modes(const struct sc_opts *o, struct serve_template *t,
		    const struct serve_model *m, unsigned procs,
		    struct sc_rep reps[SC_CONFIGS][SC_MAX_REPS], int row,
		    unsigned i, char *err)
{
	static const enum serve_mode modes[3] = {SERVE_CLONE, SERVE_SPARE,
						 SERVE_RESET};
	int r = 0;

	for (int k = 0; procs && !r && k < 3; k++)
		r = sc_cowvm(o, t, m, modes[k], procs, &reps[row + k][i], err);
	return r;
}

/* Median of field off over n reps. */
static double sc_med(const struct sc_rep *reps, unsigned n, size_t off)
{
	double v[SC_MAX_REPS];

	for (unsigned i = 0; i < n; i++)
		v[i] = *(const double *)((const char *)&reps[i] + off);
	return serve_median(v, n);
}

/* Parse the options; 0 or -1 after a message. */
static int sc_parse(int argc, char **argv, struct sc_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long long x;
		char *end;

		if (!v) {
			fprintf(stderr, "serve-compare: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--elf")) {
			o->elf = v;
			continue;
		}
		errno = 0;
		x = strtoull(v, &end, 10);
		if (errno || *end || end == v || x == 0) {
			fprintf(stderr, "serve-compare: bad %s '%s'\n", a, v);
			return -1;
		}
		if (!strcmp(a, "--state-mib") && x <= 65536)
			o->state_mib = x;
		else if (!strcmp(a, "--requests"))
			o->requests = x;
		else if (!strcmp(a, "--warm-requests"))
			o->warm_requests = x;
		else if (!strcmp(a, "--fresh-requests"))
			o->fresh_requests = x;
		else if (!strcmp(a, "--reps") && x <= SC_MAX_REPS)
			o->reps = (unsigned)x;
		else if (!strcmp(a, "--live") && x <= 4096)
			o->live = (unsigned)x;
		else if (!strcmp(a, "--fresh-live") && x <= 256)
			o->fresh_live = (unsigned)x;
		else if (!strcmp(a, "--workers") && x <= 256)
			o->workers = (unsigned)x;
		else {
			fprintf(stderr,
				"serve-compare: bad option %s %s (options: "
				"--elf PATH --state-mib M --requests N "
				"--warm-requests N "
				"--fresh-requests N --reps R --live K "
				"--fresh-live K --workers P)\n",
				a, v);
			return -1;
		}
	}
	return 0;
}

/* The ratio of rows a and b's median throughput. */
static double sc_ratio(struct sc_rep reps[SC_CONFIGS][SC_MAX_REPS], unsigned n,
		       int a, int b)
{
	double y = sc_med(reps[b], n, offsetof(struct sc_rep, rps));

	return y > 0 ? sc_med(reps[a], n, offsetof(struct sc_rep, rps)) / y : 0;
}

/* Print the table of medians. */
static void sc_print(const struct sc_opts *o,
		     struct sc_rep reps[SC_CONFIGS][SC_MAX_REPS], double boot)
{
	uint64_t n[SC_CONFIGS];
	unsigned k[SC_CONFIGS];

	for (int c = 0; c < SC_CONFIGS; c++) {
		n[c] = c == SC_FRESH			  ? o->fresh_requests
		       : c == SC_CLONE || c == SC_CLONE_P ? o->requests
		       : c == SC_FORK			  ? o->requests
							  : o->warm_requests;
		k[c] = c == SC_FRESH			    ? o->fresh_live
		       : c >= SC_CLONE_P && c <= SC_RESET_P ? 0
							    : o->live;
	}

	printf("serve-compare: state %llu MiB, %u repetitions, medians; "
	       "template boot %.1f ms\n",
	       (unsigned long long)o->state_mib, o->reps, boot);
	printf("%-12s %8s %10s %10s %11s %5s %10s %10s %7s %4s\n", "config",
	       "requests", "req/s", "p50 us", "p99 us", "live", "host KiB",
	       "cowvm KiB", "ok", "bad");
	for (int c = 0; c < SC_CONFIGS; c++) {
		unsigned long long ok = 0, bad = 0;

		for (unsigned i = 0; i < o->reps; i++) {
			ok += reps[c][i].ok;
			bad += reps[c][i].bad;
		}
		double cow = sc_med(reps[c], o->reps,
				    offsetof(struct sc_rep, cow_kib));

		double kib =
			sc_med(reps[c], o->reps, offsetof(struct sc_rep, kib));

		printf("%-12s %8llu %10.1f %10.1f %11.1f %5u ", sc_names[c],
		       (unsigned long long)n[c],
		       sc_med(reps[c], o->reps, offsetof(struct sc_rep, rps)),
		       sc_med(reps[c], o->reps, offsetof(struct sc_rep, p50)),
		       sc_med(reps[c], o->reps, offsetof(struct sc_rep, p99)),
		       k[c]);
		if (kib >= 0)
			printf("%10.0f ", kib);
		else
			printf("%10s ", "-");
		if (cow >= 0)
			printf("%10.0f", cow);
		else
			printf("%10s", "-");
		printf(" %7llu %4llu\n", ok, bad);
	}
	printf("clone mode with spares made ahead against spare mode (req/s "
	       "medians): %.2fx\n",
	       sc_ratio(reps, o->reps, SC_AHEAD, SC_SPARE));
	printf("%u worker processes against 1 (req/s medians): clone %.2fx, "
	       "spare %.2fx, reset %.2fx\n",
	       o->workers, sc_ratio(reps, o->reps, SC_CLONE_P, SC_CLONE),
	       sc_ratio(reps, o->reps, SC_SPARE_P, SC_SPARE),
	       sc_ratio(reps, o->reps, SC_RESET_P, SC_RESET));
	printf("cowvm reset, idle worker after cowvm_reset: %.0f KiB/clone; "
	       "cowvm spare, destroyed into a spare: %.0f KiB/clone\n",
	       sc_med(reps[SC_RESET], o->reps,
		      offsetof(struct sc_rep, idle_kib)),
	       sc_med(reps[SC_SPARE], o->reps,
		      offsetof(struct sc_rep, idle_kib)));
	printf("latency: clone/boot/fork + request + response read (destroy, "
	       "reset, waitpid after it; a spare is reset in "
	       "cowvm_destroy).\nhost KiB per live clone: cowvm and "
	       "fresh VM = delta of this process's Anonymous + VmPTE + memfd "
	       "blocks / live (cowvm reuses freed frames, so a fresh VM can "
	       "land on frames freed earlier: trust the cowvm column there); "
	       "host fork() = each child's Private_Dirty + Private_Clean + "
	       "VmPTE.\ncowvm KiB: cowvm_mem_stats pages_private * 4 KiB + "
	       "table_private_bytes. ok/bad: responses checked against the "
	       "host model, all repetitions.\n");
}

int main(int argc, char **argv)
{
	static struct sc_rep reps[SC_CONFIGS][SC_MAX_REPS];
	struct sc_opts o = {.elf = BENCH_GUEST_ELF,
			    .state_mib = 64,
			    .requests = 1000,
			    .warm_requests = 20000,
			    .fresh_requests = 10,
			    .reps = 5,
			    .live = 16,
			    .fresh_live = 4,
			    .workers = 2};
	struct serve_cfg cfg = {.seed = 1, .timeout_ms = 10000};
	struct serve_template t;
	struct serve_model m;
	char err[SERVE_ERR_MAX];
	double boot[SC_MAX_REPS];
	unsigned long long bad = 0;
	int p[2], status;
	pid_t helper;

	if (sc_parse(argc, argv, &o))
		return 2;
	cfg.elf = o.elf;
	cfg.state_mib = o.state_mib;
	serve_model_init(&m, o.state_mib, 1);
	/* The host fork() baseline first, in a child that holds no VM. */
	if (pipe(p))
		return 1;
	helper = fork();
	if (helper == 0) {
		close(p[0]);
		_exit(sc_fork_baseline(&o, p[1]));
	}
	close(p[1]);
	for (unsigned i = 0; i < o.reps; i++)
		if (sc_read_all(p[0], &reps[SC_FORK][i],
				sizeof(struct sc_rep))) {
			fprintf(stderr, "serve-compare: host fork baseline "
					"failed\n");
			return 1;
		}
	close(p[0]);
	waitpid(helper, &status, 0);
	if (serve_template_boot(&cfg, &t, err)) {
		fprintf(stderr, "serve-compare: %s\n", err);
		return 1;
	}
	for (unsigned i = 0; i < o.reps; i++) {
		boot[i] = t.boot_ms;
		if (sc_modes(&o, &t, &m, 1, reps, SC_CLONE, i, err) ||
		    sc_cowvm(&o, &t, &m, SERVE_AHEAD, 1, &reps[SC_AHEAD][i],
			     err) ||
		    sc_modes(&o, &t, &m, o.workers, reps, SC_CLONE_P, i, err) ||
		    sc_fresh(&o, &m, &reps[SC_FRESH][i], err)) {
			fprintf(stderr, "serve-compare: %s\n", err);
			return 1;
		}
		fprintf(stderr, "serve-compare: repetition %u of %u done\n",
			i + 1, o.reps);
	}
	sc_print(&o, reps, serve_median(boot, o.reps));
	serve_template_free(&t);
	for (int c = 0; c < SC_CONFIGS; c++)
		for (unsigned i = 0; i < o.reps; i++)
			bad += reps[c][i].bad;
	return bad ? 1 : 0;
}
