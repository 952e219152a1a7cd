// What the bench-linux families share: constants, the files of the run,
// descriptors, native processes run by a clean helper and the Lua fork
// server (bench_linux_native.cc), Linux-program VMs, and the setup of
// every benchmark (bench_linux_util.cc).
#ifndef BENCH_LINUX_H
#define BENCH_LINUX_H

#include <benchmark/benchmark.h>

#include <sys/types.h>

#include <chrono>

#include "bench_common.h"
#include <cstdint>
#include <string>
#include <vector>

#include "cowvm.h"

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kVmMiB = 64; // RAM of every VM of the run
constexpr int kReps = 7;	// repetitions of every benchmark
constexpr unsigned kPoolN = 2;	// ready VMs kept while a family needs them
constexpr unsigned kSettleMs = 60000;
constexpr uint64_t kSnapTag = 0x5c05; // syscost's cowvm_guest_snapshot tag


// From cowvm_linux_abi.h (bench_linux_abi.c: the ABI headers are C only):
// COWVM_LINUX_SNAPSHOT_STDIN and COWVM_LINUX_STDIN_TAG.
extern "C" const unsigned blx_snapshot_stdin;
extern "C" const unsigned blx_buffer_output;
extern "C" const uint64_t blx_stdin_tag;


// The programs, scripts and inputs of the run. data is a 1 MiB file of
// pseudo-random bytes and sha_in 1,000,000 of them with sha_out the
// digest line busybox sha256sum prints for it, made on first use in a
// temporary folder that files_cleanup removes; lua_out is what lua_serve
// start.lua prints natively.
struct Files {
	std::string kernel, syscost, lua, handler, start, busybox;
	std::string dir, data, sha_out, lua_out;
	int sha_in = -1; // a memfd holding the sha256sum input
};
const Files &files();
void files_cleanup();

// A memfd named name holding len bytes of data (NULL: len zero bytes),
// its offset at 0.
int memfd_of(const char *name, const void *data, size_t len);

// Empty fd (a memfd or file) and put its offset at 0.
void fd_reset(int fd);

// Everything in fd from offset 0.
std::string fd_contents(int fd);

// Everything readable from fd until end of file (fd is left open).
std::string read_to_eof(int fd);

// A pipe holding data with its write end closed; returns the read end.
int pipe_holding(const std::string &data);

// A pipe (both ends close-on-exec): fds[0] reads, fds[1] writes.
void pipe_pair(int fds[2]);

// Close fd if it is open and mark it closed.
void close_fd(int &fd);

// Native programs run by the spawn helper: a process started clean by
// posix_spawn (no VM and no harness memory in it, so its fork() costs
// what a small process's does) that fork()s, execve()s argv with an
// empty environment and the given stdin, stdout and stderr, and waits.
struct NativeRun {
	double seconds; // fork() to the end of waitpid(), helper side
	int status;	// waitpid status
};
void native_start(const char *self);
void native_stop();
int native_helper_main(int sock); // `--spawn-helper FD`
void native_send(const std::vector<std::string> &argv, int in, int out,
		 int err);
NativeRun native_reply();
NativeRun native_run(const std::vector<std::string> &argv, int in, int out,
		     int err);

// The Lua fork server: lua_serve --fork-server running handler.lua,
// started once (on first use) by posix_spawn; commands and replies as
// bench/linux/lua_serve.c describes.
struct ForkReply {
	int pid;
	int status;
};
void fork_server_send(char cmd, const int *fds, int nfd);
ForkReply fork_server_reply();
pid_t fork_server_pid();
void fork_server_stop();

// A Linux program for cowvm: argv (argv[0] is the program's host path),
// the host files given to the guest at the same paths, flags.
struct LinuxProg {
	std::vector<std::string> argv;
	std::vector<std::string> files;
	unsigned flags = 0;
};

// The config of every VM: kVmMiB, console on stderr, 60 s timeout.
cowvm_config vm_config();

// A new VM with p loaded (cowvm_create + cowvm_load_linux), else die.
cowvm *vm_load(const LinuxProg &p);

// Run vm to its next exit, which must be reason (with status for a
// GUEST exit, tag for a SNAPSHOT exit), else die naming what.
void vm_run_expect(cowvm *vm, cowvm_exit_reason reason, uint64_t value,
		   const char *what);

// Keep kPoolN ready VMs of vm_config()'s class (hold) or stop (release),
// counted per holder.
void pool_hold();
void pool_release();

// Wait until the reaper is idle and a held pool is full: no background
// VM work runs while the clock does.
void settle();

// Benchmark setup: label, "batch" (report.py divides an iteration's time
// by it: the operations timed), and the common settings (manual time,
// kReps repetitions, microseconds).
void label(benchmark::State &st, const std::string &s);
void batch(benchmark::State &st, double ops);
void common(benchmark::internal::Benchmark *b);

// The p-th percentile (0..100) of v (sorted in place); 0 when empty.
double percentile(std::vector<double> &v, double p);

// The families (bench_linux_sys.cc, bench_linux_start.cc,
// bench_linux_serve.cc), registered in bench_linux.cc.
enum SysCall { kGetpid, kPread, kStdin };
enum SysWhere { kNative, kCowvm, kCowvmHost };
void BM_LinuxSyscall(benchmark::State &st, SysCall call, SysWhere where);

enum StartProg { kBusyboxTrue, kBusyboxSha, kLuaScript };
enum StartHow { kStartNative, kStartCold, kStartPool };
void BM_LinuxStart(benchmark::State &st, StartProg prog, StartHow how);

enum ServeMode { kServeSpare, kServeReset, kServeForkServer, kServeFresh };
void BM_LinuxServe(benchmark::State &st, ServeMode mode);

// Free the families' fixtures (templates, snapshots) at the end.
void start_fixtures_free();
void serve_fixtures_free();

#endif
