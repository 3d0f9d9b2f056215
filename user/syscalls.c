/*
 * syscalls: the basic process, file and memory system calls, checked the
 * same way on Linux and on Tine (Linux is the oracle: this program must
 * pass on both). Runs as init in the VM (rdinit=/bin/syscalls) or as a
 * normal program on a Linux host.
 */
#include "tine_test.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The program fork+exec runs: /bin/hello in the VM, argv[1] on a host. */
static const char *hello_path = "/bin/hello";

static void test_ids(void)
{
	pid_t pid = getpid();

	CHECK("ids.getpid_positive", pid > 0);
	CHECK_EQ("ids.gettid_is_pid", (long)syscall(SYS_gettid), (long)pid);
	if (pid == 1)
		CHECK_EQ("ids.init_ppid_is_0", (long)getppid(), 0L);
	CHECK_EQ("ids.getuid_root_or_user", getuid() == geteuid(), 1);
}

static void test_uname(void)
{
	struct utsname u;

	REQUIRE("uname.ok", uname(&u) == 0);
	CHECK_STR("uname.sysname", u.sysname, "Linux");
	CHECK_STR("uname.machine", u.machine, "x86_64");
	CHECK("uname.release_nonempty", u.release[0] != 0);
	errno = 0;
	CHECK_EQ("uname.efault", (long)syscall(SYS_uname, (void *)0), -1L);
	CHECK_EQ("uname.efault_errno", errno, EFAULT);
}

static void test_files(void)
{
	char buf[64];
	struct stat st;
	int fd = open("/tmp/t1", O_CREAT | O_RDWR | O_TRUNC, 0644);

	REQUIRE("files.open_creat", fd >= 0);
	CHECK_EQ("files.write", (long)write(fd, "hello, file", 11), 11L);
	CHECK_EQ("files.lseek_set", (long)lseek(fd, 7, SEEK_SET), 7L);
	memset(buf, 0, sizeof buf);
	CHECK_EQ("files.read_tail", (long)read(fd, buf, sizeof buf), 4L);
	CHECK_STR("files.read_bytes", buf, "file");
	CHECK_EQ("files.read_eof", (long)read(fd, buf, sizeof buf), 0L);
	REQUIRE("files.fstat", fstat(fd, &st) == 0);
	CHECK_EQ("files.fstat_size", (long)st.st_size, 11L);
	CHECK("files.fstat_isreg", S_ISREG(st.st_mode));
	CHECK_EQ("files.stat_size", stat("/tmp/t1", &st) == 0 ? (long)st.st_size : -1L, 11L);
	int fd2 = dup(fd);
	CHECK("files.dup_new_fd", fd2 > fd);
	CHECK_EQ("files.dup_shares_offset", (long)lseek(fd2, 0, SEEK_CUR), 11L);
	CHECK_EQ("files.dup2", dup2(fd, 20), 20);
	CHECK_EQ("files.fcntl_getfd", fcntl(fd, F_GETFD), 0);
	CHECK_EQ("files.fcntl_setfd", fcntl(fd, F_SETFD, FD_CLOEXEC), 0);
	CHECK_EQ("files.fcntl_cloexec", fcntl(fd, F_GETFD), FD_CLOEXEC);
	CHECK_EQ("files.close", close(fd2), 0);
	errno = 0;
	CHECK_EQ("files.close_twice", close(fd2), -1);
	CHECK_EQ("files.ebadf", errno, EBADF);
	errno = 0;
	CHECK_EQ("files.enoent", open("/no/such/file", O_RDONLY), -1);
	CHECK_EQ("files.enoent_errno", errno, ENOENT);
	close(fd);
	close(20);
	int null = open("/dev/null", O_WRONLY);
	CHECK_EQ("files.dev_null_write", (long)write(null, buf, 10), 10L);
	close(null);
	CHECK("files.getcwd", getcwd(buf, sizeof buf) != 0 && buf[0] == '/');
}

static void test_dirs(void)
{
	char dir[64], a[80], l[80], buf[16];
	int n = 0, seen = 0;
	struct dirent *d;
	struct stat st;

	snprintf(dir, sizeof dir, "/tmp/tine_tdir_%d", (int)getpid());
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(l, sizeof l, "%s/l", dir);
	REQUIRE("dirs.mkdir", mkdir(dir, 0755) == 0);
	errno = 0;
	CHECK_EQ("dirs.mkdir_eexist", mkdir(dir, 0755), -1);
	CHECK_EQ("dirs.eexist_errno", errno, EEXIST);
	close(open(a, O_CREAT | O_WRONLY, 0644));
	CHECK_EQ("dirs.symlink", symlink("a", l), 0);
	memset(buf, 0, sizeof buf);
	CHECK_EQ("dirs.readlink_len", (long)readlink(l, buf, sizeof buf), 1L);
	CHECK_STR("dirs.readlink", buf, "a");
	CHECK_EQ("dirs.access_f_ok", access(a, F_OK), 0);
	errno = 0;
	CHECK_EQ("dirs.access_enoent", access("/no/such", F_OK), -1);
	CHECK_EQ("dirs.access_enoent_errno", errno, ENOENT);
	DIR *dp = opendir(dir);
	REQUIRE("dirs.opendir", dp != 0);
	while ((d = readdir(dp)) != 0) {
		n++;
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			seen |= 1;
		else if (!strcmp(d->d_name, "a"))
			seen |= 2;
		else if (!strcmp(d->d_name, "l") && d->d_type == DT_LNK)
			seen |= 4;
	}
	closedir(dp);
	CHECK_EQ("dirs.readdir_count", n, 4);
	CHECK_EQ("dirs.readdir_names", seen, 7);
	errno = 0;
	CHECK_EQ("dirs.rmdir_notempty", rmdir(dir), -1);
	CHECK_EQ("dirs.notempty_errno", errno, ENOTEMPTY);
	CHECK_EQ("dirs.unlink_link", unlink(l), 0);
	CHECK_EQ("dirs.unlink_file", unlink(a), 0);
	CHECK_EQ("dirs.rmdir", rmdir(dir), 0);
	errno = 0;
	CHECK_EQ("dirs.gone", stat(dir, &st), -1);
	CHECK_EQ("dirs.gone_errno", errno, ENOENT);
}

