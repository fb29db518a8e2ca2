/*
 * thread.c - the threaded runtime: a stack thread drives the device and
 * the timers; socket calls come from any thread, serialised by one mutex,
 * and blocking calls sleep until the stack says their socket changed.
 *
 * The stack thread loops: take the mutex, read the clock, read the device
 * (RT_DEV_BUDGET frames), fire timers, note when it means to wake up
 * (sleep_until), drop the mutex and sleep in ppoll(2) on the device fd, a
 * "kick" eventfd and the ustack_wakeup() eventfd. A socket call that moves
 * the next deadline earlier than sleep_until (a timer armed by connect or
 * send) kicks the thread on its way out, so it recomputes its sleep; calls
 * that change nothing cost no system call.
 *
 * Caller drives: a blocking call drives the stack itself while it waits
 * (the leader: passes and ppoll on the device fd, like the event loop),
 * so the frame that answers it costs its own wakeup only, not the stack
 * thread's and then a condition variable's. The newest blocked call
 * leads; the stack thread parks meanwhile (thr_park, lead_done).
 *
 * Waiting: one waiter record per blocked call, on the caller's stack, in a
 * list in the runtime. A blocking call's waiter names its socket and has
 * its own condition variable (a leader: an eventfd too); sock_wakeup(sk)
 * signals exactly the waiters of sk (all of them for sk == NULL). Why not a condition variable
 * per socket: a socket closed by another thread while calls wait on it
 * would take its condition variable with it; the waiter outlives nothing.
 * Why not one broadcast for everything: a thread-per-connection server
 * would wake every thread for every segment. The cost is a walk of the
 * waiter list per wakeup: O(blocked calls), a first-fired flag keeps it to
 * one signal per waiter per sleep.
 *
 * ustack_poll() has to wait on OS fds (stdin, a control socket) together
 * with stack sockets, which a condition variable can not do. Its waiter
 * carries an eventfd instead (from a small cache) that sock_wakeup()
 * writes when one of its sockets changes; the poller sleeps in ppoll(2) on
 * that eventfd plus its OS fds, without the mutex.
 *
 * ustack_wakeup() is async-signal-safe: it only writes an eventfd the stack
 * thread watches; the stack thread then ends every blocked call with
 * -EINTR (or, if none is blocked, the next blocking call). After
 * ustack_thread_stop() the runtime stays attached but stopped: blocked and
 * later blocking calls return -ECANCELED, non-blocking calls still work,
 * nothing drives the device; ustack_thread_start() resumes it.
 *
 * May touch: the stack (under the mutex), the device fd, its eventfds, the
 * clock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/stack.h"
#include "sock/rt.h"
#include "sock/sock.h"

#define THR_EFD_CACHE 16
#define THR_MATCH_SCAN_MAX 64   /* larger poll sets wake on any change */
#define THR_PARK_US 1000        /* the stack thread's first park slice */
#define THR_PARK_MAX_US 8000    /* ... doubling while callers drive */
#define THR_LEAD_POLL_MAX 4     /* a poller leads with at most this many
				 * stack sockets */

struct thr_waiter {
	struct thr_waiter *next, *prev;
	struct sock *sk;                   /* blocking call: its socket */
	const struct ustack_pollfd *fds;   /* poller: its set */
	unsigned nfds;
	int efd;                           /* poller, leader: written on a match */
	pthread_cond_t cond;               /* blocking call (not the leader) */
	int fired;
	int efd_sig;                       /* efd written: drain before reuse */
	uint32_t intr_gen;
};

