/*
 * wait.c - waiting in libustack-preload.so: a blocking call's wait, poll,
 * ppoll, select, pselect and epoll over any mix of ustack sockets and
 * kernel descriptors.
 *
 * Everything waits in ustack_poll(), which takes stack sockets and OS
 * descriptors in one set: the threaded runtime sleeps in ppoll(2) on the
 * kernel descriptors plus an eventfd the stack thread writes when one of
 * the sockets changes. A call with no ustack socket in it goes straight to
 * the kernel.
 *
 * Signals: the runtime's ppoll is this library's ppoll (symbol
 * interposition reaches the library's own calls too). When it is
 * interrupted while a wait of ours sleeps, it notes the signal and calls
 * ustack_wakeup(), which ends the wait with -EINTR; an -EINTR without our
 * note (another thread's signal) is retried.
 *
 * epoll: the epoll descriptor is the kernel's and holds the kernel
 * descriptors; the ustack sockets registered with it live in a shadow list
 * here (struct pl_ep). epoll_wait polls the shadow's sockets together with
 * the epoll descriptor itself (readable when a kernel descriptor in it is
 * ready), then takes the kernel's events with a zero timeout.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "preload.h"

/* ---- time, signals, one socket's wait ------------------------------------- */

static ustack_time_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ustack_time_t)ts.tv_sec * 1000000u +
	       (ustack_time_t)ts.tv_nsec / 1000u;
}

ustack_time_t pl_deadline(ustack_time_t timeo_us)
{
	return timeo_us ? mono_us() + timeo_us : USTACK_TIME_NEVER;
}

int pl_ms_left(ustack_time_t deadline)
{
	ustack_time_t now;

	if (deadline == USTACK_TIME_NEVER)
		return -1;
	now = mono_us();
	if (now >= deadline)
		return 0;
	/* Round up: never wake before the deadline. */
	return (deadline - now + 999) / 1000 > 0x7fffffff ? 0x7fffffff :
	       (int)((deadline - now + 999) / 1000);
}

static ustack_time_t ms_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? USTACK_TIME_NEVER :
	       mono_us() + USTACK_MS(timeout_ms);
}

int pl_all_restart(void)
{
	struct sigaction sa;

	for (int sig = 1; sig < NSIG; sig++) {
		/* Faults are synchronous: they never interrupt a wait (and
		 * sanitizers catch them without SA_RESTART). */
		if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
		    sig == SIGILL || sig == SIGTRAP || sig == SIGSYS)
			continue;
		if (sigaction(sig, NULL, &sa) < 0)
			continue;
		if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN &&
		    !(sa.sa_flags & SA_RESTART))
			return 0;
	}
	return 1;
}

/* ustack_poll with our signal note. Returns what it returns; -EINTR only
 * for a signal of this thread. */
static int upoll(struct ustack *st, struct ustack_pollfd *fds, unsigned n,
		 int timeout_ms)
{
	int r;

	pl_tls.signalled = 0;
	pl_tls.in_wait = 1;
	r = ustack_poll(st, fds, n, timeout_ms);
	pl_tls.in_wait = 0;
	if (r == -EINTR && !pl_tls.signalled)
		r = 0;      /* someone else's ustack_wakeup: look again */
	return r;
}

int pl_wait(struct pl_sock *s, short events, ustack_time_t deadline,
	    int restartable)
{
	struct ustack *st = pl_stack_if_running();
	struct ustack_pollfd p = {.sd = s->sd, .os_fd = -1, .events = events};
	int r, left;

	if (!st)
		return -EBADF;
	left = pl_ms_left(deadline);
	if (left == 0)
		return -EAGAIN;
	r = upoll(st, &p, 1, left);
	if (r == -EINTR)
		/* signal(7): with SO_RCVTIMEO/SO_SNDTIMEO set, never restarted */
		return restartable && deadline == USTACK_TIME_NEVER &&
		       pl_all_restart() ? 0 : -EINTR;
	if (r < 0)
		return r == -ECANCELED ? -EBADF : r;
	if (r == 0 && pl_ms_left(deadline) == 0)
		return -EAGAIN;
	return r > 0 ? p.revents : 0;
}

