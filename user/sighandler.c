/*
 * sighandler: user signal handlers, checked the same way on Linux and Tine.
 * The frame (siginfo, ucontext's mask, registers and FPU state that come
 * back intact), the mask while a handler runs (sa_mask, SA_NODEFER),
 * SA_RESETHAND, SA_RESTART against EINTR, sigsuspend, sigpending, a
 * SIGSEGV handler leaving by siglongjmp, the SIGCHLD siginfo, sigaltstack,
 * raise/abort (tkill), and tgkill's tgid check.
 */
#define _GNU_SOURCE
#include "tine_test.h"

#include <errno.h>
#include <fenv.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t hits, order_pos, nested, max_nested;
static volatile int order[8];
static volatile siginfo_t last_info;
static volatile int usr1_blocked_inside, usr2_blocked_inside;
static volatile unsigned long uc_mask_word;
static volatile double fp_in_handler;
static char *volatile altstack_base;
static volatile int on_altstack;

static int install(int sig, void (*fn)(int, siginfo_t *, void *), int flags, const sigset_t *mask)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = flags | SA_SIGINFO;
	if (mask)
		sa.sa_mask = *mask;
	else
		sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, 0);
}

static void record(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	sigset_t now;

	hits++;
	last_info.si_signo = si->si_signo;
	last_info.si_code = si->si_code;
	last_info.si_pid = si->si_pid;
	last_info.si_status = si->si_status;
	sigprocmask(SIG_BLOCK, 0, &now);
	usr1_blocked_inside = sigismember(&now, SIGUSR1);
	usr2_blocked_inside = sigismember(&now, SIGUSR2);
	memcpy((void *)&uc_mask_word, &uc->uc_sigmask, sizeof uc_mask_word);
	/* Clobber the FPU registers: the interrupted code must not notice. */
	volatile double x = 1.0;
	for (int i = 0; i < 10; i++)
		x = x * 3.5 + 0.25;
	fp_in_handler = x;
	if (order_pos < 8)
		order[order_pos++] = sig;
	(void)sig;
}

static void handler_frame(void)
{
	sigset_t set;

	REQUIRE("install", install(SIGUSR1, record, 0, 0) == 0);
	hits = 0;
	double a = 1.25, b = 0.0;
	for (int i = 0; i < 4; i++)
		b += a * i; /* b == 7.5, kept in an xmm register across raise() */
	raise(SIGUSR1);
	CHECK_EQ("handler.ran_once", (long)hits, 1L);
	CHECK_EQ("handler.si_signo", (long)last_info.si_signo, (long)SIGUSR1);
	CHECK_EQ("handler.si_code_tkill", (long)last_info.si_code, (long)SI_TKILL);
	CHECK_EQ("handler.si_pid", (long)last_info.si_pid, (long)getpid());
	CHECK("handler.sig_blocked_inside", usr1_blocked_inside == 1);
	CHECK("handler.uc_sigmask_is_old_mask", (uc_mask_word & (1UL << (SIGUSR1 - 1))) == 0);
	CHECK("handler.fpu_preserved", b == 7.5 && fp_in_handler > 1000.0);
	sigprocmask(SIG_BLOCK, 0, &set);
	CHECK("handler.mask_restored", !sigismember(&set, SIGUSR1));

	/* kill() from ourselves: SI_USER. */
	kill(getpid(), SIGUSR1);
	CHECK_EQ("kill.si_code_user", (long)last_info.si_code, (long)SI_USER);
	CHECK_EQ("kill.ran", (long)hits, 2L);
}

/* sa_mask: SIGUSR2 raised inside the SIGUSR1 handler waits until it ends. */
static void usr1_raises_usr2(int sig, siginfo_t *si, void *uc)
{
	record(sig, si, uc);
	raise(SIGUSR2);
	if (order_pos < 8)
		order[order_pos++] = 100 + sig;
}

static void sa_mask_order(void)
{
	sigset_t m;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	install(SIGUSR1, usr1_raises_usr2, 0, &m);
	install(SIGUSR2, record, 0, 0);
	order_pos = 0;
	raise(SIGUSR1);
	CHECK("sa_mask.defers_usr2", order_pos == 3 && order[0] == SIGUSR1 && order[1] == 100 + SIGUSR1 && order[2] == SIGUSR2);
}

