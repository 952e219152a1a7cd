/* The program of a Linux VM: the checks that it is a static x86-64 Linux
 * executable that fits the memory map, and the copy of its segments. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux.h"

/* Why an ELF of type t is no executable, or NULL for ET_EXEC and ET_DYN. */
static const char *prog_type_problem(unsigned t)
{
	switch (t) {
	case ET_EXEC:
	case ET_DYN:
		return NULL;
	case ET_REL:
		return "a relocatable object (ET_REL), not an executable: link "
		       "it";
	case ET_CORE:
		return "a core dump (ET_CORE), not an executable";
	default:
		return "not an ELF executable (unknown type)";
	}
}

/* The type: an executable (ET_EXEC) or a static-pie (ET_DYN), which
 * loads at COWVM_LINUX_PIE_BASE. */
static int prog_check_type(struct cowvm *vm, struct linux_prog *p)
{
	const char *why = prog_type_problem(p->f.ehdr.e_type);

	if (why)
		return vmm_fail(vm, ENOEXEC, "%s: %s", p->f.path, why);
	p->bias = p->f.ehdr.e_type == ET_DYN ? COWVM_LINUX_PIE_BASE : 0;
	return 0;
}

/* Whether the PT_DYNAMIC segment ph names a DT_NEEDED library. */
static bool prog_needs_libs(const struct linux_prog *p, const GElf_Phdr *ph)
{
	Elf_Data *d = elf_getdata_rawchunk(p->f.elf, (int64_t)ph->p_offset,
					   ph->p_filesz, ELF_T_DYN);
	GElf_Dyn dyn;

	for (int i = 0; d && gelf_getdyn(d, i, &dyn); i++) {
		if (dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag == DT_NEEDED)
			return true;
	}
	return false;
}

/* Refuse a dynamically linked program: PT_INTERP, or DT_NEEDED. */
static int prog_check_static(struct cowvm *vm, struct linux_prog *p)
{
	for (size_t i = 0; i < p->f.phnum; i++) {
		GElf_Phdr ph;
		int err = vmm_elf_phdr(vm, &p->f, i, &ph);
		bool dynamic = ph.p_type == PT_INTERP;

		if (err)
			return err;
		if (ph.p_type == PT_DYNAMIC &&
		    (ph.p_offset > p->f.size ||
		     ph.p_filesz > p->f.size - ph.p_offset))
			return vmm_fail(vm, ENOEXEC,
					"%s: truncated (segment %zu ends past "
					"the file)",
					p->f.path, i);
		if (ph.p_type == PT_DYNAMIC)
			dynamic = prog_needs_libs(p, &ph);
		if (dynamic)
			return vmm_fail(vm, ENOEXEC,
					"%s: dynamically linked: build it with "
					"-static",
					p->f.path);
	}
	return 0;
}

/* Check PT_LOAD i against the file and the memory map below top. */
static int prog_check_load(struct cowvm *vm, struct linux_prog *p, size_t i,
			   const GElf_Phdr *ph, uint64_t top)
{
	uint64_t a = p->bias + ph->p_vaddr, b = a + ph->p_memsz;

	int err = vmm_elf_check_data(vm, &p->f, i, ph);

	if (err)
		return err;
	if ((ph->p_vaddr - ph->p_offset) % LINUX_PAGE)
		return vmm_fail(vm, ENOEXEC,
				"%s: segment %zu: address 0x%llx and file "
				"offset 0x%llx differ within a page",
				p->f.path, i, (unsigned long long)ph->p_vaddr,
				(unsigned long long)ph->p_offset);
	if (ph->p_vaddr > UINT64_MAX - p->bias || b < a)
		b = a = UINT64_MAX;
	if (a < COWVM_LINUX_LOAD_MIN)
		return vmm_fail(vm, ENOEXEC,
				"%s: segment %zu [0x%llx, 0x%llx) overlaps the "
				"cowvm kernel [0, 2 MiB)",
				p->f.path, i, (unsigned long long)a,
				(unsigned long long)b);
	if (b > top)
		return vmm_fail(vm, ENOEXEC,
				"%s: segment %zu [0x%llx, 0x%llx) lies outside "
				"guest RAM (%llu MiB)",
				p->f.path, i, (unsigned long long)a,
				(unsigned long long)b,
				(unsigned long long)(top >> 20));
	if (linux_page_up(b) > p->brk_start)
		p->brk_start = linux_page_up(b);
	if (p->f.ehdr.e_entry >= ph->p_vaddr &&
	    p->f.ehdr.e_entry - ph->p_vaddr < ph->p_memsz)
		p->entry = p->bias + p->f.ehdr.e_entry;
	return 0;
}