struct thr_rt {
	pthread_mutex_t mu;
	pthread_condattr_t cattr;          /* CLOCK_MONOTONIC */
	pthread_t thread;
	ustack_clock_fn clock;
	void *clock_ctx;
	int kick_efd;                      /* calls -> stack thread */
	int wake_efd;                      /* ustack_wakeup() */
	int running, stopping, joining;
	ustack_time_t sleep_until;         /* the stack thread's plan */
	struct rt_devwait dw;              /* fd-less (or broken) device */
	uint32_t intr_gen;                 /* bumped by each ustack_wakeup */
	int intr_pending;                  /* ... that found nobody blocked */
	struct thr_waiter *waiters;
	int efd_cache[THR_EFD_CACHE];
	unsigned nefd;
	/* Caller drives: a blocking call that drives the device itself. */
	struct thr_waiter *leader;         /* NULL: the stack thread drives */
	int leading;                       /* the leader is in its own pass */
	pthread_cond_t park;               /* the stack thread while parked */
	int parked;
	ustack_time_t park_us;             /* its current park slice */
	ustack_time_t park_until;          /* ... ends then (st->now's clock) */
};

static struct thr_rt *thr_of(struct ustack *st)
{
	return st->rt_priv;
}

static ustack_time_t thr_clock(struct thr_rt *rt)
{
	return rt->clock(rt->clock_ctx);
}

/* ---- waiters (all under the mutex) ------------------------------------ */

static void waiter_add(struct thr_rt *rt, struct thr_waiter *w)
{
	w->prev = NULL;
	w->next = rt->waiters;
	if (rt->waiters)
		rt->waiters->prev = w;
	rt->waiters = w;
	w->fired = 0;
	w->intr_gen = rt->intr_gen;
}

static void waiter_del(struct thr_rt *rt, struct thr_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		rt->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
}

static void waiter_fire(struct thr_rt *rt, struct thr_waiter *w)
{
	if (w->fired)
		return;
	w->fired = 1;
	if (w == rt->leader && rt->leading)
		return; /* its own pass: it looks at `fired` next */
	if (w->efd >= 0) {
		/* A poller, a leader, or a former leader that may still
		 * sleep in ppoll before it finds it no longer leads. */
		w->efd_sig = 1;
		rt_efd_signal(w->efd);
	}
	if (!w->fds)
		pthread_cond_signal(&w->cond);
}

static int waiter_matches(const struct thr_waiter *w, const struct sock *sk)
{
	if (!sk)
		return 1;
	if (!w->fds)
		return w->sk == sk;
	if (w->nfds > THR_MATCH_SCAN_MAX)
		return 1;
	for (unsigned i = 0; i < w->nfds; i++)
		if (w->fds[i].sd == sk->sd)
			return 1;
	return 0;
}

static void fire_all(struct thr_rt *rt)
{
	for (struct thr_waiter *w = rt->waiters; w; w = w->next)
		waiter_fire(rt, w);
}

/* ustack_wakeup() seen by the stack thread. */
static void thr_interrupt(struct thr_rt *rt)
{
	rt->intr_gen++;
	if (rt->waiters)
		fire_all(rt);
	else
		rt->intr_pending = 1;
}

/* Why a wait ended: -ECANCELED, -EINTR, or 0. */
static int waiter_verdict(struct thr_rt *rt, const struct thr_waiter *w)
{
	if (rt->stopping)
		return -ECANCELED;
	if (w->intr_gen != rt->intr_gen)
		return -EINTR;
	return 0;
}

/* Before sleeping: an interrupt nobody saw yet, or a stopped runtime. */
static int wait_precheck(struct thr_rt *rt)
{
	if (rt->stopping)
		return -ECANCELED;
	if (rt->intr_pending) {
		rt->intr_pending = 0;
		return -EINTR;
	}
	return 0;
}

/* ---- the stack thread ----------------------------------------------------- */

/* A call may have armed a timer earlier than the stack thread's planned
 * wake-up: kick it once so it replans. */
static void thr_kick(struct ustack *st, struct thr_rt *rt)
{
	if (!rt->running || ustack_next_deadline(st) >= rt->sleep_until)
		return;
	rt->sleep_until = 0;
	if (rt->leader) {
		rt->leader->efd_sig = 1;
		rt_efd_signal(rt->leader->efd);
	} else if (rt->parked)
		pthread_cond_signal(&rt->park);
	else
		rt_efd_signal(rt->kick_efd);
}

