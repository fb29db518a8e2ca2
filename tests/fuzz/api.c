/*
 * api.c - the socket-API fuzz target: one input is a program of steps on
 * a bare stack (FZ_SETUP_BARE: no sockets, the peer's ARP entry known).
 * A step is an op byte and its argument bytes (missing bytes read as 0):
 *
 *   0 socket  1 bind  2 listen  3 connect  4 accept  5 send/sendto
 *   6 recv/recvfrom  7 shutdown  8 close  9 setsockopt  10 get*, poll
 *   11 a frame: length byte, then fz_build bytes (TCP on the tracked
 *      connections, UDP, ICMP errors, ARP, raw)
 *   12 time step (targets.c's dt code)
 *   13 the peer opens a connection (SYN) to one of the ports
 *   14 the peer sends an in-sequence segment on a tracked connection
 *      (ACK, data, FIN, RST, SYN-ACK answer, zero window)
 *   15 a UDP datagram from the peer
 *
 * Sockets live in a table of API_SOCKS slots, ports and addresses come
 * from small sets so calls collide. After every step the stack's own
 * tables are checked (check_invariants: sockets, TCBs, hashes, buffer
 * accounting against the socket limits, pool); at the end every socket is
 * closed, the clock runs three hours past every timer, and nothing may be
 * left: no socket, no TCB, no packet buffer, no timer.
 *
 * Test code: it reads the stack's internal tables (core/stack.h,
 * proto/tcp_int.h, sock/sock.h) only to check them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <ustack/socket.h>

#include "core/stack.h"
#include "proto/tcp_int.h"
#include "sock/sock.h"

#include "fuzz/harness.h"

#define API_SOCKS 12
#define API_STEPS 512
#define API_BUF 70000

struct api {
	struct fz *z;
	const uint8_t *in;
	size_t n, off;
	int sd[API_SOCKS];         /* -1: free slot */
	uint32_t max_sndbuf;       /* largest SO_SNDBUF ever set (or default) */
	uint8_t buf[API_BUF];
	uint8_t frame[FZ_FRAME_MAX];
};

static const uint16_t ports[8] = {0, 7, 80, 5000, 9000, 9001, 1080, 40000};
static const uint32_t lens[8] = {0, 1, 100, 1000, 1460, 5000, 20000, 70000};

__attribute__((noreturn)) static void broken(const char *what, long a, long b)
{
	fprintf(stderr, "fuzz harness: invariant broken: %s (%ld, %ld)\n",
		what, a, b);
	abort();
}

static uint8_t next(struct api *a)
{
	return a->off < a->n ? a->in[a->off++] : 0;
}

static int *slot(struct api *a)
{
	return &a->sd[next(a) % API_SOCKS];
}

static void keep(struct api *a, int sd)
{
	if (sd < 0)
		return;
	for (int i = 0; i < API_SOCKS; i++)
		if (a->sd[i] < 0) {
			a->sd[i] = sd;
			return;
		}
	ustack_close(a->z->st, sd);
}

static socklen_t addr_of(struct api *a, struct sockaddr_in *sin, int peer)
{
	static const uint32_t addrs[8] = {0, FZ_STACK_IP, FZ_PEER_IP,
					  0x0a00004du, 0x08080808u,
					  0x0a0000ffu, 0x7f000001u, FZ_PEER_IP};
	uint8_t b = next(a);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = (b & 0x40) ? AF_INET6 : AF_INET;
	sin->sin_port = htons(ports[b & 7]);
	sin->sin_addr.s_addr = htonl(addrs[peer ? ((b >> 3) & 7) ^ 2 :
					     (b >> 3) & 7]);
	return (b & 0x80) ? 4 : sizeof(*sin);
}

/* ---- the invariants -------------------------------------------------- */