/* AT_PHDR: PT_PHDR's address, else e_phoff inside a PT_LOAD, else 0. */
static void prog_find_phdr(struct linux_prog *p, const GElf_Phdr *ph)
{
	uint64_t off = p->f.ehdr.e_phoff;

	if (ph->p_type == PT_PHDR)
		p->phdr = p->bias + ph->p_vaddr;
	else if (ph->p_type == PT_LOAD && !p->phdr && off >= ph->p_offset &&
		 off - ph->p_offset < ph->p_filesz)
		p->phdr = p->bias + ph->p_vaddr + (off - ph->p_offset);
}

/* Check every PT_LOAD and the entry point; find AT_PHDR and brk. */
static int prog_check_loads(struct cowvm *vm, struct linux_prog *p,
			    uint64_t top)
{
	size_t loads = 0;
	int err = 0;

	for (size_t i = 0; i < p->f.phnum && !err; i++) {
		GElf_Phdr ph;

		err = vmm_elf_phdr(vm, &p->f, i, &ph);
		if (err)
			break;
		if (ph.p_type == PT_PHDR)
			prog_find_phdr(p, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		loads++;
		prog_find_phdr(p, &ph);
		err = prog_check_load(vm, p, i, &ph, top);
	}
	if (!err && !loads)
		err = vmm_fail(vm, ENOEXEC, "%s: no loadable segment",
			       p->f.path);
	if (!err && !p->entry)
		err = vmm_fail(vm, ENOEXEC,
			       "%s: entry point 0x%llx lies in no segment",
			       p->f.path,
			       (unsigned long long)p->f.ehdr.e_entry);
	return err;
}

/* Open and check the program; 0 or -errno with vm->err. */
int linux_prog_open(struct cowvm *vm, const char *path, uint64_t top,
		    struct linux_prog *p)
{
	int err;

	memset(p, 0, sizeof(*p));
	err = vmm_elf_open(vm, path, &p->f);
	if (!err)
		err = prog_check_type(vm, p);
	if (!err)
		err = prog_check_static(vm, p);
	if (!err)
		err = prog_check_loads(vm, p, top);
	return err;
}

/* Copy one checked PT_LOAD: the file bytes from the start of its first
 * page (as Linux maps them) and zeros for the rest of the page past
 * p_filesz; the pages past that are still the zeros of a new VM. */
static int prog_copy_load(struct cowvm *vm, const struct linux_prog *p,
			  size_t i, const GElf_Phdr *ph)
{
	uint64_t lead = ph->p_vaddr % LINUX_PAGE;
	uint64_t at = p->bias + ph->p_vaddr - lead;
	uint64_t len = lead + ph->p_filesz;
	uint64_t tail = ph->p_memsz - ph->p_filesz;
	uint8_t *dst;
	int err;

	if (tail > linux_page_up(at + len) - (at + len))
		tail = linux_page_up(at + len) - (at + len);
	dst = vmm_gpa_write(vm, at, len + tail);
	if (!dst)
		return vmm_fail(vm, EFAULT, "%s: segment %zu is not guest RAM",
				p->f.path, i);
	err = vmm_elf_read(vm, &p->f, i, dst, ph->p_offset - lead, len);
	if (!err)
		memset(dst + len, 0, tail);
	return err;
}

/* Copy every PT_LOAD of the checked program into guest RAM. */
int linux_prog_copy(struct cowvm *vm, const struct linux_prog *p)
{
	for (size_t i = 0; i < p->f.phnum; i++) {
		GElf_Phdr ph;
		int err = vmm_elf_phdr(vm, &p->f, i, &ph);

		if (!err && ph.p_type == PT_LOAD && ph.p_memsz)
			err = prog_copy_load(vm, p, i, &ph);
		if (err)
			return err;
	}
	return 0;
}

/* Release the ELF handle and the descriptor. */
void linux_prog_close(struct linux_prog *p)
{
	vmm_elf_close(&p->f);
}
