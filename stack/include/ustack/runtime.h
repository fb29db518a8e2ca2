/*
 * runtime.h - the two ways to run a stack for socket applications.
 *
 * 1. Event loop (ustack_loop_attach): one thread. ustack_poll() and every
 *    blocking socket call drive the stack while they wait: read the device,
 *    fire timers, sleep in poll(2) on the device fd (and the caller's OS fds)
 *    until the next deadline. For select/poll-style servers.
 * 2. Threaded (ustack_thread_start): a stack thread drives the device and
 *    timers; socket calls may come from any thread, serialised by one mutex,
 *    and block on condition variables. For thread-per-connection servers.
 *
 * Without either, the stack is driven by hand (ustack_input,
 * ustack_run_timers: tests, replay, fuzzing) and sockets never block.
 *
 * The runtimes are the only part of stack/ that reads a clock, and only
 * through the injected clock function.
 */
#ifndef USTACK_RUNTIME_H
#define USTACK_RUNTIME_H

#include <ustack/ustack.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef ustack_time_t (*ustack_clock_fn)(void *ctx);

/* CLOCK_MONOTONIC in microseconds (the default clock). */
ustack_time_t ustack_clock_monotonic(void *ctx);

/* clock NULL: ustack_clock_monotonic. Returns 0 or -errno (-EBUSY: a
 * runtime is already attached). */
int ustack_loop_attach(struct ustack *st, ustack_clock_fn clock, void *ctx);

/*
 * Drive the stack once from the event loop without a socket to wait on:
 * process what is ready, then sleep at most timeout_ms (-1: until the next
 * event) for the device, a timer or one of the OS fds. Returns 0 or -errno.
 */
int ustack_loop_run_once(struct ustack *st, int timeout_ms);

int ustack_thread_start(struct ustack *st, ustack_clock_fn clock, void *ctx);
/* Stop and join the stack thread; blocked calls return -ECANCELED. */
void ustack_thread_stop(struct ustack *st);

/* Hold the stack (threaded runtime: its mutex; otherwise no-op) to use the
 * functions of ustack.h from an application thread. */
void ustack_lock(struct ustack *st);
void ustack_unlock(struct ustack *st);

/* Make a blocked ustack_poll()/blocking call in another thread return
 * (-EINTR) soon; safe from signal handlers (writes an eventfd). */
void ustack_wakeup(struct ustack *st);

#ifdef __cplusplus
}
#endif
#endif
