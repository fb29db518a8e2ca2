/*
 * check_runtime.c - the two runtimes, in real time: two stacks joined by a
 * small test device over socketpair(AF_UNIX, SOCK_DGRAM) (real fds, so the
 * ppoll paths are exercised; a variant hides the fd to exercise the
 * fd-less sleep slices). Event loop: blocking calls and ustack_poll drive
 * the stack, timeouts, OS fds, ustack_wakeup. Threaded: blocking recvfrom
 * in one thread while another sends, ustack_thread_stop cancelling a
 * blocked call, close and wakeup of a blocked call, ustack_poll over an OS
 * pipe and a stack socket, timer deadlines moved by a call (the kick), a
 * blocked call and a poller reading their own answers from the device
 * (caller drives).
 *
 * Everything is bounded by deadlines (SO_RCVTIMEO, poll timeouts, Check's
 * per-test timeout); nothing sleeps for a fixed time to "let things
 * happen".
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <ustack/dev.h>
#include <ustack/runtime.h>
#include <ustack/socket.h>

#include "lib/check_main.h"
#include "lib/testbed.h"

#define ADDR_A 0x0a000001u
#define ADDR_B 0x0a000002u

/* ---- the socketpair device --------------------------------------------- */

struct spdev {
	struct ustack_dev base;
	int fd;
	int hide_fd;          /* pretend to have no fd (like an fd-less link) */
	pthread_t owner;      /* frames read by this thread are counted: */
	int owner_set;
	unsigned long owner_frames, frames; /* (under the stack's mutex) */
};

static int sp_transmit(struct ustack_dev *d, const void *f, size_t len,
		       ustack_time_t now)
{
	struct spdev *s = (struct spdev *)d;
	ssize_t n = send(s->fd, f, len, MSG_DONTWAIT);

	(void)now;
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	return 0;
}

static long sp_receive(struct ustack_dev *d, void *buf, size_t cap,
		       ustack_time_t now)
{
	struct spdev *s = (struct spdev *)d;
	ssize_t n = recv(s->fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);

	(void)now;
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	s->frames++;
	if (s->owner_set && pthread_equal(s->owner, pthread_self()))
		s->owner_frames++;
	return (size_t)n > cap ? -EMSGSIZE : (long)n;
}

static int sp_get_fd(struct ustack_dev *d)
{
	struct spdev *s = (struct spdev *)d;

	return s->hide_fd ? -1 : s->fd;
}

static void sp_close(struct ustack_dev *d)
{
	struct spdev *s = (struct spdev *)d;

	close(s->fd);
	free(s);
}

static const struct ustack_dev_ops sp_ops = {
	.transmit = sp_transmit,
	.receive = sp_receive,
	.get_fd = sp_get_fd,
	.close = sp_close,
};

static struct ustack_dev *sp_new(int fd, int hide_fd)
{
	struct spdev *s = calloc(1, sizeof(*s));

	ck_assert_ptr_nonnull(s);
	s->base.ops = &sp_ops;
	s->base.kind = "socketpair";
	s->base.mtu = 1500;
	s->fd = fd;
	s->hide_fd = hide_fd;
	return &s->base;
}

/* ---- two stacks ------------------------------------------------------------ */

struct pair {
	struct ustack *a, *b;
	struct ustack_dev *da, *db;
};

static void stack_cfg(struct ustack_config *c, uint32_t addr)
{
	ustack_config_default(c);
	c->addr = addr;
	c->mac[5] = (uint8_t)addr;
	c->seed_from_os = 0;
	c->seed = addr;
	c->log_level = getenv("USTACK_TEST_LOG") ?
		       atoi(getenv("USTACK_TEST_LOG")) : USTACK_LOG_ERROR;
}

static void pair_new(struct pair *p, int hide_fd,
		     const struct ustack_config *cfg_a)
{
	struct ustack_config ca, cb;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	p->da = sp_new(sv[0], hide_fd);
	p->db = sp_new(sv[1], hide_fd);
	stack_cfg(&ca, ADDR_A);
	if (cfg_a)
		ca = *cfg_a;
	stack_cfg(&cb, ADDR_B);
	ck_assert_int_eq(ustack_create(&p->a, &ca, p->da,
				       ustack_clock_monotonic(NULL)), 0);
	ck_assert_int_eq(ustack_create(&p->b, &cb, p->db,
				       ustack_clock_monotonic(NULL)), 0);
}

