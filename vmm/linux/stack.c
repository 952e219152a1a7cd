/* The initial stack of a Linux program, laid out as Linux's execve and
 * binfmt_elf build it: strings at the top, then the platform string and
 * AT_RANDOM bytes, then argc, argv, envp and the auxiliary vector. */
#include <cpuid.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "linux.h"

/* Auxiliary vector types (Linux's include/uapi/linux/auxvec.h). */
enum {
	STACK_AT_NULL = 0,
	STACK_AT_PHDR = 3,
	STACK_AT_PHENT = 4,
	STACK_AT_PHNUM = 5,
	STACK_AT_PAGESZ = 6,
	STACK_AT_BASE = 7,
	STACK_AT_FLAGS = 8,
	STACK_AT_ENTRY = 9,
	STACK_AT_UID = 11,
	STACK_AT_EUID = 12,
	STACK_AT_GID = 13,
	STACK_AT_EGID = 14,
	STACK_AT_PLATFORM = 15,
	STACK_AT_HWCAP = 16,
	STACK_AT_CLKTCK = 17,
	STACK_AT_SECURE = 23,
	STACK_AT_RANDOM = 25,
	STACK_AT_HWCAP2 = 26,
	STACK_AT_EXECFN = 31,
};

#define STACK_PLATFORM	  "x86_64"
#define STACK_HWCAP2	  2u /* HWCAP2_FSGSBASE */
#define STACK_AUXV_WORDS  (2 * 19)
#define STACK_CPUID_MAX	  256u
#define STACK_CPUID_HWCAP 1u /* leaf 1: EDX is AT_HWCAP */

/* The strings and pointer counts of the stack being built. */
struct stack_args {
	const char *const *argv;
	const char *const *envp;
	size_t argc, envc;
	uint64_t bytes; /* of the argv and envp strings with their NULs */
};

/* lx's argv (default: the program path) and envp (default: none). */
static void stack_args_get(const struct cowvm_linux *lx,
			   const char *const fallback[2], struct stack_args *a)
{
	static const char *const empty[1] = {NULL};

	memset(a, 0, sizeof(*a));
	a->argv = lx->argv ? lx->argv : fallback;
	a->envp = lx->envp ? lx->envp : empty;
	while (a->argv[a->argc])
		a->bytes += strlen(a->argv[a->argc++]) + 1;
	while (a->envp[a->envc])
		a->bytes += strlen(a->envp[a->envc++]) + 1;
}

/* Check that the strings fit COWVM_LINUX_ARGS_MAX; 0 or -E2BIG. */
int linux_stack_check(struct cowvm *vm, const struct cowvm_linux *lx,
		      const char *execfn)
{
	const char *const fallback[2] = {lx->program, NULL};
	struct stack_args a;

	stack_args_get(lx, fallback, &a);
	if (a.bytes > COWVM_LINUX_ARGS_MAX)
		return vmm_fail(vm, E2BIG,
				"%s: arguments and environment of %llu bytes "
				"exceed %u",
				lx->program, (unsigned long long)a.bytes,
				COWVM_LINUX_ARGS_MAX);
	if (strlen(execfn) >= COWVM_LINUX_PATH_MAX)
		return vmm_fail(vm, E2BIG, "%s: path longer than %u bytes",
				lx->program, COWVM_LINUX_PATH_MAX - 1);
	return 0;
}

/* CPUID.1:EDX as the vCPU reports it (KVM_GET_CPUID2), else the host's. */
static uint64_t stack_hwcap(struct cowvm *vm)
{
	size_t sz = sizeof(struct kvm_cpuid2) +
		    STACK_CPUID_MAX * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = vmm_calloc(1, sz);
	unsigned eax, ebx, ecx, edx = 0;
	uint64_t hwcap = UINT64_MAX;

	if (c) {
		c->nent = STACK_CPUID_MAX;
		if (vmm_ioctl(vm->vcpu.fd, KVM_GET_CPUID2, c) == 0)
			for (unsigned i = 0; i < c->nent; i++)
				if (c->entries[i].function == STACK_CPUID_HWCAP)
					hwcap = c->entries[i].edx;
		free(c);
	}
	if (hwcap == UINT64_MAX) {
		__get_cpuid(STACK_CPUID_HWCAP, &eax, &ebx, &ecx, &edx);
		hwcap = edx;
	}
	return hwcap;
}

/* Copy the string s down to *p (moved below it); its guest address. */
static uint64_t stack_push_str(uint8_t *host, uint64_t base, uint64_t *p,
			       const char *s)
{
	size_t n = strlen(s) + 1;

	*p -= n;
	memcpy(host + (*p - base), s, n);
	return *p;
}