/* The runtime sleeps here too (see the top). */
static int ppoll_real(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		      const sigset_t *mask)
{
	int r;

	/* The runtime sleeping for a ppoll/pselect/epoll_pwait of ours: the
	 * caller's mask is in force during the sleep only, atomically. */
	if (pl_tls.in_wait && pl_tls.wait_mask && !mask)
		mask = pl_tls.wait_mask;
	r = pl_real.ppoll(fds, n, ts, mask);

	if (r < 0 && errno == EINTR && pl_tls.in_wait && !pl_tls.signalled) {
		struct ustack *st = pl_stack_if_running();

		pl_tls.signalled = 1;
		if (st)
			ustack_wakeup(st);
	}
	return r;
}

/* ---- poll -------------------------------------------------------------------- */

#define PL_SMALL 64

/* glibc declares poll's array write-only (access attribute), so gcc warns
 * that we read what the caller filled in. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/*
 * poll over a mix: ustack entries by sd (with a reference each), the rest
 * as OS fds. sigmask (ppoll) is applied around the wait.
 */
static int poll_mixed(struct pollfd *fds, nfds_t n, int timeout_ms,
		      const sigset_t *mask)
{
	struct ustack *st = pl_stack_if_running();
	struct ustack_pollfd small[PL_SMALL], *u = small;
	struct pl_sock *ssmall[PL_SMALL], **socks = ssmall;
	ustack_time_t dl = ms_deadline(timeout_ms);
	int r, ready = 0;

	if (!st)
		return -EBADF;
	if (n > PL_SMALL) {
		u = calloc(n, sizeof(*u));
		socks = calloc(n, sizeof(*socks));
		if (!u || !socks) {
			free(u == small ? NULL : u);
			free(socks == ssmall ? NULL : socks);
			return -ENOMEM;
		}
	}
	for (nfds_t i = 0; i < n; i++) {
		socks[i] = fds[i].fd >= 0 ? pl_sock_get(fds[i].fd) : NULL;
		u[i].sd = socks[i] ? socks[i]->sd : -1;
		u[i].os_fd = socks[i] ? -1 : fds[i].fd;
		u[i].events = fds[i].events;
		u[i].revents = 0;
	}
	pl_tls.wait_mask = mask;
	for (;;) {
		r = upoll(st, u, (unsigned)n, pl_ms_left(dl));
		if (r != 0 || pl_ms_left(dl) == 0)
			break;
	}
	pl_tls.wait_mask = NULL;
	for (nfds_t i = 0; i < n; i++) {
		fds[i].revents = r > 0 ? u[i].revents : 0;
		if (socks[i]) {
			fds[i].revents &= (short)(fds[i].events | POLLERR |
						  POLLHUP | POLLNVAL);
			pl_sock_put(socks[i]);
		}
		ready += fds[i].revents != 0;
	}
	if (u != small) {
		free(u);
		free(socks);
	}
	return r < 0 ? r : ready;
}

static int has_sock(const struct pollfd *fds, nfds_t n)
{
	if (!fds)
		return 0;   /* the kernel answers EFAULT */
	for (nfds_t i = 0; i < n; i++)
		if (pl_is_sock(fds[i].fd))
			return 1;
	return 0;
}

PL_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	if (!has_sock(fds, n))
		return pl_real.poll(fds, n, timeout_ms);
	return (int)pl_ret(poll_mixed(fds, n, timeout_ms, NULL));
}

PL_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms,
			 size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return poll(fds, n, timeout_ms);
}

static int ts_ms(const struct timespec *ts)
{
	if (!ts)
		return -1;
	if (ts->tv_sec > 0x7fffffff / 1000 - 1)
		return 0x7fffffff;
	return (int)(ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000);
}

PL_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		    const sigset_t *mask)
{
	if (!has_sock(fds, n))
		return ppoll_real(fds, n, ts, mask);
	return (int)pl_ret(poll_mixed(fds, n, ts_ms(ts), mask));
}