static void pair_free(struct pair *p)
{
	ustack_destroy(p->a); /* stops a runtime, asserts no leaked pkb */
	ustack_destroy(p->b);
	ustack_dev_close(p->da);
	ustack_dev_close(p->db);
}

static int udp_on(struct ustack *st, uint16_t port, int timeo_ms)
{
	struct sockaddr_in s = tb_sin(0, port);
	struct timeval tv = {.tv_sec = timeo_ms / 1000,
			     .tv_usec = (timeo_ms % 1000) * 1000};
	int sd = ustack_socket(st, AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_ge(sd, 0);
	ck_assert_int_eq(ustack_bind(st, sd, (struct sockaddr *)&s, sizeof(s)),
			 0);
	if (timeo_ms)
		ck_assert_int_eq(ustack_setsockopt(st, sd, SOL_SOCKET,
						   SO_RCVTIMEO, &tv,
						   sizeof(tv)), 0);
	return sd;
}

static ustack_time_t now_us(void)
{
	return ustack_clock_monotonic(NULL);
}

/* An echo server on one stack, in its own thread (blocking calls). */
struct echo {
	struct ustack *st;
	int sd;
	int count;        /* datagrams to echo before returning */
	int echoed;
	int loop;         /* attach the event loop in the thread */
	pthread_t th;
};

static void *echo_main(void *arg)
{
	struct echo *e = arg;
	char buf[2048];

	while (e->echoed < e->count) {
		struct sockaddr_in src;
		socklen_t len = sizeof(src);
		ssize_t n = ustack_recvfrom(e->st, e->sd, buf, sizeof(buf), 0,
					    (struct sockaddr *)&src, &len);
		if (n < 0)
			break;
		if (ustack_sendto(e->st, e->sd, buf, (size_t)n, 0,
				  (struct sockaddr *)&src, len) != n)
			break;
		e->echoed++;
	}
	return NULL;
}

static void echo_start(struct echo *e, struct ustack *st, int count)
{
	e->st = st;
	e->sd = udp_on(st, 7, 5000);
	e->count = count;
	e->echoed = 0;
	ck_assert_int_eq(pthread_create(&e->th, NULL, echo_main, e), 0);
}

/* Send n datagrams from sd to B:7 and read each echo back (blocking). */
static void echo_exchange(struct ustack *st, int sd, int n)
{
	struct sockaddr_in to = tb_sin(ADDR_B, 7), src;

	for (int i = 0; i < n; i++) {
		char msg[64], buf[64];
		int len = snprintf(msg, sizeof(msg), "datagram %d", i);
		socklen_t alen = sizeof(src);

		ck_assert_int_eq(ustack_sendto(st, sd, msg, (size_t)len, 0,
					       (struct sockaddr *)&to,
					       sizeof(to)), len);
		ck_assert_int_eq(ustack_recvfrom(st, sd, buf, sizeof(buf), 0,
						 (struct sockaddr *)&src,
						 &alen), len);
		ck_assert_mem_eq(buf, msg, (size_t)len);
		ck_assert_uint_eq(ntohl(src.sin_addr.s_addr), ADDR_B);
		ck_assert_uint_eq(ntohs(src.sin_port), 7);
	}
}

/* ---- event loop ------------------------------------------------------------ */

static void loop_echo(int hide_fd)
{
	struct pair p;
	struct echo e;

	pair_new(&p, hide_fd, NULL);
	ck_assert_int_eq(ustack_loop_attach(p.a, NULL, NULL), 0);
	ck_assert_int_eq(ustack_loop_attach(p.a, NULL, NULL), -EBUSY);
	ck_assert_int_eq(ustack_loop_attach(p.b, NULL, NULL), 0);
	echo_start(&e, p.b, 5);
	echo_exchange(p.a, udp_on(p.a, 5000, 5000), 5);
	pthread_join(e.th, NULL);
	ck_assert_int_eq(e.echoed, 5);
	pair_free(&p);
}

START_TEST(test_runtime_loop_udp_echo_blocking)
{
	loop_echo(0);
}
END_TEST

START_TEST(test_runtime_loop_fdless_device_still_works)
{
	loop_echo(1);
}
END_TEST

START_TEST(test_runtime_loop_poll_timeout_and_readiness)
{
	struct pair p;
	struct echo e;
	int sd;
	struct ustack_pollfd pf;
	struct sockaddr_in to = tb_sin(ADDR_B, 7);
	ustack_time_t t0, dt;
	char buf[64];

	pair_new(&p, 0, NULL);
	ck_assert_int_eq(ustack_loop_attach(p.a, NULL, NULL), 0);
	ck_assert_int_eq(ustack_loop_attach(p.b, NULL, NULL), 0);
	sd = udp_on(p.a, 5000, 0);
	ck_assert_int_eq(ustack_set_nonblock(p.a, sd, 1), 0);
	pf = (struct ustack_pollfd){.sd = sd, .events = POLLIN};
	/* nothing comes: the timeout, in real time */
	t0 = now_us();
	ck_assert_int_eq(ustack_poll(p.a, &pf, 1, 100), 0);
	dt = now_us() - t0;
	ck_assert_uint_ge(dt, 95000);
	ck_assert_uint_lt(dt, 2000000);
	ck_assert_int_eq(pf.revents, 0);
	/* a datagram comes: poll drives the stack until it is there */
	echo_start(&e, p.b, 1);
	ck_assert_int_eq(ustack_sendto(p.a, sd, "hi", 2, 0,
				       (struct sockaddr *)&to, sizeof(to)), 2);
	t0 = now_us();
	ck_assert_int_eq(ustack_poll(p.a, &pf, 1, 5000), 1);
	ck_assert(pf.revents & POLLIN);
	ck_assert_uint_lt(now_us() - t0, 5000000);
	ck_assert_int_eq(ustack_recv(p.a, sd, buf, sizeof(buf), 0), 2);
	ck_assert_int_eq(ustack_recv(p.a, sd, buf, sizeof(buf), 0), -EAGAIN);
	pthread_join(e.th, NULL);
	pair_free(&p);
}
END_TEST

START_TEST(test_runtime_loop_poll_os_fd_and_wakeup)
{
	struct pair p;
	int sd, pfd[2];
	struct ustack_pollfd pf[2];
	char c;

	pair_new(&p, 0, NULL);
	ck_assert_int_eq(ustack_loop_attach(p.a, NULL, NULL), 0);
	sd = udp_on(p.a, 5000, 0);
	ck_assert_int_eq(pipe(pfd), 0);
	pf[0] = (struct ustack_pollfd){.sd = sd, .events = POLLIN};
	pf[1] = (struct ustack_pollfd){.sd = -1, .os_fd = pfd[0],
				       .events = POLLIN};
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	ck_assert_int_eq(ustack_poll(p.a, pf, 2, 5000), 1);
	ck_assert_int_eq(pf[0].revents, 0);
	ck_assert_int_eq(pf[1].revents, POLLIN);
	ck_assert_int_eq(read(pfd[0], &c, 1), 1);
	/* a wakeup before the call is not lost: the next wait is -EINTR */
	ustack_wakeup(p.a);
	ck_assert_int_eq(ustack_poll(p.a, pf, 2, 5000), -EINTR);
	ck_assert_int_eq(ustack_poll(p.a, pf, 2, 0), 0);
	ustack_wakeup(p.a);
	ck_assert_int_eq(ustack_recv(p.a, sd, &c, 1, 0), -EINTR);
	ustack_wakeup(p.a);
	ck_assert_int_eq(ustack_loop_run_once(p.a, 5000), -EINTR);
	ck_assert_int_eq(ustack_loop_run_once(p.a, 0), 0);
	close(pfd[0]);
	close(pfd[1]);
	pair_free(&p);
}
END_TEST

START_TEST(test_runtime_loop_rcvtimeo)
{
	struct pair p;
	int sd;
	char c;
	ustack_time_t t0, dt;

	pair_new(&p, 0, NULL);
	ck_assert_int_eq(ustack_loop_attach(p.a, NULL, NULL), 0);
	sd = udp_on(p.a, 5000, 150);
	t0 = now_us();
	ck_assert_int_eq(ustack_recv(p.a, sd, &c, 1, 0), -EAGAIN);
	dt = now_us() - t0;
	ck_assert_uint_ge(dt, 145000);
	ck_assert_uint_lt(dt, 2000000);
	pair_free(&p);
}
END_TEST

/* A timer armed by a call (ARP retries for a host nobody answers for)
 * must fire on time although nothing arrives: then the connected socket
 * learns EHOSTUNREACH. Under the threaded runtime this needs the kick. */
static void arp_failure(int threaded)
{
	struct ustack_config ca;
	struct pair p;
	struct sockaddr_in to = tb_sin(0x0a000063, 53);
	int sd;
	char c;
	ustack_time_t t0;

	stack_cfg(&ca, ADDR_A);
	ca.arp_retry_us = USTACK_MS(50);
	ca.arp_retries = 3;
	pair_new(&p, 0, &ca);
	if (threaded)
		ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	else
		ck_assert_int_eq(ustack_loop_attach(p.a, NULL, NULL), 0);
	sd = udp_on(p.a, 5000, 5000);
	ck_assert_int_eq(ustack_connect(p.a, sd, (struct sockaddr *)&to,
					sizeof(to)), 0);
	t0 = now_us();
	ck_assert_int_eq(ustack_send(p.a, sd, "q", 1, 0), 1);
	ck_assert_int_eq(ustack_recv(p.a, sd, &c, 1, 0), -EHOSTUNREACH);
	ck_assert_uint_lt(now_us() - t0, 2000000);
	pair_free(&p);
}

START_TEST(test_runtime_loop_timer_deadline_drives)
{
	arp_failure(0);
}
END_TEST

/* ---- threaded --------------------------------------------------------------- */

struct reader {
	struct ustack *st;
	int sd;
	ssize_t ret;
	char buf[64];
	pthread_t th;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	r->ret = ustack_recv(r->st, r->sd, r->buf, sizeof(r->buf), 0);
	return NULL;
}

static void reader_start(struct reader *r, struct ustack *st, int sd)
{
	r->st = st;
	r->sd = sd;
	r->ret = -12345;
	ck_assert_int_eq(pthread_create(&r->th, NULL, reader_main, r), 0);
}

START_TEST(test_runtime_thread_recv_in_one_thread_send_in_another)
{
	struct pair p;
	struct echo e;
	struct reader r;
	struct sockaddr_in to = tb_sin(ADDR_B, 7);
	int sd;

	pair_new(&p, 0, NULL);
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), -EBUSY);
	ck_assert_int_eq(ustack_loop_attach(p.a, NULL, NULL), -EBUSY);
	ck_assert_int_eq(ustack_thread_start(p.b, NULL, NULL), 0);
	echo_start(&e, p.b, 5);
	sd = udp_on(p.a, 5000, 5000);
	for (int i = 0; i < 3; i++) {
		/* the reader blocks first (or soon): the echo wakes it */
		reader_start(&r, p.a, sd);
		ck_assert_int_eq(ustack_sendto(p.a, sd, "abc", 3, 0,
					       (struct sockaddr *)&to,
					       sizeof(to)), 3);
		pthread_join(r.th, NULL);
		ck_assert_int_eq(r.ret, 3);
		ck_assert_mem_eq(r.buf, "abc", 3);
	}
	/* and plain blocking calls from this thread */
	echo_exchange(p.a, sd, 2);
	pthread_join(e.th, NULL);
	ck_assert_int_eq(e.echoed, 5);
	/* counters read under the lock while the stack thread runs */
	ustack_lock(p.a);
	ck_assert_uint_ge(ustack_stat(p.a, USTACK_STAT_UDP_TX), 3);
	ck_assert_uint_ge(ustack_stat(p.a, USTACK_STAT_UDP_RX), 3);
	ustack_unlock(p.a);
	pair_free(&p);
}
END_TEST

