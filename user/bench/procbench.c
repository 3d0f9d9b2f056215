/*
 * procbench: process micro-benchmarks, run as init (rdinit=/bin/procbench)
 * by `cargo xtask bench` on Tine and on Linux with the same initramfs.
 *
 * Each row is timed with clock_gettime(CLOCK_MONOTONIC) around a loop (after
 * a short warm-up) and printed on standard output as one line:
 *
 *	BENCH <name> <ns_per_op> <iterations>
 *	BENCH <name> n/a <reason>	(a system call failed, e.g. ENOSYS)
 *
 * and the program ends with "BENCH done" and exit status 0 (as init, that
 * makes the kernel panic; panic=-1 then resets the machine).
 *
 * Rows: getppid; rt_sigaction (one call that installs a handler and returns
 * the old action, the same one each time); fork+_exit+waitpid;
 * vfork+_exit+waitpid; fork, open /dev/null, dup2 it to stdout, execve
 * /bin/hello, waitpid; posix_spawn of the same (stdout to /dev/null by a
 * file action) + waitpid; pthread_create+pthread_join of a thread that
 * returns at once; pipe ping-pong (two processes bouncing a byte over two
 * pipes: ns per round trip, two context switches); mmap+munmap of 64 KiB
 * anonymous memory touching each page once; and live_fork_<N> /
 * live_reap_<N> for N = 100, 1000, 10000: fork N children that sleep in
 * nanosleep (ns per fork until the last fork returns), then SIGKILL them all
 * and reap them (ns per process).
 *
 * The rows that need what a kernel may lack (posix_spawn needs pipe2 and
 * CLONE_VM, threads need clone's thread flags and futex, ping-pong needs
 * pipes) run in a child process that the parent kills after ISOLATE_SECS,
 * so a missing or broken feature prints "n/a" (the errno, "timeout_<N>s" or
 * "killed_by_signal_<N>") instead of hanging or crashing the benchmark;
 * ping-pong first checks that pipe() works at all.
 *
 * Only libc wrappers, no stdio buffering (write(2) directly).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LIVE_MAX 10000
#define ISOLATE_SECS 60
#define MAP_LEN (64 * 1024)
#define PAGE 4096

static const char *null_path = "/dev/null";

static void out(const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(1, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static long long now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return -1;
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const char *errname(int e)
{
	static char buf[24];

	switch (e) {
	case ENOSYS: return "ENOSYS";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EAGAIN: return "EAGAIN";
	case ENOENT: return "ENOENT";
	case EPERM: return "EPERM";
	case ECHILD: return "ECHILD";
	case EFAULT: return "EFAULT";
	case EBADF: return "EBADF";
	case ENOEXEC: return "ENOEXEC";
	case EACCES: return "EACCES";
	case ENOTTY: return "ENOTTY";
	case EPIPE: return "EPIPE";
	}
	snprintf(buf, sizeof buf, "errno_%d", e);
	return buf;
}

static void row(const char *name, long long ns, long iters)
{
	char buf[128];

	snprintf(buf, sizeof buf, "BENCH %s %lld %ld\n", name, ns / iters, iters);
	out(buf);
}

static void row_na(const char *name, const char *what, int err)
{
	char buf[160];

	if (err)
		snprintf(buf, sizeof buf, "BENCH %s n/a %s:%s\n", name, what, errname(err));
	else
		snprintf(buf, sizeof buf, "BENCH %s n/a %s\n", name, what);
	out(buf);
}

/*
 * One operation of a loop benchmark: returns 0, or sets *what (and errno,
 * or 0 when there is no errno to report) and returns -1.
 */
typedef int (*op_fn)(const char **what);

static int op_getppid(const char **what)
{
	(void)what;
	return getppid() < 0 ? -1 : 0;
}

static void handler(int sig)
{
	(void)sig;
}

static int op_sigaction(const char **what)
{
	struct sigaction act, old;

	memset(&act, 0, sizeof act);
	act.sa_handler = handler;
	act.sa_flags = SA_RESTART;
	if (sigaction(SIGUSR1, &act, &old) != 0) {
		*what = "rt_sigaction";
		return -1;
	}
	return 0;
}

static int wait_exit(pid_t pid, int want, const char **what)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		*what = "waitpid";
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != want) {
		*what = WIFEXITED(status) && WEXITSTATUS(status) == 127
			? "child_exec_failed" : "child_bad_status";
		errno = 0;
		return -1;
	}
	return 0;
}