/*
 * A caller drives: the stack thread stays off the device, in slices that
 * double (THR_PARK_US up to THR_PARK_MAX_US) while callers keep driving.
 * A leader that leaves does not wake it (the next request's caller will
 * most often lead again) unless a ustack_poll() waits or a deadline comes
 * before the slice ends (lead_done): timers stay exact, and frames that
 * nobody waits for wait at most one slice for the stack thread.
 */
static void thr_park(struct ustack *st, struct thr_rt *rt)
{
	ustack_time_t now = thr_clock(rt);
	struct timespec ts = rt_cond_deadline(rt->clock, now, rt->park_us);
	int r = 0;

	rt->park_until = now + rt->park_us;
	rt->parked = 1;
	while (rt->leader && !rt->stopping && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&rt->park, &rt->mu, &ts);
	rt->parked = 0;
	if (r == ETIMEDOUT && rt->leader)
		rt->park_us = USTACK_MIN(rt->park_us * 2, THR_PARK_MAX_US);
	(void)st;
}

static void thr_sleep(struct ustack *st, struct thr_rt *rt, int busy)
{
	struct rt_pollset ps;
	ustack_time_t us;
	int dev_i, kick_i, wake_i, r;

	us = rt_sleep_us(st, busy ? st->now : USTACK_TIME_NEVER, &rt->dw);
	rt->sleep_until = us == USTACK_TIME_NEVER ? USTACK_TIME_NEVER :
			  st->now + us;
	rt_pollset_init(&ps, 3); /* small: can not fail */
	dev_i = rt_pollset_add(&ps, rt_dev_fd(st, &rt->dw), POLLIN);
	kick_i = rt_pollset_add(&ps, rt->kick_efd, POLLIN);
	wake_i = rt_pollset_add(&ps, rt->wake_efd, POLLIN);
	pthread_mutex_unlock(&rt->mu);
	r = rt_ppoll(&ps, us);
	if (r > 0 && ps.p[kick_i].revents)
		rt_efd_drain(rt->kick_efd);
	pthread_mutex_lock(&rt->mu);
	if (r > 0 && dev_i >= 0)
		rt_dev_polled(&rt->dw, ps.p[dev_i].revents);
	if (ps.p[wake_i].revents) {
		rt_efd_drain(rt->wake_efd);
		thr_interrupt(rt);
	}
	rt_pollset_fini(&ps);
}

static void *thr_main(void *arg)
{
	struct ustack *st = arg;
	struct thr_rt *rt = thr_of(st);

	pthread_mutex_lock(&rt->mu);
	while (!rt->stopping) {
		int n;

		if (rt->leader) {
			thr_park(st, rt);
			continue;
		}
		rt->park_us = THR_PARK_US;
		n = rt_drive(st, thr_clock(rt), &rt->dw);
		rt_dev_drained(st, &rt->dw, n);
		if (rt->stopping)
			break;
		thr_sleep(st, rt, n >= RT_DEV_BUDGET);
	}
	rt->sleep_until = 0;
	pthread_mutex_unlock(&rt->mu);
	return NULL;
}

/* ---- rt_ops ------------------------------------------------------------- */

static void thr_enter(struct ustack *st)
{
	struct thr_rt *rt = thr_of(st);

	pthread_mutex_lock(&rt->mu);
	stack_set_now(st, thr_clock(rt));
}

static void thr_leave(struct ustack *st)
{
	struct thr_rt *rt = thr_of(st);

	thr_kick(st, rt);
	pthread_mutex_unlock(&rt->mu);
}

/* ---- caller drives ------------------------------------------------------ */

static int efd_get(struct thr_rt *rt);
static void efd_put(struct thr_rt *rt, int fd, int sig);

/* May a blocking call drive the device itself? The newest blocked call
 * takes the lead (the one whose answer is most likely next: a worker's
 * recv rather than a long accept); a former leader finds out when it
 * next wakes and waits on its condition variable from then on. */
static int lead_ok(struct ustack *st, struct thr_rt *rt)
{
	return rt->running && !rt->stopping && rt_dev_fd(st, &rt->dw) >= 0;
}

