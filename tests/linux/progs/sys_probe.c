/* A system-call probe for the linux tests: exercises memory, files, the
 * directory tree DIR, descriptors, devices, clocks, ids and signals and
 * prints only what is the same on every run, then exits with STATUS.
 * usage: sys_probe DIR STATUS [ARGS...] */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define KIB 1024ul
#define MIB (1024ul * 1024)

static const char *probe_dir;
static sigjmp_buf probe_jmp;
static volatile sig_atomic_t probe_usr1, probe_code, probe_signo;
static volatile uintptr_t probe_addr, probe_stack;

/* The FNV-1a hash of len bytes at p. */
static uint64_t probe_hash(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	while (len--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

/* "yes" or "no". */
static const char *yn(int cond)
{
	return cond ? "yes" : "no";
}

/* A call's result as "ok" or "-1 ENAME"-ish: the errno number. */
static const char *probe_ret(long r)
{
	static char buf[32];

	if (r >= 0)
		return "ok";
	snprintf(buf, sizeof(buf), "-1 errno %d", errno);
	return buf;
}

/* The path DIR/name in a static buffer. */
static const char *probe_path(const char *name)
{
	static char buf[2][8192 + 16];
	static int i;

	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", probe_dir, name);
	return buf[i];
}

/* argv, envp and the auxiliary vector. */
static void probe_args(int argc, char **argv, char **envp)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
	unsigned long n = getauxval(AT_PHNUM), loads = 0;

	printf("argc %d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d] '%s'\n", i, argv[i]);
	for (char **e = envp; *e; e++)
		printf("env '%s'\n", *e);
	for (unsigned long i = 0; ph && i < n; i++)
		loads += ph[i].p_type == PT_LOAD;
	printf("AT_PAGESZ %lu\n", getauxval(AT_PAGESZ));
	printf("AT_PHNUM %lu PT_LOAD %lu AT_PHENT %lu\n", n, loads,
	       getauxval(AT_PHENT));
	printf("AT_RANDOM set %s, AT_ENTRY set %s\n", yn(getauxval(AT_RANDOM)),
	       yn(getauxval(AT_ENTRY)));
}

/* Whether len bytes at p all equal c. */
static int probe_all(const void *p, int c, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != (unsigned char)c)
			return 0;
	return 1;
}

/* brk growth and shrink with the raw system call, then sbrk. */
static void probe_brk(void)
{
	uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0), r;
	int grown, zero, shrunk, regrown, fresh, back;
	void *s0, *s1;

	r = (uintptr_t)syscall(SYS_brk, cur + MIB);
	grown = r == cur + MIB;
	zero = grown && probe_all((void *)cur, 0, MIB);
	if (grown)
		memset((void *)cur, 0x5a, MIB);
	shrunk = (uintptr_t)syscall(SYS_brk, cur + 4 * KIB) == cur + 4 * KIB;
	regrown = (uintptr_t)syscall(SYS_brk, cur + MIB) == cur + MIB;
	fresh = regrown && probe_all((void *)(cur + 4 * KIB), 0, MIB - 4 * KIB);
	back = (uintptr_t)syscall(SYS_brk, cur) == cur;
	printf("brk grow %s zeroed %s shrink %s regrow %s fresh %s back %s\n",
	       yn(grown), yn(zero), yn(shrunk), yn(regrown), yn(fresh),
	       yn(back));
	r = (uintptr_t)syscall(SYS_brk, 1);
	printf("brk below start refused %s\n", yn(r == cur));
	s0 = sbrk(0);
	printf("sbrk(0) is brk %s\n", yn((uintptr_t)s0 == cur));
	s1 = sbrk(64 * KIB);
	if (s1 != (void *)-1) {
		memset(s1, 1, 64 * KIB);
		printf("sbrk +64K %s\n",
		       yn(s1 == s0 && sbrk(0) == (char *)s0 + 64 * KIB));
		printf("sbrk -64K %s\n",
		       yn(sbrk(-64 * (long)KIB) != (void *)-1 &&
			  sbrk(0) == s0));
	} else {
		printf("sbrk +64K refused errno %d\n", errno);
	}
}

/* malloc of 1 KiB to 64 MiB (the large ones through mmap) with a pattern
 * check, and calloc's zeroing. */
