/*
 * httpd.c - ustack-httpd: a small HTTP/1.1 server on one event loop
 * (ustack_loop_attach + ustack_poll), non-blocking sockets, no thread per
 * connection. Pages:
 *
 *   GET /             a short HTML page about this stack
 *   GET /live         the live page: connections, states, counters, ARP
 *   GET /api/...      the JSON behind it (apps/httpd/api.c)
 *   GET /stats        the counters ("name value" lines)
 *   GET /conns        the connection table, netstat-like
 *   GET /tcp /arp /iface   the other control-socket reports
 *   GET /bytes?n=N    N bytes of data (for curl throughput tests)
 *
 * Keep-alive (HTTP/1.1 default), HEAD and pipelining work; bodies are not
 * accepted. Slow clients cost a slot and a small buffer, never a thread:
 * the whole request header must arrive within --header-timeout of the
 * connection (or of the first byte of a later request), an idle
 * keep-alive connection is closed after --idle-timeout, and so is one
 * whose peer stops reading. When every slot is taken, the slowest client
 * still sending its header (or the longest-idle one) makes room for the
 * new one. Each response is built in one buffer and sent with one call
 * (Nagle never holds back a body behind its header).
 *
 * May touch: its stack through the public API, its connections and their
 * buffers, the clock, stdout and stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd/httpd.h"
#include "lib/ctl.h"

#define REQ_MAX 8192                /* request header, bytes */
#define REQ_MIN_CAP 512             /* first buffer; grows to REQ_MAX */
#define BYTES_CHUNK (64u * 1024)
#define MAX_REQUESTS 1000           /* per connection */
#define ACCEPT_BURST 64
#define ACCEPT_PAUSE_US USTACK_MS(100)
#define SOCKETS_SPARE 16            /* stack sockets kept for the listener and others */

enum { C_FREE = 0, C_READ, C_WRITE };

struct httpd_conn {
	int sd;
	uint8_t state;               /* C_* */
	uint8_t keep;                /* keep the connection after this response */
	uint8_t eof;                 /* the peer has sent its FIN */
	uint16_t nreq;               /* requests answered */
	char *req;                   /* header bytes received, NUL-terminated */
	uint32_t len, cap;
	ustack_time_t header_at;     /* READ: whole header due by then (or NEVER) */
	ustack_time_t idle_at;       /* READ, nothing buffered / WRITE: no progress by then */
	struct sbuf out;             /* the response: header and (start of the) body */
	size_t out_off;
	uint64_t body_left, body_off;/* /bytes: pattern bytes still to send */
};

static char bytes_pattern[BYTES_CHUNK + 64];

/* ---- options --------------------------------------------------------------- */

enum { OPT_HEADER_TIMEOUT = 0x300, OPT_IDLE_TIMEOUT };

static int httpd_opt(void *ctx, int c, const char *arg)
{
	struct httpd *h = ctx;
	ustack_time_t us;
	uint64_t v;

	if (c == 'p' && app_parse_port(arg, &h->port) == 0)
		return 0;
	if (c == 'm' && app_parse_u64(arg, 1, 1000000, &v) == 0) {
		h->max_conns = (uint32_t)v;
		return 0;
	}
	if ((c == OPT_HEADER_TIMEOUT || c == OPT_IDLE_TIMEOUT) &&
	    app_parse_seconds(arg, &us) == 0 && us >= USTACK_MS(100) &&
	    us <= USTACK_SEC(3600)) {
		*(c == OPT_HEADER_TIMEOUT ? &h->header_us : &h->idle_us) = us;
		return 0;
	}
	app_usage_error(h->a.desc, "invalid argument for %s: '%s'",
			c == 'p' ? "--port" :
			c == 'm' ? "--max-conns" :
			c == OPT_HEADER_TIMEOUT ? "--header-timeout (0.1..3600 s)" :
						  "--idle-timeout (0.1..3600 s)",
			arg);
	return -1;
}