static void check_tcb(struct ustack *st, const struct tcp_conn *c,
		      uint32_t max_sndbuf)
{
	if (c->state >= USTACK_TCP__NSTATES)
		broken("TCP state out of range", c->state, 0);
	if (c->sk && (c->sk->pcb != c || sock_get(st, c->sk->sd) != c->sk))
		broken("TCB's socket does not point back", c->sk->sd, 0);
	if (c->sk && c->orphan)
		broken("orphaned TCB with a socket", c->sk->sd, 0);
	if (c->state == USTACK_TCP_LISTEN && (c->hashed || !c->lhashed))
		broken("listener not in the listen hash only", c->hashed,
		       c->lhashed);
	if (c->state > USTACK_TCP_LISTEN && !c->hashed)
		broken("TCB in a connected state outside the 4-tuple table",
		       c->state, c->lport);
	if (c->in_tw != (c->state == USTACK_TCP_TIME_WAIT))
		broken("TIME_WAIT list and state disagree", c->in_tw, c->state);
	if (c->sbuf.len > c->sbuf.size || c->rbuf.len > c->rbuf.size)
		broken("ring holds more than its size", c->sbuf.len, c->rbuf.len);
	/* SO_SNDBUF may shrink below what is queued (queued data stays);
	 * no queue is longer than the largest SO_SNDBUF ever set. */
	if (c->sbuf.len > c->snd_cap && c->sbuf.len > max_sndbuf)
		broken("send queue above SO_SNDBUF", c->sbuf.len, c->snd_cap);
	/* SO_RCVBUF may shrink below what is queued (a window once offered
	 * is not taken back, RFC 9293 3.8.6.2.2); data beyond the right
	 * edge offered never is. */
	if (c->rbuf.len > c->rcv_cap && c->state >= USTACK_TCP_ESTABLISHED &&
	    seq_gt(c->rcv_nxt, c->rcv_adv + 1))
		broken("data taken beyond the offered window",
		       (long)(c->rcv_nxt - c->rcv_adv), c->rcv_cap);
	if (c->nooo > TCP_OOO_MAX_RANGES)
		broken("out-of-order ranges", c->nooo, 0);
	if (c->state >= USTACK_TCP_ESTABLISHED &&
	    (seq_gt(c->snd_una, c->snd_nxt) || seq_gt(c->snd_nxt, c->snd_max)))
		broken("snd_una <= snd_nxt <= snd_max", (long)(c->snd_nxt -
		       c->snd_una), (long)(c->snd_max - c->snd_nxt));
	if (c->state >= USTACK_TCP_ESTABLISHED &&
	    seq_gt(c->snd_max, tcp_data_end(c) + 2))
		broken("sent beyond the queued data and FIN",
		       (long)(c->snd_max - tcp_data_end(c)), 0);
}

static void check_invariants(struct api *a)
{
	struct ustack *st = a->z->st;
	uint32_t nsock = 0, ntcb = 0, nhashed = 0;

	for (uint32_t i = 0; i < st->socks.size; i++) {
		struct sock *sk = st->socks.tab[i];

		if (!sk)
			continue;
		nsock++;
		if (sk->sd != (int)i)
			broken("socket slot and sd differ", sk->sd, (long)i);
		if (sk->type == SOCK_STREAM && sk->pcb &&
		    ((struct tcp_conn *)sk->pcb)->sk != sk)
			broken("socket's TCB does not point back", sk->sd, 0);
		if (sk->type == SOCK_DGRAM && sk->rcvq.bytes > sk->opt.rcvbuf +
		    65536 + SOCK_DGRAM_OVERHEAD)
			broken("datagram queue above SO_RCVBUF",
			       (long)sk->rcvq.bytes, sk->opt.rcvbuf);
	}
	if (nsock != st->socks.count || nsock > st->cfg.max_sockets)
		broken("socket count", nsock, st->socks.count);
	for (const struct tcp_conn *c = st->tcp.all; c; c = c->anext) {
		if (++ntcb > st->tcp.ntcb)
			broken("TCB list longer than its count", ntcb,
			       st->tcp.ntcb);
		nhashed += c->hashed;
		check_tcb(st, c, a->max_sndbuf);
	}
	/* TIME_WAIT records (tcp_tw.c) count as control blocks, hashed. */
	if (ntcb + st->tcp.tw.n != st->tcp.ntcb ||
	    nhashed + st->tcp.tw.n != st->tcp.nconns ||
	    st->tcp.nconns > st->cfg.tcp_max_conns)
		broken("TCB counts", ntcb, nhashed);
	if (st->pool.bytes > st->pool.max_bytes)
		broken("packet pool above its bound", (long)st->pool.bytes,
		       (long)st->pool.max_bytes);
}

