/*
 * tcpscript_call.c - the application side of a TCP script: socket calls
 * through the stack's public API and observations of what it exposes
 * (poll events, SO_ERROR, the connection table, counters), each written
 * as `name(args) OP result` (OP one of = != >= <= > <).
 *
 *   socket() = s             bind(s, PORT) = 0      listen(s, N) = 0
 *   accept(l) = c            connect(s, PORT) = -EINPROGRESS
 *   write(s, N) = N          read(s, N) = N          (checked bytes)
 *   write(s, N, MSG_MORE) = N                writev(s, N1, N2...) = N
 *   shutdown(s, SHUT_WR) = 0 close(s) = 0
 *   setsockopt(s, TCP_NODELAY, 1) = 0    setsockopt(s, SO_LINGER, 1, 0) = 0
 *   getsockopt(s, TCP_MAXSEG) = 1448     so_error(s) = ECONNREFUSED
 *   poll(s, POLLIN|POLLOUT) = POLLOUT    state() = ESTABLISHED | none
 *   conns() = 0              stat(tcp.challenge_acks) = 1
 *   info(rto_us) = 1000000   iss_advance() > 0
 *
 * Written data is the stack's pattern (ts_stack_byte) at the socket's
 * stream offset, so every segment carrying it can be checked byte for
 * byte; read data is checked against the peer's pattern.
 *
 * May touch: the stack's public API only.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/socket.h>
#include <ustack/stats.h>
#include <ustack/ustack.h>

#include "lib/tcpscript_int.h"
#include "lib/testbed.h"

#define MAX_ARGS 6
#define READ_MAX (4u << 20)

struct call {
	char name[32];
	int nargs;
	char args[MAX_ARGS][64];
	char op[3];
	char res[80];
};

static const struct { const char *n; int v; } errnos[] = {
	{"EAGAIN", EAGAIN}, {"EINPROGRESS", EINPROGRESS},
	{"ECONNREFUSED", ECONNREFUSED}, {"ECONNRESET", ECONNRESET},
	{"ETIMEDOUT", ETIMEDOUT}, {"EPIPE", EPIPE}, {"ENOTCONN", ENOTCONN},
	{"EISCONN", EISCONN}, {"EADDRINUSE", EADDRINUSE},
	{"EADDRNOTAVAIL", EADDRNOTAVAIL}, {"EINVAL", EINVAL},
	{"EALREADY", EALREADY}, {"EHOSTUNREACH", EHOSTUNREACH},
	{"ENETUNREACH", ENETUNREACH}, {"ENOPROTOOPT", ENOPROTOOPT},
	{"EMSGSIZE", EMSGSIZE}, {"ENOBUFS", ENOBUFS}, {"EBADF", EBADF},
	{"EOPNOTSUPP", EOPNOTSUPP}, {"EHOSTDOWN", EHOSTDOWN},
	{"ENETDOWN", ENETDOWN},
};

static const char *const states[] = {
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT",
	"FIN_WAIT_1", "CLOSING", "LAST_ACK", "FIN_WAIT_2", "TIME_WAIT",
};

static const struct { const char *n; short v; } pollbits[] = {
	{"POLLIN", POLLIN}, {"POLLOUT", POLLOUT}, {"POLLERR", POLLERR},
	{"POLLHUP", POLLHUP}, {"POLLRDHUP", POLLRDHUP}, {"POLLNVAL", POLLNVAL},
};

static const char *errno_name(long v, char *buf)
{
	for (unsigned i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		if (errnos[i].v == v)
			return errnos[i].n;
		if (-errnos[i].v == v) {
			sprintf(buf, "-%s", errnos[i].n);
			return buf;
		}
	}
	sprintf(buf, "%ld", v);
	return buf;
}

/* An integer, "-ENAME" or "ENAME". */
static int parse_value(const char *s, long *v)
{
	int neg = *s == '-';
	char *end;

	if (isalpha((unsigned char)s[neg])) {
		for (unsigned i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
			if (!strcmp(s + neg, errnos[i].n)) {
				*v = neg ? -errnos[i].v : errnos[i].v;
				return 0;
			}
		return -1;
	}
	*v = strtol(s, &end, 0);
	return end != s && !*end ? 0 : -1;
}

static int parse_poll(const char *s, short *v)
{
	char buf[80], *tok, *save;

	*v = 0;
	if (!strcmp(s, "0"))
		return 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
		unsigned i;

		for (i = 0; i < sizeof(pollbits) / sizeof(pollbits[0]); i++)
			if (!strcmp(tok, pollbits[i].n))
				break;
		if (i == sizeof(pollbits) / sizeof(pollbits[0]))
			return -1;
		*v |= pollbits[i].v;
	}
	return 0;
}

