/* Function names for crash addresses: the STT_FUNC symbols of a fuzz
 * target's .symtab, sorted by address, looked up by binary search. */
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_sym.h"

struct fuzz_fn {
	uint64_t lo, size;
	char *name;
};

struct fuzz_sym {
	struct fuzz_fn *fn;
	size_t n;
};

/* Order functions by address. */
static int fn_cmp(const void *a, const void *b)
{
	const struct fuzz_fn *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Append the functions of symbol table section scn to s; 0 or -1. */
static int add_symtab(struct fuzz_sym *s, Elf *e, Elf_Scn *scn,
		      const GElf_Shdr *sh, uint64_t bias)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t count = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	struct fuzz_fn *fn;
	GElf_Sym sym;

	if (!d || !count)
		return 0;
	fn = realloc(s->fn, (s->n + count) * sizeof(*fn));
	if (!fn)
		return -1;
	s->fn = fn;
	for (size_t i = 0; i < count; i++) {
		const char *name;

		if (!gelf_getsym(d, (int)i, &sym) ||
		    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value)
			continue;
		name = elf_strptr(e, sh->sh_link, sym.st_name);
		if (!name || !*name || !(fn[s->n].name = strdup(name)))
			continue;
		fn[s->n].lo = sym.st_value + bias;
		fn[s->n].size = sym.st_size ? sym.st_size : 1;
		s->n++;
	}
	return 0;
}

/* Load the function symbols of path (see fuzz_sym.h). */
struct fuzz_sym *fuzz_sym_load(const char *path, uint64_t bias)
{
	struct fuzz_sym *s = calloc(1, sizeof(*s));
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf *e = NULL;
	int fd = -1;

	if (!s || elf_version(EV_CURRENT) == EV_NONE)
		goto bad;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !(e = elf_begin(fd, ELF_C_READ, NULL)))
		goto bad;
	while ((scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB &&
		    add_symtab(s, e, scn, &sh, bias))
			goto bad;
	elf_end(e);
	close(fd);
	if (!s->n) {
		fuzz_sym_free(s);
		return NULL;
	}
	qsort(s->fn, s->n, sizeof(*s->fn), fn_cmp);
	return s;
bad:
	if (e)
		elf_end(e);
	if (fd >= 0)
		close(fd);
	fuzz_sym_free(s);
	return NULL;
}

/* The function holding addr as "name+0xOFF" (see fuzz_sym.h). */
const char *fuzz_sym_name(const struct fuzz_sym *s, uint64_t addr, char *buf,
			  size_t len)
{
	size_t lo = 0, hi = s ? s->n : 0;

	buf[0] = 0;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->fn[mid].lo <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (s && s->n && s->fn[lo].lo <= addr &&
	    addr - s->fn[lo].lo < s->fn[lo].size)
		snprintf(buf, len, "%s+0x%llx", s->fn[lo].name,
			 (unsigned long long)(addr - s->fn[lo].lo));
	return buf;
}

/* Free s. */
void fuzz_sym_free(struct fuzz_sym *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->fn[i].name);
	free(s->fn);
	free(s);
}