/* The auxiliary vector of p into v (STACK_AUXV_WORDS words). */
static void stack_auxv(struct cowvm *vm, const struct linux_prog *p,
		       uint64_t random, uint64_t platform, uint64_t execfn,
		       uint64_t *v)
{
	const uint64_t aux[STACK_AUXV_WORDS] = {
		STACK_AT_HWCAP,	   stack_hwcap(vm),
		STACK_AT_PAGESZ,   LINUX_PAGE,
		STACK_AT_CLKTCK,   100,
		STACK_AT_PHDR,	   p->phdr,
		STACK_AT_PHENT,	   sizeof(Elf64_Phdr),
		STACK_AT_PHNUM,	   p->f.phnum,
		STACK_AT_BASE,	   0,
		STACK_AT_FLAGS,	   0,
		STACK_AT_ENTRY,	   p->entry,
		STACK_AT_UID,	   getuid(),
		STACK_AT_EUID,	   geteuid(),
		STACK_AT_GID,	   getgid(),
		STACK_AT_EGID,	   getegid(),
		STACK_AT_SECURE,   0,
		STACK_AT_RANDOM,   random,
		STACK_AT_HWCAP2,   STACK_HWCAP2,
		STACK_AT_EXECFN,   execfn,
		STACK_AT_PLATFORM, platform,
		STACK_AT_NULL,	   0,
	};

	memcpy(v, aux, sizeof(aux));
}

/* Guest bytes the stack takes below top for a: an upper bound. */
static uint64_t stack_bound(const struct stack_args *a, const char *execfn)
{
	return 8 + strlen(execfn) + 1 + a->bytes + 16 + sizeof(STACK_PLATFORM) +
	       16 + (STACK_AUXV_WORDS + a->argc + a->envc + 3) * 8 + 16;
}

/* Lay the strings, platform, random bytes, argc, argv, envp and auxv out
 * in host (the guest bytes [base, top)); the address of argc. */
static int stack_fill(struct cowvm *vm, const struct linux_prog *p,
		      const struct stack_args *a, const char *execfn,
		      uint8_t *host, uint64_t base, uint64_t top, uint64_t *rsp)
{
	uint64_t at = top - 8, fn, plat, rnd, sp, *w, *str_at;
	uint8_t bytes[16];
	size_t i, words = 1 + a->argc + 1 + a->envc + 1;

	str_at = vmm_calloc(a->argc + a->envc + 1, sizeof(*str_at));
	if (!str_at)
		return vmm_fail(vm, ENOMEM, "out of memory");
	memset(host, 0, top - base);
	fn = stack_push_str(host, base, &at, execfn);
	for (i = a->envc; i-- > 0;)
		str_at[a->argc + i] =
			stack_push_str(host, base, &at, a->envp[i]);
	for (i = a->argc; i-- > 0;)
		str_at[i] = stack_push_str(host, base, &at, a->argv[i]);
	at &= ~15ull;
	plat = stack_push_str(host, base, &at, STACK_PLATFORM);
	if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes)) {
		free(str_at);
		return vmm_fail(vm, errno ? errno : EIO,
				"getrandom for AT_RANDOM failed: %m");
	}
	at -= sizeof(bytes);
	rnd = at;
	memcpy(host + (rnd - base), bytes, sizeof(bytes));
	sp = at - STACK_AUXV_WORDS * 8;
	sp = (sp - words * 8) & ~15ull;
	w = (uint64_t *)(host + (sp - base));
	*w++ = a->argc;
	for (i = 0; i < a->argc; i++)
		*w++ = str_at[i];
	*w++ = 0;
	for (i = 0; i < a->envc; i++)
		*w++ = str_at[a->argc + i];
	*w++ = 0;
	stack_auxv(vm, p, rnd, plat, fn, w);
	free(str_at);
	*rsp = sp;
	return 0;
}

/* Build the stack of p below top as Linux does; *rsp = &argc. */
int linux_stack_build(struct cowvm *vm, const struct cowvm_linux *lx,
		      const struct linux_prog *p, const char *execfn,
		      uint64_t top, uint64_t lo, uint64_t *rsp)
{
	const char *const fallback[2] = {lx->program, NULL};
	struct stack_args a;
	uint64_t base;
	uint8_t *host;

	stack_args_get(lx, fallback, &a);
	base = top - linux_page_up(stack_bound(&a, execfn));
	if (base < lo || base > top)
		return vmm_fail(vm, E2BIG, "%s: the initial stack does not fit",
				lx->program);
	host = vmm_gpa_write(vm, base, top - base);
	if (!host)
		return vmm_fail(vm, EFAULT, "the stack is not guest RAM");
	return stack_fill(vm, p, &a, execfn, host, base, top, rsp);
}
