// bench-linux's shared helpers: errors, the files of the run, descriptors,
// Linux-program VMs, the pool and settling, and the benchmark setup.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench_linux.h"
#include "vmm_bench_util.h"

#ifndef BENCH_LINUX_ELF
#define BENCH_LINUX_ELF "build/guest/linux.elf"
#endif
#ifndef BENCH_LINUX_PROGDIR
#define BENCH_LINUX_PROGDIR "build/bench/linux"
#endif
#ifndef BENCH_LINUX_SRCDIR
#define BENCH_LINUX_SRCDIR "bench/linux"
#endif
#ifndef BENCH_BUSYBOX
#define BENCH_BUSYBOX "/bin/busybox"
#endif

namespace
{

// Write all of data to fd, else die.
void write_all(int fd, const void *data, size_t len)
{
	const char *p = static_cast<const char *>(data);

	while (len) {
		ssize_t k = write(fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("write: %s", std::strerror(errno));
		p += k;
		len -= (size_t)k;
	}
}

// The absolute form of path (which must exist), else die.
std::string real(const std::string &path)
{
	char *r = realpath(path.c_str(), nullptr);
	std::string s;

	if (!r)
		die("%s: %s", path.c_str(), std::strerror(errno));
	s = r;
	std::free(r);
	return s;
}

// n pseudo-random bytes from seed (xorshift).
std::string noise(size_t n, uint64_t seed)
{
	std::string s(n, '\0');

	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		s[i] = (char)(seed >> 24);
	}
	return s;
}

// Fill f: paths, the data file, the sha256sum input and its digest, and
// what start.lua prints (both from native runs through the spawn helper).
void files_make(Files &f)
{
	char dir[] = "/tmp/bench-linux-XXXXXX";
	std::string data = noise(kMiB, 0x9e3779b97f4a7c15ull);
	int fd, out;

	f.kernel = real(BENCH_LINUX_ELF);
	f.syscost = real(BENCH_LINUX_PROGDIR "/syscost");
	f.lua = real(BENCH_LINUX_PROGDIR "/lua_serve");
	f.handler = real(BENCH_LINUX_SRCDIR "/handler.lua");
	f.start = real(BENCH_LINUX_SRCDIR "/start.lua");
	f.busybox = BENCH_BUSYBOX;
	if (!mkdtemp(dir))
		die("mkdtemp: %s", std::strerror(errno));
	f.dir = dir;
	f.data = f.dir + "/data-1mib";
	fd = open(f.data.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		  0600);
	if (fd < 0)
		die("%s: %s", f.data.c_str(), std::strerror(errno));
	write_all(fd, data.data(), data.size());
	close(fd);
	f.sha_in = memfd_of("sha-in", data.data(), 1000000);
	out = memfd_of("sha-out", nullptr, 0);
	if (access(f.busybox.c_str(), X_OK) == 0) {
		NativeRun r =
			native_run({f.busybox, "sha256sum"}, f.sha_in, out, 2);

		if (r.status == 0)
			f.sha_out = fd_contents(out);
	}
	fd_reset(out);
	if (native_run({f.lua, f.start}, f.sha_in, out, 2).status == 0)
		f.lua_out = fd_contents(out);
	close(out);
}

} // namespace

// The files of the run, made on first use.
const Files &files()
{
	static Files f;
	static bool made;

	if (!made) {
		made = true;
		files_make(f);
	}
	return f;
}

// Remove the temporary folder.
void files_cleanup()
{
	const Files &f = files();

	unlink(f.data.c_str());
	rmdir(f.dir.c_str());
}

// A memfd holding data.
int memfd_of(const char *name, const void *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		die("memfd_create: %s", std::strerror(errno));
	if (data)
		write_all(fd, data, len);
	else if (len && ftruncate(fd, (off_t)len))
		die("ftruncate: %s", std::strerror(errno));
	if (lseek(fd, 0, SEEK_SET) != 0)
		die("lseek: %s", std::strerror(errno));
	return fd;
}

// Truncate fd and rewind it.
void fd_reset(int fd)
{
	if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) != 0)
		die("fd reset: %s", std::strerror(errno));
}

// fd's contents from offset 0.
std::string fd_contents(int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	std::string s(len > 0 ? (size_t)len : 0, '\0');

	if (len < 0 || pread(fd, &s[0], s.size(), 0) != (ssize_t)s.size())
		die("read back: %s", std::strerror(errno));
	return s;
}