/* Everything closed and every timer run out: nothing may be left. */
static void check_empty(struct ustack *st)
{
	if (st->socks.count)
		broken("sockets left", st->socks.count, 0);
	if (st->tcp.ntcb || st->tcp.nconns)
		broken("TCBs left after every timer ran out", st->tcp.ntcb,
		       st->tcp.all ? st->tcp.all->state : -1);
	if (ustack_pkb_in_use(st))
		broken("packet buffers leaked", ustack_pkb_in_use(st), 0);
	if (ustack_next_deadline(st) != USTACK_TIME_NEVER)
		broken("a timer still armed after every timer ran out",
		       (long)(ustack_next_deadline(st) - st->now), 0);
}

/* ---- the steps ------------------------------------------------------- */

static void op_socket(struct api *a)
{
	static const int protos[4] = {0, IPPROTO_TCP, IPPROTO_ICMP, 99};
	uint8_t b = next(a);
	int type = (b & 1) ? SOCK_DGRAM : SOCK_STREAM;
	int proto = protos[(b >> 1) & 3];

	if (proto == IPPROTO_TCP && type == SOCK_DGRAM)
		proto = IPPROTO_UDP;
	keep(a, ustack_socket(a->z->st, (b & 0x80) ? AF_UNIX : AF_INET,
			      type | ((b & 0x40) ? SOCK_NONBLOCK : 0), proto));
}

static void op_setsockopt(struct api *a, int sd)
{
	static const int opts[][2] = {
		{SOL_SOCKET, SO_REUSEADDR}, {SOL_SOCKET, SO_KEEPALIVE},
		{SOL_SOCKET, SO_LINGER}, {SOL_SOCKET, SO_RCVBUF},
		{SOL_SOCKET, SO_SNDBUF}, {SOL_SOCKET, SO_RCVTIMEO},
		{IPPROTO_TCP, TCP_NODELAY}, {IPPROTO_TCP, TCP_KEEPIDLE},
		{IPPROTO_TCP, TCP_KEEPINTVL}, {IPPROTO_TCP, TCP_KEEPCNT},
		{SOL_SOCKET, SO_BROADCAST}, {IPPROTO_IP, IP_RECVTTL},
		{IPPROTO_TCP, TCP_MAXSEG}, {SOL_SOCKET, SO_ERROR},
		{SOL_SOCKET, SO_SNDTIMEO}, {SOL_SOCKET, 9999},
	};
	uint8_t b = next(a);
	int v = (int)((uint32_t)next(a) << 8 | next(a)) * ((b & 0x80) ? 256 : 1);
	struct linger l = {v & 1, v >> 1};
	struct timeval tv = {v & 7, v};
	const void *p = &v;
	socklen_t len = sizeof(v);
	int lv = opts[b & 15][0], on = opts[b & 15][1];

	if (lv == SOL_SOCKET && on == SO_LINGER)
		p = &l, len = sizeof(l);
	if (lv == SOL_SOCKET && (on == SO_RCVTIMEO || on == SO_SNDTIMEO))
		p = &tv, len = sizeof(tv);
	if (b & 0x40)
		len = 2;
	if (ustack_setsockopt(a->z->st, sd, lv, on, p, len) == 0 &&
	    lv == SOL_SOCKET && on == SO_SNDBUF && (uint32_t)v > a->max_sndbuf)
		a->max_sndbuf = (uint32_t)v;
}

