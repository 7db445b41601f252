/* clock.h - monotonic time for timeouts, deadlines and latency measurements. */
#ifndef MC_BASE_CLOCK_H
#define MC_BASE_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC (integral). */
int64_t mc_monotonic_ms(void);
/* Milliseconds on CLOCK_MONOTONIC with sub-millisecond precision (for latencies). */
double mc_monotonic_ms_precise(void);
/* The CLOCK_MONOTONIC instant `ms` milliseconds from now (ms < 0 counts as 0): the absolute
 * deadline of pthread_cond_timedwait on a condition variable set to CLOCK_MONOTONIC. */
struct timespec mc_monotonic_after_ms(int64_t ms);
/* The CLOCK_MONOTONIC instant of an absolute time in milliseconds (from mc_monotonic_ms). */
struct timespec mc_monotonic_at_ms(int64_t ms);
/* Initialises a condition variable whose timed waits count on CLOCK_MONOTONIC (so the
 * deadlines above apply and a wall-clock jump does not cut a wait short or stretch it). */
void mc_cond_init_monotonic(pthread_cond_t *cv);

#endif