PL_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n,
			  const struct timespec *ts, const sigset_t *mask,
			  size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return ppoll(fds, n, ts, mask);
}

/* ---- select -------------------------------------------------------------------- */

static int select_mixed(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
			int timeout_ms, const sigset_t *mask)
{
	struct pollfd *p;
	int n = 0, r, ready = 0;

	if (nfds < 0 || nfds > FD_SETSIZE)
		return -EINVAL;
	if (!(p = calloc((size_t)nfds + 1, sizeof(*p))))
		return -ENOMEM;
	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;

		if (rd && FD_ISSET(fd, rd))
			ev |= POLLIN;
		if (wr && FD_ISSET(fd, wr))
			ev |= POLLOUT;
		if (ex && FD_ISSET(fd, ex))
			ev |= POLLPRI;
		if (ev)
			p[n++] = (struct pollfd){.fd = fd, .events = ev};
	}
	r = poll_mixed(p, (nfds_t)n, timeout_ms, mask);
	if (r >= 0) {
		for (int i = 0; i < n; i++) {
			if (p[i].revents & POLLNVAL) {
				free(p);
				return -EBADF;
			}
		}
		if (rd)
			FD_ZERO(rd);
		if (wr)
			FD_ZERO(wr);
		if (ex)
			FD_ZERO(ex);
		for (int i = 0; i < n; i++) {
			short rv = p[i].revents;

			if (rd && (p[i].events & POLLIN) &&
			    (rv & (POLLIN | POLLHUP | POLLERR))) {
				FD_SET(p[i].fd, rd);
				ready++;
			}
			if (wr && (p[i].events & POLLOUT) &&
			    (rv & (POLLOUT | POLLERR))) {
				FD_SET(p[i].fd, wr);
				ready++;
			}
			if (ex && (p[i].events & POLLPRI) && (rv & POLLPRI)) {
				FD_SET(p[i].fd, ex);
				ready++;
			}
		}
		r = ready;
	}
	free(p);
	return r;
}

static int set_has_sock(int nfds, fd_set *rd, fd_set *wr, fd_set *ex)
{
	if (nfds > FD_SETSIZE)
		nfds = FD_SETSIZE;
	for (int fd = 0; fd < nfds; fd++) {
		if (((rd && FD_ISSET(fd, rd)) || (wr && FD_ISSET(fd, wr)) ||
		     (ex && FD_ISSET(fd, ex))) && pl_is_sock(fd))
			return 1;
	}
	return 0;
}

PL_EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
		     struct timeval *tv)
{
	ustack_time_t dl;
	int ms, r;

	if (!set_has_sock(nfds, rd, wr, ex))
		return pl_real.select(nfds, rd, wr, ex, tv);
	ms = !tv ? -1 : tv->tv_sec > 0x7fffffff / 1000 - 1 ? 0x7fffffff :
	     (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000);
	dl = ms_deadline(ms);
	r = select_mixed(nfds, rd, wr, ex, ms, NULL);
	if (tv) {   /* Linux leaves the time not slept in *tv */
		int left = pl_ms_left(dl);

		tv->tv_sec = left / 1000;
		tv->tv_usec = (left % 1000) * 1000;
	}
	return (int)pl_ret(r);
}

PL_EXPORT int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
		      const struct timespec *ts, const sigset_t *mask)
{
	if (!set_has_sock(nfds, rd, wr, ex))
		return pl_real.pselect(nfds, rd, wr, ex, ts, mask);
	return (int)pl_ret(select_mixed(nfds, rd, wr, ex, ts_ms(ts), mask));
}

/* ---- epoll ---------------------------------------------------------------------- */

struct pl_ep_reg {
	int fd;                   /* the program's number for it */
	struct pl_sock *s;        /* no reference: removed when s goes */
	uint32_t events;          /* as registered (EPOLLET, EPOLLONESHOT, ...) */
	epoll_data_t data;
	unsigned seen_in, seen_out; /* s->in_seq/out_seq when last reported */
	short last;               /* what was last reported (EPOLLET) */
	int disabled;             /* EPOLLONESHOT fired, until EPOLL_CTL_MOD */
};

