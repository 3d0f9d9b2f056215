/*
 * mman: memory mappings across fork, checked the same way on Linux and
 * Tine. Copy-on-write isolation both ways, MAP_SHARED anonymous memory and
 * shared file mappings (seen through read(2) and across fork), mprotect
 * (a write to PROT_READ memory kills the child with SIGSEGV), private
 * file mappings (the file's pages until written, then a copy), madvise
 * MADV_DONTNEED, munmap of a middle part, MAP_FIXED(_NOREPLACE), mremap.
 *
 * Children that are expected to die of SIGSEGV rely on RLIMIT_CORE being
 * 0 on the host (the usual soft limit), so no core file is left behind.
 */
#define _GNU_SOURCE
#include "tine_test.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PG 4096L

static volatile int global = 1;

/* Run fn in a child; return its wait status (or -1). */
static int in_child(void (*fn)(void *), void *arg)
{
	int status = -1;
	pid_t c = fork();

	if (c == 0) {
		fn(arg);
		_exit(0);
	}
	if (c < 0 || waitpid(c, &status, 0) != c)
		return -1;
	return status;
}

static int killed_by_segv(int status)
{
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

static int exited_0(int status)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void write_byte(void *p)
{
	*(volatile char *)p = 1;
}

static void read_byte(void *p)
{
	(void)*(volatile char *)p;
}

static void test_cow(void)
{
	volatile int *flag = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status = -1;

	REQUIRE("cow.shared_flag_mmap", flag != MAP_FAILED);
	/* The child writes: the parent keeps its value. */
	global = 1;
	pid_t c = fork();
	if (c == 0) {
		global = 2;
		_exit(global == 2 ? 0 : 1);
	}
	CHECK_EQ("cow.child_write_wait", (long)waitpid(c, &status, 0), (long)c);
	CHECK("cow.child_sees_own_write", exited_0(status));
	CHECK_EQ("cow.parent_unchanged", global, 1);

	/* The parent writes while the child waits: the child keeps its value. */
	*flag = 0;
	c = fork();
	if (c == 0) {
		while (*flag == 0)
			sched_yield();
		_exit(global == 1 ? 0 : 1);
	}
	global = 3;
	*flag = 1;
	CHECK_EQ("cow.parent_write_wait", (long)waitpid(c, &status, 0), (long)c);
	CHECK("cow.child_unchanged", exited_0(status));
	CHECK_EQ("cow.parent_sees_own_write", global, 3);

	/* Many pages, written by both sides after the fork. */
	enum { N = 64 };
	char *buf = mmap(0, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("cow.buf_mmap", buf != MAP_FAILED);
	for (long i = 0; i < N; i++)
		buf[i * PG] = (char)i;
	*flag = 0;
	c = fork();
	if (c == 0) {
		int bad = 0;
		for (long i = 0; i < N; i++)
			buf[i * PG] = (char)(100 + i);
		*flag = 1;
		while (*flag != 2)
			sched_yield();
		for (long i = 0; i < N; i++)
			bad += buf[i * PG] != (char)(100 + i);
		_exit(bad);
	}
	while (*flag != 1)
		sched_yield();
	int bad = 0;
	for (long i = 0; i < N; i++)
		bad += buf[i * PG] != (char)i;
	CHECK_EQ("cow.pages_parent_after_child_writes", bad, 0);
	for (long i = 0; i < N; i++)
		buf[i * PG] = (char)(50 + i);
	*flag = 2;
	CHECK_EQ("cow.pages_wait", (long)waitpid(c, &status, 0), (long)c);
	CHECK("cow.pages_child_after_parent_writes", exited_0(status));
	munmap(buf, N * PG);
	munmap((void *)flag, PG);
}

static void test_shared_anon(void)
{
	int status = -1;
	char *p = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	REQUIRE("shared_anon.mmap", p != MAP_FAILED);
	p[0] = 7; /* present at fork */
	pid_t c = fork();
	if (c == 0) {
		p[0] = 42;
		p[PG] = 43; /* first touched after the fork */
		_exit(0);
	}
	CHECK_EQ("shared_anon.wait", (long)waitpid(c, &status, 0), (long)c);
	CHECK_EQ("shared_anon.present_page", p[0], 42);
	CHECK_EQ("shared_anon.new_page", p[PG], 43);
	CHECK_EQ("shared_anon.munmap", munmap(p, 2 * PG), 0);
}

/* A new two-page file in /tmp named after `what`, filled with `fill`;
 * its name goes to `path` (64 bytes). */
static int open_filled(const char *what, char *path, char fill)
{
	static char data[2 * PG];
	char name[64];
	int fd;

	snprintf(path, 64, "/tmp/tine_%s_%d", what, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	snprintf(name, sizeof name, "%s.open", what);
	REQUIRE(name, fd >= 0);
	memset(data, fill, sizeof data);
	snprintf(name, sizeof name, "%s.write", what);
	REQUIRE(name, write(fd, data, sizeof data) == (ssize_t)sizeof data);
	return fd;
}

static void test_shared_file(void)
{
	char path[64], buf[16];
	int status = -1;
	int fd = open_filled("shared_file", path, 'a');
	char *p = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE("shared_file.mmap", p != MAP_FAILED);
	CHECK_EQ("shared_file.sees_file", p[PG + 5], 'a');
	/* A store through the mapping is in the file. */
	memcpy(p + 5000, "tine", 4);
	memset(buf, 0, sizeof buf);
	lseek(fd, 5000, SEEK_SET);
	CHECK_EQ("shared_file.read_after_store", (long)read(fd, buf, 4), 4L);
	CHECK_STR("shared_file.store_in_file", buf, "tine");
	/* A write(2) is seen through the mapping. */
	lseek(fd, 10, SEEK_SET);
	CHECK_EQ("shared_file.write2", (long)write(fd, "XY", 2), 2L);
	CHECK("shared_file.write_in_mapping", p[10] == 'X' && p[11] == 'Y');
	/* The child's store reaches the file too. */
	pid_t c = fork();
	if (c == 0) {
		p[100] = 'C';
		_exit(0);
	}
	CHECK_EQ("shared_file.child_wait", (long)waitpid(c, &status, 0), (long)c);
	lseek(fd, 100, SEEK_SET);
	CHECK("shared_file.child_store_in_file", read(fd, buf, 1) == 1 && buf[0] == 'C');
	/* An offset mapping sees the second page. */
	char *q = mmap(0, PG, PROT_READ, MAP_SHARED, fd, PG);
	REQUIRE("shared_file.mmap_offset", q != MAP_FAILED);
	CHECK("shared_file.offset_page", memcmp(q + 5000 - PG, "tine", 4) == 0);
	munmap(q, PG);
	CHECK_EQ("shared_file.munmap", munmap(p, 2 * PG), 0);
	close(fd);
	/* PROT_WRITE with MAP_SHARED needs a file open for writing. */
	fd = open(path, O_RDONLY);
	errno = 0;
	CHECK("shared_file.rdonly_write_eacces", mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES);
	q = mmap(0, PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK("shared_file.rdonly_read", q != MAP_FAILED && q[10] == 'X');
	errno = 0;
	CHECK("shared_file.mprotect_write_eacces", mprotect(q, PG, PROT_READ | PROT_WRITE) == -1 && errno == EACCES);
	munmap(q, PG);
	close(fd);
	unlink(path);
}

/* MAP_PRIVATE of a file: the pages are the file's until this mapping
 * writes one (then a private copy); a write(2) to the file is seen in the
 * pages not yet copied; MADV_DONTNEED drops a copy and brings the file's
 * page back; a forked child's store stays in the child. */
static void test_private_file(void)
{
	char path[64], buf[8];
	int status = -1;
	int fd = open_filled("private_file", path, 'f');
	char *p = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	REQUIRE("private_file.mmap", p != MAP_FAILED);
	CHECK("private_file.sees_file", p[0] == 'f' && p[PG + 7] == 'f');
	p[1] = 'M';
	CHECK("private_file.store_not_in_file", pread(fd, buf, 2, 0) == 2 && buf[0] == 'f' && buf[1] == 'f');
	CHECK_EQ("private_file.pwrite", (long)pwrite(fd, "WW", 2, PG + 3), 2L);
	CHECK("private_file.sees_later_write", p[PG + 3] == 'W' && p[PG + 4] == 'W');
	CHECK_EQ("private_file.pwrite_copied", (long)pwrite(fd, "ZZ", 2, 0), 2L);
	CHECK("private_file.copy_keeps_own", p[0] == 'f' && p[1] == 'M');
	pid_t c = fork();
	if (c == 0) {
		p[PG] = 'C';
		_exit(p[PG] == 'C' ? 0 : 1);
	}
	CHECK("private_file.child_store_private", waitpid(c, &status, 0) == c && status == 0 &&
	      p[PG] == 'f' && pread(fd, buf, 1, PG) == 1 && buf[0] == 'f');
	CHECK_EQ("private_file.madvise", madvise(p, PG, MADV_DONTNEED), 0);
	CHECK("private_file.dontneed_rereads_file", p[0] == 'Z' && p[1] == 'Z');
	char *q = mmap(0, PG, PROT_READ, MAP_PRIVATE, fd, PG);
	CHECK("private_file.offset", q != MAP_FAILED && q[3] == 'W' && q[5] == 'f');
	munmap(q, PG);
	munmap(p, 2 * PG);
	close(fd);
	unlink(path);
}

static void test_mprotect(void)
{
	char *p = mmap(0, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE("mprotect.mmap", p != MAP_FAILED);
	p[0] = 5;
	p[PG] = 6;
	CHECK_EQ("mprotect.read_only", mprotect(p + PG, PG, PROT_READ), 0);
	CHECK("mprotect.read_ok", exited_0(in_child(read_byte, p + PG)));
	CHECK("mprotect.write_segv", killed_by_segv(in_child(write_byte, p + PG)));
	CHECK("mprotect.neighbour_still_writable", exited_0(in_child(write_byte, p)));
	CHECK_EQ("mprotect.none", mprotect(p + PG, PG, PROT_NONE), 0);
	CHECK("mprotect.none_read_segv", killed_by_segv(in_child(read_byte, p + PG)));
	CHECK_EQ("mprotect.back_to_rw", mprotect(p, 3 * PG, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ("mprotect.data_kept", p[PG], 6);
	p[PG] = 9;
	CHECK_EQ("mprotect.writable_again", p[PG], 9);
	CHECK_EQ("mprotect.cow_kept", p[0], 5);
	/* Raw: musl's mprotect() rounds the address down itself. */
	errno = 0;
	CHECK("mprotect.unaligned_einval", syscall(SYS_mprotect, p + 1, PG, PROT_READ) == -1 && errno == EINVAL);
	munmap(p, 3 * PG);
	errno = 0;
	CHECK("mprotect.unmapped_enomem", mprotect(p, PG, PROT_READ) == -1 && errno == ENOMEM);
}

static void test_madvise(void)
{
	char *p = mmap(0, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE("madvise.mmap", p != MAP_FAILED);
	memset(p, 0x55, 3 * PG);
	CHECK_EQ("madvise.dontneed", madvise(p, 2 * PG, MADV_DONTNEED), 0);
	CHECK("madvise.zeroed", p[0] == 0 && p[PG] == 0 && p[2 * PG - 1] == 0);
	CHECK_EQ("madvise.rest_kept", p[2 * PG], 0x55);
	p[0] = 1;
	CHECK_EQ("madvise.usable_again", p[0], 1);
	errno = 0;
	CHECK("madvise.bad_advice_einval", madvise(p, PG, 12345) == -1 && errno == EINVAL);
	munmap(p, 3 * PG);
}

static void test_munmap_split(void)
{
	char *p = mmap(0, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE("munmap.mmap", p != MAP_FAILED);
	p[0] = 1;
	p[PG] = 2;
	p[2 * PG] = 3;
	CHECK_EQ("munmap.middle", munmap(p + PG, PG), 0);
	CHECK("munmap.ends_kept", p[0] == 1 && p[2 * PG] == 3);
	CHECK("munmap.hole_segv", killed_by_segv(in_child(read_byte, p + PG)));
	errno = 0;
	CHECK("munmap.noreplace_eexist", mmap(p, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED && errno == EEXIST);
	char *q = mmap(p + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK("munmap.noreplace_into_hole", q == p + PG && q[0] == 0);
	/* MAP_FIXED replaces what was there. */
	q = mmap(p, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK("munmap.fixed_replaces", q == p && p[0] == 0 && p[2 * PG] == 3);
	munmap(p, 3 * PG);
}

static void test_mremap(void)
{
	char *p = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE("mremap.mmap", p != MAP_FAILED);
	/* Block growing in place, so the mapping has to move. */
	char *block = mmap(p + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	p[0] = 77;
	errno = 0;
	CHECK("mremap.no_move_enomem", block != p + PG || (mremap(p, PG, 4 * PG, 0) == MAP_FAILED && errno == ENOMEM));
	char *q = mremap(p, PG, 4 * PG, MREMAP_MAYMOVE);
	REQUIRE("mremap.grow", q != MAP_FAILED);
	CHECK_EQ("mremap.data_moved", q[0], 77);
	q[3 * PG] = 1;
	CHECK_EQ("mremap.new_part_zero", q[PG], 0);
	CHECK("mremap.old_gone", q == p || killed_by_segv(in_child(read_byte, p)));
	char *r = mremap(q, 4 * PG, PG, 0);
	CHECK("mremap.shrink_in_place", r == q && r[0] == 77);
	munmap(r, PG);
	munmap(block, PG);
}

/* Nonsense arguments are errors with Linux's errno, never a crash. */
static void test_bad_args(void)
{
	char *p = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE("bad.mmap", p != MAP_FAILED);
#define FAILS_WITH(name, call, err) do { errno = 0; long r_ = (long)(call); \
	CHECK(name, r_ == -1 && errno == (err)); } while (0)
	FAILS_WITH("bad.mmap_len_overflow", syscall(SYS_mmap, 0, -1UL, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), ENOMEM);
	FAILS_WITH("bad.mmap_len_huge", syscall(SYS_mmap, 0, 1UL << 62, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), ENOMEM);
	FAILS_WITH("bad.mmap_len_zero", syscall(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
	FAILS_WITH("bad.mmap_no_type", syscall(SYS_mmap, 0, PG, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
	FAILS_WITH("bad.mmap_badf", syscall(SYS_mmap, 0, PG, PROT_READ, MAP_SHARED, 999, 0), EBADF);
	int null = open("/dev/null", O_RDWR);
	FAILS_WITH("bad.mmap_dev_null", syscall(SYS_mmap, 0, PG, PROT_READ, MAP_SHARED, null, 0), ENODEV);
	close(null);
	FAILS_WITH("bad.munmap_len_overflow", syscall(SYS_munmap, p, -1UL), EINVAL);
	FAILS_WITH("bad.mprotect_len_overflow", syscall(SYS_mprotect, p, -1UL, PROT_READ), ENOMEM);
	FAILS_WITH("bad.madvise_len_overflow", syscall(SYS_madvise, p, -1UL, MADV_DONTNEED), EINVAL);
	FAILS_WITH("bad.mremap_len_overflow", syscall(SYS_mremap, p, PG, -1UL, MREMAP_MAYMOVE, 0), EINVAL);
	FAILS_WITH("bad.mremap_unmapped", syscall(SYS_mremap, (char *)0x10000, PG, 2 * PG, MREMAP_MAYMOVE, 0), EFAULT);
	CHECK_EQ("bad.mapping_still_fine", (p[0] = 3), 3);
	munmap(p, PG);
}

int main(void)
{
	test_cow();
	test_shared_anon();
	test_shared_file();
	test_private_file();
	test_mprotect();
	test_madvise();
	test_munmap_split();
	test_mremap();
	test_bad_args();
	return tine_done();
}
