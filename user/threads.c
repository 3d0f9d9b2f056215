/*
 * threads: thread groups (musl pthreads over clone(CLONE_THREAD|...) and
 * futex), process groups and sessions, and the wait family's corners,
 * checked the same way on Linux and Tine: getpid/gettid, join values and
 * the CLEARTID futex wake, a shared counter under a mutex, exit_group from
 * a thread, a leader that leaves first (the process lives on), signals to
 * a process reaching the thread that does not block them, a fatal signal
 * killing every thread, exec from a threaded process (from the leader,
 * and from another thread, which takes over the leader's pid), clone's EINVAL
 * combinations, __WCLONE, waitid's WNOWAIT, setpgid/setsid/getsid,
 * kill(-pgrp) and PR_SET_CHILD_SUBREAPER.
 */
#define _GNU_SOURCE
#include "tine_test.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *hello_path = "/bin/hello";
extern char **environ;

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static int wait_status(pid_t pid)
{
	int st = -1;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

/* ---- threads ---------------------------------------------------------- */

static volatile pid_t thread_pid, thread_tid, thread_ppid;

static void *ids(void *arg)
{
	thread_pid = getpid();
	thread_tid = gettid_();
	thread_ppid = getppid();
	return (char *)arg + 1;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *add(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return 0;
}

static void *exits_early(void *arg)
{
	(void)arg;
	pthread_exit((void *)42);
	return 0;
}

static void *set_nofile_100(void *arg)
{
	struct rlimit rl;

	(void)arg;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 100;
	return (void *)(long)setrlimit(RLIMIT_NOFILE, &rl);
}

static long tv_us(struct timeval tv)
{
	return tv.tv_sec * 1000000L + tv.tv_usec;
}

static void *spin_100ms(void *arg)
{
	struct timespec a, b;

	(void)arg;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	do {
		for (volatile int i = 0; i < 100000; i++)
			;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	} while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 100000000L);
	return 0;
}

/* Limits and CPU time belong to the process, not to one thread. */
static void process_wide(void)
{
	pthread_t t;
	struct rlimit old, now;
	void *ret;

	getrlimit(RLIMIT_NOFILE, &old);
	pthread_create(&t, 0, set_nofile_100, 0);
	pthread_join(t, &ret);
	getrlimit(RLIMIT_NOFILE, &now);
	CHECK("rlimit.shared_by_threads", ret == 0 && now.rlim_cur == 100);
	setrlimit(RLIMIT_NOFILE, &old);

	struct rusage self0, self1, mine;
	getrusage(RUSAGE_SELF, &self0);
	pthread_create(&t, 0, spin_100ms, 0);
	pthread_join(t, 0);
	getrusage(RUSAGE_SELF, &self1);
	getrusage(RUSAGE_THREAD, &mine);
	long grew = tv_us(self1.ru_utime) + tv_us(self1.ru_stime) - tv_us(self0.ru_utime) - tv_us(self0.ru_stime);
	CHECK("rusage.self_counts_exited_thread", grew >= 80000);
	CHECK("rusage.thread_is_only_mine", tv_us(mine.ru_utime) + tv_us(mine.ru_stime) < tv_us(self1.ru_utime) + tv_us(self1.ru_stime));
}

static void basics(void)
{
	pthread_t t;
	void *ret = 0;
	char base;

	REQUIRE("pthread_create", pthread_create(&t, 0, ids, &base) == 0);
	CHECK("pthread_join", pthread_join(t, &ret) == 0);
	CHECK("join.value", ret == &base + 1);
	CHECK_EQ("thread.getpid_is_tgid", (long)thread_pid, (long)getpid());
	CHECK("thread.own_tid", thread_tid != getpid() && thread_tid > 0);
	CHECK_EQ("thread.getppid", (long)thread_ppid, (long)getppid());
	CHECK_EQ("main.gettid_is_pid", (long)gettid_(), (long)getpid());

	pthread_t ts[4];
	counter = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&ts[i], 0, add, 0);
	for (int i = 0; i < 4; i++)
		pthread_join(ts[i], 0);
	CHECK_EQ("mutex.counter", counter, 80000L);

	pthread_create(&t, 0, exits_early, 0);
	pthread_join(t, &ret);
	CHECK("pthread_exit.value", ret == (void *)42);

	/* Many short threads: tids are released and the process stays sane. */
	int ok = 1;
	for (int i = 0; i < 200; i++) {
		if (pthread_create(&t, 0, ids, &base) != 0 || pthread_join(t, 0) != 0)
			ok = 0;
	}
	CHECK("threads.200_create_join", ok);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

static void *exit_group_5(void *arg)
{
	(void)arg;
	usleep(20000);
	exit(5);
	return 0;
}

static void *exit_7_later(void *arg)
{
	(void)arg;
	usleep(50000);
	exit(7);
	return 0;
}

/* Re-exec this program as `--ids <pid> <ppid>`: it exits 0 if its ids
 * are those (see ids_after_exec). */
static void *exec_from_thread(void *arg)
{
	char pid[16], ppid[16];
	const char *self = (const char *)getauxval(AT_EXECFN);
	char *av[] = { (char *)self, "--ids", pid, ppid, 0 };

	(void)arg;
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(ppid, sizeof ppid, "%d", (int)getppid());
	execve(self, av, environ);
	_exit(99);
}

/* After exec from a thread: pid, tid and parent are the old leader's,
 * and tgkill finds this thread by that pid. */
static int ids_after_exec(pid_t want, pid_t want_ppid)
{
	return getpid() == want && gettid_() == want && getppid() == want_ppid &&
	       syscall(SYS_tgkill, want, want, 0) == 0 ? 0 : 1;
}

static void group_exit(void)
{
	pthread_t t;

	/* exit() in a thread ends every thread; the status is the thread's. */
	pid_t c = fork();
	if (c == 0) {
		pthread_create(&t, 0, sleeper, 0);
		pthread_create(&t, 0, exit_group_5, 0);
		for (;;)
			pause();
	}
	int st = wait_status(c);
	CHECK("exit_group.from_thread", WIFEXITED(st) && WEXITSTATUS(st) == 5);

	/* The leader leaves with pthread_exit: the process lives on in its
	 * other thread, and is reported only when that one ends. */
	c = fork();
	if (c == 0) {
		pthread_create(&t, 0, exit_7_later, 0);
		pthread_exit(0);
	}
	usleep(10000);
	int st2 = 0;
	CHECK_EQ("leader_gone.not_reaped_yet", (long)waitpid(c, &st2, WNOHANG), 0L);
	st = wait_status(c);
	CHECK("leader_gone.status_of_last", WIFEXITED(st) && WEXITSTATUS(st) == 7);

	/* A fatal signal to the process kills all its threads. */
	c = fork();
	if (c == 0) {
		for (int i = 0; i < 3; i++)
			pthread_create(&t, 0, sleeper, 0);
		for (;;)
			pause();
	}
	usleep(50000);
	kill(c, SIGTERM);
	st = wait_status(c);
	CHECK("fatal_signal.kills_group", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);

	/* exec from the main thread of a threaded process. */
	c = fork();
	if (c == 0) {
		char *av[] = { (char *)hello_path, 0 };
		pthread_create(&t, 0, sleeper, 0);
		usleep(10000);
		execve(hello_path, av, environ);
		_exit(99);
	}
	st = wait_status(c);
	CHECK("exec.kills_other_threads", WIFEXITED(st) && WEXITSTATUS(st) == 7);

	/* exec from a thread that is not the leader: it takes over the
	 * leader's pid (de_thread), so the new program's tid is the pid the
	 * parent forked, and the parent reaps it under that pid. */
	c = fork();
	if (c == 0) {
		pthread_create(&t, 0, exec_from_thread, 0);
		for (;;)
			pause();
	}
	st = wait_status(c);
	CHECK("exec.from_thread_takes_leader_pid", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static volatile pid_t usr1_tid;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_tid = gettid_();
}

static volatile pid_t worker_tid;

static void *unblocked_worker(void *arg)
{
	sigset_t none;

	(void)arg;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, 0);
	worker_tid = gettid_();
	while (!usr1_tid)
		usleep(1000);
	return 0;
}

static void process_signals(void)
{
	sigset_t block;
	pthread_t t;

	signal(SIGUSR1, on_usr1);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, 0);
	usr1_tid = 0;
	pthread_create(&t, 0, unblocked_worker, 0);
	while (!worker_tid)
		usleep(1000);
	kill(getpid(), SIGUSR1);
	pthread_join(t, 0);
	CHECK_EQ("kill.goes_to_unblocked_thread", (long)usr1_tid, (long)worker_tid);
	pthread_sigmask(SIG_UNBLOCK, &block, 0);

	usr1_tid = 0;
	syscall(SYS_tgkill, getpid(), getpid(), SIGUSR1);
	CHECK_EQ("tgkill.main_thread", (long)usr1_tid, (long)getpid());
	signal(SIGUSR1, SIG_DFL);
}