static const struct option httpd_longopts[] = {
	{"port", required_argument, NULL, 'p'},
	{"max-conns", required_argument, NULL, 'm'},
	{"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
	{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
	{NULL, 0, NULL, 0},
};

static const struct app_desc httpd_desc = {
	.name = "ustack-httpd",
	.synopsis = "[options]",
	.summary = "A small HTTP/1.1 server over ustack, one event loop for "
		   "every connection.\nPages: / (about), /live (the running "
		   "stack, live in a browser), /stats,\n/conns, /tcp, /arp, "
		   "/iface (reports), /api/... (JSON), /bytes?n=N (N bytes,\n"
		   "for throughput tests). Runs until SIGINT or SIGTERM.",
	.help = "  -p, --port PORT      TCP port to serve (default 80)\n"
		"  -m, --max-conns N    connections at once (default 4000, at "
		"most the\n                       stack's sockets less 16); when "
		"full, the slowest\n                       client still sending "
		"its header makes room\n"
		"  --header-timeout S   a whole request header must arrive "
		"within S\n                       seconds (default 10)\n"
		"  --idle-timeout S     close a keep-alive connection idle, or a "
		"peer not\n                       reading, for S seconds "
		"(default 30)\n",
	.shortopts = "p:m:",
	.longopts = httpd_longopts,
	.opt = httpd_opt,
	.min_args = 0,
	.max_args = 0,
};

/* ---- connections ----------------------------------------------------------- */

static void conn_close(struct httpd *h, struct httpd_conn *c, int abort)
{
	if (abort) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};

		ustack_setsockopt(h->a.st, c->sd, SOL_SOCKET, SO_LINGER, &l,
				  sizeof(l));
	}
	ustack_close(h->a.st, c->sd);
	free(c->req);
	sbuf_free(&c->out);
	memset(c, 0, sizeof(*c));
	c->sd = -1;
	h->free_slots[h->nfree++] = (uint32_t)(c - h->conns);
	h->nconns--;
	while (h->hi > 0 && h->conns[h->hi - 1].state == C_FREE)
		h->hi--;
}

/* Waiting for a request with nothing of it buffered (keep-alive idle). */
static void conn_wait_request(struct httpd_conn *c, const struct httpd *h,
			      ustack_time_t now)
{
	c->state = C_READ;
	c->header_at = c->len ? now + h->header_us : USTACK_TIME_NEVER;
	c->idle_at = c->len ? USTACK_TIME_NEVER : now + h->idle_us;
}

static struct httpd_conn *conn_new(struct httpd *h, int sd, ustack_time_t now)
{
	struct httpd_conn *c = &h->conns[h->free_slots[--h->nfree]];

	memset(c, 0, sizeof(*c));
	c->sd = sd;
	c->state = C_READ;
	/* The first request's header is due a header time after the
	 * connection, whether or not a byte of it came (slowloris, and
	 * connections that never send). */
	c->header_at = now + h->header_us;
	c->idle_at = USTACK_TIME_NEVER;
	h->nconns++;
	if ((uint32_t)(c - h->conns) >= h->hi)
		h->hi = (uint32_t)(c - h->conns) + 1;
	return c;
}

/* The client to close to make room: idle keep-alive ones first (the
 * longest idle), then those still sending a header (the one whose header
 * is due first, i.e. the oldest). NULL if every client is being answered.
 * O(max_conns), only when the table is full. */
static struct httpd_conn *pick_victim(struct httpd *h)
{
	struct httpd_conn *best = NULL;
	int best_idle = 0;

	for (uint32_t i = 0; i < h->max_conns; i++) {
		struct httpd_conn *c = &h->conns[i];
		int idle;

		if (c->state != C_READ)
			continue;
		idle = c->header_at == USTACK_TIME_NEVER;
		if (!best || idle > best_idle ||
		    (idle == best_idle &&
		     (idle ? c->idle_at < best->idle_at :
			     c->header_at < best->header_at))) {
			best = c;
			best_idle = idle;
		}
	}
	return best;
}

/* ---- responses ------------------------------------------------------------- */

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/* Start c's response: the status line and headers into c->out. */
static void head(struct httpd *h, struct httpd_conn *c, int code,
		 const char *type, uint64_t len, const char *extra)
{
	h->n.status[code / 100 < 6 ? code / 100 : 5]++;
	sbuf_printf(&c->out,
		    "HTTP/1.1 %d %s\r\nServer: ustack-httpd/%s\r\n"
		    "Content-Type: %s\r\nContent-Length: %llu\r\n%s%s\r\n",
		    code, reason(code), USTACK_VERSION, type,
		    (unsigned long long)len,
		    c->keep ? "" : "Connection: close\r\n", extra ? extra : "");
}

static void body(struct httpd_conn *c, const char *p, size_t n, int is_head)
{
	if (!is_head && n)
		sbuf_printf(&c->out, "%.*s", (int)n, p);
}