struct pl_ep {
	int epfd;
	struct pl_ep *next;
	struct pl_ep_reg *regs;
	unsigned n, cap;
	unsigned cursor;          /* where the next report starts (fairness) */
};

static struct pl_ep *ep_list;  /* under pl_mu */
static int ep_count;           /* lock-free hint: any shadow at all */

static struct pl_ep *ep_find_locked(int epfd)
{
	for (struct pl_ep *e = ep_list; e; e = e->next)
		if (e->epfd == epfd)
			return e;
	return NULL;
}

void pl_ep_forget_locked(struct pl_sock *s)
{
	for (struct pl_ep *e = ep_list; e; e = e->next) {
		for (unsigned i = 0; i < e->n;) {
			if (e->regs[i].s == s)
				e->regs[i] = e->regs[--e->n];
			else
				i++;
		}
	}
}

void pl_ep_close(int epfd)
{
	struct pl_ep **pp, *e = NULL;

	if (!__atomic_load_n(&ep_count, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&pl_mu);
	for (pp = &ep_list; *pp; pp = &(*pp)->next) {
		if ((*pp)->epfd == epfd) {
			e = *pp;
			*pp = e->next;
			ep_count--;
			break;
		}
	}
	pthread_mutex_unlock(&pl_mu);
	if (e) {
		free(e->regs);
		free(e);
	}
}

static struct pl_ep_reg *reg_find(struct pl_ep *e, int fd)
{
	for (unsigned i = 0; i < e->n; i++)
		if (e->regs[i].fd == fd)
			return &e->regs[i];
	return NULL;
}

#define PL_EP_EVENTS (EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | \
		      EPOLLWRNORM | EPOLLRDHUP | EPOLLERR | EPOLLHUP | \
		      EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP)

static int ep_ctl_sock(int epfd, int op, int fd, struct pl_sock *s,
		       struct epoll_event *ev)
{
	struct pl_ep *e;
	struct pl_ep_reg *r;
	int err = 0;

	if (op != EPOLL_CTL_DEL && !ev)
		return -EFAULT;
	if (epfd == fd)
		return -EINVAL;
	pthread_mutex_lock(&pl_mu);
	e = ep_find_locked(epfd);
	r = e ? reg_find(e, fd) : NULL;
	if (r && r->s != s) {           /* a stale entry for a reused number */
		*r = e->regs[--e->n];
		r = NULL;
	}
	switch (op) {
	case EPOLL_CTL_ADD:
		if (r) {
			err = -EEXIST;
			break;
		}
		if (!e) {
			if (!(e = calloc(1, sizeof(*e)))) {
				err = -ENOMEM;
				break;
			}
			e->epfd = epfd;
			e->next = ep_list;
			ep_list = e;
			ep_count++;
		}
		if (e->n == e->cap) {
			unsigned cap = e->cap ? 2 * e->cap : 16;
			struct pl_ep_reg *v = realloc(e->regs, cap * sizeof(*v));

			if (!v) {
				err = -ENOMEM;
				break;
			}
			e->regs = v;
			e->cap = cap;
		}
		r = &e->regs[e->n++];
		memset(r, 0, sizeof(*r));
		r->fd = fd;
		r->s = s;
		/* fall through */
	case EPOLL_CTL_MOD:
		if (!r) {
			err = -ENOENT;
			break;
		}
		if (op == EPOLL_CTL_MOD && (ev->events & EPOLLEXCLUSIVE)) {
			err = -EINVAL;
			break;
		}
		r->events = ev->events & PL_EP_EVENTS;
		r->data = ev->data;
		r->disabled = 0;
		r->last = 0;
		r->seen_in = s->in_seq - 1;
		r->seen_out = s->out_seq - 1;
		break;
	case EPOLL_CTL_DEL:
		if (!r)
			err = -ENOENT;
		else
			*r = e->regs[--e->n];
		break;
	default:
		err = -EINVAL;
	}
	pthread_mutex_unlock(&pl_mu);
	return err;
}