/* Caller drives: a blocking recvfrom reads the frame that answers it
 * itself instead of waiting for the stack thread to read it and signal
 * it (before, the stack thread read every frame: 0 here). */
START_TEST(test_runtime_thread_blocked_call_reads_its_answer)
{
	enum { N = 20 };
	struct spdev *da;
	struct pair p;
	struct echo e;
	unsigned long mine;
	int sd;

	pair_new(&p, 0, NULL);
	da = (struct spdev *)p.da;
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	ck_assert_int_eq(ustack_thread_start(p.b, NULL, NULL), 0);
	echo_start(&e, p.b, N);
	sd = udp_on(p.a, 5000, 5000);
	ustack_lock(p.a);
	da->owner = pthread_self();
	da->owner_set = 1;
	ustack_unlock(p.a);
	echo_exchange(p.a, sd, N);
	pthread_join(e.th, NULL);
	ustack_lock(p.a);
	mine = da->owner_frames;
	ck_assert_uint_ge(da->frames, N);
	ustack_unlock(p.a);
	/* Most answers; not necessarily all: one that comes before the
	 * call blocks is read by whoever drives then. */
	ck_assert_uint_ge(mine, N / 2);
	pair_free(&p);
}
END_TEST

/* The same for ustack_poll() (the preload library waits there): with
 * nobody else driving, the poller reads its answer itself. */
