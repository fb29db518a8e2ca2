/*
 * lb.c - ustack-lb: a layer-4 TCP load balancer on ustack.
 *
 *   ustack-lb --port 80 --backend 10.0.0.1:8001 --backend 10.0.0.1:8002 \
 *             [--policy rr|leastconn] [--health-interval S]
 *
 * Listens on PORT and relays each accepted connection to one backend (a
 * server on the kernel side, or anywhere the stack can route to), bytes
 * both ways; a half-close is passed through (the client's FIN becomes a
 * shutdown(SHUT_WR) towards the backend, and back), so request/response
 * protocols that close their sending side keep working.
 *
 * Choosing a backend: rr takes them in turn, leastconn the one with the
 * fewest connections open now (ties in turn). A backend whose connect
 * fails (refused, unreachable, or no answer within --connect-timeout) is
 * marked down and the next one is tried for the same client, so a client
 * sees an error only when every backend failed. Every --health-interval
 * seconds each backend gets a connect probe (connect, then close): a down
 * backend that answers is up again, an up one that does not goes down.
 * Down backends are skipped while any is up.
 *
 * One event loop (ustack_poll), non-blocking sockets, a 16 KiB buffer each
 * way per connection; a direction reads only when its buffer is empty, so
 * a slow side holds back only its own connection. Connections are bounded
 * by --max-conns. Counters per backend are printed at exit (and at
 * --log info, one line per connection).
 *
 * May touch: its stack through the public API, its client and backend
 * connections, stdout and stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/app.h"

#define LB_MAX_BACKENDS 32
#define LB_BUF 16384

enum lb_policy { LB_RR, LB_LEASTCONN };

struct backend {
	uint32_t addr;             /* host order */
	uint16_t port;
	int up;                    /* last connect or probe succeeded */
	uint32_t active;           /* relayed connections open now */
	uint64_t conns;            /* connections relayed in all */
	uint64_t fails;            /* failed connects and probes */
	uint64_t bytes_to, bytes_from;
	int probe_sd;              /* health probe in flight, or -1 */
	ustack_time_t probe_deadline;
};

struct dir {                       /* one direction of a relay */
	uint8_t buf[LB_BUF];
	uint32_t off, len;         /* unsent bytes: buf[off..len) */
	int eof;                   /* the source sent FIN */
	int shut;                  /* we passed it on (SHUT_WR) */
};

enum conn_state { CONN_FREE, CONN_CONNECTING, CONN_RELAY };

struct conn {
	int state;
	int csd, bsd;              /* client and backend sockets */
	int b;                     /* backend index */
	uint64_t tried;            /* backends tried for this client (bits) */
	ustack_time_t deadline;    /* connect deadline */
	struct dir up, down;       /* client -> backend, backend -> client */
};

struct lb {
	struct app a;
	uint16_t port;
	int policy;
	ustack_time_t health_us;   /* 0: no probes */
	ustack_time_t connect_us;
	uint32_t max_conns;
	struct backend be[LB_MAX_BACKENDS];
	int nbe;
	int rr;                    /* next backend in turn */
	ustack_time_t next_health;
	int lsd;
	struct conn *conns;
	uint64_t accepted, failed_clients, refused_full;
	struct ustack_pollfd *pfd;
	int *pmap;                 /* poll entry -> meaning (see build_poll) */
};

/* ---- options --------------------------------------------------------------- */

static const struct option lb_longopts[] = {
	{"port", required_argument, NULL, 'p'},
	{"backend", required_argument, NULL, 'b'},
	{"policy", required_argument, NULL, 'P'},
	{"health-interval", required_argument, NULL, 'H'},
	{"connect-timeout", required_argument, NULL, 'T'},
	{"max-conns", required_argument, NULL, 'm'},
	{NULL, 0, NULL, 0},
};

