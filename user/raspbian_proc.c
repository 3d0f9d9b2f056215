/*
 * raspbian_proc: the first seed program of the study notes (Linux 4.19 on
 * a Raspberry Pi): started from bash, it prints a line and sleeps, forever,
 * until it is killed (the notes send it SIGKILL and trace signal_generate,
 * signal_deliver, do_exit and the SIGCHLD to bash, CLD_KILLED). The notes
 * show only its trace, in which it wakes every 3 seconds; the source here
 * follows the well-known version of the program ("raspbian tracing",
 * sleep(3)), but loops forever rather than 500 times.
 *
 *	raspbian_proc &
 *	kill -9 $!; wait $!; echo $?	# 137 = 128 + SIGKILL
 */
#include <stdio.h>
#include <unistd.h>

#define SLEEP_DURATION 3 /* seconds */

int main(void)
{
	for (;;) {
		printf("raspbian tracing \n");
		fflush(stdout);
		sleep(SLEEP_DURATION);
	}
	return 0;
}
