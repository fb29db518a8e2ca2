/*
 * httpd.c - ustack-httpd: a small HTTP/1.1 server on the threaded runtime,
 * one thread per connection with plain blocking calls: the example of
 * ustack_thread_start(). Pages:
 *
 *   GET /             a short HTML page about this stack
 *   GET /stats        the counters ("name value" lines)
 *   GET /conns        the connection table, netstat-like
 *   GET /tcp /arp /iface   the other control-socket reports
 *   GET /bytes?n=N    N bytes of data (for curl throughput tests)
 *
 * Keep-alive (HTTP/1.1 default), HEAD, and request pipelining work; bodies
 * are not accepted. Connections (threads) are bounded by --max-conns; past
 * it a connection gets 503 and is closed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/app.h"
#include "lib/ctl.h"
#include "lib/report.h"

#define REQ_MAX 8192
#define BYTES_CHUNK (64u * 1024)
#define IDLE_MS 30000
#define MAX_REQUESTS 1000         /* per connection */

struct httpd {
	struct app a;
	uint16_t port;
	uint32_t max_conns;
	pthread_mutex_t mu;           /* slots, active */
	pthread_cond_t cv;            /* active went down */
	int *slots;                   /* each worker's sd, -1 free */
	uint32_t active;
	char bytes[BYTES_CHUNK];      /* /bytes payload pattern */
};

struct worker {
	struct httpd *h;
	int sd;
	uint32_t slot;
	char req[REQ_MAX + 1];
	size_t len;
};

/* ---- options --------------------------------------------------------------- */

static int httpd_opt(void *ctx, int c, const char *arg)
{
	struct httpd *h = ctx;
	uint64_t v;

	if (c == 'p' && app_parse_port(arg, &h->port) == 0)
		return 0;
	if (c == 'm' && app_parse_u64(arg, 1, 10000, &v) == 0) {
		h->max_conns = (uint32_t)v;
		return 0;
	}
	app_usage_error(h->a.desc, "invalid argument for %s: '%s'",
			c == 'p' ? "--port" : "--max-conns", arg);
	return -1;
}

static const struct option httpd_longopts[] = {
	{"port", required_argument, NULL, 'p'},
	{"max-conns", required_argument, NULL, 'm'},
	{NULL, 0, NULL, 0},
};

static const struct app_desc httpd_desc = {
	.name = "ustack-httpd",
	.synopsis = "[options]",
	.summary = "A small HTTP/1.1 server over ustack, one thread per "
		   "connection. Pages:\n/ (about), /stats, /conns, /tcp, /arp, "
		   "/iface (live stack state),\n/bytes?n=N (N bytes, for "
		   "throughput tests). Runs until SIGINT or SIGTERM.",
	.help = "  -p, --port PORT      TCP port to serve (default 80)\n"
		"  -m, --max-conns N    connections (threads) at once; more get "
		"503\n                       (default 64)\n",
	.shortopts = "p:m:",
	.longopts = httpd_longopts,
	.opt = httpd_opt,
	.min_args = 0,
	.max_args = 0,
};

/* ---- responses ------------------------------------------------------------- */

static int send_all(struct ustack *st, int sd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t r = ustack_send(st, sd, c, n, MSG_NOSIGNAL);

		if (r < 0)
			return (int)r;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int send_head(struct worker *w, int code, const char *reason,
		     const char *type, uint64_t len, int keep, const char *extra)
{
	char hdr[512];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nServer: ustack-httpd/%s\r\n"
			 "Content-Type: %s\r\nContent-Length: %llu\r\n%s%s\r\n",
			 code, reason, USTACK_VERSION, type,
			 (unsigned long long)len,
			 keep ? "" : "Connection: close\r\n", extra ? extra : "");

	return send_all(w->h->a.st, w->sd, hdr, (size_t)n);
}

static int send_text(struct worker *w, int code, const char *reason,
		     const char *type, const char *body, size_t len, int keep,
		     int head)
{
	int r = send_head(w, code, reason, type, len, keep, NULL);

	if (r == 0 && !head && len)
		r = send_all(w->h->a.st, w->sd, body, len);
	return r;
}