static int op_fork_exit(const char **what)
{
	pid_t pid = fork();

	if (pid < 0) {
		*what = "fork";
		return -1;
	}
	if (pid == 0)
		_exit(0);
	return wait_exit(pid, 0, what);
}

static int op_fork_exec(const char **what)
{
	static char *const argv[] = { "/bin/hello", NULL };
	static char *const envp[] = { NULL };
	pid_t pid = fork();

	if (pid < 0) {
		*what = "fork";
		return -1;
	}
	if (pid == 0) {
		int fd = open(null_path, O_WRONLY);

		if (fd < 0 || dup2(fd, 1) != 1)
			_exit(126);
		close(fd);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	/* /bin/hello exits with status 7. */
	return wait_exit(pid, 7, what);
}

static int op_vfork_exit(const char **what)
{
	pid_t pid = vfork();

	if (pid < 0) {
		*what = "vfork";
		return -1;
	}
	if (pid == 0)
		_exit(0);
	return wait_exit(pid, 0, what);
}

static int op_posix_spawn(const char **what)
{
	static char *const argv[] = { "/bin/hello", NULL };
	static char *const envp[] = { NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int err;

	if ((err = posix_spawn_file_actions_init(&fa)) != 0 ||
	    (err = posix_spawn_file_actions_addopen(&fa, 1, null_path, O_WRONLY, 0)) != 0) {
		*what = "posix_spawn_file_actions";
		errno = err;
		return -1;
	}
	err = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (err != 0) {
		*what = "posix_spawn";
		errno = err;
		return -1;
	}
	return wait_exit(pid, 7, what);
}

static void *thread_fn(void *arg)
{
	return arg;
}

static int op_pthread(const char **what)
{
	static int token;
	pthread_t t;
	void *ret = NULL;
	int err = pthread_create(&t, NULL, thread_fn, &token);

	if (err != 0) {
		*what = "pthread_create";
		errno = err;
		return -1;
	}
	err = pthread_join(t, &ret);
	if (err != 0 || ret != &token) {
		*what = err ? "pthread_join" : "pthread_join_bad_value";
		errno = err;
		return -1;
	}
	return 0;
}

static int op_mmap(const char **what)
{
	char *p = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		*what = "mmap";
		return -1;
	}
	for (size_t off = 0; off < MAP_LEN; off += PAGE)
		((volatile char *)p)[off] = 1;
	if (munmap(p, MAP_LEN) != 0) {
		*what = "munmap";
		return -1;
	}
	return 0;
}

static void loop_bench(const char *name, op_fn op, long iters)
{
	const char *what = "?";
	long warm = iters / 100 > 0 ? iters / 100 : 1;
	long long t0, t1;

	for (long i = 0; i < warm; i++) {
		if (op(&what) != 0) {
			row_na(name, what, errno);
			return;
		}
	}
	t0 = now_ns();
	for (long i = 0; i < iters; i++) {
		if (op(&what) != 0) {
			row_na(name, what, errno);
			return;
		}
	}
	t1 = now_ns();
	if (t0 < 0 || t1 < 0) {
		row_na(name, "clock_gettime", errno);
		return;
	}
	row(name, t1 - t0, iters);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Runs fn (which prints the row's BENCH line) in a child process, which the
 * parent SIGKILLs if it is still running after ISOLATE_SECS; the row is n/a
 * if the child could not be made, timed out or died of a signal.
 */
static void isolated(const char *name, void (*fn)(void))
{
	char why[48];
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		row_na(name, "fork", errno);
		return;
	}
	if (pid == 0) {
		fn();
		_exit(0);
	}
	for (long waited = 0; waited < ISOLATE_SECS * 1000L; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			if (WIFSIGNALED(status)) {
				snprintf(why, sizeof why, "killed_by_signal_%d", WTERMSIG(status));
				row_na(name, why, 0);
			}
			return;
		}
		if (r < 0) {
			row_na(name, "waitpid", errno);
			return;
		}
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	snprintf(why, sizeof why, "timeout_%ds", ISOLATE_SECS);
	row_na(name, why, 0);
}

static void posix_spawn_row(void)
{
	loop_bench("posix_spawn_wait", op_posix_spawn, 300);
}

static void pthread_row(void)
{
	loop_bench("pthread_create_join", op_pthread, 2000);
}

#define PINGPONG_ITERS 10000

/* Two processes bounce a byte over two pipes; ns per round trip. */
static void pingpong_row(void)
{
	const char *name = "pipe_pingpong";
	int to_child[2], to_parent[2], status;
	long long t0 = 0, t1;
	char c = 'x';
	pid_t pid;

	if (pipe(to_child) != 0 || pipe(to_parent) != 0) {
		row_na(name, "pipe", errno);
		return;
	}
	pid = fork();
	if (pid < 0) {
		row_na(name, "fork", errno);
		return;
	}
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		while (read(to_child[0], &c, 1) == 1)
			if (write(to_parent[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	for (long i = 0; i < PINGPONG_ITERS + PINGPONG_ITERS / 100; i++) {
		if (i == PINGPONG_ITERS / 100)
			t0 = now_ns();
		if (write(to_child[1], &c, 1) != 1) {
			row_na(name, "write", errno);
			return;
		}
		if (read(to_parent[0], &c, 1) != 1) {
			row_na(name, "read", errno);
			return;
		}
	}
	t1 = now_ns();
	close(to_child[1]);
	waitpid(pid, &status, 0);
	row(name, t1 - t0, PINGPONG_ITERS);
}

/* pipe() works at all: a cheap probe before forking for ping-pong. */
static void pingpong_probe_and_run(void)
{
	int p[2];

	if (pipe(p) != 0) {
		row_na("pipe_pingpong", "pipe", errno);
		return;
	}
	close(p[0]);
	close(p[1]);
	isolated("pipe_pingpong", pingpong_row);
}

static pid_t live[LIVE_MAX];

/* SIGKILLs and reaps live[0..n); returns 0 or -1 with *what set. */
static int kill_and_reap(int n, const char **what)
{
	int status, err = 0;

	for (int i = 0; i < n; i++)
		if (kill(live[i], SIGKILL) != 0 && !err) {
			err = errno;
			*what = "kill";
		}
	for (int i = 0; i < n; i++)
		if (waitpid(live[i], &status, 0) != live[i] && !err) {
			err = errno;
			*what = "waitpid";
		}
	errno = err;
	return err ? -1 : 0;
}

static void live_bench(int n)
{
	char fork_name[32], reap_name[32];
	const char *what = "?";
	long long t0, t1, t2, t3;

	snprintf(fork_name, sizeof fork_name, "live_fork_%d", n);
	snprintf(reap_name, sizeof reap_name, "live_reap_%d", n);
	t0 = now_ns();
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			int err = errno;
			char why[48];

			snprintf(why, sizeof why, "fork_%d_of_%d", i + 1, n);
			row_na(fork_name, why, err);
			row_na(reap_name, "fork_failed", 0);
			kill_and_reap(i, &what);
			return;
		}
		if (pid == 0) {
			struct timespec ts = { .tv_sec = 600, .tv_nsec = 0 };

			nanosleep(&ts, NULL);
			_exit(0);
		}
		live[i] = pid;
	}
	t1 = now_ns();
	row(fork_name, t1 - t0, n);

	t2 = now_ns();
	if (kill_and_reap(n, &what) != 0) {
		row_na(reap_name, what, errno);
		return;
	}
	t3 = now_ns();
	row(reap_name, t3 - t2, n);
}

/* /dev/null, made (Linux's initramfs has no devtmpfs) or replaced by a file. */
static void find_null(void)
{
	int fd = open(null_path, O_WRONLY);

	if (fd < 0 && mknod(null_path, S_IFCHR | 0666, makedev(1, 3)) == 0)
		fd = open(null_path, O_WRONLY);
	if (fd < 0) {
		null_path = "/tmp/procbench.null";
		out("procbench: no /dev/null, using /tmp/procbench.null\n");
		fd = open(null_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	}
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	out("procbench: start\n");
	find_null();
	loop_bench("getppid", op_getppid, 100000);
	loop_bench("rt_sigaction", op_sigaction, 100000);
	loop_bench("fork_exit_wait", op_fork_exit, 2000);
	loop_bench("vfork_exit_wait", op_vfork_exit, 2000);
	loop_bench("fork_exec_wait", op_fork_exec, 300);
	isolated("posix_spawn_wait", posix_spawn_row);
	isolated("pthread_create_join", pthread_row);
	pingpong_probe_and_run();
	loop_bench("mmap_munmap_64k", op_mmap, 2000);
	live_bench(100);
	live_bench(1000);
	live_bench(10000);
	out("BENCH done\n");
	return 0;
}
