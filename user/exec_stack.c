/*
 * exec_stack: checks the initial stack execve built for this program
 * against Linux x86_64's layout (create_elf_tables in fs/binfmt_elf.c,
 * copy_strings in fs/exec.c). Runs the same on Linux and on Tine; the
 * host tests of xtask run it on Linux to keep these checks honest.
 *
 * Then the segments execve mapped (load_elf_binary's elf_map): the data
 * and the bss start as the file says, read-only data matches the file
 * byte for byte, and a write to it (after mprotect) copies the page: the
 * file, a later exec of the same program and the parent of a forked
 * child still see the old bytes.
 *
 * Prints its arguments, environment and auxiliary vector, then PASS/FAIL
 * lines (tine_test.h). Exit status 0 if every check passed.
 */
#include "tine_test.h"

#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
void _start(void);

/* Linux 4.19's order of the entries create_elf_tables writes. */
static const unsigned long order[] = {
	AT_SYSINFO_EHDR, AT_HWCAP, AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT,
	AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID, AT_EUID, AT_GID,
	AT_EGID, AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_PLATFORM,
};
#define NORDER (sizeof order / sizeof order[0])

static unsigned long *auxv;

static int aux_index(unsigned long type)
{
	for (int i = 0; auxv[2 * i] != AT_NULL; i++)
		if (auxv[2 * i] == type)
			return i;
	return -1;
}

static unsigned long aux(unsigned long type)
{
	int i = aux_index(type);

	return i < 0 ? 0 : auxv[2 * i + 1];
}

static void show(const char *what, int i, const char *s)
{
	tine_puts(what);
	tine_puts("[");
	tine_putnum(i);
	tine_puts("] = \"");
	tine_puts(s);
	tine_puts("\"\n");
}

/* Read-only data spanning pages, so one of its pages holds nothing else. */
static const char rodata[3 * 4096] __attribute__((aligned(4096))) =
	"exec_stack rodata: mapped from the file, copied on write";
static long data_word = 0x5eed5eedL;
static char bss_pages[3 * 4096];
static long bss_word;

/* The compiler may assume const and never-written data keep their
 * initial values: read them as memory. */
#define PEEK(x) (*(volatile __typeof__(x) *)&(x))

/* The file offset of the byte at `addr`, from the program headers. */
static long file_offset_of(const void *addr)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)aux(AT_PHDR);

	for (unsigned long i = 0; i < aux(AT_PHNUM); i++) {
		uintptr_t a = (uintptr_t)addr, v = ph[i].p_vaddr;

		if (ph[i].p_type == PT_LOAD && a >= v && a < v + ph[i].p_filesz)
			return (long)(ph[i].p_offset + (a - v));
	}
	return -1;
}

/* The exec'd copy (argv[1] = "--rodata-child"): exit 0 if rodata is the
 * file's, 1 if it shows another process's write. */
static int rodata_child(void)
{
	return PEEK(rodata[0]) == 'e' ? 0 : 1;
}

