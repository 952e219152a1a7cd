// bench-vmm's peak-memory report: a thread samples the frame store, the
// anonymous memory of this process and its fork helpers, and the host's
// Shmem and committed memory; the peaks go to stderr and to the JSON
// context.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "bench_vmm.h"

namespace
{

constexpr unsigned kSampleMs = 100;

// One sample, in MiB.
struct Sample {
	uint64_t store = 0;	// frame store memfd (shared memory)
	uint64_t anon = 0;	// this process's anonymous RSS
	uint64_t helpers = 0;	// the fork helpers' anonymous RSS
	uint64_t shmem = 0;	// host Shmem
	uint64_t committed = 0; // host Committed_AS
	uint64_t used = 0;	// host MemTotal - MemAvailable

	uint64_t footprint() const
	{
		return store + anon + helpers;
	}
};

struct Sampler {
	std::mutex lock; // guards everything below
	std::condition_variable wake;
	std::thread thread;
	bool stop = false, stopped = false;
	std::set<pid_t> pids;
	Sample base, peak;
	uint64_t peak_footprint = 0;
	Clock::time_point t0;
};

// The process's sampler.
Sampler &sampler()
{
	static Sampler s;
	return s;
}

// The value of "key:" (in kB) in a /proc status or meminfo file, in MiB.
uint64_t proc_kb(const char *path, const char *key)
{
	FILE *f = std::fopen(path, "r");
	char line[256];
	size_t n = std::strlen(key);
	unsigned long long kb = 0;

	if (!f)
		return 0;
	while (std::fgets(line, sizeof(line), f))
		if (!std::strncmp(line, key, n) && line[n] == ':') {
			kb = std::strtoull(line + n + 1, nullptr, 10);
			break;
		}
	std::fclose(f);
	return kb / 1024;
}

// Sample now; pids are the helpers to count.
Sample sample(const std::set<pid_t> &pids)
{
	Sample s;
	const char *mi = "/proc/meminfo";

	s.store = bvm_store_bytes() / kMiB;
	s.anon = proc_kb("/proc/self/status", "RssAnon");
	for (pid_t pid : pids)
		s.helpers += proc_kb(
			("/proc/" + std::to_string(pid) + "/status").c_str(),
			"RssAnon");
	s.shmem = proc_kb(mi, "Shmem");
	s.committed = proc_kb(mi, "Committed_AS");
	s.used = proc_kb(mi, "MemTotal") - proc_kb(mi, "MemAvailable");
	return s;
}

// Fold s into the peaks (lock held).
void account(Sampler &sp, const Sample &s)
{
	sp.peak.store = std::max(sp.peak.store, s.store);
	sp.peak.anon = std::max(sp.peak.anon, s.anon);
	sp.peak.helpers = std::max(sp.peak.helpers, s.helpers);
	sp.peak.shmem = std::max(sp.peak.shmem, s.shmem);
	sp.peak.committed = std::max(sp.peak.committed, s.committed);
	sp.peak.used = std::max(sp.peak.used, s.used);
	sp.peak_footprint = std::max(sp.peak_footprint, s.footprint());
}

// The sampling thread: one sample per kSampleMs until stop.
void sample_loop()
{
	Sampler &sp = sampler();
	std::unique_lock<std::mutex> g(sp.lock);

	while (!sp.stop) {
		std::set<pid_t> pids = sp.pids;

		g.unlock();
		Sample s = sample(pids);
		g.lock();
		account(sp, s);
		sp.wake.wait_for(g, std::chrono::milliseconds(kSampleMs));
	}
}

// MiB as "N MiB" or "N.N GiB".
std::string mib_str(uint64_t mib)
{
	char b[32];

	if (mib >= 1024)
		std::snprintf(b, sizeof(b), "%.1f GiB", (double)mib / 1024);
	else
		std::snprintf(b, sizeof(b), "%llu MiB",
			      (unsigned long long)mib);
	return b;
}

// A host figure: its peak above its value at the start.
uint64_t above(uint64_t peak, uint64_t base)
{
	return peak > base ? peak - base : 0;
}

// Add the peaks to the benchmark context (keys in MiB unless named).
void add_context(const Sampler &sp, uint64_t rss, unsigned builds,
		 double build_s, double wall_s)
{
	auto add = [](const char *k, uint64_t v) {
		benchmark::AddCustomContext(k, std::to_string(v));
	};

	add("peak_footprint_mib", sp.peak_footprint);
	add("peak_frame_store_mib", sp.peak.store);
	add("peak_anon_mib", sp.peak.anon);
	add("peak_fork_helpers_mib", sp.peak.helpers);
	add("peak_host_shmem_above_start_mib",
	    above(sp.peak.shmem, sp.base.shmem));
	add("peak_host_committed_above_start_mib",
	    above(sp.peak.committed, sp.base.committed));
	add("peak_host_used_above_start_mib",
	    above(sp.peak.used, sp.base.used));
	add("maxrss_mib", rss);
	add("fixture_budget_mib", fixtures_budget_mib());
	add("fixture_builds", builds);
	add("fixture_build_s", (uint64_t)(build_s + 0.5));
	add("wall_s", (uint64_t)(wall_s + 0.5));
}

} // namespace