static int parse_backend(struct lb *l, const char *arg)
{
	char host[32];
	const char *colon = strrchr(arg, ':');
	struct backend *b;
	size_t n;

	if (l->nbe >= LB_MAX_BACKENDS) {
		app_usage_error(l->a.desc, "--backend: at most %d backends",
				LB_MAX_BACKENDS);
		return -1;
	}
	b = &l->be[l->nbe];
	n = colon ? (size_t)(colon - arg) : 0;
	if (!colon || n == 0 || n >= sizeof(host)) {
		app_usage_error(l->a.desc, "--backend: expected A.B.C.D:PORT, "
				"got '%s'", arg);
		return -1;
	}
	memcpy(host, arg, n);
	host[n] = 0;
	if (ustack_parse_ip4(host, &b->addr) < 0 ||
	    app_parse_port(colon + 1, &b->port) < 0) {
		app_usage_error(l->a.desc, "--backend: expected A.B.C.D:PORT, "
				"got '%s'", arg);
		return -1;
	}
	b->up = 1; /* until a connect says otherwise */
	b->probe_sd = -1;
	l->nbe++;
	return 0;
}

static int lb_opt(void *ctx, int c, const char *arg)
{
	struct lb *l = ctx;
	uint64_t v;

	switch (c) {
	case 'p':
		if (app_parse_port(arg, &l->port) == 0)
			return 0;
		app_usage_error(l->a.desc, "--port: expected 1..65535, got '%s'", arg);
		return -1;
	case 'b':
		return parse_backend(l, arg);
	case 'P':
		if (strcmp(arg, "rr") == 0 || strcmp(arg, "roundrobin") == 0) {
			l->policy = LB_RR;
			return 0;
		}
		if (strcmp(arg, "leastconn") == 0) {
			l->policy = LB_LEASTCONN;
			return 0;
		}
		app_usage_error(l->a.desc, "--policy: expected rr or leastconn, "
				"got '%s'", arg);
		return -1;
	case 'H':
		if (app_parse_seconds(arg, &l->health_us) == 0)
			return 0;
		app_usage_error(l->a.desc, "--health-interval: expected seconds "
				"(0: off), got '%s'", arg);
		return -1;
	case 'T':
		if (app_parse_seconds(arg, &l->connect_us) == 0 && l->connect_us)
			return 0;
		app_usage_error(l->a.desc, "--connect-timeout: expected seconds "
				"> 0, got '%s'", arg);
		return -1;
	case 'm':
		if (app_parse_u64(arg, 1, 100000, &v) == 0) {
			l->max_conns = (uint32_t)v;
			return 0;
		}
		app_usage_error(l->a.desc, "--max-conns: expected 1..100000");
		return -1;
	}
	return -1;
}

static const struct app_desc lb_desc = {
	.name = "ustack-lb",
	.synopsis = "[options] --port PORT --backend A.B.C.D:PORT...",
	.summary = "A layer-4 TCP load balancer over ustack: accept on PORT and "
		   "relay each\nconnection to one of the backends, bytes both "
		   "ways, half-close passed on.\nA backend that refuses or does "
		   "not answer is skipped (the next one is tried\nfor the same "
		   "client) until a health probe finds it up again. Runs until\n"
		   "SIGINT or SIGTERM, then prints each backend's counters.",
	.help = "  -p, --port PORT      port to listen on (required)\n"
		"  -b, --backend A.B.C.D:PORT\n"
		"                       a backend; repeat for each (1..32)\n"
		"  --policy rr|leastconn\n"
		"                       rr: in turn (default); leastconn: the "
		"backend with\n                       the fewest open "
		"connections (ties in turn)\n"
		"  --health-interval S  probe every backend with a connect every "
		"S seconds\n                       (default 2; 0: only failed "
		"client connects mark\n                       a backend down, "
		"and it is tried again when all are)\n"
		"  --connect-timeout S  a backend that does not accept within S "
		"seconds is\n                       down (default 2)\n"
		"  -m, --max-conns N    client connections relayed at once; more "
		"are\n                       accepted and closed (default 256)\n",
	.shortopts = "p:b:m:",
	.longopts = lb_longopts,
	.opt = lb_opt,
	.min_args = 0,
	.max_args = 0,
};

