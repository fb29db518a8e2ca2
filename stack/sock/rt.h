/*
 * rt.h - what a runtime (event loop, threaded) provides to the socket layer.
 * Internal. With st->rt == NULL the stack is driven by hand and nothing
 * blocks.
 *
 * Also the pieces both runtimes share (clock.c): one pass of the stack,
 * sleeping in ppoll(2) on a set of fds, readiness of ustack_pollfd sets.
 * The runtimes are the only code in stack/ that reads a clock or sleeps.
 */
#ifndef USTACK_SOCK_RT_H
#define USTACK_SOCK_RT_H

#include <poll.h>

#include <ustack/runtime.h>
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
	 * -ETIMEDOUT, -EINTR (ustack_wakeup), -ECANCELED (runtime stopping).
	 * May return 0 early (spurious wakeups are fine: the caller retries
	 * and waits again); sk may be closed when it returns (the caller
	 * looks it up again by sd and gen). */
	int (*wait)(struct ustack *st, struct sock *sk, short events,
		    ustack_time_t deadline);
	/* sock_wakeup() lands here (sk NULL: any socket). */
	void (*notify)(struct ustack *st, struct sock *sk);
	/* ustack_poll() with a timeout; called between enter/leave. */
	int (*poll)(struct ustack *st, struct ustack_pollfd *fds, unsigned n,
		    int timeout_ms);
	/* Undo attach (ustack_destroy calls it). */
	void (*detach)(struct ustack *st);
	/* ustack_wakeup(): async-signal-safe (an eventfd write). */
	void (*wakeup)(struct ustack *st);
};

/* ---- shared by the runtimes (clock.c) ----------------------------------- */

#define RT_DEV_BUDGET 64        /* frames read per pass before looking up */
#define RT_NOFD_MIN_US 50       /* fd-less device: first sleep slice */
#define RT_NOFD_MAX_US 1000     /* ... doubling up to this */
#define RT_SPARSE_US 20         /* a device wakeup after this long idle
				 * reads one frame (rt_dev_budget) */

struct rt_devwait;

/* One pass: bring st->now to `now`, read up to rt_dev_budget(dw) frames
 * (RT_DEV_BUDGET with dw NULL), fire due timers. Returns the number of
 * frames read. */
int rt_drive(struct ustack *st, ustack_time_t now, struct rt_devwait *dw);

/*
 * Waiting for the device. A device without an fd has nothing to wake us
 * when a frame arrives, and neither has one whose fd reports an error or
 * hang-up (it would make ppoll return at once, forever): both are polled
 * in slices that grow from RT_NOFD_MIN_US to RT_NOFD_MAX_US while idle
 * and start again when frames arrive: bounded latency, no busy spinning.
 */
struct rt_devwait {
	ustack_time_t idle_us;   /* the next slice */
	int suspect;             /* the fd reported POLLERR/POLLHUP/POLLNVAL */
	int broken;              /* ... and then had nothing: not polled */
	int dev_woke;            /* the last sleep ended with the fd readable */
	ustack_time_t pass_at;   /* when the last pass began */
};
void rt_devwait_init(struct rt_devwait *dw);
/* The fd to sleep on, or -1 (none, or broken). */
int rt_dev_fd(struct ustack *st, const struct rt_devwait *dw);
/* After ppoll, with the revents of the device fd. */
void rt_dev_polled(struct rt_devwait *dw, short revents);
/* After a pass, with the frames it read. */
void rt_dev_drained(struct ustack *st, struct rt_devwait *dw, int frames);
/*
 * Frames to read in a pass beginning at `now`. A device that woke us
 * after at least RT_SPARSE_US without a pass has, as a rule, one frame
 * (the kernel writes the TAP a frame at a time and we woke on the first):
 * read that one and skip the read that would only say EAGAIN. If more
 * came, the next ppoll returns at once and that pass drains the queue
 * (RT_DEV_BUDGET): a burst costs one ppoll more, a lone frame one readv
 * less. Consumes the wakeup.
 */
int rt_dev_budget(struct rt_devwait *dw, ustack_time_t now);

/*
 * How long to sleep from st->now: until `until` and the stack's next
 * deadline, whichever is first (0 if passed), and no longer than the
 * current slice if the device can not wake us (rt_devwait).
 * USTACK_TIME_NEVER means forever.
 */
ustack_time_t rt_sleep_us(struct ustack *st, ustack_time_t until,
			  struct rt_devwait *dw);

/* A pollfd array, on the stack for small sets. */
#define RT_POLLSET_SMALL 32
struct rt_pollset {
	struct pollfd small[RT_POLLSET_SMALL];
	struct pollfd *p;
	unsigned n, cap;
};
/* Room for cap entries; -ENOMEM. */
int rt_pollset_init(struct rt_pollset *ps, unsigned cap);
void rt_pollset_fini(struct rt_pollset *ps);
/* Add fd (ignored when < 0); returns its index or -1. */
int rt_pollset_add(struct rt_pollset *ps, int fd, short events);
/* Add the OS entries (sd < 0) of fds; returns the index of the first. */
unsigned rt_pollset_add_os(struct rt_pollset *ps,
			   const struct ustack_pollfd *fds, unsigned n);
/* Copy revents of the OS entries back (from index `first`); returns how
 * many have revents != 0. */
unsigned rt_pollset_collect_os(const struct rt_pollset *ps, unsigned first,
			       struct ustack_pollfd *fds, unsigned n);
/* ppoll for at most us microseconds (NEVER: forever). Returns the number
 * of ready fds, 0 on timeout or a signal, or -errno. */
int rt_ppoll(struct rt_pollset *ps, ustack_time_t us);
/* Readiness of the OS entries of fds right now (zero timeout). */
int rt_poll_os_now(struct ustack_pollfd *fds, unsigned n);

/* Non-blocking, close-on-exec eventfd; -errno. */
/*
 * The absolute CLOCK_MONOTONIC time at which a condition wait `us` after
 * `now` (read from `clock`) times out, for pthread_cond_timedwait. With the
 * default clock `now` is already CLOCK_MONOTONIC and no clock is read; an
 * injected clock decides every deadline (the waiter re-checks it after each
 * wake), and only the length of this one sleep is measured by the OS.
 */
struct timespec rt_cond_deadline(ustack_clock_fn clock, ustack_time_t now,
				 ustack_time_t us);

int rt_efd_open(void);
void rt_efd_signal(int fd);   /* async-signal-safe */
void rt_efd_drain(int fd);

/* Readiness of the stack entries (sd >= 0) of fds; OS entries are left
 * alone (rt_poll_os_now or a pollset fills them). Returns how many stack
 * entries have revents != 0. (sock.c) */
unsigned sock_poll_eval(struct ustack *st, struct ustack_pollfd *fds,
			unsigned n);
/* ops->poll of one socket, or a generic answer if it has none. */
short sock_poll_one(struct ustack *st, struct sock *sk);

#endif
