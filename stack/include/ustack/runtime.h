/*
 * runtime.h - the two ways to run a stack for socket applications.
 *
 * 1. Event loop (ustack_loop_attach): one thread. ustack_poll() and every
 *    blocking socket call drive the stack while they wait: read the device,
 *    fire timers, sleep in poll(2) on the device fd (and the caller's OS fds)
 *    until the next deadline. For select/poll-style servers. A device
 *    without an fd is polled in slices of 50 us growing to 1 ms while idle.
 *    Use the stack from that one thread only.
 * 2. Threaded (ustack_thread_start): a stack thread drives the device and
 *    timers; socket calls may come from any thread, serialised by one mutex,
 *    and block on condition variables (one per blocked call, signalled only
 *    for its socket). ustack_poll() there also waits on OS fds. For
 *    thread-per-connection servers.
 *
 * Without either, the stack is driven by hand (ustack_input,
 * ustack_run_timers: tests, replay, fuzzing) and sockets never block.
 *
 * The runtimes are the only part of stack/ that reads a clock, and every
 * deadline is decided by the injected clock function. (With a clock other
 * than ustack_clock_monotonic, the threaded runtime's condition waits, which
 * pthreads time in CLOCK_MONOTONIC, measure the length of each sleep with
 * the OS clock and then check the injected one again.)
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
 * event) for the device or a timer, and process what that brought. Returns
 * 0, -EINTR (ustack_wakeup), or -EINVAL when the event loop is not the
 * attached runtime.
 */
int ustack_loop_run_once(struct ustack *st, int timeout_ms);

/* Returns 0 or -errno (-EBUSY: another runtime is attached, or the
 * thread already runs). Also resumes a stopped threaded runtime. */
int ustack_thread_start(struct ustack *st, ustack_clock_fn clock, void *ctx);
/*
 * Stop and join the stack thread; blocked calls return -ECANCELED. The
 * runtime stays attached but stopped: blocking calls (and ustack_poll that
 * would wait) return -ECANCELED, non-blocking calls still work, nothing
 * drives the device until ustack_thread_start() resumes it.
 * ustack_destroy() stops it too; destroy the stack only when no other
 * thread is inside a call on it.
 */
void ustack_thread_stop(struct ustack *st);

/* Hold the stack (threaded runtime: its mutex; event loop: sets the time;
 * otherwise no-op) to use the functions of ustack.h, and the inspection
 * functions ustack_conn_list()/ustack_tcp_state_name(), from an
 * application thread. Do not call the other socket functions while
 * holding it (the mutex is not recursive). */
void ustack_lock(struct ustack *st);
void ustack_unlock(struct ustack *st);

/*
 * Make blocked ustack_poll()/blocking calls return -EINTR soon; safe from
 * signal handlers (writes an eventfd). If no call is blocked at that
 * moment, the next one that would block returns -EINTR at once, so a
 * signal between "check my flag" and "block" is never lost.
 */
void ustack_wakeup(struct ustack *st);

#ifdef __cplusplus
}
#endif
#endif