START_TEST(test_runtime_thread_poller_reads_its_answer)
{
	enum { N = 20 };
	struct sockaddr_in to = tb_sin(ADDR_B, 7);
	struct spdev *da;
	struct pair p;
	struct echo e;
	unsigned long mine;
	char buf[16];
	int sd;

	pair_new(&p, 0, NULL);
	da = (struct spdev *)p.da;
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	ck_assert_int_eq(ustack_thread_start(p.b, NULL, NULL), 0);
	echo_start(&e, p.b, N);
	sd = udp_on(p.a, 5000, 5000);
	ustack_lock(p.a);
	da->owner = pthread_self();
	da->owner_set = 1;
	ustack_unlock(p.a);
	for (int i = 0; i < N; i++) {
		struct ustack_pollfd pf = {.sd = sd, .os_fd = -1,
					   .events = POLLIN};

		ck_assert_int_eq(ustack_sendto(p.a, sd, "abc", 3, 0,
					       (struct sockaddr *)&to,
					       sizeof(to)), 3);
		ck_assert_int_eq(ustack_poll(p.a, &pf, 1, 5000), 1);
		ck_assert(pf.revents & POLLIN);
		ck_assert_int_eq(ustack_recv(p.a, sd, buf, sizeof(buf),
					     MSG_DONTWAIT), 3);
	}
	pthread_join(e.th, NULL);
	ustack_lock(p.a);
	mine = da->owner_frames;
	ustack_unlock(p.a);
	ck_assert_uint_ge(mine, N / 2);
	pair_free(&p);
}
END_TEST

