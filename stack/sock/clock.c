/*
 * clock.c - the default clock and what the two runtimes share: one pass of
 * the stack (device, timers), the length of a sleep, ppoll(2) over a set of
 * fds, eventfds. This file and the runtimes are the only code in stack/
 * that reads a clock or sleeps; the core only ever sees `now`.
 * May touch: the device (through ustack_poll_dev), the timers, OS fds.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/stack.h"
#include "sock/rt.h"

ustack_time_t ustack_clock_monotonic(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ustack_time_t)ts.tv_sec * 1000000u +
	       (ustack_time_t)ts.tv_nsec / 1000u;
}

struct timespec rt_cond_deadline(ustack_clock_fn clock, ustack_time_t now,
				 ustack_time_t us)
{
	ustack_time_t base = clock == ustack_clock_monotonic ? now
							     : ustack_clock_monotonic(NULL);
	struct timespec ts;

	if (us > USTACK_SEC(86400))
		us = USTACK_SEC(86400); /* the waiter loops again if longer */
	base += us;
	ts.tv_sec = (time_t)(base / 1000000u);
	ts.tv_nsec = (long)(base % 1000000u) * 1000;
	return ts;
}

int rt_drive(struct ustack *st, ustack_time_t now, struct rt_devwait *dw)
{
	int n;

	stack_set_now(st, now);
	n = ustack_poll_dev(st, st->now,
			    dw ? rt_dev_budget(dw, st->now) : RT_DEV_BUDGET);
	ustack_run_timers(st, st->now);
	return n;
}

void rt_devwait_init(struct rt_devwait *dw)
{
	dw->idle_us = RT_NOFD_MIN_US;
	dw->suspect = 0;
	dw->broken = 0;
	dw->dev_woke = 0;
	dw->pass_at = 0;
}

int rt_dev_budget(struct rt_devwait *dw, ustack_time_t now)
{
	int sparse = dw->dev_woke && now - dw->pass_at >= RT_SPARSE_US;

	dw->dev_woke = 0;
	dw->pass_at = now;
	return sparse ? 1 : RT_DEV_BUDGET;
}

int rt_dev_fd(struct ustack *st, const struct rt_devwait *dw)
{
	return dw->broken ? -1 : ustack_dev_fd(st->dev);
}

void rt_dev_polled(struct rt_devwait *dw, short revents)
{
	if (revents & (POLLERR | POLLHUP | POLLNVAL))
		dw->suspect = 1;
	else if (revents & POLLIN)
		dw->dev_woke = 1;
}

void rt_dev_drained(struct ustack *st, struct rt_devwait *dw, int frames)
{
	if (frames > 0) {
		dw->idle_us = RT_NOFD_MIN_US;
		dw->suspect = 0;
	} else if (dw->suspect && !dw->broken) {
		dw->broken = 1;
		ULOG_WARN(st, "device fd reports an error or hang-up with "
			  "nothing to read: polling it every %u us at most",
			  RT_NOFD_MAX_US);
	}
}

ustack_time_t rt_sleep_us(struct ustack *st, ustack_time_t until,
			  struct rt_devwait *dw)
{
	ustack_time_t next = ustack_next_deadline(st);
	ustack_time_t us;

	if (next < until)
		until = next;
	if (until == USTACK_TIME_NEVER)
		us = USTACK_TIME_NEVER;
	else
		us = until > st->now ? until - st->now : 0;
	if (rt_dev_fd(st, dw) < 0) {
		if (dw->idle_us < us)
			us = dw->idle_us;
		dw->idle_us = USTACK_MIN(dw->idle_us * 2, RT_NOFD_MAX_US);
	}
	return us;
}

int rt_pollset_init(struct rt_pollset *ps, unsigned cap)
{
	ps->n = 0;
	ps->cap = cap;
	if (cap <= RT_POLLSET_SMALL) {
		ps->p = ps->small;
		return 0;
	}
	ps->p = malloc(sizeof(*ps->p) * cap);
	return ps->p ? 0 : -ENOMEM;
}

void rt_pollset_fini(struct rt_pollset *ps)
{
	if (ps->p != ps->small)
		free(ps->p);
	ps->p = NULL;
}

int rt_pollset_add(struct rt_pollset *ps, int fd, short events)
{
	if (fd < 0 || ps->n >= ps->cap)
		return -1;
	ps->p[ps->n].fd = fd;
	ps->p[ps->n].events = events;
	ps->p[ps->n].revents = 0;
	return (int)ps->n++;
}

/* An OS entry keeps its slot even when os_fd < 0 (poll(2) ignores it),
 * so entry i of the OS entries is slot first + i. */
unsigned rt_pollset_add_os(struct rt_pollset *ps,
			   const struct ustack_pollfd *fds, unsigned n)
{
	unsigned first = ps->n;

	for (unsigned i = 0; i < n && ps->n < ps->cap; i++) {
		if (fds[i].sd >= 0)
			continue;
		ps->p[ps->n].fd = fds[i].os_fd;
		ps->p[ps->n].events = fds[i].events;
		ps->p[ps->n].revents = 0;
		ps->n++;
	}
	return first;
}

unsigned rt_pollset_collect_os(const struct rt_pollset *ps, unsigned first,
			       struct ustack_pollfd *fds, unsigned n)
{
	unsigned k = first, ready = 0;

	for (unsigned i = 0; i < n && k < ps->n; i++) {
		if (fds[i].sd >= 0)
			continue;
		fds[i].revents = ps->p[k++].revents;
		if (fds[i].revents)
			ready++;
	}
	return ready;
}

int rt_ppoll(struct rt_pollset *ps, ustack_time_t us)
{
	struct timespec ts, *tp = NULL;
	int r;

	if (us != USTACK_TIME_NEVER) {
		ts.tv_sec = (time_t)(us / 1000000u);
		ts.tv_nsec = (long)(us % 1000000u) * 1000;
		tp = &ts;
	}
	r = ppoll(ps->p, ps->n, tp, NULL);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r;
}

int rt_poll_os_now(struct ustack_pollfd *fds, unsigned n)
{
	struct rt_pollset ps;
	unsigned nos = 0, first;
	int r;

	for (unsigned i = 0; i < n; i++)
		nos += fds[i].sd < 0;
	if (nos == 0)
		return 0;
	if ((r = rt_pollset_init(&ps, nos)) < 0)
		return r;
	first = rt_pollset_add_os(&ps, fds, n);
	r = rt_ppoll(&ps, 0);
	if (r >= 0)
		r = (int)rt_pollset_collect_os(&ps, first, fds, n);
	rt_pollset_fini(&ps);
	return r;
}

int rt_efd_open(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

void rt_efd_signal(int fd)
{
	uint64_t one = 1;
	int saved = errno; /* may run in a signal handler */

	if (write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, so it is readable. */
	}
	errno = saved;
}

void rt_efd_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing was pending. */
	}
}
