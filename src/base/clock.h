/* clock.h: elapsed time on the monotonic clock, for rates, ETAs and timeouts. */
#ifndef RESCUE_CLOCK_H
#define RESCUE_CLOCK_H

#include <time.h>

/* Seconds from THEN (taken with clock_gettime(CLOCK_MONOTONIC)) to now. */
double seconds_since(const struct timespec *then);

#endif