static void probe_malloc(void)
{
	static const size_t sizes[] = {KIB,	16 * KIB, 256 * KIB, MIB,
				       4 * MIB, 16 * MIB, 64 * MIB};

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k], words = n / sizeof(uint32_t), bad = 0;
		uint32_t *p = malloc(n);

		if (!p) {
			printf("malloc %zu failed\n", n);
			continue;
		}
		for (size_t i = 0; i < words; i++)
			p[i] = (uint32_t)(i * 2654435761u + k);
		for (size_t i = 0; i < words; i++)
			bad += p[i] != (uint32_t)(i * 2654435761u + k);
		printf("malloc %zu pattern %s\n", n, yn(!bad));
		free(p);
	}
	for (size_t n = 4 * KIB; n <= 32 * MIB; n *= 8) {
		unsigned char *p = calloc(1, n);

		printf("calloc %zu zeroed %s\n", n,
		       yn(p && probe_all(p, 0, n)));
		free(p);
	}
}

/* Anonymous mmap, mremap (growing and moving), mprotect and munmap. */
static void probe_mmap(void)
{
	size_t len = 16 * KIB, big = 256 * KIB;
	unsigned char *p, *q, *r;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED) {
		printf("mmap anon failed errno %d\n", errno);
		return;
	}
	printf("mmap anon zeroed %s\n", yn(probe_all(p, 0, len)));
	memset(p, 0xa5, len);
	q = mremap(p, len, big, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		printf("mremap failed errno %d\n", errno);
		munmap(p, len);
		return;
	}
	printf("mremap keeps %s grows zeroed %s\n", yn(probe_all(q, 0xa5, len)),
	       yn(probe_all(q + len, 0, big - len)));
	memset(q + len, 0x3c, big - len);
	q = mremap(q, big, len, 0);
	printf("mremap shrink %s\n",
	       yn(q != MAP_FAILED && probe_all(q, 0xa5, len)));
	printf("mprotect read-only %s\n",
	       probe_ret(mprotect(q, len, PROT_READ)));
	printf("read after mprotect %s\n", yn(probe_all(q, 0xa5, len)));
	printf("mprotect read-write %s\n",
	       probe_ret(mprotect(q, len, PROT_READ | PROT_WRITE)));
	q[0] = 1;
	printf("munmap %s\n", probe_ret(munmap(q, len)));
	r = mmap(NULL, 3 * 4 * KIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("munmap middle page %s\n",
	       probe_ret(r == MAP_FAILED ? -1 : munmap(r + 4 * KIB, 4 * KIB)));
	if (r != MAP_FAILED) {
		r[0] = r[8 * KIB] = 7;
		munmap(r, 4 * KIB);
		munmap(r + 8 * KIB, 4 * KIB);
	}
	errno = 0;
	p = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap of 0 bytes refused %s errno %d\n", yn(p == MAP_FAILED),
	       errno);
}