static void text(struct httpd *h, struct httpd_conn *c, int code,
		 const char *type, const char *p, size_t n, int is_head,
		 const char *extra)
{
	head(h, c, code, type, n, extra);
	body(c, p, n, is_head);
}

static void error_page(struct httpd *h, struct httpd_conn *c, int code,
		       const char *msg, int is_head)
{
	text(h, c, code, "text/plain", msg, strlen(msg), is_head, NULL);
}

/* /bytes?n=N: the header in c->out, the body sent from the pattern as the
 * socket takes it (flush() gathers the two into one send). */
static void bytes_page(struct httpd *h, struct httpd_conn *c, uint64_t n,
		       int is_head)
{
	head(h, c, 200, "application/octet-stream", n, NULL);
	if (is_head)
		return;
	c->body_off = 0;
	c->body_left = n;
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
		    "<li><a href=\"/live\">/live</a>: the running stack, live"
		    "</li>\n"
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

/* The answer to one parsed request, into c->out. */
static void route(struct httpd *h, struct httpd_conn *c, char *path,
		  int is_head)
{
	static const char *const reports[] = {"stats", "conns", "tcp", "arp",
					      "iface"};
	char *query = strchr(path, '?');
	struct sbuf b;

	if (query)
		*query++ = 0;
	if (strcmp(path, "/bytes") == 0) {
		const char *q = query ? strstr(query, "n=") : NULL;
		uint64_t n;

		if (!q || app_parse_u64(q + 2, 0, 1ull << 40, &n) < 0)
			error_page(h, c, 400, "want /bytes?n=N\n", is_head);
		else
			bytes_page(h, c, n, is_head);
		return;
	}
	sbuf_init(&b);
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
		index_page(h, &b);
		text(h, c, 200, "text/html; charset=utf-8", b.buf, b.len,
		     is_head, NULL);
	} else if (strcmp(path, "/live") == 0) {
		text(h, c, 200, "text/html; charset=utf-8", httpd_live_html,
		     strlen(httpd_live_html), is_head, NULL);
	} else if (strncmp(path, "/api/", 5) == 0 &&
		   httpd_api(h, path + 5, query, &b) == 0) {
		text(h, c, 200, "application/json", b.buf, b.len, is_head,
		     "Cache-Control: no-store\r\n");
	} else {
		for (unsigned i = 0; i < sizeof(reports) / sizeof(*reports); i++) {
			if (strcmp(path + 1, reports[i]) == 0) {
				app_report(&h->a, reports[i], &b);
				text(h, c, 200, "text/plain; charset=utf-8",
				     b.buf, b.len, is_head, NULL);
				sbuf_free(&b);
				return;
			}
		}
		error_page(h, c, 404, "not found\n", is_head);
	}
	sbuf_free(&b);
}

/* ---- requests -------------------------------------------------------------- */

/* The value of header `name` (leading blanks skipped) into buf; 0 if
 * found, -1 if not. Only the header block (up to the blank line) counts. */