static int send_bytes(struct worker *w, uint64_t n, int keep, int head)
{
	int r = send_head(w, 200, "OK", "application/octet-stream", n, keep,
			  NULL);

	while (r == 0 && !head && n) {
		size_t c = n > BYTES_CHUNK ? BYTES_CHUNK : (size_t)n;

		r = send_all(w->h->a.st, w->sd, w->h->bytes, c);
		n -= c;
	}
	return r;
}

static void index_page(struct httpd *h, struct sbuf *b)
{
	struct sbuf iface;
	char ip[16];

	sbuf_init(&iface);
	app_report(&h->a, "iface", &iface);
	sbuf_printf(b, "<!doctype html>\n<html><head><title>ustack</title>"
		    "</head><body>\n<h1>ustack-httpd</h1>\n<p>This page was "
		    "served by <b>ustack</b>, a TCP/IP stack running in user "
		    "space, at %s:%u.</p>\n<ul>\n"
		    "<li><a href=\"/stats\">/stats</a>: every counter</li>\n"
		    "<li><a href=\"/conns\">/conns</a>: the connection table"
		    "</li>\n<li><a href=\"/tcp\">/tcp</a>: TCP details (RTT, "
		    "windows)</li>\n<li><a href=\"/arp\">/arp</a>: the ARP "
		    "cache</li>\n<li><a href=\"/bytes?n=1048576\">/bytes?n=N"
		    "</a>: N bytes, for throughput tests</li>\n</ul>\n<pre>",
		    ustack_fmt_ip4(h->a.cfg.addr, ip), h->port);
	if (iface.len)
		sbuf_printf(b, "%s", iface.buf);
	sbuf_printf(b, "</pre>\n</body></html>\n");
	sbuf_free(&iface);
}

/* The answer to one parsed request. */
static int route(struct worker *w, const char *path, int keep, int head)
{
	static const char *const reports[] = {"stats", "conns", "tcp", "arp",
					      "iface"};
	struct sbuf b;
	int r;

	if (strncmp(path, "/bytes", 6) == 0 && (!path[6] || path[6] == '?')) {
		const char *q = strstr(path, "n=");
		uint64_t n;

		if (!q || app_parse_u64(q + 2, 0, 1ull << 40, &n) < 0)
			return send_text(w, 400, "Bad Request", "text/plain",
					 "want /bytes?n=N\n", 16, keep, head);
		return send_bytes(w, n, keep, head);
	}
	sbuf_init(&b);
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
		index_page(w->h, &b);
		r = send_text(w, 200, "OK", "text/html; charset=utf-8", b.buf,
			      b.len, keep, head);
		sbuf_free(&b);
		return r;
	}
	for (unsigned i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		if (path[0] == '/' && strcmp(path + 1, reports[i]) == 0) {
			app_report(&w->h->a, reports[i], &b);
			r = send_text(w, 200, "OK", "text/plain; charset=utf-8",
				      b.buf, b.len, keep, head);
			sbuf_free(&b);
			return r;
		}
	}
	return send_text(w, 404, "Not Found", "text/plain", "not found\n", 10,
			 keep, head);
}

/* ---- requests -------------------------------------------------------------- */

/* Read until a whole header block is buffered. Returns its length (up to
 * and including the blank line), 0 on EOF or timeout, -1 when too big. */
static long read_request(struct worker *w)
{
	struct ustack *st = w->h->a.st;

	for (;;) {
		struct ustack_pollfd p = {.sd = w->sd, .events = POLLIN};
		char *end;
		ssize_t n;

		w->req[w->len] = 0;
		if ((end = strstr(w->req, "\r\n\r\n")))
			return end + 4 - w->req;
		if (w->len >= REQ_MAX)
			return -1;
		if (ustack_poll(st, &p, 1, IDLE_MS) <= 0)
			return 0;
		n = ustack_recv(st, w->sd, w->req + w->len, REQ_MAX - w->len, 0);
		if (n <= 0)
			return 0;
		w->len += (size_t)n;
	}
}