// Add or remove a helper from the sampled processes.
void mem_watch_pid(pid_t pid, bool watch)
{
	Sampler &sp = sampler();
	std::lock_guard<std::mutex> g(sp.lock);

	if (watch)
		sp.pids.insert(pid);
	else
		sp.pids.erase(pid);
}

// Take the host's starting figures and start the thread.
void mem_start()
{
	Sampler &sp = sampler();

	sp.t0 = Clock::now();
	sp.base = sample({});
	sp.thread = std::thread(sample_loop);
}

// Join the thread, print the peaks and add them to the context.
void mem_stop()
{
	Sampler &sp = sampler();
	struct rusage self;
	unsigned builds;
	double build_s;

	if (sp.stopped || !sp.thread.joinable())
		return;
	{
		std::lock_guard<std::mutex> g(sp.lock);
		sp.stop = sp.stopped = true;
	}
	sp.wake.notify_all();
	sp.thread.join();
	getrusage(RUSAGE_SELF, &self);
	fixtures_build_stats(&builds, &build_s);
	double wall_s = seconds_since(sp.t0);
	uint64_t rss = (uint64_t)self.ru_maxrss / 1024;
	std::fprintf(
		stderr,
		"bench-vmm: peak memory %s (frame store %s, anonymous %s, "
		"fork helpers %s); host above start: Shmem %s, committed %s, "
		"used %s; ru_maxrss %s (a shared page counts once per "
		"mapping); fixture budget %s, "
		"%u builds in %.0f s; %.0f s in all\n",
		mib_str(sp.peak_footprint).c_str(),
		mib_str(sp.peak.store).c_str(), mib_str(sp.peak.anon).c_str(),
		mib_str(sp.peak.helpers).c_str(),
		mib_str(above(sp.peak.shmem, sp.base.shmem)).c_str(),
		mib_str(above(sp.peak.committed, sp.base.committed)).c_str(),
		mib_str(above(sp.peak.used, sp.base.used)).c_str(),
		mib_str(rss).c_str(), mib_str(fixtures_budget_mib()).c_str(),
		builds, build_s, wall_s);
	add_context(sp, rss, builds, build_s, wall_s);
}

namespace
{

// The JSON file reporter: buffers everything, and at Finalize rewrites the
// header with the context as it is then.
class MemJSONReporter : public benchmark::JSONReporter
{
      public:
	explicit MemJSONReporter(void (*finish)()) : finish_(finish)
	{
	}

	// Remember the context and the file; write to the buffer meanwhile.
	bool ReportContext(const Context &ctx) override
	{
		ctx_ = &ctx;
		out_ = &GetOutputStream();
		SetOutputStream(&buf_);
		return JSONReporter::ReportContext(ctx);
	}

	// Close the list, finish, then write the new header and the runs.
	void Finalize() override
	{
		const std::string mark = "\"benchmarks\": [\n";

		JSONReporter::Finalize();
		finish_();
		std::string s = buf_.str();
		size_t at = s.find(mark);
		SetOutputStream(out_);
		if (at == std::string::npos) {
			*out_ << s;
			return;
		}
		JSONReporter::ReportContext(*ctx_);
		*out_ << s.substr(at + mark.size());
	}

      private:
	void (*finish_)();
	const Context *ctx_ = nullptr;
	std::ostream *out_ = nullptr;
	std::ostringstream buf_;
};

// The value of --name=VALUE in argv, else of the environment's NAME
// (benchmark's own fallback), else def.
std::string flag(int argc, char **argv, const char *name, const char *def)
{
	std::string pre = std::string("--") + name + "=";
	std::string env = name;

	for (int i = 1; i < argc; i++)
		if (!std::strncmp(argv[i], pre.c_str(), pre.size()))
			return argv[i] + pre.size();
	for (auto &c : env)
		c = (char)std::toupper((unsigned char)c);
	const char *v = std::getenv(env.c_str());
	return v ? v : def;
}

} // namespace

// Our JSON file reporter if the out file is JSON.
benchmark::BenchmarkReporter *mem_json_reporter(int argc, char **argv,
						void (*finish)())
{
	if (flag(argc, argv, "benchmark_out", "").empty() ||
	    flag(argc, argv, "benchmark_out_format", "json") != "json")
		return nullptr;
	return new MemJSONReporter(finish);
}