static void lead_take(struct thr_rt *rt, struct thr_waiter *w)
{
	int was_driving = !rt->leader && !rt->parked;

	rt->leader = w;
	if (was_driving)
		rt_efd_signal(rt->kick_efd); /* off the device, and park */
}

/* The leader's sleep: the device, its eventfd (its socket changed, or a
 * deadline moved: thr_kick), the ustack_wakeup() eventfd. */
static void lead_sleep(struct ustack *st, struct thr_rt *rt,
		       struct thr_waiter *w, int busy, ustack_time_t deadline)
{
	struct rt_pollset ps;
	ustack_time_t us;
	int dev_i, efd_i, wake_i, r;

	us = rt_sleep_us(st, busy ? st->now : deadline, &rt->dw);
	rt->sleep_until = us == USTACK_TIME_NEVER ? USTACK_TIME_NEVER :
			  st->now + us;
	rt_pollset_init(&ps, 3); /* small: can not fail */
	dev_i = rt_pollset_add(&ps, rt_dev_fd(st, &rt->dw), POLLIN);
	efd_i = rt_pollset_add(&ps, w->efd, POLLIN);
	wake_i = rt_pollset_add(&ps, rt->wake_efd, POLLIN);
	pthread_mutex_unlock(&rt->mu);
	r = rt_ppoll(&ps, us);
	pthread_mutex_lock(&rt->mu);
	if (r > 0 && dev_i >= 0)
		rt_dev_polled(&rt->dw, ps.p[dev_i].revents);
	if (r > 0 && ps.p[efd_i].revents) {
		rt_efd_drain(w->efd); /* fired (seen next) or a kick */
		w->efd_sig = 0;
	}
	if (r > 0 && ps.p[wake_i].revents) {
		rt_efd_drain(rt->wake_efd);
		thr_interrupt(rt);
	}
	rt_pollset_fini(&ps);
}

/* One turn of the leader: a pass, then sleep unless done. Returns 1 when
 * the deadline passed. */
static int lead_turn(struct ustack *st, struct thr_rt *rt,
		     struct thr_waiter *w, ustack_time_t deadline)
{
	int n;

	rt->leading = 1;
	n = rt_drive(st, thr_clock(rt), &rt->dw);
	rt->leading = 0;
	rt_dev_drained(st, &rt->dw, n);
	if (w->fired || rt->stopping)
		return 0;
	if (st->now >= deadline)
		return 1;
	lead_sleep(st, rt, w, n >= RT_DEV_BUDGET, deadline);
	return 0;
}

/* Does a ustack_poll() wait (an event loop serving many sockets)? */
static int pollers_wait(const struct thr_rt *rt)
{
	for (const struct thr_waiter *w = rt->waiters; w; w = w->next)
		if (w->fds)
			return 1;
	return 0;
}

/* The leader leaves: wake the stack thread now if a deadline comes
 * before its park slice ends or a ustack_poll() waits; else let it find
 * out when the slice ends (or the next blocking call leads): blocking
 * calls still waiting are served by the next leader or the stack thread
 * within one slice. */
static void lead_done(struct ustack *st, struct thr_rt *rt)
{
	rt->leader = NULL;
	rt->sleep_until = 0;
	rt->park_us = THR_PARK_US; /* busy: short slices */
	if (!rt->parked)
		return;
	if (ustack_next_deadline(st) < rt->park_until || pollers_wait(rt))
		pthread_cond_signal(&rt->park);
	else
		rt->sleep_until = rt->park_until; /* thr_kick's bound */
}

/* A follower's sleep on its condition variable; 1 when the deadline
 * passed. */
static int follow_turn(struct thr_rt *rt, struct thr_waiter *w,
		       ustack_time_t deadline)
{
	ustack_time_t now;
	struct timespec ts;

	if (deadline == USTACK_TIME_NEVER) {
		pthread_cond_wait(&w->cond, &rt->mu);
		return 0;
	}
	now = thr_clock(rt);
	if (now >= deadline)
		return 1;
	ts = rt_cond_deadline(rt->clock, now, deadline - now);
	pthread_cond_timedwait(&w->cond, &rt->mu, &ts);
	return 0;
}