static void reenter(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	nested++;
	hits++;
	if (nested > max_nested)
		max_nested = nested;
	if (hits < 3)
		raise(sig);
	nested--;
}

static void nodefer(void)
{
	install(SIGUSR1, reenter, SA_NODEFER, 0);
	max_nested = nested = hits = 0;
	raise(SIGUSR1);
	CHECK_EQ("sa_nodefer.nests", (long)max_nested, 3L);
	install(SIGUSR1, reenter, 0, 0);
	max_nested = nested = hits = 0;
	raise(SIGUSR1);
	CHECK_EQ("default.no_nesting", (long)max_nested, 1L);
	CHECK_EQ("default.runs_after_return", (long)hits, 3L);
}

static void resethand(void)
{
	pid_t c = fork();
	if (c == 0) {
		hits = 0;
		install(SIGUSR1, record, SA_RESETHAND, 0);
		raise(SIGUSR1);
		if (hits != 1)
			_exit(1);
		raise(SIGUSR1); /* default action now: terminate */
		_exit(2);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK("sa_resethand.second_kills", WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);
}

/* A read blocked on an empty pipe, interrupted by a handler: EINTR
 * without SA_RESTART, restarted (and then completed) with it. */
static void restart(int flags, const char *name)
{
	int p[2];
	int r[2];

	pipe(p);
	pipe(r);
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		close(r[0]);
		hits = 0;
		install(SIGUSR1, record, flags, 0);
		char b;
		write(r[1], "x", 1);
		ssize_t n = read(p[0], &b, 1);
		int ok = (flags & SA_RESTART) ? (n == 1 && b == 'd' && hits == 1) : (n == -1 && errno == EINTR && hits == 1);
		_exit(ok ? 0 : 1);
	}
	(void)parent;
	close(r[1]);
	char b;
	read(r[0], &b, 1); /* the child is about to block */
	usleep(100000);
	kill(c, SIGUSR1);
	usleep(100000);
	write(p[1], "d", 1);
	int st;
	waitpid(c, &st, 0);
	CHECK(name, WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p[0]);
	close(p[1]);
	close(r[0]);
}

static void suspend(void)
{
	sigset_t block, empty, now;

	install(SIGUSR1, record, 0, 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, 0);
	hits = 0;
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		usleep(50000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	sigemptyset(&empty);
	int r = sigsuspend(&empty);
	CHECK("sigsuspend.eintr", r == -1 && errno == EINTR);
	CHECK_EQ("sigsuspend.handler_ran", (long)hits, 1L);
	sigprocmask(SIG_BLOCK, 0, &now);
	CHECK("sigsuspend.mask_back", sigismember(&now, SIGUSR1));
	waitpid(c, 0, 0);

	/* Pending while blocked, delivered on unblock. */
	hits = 0;
	raise(SIGUSR1);
	sigset_t pend;
	sigpending(&pend);
	CHECK("sigpending.shows_blocked", sigismember(&pend, SIGUSR1) && hits == 0);
	sigprocmask(SIG_UNBLOCK, &block, 0);
	CHECK_EQ("unblock.delivers", (long)hits, 1L);
}

static sigjmp_buf segv_jmp;
static volatile void *segv_addr;
static volatile unsigned long segv_target = 0x10;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	segv_addr = si->si_addr;
	last_info.si_code = si->si_code;
	siglongjmp(segv_jmp, 1);
}

static void segv(void)
{
	install(SIGSEGV, on_segv, 0, 0);
	if (sigsetjmp(segv_jmp, 1) == 0) {
		*(volatile int *)segv_target = 1;
		CHECK("segv.not_reached", 0);
	}
	CHECK("segv.si_addr", segv_addr == (void *)0x10);
	CHECK_EQ("segv.si_code_maperr", (long)last_info.si_code, (long)SEGV_MAPERR);
	sigset_t now;
	sigprocmask(SIG_BLOCK, 0, &now);
	CHECK("segv.siglongjmp_restores_mask", !sigismember(&now, SIGSEGV));
	signal(SIGSEGV, SIG_DFL);
}

