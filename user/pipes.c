/*
 * pipes: pipe(2) and pipe2(2) as pipe(7) describes them, checked the same
 * way on Linux and Tine: data in order, end of file when the last writer
 * closes, EPIPE and SIGPIPE when no reader is left, O_NONBLOCK's EAGAIN
 * and the 64 KiB capacity, PIPE_BUF atomicity between two writers,
 * blocking reads woken by another process, and a pipe as an exec'd
 * program's standard output; then posix_spawn, which needs pipe2.
 */
#include "tine_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *hello_path = "/bin/hello";
extern char **environ;

/* Read until end of file or `max` bytes. */
static long read_all(int fd, char *buf, long max)
{
	long got = 0;

	while (got < max) {
		ssize_t n = read(fd, buf + got, max - got);
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

static int wait_status(pid_t pid)
{
	int status = -1;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static void basics(void)
{
	int p[2];
	char buf[64];
	struct stat st;

	REQUIRE("pipe.ok", pipe(p) == 0);
	CHECK("pipe.fds_distinct", p[0] >= 0 && p[1] >= 0 && p[0] != p[1]);
	CHECK("pipe.fstat_fifo", fstat(p[0], &st) == 0 && S_ISFIFO(st.st_mode));
	CHECK("pipe.lseek_espipe", lseek(p[0], 0, SEEK_CUR) == -1 && errno == ESPIPE);
	CHECK("pipe.read_end_not_writable", write(p[0], "x", 1) == -1 && errno == EBADF);
	CHECK("pipe.write_end_not_readable", read(p[1], buf, 1) == -1 && errno == EBADF);
	CHECK_EQ("pipe.write", (long)write(p[1], "hello, pipe", 11), 11L);
	int avail = -1;
	CHECK("pipe.fionread", ioctl(p[0], FIONREAD, &avail) == 0 && avail == 11);
	CHECK_EQ("pipe.short_read", (long)read(p[0], buf, 5), 5L);
	CHECK_EQ("pipe.rest", (long)read(p[0], buf + 5, sizeof buf - 5), 6L);
	CHECK("pipe.in_order", memcmp(buf, "hello, pipe", 11) == 0);
	close(p[1]);
	CHECK_EQ("pipe.eof_no_writers", (long)read(p[0], buf, sizeof buf), 0L);
	close(p[0]);

	CHECK("pipe.efault", pipe((int *)8) == -1 && errno == EFAULT);
	CHECK("pipe2.bad_flags", pipe2(p, 0x1) == -1 && errno == EINVAL);

	REQUIRE("pipe2.ok", pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	CHECK("pipe2.cloexec", fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC);
	CHECK("pipe2.nonblock", (fcntl(p[0], F_GETFL) & O_NONBLOCK) && (fcntl(p[1], F_GETFL) & O_NONBLOCK));
	CHECK("pipe2.accmode", (fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY &&
	      (fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY);
	CHECK("nonblock.empty_eagain", read(p[0], buf, 1) == -1 && errno == EAGAIN);

	/* Fill it: Linux's default capacity is 16 pages. */
	static char block[1024];
	long total = 0;
	for (;;) {
		ssize_t n = write(p[1], block, sizeof block);
		if (n < 0)
			break;
		total += n;
	}
	CHECK("nonblock.full_eagain", errno == EAGAIN);
	CHECK_EQ("pipe.capacity_64k", total, 65536L);
	close(p[0]);
	close(p[1]);
}

static void epipe(void)
{
	int p[2];

	/* Default SIGPIPE: the writer dies of it. */
	REQUIRE("epipe.pipe", pipe(p) == 0);
	close(p[0]);
	pid_t c = fork();
	if (c == 0) {
		write(p[1], "x", 1);
		_exit(0);
	}
	int st = wait_status(c);
	CHECK("epipe.sigpipe_kills", WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);

	/* Ignored SIGPIPE: the write fails with EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	CHECK("epipe.errno", write(p[1], "x", 1) == -1 && errno == EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
}

/* The child writes 200,000 bytes of a pattern; the parent reads them all,
 * then end of file: exercises both sides blocking on a full/empty pipe. */
static void stream(void)
{
	int p[2];
	static char buf[200000];
	enum { N = sizeof buf };

	REQUIRE("stream.pipe", pipe(p) == 0);
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		for (int i = 0; i < N; i++)
			buf[i] = (char)(i * 7);
		_exit(write(p[1], buf, N) == N ? 0 : 1);
	}
	close(p[1]);
	long got = read_all(p[0], buf, N);
	CHECK_EQ("stream.all_bytes", got, (long)N);
	int ok = 1;
	for (int i = 0; i < got; i++)
		ok &= buf[i] == (char)(i * 7);
	CHECK("stream.pattern", ok);
	char x;
	CHECK_EQ("stream.eof", (long)read(p[0], &x, 1), 0L);
	int st = wait_status(c);
	CHECK("stream.writer_exit_0", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p[0]);
}

/* A reader blocked on an empty pipe is woken by a writer in another
 * process, and by end of file when the last writer goes. */
static void wakeup(void)
{
	int p[2], back[2];

	REQUIRE("wakeup.pipes", pipe(p) == 0 && pipe(back) == 0);
	pid_t c = fork();
	if (c == 0) {
		char b[8];
		close(p[1]);
		close(back[0]);
		ssize_t n = read(p[0], b, sizeof b); /* blocks */
		write(back[1], n == 4 && memcmp(b, "ping", 4) == 0 ? "ok" : "no", 2);
		n = read(p[0], b, sizeof b); /* blocks until the parent closes */
		_exit(n == 0 ? 0 : 1);
	}
	close(p[0]);
	close(back[1]);
	usleep(50000);
	write(p[1], "ping", 4);
	char r[2] = { 0, 0 };
	CHECK("wakeup.reader_got_data", read(back[0], r, 2) == 2 && r[0] == 'o' && r[1] == 'k');
	usleep(20000);
	close(p[1]);
	int st = wait_status(c);
	CHECK("wakeup.reader_saw_eof", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(back[0]);
}

/* Two writers each write 4096-byte blocks of their own letter: PIPE_BUF
 * writes are atomic, so every 4096-byte block read back is one letter. */
static void atomic_writes(void)
{
	int p[2];
	enum { BLOCKS = 24, SZ = 4096 };
	static char buf[2 * BLOCKS * SZ];

	REQUIRE("atomic.pipe", pipe(p) == 0);
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			char blk[SZ];
			close(p[0]);
			memset(blk, 'a' + k, SZ);
			for (int i = 0; i < BLOCKS; i++)
				if (write(p[1], blk, SZ) != SZ)
					_exit(1);
			_exit(0);
		}
	}
	close(p[1]);
	long got = read_all(p[0], buf, sizeof buf);
	CHECK_EQ("atomic.all_bytes", got, (long)sizeof buf);
	int ok = 1, na = 0;
	for (long b = 0; b + SZ <= got; b += SZ) {
		for (int i = 1; i < SZ; i++)
			ok &= buf[b + i] == buf[b];
		na += buf[b] == 'a';
	}
	CHECK("atomic.blocks_uniform", ok);
	CHECK_EQ("atomic.blocks_per_writer", (long)na, (long)BLOCKS);
	for (int k = 0; k < 2; k++) {
		int st = wait_status(kids[k]);
		CHECK("atomic.writer_ok", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	close(p[0]);
}

/* The pipe as an exec'd program's stdout, as a shell pipeline sets it up. */
static void exec_stdout(void)
{
	int p[2];
	char buf[128];

	REQUIRE("exec.pipe", pipe(p) == 0);
	pid_t c = fork();
	if (c == 0) {
		char *av[] = { (char *)hello_path, 0 };
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execve(hello_path, av, environ);
		_exit(99);
	}
	close(p[1]);
	long n = read_all(p[0], buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	CHECK("exec.stdout_through_pipe", strstr(buf, "hello from user space") != 0);
	int st = wait_status(c);
	CHECK("exec.status_7", WIFEXITED(st) && WEXITSTATUS(st) == 7);
	close(p[0]);
}

/* posix_spawn: musl's uses clone(CLONE_VM|CLONE_VFORK) and a CLOEXEC pipe
 * to learn whether the exec worked. */
static void spawn(void)
{
	pid_t pid = -1;
	char *av[] = { (char *)hello_path, 0 };
	int p[2];
	posix_spawn_file_actions_t fa;

	REQUIRE("spawn.pipe", pipe(p) == 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	CHECK_EQ("spawn.ok", (long)posix_spawn(&pid, hello_path, &fa, 0, av, environ), 0L);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	char buf[128];
	long n = read_all(p[0], buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	CHECK("spawn.output", strstr(buf, "hello from user space") != 0);
	int st = wait_status(pid);
	CHECK("spawn.status_7", WIFEXITED(st) && WEXITSTATUS(st) == 7);
	close(p[0]);

	char *bad[] = { "/nonexistent", 0 };
	CHECK_EQ("spawn.enoent", (long)posix_spawn(&pid, "/nonexistent", 0, 0, bad, environ), (long)ENOENT);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		hello_path = argv[1];
	basics();
	epipe();
	stream();
	wakeup();
	atomic_writes();
	exec_stdout();
	spawn();
	return tine_done();
}