/*
 * A blocking call waits. If it may, it leads: it drives the stack itself
 * while it waits, as the event loop does (read the device, fire timers,
 * sleep in ppoll on the device fd), so the frame that answers it is read
 * by this thread and the answer costs one wakeup (the caller's), not two
 * (the stack thread's, then the condition variable's). The stack thread
 * meanwhile parks (thr_park). Otherwise it follows: it sleeps on its
 * condition variable until whoever drives says its socket changed.
 */
static int thr_wait(struct ustack *st, struct sock *sk, short events,
		    ustack_time_t deadline)
{
	struct thr_rt *rt = thr_of(st);
	struct thr_waiter w = {.sk = sk, .efd = -1};
	int err, timedout = 0;

	(void)events; /* any change of sk wakes us; the caller re-checks */
	if ((err = wait_precheck(rt)) < 0)
		return err;
	pthread_cond_init(&w.cond, &rt->cattr);
	waiter_add(rt, &w);
	if (lead_ok(st, rt) && (w.efd = efd_get(rt)) >= 0)
		lead_take(rt, &w);
	else
		thr_kick(st, rt);
	if (rt->leader == &w && st->now < deadline)
		lead_sleep(st, rt, &w, 0, deadline); /* no read in front: the
						       * ppoll sees a queued frame */
	while (!w.fired && !rt->stopping && !timedout)
		timedout = rt->leader == &w ? lead_turn(st, rt, &w, deadline)
					    : follow_turn(rt, &w, deadline);
	waiter_del(rt, &w);
	if (rt->leader == &w)
		lead_done(st, rt);
	if (w.efd >= 0)
		efd_put(rt, w.efd, w.efd_sig);
	pthread_cond_destroy(&w.cond);
	stack_set_now(st, thr_clock(rt));
	if ((err = waiter_verdict(rt, &w)) < 0)
		return err;
	return timedout ? -ETIMEDOUT : 0;
}

static void thr_notify(struct ustack *st, struct sock *sk)
{
	for (struct thr_waiter *w = thr_of(st)->waiters; w; w = w->next)
		if (!w->fired && waiter_matches(w, sk))
			waiter_fire(thr_of(st), w);
}

static int efd_get(struct thr_rt *rt)
{
	if (rt->nefd > 0)
		return rt->efd_cache[--rt->nefd];
	return rt_efd_open();
}

/* Back to the cache; drained first if it may have been written (sig). */
static void efd_put(struct thr_rt *rt, int fd, int sig)
{
	if (sig)
		rt_efd_drain(fd);
	if (rt->nefd < THR_EFD_CACHE)
		rt->efd_cache[rt->nefd++] = fd;
	else
		close(fd);
}

/* A leading poller's sleep length (the stack's deadlines count too). */
static ustack_time_t poll_sleep_us(struct ustack *st, struct thr_rt *rt,
				   struct thr_waiter *w, int busy,
				   ustack_time_t end)
{
	ustack_time_t us, now;

	if (rt->leader == w) {
		us = rt_sleep_us(st, busy ? st->now : end, &rt->dw);
		rt->sleep_until = us == USTACK_TIME_NEVER ? USTACK_TIME_NEVER :
				  st->now + us;
		return us;
	}
	now = thr_clock(rt);
	return end == USTACK_TIME_NEVER ? USTACK_TIME_NEVER :
	       end > now ? end - now : 0;
}

/* Stack sockets in a poll set. */
static unsigned poll_socks(const struct ustack_pollfd *fds, unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		k += fds[i].sd >= 0;
	return k;
}

/*
 * A poller waits, without the mutex, in ppoll on its eventfd and the OS
 * fds. If nobody leads and it waits for few sockets (a blocking call
 * written as a poll, as the preload library does: request/response), it
 * leads; an event loop over many sockets does not, so the stack thread
 * keeps working the device beside it (on two CPUs the pipeline is worth
 * more than the wakeup it costs). It never takes the lead from another
 * call (two pollers would take it from each other at every frame): then the
 * device fd and the wakeup eventfd are in the set too, and it runs the
 * passes itself until one of its sockets or OS fds is ready, its time is
 * up, or a blocking call takes the lead. Returns the OS entries ready, 0
 * (look again), or -errno (incl. the verdict).
 */