START_TEST(test_runtime_thread_stop_cancels_blocked_call)
{
	struct pair p;
	struct reader r;
	int sd;
	char c;

	pair_new(&p, 0, NULL);
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	sd = udp_on(p.a, 5000, 0); /* no timeout: only stop ends it */
	reader_start(&r, p.a, sd);
	ustack_thread_stop(p.a);
	pthread_join(r.th, NULL);
	ck_assert_int_eq(r.ret, -ECANCELED);
	/* stopped: blocking calls are cancelled, others still work */
	ck_assert_int_eq(ustack_recv(p.a, sd, &c, 1, 0), -ECANCELED);
	ck_assert_int_eq(ustack_recv(p.a, sd, &c, 1, MSG_DONTWAIT), -EAGAIN);
	ustack_thread_stop(p.a); /* twice is harmless */
	/* and it can be resumed */
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	ck_assert_int_eq(ustack_close(p.a, sd), 0);
	pair_free(&p);
}
END_TEST

START_TEST(test_runtime_thread_close_while_blocked_ebadf)
{
	struct pair p;
	struct reader r;
	int sd;

	pair_new(&p, 0, NULL);
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	sd = udp_on(p.a, 5000, 0);
	reader_start(&r, p.a, sd);
	ck_assert_int_eq(ustack_close(p.a, sd), 0);
	pthread_join(r.th, NULL);
	ck_assert_int_eq(r.ret, -EBADF);
	pair_free(&p);
}
END_TEST

START_TEST(test_runtime_thread_wakeup_interrupts)
{
	struct pair p;
	struct reader r;
	int sd;

	pair_new(&p, 0, NULL);
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	sd = udp_on(p.a, 5000, 0);
	reader_start(&r, p.a, sd);
	ustack_wakeup(p.a);
	pthread_join(r.th, NULL);
	ck_assert_int_eq(r.ret, -EINTR);
	pair_free(&p);
}
END_TEST

