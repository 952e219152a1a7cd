/* ELF64 x86-64 kernel loading with libelf, every field validated. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm.h"

/* An open ELF file and what loading it needs. */
struct elf_file {
	const char *path;
	int fd;
	uint64_t size;
	Elf *elf;
	GElf_Ehdr ehdr;
	size_t phnum;
};

/* Check the identification bytes ourselves for precise messages. */
static int elf_check_ident(struct cowvm *vm, struct elf_file *f)
{
	unsigned char id[EI_NIDENT];
	ssize_t n = pread(f->fd, id, sizeof(id), 0);

	if (n < 0)
		return vmm_fail(vm, errno, "%s: cannot read: %m", f->path);
	if (n < SELFMAG || memcmp(id, ELFMAG, SELFMAG) != 0)
		return vmm_fail(vm, ENOEXEC, "%s: not an ELF file", f->path);
	if (n < EI_NIDENT)
		return vmm_fail(vm, ENOEXEC, "%s: truncated ELF header",
				f->path);
	if (id[EI_CLASS] == ELFCLASS32)
		return vmm_fail(vm, ENOEXEC,
				"%s: 32-bit ELF, cowvm needs ELF64", f->path);
	if (id[EI_CLASS] != ELFCLASS64)
		return vmm_fail(vm, ENOEXEC, "%s: bad ELF class %u", f->path,
				id[EI_CLASS]);
	if (id[EI_DATA] != ELFDATA2LSB)
		return vmm_fail(vm, ENOEXEC, "%s: not a little-endian ELF",
				f->path);
	if (f->size < sizeof(Elf64_Ehdr))
		return vmm_fail(vm, ENOEXEC, "%s: truncated ELF header",
				f->path);
	return 0;
}

/* Read and check the ELF header: x86-64 executable. */
static int elf_check_ehdr(struct cowvm *vm, struct elf_file *f)
{
	f->elf = elf_begin(f->fd, ELF_C_READ, NULL);
	if (!f->elf || elf_kind(f->elf) != ELF_K_ELF)
		return vmm_fail(vm, ENOEXEC, "%s: unreadable ELF (%s)", f->path,
				elf_errmsg(-1));
	if (!gelf_getehdr(f->elf, &f->ehdr))
		return vmm_fail(vm, ENOEXEC, "%s: truncated ELF header (%s)",
				f->path, elf_errmsg(-1));
	if (f->ehdr.e_machine != EM_X86_64)
		return vmm_fail(vm, ENOEXEC,
				"%s: wrong machine %u, cowvm needs x86-64",
				f->path, f->ehdr.e_machine);
	if (f->ehdr.e_type != ET_EXEC)
		return vmm_fail(
			vm, ENOEXEC,
			"%s: ELF type %u is not an executable (ET_EXEC)",
			f->path, f->ehdr.e_type);
	f->phnum = f->ehdr.e_phnum;
	if (f->phnum == 0 || f->phnum == PN_XNUM)
		return vmm_fail(vm, ENOEXEC, "%s: no program headers", f->path);
	if (f->ehdr.e_phentsize != sizeof(Elf64_Phdr))
		return vmm_fail(
			vm, ENOEXEC, "%s: program header size %u, expected %zu",
			f->path, f->ehdr.e_phentsize, sizeof(Elf64_Phdr));
	if (f->ehdr.e_phoff > f->size ||
	    f->phnum * sizeof(Elf64_Phdr) > f->size - f->ehdr.e_phoff)
		return vmm_fail(vm, ENOEXEC,
				"%s: truncated: program headers beyond the end "
				"of the file",
				f->path);
	return 0;
}