static int header_value(const char *req, const char *name, char *buf,
			size_t cap)
{
	size_t nl = strlen(name);
	const char *l = strstr(req, "\r\n");

	while (l && l[2] != '\r' && l[2]) {
		const char *hd = l + 2, *eol = strstr(hd, "\r\n");

		if (!eol)
			break;
		if (strncasecmp(hd, name, nl) == 0 && hd[nl] == ':') {
			const char *v = hd + nl + 1;
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

/* One whole request header (hlen bytes at c->req): parse it and build the
 * answer in c->out; sets c->keep. */
static void serve_one(struct httpd *h, struct httpd_conn *c, size_t hlen)
{
	char method[16], path[1024], version[16], cl[32];
	char save = c->req[hlen];
	int is_head;

	c->req[hlen] = 0; /* only this request's header counts */
	h->n.requests++;
	c->keep = 0;
	if (sscanf(c->req, "%15s %1023s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0) {
		error_page(h, c, 400, "bad request\n", 0);
		goto out;
	}
	c->keep = strcmp(version, "HTTP/1.0") == 0 ?
			  header_has(c->req, "Connection", "keep-alive") :
			  !header_has(c->req, "Connection", "close");
	if ((header_value(c->req, "Content-Length", cl, sizeof(cl)) == 0 &&
	     strcmp(cl, "0") != 0) ||
	    header_value(c->req, "Transfer-Encoding", cl, sizeof(cl)) == 0)
		c->keep = 0; /* a body we will not read: end after answering */
	if (++c->nreq >= MAX_REQUESTS)
		c->keep = 0;
	is_head = strcmp(method, "HEAD") == 0;
	if (!is_head && strcmp(method, "GET") != 0) {
		c->keep = 0;
		head(h, c, 405, "text/plain", 0, "Allow: GET, HEAD\r\n");
		goto out;
	}
	route(h, c, path, is_head);
out:
	c->req[hlen] = save;
	memmove(c->req, c->req + hlen, c->len - hlen);
	c->len -= (uint32_t)hlen;
	c->req[c->len] = 0;
}

/* Length of the first whole header block in c->req (through the blank
 * line), or 0 if it is not all there yet. */
static size_t header_end(const struct httpd_conn *c)
{
	const char *e = c->len ? strstr(c->req, "\r\n\r\n") : NULL;

	return e ? (size_t)(e + 4 - c->req) : 0;
}

/* Send what c has queued: the rest of c->out (status line, headers, a
 * small body) and of a /bytes body, in one gather call per round, so a
 * header never leaves alone to wait for the peer's delayed ACK (Nagle).
 * Returns 1 when all of it went, 0 when the socket is full (wait for
 * POLLOUT), -1 on an error. */
static int flush(struct httpd *h, struct httpd_conn *c, ustack_time_t now)
{
	const int fl = MSG_DONTWAIT | MSG_NOSIGNAL;

	while (c->out_off < c->out.len || c->body_left) {
		struct iovec iov[2];
		size_t head_left = c->out.len - c->out_off;
		int n = 0;

		if (head_left)
			iov[n++] = (struct iovec){c->out.buf + c->out_off, head_left};
		if (c->body_left) {
			size_t k = c->body_left > BYTES_CHUNK ? BYTES_CHUNK :
								(size_t)c->body_left;
			iov[n++] = (struct iovec){(void *)(bytes_pattern + c->body_off % 64), k};
		}
		ssize_t r = ustack_sendmsg(h->a.st, c->sd, iov, n, fl);

		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return -1;
		size_t from_head = (size_t)r < head_left ? (size_t)r : head_left;

		c->out_off += from_head;
		c->body_off += (uint64_t)((size_t)r - from_head);
		c->body_left -= (uint64_t)((size_t)r - from_head);
		c->idle_at = now + h->idle_us;
	}
	return 1;
}

/* Answer every whole request buffered, one at a time: each response is
 * sent before the next request is looked at. */
static void conn_serve(struct httpd *h, struct httpd_conn *c, ustack_time_t now)
{
	for (;;) {
		int r;

		if (c->state == C_READ) {
			size_t hlen = header_end(c);

			if (!hlen && c->eof) {
				/* Whole requests sent before the FIN are
				 * answered; what is left is cut off. */
				conn_close(h, c, 0);
				return;
			}
			if (!hlen) {
				if (c->len < REQ_MAX)
					return;
				h->n.too_large++;
				c->keep = 0;
				error_page(h, c, 431, "request header too large\n", 0);
				c->len = 0;
			} else {
				serve_one(h, c, hlen);
			}
			c->state = C_WRITE;
			c->out_off = 0;
			c->idle_at = now + h->idle_us;
		}
		r = flush(h, c, now);
		if (r == 0)
			return;
		if (r < 0 || c->out.failed || !c->keep) {
			conn_close(h, c, 0);
			return;
		}
		if (c->out.cap > 65536)
			sbuf_free(&c->out);
		c->out.len = 0;
		conn_wait_request(c, h, now);
	}
}

/* Bytes arrived (or the peer closed). */
static void conn_read(struct httpd *h, struct httpd_conn *c, ustack_time_t now)
{
	for (;;) {
		ssize_t n;

		if (c->len == c->cap) {
			uint32_t cap = c->cap ? c->cap * 2 : REQ_MIN_CAP;
			char *p;

			if (c->cap >= REQ_MAX)
				break;
			if (cap > REQ_MAX)
				cap = REQ_MAX;
			if (!(p = realloc(c->req, cap + 1))) {
				conn_close(h, c, 1);
				return;
			}
			c->req = p;
			c->cap = cap;
		}
		n = ustack_recv(h->a.st, c->sd, c->req + c->len,
				c->cap - c->len, MSG_DONTWAIT);
		if (n == -EAGAIN)
			break;
		if (n == 0) {
			c->eof = 1;
			break;
		}
		if (n < 0) {
			conn_close(h, c, 0);
			return;
		}
		if (c->header_at == USTACK_TIME_NEVER) {
			/* First byte of a later request: its header clock. */
			c->header_at = now + h->header_us;
			c->idle_at = USTACK_TIME_NEVER;
		}
		c->len += (uint32_t)n;
		c->req[c->len] = 0;
	}
	conn_serve(h, c, now);
}

/* Deadlines: the header deadline and the idle limit. */
static void conn_timers(struct httpd *h, struct httpd_conn *c,
			ustack_time_t now)
{
	if (c->state == C_READ && now >= c->header_at) {
		h->n.header_timeouts++;
		if (c->len) {
			static const char t408[] =
				"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0"
				"\r\nConnection: close\r\n\r\n";

			h->n.status[4]++;
			ustack_send(h->a.st, c->sd, t408, sizeof(t408) - 1,
				    MSG_DONTWAIT | MSG_NOSIGNAL);
		}
		conn_close(h, c, 0);
	} else if (now >= c->idle_at) {
		if (c->state == C_READ) {
			h->n.idle_timeouts++;
			conn_close(h, c, 0);
		} else {
			h->n.send_timeouts++;
			conn_close(h, c, 1); /* the peer does not read: RST */
		}
	}
}

/* ---- accepting ------------------------------------------------------------- */

static void refuse(struct httpd *h, int sd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Content-Length: 5\r\nConnection: close\r\n"
				   "Retry-After: 1\r\n\r\nbusy\n";

	h->n.status[5]++;
	ustack_send(h->a.st, sd, busy, sizeof(busy) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
	ustack_close(h->a.st, sd);
}

static void do_accept(struct httpd *h, ustack_time_t now)
{
	for (int k = 0; k < ACCEPT_BURST; k++) {
		int sd = ustack_accept4(h->a.st, h->lsd, NULL, NULL,
					SOCK_NONBLOCK);

		if (sd == -EAGAIN)
			return;
		if (sd < 0) {
			/* The stack's sockets are all taken (EMFILE) or
			 * memory is short: stop accepting for a moment
			 * instead of spinning on a readable listener. */
			if (h->n.accept_errors++ == 0)
				app_log(&h->a, USTACK_LOG_WARN, "accept: %s "
					"(pausing 100 ms; logged once)",
					ustack_strerror(sd));
			h->accept_pause_until = now + ACCEPT_PAUSE_US;
			return;
		}
		h->n.accepted++;
		if (!h->nfree) {
			struct httpd_conn *v = pick_victim(h);

			if (!v) {
				refuse(h, sd);
				continue;
			}
			h->n.evicted++;
			conn_close(h, v, 1);
		}
		conn_new(h, sd, now);
	}
}

/* ---- the loop -------------------------------------------------------------- */

/* The poll set, and the time to wait (ms) until the next deadline. */
static unsigned build_poll(struct httpd *h, ustack_time_t now, int *timeout)
{
	ustack_time_t next = USTACK_TIME_NEVER;
	unsigned n = 0;

	if (now >= h->accept_pause_until) {
		h->pfd[n] = (struct ustack_pollfd){.sd = h->lsd, .events = POLLIN};
		h->pmap[n++] = UINT32_MAX;
	} else {
		next = h->accept_pause_until;
	}
	for (uint32_t i = 0; i < h->hi; i++) {
		struct httpd_conn *c = &h->conns[i];

		if (c->state == C_FREE)
			continue;
		h->pfd[n] = (struct ustack_pollfd){
			.sd = c->sd,
			.events = c->state == C_READ ? POLLIN : POLLOUT};
		h->pmap[n++] = i;
		if (c->state == C_READ && c->header_at < next)
			next = c->header_at;
		if (c->idle_at < next)
			next = c->idle_at;
	}
	if (next == USTACK_TIME_NEVER)
		*timeout = -1;
	else
		*timeout = next <= now ? 0 : (int)((next - now + 999) / 1000);
	return n;
}

static void handle_poll(struct httpd *h, unsigned n, ustack_time_t now)
{
	for (unsigned k = 0; k < n; k++) {
		struct httpd_conn *c;

		if (!h->pfd[k].revents)
			continue;
		if (h->pmap[k] == UINT32_MAX) {
			do_accept(h, now);
			continue;
		}
		c = &h->conns[h->pmap[k]];
		if (c->sd != h->pfd[k].sd)
			continue; /* closed earlier in this turn (eviction) */
		if (c->state == C_READ)
			conn_read(h, c, now);
		else if (h->pfd[k].revents & (POLLERR | POLLHUP | POLLNVAL) &&
			 !(h->pfd[k].revents & POLLOUT))
			conn_close(h, c, 0);
		else
			conn_serve(h, c, now);
	}
	for (uint32_t i = 0; i < h->hi; i++)
		if (h->conns[i].state != C_FREE)
			conn_timers(h, &h->conns[i], now);
}

static int run(struct httpd *h)
{
	for (;;) {
		int timeout, r;
		unsigned n = build_poll(h, app_now(), &timeout);

		r = app_poll(&h->a, h->pfd, n, timeout);
		if (r == -EINTR && app_stopping())
			return APP_EXIT_OK;
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "ustack-httpd: poll: %s\n",
				ustack_strerror(r));
			return APP_EXIT_FAIL;
		}
		handle_poll(h, r < 0 ? 0 : n, app_now());
	}
}

/* ---- setting up ------------------------------------------------------------ */

static int httpd_alloc(struct httpd *h)
{
	h->conns = calloc(h->max_conns, sizeof(*h->conns));
	h->free_slots = calloc(h->max_conns, sizeof(*h->free_slots));
	h->pfd = calloc(h->max_conns + 1 + APP_POLL_EXTRA, sizeof(*h->pfd));
	h->pmap = calloc(h->max_conns + 1 + APP_POLL_EXTRA, sizeof(*h->pmap));
	if (!h->conns || !h->free_slots || !h->pfd || !h->pmap)
		return -1;
	for (uint32_t i = 0; i < h->max_conns; i++) {
		h->conns[i].sd = -1;
		h->free_slots[i] = h->max_conns - 1 - i;
	}
	h->nfree = h->max_conns;
	return 0;
}

static void httpd_free(struct httpd *h)
{
	free(h->conns);
	free(h->free_slots);
	free(h->pfd);
	free(h->pmap);
}

int main(int argc, char **argv)
{
	static const char pattern[] = "0123456789abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ.";
	static struct httpd h;
	struct app_desc desc = httpd_desc;
	struct ustack_config def;
	int rc;

	h.port = 80;
	h.max_conns = 4000;
	h.header_us = USTACK_SEC(10);
	h.idle_us = USTACK_SEC(30);
	desc.ctx = &h;
	app_parse(&h.a, &desc, argc, argv);
	ustack_config_default(&def);
	if (h.max_conns > def.max_sockets - SOCKETS_SPARE)
		app_usage_exit(&h.a, "--max-conns %u: the stack has %u sockets; "
			       "at most %u connections", h.max_conns,
			       def.max_sockets, def.max_sockets - SOCKETS_SPARE);
	for (size_t i = 0; i < sizeof(bytes_pattern); i++)
		bytes_pattern[i] = i % 64 == 63 ? '\n' : pattern[i % 64];
	if (httpd_alloc(&h) < 0 || app_signals_init() < 0) {
		perror("ustack-httpd");
		return APP_EXIT_FAIL;
	}
	h.a.log_fn = httpd_log_hook;
	h.a.log_ctx = &h;
	h.a.log_transitions = 1; /* for the live page's ladder */
	if ((rc = app_start(&h.a)) != 0)
		return rc;
	if ((rc = ustack_loop_attach(h.a.st, NULL, NULL)) < 0 ||
	    (rc = h.lsd = app_server_socket(h.a.st, SOCK_STREAM, h.port, 511)) < 0) {
		fprintf(stderr, "ustack-httpd: port %u: %s\n", h.port,
			ustack_strerror(rc));
		app_stop(&h.a);
		return APP_EXIT_FAIL;
	}
	app_signals_attach(h.a.st);
	app_announce(&h.a, "http");
	rc = run(&h);
	app_log(&h.a, USTACK_LOG_INFO, "stopping");
	ustack_close(h.a.st, h.lsd);
	for (uint32_t i = 0; i < h.max_conns; i++)
		if (h.conns[i].state != C_FREE)
			conn_close(&h, &h.conns[i], 0);
	app_linger(&h.a, USTACK_SEC(1));
	app_stop(&h.a);
	httpd_free(&h);
	return rc;
}