static const char *poll_str(short v, char *buf)
{
	buf[0] = 0;
	for (unsigned i = 0; i < sizeof(pollbits) / sizeof(pollbits[0]); i++)
		if (v & pollbits[i].v) {
			if (buf[0])
				strcat(buf, "|");
			strcat(buf, pollbits[i].n);
		}
	if (!buf[0])
		strcpy(buf, "0");
	return buf;
}

static char *strip(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int parse_call(struct ts_run *r, const char *text, struct call *c)
{
	const char *open = strchr(text, '('), *close = strrchr(text, ')');
	char args[400], tail[200], *a, *tok, *save, *rest;

	memset(c, 0, sizeof(*c));
	if (!open || !close || close < open || (size_t)(open - text) >= sizeof(c->name) ||
	    (size_t)(close - open) >= sizeof(args))
		return ts_fail(r, "expected a call: name(args) = result");
	memcpy(c->name, text, (size_t)(open - text));
	memcpy(args, open + 1, (size_t)(close - open - 1));
	args[close - open - 1] = 0;
	a = strip(args);
	for (tok = strtok_r(a, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (c->nargs == MAX_ARGS)
			return ts_fail(r, "too many arguments");
		snprintf(c->args[c->nargs++], sizeof(c->args[0]), "%s", strip(tok));
	}
	snprintf(tail, sizeof(tail), "%s", close + 1);
	rest = strip(tail);
	if (!*rest)
		return ts_fail(r, "%s(): the expected result is missing (= ...)",
			       c->name);
	{
		static const char *const ops[] = {"!=", ">=", "<=", "=", ">", "<"};

		for (unsigned i = 0; i < 6; i++)
			if (!strncmp(rest, ops[i], strlen(ops[i]))) {
				strcpy(c->op, ops[i]);
				rest += strlen(ops[i]);
				break;
			}
	}
	if (!c->op[0])
		return ts_fail(r, "%s(): expected = != >= <= > < before the result",
			       c->name);
	snprintf(c->res, sizeof(c->res), "%s", strip(rest));
	return 0;
}

static int compare(const char *op, long got, long want)
{
	if (!strcmp(op, "="))
		return got == want;
	if (!strcmp(op, "!="))
		return got != want;
	if (!strcmp(op, ">="))
		return got >= want;
	if (!strcmp(op, "<="))
		return got <= want;
	if (!strcmp(op, ">"))
		return got > want;
	return got < want;
}

/* A numeric result against the expectation. */
static int check_num(struct ts_run *r, const struct call *c, long got)
{
	char a[32], b[32];
	long want;

	if (parse_value(c->res, &want) < 0)
		return ts_fail(r, "%s(): bad expected result '%s'", c->name, c->res);
	if (!compare(c->op, got, want))
		return ts_fail(r, "%s() returned %s, expected %s %s", c->name,
			       errno_name(got, a), c->op, errno_name(want, b));
	return 0;
}

static int nargs(struct ts_run *r, const struct call *c, int lo, int hi)
{
	if (c->nargs < lo || c->nargs > hi)
		return ts_fail(r, "%s() takes %d..%d arguments", c->name, lo, hi);
	return 0;
}

/* ---- sockets by name --------------------------------------------------------- */

static struct ts_sock *sock_by_name(struct ts_run *r, const char *name)
{
	struct ts_sock *t = ts_sock_table(r);

	for (int i = 0; i < TS_MAX_SOCKS; i++)
		if (t[i].used && !strcmp(t[i].name, name))
			return &t[i];
	ts_fail(r, "no socket named '%s'", name);
	return NULL;
}

static struct ts_sock *sock_new(struct ts_run *r, const char *name, int sd)
{
	struct ts_sock *t = ts_sock_table(r);

	if (!isalpha((unsigned char)name[0]) || strlen(name) >= sizeof(t->name)) {
		ts_fail(r, "'%s' is not a socket name", name);
		return NULL;
	}
	for (int i = 0; i < TS_MAX_SOCKS; i++)
		if (t[i].used && !strcmp(t[i].name, name)) {
			ts_fail(r, "socket name '%s' in use", name);
			return NULL;
		}
	for (int i = 0; i < TS_MAX_SOCKS; i++)
		if (!t[i].used) {
			memset(&t[i], 0, sizeof(t[i]));
			t[i].used = 1;
			t[i].sd = sd;
			t[i].ctx = ts_cur_index(r);
			strcpy(t[i].name, name);
			return &t[i];
		}
	ts_fail(r, "too many sockets");
	return NULL;
}

/* ---- calls ---------------------------------------------------------------------- */

static int c_socket(struct ts_run *r, const struct call *c)
{
	int sd = ustack_socket(ts_stack(r), AF_INET, SOCK_STREAM, 0);

	if (nargs(r, c, 0, 0) < 0)
		return -1;
	if (sd < 0)
		return ts_fail(r, "socket() failed: %d", sd);
	return sock_new(r, c->res, sd) ? 0 : -1;
}

static int c_bind(struct ts_run *r, const struct call *c)
{
	struct ts_sock *s;
	struct sockaddr_in a;
	long port;

	if (nargs(r, c, 2, 2) < 0 || !(s = sock_by_name(r, c->args[0])) ||
	    parse_value(c->args[1], &port) < 0)
		return ts_fail(r, "bind(sock, port)");
	a = tb_sin(0, (uint16_t)port);
	if (!ts_cur(r)->lport)
		ts_cur(r)->lport = (uint16_t)port;
	return check_num(r, c, ustack_bind(ts_stack(r), s->sd,
					   (struct sockaddr *)&a, sizeof(a)));
}

static int c_listen(struct ts_run *r, const struct call *c)
{
	struct ts_sock *s;
	long bl;

	if (nargs(r, c, 2, 2) < 0 || !(s = sock_by_name(r, c->args[0])) ||
	    parse_value(c->args[1], &bl) < 0)
		return ts_fail(r, "listen(sock, backlog)");
	return check_num(r, c, ustack_listen(ts_stack(r), s->sd, (int)bl));
}

static int c_accept(struct ts_run *r, const struct call *c)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	struct ts_sock *s, *n;
	int sd, ci;

	if (nargs(r, c, 1, 1) < 0 || !(s = sock_by_name(r, c->args[0])))
		return -1;
	sd = ustack_accept(ts_stack(r), s->sd, (struct sockaddr *)&a, &al);
	if (c->res[0] == '-' || isdigit((unsigned char)c->res[0]))
		return check_num(r, c, sd);
	if (sd < 0) {
		char b[32];

		return ts_fail(r, "accept() returned %s, expected a connection",
			       errno_name(sd, b));
	}
	if (!(n = sock_new(r, c->res, sd)))
		return -1;
	if ((ci = ts_ctx_find(r, ntohs(a.sin_port))) < 0)
		return ts_fail(r, "accept(): a connection from port %u the script "
			       "never used", ntohs(a.sin_port));
	n->ctx = ci;
	n->rbase = ts_ctx_at(r, ci)->peer_syn_seq - ts_ctx_at(r, ci)->peer_isn;
	n->rbase_set = 1;
	return 0;
}

static int c_connect(struct ts_run *r, const struct call *c)
{
	struct sockaddr_in a, me;
	socklen_t ml = sizeof(me);
	struct ts_sock *s;
	long port;
	int rc, ci;

	if (nargs(r, c, 2, 2) < 0 || !(s = sock_by_name(r, c->args[0])) ||
	    parse_value(c->args[1], &port) < 0 || port <= 0 || port > 65535)
		return ts_fail(r, "connect(sock, port)");
	if ((ci = ts_ctx_select(r, (uint16_t)port)) < 0)
		return -1;
	s->ctx = ci;
	a = tb_sin(TB_PEER, (uint16_t)port);
	rc = ustack_connect(ts_stack(r), s->sd, (struct sockaddr *)&a, sizeof(a));
	if (ustack_getsockname(ts_stack(r), s->sd, (struct sockaddr *)&me, &ml) == 0 &&
	    me.sin_port)
		ts_cur(r)->lport = ntohs(me.sin_port);
	return check_num(r, c, rc);
}

static int c_write(struct ts_run *r, const struct call *c)
{
	struct ts_sock *s;
	uint8_t *buf;
	long n;
	ssize_t rc;
	int flags = 0;

	if (nargs(r, c, 2, 3) < 0 || !(s = sock_by_name(r, c->args[0])) ||
	    parse_value(c->args[1], &n) < 0 || n < 0 || n > (long)READ_MAX)
		return ts_fail(r, "write(sock, bytes[, MSG_MORE])");
	if (c->nargs == 3) {
		if (strcmp(c->args[2], "MSG_MORE"))
			return ts_fail(r, "write(sock, bytes[, MSG_MORE])");
		flags = USTACK_MSG_MORE;
	}
	if (!(buf = malloc((size_t)n + 1)))
		abort();
	for (long i = 0; i < n; i++)
		buf[i] = ts_stack_byte(s->woff + (uint32_t)i);
	rc = ustack_send(ts_stack(r), s->sd, buf, (size_t)n, flags);
	free(buf);
	if (rc > 0)
		s->woff += (uint32_t)rc;
	return check_num(r, c, (long)rc);
}

/* writev(s, N1, N2, ...): one ustack_writev() of pieces of those sizes
 * (the pattern runs on across them). */
static int c_writev(struct ts_run *r, const struct call *c)
{
	struct iovec iov[MAX_ARGS];
	struct ts_sock *s;
	uint8_t *buf;
	long n[MAX_ARGS], total = 0;
	int cnt = c->nargs - 1;
	ssize_t rc;

	if (nargs(r, c, 1, MAX_ARGS) < 0 || !(s = sock_by_name(r, c->args[0])))
		return ts_fail(r, "writev(sock, bytes, bytes...)");
	for (int i = 0; i < cnt; i++) {
		if (parse_value(c->args[i + 1], &n[i]) < 0 || n[i] < 0 ||
		    n[i] > (long)READ_MAX)
			return ts_fail(r, "writev(sock, bytes, bytes...)");
		total += n[i];
	}
	if (!(buf = malloc((size_t)total + 1)))
		abort();
	for (long i = 0; i < total; i++)
		buf[i] = ts_stack_byte(s->woff + (uint32_t)i);
	for (int i = 0, off = 0; i < cnt; off += (int)n[i], i++) {
		iov[i].iov_base = buf + off;
		iov[i].iov_len = (size_t)n[i];
	}
	rc = ustack_writev(ts_stack(r), s->sd, iov, cnt);
	free(buf);
	if (rc > 0)
		s->woff += (uint32_t)rc;
	return check_num(r, c, (long)rc);
}

static int c_read(struct ts_run *r, const struct call *c)
{
	struct ts_sock *s;
	struct ts_ctx *x;
	uint8_t *buf;
	long n;
	ssize_t rc;

	if (nargs(r, c, 2, 2) < 0 || !(s = sock_by_name(r, c->args[0])) ||
	    parse_value(c->args[1], &n) < 0 || n < 0 || n > (long)READ_MAX)
		return ts_fail(r, "read(sock, bytes)");
	x = ts_ctx_at(r, s->ctx);
	if (!s->rbase_set) {
		s->rbase = x->peer_syn_seq - x->peer_isn;
		s->rbase_set = 1;
	}
	if (!(buf = malloc((size_t)n + 1)))
		abort();
	rc = ustack_recv(ts_stack(r), s->sd, buf, (size_t)n, 0);
	for (ssize_t i = 0; i < rc; i++) {
		uint8_t want = ts_peer_byte(s->rbase + s->roff + (uint32_t)i);

		if (buf[i] != want) {
			uint8_t got = buf[i];

			free(buf);
			return ts_fail(r, "read(): byte %zd (stream offset %u) is 0x%02x, "
				       "the peer sent 0x%02x", i,
				       s->roff + (uint32_t)i, got, want);
		}
	}
	free(buf);
	if (rc > 0)
		s->roff += (uint32_t)rc;
	return check_num(r, c, (long)rc);
}

static int c_shutdown(struct ts_run *r, const struct call *c)
{
	struct ts_sock *s;
	int how;

	if (nargs(r, c, 2, 2) < 0 || !(s = sock_by_name(r, c->args[0])))
		return -1;
	if (!strcmp(c->args[1], "SHUT_RD"))
		how = SHUT_RD;
	else if (!strcmp(c->args[1], "SHUT_WR"))
		how = SHUT_WR;
	else if (!strcmp(c->args[1], "SHUT_RDWR"))
		how = SHUT_RDWR;
	else
		return ts_fail(r, "shutdown(sock, SHUT_RD|SHUT_WR|SHUT_RDWR)");
	return check_num(r, c, ustack_shutdown(ts_stack(r), s->sd, how));
}

static int c_close(struct ts_run *r, const struct call *c)
{
	struct ts_sock *s;
	int rc;

	if (nargs(r, c, 1, 1) < 0 || !(s = sock_by_name(r, c->args[0])))
		return -1;
	rc = ustack_close(ts_stack(r), s->sd);
	s->used = 0;
	return check_num(r, c, rc);
}

static const struct { const char *n; int level, name; } sockopts[] = {
	{"TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY},
	{"TCP_CORK", IPPROTO_TCP, TCP_CORK},
	{"TCP_QUICKACK", IPPROTO_TCP, TCP_QUICKACK},
	{"TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE},
	{"TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL},
	{"TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT},
	{"TCP_MAXSEG", IPPROTO_TCP, TCP_MAXSEG},
	{"TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT},
	{"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE},
	{"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF},
	{"SO_SNDBUF", SOL_SOCKET, SO_SNDBUF},
	{"SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR},
	{"SO_LINGER", SOL_SOCKET, SO_LINGER},
};

static int sockopt_of(const char *n, int *level, int *name)
{
	for (unsigned i = 0; i < sizeof(sockopts) / sizeof(sockopts[0]); i++)
		if (!strcmp(n, sockopts[i].n)) {
			*level = sockopts[i].level;
			*name = sockopts[i].name;
			return 0;
		}
	return -1;
}

static int c_setsockopt(struct ts_run *r, const struct call *c)
{
	struct ts_sock *s;
	int level, name, iv;
	long v, v2 = 0;

	if (nargs(r, c, 3, 4) < 0 || !(s = sock_by_name(r, c->args[0])) ||
	    sockopt_of(c->args[1], &level, &name) < 0 ||
	    parse_value(c->args[2], &v) < 0 ||
	    (c->nargs == 4 && parse_value(c->args[3], &v2) < 0))
		return ts_fail(r, "setsockopt(sock, OPTION, value[, linger])");
	if (name == SO_LINGER && level == SOL_SOCKET) {
		struct linger l = {.l_onoff = (int)v, .l_linger = (int)v2};

		return check_num(r, c, ustack_setsockopt(ts_stack(r), s->sd, level,
							 name, &l, sizeof(l)));
	}
	iv = (int)v;
	return check_num(r, c, ustack_setsockopt(ts_stack(r), s->sd, level, name,
						 &iv, sizeof(iv)));
}

static int c_getsockopt(struct ts_run *r, const struct call *c)
{
	struct ts_sock *s;
	int level, name, v = 0, rc;
	socklen_t l = sizeof(v);

	if (nargs(r, c, 2, 2) < 0 || !(s = sock_by_name(r, c->args[0])) ||
	    sockopt_of(c->args[1], &level, &name) < 0)
		return ts_fail(r, "getsockopt(sock, OPTION)");
	rc = ustack_getsockopt(ts_stack(r), s->sd, level, name, &v, &l);
	return check_num(r, c, rc < 0 ? rc : v);
}

static int c_so_error(struct ts_run *r, const struct call *c)
{
	struct ts_sock *s;
	int v = -1, rc;
	socklen_t l = sizeof(v);

	if (nargs(r, c, 1, 1) < 0 || !(s = sock_by_name(r, c->args[0])))
		return -1;
	rc = ustack_getsockopt(ts_stack(r), s->sd, SOL_SOCKET, SO_ERROR, &v, &l);
	if (rc < 0)
		return ts_fail(r, "getsockopt(SO_ERROR) failed: %d", rc);
	return check_num(r, c, v);
}

static int c_poll(struct ts_run *r, const struct call *c)
{
	struct ustack_pollfd p = {.os_fd = -1};
	struct ts_sock *s;
	short want;
	char a[80], b[80];

	if (nargs(r, c, 2, 2) < 0 || !(s = sock_by_name(r, c->args[0])) ||
	    parse_poll(c->args[1], &p.events) < 0 || parse_poll(c->res, &want) < 0)
		return ts_fail(r, "poll(sock, POLLIN|POLLOUT...) = POLL...|0");
	p.sd = s->sd;
	if (ustack_poll(ts_stack(r), &p, 1, 0) < 0)
		return ts_fail(r, "ustack_poll failed");
	if (strcmp(c->op, "=") || p.revents != want)
		return ts_fail(r, "poll() revents %s, expected %s", poll_str(p.revents, a),
			       poll_str(want, b));
	return 0;
}

/* The connection table entry of a context's 4-tuple (NULL: none). */
static int conn_of(struct ts_run *r, const struct ts_ctx *x,
		   struct ustack_conn_info *out)
{
	struct ustack_conn_info tab[256];
	int n = ustack_conn_list(ts_stack(r), tab, 256);

	for (int i = 0; i < n && i < 256; i++)
		if (tab[i].proto == IPPROTO_TCP && tab[i].lport == x->lport &&
		    tab[i].rport == x->pport && tab[i].raddr == TB_PEER) {
			*out = tab[i];
			return 1;
		}
	return 0;
}

static const struct ts_ctx *ctx_arg(struct ts_run *r, const struct call *c)
{
	struct ts_sock *s;

	if (c->nargs == 0)
		return ts_cur(r);
	if (!(s = sock_by_name(r, c->args[c->nargs - 1])))
		return NULL;
	return ts_ctx_at(r, s->ctx);
}

static int c_state(struct ts_run *r, const struct call *c)
{
	struct ustack_conn_info ci;
	const struct ts_ctx *x;
	const char *got = "none";

	if (nargs(r, c, 0, 1) < 0 || !(x = ctx_arg(r, c)))
		return -1;
	if (conn_of(r, x, &ci))
		got = ci.state >= 0 && ci.state < USTACK_TCP__NSTATES ? states[ci.state]
								     : "?";
	if (!strcmp(c->res, "CLOSED") || !strcmp(c->res, "none"))
		return strcmp(got, "none") ? ts_fail(r, "state() is %s, expected none "
						     "(no connection)", got) : 0;
	if (strcmp(c->op, "=") || strcmp(got, c->res))
		return ts_fail(r, "state() is %s, expected %s", got, c->res);
	return 0;
}

static int c_conns(struct ts_run *r, const struct call *c)
{
	struct ustack_conn_info tab[256];
	int n, k = 0;

	if (nargs(r, c, 0, 0) < 0)
		return -1;
	n = ustack_conn_list(ts_stack(r), tab, 256);
	for (int i = 0; i < n && i < 256; i++)
		k += tab[i].proto == IPPROTO_TCP;
	return check_num(r, c, k);
}

static int c_stat(struct ts_run *r, const struct call *c)
{
	if (nargs(r, c, 1, 1) < 0)
		return -1;
	for (int i = 0; i < USTACK_STAT__COUNT; i++)
		if (!strcmp(ustack_stat_name((enum ustack_stat_id)i), c->args[0]))
			return check_num(r, c, (long)ustack_stat(ts_stack(r),
								 (enum ustack_stat_id)i));
	return ts_fail(r, "stat(): no counter %s", c->args[0]);
}

static int c_info(struct ts_run *r, const struct call *c)
{
	struct ustack_conn_info ci;
	const struct ts_ctx *x;
	const char *f = c->args[0];
	long v;

	if (nargs(r, c, 1, 2) < 0)
		return -1;
	x = c->nargs == 2 ? ctx_arg(r, c) : ts_cur(r);
	if (!x)
		return -1;
	if (!conn_of(r, x, &ci))
		return ts_fail(r, "info(): no connection");
	if (!strcmp(f, "rto_us")) v = ci.rto_us;
	else if (!strcmp(f, "srtt_us")) v = ci.srtt_us;
	else if (!strcmp(f, "cwnd")) v = ci.cwnd;
	else if (!strcmp(f, "ssthresh")) v = ci.ssthresh;
	else if (!strcmp(f, "snd_wnd")) v = ci.snd_wnd;
	else if (!strcmp(f, "rcv_wnd")) v = ci.rcv_wnd;
	else if (!strcmp(f, "mss")) v = ci.mss;
	else if (!strcmp(f, "retransmits")) v = ci.retransmits;
	else if (!strcmp(f, "snd_queued")) v = ci.snd_queued;
	else if (!strcmp(f, "rcv_queued")) v = ci.rcv_queued;
	else
		return ts_fail(r, "info(): rto_us srtt_us cwnd ssthresh snd_wnd "
			       "rcv_wnd mss retransmits snd_queued rcv_queued");
	return check_num(r, c, v);
}

static int c_iss_advance(struct ts_run *r, const struct call *c)
{
	const struct ts_ctx *x = ts_cur(r);

	if (nargs(r, c, 0, 0) < 0)
		return -1;
	if (!x->have_prev)
		return ts_fail(r, "iss_advance(): only one incarnation seen");
	return check_num(r, c, (int32_t)(x->iss - x->prev_iss_end));
}

static const struct {
	const char *name;
	int (*fn)(struct ts_run *r, const struct call *c);
} calls[] = {
	{"socket", c_socket}, {"bind", c_bind}, {"listen", c_listen},
	{"accept", c_accept}, {"connect", c_connect}, {"write", c_write},
	{"writev", c_writev},
	{"read", c_read}, {"shutdown", c_shutdown}, {"close", c_close},
	{"setsockopt", c_setsockopt}, {"getsockopt", c_getsockopt},
	{"so_error", c_so_error}, {"poll", c_poll}, {"state", c_state},
	{"conns", c_conns}, {"stat", c_stat}, {"info", c_info},
	{"iss_advance", c_iss_advance},
};

int ts_call(struct ts_run *r, const char *text)
{
	struct call c;

	if (parse_call(r, text, &c) < 0)
		return -1;
	for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (!strcmp(c.name, calls[i].name))
			return calls[i].fn(r, &c);
	return ts_fail(r, "unknown call %s()", c.name);
}