/* ---- backends ------------------------------------------------------------ */

static char *be_name(const struct backend *b, char *buf)
{
	return app_fmt_addr(b->addr, b->port, buf);
}

static void be_mark(struct lb *l, struct backend *b, int up, int err)
{
	char name[22];

	if (!up)
		b->fails++;
	if (b->up == up)
		return;
	b->up = up;
	if (up)
		app_log(&l->a, USTACK_LOG_WARN, "backend %s is up again",
			be_name(b, name));
	else
		app_log(&l->a, USTACK_LOG_WARN, "backend %s is down: %s",
			be_name(b, name), ustack_strerror(err));
}

/* A non-blocking connect to backend b: the socket, or -errno. */
static int be_connect(struct lb *l, const struct backend *b)
{
	struct sockaddr_in sin;
	int sd = ustack_socket(l->a.st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r;

	if (sd < 0)
		return sd;
	app_sockaddr(&sin, b->addr, b->port);
	r = ustack_connect(l->a.st, sd, (struct sockaddr *)&sin, sizeof(sin));
	if (r < 0 && r != -EINPROGRESS) {
		ustack_close(l->a.st, sd);
		return r;
	}
	return sd;
}

/* 0 once a connect finished well, else -errno (SO_ERROR). */
static int connect_result(struct lb *l, int sd)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (ustack_getsockopt(l->a.st, sd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -EIO;
	return -err;
}

/* The next backend for a client that tried `tried` already; -1: none. */
static int pick(struct lb *l, uint64_t tried)
{
	int best = -1, any_up = 0;

	for (int i = 0; i < l->nbe; i++)
		if (l->be[i].up && !(tried & (1ull << i)))
			any_up = 1;
	for (int k = 0; k < l->nbe; k++) {
		int i = (l->rr + k) % l->nbe;
		struct backend *b = &l->be[i];

		if ((tried & (1ull << i)) || (any_up && !b->up))
			continue;
		if (l->policy == LB_RR) {
			best = i;
			break;
		}
		if (best < 0 || b->active < l->be[best].active)
			best = i;
	}
	if (best >= 0)
		l->rr = (best + 1) % l->nbe;
	return best;
}

/* ---- connections ----------------------------------------------------------- */

static void conn_free(struct lb *l, struct conn *c)
{
	if (c->csd >= 0)
		ustack_close(l->a.st, c->csd);
	if (c->bsd >= 0)
		ustack_close(l->a.st, c->bsd);
	if (c->state == CONN_RELAY)
		l->be[c->b].active--;
	memset(c, 0, sizeof(*c));
	c->state = CONN_FREE;
	c->csd = c->bsd = -1;
}

/* Start connecting c to the next backend; closes c when none is left. */
static void conn_try_next(struct lb *l, struct conn *c)
{
	for (;;) {
		int i = pick(l, c->tried), sd;

		if (i < 0) {
			l->failed_clients++;
			app_log(&l->a, USTACK_LOG_WARN, "no backend accepted a "
				"client: closing it");
			conn_free(l, c);
			return;
		}
		c->tried |= 1ull << i;
		sd = be_connect(l, &l->be[i]);
		if (sd < 0) {
			be_mark(l, &l->be[i], 0, sd);
			continue;
		}
		c->b = i;
		c->bsd = sd;
		c->state = CONN_CONNECTING;
		c->deadline = app_now() + l->connect_us;
		return;
	}
}

static void conn_connected(struct lb *l, struct conn *c)
{
	struct backend *b = &l->be[c->b];
	int r = connect_result(l, c->bsd);
	char name[22];

	if (r < 0) {
		be_mark(l, b, 0, r);
		ustack_close(l->a.st, c->bsd);
		c->bsd = -1;
		conn_try_next(l, c);
		return;
	}
	be_mark(l, b, 1, 0);
	c->state = CONN_RELAY;
	b->active++;
	b->conns++;
	app_log(&l->a, USTACK_LOG_INFO, "client -> backend %s (%u open)",
		be_name(b, name), b->active);
}

static void lb_accept(struct lb *l)
{
	for (int k = 0; k < 64; k++) {
		int sd = ustack_accept4(l->a.st, l->lsd, NULL, NULL,
					SOCK_NONBLOCK);
		uint32_t i;

		if (sd < 0)
			return;
		for (i = 0; i < l->max_conns && l->conns[i].state != CONN_FREE; i++)
			;
		if (i == l->max_conns) {
			l->refused_full++;
			ustack_close(l->a.st, sd);
			continue;
		}
		l->accepted++;
		l->conns[i].csd = sd;
		l->conns[i].tried = 0;
		conn_try_next(l, &l->conns[i]);
	}
}

/* Move bytes from -> to through d. Returns -1 when the connection broke. */
static int relay(struct lb *l, int from, int to, struct dir *d, short rev_from,
		 short rev_to, uint64_t *count)
{
	struct ustack *st = l->a.st;
	ssize_t n;

	if (d->off == d->len && !d->eof && (rev_from & (POLLIN | POLLHUP | POLLERR))) {
		n = ustack_recv(st, from, d->buf, sizeof(d->buf), 0);
		if (n > 0) {
			d->off = 0;
			d->len = (uint32_t)n;
			*count += (uint64_t)n;
		} else if (n == 0) {
			d->eof = 1;
		} else if (n != -EAGAIN) {
			return -1;
		}
	}
	if (d->off < d->len && (rev_to & (POLLOUT | POLLERR) || d->off == 0)) {
		n = ustack_send(st, to, d->buf + d->off, d->len - d->off, 0);
		if (n > 0)
			d->off += (uint32_t)n;
		else if (n != -EAGAIN)
			return -1;
	}
	if (d->eof && d->off == d->len && !d->shut) {
		/* half-close passed on: the other side sees our FIN */
		ustack_shutdown(st, to, SHUT_WR);
		d->shut = 1;
	}
	return 0;
}

static void conn_ready(struct lb *l, struct conn *c, short crev, short brev)
{
	struct backend *b = &l->be[c->b];

	if (c->state == CONN_CONNECTING) {
		if (brev & (POLLOUT | POLLERR | POLLHUP))
			conn_connected(l, c);
		else if (app_now() >= c->deadline) {
			be_mark(l, b, 0, -ETIMEDOUT);
			ustack_close(l->a.st, c->bsd);
			c->bsd = -1;
			conn_try_next(l, c);
		}
		if (c->state != CONN_RELAY)
			return;
		brev |= POLLOUT;
	}
	if (relay(l, c->csd, c->bsd, &c->up, crev, brev, &b->bytes_to) < 0 ||
	    relay(l, c->bsd, c->csd, &c->down, brev, crev, &b->bytes_from) < 0 ||
	    (c->up.shut && c->down.shut))
		conn_free(l, c);
}

/* ---- health probes ----------------------------------------------------------- */

static void health_start(struct lb *l, ustack_time_t now)
{
	for (int i = 0; i < l->nbe; i++) {
		struct backend *b = &l->be[i];
		int sd;

		if (b->probe_sd >= 0)
			continue;
		sd = be_connect(l, b);
		if (sd < 0) {
			be_mark(l, b, 0, sd);
			continue;
		}
		b->probe_sd = sd;
		b->probe_deadline = now + l->connect_us;
	}
}

static void health_done(struct lb *l, struct backend *b, int timed_out)
{
	int r = timed_out ? -ETIMEDOUT : connect_result(l, b->probe_sd);

	be_mark(l, b, r == 0, r);
	ustack_close(l->a.st, b->probe_sd);
	b->probe_sd = -1;
}

static void health_tick(struct lb *l)
{
	ustack_time_t now = app_now();

	for (int i = 0; i < l->nbe; i++)
		if (l->be[i].probe_sd >= 0 && now >= l->be[i].probe_deadline)
			health_done(l, &l->be[i], 1);
	if (l->health_us && now >= l->next_health) {
		health_start(l, now);
		l->next_health = now + l->health_us;
	}
}

/* ---- the loop ------------------------------------------------------------------ */

/* pmap: >= 0 connection i's client (2i) or backend (2i+1) socket;
 * -1 the listener; -2 - i backend i's probe. */
static unsigned build_poll(struct lb *l)
{
	unsigned n = 0;

	l->pfd[n] = (struct ustack_pollfd){.sd = l->lsd, .events = POLLIN};
	l->pmap[n++] = -1;
	for (int i = 0; i < l->nbe; i++) {
		if (l->be[i].probe_sd < 0)
			continue;
		l->pfd[n] = (struct ustack_pollfd){.sd = l->be[i].probe_sd,
						   .events = POLLOUT};
		l->pmap[n++] = -2 - i;
	}
	for (uint32_t i = 0; i < l->max_conns; i++) {
		struct conn *c = &l->conns[i];
		short ce = 0, be = 0;

		if (c->state == CONN_FREE)
			continue;
		if (c->state == CONN_CONNECTING) {
			be = POLLOUT;
		} else {
			if (c->up.off == c->up.len && !c->up.eof)
				ce |= POLLIN;
			if (c->down.off == c->down.len && !c->down.eof)
				be |= POLLIN;
			if (c->up.off < c->up.len)
				be |= POLLOUT;
			if (c->down.off < c->down.len)
				ce |= POLLOUT;
		}
		l->pfd[n] = (struct ustack_pollfd){.sd = c->csd, .events = ce};
		l->pmap[n++] = (int)(2 * i);
		l->pfd[n] = (struct ustack_pollfd){.sd = c->bsd, .events = be};
		l->pmap[n++] = (int)(2 * i + 1);
	}
	return n;
}

static int poll_timeout_ms(const struct lb *l)
{
	ustack_time_t now = app_now(), first = USTACK_TIME_NEVER;

	if (l->health_us)
		first = l->next_health;
	for (int i = 0; i < l->nbe; i++)
		if (l->be[i].probe_sd >= 0 && l->be[i].probe_deadline < first)
			first = l->be[i].probe_deadline;
	for (uint32_t i = 0; i < l->max_conns; i++)
		if (l->conns[i].state == CONN_CONNECTING &&
		    l->conns[i].deadline < first)
			first = l->conns[i].deadline;
	if (first == USTACK_TIME_NEVER)
		return -1;
	return first <= now ? 0 : (int)((first - now + 999) / 1000);
}

static void handle_poll(struct lb *l, unsigned n)
{
	/* the two entries of a connection are adjacent: handle them once */
	for (unsigned k = 0; k < n; k++) {
		int m = l->pmap[k];

		if (m == -1) {
			if (l->pfd[k].revents)
				lb_accept(l);
		} else if (m <= -2) {
			if (l->pfd[k].revents)
				health_done(l, &l->be[-2 - m], 0);
		} else if (k + 1 < n && (m & 1) == 0) {
			struct conn *c = &l->conns[m / 2];

			if (c->state != CONN_FREE)
				conn_ready(l, c, l->pfd[k].revents,
					   l->pfd[k + 1].revents);
			k++;
		}
	}
}

static int run(struct lb *l)
{
	for (;;) {
		unsigned n = build_poll(l);
		int r = app_poll(&l->a, l->pfd, n, poll_timeout_ms(l));

		if (r == -EINTR && app_stopping())
			return APP_EXIT_OK;
		if (r == -EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "ustack-lb: poll: %s\n", ustack_strerror(r));
			return APP_EXIT_FAIL;
		}
		handle_poll(l, n);
		health_tick(l);
	}
}

static void print_counters(const struct lb *l)
{
	char name[22];

	fprintf(stderr, "ustack-lb: %llu connections accepted, %llu closed "
		"with no backend, %llu refused (max-conns)\n",
		(unsigned long long)l->accepted,
		(unsigned long long)l->failed_clients,
		(unsigned long long)l->refused_full);
	for (int i = 0; i < l->nbe; i++) {
		const struct backend *b = &l->be[i];

		fprintf(stderr, "ustack-lb: backend %s %s: %llu connections, "
			"%llu failures, %llu bytes to, %llu bytes from\n",
			be_name(b, name), b->up ? "up" : "down",
			(unsigned long long)b->conns,
			(unsigned long long)b->fails,
			(unsigned long long)b->bytes_to,
			(unsigned long long)b->bytes_from);
	}
}

static int lb_alloc(struct lb *l)
{
	size_t npoll = 1 + LB_MAX_BACKENDS + 2 * (size_t)l->max_conns +
		       APP_POLL_EXTRA;

	l->conns = calloc(l->max_conns, sizeof(*l->conns));
	l->pfd = calloc(npoll, sizeof(*l->pfd));
	l->pmap = calloc(npoll, sizeof(*l->pmap));
	if (!l->conns || !l->pfd || !l->pmap)
		return -1;
	for (uint32_t i = 0; i < l->max_conns; i++)
		l->conns[i].csd = l->conns[i].bsd = -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct lb l;
	struct app_desc desc = lb_desc;
	char what[128];
	int rc;

	l.max_conns = 256;
	l.health_us = USTACK_SEC(2);
	l.connect_us = USTACK_SEC(2);
	desc.ctx = &l;
	app_parse(&l.a, &desc, argc, argv);
	if (!l.port)
		app_usage_exit(&l.a, "--port is required");
	if (l.nbe == 0)
		app_usage_exit(&l.a, "at least one --backend is required");
	if (app_signals_init() < 0 || lb_alloc(&l) < 0) {
		perror("ustack-lb");
		return APP_EXIT_FAIL;
	}
	if ((rc = app_start(&l.a)) != 0)
		return rc;
	rc = ustack_loop_attach(l.a.st, NULL, NULL);
	if (rc < 0) {
		fprintf(stderr, "ustack-lb: event loop: %s\n", ustack_strerror(rc));
		app_stop(&l.a);
		return APP_EXIT_FAIL;
	}
	app_signals_attach(l.a.st);
	l.lsd = app_server_socket(l.a.st, SOCK_STREAM, l.port, 511);
	if (l.lsd < 0) {
		fprintf(stderr, "ustack-lb: port %u: %s\n", l.port,
			ustack_strerror(l.lsd));
		app_stop(&l.a);
		return APP_EXIT_FAIL;
	}
	snprintf(what, sizeof(what), "tcp port %u -> %d backend%s, %s",
		 l.port, l.nbe, l.nbe == 1 ? "" : "s",
		 l.policy == LB_RR ? "round robin" : "least connections");
	app_announce(&l.a, what);
	l.next_health = app_now() + l.health_us;
	rc = run(&l);
	for (uint32_t i = 0; i < l.max_conns; i++)
		if (l.conns[i].state != CONN_FREE)
			conn_free(&l, &l.conns[i]);
	for (int i = 0; i < l.nbe; i++)
		if (l.be[i].probe_sd >= 0)
			ustack_close(l.a.st, l.be[i].probe_sd);
	app_linger(&l.a, USTACK_SEC(1));
	print_counters(&l);
	app_stop(&l.a);
	free(l.conns);
	free(l.pfd);
	free(l.pmap);
	return rc;
}