/* The value of header `name` (leading blanks skipped) into buf; 0 if
 * found, -1 if not. Only the header block (up to the blank line) counts. */
static int header_value(const char *req, const char *name, char *buf,
			size_t cap)
{
	size_t nl = strlen(name);
	const char *l = strstr(req, "\r\n");

	while (l && l[2] != '\r' && l[2]) {
		const char *h = l + 2, *eol = strstr(h, "\r\n");

		if (!eol)
			break;
		if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
			const char *v = h + nl + 1;
			size_t n;

			while (*v == ' ' || *v == '\t')
				v++;
			n = (size_t)(eol - v) < cap - 1 ? (size_t)(eol - v) : cap - 1;
			memcpy(buf, v, n);
			buf[n] = 0;
			return 0;
		}
		l = eol;
	}
	return -1;
}

/* Does header `name` hold `token` (case-insensitive substring)? */
static int header_has(const char *req, const char *name, const char *token)
{
	char v[128];

	if (header_value(req, name, v, sizeof(v)) < 0)
		return 0;
	for (char *p = v; *p; p++)
		if (strncasecmp(p, token, strlen(token)) == 0)
			return 1;
	return 0;
}

/* One request: parse, answer. Returns 1 to keep the connection, 0 not. */
static int serve_one(struct worker *w, long hlen)
{
	char method[16], path[1024], version[16], cl[32];
	int keep, head, r;

	if (sscanf(w->req, "%15s %1023s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0) {
		send_text(w, 400, "Bad Request", "text/plain", "bad request\n",
			  12, 0, 0);
		return 0;
	}
	keep = strcmp(version, "HTTP/1.0") == 0 ?
		       header_has(w->req, "Connection", "keep-alive") :
		       !header_has(w->req, "Connection", "close");
	if ((header_value(w->req, "Content-Length", cl, sizeof(cl)) == 0 &&
	     strcmp(cl, "0") != 0) ||
	    header_value(w->req, "Transfer-Encoding", cl, sizeof(cl)) == 0)
		keep = 0; /* a body we will not read: end after answering */
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		send_head(w, 405, "Method Not Allowed", "text/plain", 0, 0,
			  "Allow: GET, HEAD\r\n");
		return 0;
	}
	r = route(w, path, keep, head);
	memmove(w->req, w->req + hlen, w->len - (size_t)hlen);
	w->len -= (size_t)hlen;
	return r == 0 && keep;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct httpd *h = w->h;

	for (int i = 0; i < MAX_REQUESTS; i++) {
		long hlen = read_request(w);

		if (hlen < 0)
			send_text(w, 400, "Bad Request", "text/plain",
				  "request too large\n", 18, 0, 0);
		if (hlen <= 0 || !serve_one(w, hlen))
			break;
	}
	pthread_mutex_lock(&h->mu);
	ustack_close(h->a.st, w->sd);
	h->slots[w->slot] = -1;
	h->active--;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	free(w);
	return NULL;
}

/* ---- accepting ------------------------------------------------------------- */

static void refuse(struct httpd *h, int sd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Content-Length: 5\r\nConnection: close\r\n"
				   "Retry-After: 1\r\n\r\nbusy\n";

	ustack_send(h->a.st, sd, busy, sizeof(busy) - 1, MSG_DONTWAIT);
	ustack_close(h->a.st, sd);
}

static void start_worker(struct httpd *h, int sd, pthread_attr_t *attr)
{
	struct worker *w = NULL;
	pthread_t t;
	uint32_t i;

	pthread_mutex_lock(&h->mu);
	for (i = 0; i < h->max_conns && h->slots[i] >= 0; i++)
		;
	if (i < h->max_conns && (w = calloc(1, sizeof(*w)))) {
		w->h = h;
		w->sd = sd;
		w->slot = i;
		h->slots[i] = sd;
		h->active++;
	}
	pthread_mutex_unlock(&h->mu);
	if (!w) {
		refuse(h, sd);
		return;
	}
	ustack_set_nonblock(h->a.st, sd, 0);
	if (pthread_create(&t, attr, worker_main, w) != 0) {
		pthread_mutex_lock(&h->mu);
		h->slots[i] = -1;
		h->active--;
		pthread_mutex_unlock(&h->mu);
		free(w);
		refuse(h, sd);
	}
}

