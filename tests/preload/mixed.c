/*
 * mixed.c - readiness and descriptor semantics of libustack-preload.so,
 * as a plain Linux program (no ustack headers): run it under ustack-run
 * with tests/preload/kpeer.py on the kernel side (TCP and UDP echo).
 *
 *   preload_mixed PEER_ADDR ECHO_PORT CLOSED_PORT
 *
 * Prints "ok - what" per check; the first failure prints "FAIL - what:
 * why" and exits 1. Every wait is bounded (timeouts of at most 2 s).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in peer;
static int echo_port, closed_port;

#define CHECK(cond, what, ...) do {                                     \
	if (!(cond)) {                                                  \
		printf("FAIL - %s: ", what);                            \
		printf(__VA_ARGS__);                                    \
		printf(" (errno %s)\n", strerror(errno));               \
		exit(1);                                                \
	}                                                               \
} while (0)
#define OK(what) printf("ok - %s\n", what)

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sockaddr_in at(int port)
{
	struct sockaddr_in a = peer;

	a.sin_port = htons((uint16_t)port);
	return a;
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = at(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0, "socket", "socket() failed");
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect",
	      "blocking connect to the echo port failed");
	return fd;
}

/* epoll_wait once; returns the count, events in ev. */
static int ew(int ep, struct epoll_event *ev, int max, int ms)
{
	int n;

	do
		n = epoll_wait(ep, ev, max, ms);
	while (n < 0 && errno == EINTR);
	CHECK(n >= 0, "epoll_wait", "returned %d", n);
	return n;
}

static int has(struct epoll_event *ev, int n, uint64_t tag, uint32_t bits)
{
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 == tag && (ev[i].events & bits) == bits)
			return 1;
	return 0;
}

static void drain(int fd)
{
	char b[4096];

	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

/* Wait (bounded) until fd has n bytes to read. */
static void wait_bytes(int fd, int n)
{
	long end = now_ms() + 2000;
	int avail = 0;

	while (now_ms() < end) {
		CHECK(ioctl(fd, FIONREAD, &avail) == 0, "FIONREAD", "ioctl failed");
		if (avail >= n)
			return;
		usleep(2000);
	}
	CHECK(0, "echo", "only %d of %d bytes came back within 2 s", avail, n);
}

static void test_refused(void)
{
	struct sockaddr_in a = at(closed_port);
	struct pollfd p;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0, r;
	socklen_t len = sizeof(err);

	CHECK(fd >= 0, "socket", "socket(SOCK_NONBLOCK)");
	r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	CHECK(r < 0 && errno == EINPROGRESS, "non-blocking connect",
	      "returned %d, expected EINPROGRESS", r);
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	r = poll(&p, 1, 2000);
	CHECK(r == 1 && (p.revents & (POLLOUT | POLLERR)), "poll connect",
	      "poll gave %d revents %#x", r, p.revents);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	      err == ECONNREFUSED, "SO_ERROR", "got %d, expected ECONNREFUSED", err);
	close(fd);
	OK("non-blocking connect to a closed port: EINPROGRESS, then ECONNREFUSED in SO_ERROR");
}