/* A read-only private mapping of DIR/data.bin against read(). */
static void probe_mmap_file(void)
{
	int fd = open(probe_path("data.bin"), O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned char *m, *buf;

	if (fd < 0 || fstat(fd, &st)) {
		printf("open data.bin failed errno %d\n", errno);
		return;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		printf("read data.bin failed\n");
		return;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		printf("mmap data.bin failed errno %d\n", errno);
	} else {
		printf("mmap data.bin %lld bytes equal %s hash %016llx\n",
		       (long long)st.st_size,
		       yn(!memcmp(m, buf, (size_t)st.st_size)),
		       (unsigned long long)probe_hash(m, (size_t)st.st_size));
		munmap(m, (size_t)st.st_size);
	}
	m = mmap(NULL, 8 * KIB, PROT_READ, MAP_PRIVATE, fd, 8 * KIB);
	printf("mmap data.bin at 8K equal %s\n",
	       yn(m != MAP_FAILED && !memcmp(m, buf + 8 * KIB, 8 * KIB)));
	if (m != MAP_FAILED)
		munmap(m, 8 * KIB);
	free(buf);
	close(fd);
}

/* open, read, pread, lseek and fstat over DIR/data.bin and DIR/a.txt. */
static void probe_files(void)
{
	char buf[256];
	struct stat st;
	int fd = open(probe_path("data.bin"), O_RDONLY);
	off_t end;
	ssize_t n;

	if (fd < 0) {
		printf("open failed errno %d\n", errno);
		return;
	}
	printf("fstat %s", probe_ret(fstat(fd, &st)));
	printf(" regular %s size %lld\n", yn(S_ISREG(st.st_mode)),
	       (long long)st.st_size);
	n = read(fd, buf, 100);
	printf("read %zd hash %016llx\n", n,
	       (unsigned long long)probe_hash(buf, n > 0 ? (size_t)n : 0));
	n = pread(fd, buf, 200, 1000);
	printf("pread %zd hash %016llx offset still %lld\n", n,
	       (unsigned long long)probe_hash(buf, n > 0 ? (size_t)n : 0),
	       (long long)lseek(fd, 0, SEEK_CUR));
	end = lseek(fd, 0, SEEK_END);
	printf("lseek end %lld", (long long)end);
	printf(" set %lld\n", (long long)lseek(fd, 50, SEEK_SET));
	n = read(fd, buf, 10);
	printf("read at 50: %zd hash %016llx\n", n,
	       (unsigned long long)probe_hash(buf, n > 0 ? (size_t)n : 0));
	lseek(fd, -5, SEEK_END);
	n = read(fd, buf, 100);
	printf("read at end-5: %zd then %zd\n", n, read(fd, buf, 100));
	printf("lseek before 0: %s\n", probe_ret(lseek(fd, -1, SEEK_SET)));
	close(fd);
	errno = 0;
	printf("open missing: %s\n",
	       probe_ret(open(probe_path("missing"), O_RDONLY)));
	printf("stat dir %s", probe_ret(stat(probe_dir, &st)));
	printf(" isdir %s\n", yn(S_ISDIR(st.st_mode)));
	printf("stat a.txt %s", probe_ret(stat(probe_path("a.txt"), &st)));
	printf(" size %lld regular %s\n", (long long)st.st_size,
	       yn(S_ISREG(st.st_mode)));
	fd = open(probe_dir, O_RDONLY);
	printf("open dir as file, read: %s\n", probe_ret(read(fd, buf, 1)));
	close(fd);
}

/* Compare two strings through pointers (qsort). */
static int probe_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List the directory rel of DIR and below it: sorted names and sizes. */
static void probe_list(const char *rel)
{
	char path[4096], sub[4096], *names[256];
	int nr = 0, dots = 0;
	struct dirent *d;
	struct stat st;
	DIR *dir;

	snprintf(path, sizeof(path), "%s%s%s", probe_dir, *rel ? "/" : "", rel);
	dir = opendir(path);
	if (!dir) {
		printf("opendir %s failed errno %d\n", rel, errno);
		return;
	}
	while ((d = readdir(dir)) && nr < 256) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) {
			dots++;
			continue;
		}
		names[nr++] = strdup(d->d_name);
	}
	closedir(dir);
	qsort(names, (size_t)nr, sizeof(names[0]), probe_strcmp);
	printf("dir '%s': %d entries, . and .. %d\n", rel, nr, dots);
	for (int i = 0; i < nr; i++) {
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
			 names[i]);
		if (stat(probe_path(sub), &st)) {
			printf("  %s: stat errno %d\n", sub, errno);
		} else if (S_ISDIR(st.st_mode)) {
			printf("  %s/\n", sub);
			probe_list(sub);
		} else {
			printf("  %s %lld\n", sub, (long long)st.st_size);
		}
		free(names[i]);
	}
}

/* access, faccessat, openat relative to a directory, chdir and getcwd. */
static void probe_access(void)
{
	char cwd[4096];
	int dfd, fd;

	printf("access a.txt R_OK %s\n",
	       probe_ret(access(probe_path("a.txt"), R_OK)));
	printf("access missing F_OK %s\n",
	       probe_ret(access(probe_path("missing"), F_OK)));
	printf("faccessat sub X_OK %s\n",
	       probe_ret(faccessat(AT_FDCWD, probe_path("sub"), X_OK, 0)));
	dfd = open(probe_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	printf("open O_DIRECTORY %s\n", probe_ret(dfd));
	printf("faccessat(dfd, a.txt) %s\n",
	       probe_ret(faccessat(dfd, "a.txt", R_OK, 0)));
	fd = openat(dfd, "sub/b.bin", O_RDONLY | O_CLOEXEC);
	printf("openat(dfd, sub/b.bin) %s\n", probe_ret(fd));
	close(fd);
	printf("open a.txt O_DIRECTORY: %s\n",
	       probe_ret(open(probe_path("a.txt"), O_RDONLY | O_DIRECTORY)));
	close(dfd);
	printf("chdir sub %s\n", probe_ret(chdir(probe_path("sub"))));
	printf("getcwd is DIR/sub %s\n",
	       yn(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, probe_path("sub"))));
	printf("open relative b.bin %s\n", probe_ret(fd = open("b.bin", 0)));
	close(fd);
	printf("chdir missing %s\n", probe_ret(chdir("missing")));
	printf("chdir / %s\n", probe_ret(chdir("/")));
}