static void segments(const char *self)
{
	char file[64];
	long off = file_offset_of(rodata);
	int fd = open(self, O_RDONLY), status = -1;
	char *page = (char *)rodata;
	pid_t pid;
	int zero = 1;

	CHECK_EQ("segments.data", PEEK(data_word), 0x5eed5eedL);
	for (unsigned long i = 0; i < sizeof bss_pages; i++)
		zero &= PEEK(bss_pages[i]) == 0;
	CHECK("segments.bss_zero", zero && PEEK(bss_word) == 0);
	REQUIRE("segments.open_self", fd >= 0 && off >= 0);
	CHECK("segments.rodata_is_file",
	      pread(fd, file, sizeof file, off) == sizeof file &&
	      memcmp(file, rodata, sizeof file) == 0);
	REQUIRE("segments.mprotect_rw",
		mprotect(page, 4096, PROT_READ | PROT_WRITE) == 0);
	PEEK(page[0]) = 'X';
	CHECK("segments.write_private",
	      pread(fd, file, 1, off) == 1 && file[0] == 'e' && PEEK(rodata[0]) == 'X');
	pid = fork();
	if (pid == 0) {
		PEEK(page[0]) = 'Y';
		_exit(PEEK(rodata[0]) == 'Y' ? 0 : 1);
	}
	CHECK("segments.fork_child_copies",
	      waitpid(pid, &status, 0) == pid && status == 0 && PEEK(rodata[0]) == 'X');
	pid = fork();
	if (pid == 0) {
		char *av[] = { (char *)self, "--rodata-child", NULL };

		execve(self, av, environ);
		_exit(2);
	}
	CHECK("segments.exec_sees_file",
	      waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	close(fd);
}

int main(int argc, char **argv)
{
	char **envp = environ;
	int envc = 0;

	if (argc == 2 && strcmp(argv[1], "--rodata-child") == 0)
		return rodata_child();

	while (envp[envc])
		envc++;
	auxv = (unsigned long *)(envp + envc + 1);

	for (int i = 0; i < argc; i++)
		show("argv", i, argv[i]);
	for (int i = 0; i < envc; i++)
		show("envp", i, envp[i]);
	for (int i = 0; auxv[2 * i] != AT_NULL; i++) {
		tine_puts("auxv ");
		tine_putnum((long long)auxv[2 * i]);
		tine_puts(" = ");
		tine_putnum((long long)auxv[2 * i + 1]);
		tine_puts("\n");
	}

	/* argc, argv[], NULL, envp[], NULL, auxv: sp points at argc. */
	REQUIRE("stack.sp_aligned", ((uintptr_t)argv - 8) % 16 == 0);
	CHECK_EQ("stack.argc", ((long *)argv)[-1], argc);
	CHECK("stack.argv_null", argv[argc] == NULL);
	CHECK("stack.envp_after_argv", envp == argv + argc + 1);

	/* The auxiliary vector. */
	CHECK_EQ("auxv.pagesz", aux(AT_PAGESZ), 4096);
	CHECK_EQ("auxv.phent", aux(AT_PHENT), sizeof(Elf64_Phdr));
	CHECK("auxv.phnum", aux(AT_PHNUM) > 0);
	CHECK_EQ("auxv.base", aux(AT_BASE), 0); /* static: no interpreter */
	CHECK_EQ("auxv.flags", aux(AT_FLAGS), 0);
	CHECK_EQ("auxv.entry", aux(AT_ENTRY), (uintptr_t)_start);
	CHECK_EQ("auxv.clktck", aux(AT_CLKTCK), 100);
	CHECK_EQ("auxv.secure", aux(AT_SECURE), 0);
	{
		int last = -1, ok = 1;

		for (unsigned i = 0; i < NORDER; i++) {
			int at = aux_index(order[i]);

			if (at < 0) {
				if (order[i] != AT_SYSINFO_EHDR && order[i] != AT_HWCAP2) {
					tine_fail("auxv.complete", "an entry Linux always writes is missing");
					tine_puts("  missing type ");
					tine_putnum((long long)order[i]);
					tine_puts("\n");
					ok = 0;
				}
				continue;
			}
			if (at < last)
				ok = 0;
			last = at;
		}
		CHECK("auxv.linux_order", ok);
	}
	{
		const Elf64_Phdr *ph = (const Elf64_Phdr *)aux(AT_PHDR);
		int entry_mapped = 0;

		REQUIRE("auxv.phdr", ph != NULL);
		for (unsigned long i = 0; i < aux(AT_PHNUM); i++)
			if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X) &&
			    aux(AT_ENTRY) - ph[i].p_vaddr < ph[i].p_memsz)
				entry_mapped = 1;
		CHECK("auxv.phdr_maps_entry", entry_mapped);
	}

	/* The strings: argv[0] lowest, then envp, then the filename, then 8
	 * zero bytes at the (page-aligned) top of the stack. */
	{
		const char *p = argc > 0 ? argv[0] : envc > 0 ? envp[0] : (const char *)aux(AT_EXECFN);
		int ok = 1;

		for (int i = 0; i < argc; i++) {
			ok &= argv[i] == p;
			p += strlen(p) + 1;
		}
		for (int i = 0; i < envc; i++) {
			ok &= envp[i] == p;
			p += strlen(p) + 1;
		}
		CHECK("strings.contiguous", ok);
		CHECK("strings.execfn_follows", (unsigned long)p == aux(AT_EXECFN));
		p += strlen(p) + 1;
		CHECK("strings.end_marker", *(const unsigned long *)p == 0);
		CHECK_EQ("strings.top_aligned", ((uintptr_t)p + 8) % 4096, 0);
	}

	/* AT_RANDOM's 16 bytes right below the platform string, which ends on
	 * a 16-byte boundary; the auxv ends less than 16 bytes below them. */
	{
		const char *platform = (const char *)aux(AT_PLATFORM);
		unsigned long random = aux(AT_RANDOM);
		int n = 0;

		while (auxv[2 * n] != AT_NULL)
			n++;
		CHECK_STR("platform.string", platform, "x86_64");
		CHECK_EQ("platform.aligned_end", ((uintptr_t)platform + 7) % 16, 0);
		CHECK("random.below_platform", random + 16 == (uintptr_t)platform);
		CHECK("random.above_auxv",
		      random >= (uintptr_t)&auxv[2 * n + 2] &&
		      random - (uintptr_t)&auxv[2 * n + 2] < 16);
	}
	segments((const char *)aux(AT_EXECFN));
	return tine_done();
}
