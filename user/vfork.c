/*
 * vfork: the child borrows the parent's memory and the parent sleeps until
 * the child execs or exits. Checked the same way on Linux and Tine.
 * (musl's posix_spawn, which also uses CLONE_VFORK, is checked in pipes.c.)
 */
#include "tine_test.h"

#include <sys/wait.h>
#include <unistd.h>

static const char *hello_path = "/bin/hello";

int main(int argc, char **argv)
{
	static volatile int shared;
	int status = -1;

	if (argc > 1)
		hello_path = argv[1];

	/* The child's write is visible to the parent: one address space. */
	pid_t c = vfork();
	if (c == 0) {
		shared = 42;
		_exit(5);
	}
	REQUIRE("vfork.ok", c > 0);
	CHECK_EQ("vfork.shared_memory", shared, 42);
	CHECK_EQ("vfork.wait", (long)waitpid(c, &status, 0), (long)c);
	CHECK("vfork.exit_5", WIFEXITED(status) && WEXITSTATUS(status) == 5);

	/* The parent resumes only once the child has exec'd. */
	shared = 0;
	c = vfork();
	if (c == 0) {
		char *av[] = { (char *)hello_path, 0 };
		char *ev[] = { 0 };
		shared = 1;
		execve(hello_path, av, ev);
		_exit(99);
	}
	CHECK_EQ("vfork.parent_after_exec", shared, 1);
	CHECK_EQ("vfork.exec_wait", (long)waitpid(c, &status, 0), (long)c);
	CHECK("vfork.exec_status_7", WIFEXITED(status) && WEXITSTATUS(status) == 7);

	return tine_done();
}