static void op_get(struct api *a, int sd)
{
	struct ustack_pollfd pf[API_SOCKS];
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int v, b = next(a);
	socklen_t vl = sizeof(v);

	switch (b & 3) {
	case 0:
		ustack_getsockname(a->z->st, sd, (struct sockaddr *)&sin, &sl);
		break;
	case 1:
		ustack_getpeername(a->z->st, sd, (struct sockaddr *)&sin, &sl);
		break;
	case 2:
		ustack_getsockopt(a->z->st, sd, (b & 4) ? IPPROTO_TCP :
				  SOL_SOCKET, (b >> 3) & 15, &v, &vl);
		break;
	default:
		for (int i = 0; i < API_SOCKS; i++)
			pf[i] = (struct ustack_pollfd){a->sd[i], -1,
						       POLLIN | POLLOUT, 0};
		ustack_poll(a->z->st, pf, API_SOCKS, 0);
	}
}

static void op_send(struct api *a, int sd, int dgram_to)
{
	static const int flags[8] = {0, MSG_DONTWAIT, MSG_MORE, MSG_OOB,
				     MSG_NOSIGNAL, MSG_EOR, 0, MSG_MORE};
	struct sockaddr_in sin;
	uint8_t b = next(a);
	size_t len = lens[b & 7];
	socklen_t sl;

	memset(a->buf, b, len);
	if (dgram_to) {
		sl = addr_of(a, &sin, 1);
		ustack_sendto(a->z->st, sd, a->buf, len, flags[(b >> 3) & 7],
			      (struct sockaddr *)&sin, sl);
	} else {
		ustack_send(a->z->st, sd, a->buf, len, flags[(b >> 3) & 7]);
	}
}

static void op_recv(struct api *a, int sd)
{
	static const int flags[8] = {0, MSG_PEEK, MSG_WAITALL, MSG_TRUNC,
				     MSG_DONTWAIT, MSG_OOB, 0, MSG_PEEK};
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	uint8_t b = next(a);

	ustack_recvfrom(a->z->st, sd, a->buf, lens[b & 7], flags[(b >> 3) & 7],
			(b & 0x40) ? (struct sockaddr *)&sin : NULL,
			(b & 0x40) ? &sl : NULL);
}

static void op_frame(struct api *a)
{
	size_t rl = next(a), len;
	uint8_t dt = next(a);

	if (rl > a->n - a->off)
		rl = a->n - a->off;
	len = fz_build(a->z, a->in + a->off, rl, a->frame, FZ_FRAME_MAX);
	a->off += rl;
	if (len && (dt & 0x80))
		fz_fix_checksums(a->frame, len);
	if (len)
		fz_input(a->z, a->frame, len);
}

static void op_peer_segment(struct api *a)
{
	static const uint8_t flags[8] = {0x10, 0x18, 0x11, 0x04, 0x12, 0x10,
					 0x19, 0x14};
	struct fz *z = a->z;
	uint8_t c = next(a), b = next(a);
	size_t len = (b & 0x30) == 0x30 ? 1400 : (size_t)(b & 0x30) * 8;

	if (!z->nconns)
		return;
	memset(a->buf, 'p', len);
	fz_conn_send(z, c % z->nconns, flags[b & 7], (b & 8) ? 0 :
		     (b & 0x40) ? 512 : 65535, a->buf, (flags[b & 7] & 0x04) ?
		     0 : len);
}

static void op_udp_in(struct api *a)
{
	uint8_t in[5 + 64] = {3}, b = next(a);
	size_t len;

	in[1] = (uint8_t)(ports[b & 7] >> 8);
	in[2] = (uint8_t)ports[b & 7];
	in[3] = 0x9c;                   /* from port 40000 + ... */
	in[4] = (uint8_t)(0x40 + (b >> 5));
	len = fz_build(a->z, in, 5 + (size_t)(b & 0x18) * 2, a->frame,
		       FZ_FRAME_MAX);
	if (len)
		fz_input(a->z, a->frame, len);
}

static ustack_time_t dt_of(uint8_t dt)
{
	dt &= 0x7f;
	if (dt < 64)
		return USTACK_MS(dt);
	if (dt < 96)
		return USTACK_MS((dt - 63) * 64);
	return USTACK_SEC((dt - 95) * 4);
}