static void test_epoll_mixed(void)
{
	struct epoll_event ev[8], e;
	int pfd[2], s = tcp_connect(echo_port), ep = epoll_create1(EPOLL_CLOEXEC), n;

	CHECK(pipe2(pfd, O_NONBLOCK) == 0 && ep >= 0, "setup", "pipe/epoll");
	fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
	CHECK(fcntl(s, F_GETFL) & O_NONBLOCK, "F_GETFL", "O_NONBLOCK not kept");
	e = (struct epoll_event){.events = EPOLLIN | EPOLLET, .data.u64 = 1};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &e) == 0, "epoll_ctl", "pipe");
	e = (struct epoll_event){.events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.u64 = 2};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e) == 0, "epoll_ctl", "socket");
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e) < 0 && errno == EEXIST,
	      "epoll_ctl", "adding twice is not EEXIST");

	n = ew(ep, ev, 8, 100);
	CHECK(n == 0, "epoll idle", "%d events on an idle set", n);
	CHECK(write(pfd[1], "x", 1) == 1, "pipe", "write");
	n = ew(ep, ev, 8, 2000);
	CHECK(n == 1 && has(ev, n, 1, EPOLLIN), "epoll pipe", "n=%d", n);
	OK("epoll: a pipe's event in a set with a ustack socket");

	CHECK(send(s, "hello", 5, 0) == 5, "send", "send 5");
	n = ew(ep, ev, 8, 2000);
	CHECK(has(ev, n, 2, EPOLLIN), "epoll socket", "no EPOLLIN for the echo (n=%d)", n);
	CHECK(!has(ev, n, 1, EPOLLIN), "epoll ET", "pipe reported again though edge-triggered");
	n = ew(ep, ev, 8, 150);
	CHECK(n == 0, "epoll ET", "%d events again without reading (edge-triggered)", n);
	drain(s);
	CHECK(send(s, "again", 5, 0) == 5, "send", "send 5");
	n = ew(ep, ev, 8, 2000);
	CHECK(has(ev, n, 2, EPOLLIN), "epoll ET", "no new edge after draining and new data");
	OK("epoll: edge-triggered ustack socket, one event per edge");

	wait_bytes(s, 5);
	e = (struct epoll_event){.events = EPOLLIN, .data.u64 = 2};
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e) == 0, "epoll_ctl", "MOD");
	for (int i = 0; i < 2; i++) {
		n = ew(ep, ev, 8, 1000);
		CHECK(has(ev, n, 2, EPOLLIN), "epoll LT", "level-triggered not reported (round %d)", i);
	}
	OK("epoll: level-triggered reports until read");

	e = (struct epoll_event){.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 2};
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e) == 0, "epoll_ctl", "MOD oneshot");
	n = ew(ep, ev, 8, 1000);
	CHECK(has(ev, n, 2, EPOLLIN), "oneshot", "first report missing");
	n = ew(ep, ev, 8, 150);
	CHECK(!has(ev, n, 2, 0), "oneshot", "reported again before EPOLL_CTL_MOD");
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e) == 0, "epoll_ctl", "re-arm");
	n = ew(ep, ev, 8, 1000);
	CHECK(has(ev, n, 2, EPOLLIN), "oneshot", "not reported after re-arming");
	OK("epoll: EPOLLONESHOT");
	drain(s);

	e = (struct epoll_event){.events = EPOLLIN | EPOLLRDHUP, .data.u64 = 2};
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e) == 0, "epoll_ctl", "MOD rdhup");
	CHECK(shutdown(s, SHUT_WR) == 0, "shutdown", "SHUT_WR");
	n = ew(ep, ev, 8, 2000);
	CHECK(has(ev, n, 2, EPOLLRDHUP), "EPOLLRDHUP", "peer's close not seen as EPOLLRDHUP");
	OK("epoll: EPOLLRDHUP when the peer closes after our FIN");

	/* Closing the socket takes it out of the set (it is readable: EOF). */
	CHECK(close(s) == 0, "close", "close");
	n = ew(ep, ev, 8, 150);
	CHECK(!has(ev, n, 2, 0), "close in set", "a closed socket still reported");
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, s, &e) < 0 && errno == EBADF,
	      "close in set", "DEL of a closed fd is not EBADF");
	OK("epoll: close removes the socket from the set");
	close(ep);
	close(pfd[0]);
	close(pfd[1]);
}

static void test_poll_select(void)
{
	int pfd[2], s = tcp_connect(echo_port), r;
	struct pollfd p[2];
	fd_set rd;
	struct timeval tv = {1, 0};

	CHECK(pipe(pfd) == 0, "pipe", "pipe");
	p[0] = (struct pollfd){.fd = pfd[0], .events = POLLIN};
	p[1] = (struct pollfd){.fd = s, .events = POLLIN};
	r = poll(p, 2, 100);
	CHECK(r == 0, "poll idle", "poll gave %d", r);
	CHECK(send(s, "ping", 4, 0) == 4, "send", "send");
	r = poll(p, 2, 2000);
	CHECK(r == 1 && p[1].revents == POLLIN && !p[0].revents, "poll mix",
	      "r=%d revents %#x %#x", r, p[0].revents, p[1].revents);
	CHECK(write(pfd[1], "y", 1) == 1, "pipe", "write");
	r = poll(p, 2, 2000);
	CHECK(r == 2, "poll mix", "both ready but r=%d", r);
	OK("poll: a pipe and a ustack socket in one set");

	FD_ZERO(&rd);
	FD_SET(pfd[0], &rd);
	FD_SET(s, &rd);
	r = select((s > pfd[0] ? s : pfd[0]) + 1, &rd, NULL, NULL, &tv);
	CHECK(r == 2 && FD_ISSET(s, &rd) && FD_ISSET(pfd[0], &rd), "select mix",
	      "r=%d", r);
	OK("select: a pipe and a ustack socket in one set");
	close(s);
	close(pfd[0]);
	close(pfd[1]);
}