/* ---- clone flags and the wait family --------------------------------- */

static int clone_child(void *arg)
{
	(void)arg;
	return 9;
}

static pid_t settid_slot;
static volatile pid_t settid_seen = -1;

/* A CLONE_VM|CLONE_VFORK child: what CLONE_PARENT_SETTID put in its slot
 * by the time it runs (the parent is blocked until it exits). */
static int settid_child(void *arg)
{
	(void)arg;
	settid_seen = *(volatile pid_t *)&settid_slot;
	return 0;
}

static void clone_and_wait(void)
{
	static char stack[16384];

	CHECK("clone.thread_without_sighand",
	      syscall(SYS_clone, CLONE_THREAD | CLONE_VM, 0, 0, 0, 0) == -1 && errno == EINVAL);
	CHECK("clone.sighand_without_vm", syscall(SYS_clone, CLONE_SIGHAND, 0, 0, 0, 0) == -1 && errno == EINVAL);

	/* A child whose exit signal is not SIGCHLD is a "clone" child. */
	pid_t c = clone(clone_child, stack + sizeof stack, 0, 0);
	REQUIRE("clone.no_exit_signal", c > 0);
	usleep(20000);
	int st;
	CHECK("wait.clone_child_needs___WCLONE", waitpid(c, &st, WNOHANG) == -1 && errno == ECHILD);
	CHECK_EQ("wait.__WCLONE", (long)waitpid(c, &st, __WCLONE), (long)c);
	CHECK("wait.__WCLONE_status", WIFEXITED(st) && WEXITSTATUS(st) == 9);

	/* CLONE_PARENT_SETTID is written before the child runs (musl's
	 * threads read their tid from there): a vfork child sees it. */
	c = clone(settid_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | SIGCHLD, 0, &settid_slot);
	CHECK("clone.parent_settid_before_child_runs",
	      c > 0 && waitpid(c, &st, 0) == c && settid_seen == c && settid_slot == c);

	/* clone3 as fork: struct clone_args {flags, pidfd, child_tid,
	 * parent_tid, exit_signal, stack, stack_size, tls}. */
	unsigned long long args[8] = { 0, 0, 0, 0, SIGCHLD, 0, 0, 0 };
	c = syscall(435, args, sizeof args);
	if (c == 0)
		_exit(11);
	CHECK("clone3.fork", c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 11);
	CHECK("clone3.small_size", syscall(435, args, 32) == -1 && errno == EINVAL);

	/* CLONE_PARENT: a process's CLONE_PARENT child is its sibling, our child. */
	pid_t mid = fork();
	if (mid == 0) {
		pid_t sib = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
		if (sib == 0)
			_exit(12);
		_exit(sib > 0 && waitpid(sib, 0, WNOHANG) == -1 && errno == ECHILD ? 0 : 1);
	}
	CHECK("clone_parent.not_its_child", waitpid(mid, &st, 0) == mid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	pid_t sib = wait(&st);
	CHECK("clone_parent.our_child", sib > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 12);

	/* waitid: WNOWAIT leaves the zombie; the siginfo describes it. */
	c = fork();
	if (c == 0)
		_exit(4);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	CHECK("waitid.wnowait", waitid(P_PID, c, &si, WEXITED | WNOWAIT) == 0);
	CHECK("waitid.siginfo", si.si_pid == c && si.si_signo == SIGCHLD && si.si_code == CLD_EXITED && si.si_status == 4);
	memset(&si, 0, sizeof si);
	CHECK("waitid.reap", waitid(P_PID, c, &si, WEXITED) == 0 && si.si_pid == c);
	CHECK("waitid.gone", waitid(P_PID, c, &si, WEXITED | WNOHANG) == -1 && errno == ECHILD);
	CHECK("waitid.no_flags_einval", waitid(P_ALL, 0, &si, 0) == -1 && errno == EINVAL);

	c = fork();
	if (c == 0) {
		usleep(50000);
		_exit(0);
	}
	memset(&si, 0xff, sizeof si);
	CHECK("waitid.wnohang_none", waitid(P_PID, c, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0);
	waitpid(c, 0, 0);

	c = fork();
	if (c == 0) {
		kill(getpid(), SIGKILL);
		for (;;)
			pause();
	}
	CHECK("waitid.killed", waitid(P_PID, c, &si, WEXITED) == 0 && si.si_code == CLD_KILLED && si.si_status == SIGKILL);
}

/* ---- process groups and sessions -------------------------------------- */

static void groups(void)
{
	int p[2];
	pid_t c;
	int st;

	CHECK_EQ("getpgrp.is_getpgid0", (long)getpgrp(), (long)getpgid(0));
	CHECK_EQ("getsid.self", (long)getsid(0), (long)getsid(getpid()));
	CHECK("getpgid.esrch", getpgid(999999) == -1 && errno == ESRCH);

	/* setsid in a child: new session and group named after it. */
	pipe(p);
	c = fork();
	if (c == 0) {
		pid_t s = setsid();
		int ok = s == getpid() && getsid(0) == getpid() && getpgrp() == getpid();
		ok &= setsid() == -1 && errno == EPERM; /* already a group leader */
		ok &= setpgid(0, 0) == -1 && errno == EPERM; /* session leader */
		write(p[1], &ok, sizeof ok);
		_exit(0);
	}
	int ok = 0;
	read(p[0], &ok, sizeof ok);
	CHECK("setsid.child", ok == 1);
	waitpid(c, 0, 0);

	/* The parent puts a child in a new group; kill(-pgrp) reaches it and
	 * the grandchild it forked. */
	c = fork();
	if (c == 0) {
		setpgid(0, 0); /* before the grandchild exists, so it joins */
		pid_t g = fork();
		if (g == 0) {
			for (;;)
				pause();
		}
		char x = 1;
		write(p[1], &x, 1);
		for (;;)
			pause();
	}
	CHECK("setpgid.child", setpgid(c, c) == 0 && getpgid(c) == c);
	char x;
	read(p[0], &x, 1);
	CHECK("setpgid.not_our_child", setpgid(getppid() > 1 ? getppid() : 999999, 0) == -1 && errno == ESRCH);
	CHECK("setpgid.negative", setpgid(c, -1) == -1 && errno == EINVAL);
	CHECK("kill.pgrp", kill(-c, SIGKILL) == 0);
	st = wait_status(c);
	CHECK("kill.pgrp_killed_child", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	/* wait4(0) and wait4(-pgrp) pick children by group. */
	c = fork();
	if (c == 0) {
		setpgid(0, 0);
		_exit(3);
	}
	setpgid(c, c); /* either side may win the race */
	usleep(20000);
	/* Our only child is in another group: none of ours is eligible. */
	CHECK("wait.own_group_echild", waitpid(0, &st, WNOHANG) == -1 && errno == ECHILD);
	CHECK_EQ("wait.by_pgrp", (long)waitpid(-c, &st, 0), (long)c);
	close(p[0]);
	close(p[1]);
}

static void subreaper(void)
{
	int p[2];

	pipe(p);
	/* A middle process that is a subreaper adopts its grandchild. */
	pid_t m = fork();
	if (m == 0) {
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		int is = 0;
		prctl(PR_GET_CHILD_SUBREAPER, &is);
		pid_t c = fork();
		if (c == 0) {
			pid_t g = fork();
			if (g == 0) {
				usleep(50000);
				pid_t pp = getppid();
				write(p[1], &pp, sizeof pp);
				_exit(6);
			}
			_exit(0);
		}
		pid_t rc = waitpid(c, 0, 0);
		int st = 0;
		pid_t r = wait(&st);
		/* The exit status says what went wrong, for the check below. */
		if (is != 1)
			_exit(1);
		if (rc != c)
			_exit(2);
		if (r <= 0)
			_exit(errno == ECHILD ? 3 : 4);
		if (r == c)
			_exit(5);
		_exit(WIFEXITED(st) ? (WEXITSTATUS(st) == 6 ? 0 : 10 + WEXITSTATUS(st)) : 100 + (st & 0x7f));
	}
	pid_t pp = 0;
	read(p[0], &pp, sizeof pp);
	CHECK_EQ("subreaper.adopts_orphan", (long)pp, (long)m);
	int st = wait_status(m);
	CHECK_EQ("subreaper.reaps_it", WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--ids") == 0)
		return ids_after_exec(atoi(argv[2]), atoi(argv[3]));
	if (argc > 1)
		hello_path = argv[1];
	basics();
	process_wide();
	group_exit();
	process_signals();
	clone_and_wait();
	groups();
	subreaper();
	return tine_done();
}