static int poll_sleep(struct ustack *st, struct thr_rt *rt,
		      struct ustack_pollfd *fds, unsigned n, ustack_time_t end)
{
	struct thr_waiter w = {.fds = fds, .nfds = n};
	int lead = lead_ok(st, rt) && !rt->leader &&
		   poll_socks(fds, n) <= THR_LEAD_POLL_MAX, busy = 0;
	int dev_i, efd_i, wake_i, r, frames;
	struct rt_pollset ps;
	unsigned first;

	if ((w.efd = efd_get(rt)) < 0)
		return w.efd;
	if ((r = rt_pollset_init(&ps, n + 3)) < 0) {
		efd_put(rt, w.efd, 1);
		return r;
	}
	efd_i = rt_pollset_add(&ps, w.efd, POLLIN);
	dev_i = lead ? rt_pollset_add(&ps, rt_dev_fd(st, &rt->dw), POLLIN) : -1;
	wake_i = lead ? rt_pollset_add(&ps, rt->wake_efd, POLLIN) : -1;
	first = rt_pollset_add_os(&ps, fds, n);
	waiter_add(rt, &w);
	if (lead)
		lead_take(rt, &w);
	else
		thr_kick(st, rt);
	for (;;) {
		ustack_time_t us = poll_sleep_us(st, rt, &w, busy, end);

		pthread_mutex_unlock(&rt->mu);
		r = rt_ppoll(&ps, us);
		pthread_mutex_lock(&rt->mu);
		if (r < 0)
			break;
		if (r > 0 && dev_i >= 0)
			rt_dev_polled(&rt->dw, ps.p[dev_i].revents);
		if (r > 0 && ps.p[efd_i].revents) {
			rt_efd_drain(w.efd);
			w.efd_sig = 0;
		}
		if (r > 0 && wake_i >= 0 && ps.p[wake_i].revents) {
			rt_efd_drain(rt->wake_efd);
			thr_interrupt(rt);
		}
		r = (int)rt_pollset_collect_os(&ps, first, fds, n);
		if (r > 0 || w.fired || rt->stopping || rt->leader != &w)
			break;
		rt->leading = 1;
		frames = rt_drive(st, thr_clock(rt), &rt->dw);
		rt->leading = 0;
		rt_dev_drained(st, &rt->dw, frames);
		busy = frames >= RT_DEV_BUDGET;
		if (w.fired || rt->stopping || st->now >= end)
			break;
	}
	waiter_del(rt, &w);
	if (rt->leader == &w)
		lead_done(st, rt);
	efd_put(rt, w.efd, w.efd_sig);
	stack_set_now(st, thr_clock(rt));
	rt_pollset_fini(&ps);
	if (r >= 0 && (w.fired || r == 0)) {
		int v = waiter_verdict(rt, &w);

		if (v < 0)
			r = v;
	}
	return r;
}

static int thr_poll(struct ustack *st, struct ustack_pollfd *fds, unsigned n,
		    int timeout_ms)
{
	struct thr_rt *rt = thr_of(st);
	ustack_time_t end = timeout_ms < 0 ? USTACK_TIME_NEVER :
			    st->now + USTACK_MS(timeout_ms);
	int ready, os;

	for (;;) {
		ready = (int)sock_poll_eval(st, fds, n);
		if (ready || st->now >= end) {
			os = rt_poll_os_now(fds, n);
			return os < 0 ? os : ready + os;
		}
		if ((os = wait_precheck(rt)) < 0)
			return os;
		os = poll_sleep(st, rt, fds, n, end);
		if (os < 0)
			return os;
		if (os > 0)
			return (int)sock_poll_eval(st, fds, n) + os;
	}
}

/* ---- start, stop, detach -------------------------------------------------- */