static void test_fd_semantics(void)
{
	int s = tcp_connect(echo_port), d, v = 0, r;
	socklen_t len = sizeof(v);
	struct tcp_info ti;
	char b[8];

	CHECK(fcntl(s, F_GETFD) == FD_CLOEXEC, "SOCK_CLOEXEC", "FD_CLOEXEC not set");
	d = fcntl(s, F_DUPFD_CLOEXEC, 100);
	CHECK(d >= 100 && fcntl(d, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC", "d=%d", d);
	CHECK(send(d, "dup", 3, 0) == 3, "dup", "send on the duplicate");
	close(s);   /* the duplicate keeps the connection */
	wait_bytes(d, 3);
	CHECK(recv(d, b, sizeof(b), 0) == 3 && memcmp(b, "dup", 3) == 0, "dup",
	      "echo through the duplicate after closing the original");
	CHECK(dup2(d, 200) == 200 && send(200, "x", 1, 0) == 1, "dup2", "dup2");
	close(200);
	OK("descriptors: CLOEXEC, F_DUPFD_CLOEXEC, dup2; a duplicate outlives the original");

	CHECK(getsockopt(d, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == SOCK_STREAM,
	      "SO_TYPE", "%d", v);
	v = 65536;
	CHECK(setsockopt(d, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) == 0, "SO_RCVBUF", "set");
	len = sizeof(v);
	CHECK(getsockopt(d, SOL_SOCKET, SO_RCVBUF, &v, &len) == 0 && v == 131072,
	      "SO_RCVBUF", "read back %d, Linux reports 131072", v);
	len = sizeof(ti);
	CHECK(getsockopt(d, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	      ti.tcpi_state == 1 && ti.tcpi_snd_mss > 0, "TCP_INFO",
	      "state %u mss %u", ti.tcpi_state, ti.tcpi_snd_mss);
	v = 1;
	CHECK(setsockopt(d, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) == 0, "TCP_NODELAY", "set");
	r = setsockopt(d, SOL_SOCKET, SO_PRIORITY, &v, sizeof(v));
	CHECK(r < 0 && errno == ENOPROTOOPT, "unsupported option",
	      "SO_PRIORITY gave %d, expected ENOPROTOOPT", r);
	OK("options: SO_TYPE, SO_RCVBUF doubled, TCP_INFO, TCP_NODELAY; unsupported is ENOPROTOOPT");
	close(d);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Sends "late" on the socket after 300 ms (the echo comes back). */
static void *late_send(void *arg)
{
	int fd = *(int *)arg;

	usleep(300000);
	if (send(fd, "late", 4, 0) != 4)
		printf("late send failed\n");
	return NULL;
}

static void test_timeouts_signals(void)
{
	int s = tcp_connect(echo_port);
	struct timeval tv = {0, 200000};
	struct sigaction sa;
	struct itimerval it = {{0, 0}, {0, 100000}};
	long t0;
	char b[8];
	ssize_t r;

	CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0,
	      "SO_RCVTIMEO", "set");
	t0 = now_ms();
	r = recv(s, b, sizeof(b), 0);
	CHECK(r < 0 && errno == EAGAIN && now_ms() - t0 >= 190, "SO_RCVTIMEO",
	      "recv gave %zd after %ld ms", r, now_ms() - t0);
	OK("SO_RCVTIMEO: a blocking recv ends with EAGAIN");

	tv = (struct timeval){0, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;   /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = now_ms();
	r = recv(s, b, sizeof(b), 0);
	CHECK(r < 0 && errno == EINTR, "EINTR", "recv gave %zd after %ld ms", r,
	      now_ms() - t0);
	OK("signals: a blocking recv is interrupted with EINTR");

	/* SA_RESTART: the recv carries on and gets what arrives later. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	{
		pthread_t th;
		int fd = s;

		setitimer(ITIMER_REAL, &it, NULL);
		CHECK(pthread_create(&th, NULL, late_send, &fd) == 0, "thread", "create");
		t0 = now_ms();
		r = recv(s, b, sizeof(b), 0);
		pthread_join(th, NULL);
		CHECK(r == 4 && memcmp(b, "late", 4) == 0 && now_ms() - t0 >= 250,
		      "SA_RESTART", "recv gave %zd after %ld ms", r, now_ms() - t0);
	}
	sa.sa_handler = SIG_DFL;
	sigaction(SIGALRM, &sa, NULL);
	OK("signals: with SA_RESTART the blocking recv carries on");

	/* ppoll's mask is applied atomically with the wait: a signal that
	 * is pending and blocked ends a ppoll whose mask unblocks it. */
	{
		sigset_t block, during;
		struct pollfd p = {.fd = s, .events = POLLIN};
		struct timespec ts = {2, 0};
		int pr;

		sa.sa_handler = on_alarm;
		sa.sa_flags = 0;
		sigaction(SIGUSR1, &sa, NULL);
		sigemptyset(&block);
		sigaddset(&block, SIGUSR1);
		sigprocmask(SIG_BLOCK, &block, &during);
		sigdelset(&during, SIGUSR1);
		raise(SIGUSR1);
		t0 = now_ms();
		pr = ppoll(&p, 1, &ts, &during);
		CHECK(pr < 0 && errno == EINTR && now_ms() - t0 < 1000, "ppoll mask",
		      "ppoll gave %d after %ld ms", pr, now_ms() - t0);
		sigprocmask(SIG_UNBLOCK, &block, NULL);
		sa.sa_handler = SIG_DFL;
		sigaction(SIGUSR1, &sa, NULL);
	}
	OK("signals: ppoll's mask unblocks a pending signal atomically (EINTR)");
	close(s);
}

static void test_udp(void)
{
	struct sockaddr_in a = at(echo_port), from;
	socklen_t flen = sizeof(from);
	struct pollfd p;
	char b[64];
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t r;

	CHECK(u >= 0, "udp", "socket");
	CHECK(sendto(u, "datagram", 8, 0, (struct sockaddr *)&a, sizeof(a)) == 8,
	      "udp", "sendto");
	p = (struct pollfd){.fd = u, .events = POLLIN};
	CHECK(poll(&p, 1, 2000) == 1, "udp", "no echo within 2 s");
	r = recvfrom(u, b, sizeof(b), 0, (struct sockaddr *)&from, &flen);
	CHECK(r == 8 && memcmp(b, "datagram", 8) == 0 &&
	      from.sin_port == a.sin_port, "udp", "recvfrom gave %zd", r);
	close(u);
	OK("UDP: sendto and recvfrom through the kernel's echo");
}

static void test_fork(void)
{
	int s = tcp_connect(echo_port), st = 0;
	char b[8];
	pid_t pid = fork();

	CHECK(pid >= 0, "fork", "fork");
	if (pid == 0) {
		int k;

		/* The child's close must not touch the parent's connection;
		 * its new sockets are the kernel's. */
		close(s);
		k = socket(AF_INET, SOCK_STREAM, 0);
		_exit(k >= 0 ? 0 : 3);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork", "child status %d", st);
	CHECK(send(s, "fork", 4, 0) == 4, "fork", "send after the child closed");
	wait_bytes(s, 4);
	CHECK(recv(s, b, sizeof(b), 0) == 4, "fork", "echo after the child closed");
	close(s);
	OK("fork: the child closing an inherited socket leaves the parent's connection");
}

static void test_linger(void)
{
	int s = tcp_connect(echo_port), r;
	struct linger l = {1, 2};
	char buf[65536];
	long t0;

	memset(buf, 'l', sizeof(buf));
	CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0, "SO_LINGER", "set");
	CHECK(send(s, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf), "SO_LINGER", "send");
	wait_bytes(s, (int)sizeof(buf));
	drain(s);
	t0 = now_ms();
	r = close(s);
	CHECK(r == 0 && now_ms() - t0 < 2500, "SO_LINGER", "close gave %d after %ld ms",
	      r, now_ms() - t0);
	OK("SO_LINGER {1, 2}: close returns once the peer has everything");
}

/* Threads: 8 with a connection each doing echo round trips, and one
 * connection shared by a sending and a receiving thread. */
#define T_ROUNDS 100
#define T_SHARED (1 << 20)

static void *t_echo(void *arg)
{
	int s = tcp_connect(echo_port), bad = 0;
	char out[1024], in[1024];

	memset(out, (int)(long)arg, sizeof(out));
	for (int i = 0; i < T_ROUNDS && !bad; i++) {
		CHECK(send(s, out, sizeof(out), 0) == (ssize_t)sizeof(out), "threads", "send");
		CHECK(recv(s, in, sizeof(in), MSG_WAITALL) == (ssize_t)sizeof(in),
		      "threads", "recv MSG_WAITALL");
		bad = memcmp(in, out, sizeof(in)) != 0;
	}
	close(s);
	return (void *)(long)bad;
}

static void *t_sender(void *arg)
{
	int s = *(int *)arg;
	char b[8192];
	size_t sent = 0;

	memset(b, 's', sizeof(b));
	while (sent < T_SHARED) {
		ssize_t n = send(s, b, sizeof(b), 0);

		CHECK(n > 0, "threads", "shared send");
		sent += (size_t)n;
	}
	shutdown(s, SHUT_WR);
	return NULL;
}

static void test_threads(void)
{
	pthread_t th[8], snd;
	int s = tcp_connect(echo_port);
	size_t got = 0;
	char b[16384];
	ssize_t n;
	void *bad;

	for (long i = 0; i < 8; i++)
		CHECK(pthread_create(&th[i], NULL, t_echo, (void *)('a' + i)) == 0,
		      "threads", "create");
	CHECK(pthread_create(&snd, NULL, t_sender, &s) == 0, "threads", "create");
	while ((n = recv(s, b, sizeof(b), 0)) > 0)
		got += (size_t)n;
	pthread_join(snd, NULL);
	CHECK(n == 0 && got == T_SHARED, "threads",
	      "shared connection: %zu bytes back, recv ended with %zd", got, n);
	close(s);
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], &bad);
		CHECK(!bad, "threads", "thread %d saw different bytes", i);
	}
	OK("threads: 8 connections at once, and one shared by a sender and a receiver");
}

/* Bad arguments get the kernel's errors, never a crash. */
static void test_bad_args(void)
{
	int s = tcp_connect(echo_port), ep = epoll_create1(0), v = 1;
	struct msghdr m = {0};
	struct epoll_event e = {.events = EPOLLIN};
	struct sockaddr_in a = at(echo_port);
	socklen_t len = sizeof(v);

	m.msg_iovlen = 1;   /* and no msg_iov */
	CHECK(recvmsg(s, &m, MSG_DONTWAIT) < 0 && errno == EFAULT, "bad args",
	      "recvmsg without an iovec");
	CHECK(sendmsg(s, &m, 0) < 0 && errno == EFAULT, "bad args",
	      "sendmsg without an iovec");
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e) == 0, "bad args", "epoll_ctl");
	{
		struct epoll_event *volatile none = NULL;   /* hide it from gcc */

		CHECK(epoll_wait(ep, none, 1, 0) < 0 && errno == EFAULT,
		      "bad args", "epoll_wait without an array");
	}
	CHECK(epoll_ctl(ep, 99, s, &e) < 0 && errno == EINVAL, "bad args",
	      "epoll_ctl op 99");
	CHECK(bind(s, (struct sockaddr *)&a, 3) < 0 && errno == EINVAL, "bad args",
	      "bind with a 3-byte address");
	CHECK(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, 0) < 0 && errno == EINVAL,
	      "bad args", "setsockopt with optlen 0");
	CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, NULL, &len) < 0 && errno == EFAULT,
	      "bad args", "getsockopt into NULL");
	CHECK(shutdown(s, 42) < 0 && errno == EINVAL, "bad args", "shutdown how 42");
	CHECK(dup3(s, s, 0) < 0 && errno == EINVAL, "bad args", "dup3 onto itself");
	CHECK(dup2(s, s) == s, "bad args", "dup2 onto itself");
	CHECK(dup2(1000, s) < 0 && errno == EBADF, "bad args", "dup2 from a bad fd");
	CHECK(send(s, "x", 1, 0) == 1, "bad args", "the socket after the bad dups");
	close(ep);
	close(s);
	CHECK(send(s, "x", 1, 0) < 0 && errno == EBADF, "bad args", "send after close");
	OK("bad arguments: EFAULT, EINVAL, EBADF as the kernel gives, no crash");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4) {
		fprintf(stderr, "usage: preload_mixed PEER_ADDR ECHO_PORT CLOSED_PORT\n");
		return 2;
	}
	peer.sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[1], &peer.sin_addr) != 1)
		return 2;
	echo_port = atoi(argv[2]);
	closed_port = atoi(argv[3]);
	test_refused();
	test_epoll_mixed();
	test_poll_select();
	test_fd_semantics();
	test_timeouts_signals();
	test_udp();
	test_fork();
	test_linger();
	test_threads();
	test_bad_args();
	/* Left open on purpose: the library's exit path closes it with a
	 * FIN (the test script checks the kernel side saw it). */
	(void)tcp_connect(echo_port);
	printf("all passed\n");
	return 0;
}