static void accept_loop(struct httpd *h, int lsd)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	while (!app_stopping()) {
		struct ustack_pollfd fds[2] = {
			{.sd = lsd, .events = POLLIN},
			{.sd = -1, .os_fd = app_signal_fd(), .events = POLLIN},
		};

		if (ustack_poll(h->a.st, fds, 2, -1) < 0 && !app_stopping())
			continue;
		for (int k = 0; k < 64 && !app_stopping(); k++) {
			int sd = ustack_accept(h->a.st, lsd, NULL, NULL);

			if (sd < 0)
				break;
			start_worker(h, sd, &attr);
		}
	}
	pthread_attr_destroy(&attr);
}

/* Wait until no worker is left, at most ms. Returns how many are left. */
static uint32_t wait_workers(struct httpd *h, int ms)
{
	struct timespec end;
	uint32_t left;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&h->mu);
	while (h->active &&
	       pthread_cond_timedwait(&h->cv, &h->mu, &end) != ETIMEDOUT)
		;
	left = h->active;
	pthread_mutex_unlock(&h->mu);
	return left;
}

/* Wake every worker (their sockets shut down), then stop the stack. */
static int shutdown_all(struct httpd *h, int lsd)
{
	ustack_close(h->a.st, lsd);
	pthread_mutex_lock(&h->mu);
	for (uint32_t i = 0; i < h->max_conns; i++)
		if (h->slots[i] >= 0)
			ustack_shutdown(h->a.st, h->slots[i], SHUT_RDWR);
	pthread_mutex_unlock(&h->mu);
	wait_workers(h, 2000);
	ustack_thread_stop(h->a.st);
	return wait_workers(h, 1000) == 0;
}

int main(int argc, char **argv)
{
	static const char pattern[] = "0123456789abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ.";
	static struct httpd h;
	struct app_desc desc = httpd_desc;
	int lsd, rc;

	h.port = 80;
	h.max_conns = 64;
	desc.ctx = &h;
	app_parse(&h.a, &desc, argc, argv);
	pthread_mutex_init(&h.mu, NULL);
	pthread_cond_init(&h.cv, NULL);
	for (size_t i = 0; i < BYTES_CHUNK; i++)
		h.bytes[i] = i % 64 == 63 ? '\n' : pattern[i % 64];
	h.slots = malloc(h.max_conns * sizeof(int));
	if (!h.slots || app_signals_init() < 0) {
		perror("ustack-httpd");
		return APP_EXIT_FAIL;
	}
	memset(h.slots, 0xff, h.max_conns * sizeof(int));
	if ((rc = app_start(&h.a)) != 0)
		return rc;
	if ((rc = ustack_thread_start(h.a.st, NULL, NULL)) < 0 ||
	    (rc = lsd = app_server_socket(h.a.st, SOCK_STREAM, h.port, 128)) < 0) {
		fprintf(stderr, "ustack-httpd: port %u: %s\n", h.port,
			ustack_strerror(rc));
		app_stop(&h.a);
		return APP_EXIT_FAIL;
	}
	app_signals_attach(h.a.st);
	if (h.a.ctl && app_ctl_thread_start(h.a.ctl) < 0)
		fprintf(stderr, "ustack-httpd: control socket thread failed\n");
	app_announce(&h.a, "http");
	accept_loop(&h, lsd);
	if (!shutdown_all(&h, lsd)) {
		/* Workers still inside the stack: leave teardown to exit. */
		fprintf(stderr, "ustack-httpd: %u connections did not finish\n",
			h.active);
		return APP_EXIT_FAIL;
	}
	app_stop(&h.a);
	free(h.slots);
	return APP_EXIT_OK;
}
