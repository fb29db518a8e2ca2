/*
 * loop.c - the event-loop runtime: one thread, and every blocking socket
 * call and ustack_poll() drives the stack while it waits.
 *
 * A pass reads the clock, reads the device (at most RT_DEV_BUDGET frames;
 * one after a wakeup from an idle sleep, rt_dev_budget), fires due timers
 * and evaluates readiness; if nothing is ready it sleeps in ppoll(2) on
 * the device fd, the caller's OS fds and the wakeup eventfd
 * until the caller's timeout or the stack's next deadline, whichever comes
 * first. A device without an fd has nothing to wake us when a frame
 * arrives (nor has one whose fd keeps reporting an error), so the sleep is
 * cut into slices that grow from RT_NOFD_MIN_US to RT_NOFD_MAX_US while
 * idle (rt_devwait): bounded latency and CPU, no busy spinning.
 *
 * ustack_wakeup() writes the eventfd: the sleep (or the next one, if none
 * is in progress) ends with -EINTR; the wakeup is never lost.
 *
 * May touch: the stack (through rt_drive and the socket ops' poll), the
 * device fd, OS fds given to ustack_poll, its eventfd, the clock.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/stack.h"
#include "sock/rt.h"
#include "sock/sock.h"

struct loop_rt {
	ustack_clock_fn clock;
	void *clock_ctx;
	int efd;                 /* ustack_wakeup() */
	struct rt_devwait dw;    /* device without a (working) fd */
};

static struct loop_rt *loop_of(struct ustack *st)
{
	return st->rt_priv;
}

static ustack_time_t loop_clock(struct loop_rt *lr)
{
	return lr->clock(lr->clock_ctx);
}

/* One pass of the stack; returns nonzero if the device may have more. */
static int loop_drive(struct ustack *st, struct loop_rt *lr)
{
	int n = rt_drive(st, loop_clock(lr), &lr->dw);

	rt_dev_drained(st, &lr->dw, n);
	return n >= RT_DEV_BUDGET;
}

/*
 * Sleep until `until` (or the next deadline) for the device, the wakeup
 * eventfd and the OS entries of fds. Returns -EINTR for a wakeup, or the
 * number of OS entries ready, 0 included: the OS entries' revents are
 * then what this ppoll saw.
 */
static int loop_sleep(struct ustack *st, struct loop_rt *lr,
		      ustack_time_t until, struct ustack_pollfd *fds,
		      unsigned n)
{
	struct rt_pollset ps;
	unsigned first;
	int dev_i, efd_i, r;

	if ((r = rt_pollset_init(&ps, n + 2)) < 0)
		return r;
	dev_i = rt_pollset_add(&ps, rt_dev_fd(st, &lr->dw), POLLIN);
	efd_i = rt_pollset_add(&ps, lr->efd, POLLIN);
	first = rt_pollset_add_os(&ps, fds, n);
	r = rt_ppoll(&ps, rt_sleep_us(st, until, &lr->dw));
	if (r > 0 && dev_i >= 0)
		rt_dev_polled(&lr->dw, ps.p[dev_i].revents);
	if (r > 0 && ps.p[efd_i].revents) {
		rt_efd_drain(lr->efd);
		r = -EINTR;
	} else if (r >= 0) {
		r = (int)rt_pollset_collect_os(&ps, first, fds, n);
	}
	rt_pollset_fini(&ps);
	return r;
}

static void loop_enter(struct ustack *st)
{
	stack_set_now(st, loop_clock(loop_of(st)));
}

static void loop_leave(struct ustack *st)
{
	(void)st;
}

static int loop_wait(struct ustack *st, struct sock *sk, short events,
		     ustack_time_t deadline)
{
	struct loop_rt *lr = loop_of(st);
	int sd = sk->sd;
	uint32_t gen = sk->gen;
	int busy = 0, r, first = rt_dev_fd(st, &lr->dw) >= 0;

	for (;;) {
		/* The caller found nothing: sleep first, without a read that
		 * would only say EAGAIN (a queued frame ends the ppoll; a
		 * device without an fd is read first, as it can not). */
		if (!first)
			busy = loop_drive(st, lr);
		first = 0;
		sk = sock_get(st, sd);
		if (!sk || sk->gen != gen)
			return 0; /* gone: the caller finds out */
		if (sock_poll_one(st, sk) & (events | POLLERR | POLLHUP))
			return 0;
		if (st->now >= deadline)
			return -ETIMEDOUT;
		r = loop_sleep(st, lr, busy ? st->now : deadline, NULL, 0);
		if (r < 0)
			return r;
	}
}