static void chld(void)
{
	sigset_t block;

	install(SIGCHLD, record, 0, 0);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, 0);
	hits = 0;
	pid_t c = fork();
	if (c == 0)
		_exit(3);
	int st;
	waitpid(c, &st, 0);
	sigprocmask(SIG_UNBLOCK, &block, 0);
	CHECK_EQ("sigchld.handler", (long)hits, 1L);
	CHECK_EQ("sigchld.code", (long)last_info.si_code, (long)CLD_EXITED);
	CHECK_EQ("sigchld.pid", (long)last_info.si_pid, (long)c);
	CHECK_EQ("sigchld.status", (long)last_info.si_status, 3L);
	signal(SIGCHLD, SIG_DFL);
}

static void on_alt(int sig, siginfo_t *si, void *uc)
{
	char local;
	(void)sig;
	(void)si;
	(void)uc;
	on_altstack = &local > altstack_base && &local < altstack_base + 65536;
}

static void altstack(void)
{
	static char mem[65536];
	stack_t ss = { .ss_sp = mem, .ss_size = sizeof mem, .ss_flags = 0 }, old;

	altstack_base = mem;
	CHECK("sigaltstack.set", sigaltstack(&ss, 0) == 0);
	CHECK("sigaltstack.get", sigaltstack(0, &old) == 0 && old.ss_sp == mem && old.ss_size == sizeof mem && old.ss_flags == 0);
	install(SIGUSR2, on_alt, SA_ONSTACK, 0);
	raise(SIGUSR2);
	CHECK("sigaltstack.handler_on_it", on_altstack == 1);
	ss.ss_size = 100;
	CHECK("sigaltstack.too_small", sigaltstack(&ss, 0) == -1 && errno == ENOMEM);
	ss.ss_flags = SS_DISABLE;
	CHECK("sigaltstack.disable", sigaltstack(&ss, 0) == 0 && sigaltstack(0, &old) == 0 && old.ss_flags == SS_DISABLE);
}

static void kills(void)
{
	pid_t c = fork();
	if (c == 0)
		abort();
	int st;
	waitpid(c, &st, 0);
	CHECK("abort.sigabrt", WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	CHECK("tgkill.wrong_tgid", syscall(SYS_tgkill, getpid() + 100000, getpid(), 0) == -1 && errno == ESRCH);
	CHECK("tgkill.self", syscall(SYS_tgkill, getpid(), getpid(), 0) == 0);
	CHECK("tkill.bad_tid", syscall(SYS_tkill, 0, SIGUSR1) == -1 && errno == EINVAL);
	struct sigaction sa = { 0 };
	sa.sa_handler = SIG_DFL;
	CHECK("sigaction.kill_einval", sigaction(SIGKILL, &sa, 0) == -1 && errno == EINVAL);
}

/* Two processes keep different x87 and SSE rounding modes and x87 values
 * while they switch back and forth: each one's FPU state moves with it. */
static int fpu_worker(int mode)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof one, &one); /* share a CPU: switch often */
	fesetround(mode);
	volatile long double third = 1.0L;
	third /= 3.0L;
	for (int i = 0; i < 300; i++) {
		sched_yield();
		volatile long double again = 1.0L;
		again /= 3.0L;
		volatile double d = 1.0;
		d /= 3.0; /* SSE: MXCSR's rounding */
		volatile double d_ref = mode == FE_UPWARD ? 0.33333333333333337 : 0.33333333333333331;
		if (fegetround() != mode || again != third || d != d_ref)
			return 1;
	}
	return 0;
}

static void fpu_switches(void)
{
	pid_t a = fork();
	if (a == 0)
		_exit(fpu_worker(FE_UPWARD));
	pid_t b = fork();
	if (b == 0)
		_exit(fpu_worker(FE_DOWNWARD));
	int sa, sb;
	waitpid(a, &sa, 0);
	waitpid(b, &sb, 0);
	CHECK("fpu.rounding_modes_survive_switches", WIFEXITED(sa) && WEXITSTATUS(sa) == 0 && WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
}

int main(void)
{
	fpu_switches();
	handler_frame();
	sa_mask_order();
	nodefer();
	resethand();
	restart(0, "restart.eintr_without_sa_restart");
	restart(SA_RESTART, "restart.sa_restart_resumes");
	suspend();
	segv();
	chld();
	altstack();
	kills();
	return tine_done();
}
