/*
 * echo-threads.c - ustack-echo-threads: a TCP echo server with one thread
 * per connection, on the threaded runtime (ustack_thread_start). It is the
 * example of that runtime, and the other half of the I/O-models concept
 * (docs/concepts.md): ustack-inetd serves echo from one event loop, this
 * program parks a thread in a blocking ustack_recv() for every client.
 *
 *   sudo ip netns exec demo build/bin/ustack-echo-threads --port 7
 *
 * A stack thread drives the device and the timers; each worker blocks on a
 * condition variable of its own until its socket has data. --max bounds
 * the workers (a client beyond it is closed at once and counted).
 *
 * May touch: its stack through the public API (threaded runtime), its
 * worker threads and their sockets, stdout and stderr.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/app.h"
#include "lib/ctl.h"

struct echo {
	struct app a;
	uint16_t port;
	uint32_t max_workers;
	pthread_mutex_t mu;
	uint32_t active;           /* workers running */
	uint64_t served, refused;  /* connections, over --max */
	int *slots;                /* each worker's socket, -1 when free */
};

struct worker {
	struct echo *e;
	uint32_t slot;
	int sd;
};

static int echo_opt(void *ctx, int c, const char *arg)
{
	struct echo *e = ctx;
	uint64_t v;

	switch (c) {
	case 'p':
		return app_parse_port(arg, &e->port) == 0 ? 0 :
		       (app_usage_error(e->a.desc, "--port: expected 1..65535, got '%s'", arg), -1);
	case 'm':
		if (app_parse_u64(arg, 1, 4000, &v) < 0) {
			app_usage_error(e->a.desc, "--max: expected 1..4000 (the stack has 4096 sockets), got '%s'", arg);
			return -1;
		}
		e->max_workers = (uint32_t)v;
		return 0;
	}
	return -1;
}

static const struct option echo_longopts[] = {
	{"port", required_argument, NULL, 'p'},
	{"max", required_argument, NULL, 'm'},
	{NULL, 0, NULL, 0},
};

static const struct app_desc echo_desc = {
	.name = "ustack-echo-threads",
	.synopsis = "[options]",
	.summary = "TCP echo with one thread per connection (the threaded runtime)",
	.help = "  -p, --port PORT     TCP port to serve (default 7)\n"
		"  -m, --max N         connections served at once, one thread each\n"
		"                      (default 1000; more are closed at once)\n",
	.shortopts = "p:m:",
	.longopts = echo_longopts,
	.opt = echo_opt,
	.min_args = 0,
	.max_args = 0,
};

/* One client: echo until it closes, then free the slot. Plain blocking
 * code: this is what a thread per connection buys. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct echo *e = w->e;
	struct ustack *st = e->a.st;
	char buf[16384];
	ssize_t n;

	while ((n = ustack_recv(st, w->sd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t k = ustack_send(st, w->sd, buf + off, (size_t)(n - off), 0);

			if (k < 0)
				goto out;
			off += k;
		}
	}
out:
	pthread_mutex_lock(&e->mu);
	e->slots[w->slot] = -1;
	ustack_close(st, w->sd);
	e->active--;
	pthread_mutex_unlock(&e->mu);
	free(w);
	return NULL;
}

static void start_worker(struct echo *e, int sd, const pthread_attr_t *attr)
{
	struct worker *w = NULL;
	pthread_t tid;
	uint32_t slot = 0;

	/* Workers block: accept() gives a blocking socket although the
	 * listener is non-blocking (for the poll loop), as on Linux. */
	pthread_mutex_lock(&e->mu);
	while (slot < e->max_workers && e->slots[slot] >= 0)
		slot++;
	if (slot < e->max_workers && (w = malloc(sizeof(*w))) != NULL) {
		*w = (struct worker){.e = e, .slot = slot, .sd = sd};
		e->slots[slot] = sd;
		e->active++;
		e->served++;
	}
	pthread_mutex_unlock(&e->mu);
	if (w && pthread_create(&tid, attr, worker_main, w) == 0)
		return;
	pthread_mutex_lock(&e->mu);
	if (w) {
		e->slots[slot] = -1;
		e->active--;
		e->served--;
	}
	e->refused++;
	pthread_mutex_unlock(&e->mu);
	free(w);
	ustack_close(e->a.st, sd);
}

static void accept_loop(struct echo *e, int lsd)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	while (!app_stopping()) {
		struct ustack_pollfd fds[2] = {
			{.sd = lsd, .events = POLLIN},
			{.sd = -1, .os_fd = app_signal_fd(), .events = POLLIN},
		};

		if (ustack_poll(e->a.st, fds, 2, -1) < 0)
			continue;
		for (int k = 0; k < 64 && !app_stopping(); k++) {
			int sd = ustack_accept(e->a.st, lsd, NULL, NULL);

			if (sd < 0)
				break;
			start_worker(e, sd, &attr);
		}
	}
	pthread_attr_destroy(&attr);
}

/* Shut every worker's socket (their blocking calls return), then wait for
 * them, at most 3 s. Returns how many are left. */
static uint32_t stop_workers(struct echo *e)
{
	ustack_time_t end = app_now() + USTACK_SEC(3);
	uint32_t left;

	pthread_mutex_lock(&e->mu);
	for (uint32_t i = 0; i < e->max_workers; i++)
		if (e->slots[i] >= 0)
			ustack_shutdown(e->a.st, e->slots[i], SHUT_RDWR);
	while (e->active && app_now() < end) {
		pthread_mutex_unlock(&e->mu);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&e->mu);
	}
	left = e->active;
	pthread_mutex_unlock(&e->mu);
	return left;
}

int main(int argc, char **argv)
{
	static struct echo e;
	struct app_desc desc = echo_desc;
	int lsd, rc;

	e.port = 7;
	e.max_workers = 1000;
	desc.ctx = &e;
	app_parse(&e.a, &desc, argc, argv);
	pthread_mutex_init(&e.mu, NULL);
	if (!(e.slots = malloc(e.max_workers * sizeof(int))) || app_signals_init() < 0) {
		perror("ustack-echo-threads");
		return APP_EXIT_FAIL;
	}
	memset(e.slots, 0xff, e.max_workers * sizeof(int));
	if ((rc = app_start(&e.a)) != 0)
		return rc;
	if ((rc = ustack_thread_start(e.a.st, NULL, NULL)) < 0 ||
	    (rc = lsd = app_server_socket(e.a.st, SOCK_STREAM, e.port, 1024)) < 0) {
		fprintf(stderr, "ustack-echo-threads: port %u: %s\n", e.port,
			ustack_strerror(rc));
		app_stop(&e.a);
		return APP_EXIT_FAIL;
	}
	app_signals_attach(e.a.st);
	if (e.a.ctl && app_ctl_thread_start(e.a.ctl) < 0)
		fprintf(stderr, "ustack-echo-threads: control socket thread failed\n");
	app_announce(&e.a, "echo (a thread per connection)");
	accept_loop(&e, lsd);
	ustack_close(e.a.st, lsd);
	if (stop_workers(&e) > 0) {
		/* Workers still inside the stack: leave teardown to exit. */
		fprintf(stderr, "ustack-echo-threads: %u connections did not finish\n",
			e.active);
		return APP_EXIT_FAIL;
	}
	fprintf(stderr, "ustack-echo-threads: %llu connections served, %llu refused (--max)\n",
		(unsigned long long)e.served, (unsigned long long)e.refused);
	ustack_thread_stop(e.a.st);
	app_stop(&e.a);
	free(e.slots);
	return APP_EXIT_OK;
}
