/* stop.h: Ctrl-C and SIGTERM as a request to stop, not a death. The long commands (image,
 * dump, carve, undelete) catch both around their work; the engines poll STOP_REQUESTED and
 * end at the next safe point, with the map or the manifest saved on the target. */
#ifndef RESCUE_STOP_H
#define RESCUE_STOP_H

#include <signal.h>

/* Set by the handler; a command clears it when it starts. */
extern volatile sig_atomic_t stop_requested;

/* Catches SIGINT and SIGTERM into stop_requested, keeping the old actions in SAVED. */
void stop_signals_catch(struct sigaction saved[2]);
/* Puts back the actions stop_signals_catch kept (the menu gets its own handlers back). */
void stop_signals_restore(const struct sigaction saved[2]);

#endif