/* dup, dup2, fcntl descriptor flags and F_DUPFD, close. */
static void probe_fds(void)
{
	int fd = open(probe_path("a.txt"), O_RDONLY), d, fd2;
	ssize_t n;
	char c;

	d = dup(fd);
	printf("dup above 2 %s differs %s\n", yn(d > 2), yn(d != fd));
	n = read(fd, &c, 1);
	printf("read 1 via fd %zd, offset via dup %lld\n", n,
	       (long long)lseek(d, 0, SEEK_CUR));
	printf("dup2 to 10 -> %d\n", dup2(fd, 10));
	printf("F_GETFD %d\n", fcntl(10, F_GETFD));
	printf("F_SETFD cloexec %d", fcntl(10, F_SETFD, FD_CLOEXEC));
	printf(", F_GETFD %d\n", fcntl(10, F_GETFD));
	printf("F_DUPFD 20 -> %d\n", fcntl(fd, F_DUPFD, 20));
	fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 30);
	printf("F_DUPFD_CLOEXEC 30 -> %d, F_GETFD %d\n", fd2,
	       fcntl(fd2, F_GETFD));
	printf("F_GETFL accmode read-only %s\n",
	       yn((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY));
	printf("close %d", close(d));
	printf(" %d", close(10));
	printf(" %d", close(20));
	printf(" %d", close(30));
	printf(" %d\n", close(fd));
	printf("close again: %s\n", probe_ret(close(10)));
	printf("read closed: %s\n", probe_ret(read(20, &c, 1)));
	printf("dup2 to itself closed: %s\n", probe_ret(dup2(20, 20)));
	/* 1.5 MiB: below every program's image, not the program's memory
	 * (under cowvm the personality lives there). */
	printf("write from 0x180000: %s\n",
	       probe_ret(write(1, (const void *)0x180000, 8)));
	printf("read into 0x180000: %s\n",
	       probe_ret(read(0, (void *)0x180000, 8)));
}

/* /dev/null, /dev/urandom, getrandom and a gathered write to stdout. */
static void probe_devices(void)
{
	unsigned char buf[64];
	struct iovec iov[2] = {{"writev ", 7}, {"ok\n", 3}};
	int fd = open("/dev/null", O_RDWR);
	ssize_t n;

	printf("/dev/null open %s", probe_ret(fd));
	n = write(fd, "hello", 5);
	printf(" write %zd read %zd\n", n, read(fd, buf, sizeof(buf)));
	close(fd);
	fd = open("/dev/urandom", O_RDONLY);
	printf("/dev/urandom open %s", probe_ret(fd));
	printf(" read %zd\n", read(fd, buf, 32));
	close(fd);
	printf("getrandom %zd\n", getrandom(buf, 16, 0));
	printf("isatty(1) %d\n", isatty(1));
	fflush(stdout);
	printf("writev %zd\n", writev(1, iov, 2));
}

/* The difference b - a in nanoseconds. */
static long long probe_ns(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000ll + b->tv_nsec - a->tv_nsec;
}

/* Clocks, nanosleep, ids and uname. */
static void probe_time_ids(void)
{
	struct timespec t0, t1, t2, rt, req = {0, 10 * 1000 * 1000};
	struct utsname u;
	int mono = 1;
	long long slept;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 1000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		mono &= probe_ns(&t0, &t1) >= 0;
		t0 = t1;
	}
	printf("monotonic non-decreasing %s\n", yn(mono));
	printf("nanosleep %s\n", probe_ret(nanosleep(&req, NULL)));
	clock_gettime(CLOCK_MONOTONIC, &t2);
	slept = probe_ns(&t1, &t2);
	printf("slept at least 10 ms %s, under 5 s %s\n", yn(slept >= 10000000),
	       yn(slept < 5000000000ll));
	clock_gettime(CLOCK_REALTIME, &rt);
	printf("realtime after 2020 %s, time() agrees %s\n",
	       yn(rt.tv_sec > 1577836800),
	       yn(llabs((long long)time(NULL) - rt.tv_sec) <= 2));
	printf("ids consistent %s\n",
	       yn(getpid() > 0 && getpid() == getpid() &&
		  getuid() == getuid() && getuid() == geteuid() &&
		  getgid() == getegid()));
	printf("uname %s", probe_ret(uname(&u)));
	printf(" sysname %s machine %s\n", u.sysname, u.machine);
}

