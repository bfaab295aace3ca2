/* stop.c: the stop request of the long commands (stop.h). */
#include <string.h>

#include "cli/stop.h"

volatile sig_atomic_t stop_requested;

static void request_stop(int signal_number)
{
	(void)signal_number;
	stop_requested = 1;
}

void stop_signals_catch(struct sigaction saved[2])
{
	struct sigaction action;

	memset(&action, 0, sizeof action);
	action.sa_handler = request_stop;
	sigemptyset(&action.sa_mask);
	sigaction(SIGINT, &action, &saved[0]);
	sigaction(SIGTERM, &action, &saved[1]);
}

void stop_signals_restore(const struct sigaction saved[2])
{
	sigaction(SIGINT, &saved[0], NULL);
	sigaction(SIGTERM, &saved[1], NULL);
}