PL_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct pl_sock *s = pl_sock_get(fd);
	int r;

	if (!s)
		return pl_real.epoll_ctl(epfd, op, fd, ev);
	/* The epoll descriptor must be one: the kernel says so. */
	if (pl_real.fcntl(epfd, F_GETFD) < 0)
		r = -EBADF;
	else
		r = ep_ctl_sock(epfd, op, fd, s, ev);
	pl_sock_put(s);
	return (int)pl_ret(r);
}

PL_EXPORT int epoll_create(int size)
{
	return pl_real.epoll_create(size);
}

PL_EXPORT int epoll_create1(int flags)
{
	return pl_real.epoll_create1(flags);
}

#define EP_IN_BITS (POLLIN | POLLRDNORM | POLLPRI | POLLRDHUP)
#define EP_OUT_BITS (POLLOUT | POLLWRNORM)

/* Edge-triggered: the bits reported last time that nothing has re-armed
 * since (a receive or accept call re-arms the input bits, a send that
 * ended short the output bits). */
static short ep_stale(const struct pl_ep_reg *r, unsigned in, unsigned out)
{
	short rearmed = (short)((in != r->seen_in ? EP_IN_BITS : 0) |
				(out != r->seen_out ? EP_OUT_BITS : 0));

	if (!(r->events & EPOLLET))
		return 0;
	return (short)(r->last & ~rearmed);
}

/* One registration in the set we sleep on: what to ask for. An
 * edge-triggered one asks only for what is not stale; if what is stale is
 * an error or hang-up (which never goes away) it sits out. */
static short ep_want(const struct pl_ep_reg *r, int *skip)
{
	short ev = (short)(r->events & ~(EPOLLET | EPOLLONESHOT |
					 EPOLLEXCLUSIVE | EPOLLWAKEUP));
	short stale = ep_stale(r, r->s->in_seq, r->s->out_seq);

	*skip = r->disabled || (stale & (POLLERR | POLLHUP));
	return (short)(ev & ~stale);
}

struct ep_snap {
	struct pl_sock *s;        /* with a reference */
	int fd;
	unsigned in, out;         /* s->in_seq, s->out_seq when we looked */
};

/* Fill events from the ustack side of e after a poll; returns the count.
 * Under pl_mu. */
static int ep_collect_locked(struct pl_ep *e, const struct ustack_pollfd *u,
			     const struct ep_snap *snap, unsigned n,
			     struct epoll_event *out, int max)
{
	int got = 0;

	for (unsigned k = 0; k < n && got < max; k++) {
		unsigned i = (k + e->cursor) % n;
		struct pl_ep_reg *r;
		short rev = u[i].revents, stale;

		if (!rev || u[i].sd < 0)
			continue;
		r = reg_find(e, snap[i].fd);
		if (!r || r->s != snap[i].s || r->disabled)
			continue;
		rev &= (short)(r->events | POLLERR | POLLHUP);
		if (!rev)
			continue;
		stale = ep_stale(r, snap[i].in, snap[i].out);
		if (!(rev & ~stale))
			continue;
		/* Stale bits were not asked for but still hold (only our own
		 * receive or a short send takes them away, and those re-arm):
		 * report them with the new ones, as Linux reports the whole
		 * state with each edge. */
		rev |= (short)(stale & (short)r->events);
		out[got].events = (uint32_t)(unsigned short)rev;
		out[got].data = r->data;
		got++;
		r->last = rev;
		r->seen_in = snap[i].in;
		r->seen_out = snap[i].out;
		if (r->events & EPOLLONESHOT)
			r->disabled = 1;
	}
	e->cursor = n ? (e->cursor + 1) % n : 0;
	return got;
}