static void step(struct api *a, uint8_t op)
{
	struct ustack *st = a->z->st;
	struct sockaddr_in sin;
	socklen_t sl;
	int *s, b;

	switch (op & 15) {
	case 0:
		op_socket(a);
		break;
	case 1:
		s = slot(a);
		sl = addr_of(a, &sin, 0);
		ustack_bind(st, *s, (struct sockaddr *)&sin, sl);
		break;
	case 2:
		s = slot(a);
		ustack_listen(st, *s, (int8_t)next(a));
		break;
	case 3:
		s = slot(a);
		sl = addr_of(a, &sin, 1);
		ustack_connect(st, *s, (struct sockaddr *)&sin, sl);
		break;
	case 4:
		s = slot(a);
		sl = sizeof(sin);
		keep(a, ustack_accept(st, *s, (op & 0x10) ?
				      (struct sockaddr *)&sin : NULL,
				      (op & 0x10) ? &sl : NULL));
		break;
	case 5:
		s = slot(a);
		op_send(a, *s, op & 0x10);
		break;
	case 6:
		op_recv(a, *slot(a));
		break;
	case 7:
		s = slot(a);
		ustack_shutdown(st, *s, next(a) & 3);
		break;
	case 8:
		s = slot(a);
		ustack_close(st, *s);
		if (!(op & 0x10))
			*s = -1;        /* else: a stale descriptor is kept */
		break;
	case 9:
		op_setsockopt(a, *slot(a));
		break;
	case 10:
		op_get(a, *slot(a));
		break;
	case 11:
		op_frame(a);
		break;
	case 12:
		fz_advance(a->z, dt_of(next(a)));
		break;
	case 13:
		b = next(a);
		fz_conn_open(a->z, ports[1 + b % 7], (uint16_t)(40000 + (b >> 3)),
			     op & 0x10);
		break;
	case 14:
		op_peer_segment(a);
		break;
	default:
		op_udp_in(a);
	}
	ustack_run_timers(st, a->z->now);
}

/* USTACK_FUZZ_TRACE set: each step and the connections after it, to
 * read what a saved input does. */
static void print_step(struct api *a, uint8_t op)
{
	struct ustack_conn_info v[32];
	int n = ustack_conn_list(a->z->st, v, 32);

	fprintf(stderr, "op %u at %llu us, frames out %llu:", op & 15,
		(unsigned long long)a->z->now,
		(unsigned long long)a->z->frames_out);
	for (int i = 0; i < n && i < 32; i++)
		if (v[i].proto == IPPROTO_TCP)
			fprintf(stderr, " [sd %d %u-%u %s]", v[i].sd, v[i].lport,
				v[i].rport, ustack_tcp_state_name(v[i].state));
	fprintf(stderr, "\n");
}

int fz_api_one(const uint8_t *data, size_t size)
{
	struct api *a = malloc(sizeof(*a));
	struct fz *z = malloc(sizeof(*z));
	int trace;

	if (!a || !z)
		abort();
	fz_new(z, FZ_SETUP_BARE);
	a->z = z;
	a->in = data;
	a->n = size;
	a->off = 0;
	a->max_sndbuf = ustack_get_config(z->st)->tcp_sndbuf;
	for (int i = 0; i < API_SOCKS; i++)
		a->sd[i] = -1;
	trace = getenv("USTACK_FUZZ_TRACE") != NULL;
	for (int n = 0; a->off < a->n && n < API_STEPS; n++) {
		uint8_t op = next(a);

		step(a, op);
		if (trace)
			print_step(a, op);
		check_invariants(a);
	}
	for (int i = 0; i < API_SOCKS; i++)
		if (a->sd[i] >= 0)
			ustack_close(z->st, a->sd[i]);
	check_invariants(a);
	fz_advance(z, USTACK_SEC(3 * 3600));
	check_invariants(a);
	check_empty(z->st);
	fz_free(z);
	free(z);
	free(a);
	return 0;
}