/* Check one PT_LOAD against the file and guest RAM. */
static int elf_check_load(struct cowvm *vm, struct elf_file *f, size_t i,
			  const GElf_Phdr *ph)
{
	uint64_t end = ph->p_paddr + ph->p_memsz;

	if (ph->p_filesz > ph->p_memsz)
		return vmm_fail(vm, ENOEXEC,
				"%s: segment %zu: file size 0x%llx exceeds "
				"memory size 0x%llx",
				f->path, i, (unsigned long long)ph->p_filesz,
				(unsigned long long)ph->p_memsz);
	if (ph->p_offset > f->size || ph->p_filesz > f->size - ph->p_offset)
		return vmm_fail(vm, ENOEXEC,
				"%s: truncated: segment %zu data "
				"[0x%llx, +0x%llx) beyond the end of the file "
				"(0x%llx bytes)",
				f->path, i, (unsigned long long)ph->p_offset,
				(unsigned long long)ph->p_filesz,
				(unsigned long long)f->size);
	if (end < ph->p_paddr || ph->p_paddr < COWVM_LOAD_MIN ||
	    !vmm_gpa(vm, ph->p_paddr, ph->p_memsz))
		return vmm_fail(
			vm, ENOEXEC,
			"%s: segment %zu outside guest memory at 0x%llx "
			"(size 0x%llx; RAM is 0x%llx bytes, loads "
			"start at 0x%llx)",
			f->path, i, (unsigned long long)ph->p_paddr,
			(unsigned long long)ph->p_memsz,
			(unsigned long long)vm->cfg.mem_size, COWVM_LOAD_MIN);
	return 0;
}

/* Copy one checked PT_LOAD into RAM and zero its tail. */
static int elf_copy_load(struct cowvm *vm, struct elf_file *f, size_t i,
			 const GElf_Phdr *ph)
{
	uint8_t *dst = vmm_gpa_write(vm, ph->p_paddr, ph->p_memsz);
	uint64_t done = 0;

	while (done < ph->p_filesz) {
		ssize_t n = pread(f->fd, dst + done, ph->p_filesz - done,
				  (off_t)(ph->p_offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return vmm_fail(vm, n < 0 ? errno : ENOEXEC,
					"%s: segment %zu: short read", f->path,
					i);
		done += (uint64_t)n;
	}
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

/* Whether entry lies inside an executable PT_LOAD (checked ones). */
static int elf_entry_ok(struct elf_file *f, uint64_t entry)
{
	for (size_t i = 0; i < f->phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(f->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if ((ph.p_flags & PF_X) && entry >= ph.p_paddr &&
		    entry - ph.p_paddr < ph.p_memsz)
			return 1;
	}
	return 0;
}

/* Check every PT_LOAD and the entry point, then copy the segments. */
static int elf_load_segments(struct cowvm *vm, struct elf_file *f)
{
	size_t loads = 0;
	int err = 0;

	for (int pass = 0; pass < 2 && !err; pass++) {
		for (size_t i = 0; i < f->phnum && !err; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(f->elf, (int)i, &ph))
				return vmm_fail(vm, ENOEXEC,
						"%s: bad program header %zu",
						f->path, i);
			if (ph.p_type != PT_LOAD)
				continue;
			loads += pass == 0;
			err = pass == 0 ? elf_check_load(vm, f, i, &ph)
					: elf_copy_load(vm, f, i, &ph);
		}
		if (!err && pass == 0 && !loads)
			err = vmm_fail(vm, ENOEXEC, "%s: no PT_LOAD segment",
				       f->path);
		if (!err && pass == 0 && !elf_entry_ok(f, f->ehdr.e_entry))
			err = vmm_fail(vm, ENOEXEC,
				       "%s: entry point 0x%llx is not inside a "
				       "loaded executable segment",
				       f->path,
				       (unsigned long long)f->ehdr.e_entry);
	}
	return err;
}

/* Open path and fill f->fd and f->size. */
static int elf_open(struct cowvm *vm, struct elf_file *f)
{
	struct stat st;

	f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return vmm_fail(vm, errno, "%s: cannot open: %m", f->path);
	if (fstat(f->fd, &st) < 0)
		return vmm_fail(vm, errno, "%s: cannot stat: %m", f->path);
	if (!S_ISREG(st.st_mode))
		return vmm_fail(vm, ENOEXEC, "%s: not a regular file", f->path);
	f->size = (uint64_t)st.st_size;
	return 0;
}

/* Validate and load every PT_LOAD of path; *entry = e_entry; 0 or -errno. */
int vmm_elf_load(struct cowvm *vm, const char *path, uint64_t *entry)
{
	struct elf_file f = {.path = path, .fd = -1};
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return vmm_fail(vm, ENOSYS, "libelf is out of date");
	err = elf_open(vm, &f);
	if (!err)
		err = elf_check_ident(vm, &f);
	if (!err)
		err = elf_check_ehdr(vm, &f);
	if (!err)
		err = elf_load_segments(vm, &f);
	if (!err)
		*entry = f.ehdr.e_entry;
	if (f.elf)
		elf_end(f.elf);
	if (f.fd >= 0)
		close(f.fd);
	return err;
}