static int ep_wait_mixed(int epfd, struct epoll_event *out, int max,
			 int timeout_ms, const sigset_t *mask)
{
	struct ustack *st = pl_stack_if_running();
	ustack_time_t dl = ms_deadline(timeout_ms);
	int got = 0, r = 0;

	if (!st)
		return pl_real.epoll_pwait(epfd, out, max, timeout_ms, mask);
	if (max <= 0)
		return -EINVAL;
	if (!out)
		return -EFAULT;
	pl_tls.wait_mask = mask;
	for (;;) {
		struct ustack_pollfd usmall[PL_SMALL + 1], *u = usmall;
		struct ep_snap ssmall[PL_SMALL + 1], *snap = ssmall;
		struct pl_ep *e;
		unsigned n = 0;

		pthread_mutex_lock(&pl_mu);
		e = ep_find_locked(epfd);
		n = e ? e->n : 0;
		if (n > PL_SMALL) {
			u = calloc(n + 1, sizeof(*u));
			snap = calloc(n + 1, sizeof(*snap));
			if (!u || !snap) {
				pthread_mutex_unlock(&pl_mu);
				free(u);
				free(snap);
				r = -ENOMEM;
				break;
			}
		}
		for (unsigned i = 0; i < n; i++) {
			struct pl_ep_reg *g = &e->regs[i];
			int skip;
			short want = ep_want(g, &skip);

			g->s->refs++;
			snap[i] = (struct ep_snap){g->s, g->fd, g->s->in_seq,
						   g->s->out_seq};
			u[i] = (struct ustack_pollfd){.sd = skip ? -1 : g->s->sd,
						      .os_fd = -1, .events = want};
		}
		u[n] = (struct ustack_pollfd){.sd = -1, .os_fd = epfd,
					      .events = POLLIN};
		pthread_mutex_unlock(&pl_mu);

		r = upoll(st, u, n + 1, got ? 0 : pl_ms_left(dl));
		if (r > 0 && n) {
			pthread_mutex_lock(&pl_mu);
			if ((e = ep_find_locked(epfd)) != NULL)
				got += ep_collect_locked(e, u, snap, n,
							 out + got, max - got);
			pthread_mutex_unlock(&pl_mu);
		}
		for (unsigned i = 0; i < n; i++)
			pl_sock_put(snap[i].s);
		if (r > 0 && got < max && u[n].revents) {
			int k = pl_real.epoll_wait(epfd, out + got, max - got, 0);

			if (k > 0)
				got += k;
			else if (k < 0 && errno != EINTR)
				r = -errno;
		}
		if (u != usmall) {
			free(u);
			free(snap);
		}
		if (got || r < 0 || pl_ms_left(dl) == 0)
			break;
	}
	pl_tls.wait_mask = NULL;
	return got ? got : r < 0 ? r : 0;
}

static int ep_has_socks(int epfd)
{
	int any = 0;

	if (!__atomic_load_n(&ep_count, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&pl_mu);
	for (struct pl_ep *e = ep_list; e; e = e->next)
		if (e->epfd == epfd)
			any = e->n > 0;
	pthread_mutex_unlock(&pl_mu);
	return any;
}

PL_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	if (!ep_has_socks(epfd))
		return pl_real.epoll_wait(epfd, ev, max, timeout);
	return (int)pl_ret(ep_wait_mixed(epfd, ev, max, timeout, NULL));
}

PL_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max,
			  int timeout, const sigset_t *mask)
{
	if (!ep_has_socks(epfd))
		return pl_real.epoll_pwait(epfd, ev, max, timeout, mask);
	return (int)pl_ret(ep_wait_mixed(epfd, ev, max, timeout, mask));
}

PL_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max,
			   const struct timespec *ts, const sigset_t *mask)
{
	int (*real)(int, struct epoll_event *, int, const struct timespec *,
		    const sigset_t *);

	if (!ep_has_socks(epfd)) {
		real = (int (*)(int, struct epoll_event *, int,
				const struct timespec *, const sigset_t *))
		       dlsym(RTLD_NEXT, "epoll_pwait2");
		if (!real)
			return (int)pl_ret(-ENOSYS);
		return real(epfd, ev, max, ts, mask);
	}
	return (int)pl_ret(ep_wait_mixed(epfd, ev, max, ts_ms(ts), mask));
}