START_TEST(test_runtime_thread_rcvtimeo_and_poll_timeout)
{
	struct pair p;
	struct ustack_pollfd pf;
	int sd;
	char c;
	ustack_time_t t0, dt;

	pair_new(&p, 0, NULL);
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	sd = udp_on(p.a, 5000, 120);
	t0 = now_us();
	ck_assert_int_eq(ustack_recv(p.a, sd, &c, 1, 0), -EAGAIN);
	dt = now_us() - t0;
	ck_assert_uint_ge(dt, 115000);
	ck_assert_uint_lt(dt, 2000000);
	pf = (struct ustack_pollfd){.sd = sd, .events = POLLIN};
	t0 = now_us();
	ck_assert_int_eq(ustack_poll(p.a, &pf, 1, 120), 0);
	dt = now_us() - t0;
	ck_assert_uint_ge(dt, 115000);
	ck_assert_uint_lt(dt, 2000000);
	pair_free(&p);
}
END_TEST

struct poller {
	struct ustack *st;
	struct ustack_pollfd pf[2];
	int ret;
	pthread_t th;
};

static void *poller_main(void *arg)
{
	struct poller *q = arg;

	q->ret = ustack_poll(q->st, q->pf, 2, 5000);
	return NULL;
}

START_TEST(test_runtime_thread_poll_os_pipe_and_socket)
{
	struct pair p;
	struct poller q;
	int sd, pfd[2];
	struct sockaddr_in to = tb_sin(ADDR_A, 5000);
	char c;

	pair_new(&p, 0, NULL);
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	ck_assert_int_eq(ustack_thread_start(p.b, NULL, NULL), 0);
	sd = udp_on(p.a, 5000, 0);
	ck_assert_int_eq(pipe(pfd), 0);
	q.st = p.a;
	q.pf[0] = (struct ustack_pollfd){.sd = sd, .events = POLLIN};
	q.pf[1] = (struct ustack_pollfd){.sd = -1, .os_fd = pfd[0],
					 .events = POLLIN};

	/* the OS fd wakes the poller */
	ck_assert_int_eq(pthread_create(&q.th, NULL, poller_main, &q), 0);
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	pthread_join(q.th, NULL);
	ck_assert_int_ge(q.ret, 1);
	ck_assert_int_eq(q.pf[1].revents, POLLIN);
	ck_assert_int_eq(read(pfd[0], &c, 1), 1);

	/* the stack socket wakes the poller: a datagram from B */
	ck_assert_int_eq(pthread_create(&q.th, NULL, poller_main, &q), 0);
	int sb = udp_on(p.b, 6000, 0);
	ck_assert_int_eq(ustack_sendto(p.b, sb, "s", 1, 0,
				       (struct sockaddr *)&to, sizeof(to)), 1);
	pthread_join(q.th, NULL);
	ck_assert_int_eq(q.ret, 1);
	ck_assert_int_eq(q.pf[0].revents, POLLIN);
	ck_assert_int_eq(q.pf[1].revents, 0);
	ck_assert_int_eq(ustack_recv(p.a, sd, &c, 1, 0), 1);

	/* and stop ends a poll that waits for nothing */
	q.pf[0].events = POLLIN;
	ck_assert_int_eq(pthread_create(&q.th, NULL, poller_main, &q), 0);
	ustack_thread_stop(p.a);
	pthread_join(q.th, NULL);
	ck_assert_int_eq(q.ret, -ECANCELED);
	close(pfd[0]);
	close(pfd[1]);
	pair_free(&p);
}
END_TEST

struct client {
	struct ustack *st;
	int sd;
	int rounds;
	pthread_t th;
};

static void *client_main(void *arg)
{
	struct client *c = arg;

	echo_exchange(c->st, c->sd, c->rounds);
	return NULL;
}

START_TEST(test_runtime_thread_concurrent_clients)
{
	enum { NCLI = 4, ROUNDS = 50 };
	struct pair p;
	struct echo e;
	struct client c[NCLI];

	pair_new(&p, 0, NULL);
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	ck_assert_int_eq(ustack_thread_start(p.b, NULL, NULL), 0);
	echo_start(&e, p.b, NCLI * ROUNDS);
	for (int i = 0; i < NCLI; i++) {
		c[i].st = p.a;
		c[i].sd = udp_on(p.a, (uint16_t)(5000 + i), 5000);
		c[i].rounds = ROUNDS;
		ck_assert_int_eq(pthread_create(&c[i].th, NULL, client_main,
						&c[i]), 0);
	}
	for (int i = 0; i < NCLI; i++)
		pthread_join(c[i].th, NULL);
	pthread_join(e.th, NULL);
	ck_assert_int_eq(e.echoed, NCLI * ROUNDS);
	pair_free(&p);
}
END_TEST

