/*
 * trace.c - read the state transitions of one connection from a --trace
 * log. ustack logs each transition (stack/proto/tcp_fsm.c,
 * tcp_set_state) as
 *
 *   ustack 12.345678 INFO: 10.0.0.2:7 10.0.0.1:40000 ESTABLISHED -> CLOSE_WAIT (FIN)
 *
 * local (ustack's) address first; the time is the stack's clock, the
 * same clock that stamps its pcap. Lines for other connections, and any
 * other line, are skipped; a line without the "ustack SECONDS" prefix is
 * taken with time 0 (placed by order only).
 *
 * May touch: the trace file (read) and the connection's list of
 * transitions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/socket.h>
#include <ustack/ustack.h>

#include "draw.h"

#define TRACE_MAX_TRANSITIONS 100000

int state_from_name(const char *s)
{
	for (int i = 0; i < USTACK_TCP__NSTATES; i++)
		if (strcmp(s, ustack_tcp_state_name(i)) == 0)
			return i;
	return -1;
}

static int parse_ep(const char *s, uint32_t *addr, uint16_t *port)
{
	char ip[32];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long p;

	if (!colon || (size_t)(colon - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = 0;
	p = strtoul(colon + 1, &end, 10);
	if (*end || p > 65535 || ustack_parse_ip4(ip, addr) < 0)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* "ustack 12.345678 ..." -> microseconds, or 0. */
static uint64_t parse_time(const char *line)
{
	unsigned long long sec, usec;
	int n = 0;

	if (sscanf(line, "ustack %llu.%6llu%n", &sec, &usec, &n) == 2 && n > 0)
		return sec * 1000000ull + usec;
	return 0;
}

/* Split "L R FROM -> TO (cause)" out of a line; 0 when it is one. */
static int parse_line(const char *line, struct transition *t, uint32_t *la,
		      uint16_t *lp, uint32_t *ra, uint16_t *rp)
{
	char tok[8][64];
	int n = 0;
	const char *p = line;

	/* The last seven blank-separated words of the part before any
	 * "(cause)" are: L R FROM -> TO; keep a sliding window. */
	while (*p) {
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		len = strcspn(p, " \t\r\n");
		if (*p == '(') {
			size_t c = strcspn(p + 1, ")");

			snprintf(t->cause, sizeof(t->cause), "%.*s", (int)c, p + 1);
			break;
		}
		if (n == 5) {
			memmove(tok[0], tok[1], sizeof(tok[0]) * 4);
			n = 4;
		}
		snprintf(tok[n++], sizeof(tok[0]), "%.*s", (int)len, p);
		p += len;
	}
	if (n != 5 || strcmp(tok[3], "->") != 0)
		return -1;
	if ((t->from = state_from_name(tok[2])) < 0 ||
	    (t->to = state_from_name(tok[4])) < 0 ||
	    parse_ep(tok[0], la, lp) < 0 || parse_ep(tok[1], ra, rp) < 0)
		return -1;
	t->t_us = parse_time(line);
	return 0;
}

static int trace_add(struct trace *tr, const struct transition *t)
{
	if (tr->n >= TRACE_MAX_TRANSITIONS)
		return -ENOBUFS;
	if (tr->n == tr->cap) {
		size_t n = tr->cap ? tr->cap * 2 : 32;
		struct transition *v = realloc(tr->v, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		tr->v = v;
		tr->cap = n;
	}
	tr->v[tr->n++] = *t;
	return 0;
}

/*
 * The transitions of connection c: lines whose tuple is c's (either way
 * round: the first address says which endpoint is ustack), from the
 * first frame of c on (earlier lines belong to an older incarnation of
 * the same tuple), up to the next incarnation's first transition.
 */
int trace_read(const char *path, const struct conn *c, struct trace *tr,
	       char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	uint64_t t0 = c->n ? c->v[0].t_us : 0;

	memset(tr, 0, sizeof(*tr));
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		struct transition t;
		uint32_t la, ra;
		uint16_t lp, rp;

		memset(&t, 0, sizeof(t));
		if (!strstr(line, " -> ") ||
		    parse_line(line, &t, &la, &lp, &ra, &rp) < 0)
			continue;
		if (!(la == c->addr[0] && lp == c->port[0] &&
		      ra == c->addr[1] && rp == c->port[1]) &&
		    !(la == c->addr[1] && lp == c->port[1] &&
		      ra == c->addr[0] && rp == c->port[0]))
			continue;
		/* Before the capture's connection began: an older one. */
		if (t.t_us && t0 && t.t_us < t0)
			continue;
		/* Out of CLOSED/LISTEN after this one closed: a later one. */
		if (tr->n && t.t_us && t0 && t.t_us > t0 &&
		    (t.from == USTACK_TCP_CLOSED || t.from == USTACK_TCP_LISTEN) &&
		    tr->v[tr->n - 1].to == USTACK_TCP_CLOSED)
			break;
		tr->laddr = la;
		tr->lport = lp;
		tr->raddr = ra;
		tr->rport = rp;
		if (trace_add(tr, &t) < 0) {
			snprintf(err, errlen, "%s: too many transitions", path);
			fclose(f);
			trace_free(tr);
			return -ENOBUFS;
		}
	}
	fclose(f);
	return 0;
}

void trace_free(struct trace *tr)
{
	free(tr->v);
	memset(tr, 0, sizeof(*tr));
}