/* Record a caught signal's number, code, address and stack; jump out of
 * SIGSEGV and SIGFPE. */
static void probe_handler(int sig, siginfo_t *si, void *uc)
{
	int local;

	(void)uc;
	probe_signo = sig;
	probe_code = si->si_code;
	probe_addr = (uintptr_t)si->si_addr;
	probe_stack = (uintptr_t)&local;
	if (sig == SIGUSR1)
		probe_usr1++;
	if (sig == SIGSEGV || sig == SIGFPE)
		siglongjmp(probe_jmp, 1);
}

/* Install probe_handler for sig with flags; 0 or -1. */
static int probe_catch(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = probe_handler;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

/* raise, kill, a blocked and pending signal, and SIG_IGN. */
static void probe_signals(void)
{
	sigset_t set, pend;

	printf("sigaction %s\n", probe_ret(probe_catch(SIGUSR1, 0)));
	printf("raise %d", raise(SIGUSR1));
	printf(" caught %d code %d\n", (int)probe_usr1, (int)probe_code);
	printf("kill self %d", kill(getpid(), SIGUSR1));
	printf(" caught %d code %d\n", (int)probe_usr1, (int)probe_code);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR1);
	sigemptyset(&pend);
	sigpending(&pend);
	printf("blocked: caught %d, pending %d\n", (int)probe_usr1,
	       sigismember(&pend, SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	printf("unblocked: caught %d\n", (int)probe_usr1);
	signal(SIGUSR2, SIG_IGN);
	printf("ignored SIGUSR2 raise %d, still here\n", raise(SIGUSR2));
}

/* SIGSEGV from a NULL write (twice, the mask restored by siglongjmp), on
 * an alternate stack, and SIGFPE from an integer division by zero. */
static void probe_faults(void)
{
	static char alt[64 * KIB];
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt)};
	volatile int zero = 0, q = 0;
	volatile uintptr_t eight = 8;

	probe_catch(SIGSEGV, SA_ONSTACK);
	probe_catch(SIGFPE, 0);
	for (int round = 0; round < 2; round++) {
		if (!sigsetjmp(probe_jmp, 1))
			*(volatile int *)(uintptr_t)zero = 1;
		printf("SIGSEGV %d caught %s code %d addr %#lx\n", round,
		       yn(probe_signo == SIGSEGV), (int)probe_code,
		       (unsigned long)probe_addr);
		probe_signo = 0;
	}
	printf("sigaltstack %s\n", probe_ret(sigaltstack(&ss, NULL)));
	if (!sigsetjmp(probe_jmp, 1))
		*(volatile int *)eight = 1;
	printf("SIGSEGV on altstack %s addr %#lx\n",
	       yn(probe_stack >= (uintptr_t)alt &&
		  probe_stack < (uintptr_t)alt + sizeof(alt)),
	       (unsigned long)probe_addr);
	if (!sigsetjmp(probe_jmp, 1))
		q = 100 / zero;
	printf("SIGFPE caught %s code %d q %d\n", yn(probe_signo == SIGFPE),
	       (int)probe_code, q);
}

/* Run every probe in order and exit with argv[2]. */
int main(int argc, char **argv, char **envp)
{
	if (argc < 3) {
		fprintf(stderr, "usage: sys_probe DIR STATUS [ARGS...]\n");
		return 2;
	}
	probe_dir = argv[1];
	probe_args(argc, argv, envp);
	probe_brk();
	probe_malloc();
	probe_mmap();
	probe_mmap_file();
	probe_files();
	probe_list("");
	probe_access();
	probe_fds();
	probe_devices();
	probe_time_ids();
	probe_signals();
	probe_faults();
	printf("exit %d\n", atoi(argv[2]));
	return atoi(argv[2]);
}