START_TEST(test_runtime_thread_timer_deadline_kick)
{
	arp_failure(1);
}
END_TEST

START_TEST(test_runtime_thread_fdless_device)
{
	struct pair p;
	struct echo e;

	pair_new(&p, 1, NULL);
	ck_assert_int_eq(ustack_thread_start(p.a, NULL, NULL), 0);
	ck_assert_int_eq(ustack_thread_start(p.b, NULL, NULL), 0);
	echo_start(&e, p.b, 3);
	echo_exchange(p.a, udp_on(p.a, 5000, 5000), 3);
	pthread_join(e.th, NULL);
	pair_free(&p);
}
END_TEST

/* A device whose fd always reports a hang-up (a pipe with its writer
 * closed) and never has a frame: the runtimes must not spin on it. */
static long hup_receive(struct ustack_dev *d, void *buf, size_t cap,
			ustack_time_t now)
{
	(void)d, (void)buf, (void)cap, (void)now;
	return 0;
}

static int hup_transmit(struct ustack_dev *d, const void *f, size_t len,
			ustack_time_t now)
{
	(void)d, (void)f, (void)len, (void)now;
	return 0;
}

static const struct ustack_dev_ops hup_ops = {
	.transmit = hup_transmit,
	.receive = hup_receive,
	.get_fd = sp_get_fd,
	.close = sp_close,
};

static ustack_time_t cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (ustack_time_t)ts.tv_sec * 1000000u +
	       (ustack_time_t)ts.tv_nsec / 1000u;
}

static void hup_device(int threaded)
{
	struct ustack_config c;
	struct ustack *st;
	struct spdev *d = calloc(1, sizeof(*d));
	int pfd[2], sd;
	ustack_time_t t0, c0;
	char ch;

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(pipe(pfd), 0);
	close(pfd[1]);
	d->base.ops = &hup_ops;
	d->base.kind = "hup";
	d->base.mtu = 1500;
	d->fd = pfd[0];
	stack_cfg(&c, ADDR_A);
	ck_assert_int_eq(ustack_create(&st, &c, &d->base, now_us()), 0);
	if (threaded)
		ck_assert_int_eq(ustack_thread_start(st, NULL, NULL), 0);
	else
		ck_assert_int_eq(ustack_loop_attach(st, NULL, NULL), 0);
	sd = udp_on(st, 5000, 300);
	t0 = now_us();
	c0 = cpu_us();
	ck_assert_int_eq(ustack_recv(st, sd, &ch, 1, 0), -EAGAIN);
	ck_assert_uint_ge(now_us() - t0, 295000);
	/* polled in slices, not spinning: a fraction of the 300 ms */
	ck_assert_uint_lt(cpu_us() - c0, 150000);
	ustack_destroy(st);
	ustack_dev_close(&d->base);
}

START_TEST(test_runtime_loop_hung_up_device_fd_no_spin)
{
	hup_device(0);
}
END_TEST

START_TEST(test_runtime_thread_hung_up_device_fd_no_spin)
{
	hup_device(1);
}
END_TEST

/* ---- SO_LINGER with a timeout: close() waits for the peer's ACK ------- */

/* A (event loop) connects to B (threaded), queues `len` bytes and closes
 * with SO_LINGER {1, linger_s}. Returns close()'s duration in us and A's
 * orphan connection's state right after. */
