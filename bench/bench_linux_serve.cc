// bench-linux's serving family: lua_serve with bench/linux/handler.lua
// answers one request per run (stdin to stdout). cowvm spare mode clones
// the template snapshotted at the first stdin read per request
// (cowvm_snapshot_keep makes destroyed clones spares) and reset mode
// resets one VM per request; the baselines are the native fork server
// (the same program and state, forked per request) and a fresh native
// process per request. Every answer is checked against a native run.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench_linux.h"

namespace
{

constexpr int kRequests = 1000;	   // per repetition, cowvm and fork server
constexpr int kFreshRequests = 50; // per repetition, a process each
constexpr int kLive = 32;	   // live clones or children for memory
constexpr int kDistinct = 16;	   // distinct requests, cycled
constexpr unsigned kSpares = 4;	   // cowvm_snapshot_keep

// The template (stopped at its first stdin read) and the answers.
struct ServeFix {
	cowvm *tmpl = nullptr;
	struct cowvm_snapshot *snap = nullptr;
	std::string want[kDistinct];
	bool ready = false;
} fix;

// Request i: words to look up and numbers to count primes below.
std::string request(int i)
{
	char buf[160];

	std::snprintf(buf, sizeof(buf),
		      "w%d w%d %d %d zz%d\nw%d %d w%d nope %d\n", 17 * i + 3,
		      20000 - 31 * i, 1000 + 977 * i, 50 + i * i, i,
		      613 * i + 1, 99991 - 1009 * i, 5 * i + 40000, 7 * i);
	return buf;
}

// The program serving requests.
LinuxProg serve_prog()
{
	const Files &f = files();

	return {{f.lua, f.handler},
		{f.handler},
		blx_snapshot_stdin | blx_buffer_output};
}

// The fixture: native answers, then the template and its snapshot.
ServeFix &serve_fix()
{
	if (fix.ready)
		return fix;
	for (int i = 0; i < kDistinct; i++) {
		int in = pipe_holding(request(i));
		int out = memfd_of("serve-want", nullptr, 0);
		NativeRun r = native_run(serve_prog().argv, in, out, 2);

		if (r.status != 0)
			die("native handler: wait status %#x", r.status);
		fix.want[i] = fd_contents(out);
		close(in);
		close(out);
	}
	fix.tmpl = vm_load(serve_prog());
	if (cowvm_set_stdio(fix.tmpl, -1, -1, 2))
		die("cowvm_set_stdio: %s", cowvm_error(fix.tmpl));
	vm_run_expect(fix.tmpl, COWVM_EXIT_SNAPSHOT, blx_stdin_tag,
		      "handler template");
	fix.snap = cowvm_snapshot(fix.tmpl);
	if (!fix.snap || cowvm_snapshot_keep(fix.snap, kSpares))
		die("template snapshot: %s", cowvm_error(fix.tmpl));
	fix.ready = true;
	return fix;
}

// Die unless answer is request i's.
void check(const std::string &answer, int i, const char *who)
{
	if (answer != fix.want[i % kDistinct])
		die("%s answered request %d with '%s', want '%s'", who, i,
		    answer.c_str(), fix.want[i % kDistinct].c_str());
}

// Serve request i in vm (at the stdin snapshot); its answer. The request
// is a memfd, as `cowvm serve` gives it: a regular file lets the guest
// answer EOF without another exit.
std::string vm_serve(cowvm *vm, int i)
{
	std::string req = request(i % kDistinct);
	int in = memfd_of("serve-req", req.data(), req.size()), out[2];
	std::string s;

	pipe_pair(out);
	if (cowvm_set_stdio(vm, in, out[1], 2))
		die("cowvm_set_stdio: %s", cowvm_error(vm));
	vm_run_expect(vm, COWVM_EXIT_GUEST, 0, "handler");
	close(out[1]);
	s = read_to_eof(out[0]);
	close(out[0]);
	close(in);
	return s;
}

// Send request i to a native server (cmd 'r' or 'h' to the fork server,
// or a fresh process to the spawn helper) and read its answer to EOF.
std::string native_serve(ServeMode mode, char cmd, int i, int hold)
{
	int in = pipe_holding(request(i % kDistinct)), out[2];
	std::string s;

	pipe_pair(out);
	if (mode == kServeFresh) {
		native_send(serve_prog().argv, in, out[1], 2);
	} else {
		int fds[3] = {in, out[1], hold};

		fork_server_send(cmd, fds, cmd == 'h' ? 3 : 2);
	}
	close(in);
	close(out[1]);
	s = read_to_eof(out[0]);
	close(out[0]);
	return s;
}

// Serve n requests in mode; latencies (us) into lat, total seconds.
double serve_batch(ServeMode mode, int n, std::vector<double> &lat)
{
	cowvm *worker = mode == kServeReset ? cowvm_clone(fix.snap) : nullptr;
	auto t0 = Clock::now();

	for (int i = 0; i < n; i++) {
		auto s = Clock::now();
		cowvm *vm =
			mode == kServeSpare ? cowvm_clone(fix.snap) : worker;
		std::string a;

		if ((mode == kServeSpare || mode == kServeReset) && !vm)
			die("cowvm_clone: %s", std::strerror(errno));
		a = vm ? vm_serve(vm, i) : native_serve(mode, 'r', i, -1);
		lat.push_back(seconds_since(s) * 1e6);
		if (mode == kServeSpare)
			cowvm_destroy(vm);
		else if (mode == kServeReset && cowvm_reset(worker, fix.snap))
			die("cowvm_reset: %s", cowvm_error(worker));
		else if (mode == kServeForkServer &&
			 fork_server_reply().status != 0)
			die("fork server child failed");
		else if (mode == kServeFresh && native_reply().status != 0)
			die("fresh handler failed");
		check(a, i, "server");
	}
	double total = seconds_since(t0);
	cowvm_destroy(worker);
	return total;
}

// The "KEY: N kB" line of /proc/PID/FILE in bytes, else die:
// Private_Dirty of smaps_rollup (the pages pid has copied), VmPTE of
// status (the host page tables its memory takes).
double proc_bytes(int pid, const char *file, const char *key)
{
	char path[64], line[256];
	unsigned long long kb = 0;
	size_t n = std::strlen(key);
	bool found = false;
	FILE *f;

	std::snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	f = std::fopen(path, "r");
	if (!f)
		die("%s: %s", path, std::strerror(errno));
	while (!found && std::fgets(line, sizeof(line), f))
		found = !std::strncmp(line, key, n) && line[n] == ':' &&
			std::sscanf(line + n + 1, "%llu kB", &kb) == 1;
	std::fclose(f);
	if (!found)
		die("%s: no %s", path, key);
	return (double)kb * 1024;
}

// Memory per live clone in cowvm: kLive clones (spare mode; reset mode:
// its one worker) each after one request, cowvm_mem_stats private pages
// and private table bytes, averaged.
void cowvm_memory(benchmark::State &st, ServeMode mode)
{
	int k = mode == kServeSpare ? kLive : 1;
	std::vector<cowvm *> vms;
	double pages = 0, table = 0;

	for (int i = 0; i < k; i++) {
		struct cowvm_mem_stats ms;
		cowvm *vm = cowvm_clone(fix.snap);

		if (!vm)
			die("cowvm_clone: %s", std::strerror(errno));
		check(vm_serve(vm, i), i, "memory clone");
		if (cowvm_mem_stats(vm, &ms))
			die("cowvm_mem_stats: %s", cowvm_error(vm));
		pages += (double)ms.pages_private * 4096;
		table += (double)ms.table_private_bytes;
		vms.push_back(vm);
	}
	for (cowvm *vm : vms)
		cowvm_destroy(vm);
	st.counters["live"] = k;
	st.counters["mem_per_clone_kib"] = pages / k / 1024;
	st.counters["table_per_clone_kib"] = table / k / 1024;
}

// Memory per live fork-server child: kLive children held alive after
// one request each, their Private_Dirty (and page tables, VmPTE: the
// counterpart of cowvm's table bytes) averaged.
void fork_memory(benchmark::State &st)
{
	int hold[2];
	double dirty = 0, table = 0;
	std::vector<int> pids;

	pipe_pair(hold);
	for (int i = 0; i < kLive; i++) {
		check(native_serve(kServeForkServer, 'h', i, hold[0]), i,
		      "held child");
		pids.push_back(fork_server_reply().pid);
	}
	for (int pid : pids) {
		dirty += proc_bytes(pid, "smaps_rollup", "Private_Dirty");
		table += proc_bytes(pid, "status", "VmPTE");
	}
	close(hold[0]);
	close(hold[1]);
	fork_server_send('w', nullptr, 0);
	if (fork_server_reply().pid != kLive)
		die("fork server reaped the wrong number of children");
	st.counters["live"] = kLive;
	st.counters["mem_per_clone_kib"] = dirty / kLive / 1024;
	st.counters["table_per_clone_kib"] = table / kLive / 1024;
}

const char *const kModeLabels[] = {
	"cowvm spare: clone of the stdin snapshot per request, destroyed "
	"into a spare (cowvm_snapshot_keep)",
	"cowvm reset: one VM, cowvm_reset per request",
	"native fork server: lua_serve forks its built state per request",
	"native fresh process per request: fork+execve in a small helper"};

} // namespace