// Read fd until end of file.
std::string read_to_eof(int fd)
{
	std::string s;
	char buf[4096];

	for (;;) {
		ssize_t k = read(fd, buf, sizeof(buf));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die("read: %s", std::strerror(errno));
		if (k == 0)
			return s;
		s.append(buf, (size_t)k);
	}
}

// A pipe pair, close-on-exec.
void pipe_pair(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC))
		die("pipe2: %s", std::strerror(errno));
}

// A pipe holding data (at most a pipe buffer), write end closed.
int pipe_holding(const std::string &data)
{
	int p[2];

	pipe_pair(p);
	write_all(p[1], data.data(), data.size());
	close(p[1]);
	return p[0];
}

// Close an open fd.
void close_fd(int &fd)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
}

// kVmMiB, console on stderr, a 60 s limit per run.
cowvm_config vm_config()
{
	cowvm_config cfg;

	cowvm_config_init(&cfg);
	cfg.mem_size = kVmMiB * kMiB;
	cfg.console_fd = 2;
	cfg.timeout_ms = 60000;
	return cfg;
}

// Create a VM and load p into it.
cowvm *vm_load(const LinuxProg &p)
{
	std::vector<const char *> argv;
	std::vector<cowvm_linux_path> tree;
	cowvm_config cfg = vm_config();
	cowvm_linux lx = {};
	cowvm *vm = cowvm_create(&cfg);
	int err;

	if (!vm)
		die("cowvm_create: %s", cowvm_error(nullptr));
	for (const auto &a : p.argv)
		argv.push_back(a.c_str());
	argv.push_back(nullptr);
	for (const auto &f : p.files)
		tree.push_back({f.c_str(), f.c_str()});
	lx.kernel = files().kernel.c_str();
	lx.program = p.argv[0].c_str();
	lx.argv = argv.data();
	lx.files = tree.data();
	lx.nr_files = (unsigned)tree.size();
	lx.flags = p.flags;
	err = cowvm_load_linux(vm, &lx);
	if (err)
		die("cowvm_load_linux %s: %s", p.argv[0].c_str(),
		    cowvm_error(vm));
	return vm;
}

// Run to the expected exit.
void vm_run_expect(cowvm *vm, cowvm_exit_reason reason, uint64_t value,
		   const char *what)
{
	cowvm_exit e;
	int r = cowvm_run(vm, &e);
	bool ok = !r && e.reason == reason;

	if (ok && reason == COWVM_EXIT_GUEST)
		ok = (uint64_t)e.status == value;
	if (ok && reason == COWVM_EXIT_SNAPSHOT)
		ok = e.tag == value;
	if (!ok)
		die("%s: run r=%d reason=%d status=%d tag=%#llx (want reason "
		    "%d, %#llx): %s %s",
		    what, r, (int)e.reason, e.status, (unsigned long long)e.tag,
		    (int)reason, (unsigned long long)value, e.detail,
		    cowvm_error(vm));
}

namespace
{

unsigned pool_holders;

} // namespace

// One more holder of the pool (the first reserves kPoolN).
void pool_hold()
{
	cowvm_config cfg = vm_config();

	if (!pool_holders++)
		if (int err = cowvm_pool_reserve(&cfg, kPoolN))
			die("cowvm_pool_reserve: %s", std::strerror(-err));
}

// One holder less (the last reserves none).
void pool_release()
{
	cowvm_config cfg = vm_config();

	if (pool_holders && !--pool_holders)
		cowvm_pool_reserve(&cfg, 0);
}

// Wait for an idle reaper and, while held, a full pool.
void settle()
{
	cowvm_config cfg = vm_config();

	if (bvm_pool_settle(&cfg, pool_holders ? kPoolN : 0, kSettleMs))
		die("pool or reaper did not settle");
}

// Set the label.
void label(benchmark::State &st, const std::string &s)
{
	st.SetLabel(s);
}

// Set the operations timed per iteration.
void batch(benchmark::State &st, double ops)
{
	st.counters["batch"] = ops;
}

// Manual time, kReps repetitions, every repetition reported.
void common(benchmark::internal::Benchmark *b)
{
	b->UseManualTime()
		->Repetitions(kReps)
		->ReportAggregatesOnly(false)
		->Unit(benchmark::kMicrosecond);
}

// Nearest-rank percentile.
double percentile(std::vector<double> &v, double p)
{
	size_t k;

	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	k = (size_t)(p / 100.0 * (double)v.size() + 0.999999);
	k = std::min(std::max(k, (size_t)1), v.size());
	return v[k - 1];
}
