// bench-linux's start-to-exit family: Debian's static busybox (`true`,
// `sha256sum` of 1,000,000 bytes on stdin) and lua_serve running
// bench/linux/start.lua, started natively (fork + execve + waitpid in the
// spawn helper) and in cowvm: cold (cowvm_create + cowvm_load_linux + run
// + cowvm_destroy) and from a warm pool (a clone of the program loaded
// once, taken from cowvm_pool_reserve's ready VMs, run, destroyed).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bench_linux.h"

namespace
{

const char *const kProgNames[] = {"busybox true", "busybox sha256sum of 1 MB",
				  "lua_serve start.lua"};

// A program's loaded template: a VM that never ran, its snapshot.
struct Template {
	cowvm *vm = nullptr;
	struct cowvm_snapshot *snap = nullptr;
} templates[3];

// The program, its stdin (rewound) and what it must print (false when
// it cannot run here: no static busybox, or no native output).
bool start_prog(StartProg prog, LinuxProg *p, int *in, std::string *want)
{
	static int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	const Files &f = files();

	*in = null_fd;
	switch (prog) {
	case kBusyboxTrue:
		*p = {{f.busybox, "true"}, {}, 0};
		*want = "";
		return access(f.busybox.c_str(), X_OK) == 0;
	case kBusyboxSha:
		*p = {{f.busybox, "sha256sum"}, {}, 0};
		*in = f.sha_in;
		if (lseek(f.sha_in, 0, SEEK_SET) != 0)
			die("lseek: %s", std::strerror(errno));
		*want = f.sha_out;
		return !f.sha_out.empty();
	case kLuaScript:
		*p = {{f.lua, f.start}, {f.start}, 0};
		*want = f.lua_out;
		return !f.lua_out.empty();
	}
	return false;
}

// The template of prog: loaded once, snapshotted before its first
// instruction.
Template &template_of(StartProg prog, const LinuxProg &p)
{
	Template &t = templates[prog];

	if (!t.vm) {
		t.vm = vm_load(p);
		t.snap = cowvm_snapshot(t.vm);
		if (!t.snap)
			die("cowvm_snapshot of a loaded %s: %s",
			    p.argv[0].c_str(), cowvm_error(t.vm));
	}
	return t;
}

// One cowvm start: a VM (new and loaded, or a clone of t), stdio, run
// to exit 0, destroy; the seconds it took.
double start_cowvm(const LinuxProg &p, Template *t, int in, int out)
{
	auto t0 = Clock::now();
	cowvm *vm = t ? cowvm_clone(t->snap) : vm_load(p);

	if (!vm)
		die("cowvm_clone: %s", std::strerror(errno));
	if (cowvm_set_stdio(vm, in, out, 2))
		die("cowvm_set_stdio: %s", cowvm_error(vm));
	vm_run_expect(vm, COWVM_EXIT_GUEST, 0, p.argv[0].c_str());
	cowvm_destroy(vm);
	return seconds_since(t0);
}

// The label of (prog, how).
std::string start_label(StartProg prog, StartHow how)
{
	static const char *const hows[] = {
		"native fork+execve+waitpid from a small process",
		"cowvm_create + cowvm_load_linux + run + cowvm_destroy, no "
		"pool",
		"clone of the program loaded once (nothing run) from a warm "
		"pool + run + cowvm_destroy"};

	return std::string(kProgNames[prog]) + ": " + hows[how];
}

} // namespace

// Start-to-exit time of prog started how; the destroyed VM's teardown
// runs on cowvm's reaper thread, which settle() waits for before the
// next iteration (reported as settle_ms).
void BM_LinuxStart(benchmark::State &st, StartProg prog, StartHow how)
{
	LinuxProg p;
	std::string want;
	int in, out = memfd_of("start-out", nullptr, 0);
	double settle_s = 0;

	if (!start_prog(prog, &p, &in, &want)) {
		st.SkipWithError("the program did not run natively (no "
				 "static busybox?)");
		for (auto _ : st)
			break;
		close(out);
		return;
	}
	Template *t = how == kStartPool ? &template_of(prog, p) : nullptr;
	for (auto _ : st) {
		double s;

		auto t0 = Clock::now();
		settle();
		settle_s += seconds_since(t0);
		start_prog(prog, &p, &in, &want);
		fd_reset(out);
		if (how == kStartNative) {
			NativeRun r = native_run(p.argv, in, out, 2);

			if (r.status != 0)
				die("native %s: wait status %#x",
				    kProgNames[prog], r.status);
			s = r.seconds;
		} else {
			s = start_cowvm(p, t, in, out);
		}
		st.SetIterationTime(s);
		if (fd_contents(out) != want)
			die("%s printed '%s', want '%s'", kProgNames[prog],
			    fd_contents(out).c_str(), want.c_str());
	}
	close(out);
	st.counters["settle_ms"] = settle_s * 1e3 / (double)st.iterations();
	label(st, start_label(prog, how));
	batch(st, 1);
}

// Destroy the templates.
void start_fixtures_free()
{
	for (auto &t : templates) {
		cowvm_snapshot_put(t.snap);
		cowvm_destroy(t.vm);
		t = Template();
	}
}