static ustack_time_t linger_close(struct pair *p, size_t len, int linger_s,
				  int stop_b, int *state_after)
{
	struct sockaddr_in sb = tb_sin(0, 9000), to = tb_sin(ADDR_B, 9000);
	struct linger l = {.l_onoff = 1, .l_linger = linger_s};
	struct ustack_conn_info ci[4];
	char *buf = calloc(1, len);
	int ls, cs, n;
	ustack_time_t t0, t1;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(ustack_loop_attach(p->a, NULL, NULL), 0);
	ck_assert_int_eq(ustack_thread_start(p->b, NULL, NULL), 0);
	ls = ustack_socket(p->b, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(ustack_bind(p->b, ls, (struct sockaddr *)&sb, sizeof(sb)), 0);
	ck_assert_int_eq(ustack_listen(p->b, ls, 4), 0);
	cs = ustack_socket(p->a, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(ustack_connect(p->a, cs, (struct sockaddr *)&to, sizeof(to)), 0);
	if (stop_b)
		ustack_thread_stop(p->b); /* B goes silent: nothing is acked */
	ck_assert_int_eq(ustack_send(p->a, cs, buf, len, 0), (ssize_t)len);
	ck_assert_int_eq(ustack_setsockopt(p->a, cs, SOL_SOCKET, SO_LINGER, &l,
					   sizeof(l)), 0);
	t0 = now_us();
	ck_assert_int_eq(ustack_close(p->a, cs), 0);
	t1 = now_us();
	n = ustack_conn_list(p->a, ci, 4);
	*state_after = -1;
	for (int i = 0; i < n && i < 4; i++)
		if (ci[i].proto == IPPROTO_TCP && ci[i].rport == 9000)
			*state_after = ci[i].state;
	free(buf);
	return t1 - t0;
}

START_TEST(test_runtime_linger_close_waits_for_ack)
{
	struct pair p;
	int state;
	ustack_time_t us;

	pair_new(&p, 0, NULL);
	us = linger_close(&p, 200000, 5, 0, &state);
	/* Back before the linger timeout, with our FIN acknowledged (without
	 * SO_LINGER close returns at once in FIN_WAIT_1, data in flight). */
	ck_assert_uint_lt(us, 4000000);
	ck_assert_msg(state == USTACK_TCP_FIN_WAIT_2 || state == USTACK_TCP_TIME_WAIT,
		      "state after close: %s", ustack_tcp_state_name(state));
	pair_free(&p);
}
END_TEST

START_TEST(test_runtime_linger_close_times_out)
{
	struct pair p;
	int state;
	ustack_time_t us;

	pair_new(&p, 0, NULL);
	us = linger_close(&p, 10000, 1, 1, &state);
	ck_assert_uint_ge(us, 900000);   /* waited the linger time ... */
	ck_assert_uint_lt(us, 3000000);  /* ... and no longer */
	ck_assert_int_eq(state, USTACK_TCP_FIN_WAIT_1); /* carries on */
	pair_free(&p);
}
END_TEST

static Suite *runtime_suite(void)
{
	Suite *s = suite_create("runtime");
	TCase *tc = tcase_create("runtime");

	tcase_add_test(tc, test_runtime_loop_udp_echo_blocking);
	tcase_add_test(tc, test_runtime_loop_fdless_device_still_works);
	tcase_add_test(tc, test_runtime_loop_poll_timeout_and_readiness);
	tcase_add_test(tc, test_runtime_loop_poll_os_fd_and_wakeup);
	tcase_add_test(tc, test_runtime_loop_rcvtimeo);
	tcase_add_test(tc, test_runtime_loop_timer_deadline_drives);
	tcase_add_test(tc, test_runtime_thread_recv_in_one_thread_send_in_another);
	tcase_add_test(tc, test_runtime_thread_blocked_call_reads_its_answer);
	tcase_add_test(tc, test_runtime_thread_poller_reads_its_answer);
	tcase_add_test(tc, test_runtime_thread_stop_cancels_blocked_call);
	tcase_add_test(tc, test_runtime_thread_close_while_blocked_ebadf);
	tcase_add_test(tc, test_runtime_thread_wakeup_interrupts);
	tcase_add_test(tc, test_runtime_thread_rcvtimeo_and_poll_timeout);
	tcase_add_test(tc, test_runtime_thread_poll_os_pipe_and_socket);
	tcase_add_test(tc, test_runtime_thread_timer_deadline_kick);
	tcase_add_test(tc, test_runtime_thread_concurrent_clients);
	tcase_add_test(tc, test_runtime_thread_fdless_device);
	tcase_add_test(tc, test_runtime_loop_hung_up_device_fd_no_spin);
	tcase_add_test(tc, test_runtime_thread_hung_up_device_fd_no_spin);
	tcase_add_test(tc, test_runtime_linger_close_waits_for_ack);
	tcase_add_test(tc, test_runtime_linger_close_times_out);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(runtime_suite)
