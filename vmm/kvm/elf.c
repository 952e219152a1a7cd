/* ELF64 x86-64 files with libelf, every field validated: the reader that
 * the kernel loader here and the Linux-program loader share, and the
 * kernel loader. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm_elf.h"

/* Open f->path, a regular file, and fill f->fd and f->size. */
static int elf_open_file(struct cowvm *vm, struct vmm_elf *f)
{
	struct stat st;

	f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return vmm_fail(vm, errno, "%s: %s", f->path, strerror(errno));
	if (fstat(f->fd, &st) < 0)
		return vmm_fail(vm, errno, "%s: %s", f->path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return vmm_fail(vm, EACCES,
				"%s: is a directory, not a regular file",
				f->path);
	if (!S_ISREG(st.st_mode))
		return vmm_fail(vm, EACCES, "%s: not a regular file", f->path);
	f->size = (uint64_t)st.st_size;
	return 0;
}

/* The identification bytes, read ourselves for precise messages: an
 * ELF64, little-endian. */
static int elf_check_ident(struct cowvm *vm, struct vmm_elf *f)
{
	unsigned char id[EI_NIDENT];
	ssize_t n = pread(f->fd, id, sizeof(id), 0);

	if (n < 0)
		return vmm_fail(vm, errno, "%s: %s", f->path, strerror(errno));
	if (n < SELFMAG || memcmp(id, ELFMAG, SELFMAG))
		return vmm_fail(vm, ENOEXEC, "%s: not an ELF executable",
				f->path);
	if (n < EI_NIDENT || f->size < sizeof(Elf64_Ehdr))
		return vmm_fail(vm, ENOEXEC,
				"%s: truncated (the ELF header ends past the "
				"file)",
				f->path);
	if (id[EI_CLASS] == ELFCLASS32)
		return vmm_fail(vm, ENOEXEC,
				"%s: 32-bit ELF: only x86-64 executables run",
				f->path);
	if (id[EI_CLASS] != ELFCLASS64 || id[EI_DATA] != ELFDATA2LSB)
		return vmm_fail(vm, ENOEXEC,
				"%s: not an ELF executable (class %u, byte "
				"order %u)",
				f->path, id[EI_CLASS], id[EI_DATA]);
	return 0;
}

/* The ELF header: x86-64, program headers of the right size inside the
 * file. */
static int elf_check_ehdr(struct cowvm *vm, struct vmm_elf *f)
{
	f->elf = elf_begin(f->fd, ELF_C_READ, NULL);
	if (!f->elf || elf_kind(f->elf) != ELF_K_ELF ||
	    !gelf_getehdr(f->elf, &f->ehdr))
		return vmm_fail(vm, ENOEXEC, "%s: not an ELF executable (%s)",
				f->path, elf_errmsg(-1));
	if (f->ehdr.e_machine != EM_X86_64)
		return vmm_fail(vm, ENOEXEC,
				"%s: wrong machine: ELF for machine %u, not "
				"x86-64",
				f->path, f->ehdr.e_machine);
	f->phnum = f->ehdr.e_phnum;
	if (f->phnum == 0 || f->phnum == PN_XNUM ||
	    f->ehdr.e_phentsize != sizeof(Elf64_Phdr))
		return vmm_fail(vm, ENOEXEC,
				"%s: not an ELF executable (%zu program "
				"headers of %u bytes)",
				f->path, f->phnum, f->ehdr.e_phentsize);
	if (f->ehdr.e_phoff > f->size ||
	    f->phnum * sizeof(Elf64_Phdr) > f->size - f->ehdr.e_phoff)
		return vmm_fail(vm, ENOEXEC,
				"%s: truncated (the program headers end past "
				"the file)",
				f->path);
	return 0;
}

/* Open and check path as an ELF64 x86-64 file (vmm_elf.h). */
int vmm_elf_open(struct cowvm *vm, const char *path, struct vmm_elf *f)
{
	int err;

	memset(f, 0, sizeof(*f));
	f->path = path;
	f->fd = -1;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return vmm_fail(vm, ENOSYS, "libelf is out of date");
	err = elf_open_file(vm, f);
	if (!err)
		err = elf_check_ident(vm, f);
	if (!err)
		err = elf_check_ehdr(vm, f);
	return err;
}

/* Program header i of f. */
int vmm_elf_phdr(struct cowvm *vm, const struct vmm_elf *f, size_t i,
		 GElf_Phdr *ph)
{
	if (!gelf_getphdr(f->elf, (int)i, ph))
		return vmm_fail(vm, ENOEXEC, "%s: bad program header %zu (%s)",
				f->path, i, elf_errmsg(-1));
	return 0;
}

/* Segment i's file bytes: no more than its memory, inside the file. */
int vmm_elf_check_data(struct cowvm *vm, const struct vmm_elf *f, size_t i,
		       const GElf_Phdr *ph)
{
	if (ph->p_filesz > ph->p_memsz)
		return vmm_fail(vm, ENOEXEC,
				"%s: segment %zu: file size 0x%llx exceeds "
				"memory size 0x%llx",
				f->path, i, (unsigned long long)ph->p_filesz,
				(unsigned long long)ph->p_memsz);
	if (ph->p_offset > f->size || ph->p_filesz > f->size - ph->p_offset)
		return vmm_fail(vm, ENOEXEC,
				"%s: truncated (segment %zu ends past the "
				"file)",
				f->path, i);
	return 0;
}

/* Read len bytes at off into dst, retrying short reads. */
int vmm_elf_read(struct cowvm *vm, const struct vmm_elf *f, size_t i, void *dst,
		 uint64_t off, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t n = pread(f->fd, (char *)dst + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return vmm_fail(vm, n < 0 ? errno : EIO,
					"%s: segment %zu: short read", f->path,
					i);
		done += (uint64_t)n;
	}
	return 0;
}

/* Release what vmm_elf_open holds. */
void vmm_elf_close(struct vmm_elf *f)
{
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	f->elf = NULL;
	f->fd = -1;
}

/* A kernel PT_LOAD: its data in the file, its memory in guest RAM at or
 * above COWVM_LOAD_MIN. */
static int elf_check_load(struct cowvm *vm, const struct vmm_elf *f, size_t i,
			  const GElf_Phdr *ph)
{
	uint64_t end = ph->p_paddr + ph->p_memsz;
	int err = vmm_elf_check_data(vm, f, i, ph);

	if (err)
		return err;
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

/* Copy one checked kernel PT_LOAD into RAM and zero its tail. */
static int elf_copy_load(struct cowvm *vm, const struct vmm_elf *f, size_t i,
			 const GElf_Phdr *ph)
{
	uint8_t *dst = vmm_gpa_write(vm, ph->p_paddr, ph->p_memsz);
	int err = vmm_elf_read(vm, f, i, dst, ph->p_offset, ph->p_filesz);

	if (!err)
		memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return err;
}

/* Whether entry lies inside an executable PT_LOAD (checked ones). */
static int elf_entry_ok(const struct vmm_elf *f, uint64_t entry)
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
static int elf_load_segments(struct cowvm *vm, const struct vmm_elf *f)
{
	size_t loads = 0;
	int err = 0;

	for (int pass = 0; pass < 2 && !err; pass++) {
		for (size_t i = 0; i < f->phnum && !err; i++) {
			GElf_Phdr ph;

			err = vmm_elf_phdr(vm, f, i, &ph);
			if (err || ph.p_type != PT_LOAD)
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

/* Validate and load every PT_LOAD of path; *entry = e_entry; 0 or -errno. */
int vmm_elf_load(struct cowvm *vm, const char *path, uint64_t *entry)
{
	struct vmm_elf f;
	int err = vmm_elf_open(vm, path, &f);

	if (!err && f.ehdr.e_type != ET_EXEC)
		err = vmm_fail(vm, ENOEXEC,
			       "%s: ELF type %u is not an executable (ET_EXEC)",
			       path, f.ehdr.e_type);
	if (!err)
		err = elf_load_segments(vm, &f);
	if (!err)
		*entry = f.ehdr.e_entry;
	vmm_elf_close(&f);
	return err;
}