// One repetition: n requests in mode (the time of all of them, batch n:
// medians per request), then memory with kLive live clones or children.
// Latency: from the request's start to its answer read (the destroy,
// reset or waitpid after it counts in the total only).
void BM_LinuxServe(benchmark::State &st, ServeMode mode)
{
	int n = mode == kServeFresh ? kFreshRequests : kRequests;
	std::vector<double> lat;
	double total = 0;

	serve_fix();
	if (mode == kServeForkServer)
		check(native_serve(mode, 'r', 0, -1), 0, "fork server warm-up");
	if (mode == kServeForkServer && fork_server_reply().status != 0)
		die("fork server warm-up failed");
	for (auto _ : st) {
		settle();
		double s = serve_batch(mode, n, lat);

		st.SetIterationTime(s);
		total += s;
	}
	st.counters["req_per_s"] = (double)lat.size() / total;
	st.counters["p50_us"] = percentile(lat, 50);
	st.counters["p99_us"] = percentile(lat, 99);
	settle();
	if (mode == kServeSpare || mode == kServeReset)
		cowvm_memory(st, mode);
	else if (mode == kServeForkServer)
		fork_memory(st);
	label(st, std::string(kModeLabels[mode]) + ", " + std::to_string(n) +
			  " requests");
	batch(st, n);
}

// Destroy the template and its snapshot (and so its spares).
void serve_fixtures_free()
{
	cowvm_snapshot_put(fix.snap);
	cowvm_destroy(fix.tmpl);
	fix = ServeFix();
}
