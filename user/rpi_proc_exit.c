/*
 * rpi_proc_exit: the second seed program of the study notes: it ends by
 * calling exit(), so the notes trace sys_exit_group -> do_group_exit ->
 * do_exit and the SIGCHLD to its parent with code=1 (CLD_EXITED), where
 * raspbian_proc was killed. The notes show only its trace; like
 * raspbian_proc it prints and sleeps, but a few times, then exits with
 * EXIT_SUCCESS.
 *
 *	rpi_proc_exit; echo $?		# 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PROC_TIMES 3
#define SLEEP_DURATION 1 /* seconds */

int main(void)
{
	int proc_times;

	for (proc_times = 0; proc_times < PROC_TIMES; proc_times++) {
		printf("rpi tracing \n");
		fflush(stdout);
		sleep(SLEEP_DURATION);
	}
	exit(EXIT_SUCCESS);
}