static void loop_notify(struct ustack *st, struct sock *sk)
{
	/* One thread: whoever waits re-evaluates after every pass. */
	(void)st, (void)sk;
}

static int loop_poll(struct ustack *st, struct ustack_pollfd *fds, unsigned n,
		     int timeout_ms)
{
	struct loop_rt *lr = loop_of(st);
	ustack_time_t end = timeout_ms < 0 ? USTACK_TIME_NEVER :
			    st->now + USTACK_MS(timeout_ms);
	int busy = 0, ready, os, os_seen = 0;
	int first = timeout_ms != 0 && rt_dev_fd(st, &lr->dw) >= 0;

	for (;;) {
		/* With a timeout, look at the sockets before reading the
		 * device: if nothing is ready, the ppoll sees a queued frame,
		 * and the read that would only say EAGAIN is saved. If
		 * something is, read the device before returning all the
		 * same: a socket that is always ready (POLLOUT) must not keep
		 * the device from being read. */
		if (!first)
			busy = loop_drive(st, lr);
		ready = (int)sock_poll_eval(st, fds, n);
		if (first) {
			first = 0;
			if (ready)
				continue;
		}
		if (ready || st->now >= end) {
			/* The OS entries as the last sleep's ppoll saw them
			 * (none ready, microseconds ago), or ask now. */
			os = os_seen ? 0 : rt_poll_os_now(fds, n);
			return os < 0 ? os : ready + os;
		}
		os = loop_sleep(st, lr, busy ? st->now : end, fds, n);
		if (os < 0)
			return os;
		os_seen = 1;
		if (os > 0) {
			/* Also report what the device brought meanwhile;
			 * the OS revents stay as ppoll set them. */
			rt_drive(st, loop_clock(lr), &lr->dw);
			return (int)sock_poll_eval(st, fds, n) + os;
		}
	}
}

static void loop_detach(struct ustack *st)
{
	struct loop_rt *lr = loop_of(st);

	close(lr->efd);
	free(lr);
	st->rt = NULL;
	st->rt_priv = NULL;
}

static void loop_wakeup(struct ustack *st)
{
	rt_efd_signal(loop_of(st)->efd);
}

static const struct rt_ops loop_ops = {
	.enter = loop_enter,
	.leave = loop_leave,
	.wait = loop_wait,
	.notify = loop_notify,
	.poll = loop_poll,
	.detach = loop_detach,
	.wakeup = loop_wakeup,
};

int ustack_loop_attach(struct ustack *st, ustack_clock_fn clock, void *ctx)
{
	struct loop_rt *lr;
	int fd;

	if (!st)
		return -EINVAL;
	if (st->rt)
		return -EBUSY;
	if ((lr = calloc(1, sizeof(*lr))) == NULL)
		return -ENOMEM;
	if ((fd = rt_efd_open()) < 0) {
		free(lr);
		return fd;
	}
	lr->clock = clock ? clock : ustack_clock_monotonic;
	lr->clock_ctx = ctx;
	lr->efd = fd;
	rt_devwait_init(&lr->dw);
	st->rt_priv = lr;
	st->rt = &loop_ops;
	stack_set_now(st, loop_clock(lr));
	return 0;
}

int ustack_loop_run_once(struct ustack *st, int timeout_ms)
{
	struct loop_rt *lr;
	ustack_time_t end;
	int busy, r;

	if (!st || st->rt != &loop_ops)
		return -EINVAL;
	lr = loop_of(st);
	busy = loop_drive(st, lr);
	end = timeout_ms < 0 ? USTACK_TIME_NEVER :
	      st->now + USTACK_MS(timeout_ms);
	r = loop_sleep(st, lr, busy ? st->now : end, NULL, 0);
	loop_drive(st, lr);
	return r < 0 ? r : 0;
}