static void thr_stop(struct ustack *st)
{
	struct thr_rt *rt = thr_of(st);

	pthread_mutex_lock(&rt->mu);
	if (!rt->running || rt->joining) {
		pthread_mutex_unlock(&rt->mu);
		return;
	}
	rt->stopping = 1;
	rt->joining = 1;
	fire_all(rt);
	pthread_cond_signal(&rt->park);
	pthread_mutex_unlock(&rt->mu);
	rt_efd_signal(rt->kick_efd);
	pthread_join(rt->thread, NULL);
	pthread_mutex_lock(&rt->mu);
	rt->running = 0;
	rt->joining = 0;
	pthread_mutex_unlock(&rt->mu);
}

static void thr_detach(struct ustack *st)
{
	struct thr_rt *rt = thr_of(st);

	thr_stop(st);
	while (rt->nefd > 0)
		close(rt->efd_cache[--rt->nefd]);
	close(rt->kick_efd);
	close(rt->wake_efd);
	pthread_cond_destroy(&rt->park);
	pthread_condattr_destroy(&rt->cattr);
	pthread_mutex_destroy(&rt->mu);
	free(rt);
	st->rt = NULL;
	st->rt_priv = NULL;
}

static void thr_wakeup(struct ustack *st)
{
	rt_efd_signal(thr_of(st)->wake_efd);
}

static const struct rt_ops thr_ops = {
	.enter = thr_enter,
	.leave = thr_leave,
	.wait = thr_wait,
	.notify = thr_notify,
	.poll = thr_poll,
	.detach = thr_detach,
	.wakeup = thr_wakeup,
};

static struct thr_rt *thr_new(void)
{
	struct thr_rt *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return NULL;
	rt->kick_efd = rt_efd_open();
	rt->wake_efd = rt_efd_open();
	if (rt->kick_efd < 0 || rt->wake_efd < 0) {
		if (rt->kick_efd >= 0)
			close(rt->kick_efd);
		if (rt->wake_efd >= 0)
			close(rt->wake_efd);
		free(rt);
		return NULL;
	}
	pthread_mutex_init(&rt->mu, NULL);
	pthread_condattr_init(&rt->cattr);
	pthread_condattr_setclock(&rt->cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&rt->park, &rt->cattr);
	rt->park_us = THR_PARK_US;
	return rt;
}

/* With the mutex held and the thread not running. */
static int thr_launch(struct ustack *st, struct thr_rt *rt,
		      ustack_clock_fn clock, void *ctx)
{
	int err;

	rt->clock = clock ? clock : ustack_clock_monotonic;
	rt->clock_ctx = ctx;
	rt->stopping = 0;
	rt->intr_pending = 0;
	rt_devwait_init(&rt->dw);
	rt->sleep_until = 0;
	stack_set_now(st, thr_clock(rt));
	if ((err = pthread_create(&rt->thread, NULL, thr_main, st)) != 0)
		return -err;
	rt->running = 1;
	return 0;
}

int ustack_thread_start(struct ustack *st, ustack_clock_fn clock, void *ctx)
{
	struct thr_rt *rt;
	int err;

	if (!st)
		return -EINVAL;
	if (st->rt && st->rt != &thr_ops)
		return -EBUSY;
	if (st->rt) {
		/* A stopped runtime: resume it. */
		rt = thr_of(st);
		pthread_mutex_lock(&rt->mu);
		err = rt->running ? -EBUSY : thr_launch(st, rt, clock, ctx);
		pthread_mutex_unlock(&rt->mu);
		return err;
	}
	if ((rt = thr_new()) == NULL)
		return -ENOMEM;
	st->rt_priv = rt;
	st->rt = &thr_ops;
	pthread_mutex_lock(&rt->mu);
	err = thr_launch(st, rt, clock, ctx);
	pthread_mutex_unlock(&rt->mu);
	if (err < 0)
		thr_detach(st);
	return err;
}

void ustack_thread_stop(struct ustack *st)
{
	if (st && st->rt == &thr_ops)
		thr_stop(st);
}
