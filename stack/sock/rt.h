/*
 * rt.h - what a runtime (event loop, threaded) provides to the socket layer.
 * Internal. With st->rt == NULL the stack is driven by hand and nothing
 * blocks.
 */
#ifndef USTACK_SOCK_RT_H
#define USTACK_SOCK_RT_H

#include <ustack/socket.h>

struct ustack;
struct sock;

struct rt_ops {
	/* Around every public socket call: take the stack (threaded: the
	 * mutex) and bring st->now up to the clock. */
	void (*enter)(struct ustack *st);
	/* Release; wake the stack thread if deadlines may have moved. */
	void (*leave)(struct ustack *st);
	/* Called between enter/leave when a blocking call must wait for
	 * `events` on sk, or until deadline. Returns 0 to retry the call,
	 * -ETIMEDOUT, -EINTR (ustack_wakeup), -ECANCELED (runtime stopping). */
	int (*wait)(struct ustack *st, struct sock *sk, short events,
		    ustack_time_t deadline);
	/* sock_wakeup() lands here. */
	void (*notify)(struct ustack *st, struct sock *sk);
	/* ustack_poll() with a timeout; called between enter/leave. */
	int (*poll)(struct ustack *st, struct ustack_pollfd *fds, unsigned n,
		    int timeout_ms);
	/* Undo attach (ustack_destroy calls it). */
	void (*detach)(struct ustack *st);
};

#endif