static void test_memory(void)
{
	char *p = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE("mm.mmap_anon", p != MAP_FAILED);
	CHECK_EQ("mm.mmap_zeroed", p[4096 + 17], 0);
	p[0] = 'a';
	p[3 * 4096 - 1] = 'z';
	CHECK_EQ("mm.mmap_rw", p[0] + p[3 * 4096 - 1], 'a' + 'z');
	CHECK_EQ("mm.munmap", munmap(p, 3 * 4096), 0);
	/* A user copy that runs into an unmapped page stops at the exact
	 * byte: read(2) of a file returns what fit before the hole (13 bytes
	 * here, a word and five bytes), and one that starts in the hole is
	 * EFAULT. */
	{
		char *q = mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int fd = open("/tmp/partial", O_CREAT | O_RDWR | O_TRUNC, 0644);
		const char *text = "0123456789abcdefghijklmnopqrstuvwxyzABCD";

		REQUIRE("mm.partial_setup", q != MAP_FAILED && fd >= 0 &&
			write(fd, text, 40) == 40 && munmap(q + 4096, 4096) == 0);
		CHECK_EQ("mm.read_partial", (long)pread(fd, q + 4096 - 13, 40, 0), 13L);
		CHECK("mm.read_partial_bytes", memcmp(q + 4096 - 13, text, 13) == 0);
		errno = 0;
		CHECK("mm.read_efault", pread(fd, q + 4096, 40, 0) == -1 && errno == EFAULT);
		CHECK_EQ("mm.write_partial", (long)pwrite(fd, q + 4096 - 21, 40, 0), 21L);
		lseek(fd, 0, SEEK_SET);
		CHECK("mm.read_partial_pos", read(fd, q + 4096 - 5, 40) == 5 &&
		      lseek(fd, 0, SEEK_CUR) == 5);
		close(fd);
		unlink("/tmp/partial");
		munmap(q, 4096);
	}
	/* musl's sbrk() only answers sbrk(0): use the system call. */
	char *cur = (char *)syscall(SYS_brk, 0);
	CHECK_EQ("mm.brk_grow", (long)syscall(SYS_brk, cur + 8192), (long)(cur + 8192));
	memset(cur, 0x5a, 8192);
	CHECK_EQ("mm.brk_rw", ((unsigned char *)cur)[8191], 0x5a);
	CHECK_EQ("mm.brk_shrink", (long)syscall(SYS_brk, cur), (long)cur);
	errno = 0;
	CHECK("mm.mmap_einval", mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
}

static void test_time(void)
{
	struct timespec a, b, d = { 0, 20 * 1000 * 1000 };

	REQUIRE("time.clock_gettime", clock_gettime(CLOCK_MONOTONIC, &a) == 0);
	CHECK_EQ("time.nanosleep", nanosleep(&d, 0), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	CHECK("time.slept_20ms", ms >= 20 && ms < 2000);
	unsigned char r[32] = { 0 };
	CHECK_EQ("random.getrandom", (long)getrandom(r, sizeof r, 0), 32L);
	CHECK_EQ("sched.yield", sched_yield(), 0);
}

static void test_fork_exec(void)
{
	int status = -1;
	pid_t child = fork();

	if (child == 0) {
		char *argv[] = { (char *)hello_path, 0 };
		char *envp[] = { "TINE=1", 0 };
		execve(hello_path, argv, envp);
		_exit(99);
	}
	/* After the child's branch: only the parent prints the result. */
	REQUIRE("fork.ok", child >= 0);
	CHECK_EQ("fork.wait4_pid", (long)waitpid(child, &status, 0), (long)child);
	CHECK("fork.child_exited", WIFEXITED(status));
	CHECK_EQ("fork.exec_status", WEXITSTATUS(status), 7);
	errno = 0;
	CHECK_EQ("fork.echild", (long)waitpid(-1, &status, WNOHANG), -1L);
	CHECK_EQ("fork.echild_errno", errno, ECHILD);
	child = fork();
	if (child == 0)
		*(volatile int *)0 = 1;
	CHECK_EQ("fork.segv_pid", (long)waitpid(child, &status, 0), (long)child);
	CHECK("fork.segv_signaled", WIFSIGNALED(status) && WTERMSIG(status) == 11);
	errno = 0;
	CHECK_EQ("exec.enoent", execve("/no/such", (char *[]){ 0 }, (char *[]){ 0 }), -1);
	CHECK_EQ("exec.enoent_errno", errno, ENOENT);
	errno = 0;
	CHECK_EQ("exec.eacces_dir", execve("/tmp", (char *[]){ 0 }, (char *[]){ 0 }), -1);
	CHECK_EQ("exec.eacces_errno", errno, EACCES);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		hello_path = argv[1];
	test_ids();
	test_uname();
	test_files();
	test_dirs();
	test_memory();
	test_time();
	test_fork_exec();
	return tine_done();
}
