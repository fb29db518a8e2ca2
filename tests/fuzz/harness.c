/*
 * harness.c - the fuzz targets' stack, its set-up and the input decoding
 * (see harness.h). Test code: uses the public API plus its own frame
 * builders; the stack under test is reached only through ustack_input,
 * the timers and the socket calls.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/dev.h>
#include <ustack/socket.h>

#include "fuzz/harness.h"

const uint8_t FZ_STACK_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
const uint8_t FZ_PEER_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

#define FZ_START USTACK_SEC(1)
#define FZ_STEPS_MAX 100000     /* timer firings per advance: more is a storm */
#define FZ_BUF 65536

/* ---- checksums and byte helpers ---------------------------------------- */

static uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t ld32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void st32(uint8_t *p, uint32_t v)
{
	st16(p, (uint16_t)(v >> 16));
	st16(p + 2, (uint16_t)v);
}

static uint32_t sum_bytes(uint32_t s, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		s += ld16(p);
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Checksum over the pseudo header of ip and n bytes of l4. */
static uint16_t l4_sum(const uint8_t *ip, const uint8_t *l4, size_t n)
{
	uint32_t s = sum_bytes(0, ip + 12, 8) + ip[9] + (uint32_t)n;

	return fold(sum_bytes(s, l4, n));
}

/* ---- the sink device: checks every frame the stack sends ---------------- */

#define FZ_RXQ 64   /* frames of one device read batch (fz_queue) */

struct fz_dev {
	struct ustack_dev base;
	struct fz *z;
	uint8_t *rxq[FZ_RXQ];   /* fz_queue'd frames, received in order */
	size_t rxlen[FZ_RXQ];
	int rxn, rxhead;
};

__attribute__((noreturn)) static void bad_output(const uint8_t *f, size_t len,
						  const char *why)
{
	fprintf(stderr, "fuzz harness: the stack sent a malformed frame (%s), "
		"%zu bytes:", why, len);
	for (size_t i = 0; i < len && i < 64; i++)
		fprintf(stderr, " %02x", f[i]);
	fprintf(stderr, "\n");
	abort();
}

/*
 * Known findings not fixed yet, ignored only when USTACK_FUZZ_SKIP_KNOWN is
 * set (exploratory runs: tests/fuzz/run.sh with FUZZ_SKIP_KNOWN=1), so the
 * fuzzer can look past them. Each one also has a failing input in
 * tests/fuzz/regressions/. Remove an entry once its bug is fixed.
 */
static int known_finding(const uint8_t *ip, const uint8_t *l4, uint32_t n)
{
	const char *skip = getenv("USTACK_FUZZ_SKIP_KNOWN");

	(void)ip, (void)l4, (void)n;
	if (!skip || !*skip)
		return 0;
	return 0; /* none known now */
}

static void check_ip4(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *l4;
	uint32_t ihl, tot, frag, n;

	if (len < 34)
		bad_output(f, len, "short IPv4");
	ihl = (uint32_t)(ip[0] & 15) * 4;
	tot = ld16(ip + 2);
	frag = ld16(ip + 6);
	if (ip[0] >> 4 != 4 || ihl < 20 || tot < ihl || 14 + tot > len)
		bad_output(f, len, "IPv4 lengths");
	if (fold(sum_bytes(0, ip, ihl)) != 0)
		bad_output(f, len, "IPv4 header checksum");
	if (frag & 0x3fff)
		return; /* a fragment: transport checksum spans fragments */
	l4 = ip + ihl;
	n = tot - ihl;
	if (ip[9] == 6 && (n < 20 || (uint32_t)(l4[12] >> 4) * 4 > n ||
			   l4_sum(ip, l4, n) != 0))
		bad_output(f, len, "TCP header or checksum");
	if (ip[9] == 17 && (n < 8 || ld16(l4 + 4) != n ||
			    (ld16(l4 + 6) && l4_sum(ip, l4, n) != 0)))
		bad_output(f, len, "UDP length or checksum");
	if (ip[9] == 1 && (n < 8 || fold(sum_bytes(0, l4, n)) != 0) &&
	    !known_finding(ip, l4, n))
		bad_output(f, len, "ICMP checksum");
}

/* z->track: the stack's segment (z->last_*) creates or moves the peer's
 * view of its connection, so the API target's peer can answer
 * connections the fuzzer opened. A full table reuses a slot. */
static void conn_track(struct fz *z, int has_ts)
{
	struct fz_conn *c = NULL;
	int i;

	for (i = 0; i < z->nconns; i++)
		if (z->conns[i].lport == z->last_sport &&
		    z->conns[i].pport == z->last_dport)
			c = &z->conns[i];
	if (!c) {
		if (z->last_flags & 0x04)
			return;             /* a RST opens nothing */
		i = z->nconns < FZ_MAX_CONNS ? z->nconns++ :
		    (z->last_sport ^ z->last_dport) % FZ_MAX_CONNS;
		c = &z->conns[i];
		c->state = "tracked";
		c->lport = z->last_sport;
		c->pport = z->last_dport;
		c->ts = has_ts;
		c->rcv_nxt = (z->last_flags & 0x10) ? z->last_ack :
			     1000000u * (uint32_t)(i + 1);
		c->snd_nxt = z->last_end;
		return;
	}
	if ((z->last_flags & 0x02) || (int32_t)(z->last_end - c->snd_nxt) > 0)
		c->snd_nxt = z->last_end;
	if (z->last_flags & 0x02)
		c->ts = has_ts;
}

/* Remember the stack's last TCP segment to the peer (set-up needs its
 * sequence numbers). */
static void track_tcp(struct fz *z, const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *t;
	uint32_t ihl = (uint32_t)(ip[0] & 15) * 4, n;
	int has_ts = 0;

	if (ip[9] != 6 || (ld16(ip + 6) & 0x3fff))
		return;
	t = ip + ihl;
	n = ld16(ip + 2) - ihl - (uint32_t)(t[12] >> 4) * 4;
	for (uint32_t o = 20; o + 1 < (uint32_t)(t[12] >> 4) * 4;) {
		if (t[o] <= 1) {
			o++;
			continue;
		}
		if (t[o] == 8 && t[o + 1] == 10)
			z->last_tsval = ld32(t + o + 2), has_ts = 1;
		if (t[o + 1] < 2)
			break;
		o += t[o + 1];
	}
	z->last_sport = ld16(t);
	z->last_dport = ld16(t + 2);
	z->last_seq = ld32(t + 4);
	z->last_ack = ld32(t + 8);
	z->last_flags = t[13];
	z->last_end = z->last_seq + n + !!(t[13] & 0x02) + !!(t[13] & 0x01);
	if (z->track)
		conn_track(z, has_ts);
	(void)len;
}

static int dev_transmit(struct ustack_dev *d, const void *frame, size_t len,
			ustack_time_t now)
{
	struct fz *z = ((struct fz_dev *)d)->z;
	const uint8_t *f = frame;

	(void)now;
	if (len < 14 || len > 65535 + 14)
		bad_output(f, len, "frame length");
	if (memcmp(f + 6, FZ_STACK_MAC, 6))
		bad_output(f, len, "source MAC");
	if (ld16(f + 12) == 0x0800) {
		check_ip4(f, len);
		track_tcp(z, f, len);
	} else if (ld16(f + 12) == 0x0806 && len < 42) {
		bad_output(f, len, "short ARP");
	}
	z->frames_out++;
	return 0;
}

static long dev_receive(struct ustack_dev *d, void *buf, size_t cap,
			ustack_time_t now)
{
	struct fz_dev *fd = (struct fz_dev *)d;
	uint8_t *f;
	size_t len;

	(void)now;
	if (fd->rxhead >= fd->rxn)
		return 0;
	f = fd->rxq[fd->rxhead];
	len = fd->rxlen[fd->rxhead];
	fd->rxq[fd->rxhead++] = NULL;
	if (len > cap) {
		free(f);
		return -EMSGSIZE;
	}
	memcpy(buf, f, len);
	free(f);
	return (long)len;
}

static void dev_close(struct ustack_dev *d)
{
	struct fz_dev *fd = (struct fz_dev *)d;

	for (int i = 0; i < fd->rxn; i++)
		free(fd->rxq[i]);
	free(d);
}

static const struct ustack_dev_ops fz_dev_ops = {
	.transmit = dev_transmit,
	.receive = dev_receive,
	.close = dev_close,
};

static void quiet_log(void *ctx, int level, ustack_time_t now, const char *m)
{
	(void)ctx, (void)level, (void)now, (void)m;
}

/* ---- sockets, served after every event ----------------------------------- */

static struct fz_sock *sock_add(struct fz *z, int sd, enum fz_role role,
				enum fz_role child)
{
	for (int i = 0; i < FZ_MAX_SOCKS; i++) {
		struct fz_sock *s = &z->socks[i];

		if (s->role == FZ_FREE) {
			s->sd = sd;
			s->role = role;
			s->child = child;
			return s;
		}
	}
	ustack_close(z->st, sd);
	return NULL;
}

static void sock_drop(struct fz *z, struct fz_sock *s)
{
	ustack_close(z->st, s->sd);
	s->role = FZ_FREE;
}

/* Read what is there; echo it back; close at the end of the stream. */
static int serve_data(struct fz *z, struct fz_sock *s, uint8_t *buf)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int type = 0;
	socklen_t tl = sizeof(type);
	ssize_t n;

	n = ustack_recvfrom(z->st, s->sd, buf, FZ_BUF, MSG_DONTWAIT,
			    (struct sockaddr *)&sin, &slen);
	if (n == -EAGAIN)
		return 0;
	ustack_getsockopt(z->st, s->sd, SOL_SOCKET, SO_TYPE, &type, &tl);
	if (n < 0 || (n == 0 && type == SOCK_STREAM)) {
		sock_drop(z, s);
		return 1;
	}
	if (s->role == FZ_ECHO && type == SOCK_STREAM)
		ustack_send(z->st, s->sd, buf, (size_t)n, MSG_DONTWAIT);
	else if (s->role == FZ_ECHO)
		ustack_sendto(z->st, s->sd, buf, (size_t)n, MSG_DONTWAIT,
			      (struct sockaddr *)&sin, slen);
	return 1;
}

static void serve(struct fz *z)
{
	uint8_t *buf = malloc(FZ_BUF);

	if (!buf)
		abort();
	for (int round = 0; round < 8; round++) {
		int busy = 0;

		for (int i = 0; i < FZ_MAX_SOCKS; i++) {
			struct fz_sock *s = &z->socks[i];
			int sd;

			if (s->role == FZ_LISTEN) {
				sd = ustack_accept(z->st, s->sd, NULL, NULL);
				if (sd >= 0 && sock_add(z, sd, s->child, FZ_FREE))
					busy = 1;
			} else if (s->role == FZ_ECHO || s->role == FZ_SINK) {
				busy |= serve_data(z, s, buf);
			}
		}
		if (!busy)
			break;
	}
	free(buf);
}

void fz_input(struct fz *z, const uint8_t *frame, size_t len)
{
	ustack_input(z->st, frame, len, z->now);
	ustack_run_timers(z->st, z->now);
	serve(z);
}

void fz_queue(struct fz *z, const uint8_t *frame, size_t len)
{
	struct fz_dev *fd = (struct fz_dev *)ustack_get_dev(z->st);
	uint8_t *f;

	if (fd->rxn == FZ_RXQ)
		fz_flush(z);
	if ((f = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(f, frame, len);
	fd->rxq[fd->rxn] = f;
	fd->rxlen[fd->rxn++] = len;
}

void fz_flush(struct fz *z)
{
	struct fz_dev *fd = (struct fz_dev *)ustack_get_dev(z->st);

	if (!fd->rxn)
		return;
	while (fd->rxhead < fd->rxn)
		(void)ustack_poll_dev(z->st, z->now, FZ_RXQ);
	fd->rxn = fd->rxhead = 0;
	ustack_run_timers(z->st, z->now);
	serve(z);
}

void fz_advance(struct fz *z, ustack_time_t us)
{
	ustack_time_t end = z->now + us;

	for (int steps = 0;; steps++) {
		ustack_time_t d = ustack_next_deadline(z->st);

		if (d > end)
			break;
		if (steps == FZ_STEPS_MAX) {
			fprintf(stderr, "fuzz harness: timers keep firing at %llu us "
				"(deadline %llu)\n", (unsigned long long)z->now,
				(unsigned long long)d);
			abort();
		}
		if (d > z->now)
			z->now = d;
		ustack_run_timers(z->st, z->now);
		serve(z);
	}
	z->now = end;
	ustack_run_timers(z->st, z->now);
	serve(z);
}

/* ---- frames from the peer ------------------------------------------------ */

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

/* Ethernet and IPv4 headers of a packet from the peer (checksum filled);
 * returns the IPv4 header. */
static uint8_t *ip4_hdr(uint8_t *f, uint8_t proto, size_t l4len)
{
	uint8_t *ip = f + 14;

	memcpy(f, FZ_STACK_MAC, 6);
	memcpy(f + 6, FZ_PEER_MAC, 6);
	st16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	st16(ip + 2, (uint16_t)(20 + l4len));
	st16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	st32(ip + 12, FZ_PEER_IP);
	st32(ip + 16, FZ_STACK_IP);
	st16(ip + 10, fold(sum_bytes(0, ip, 20)));
	return ip;
}

struct seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opt;
	size_t optlen;              /* up to 40 */
	const uint8_t *data;
	size_t dlen;
};

static size_t tcp_frame(uint8_t *f, size_t cap, const struct seg *s)
{
	size_t ol = (s->optlen + 3) & ~(size_t)3, n = 20 + ol + s->dlen;
	uint8_t *ip, *t;

	if (ol > 40 || 34 + n > cap)
		return 0;
	ip = ip4_hdr(f, 6, n);
	t = ip + 20;
	st16(t, s->sport);
	st16(t + 2, s->dport);
	st32(t + 4, s->seq);
	st32(t + 8, s->ack);
	t[12] = (uint8_t)(((20 + ol) / 4) << 4);
	t[13] = s->flags;
	st16(t + 14, s->win);
	st32(t + 16, 0);
	memset(t + 20, 0, ol);
	if (s->optlen)
		memcpy(t + 20, s->opt, s->optlen);
	if (s->dlen)
		memcpy(t + 20 + ol, s->data, s->dlen);
	st16(t + 16, l4_sum(ip, t, n));
	return 34 + n;
}

/* NOP NOP TS: the peer's clock, echoing the stack's last value. */
static size_t ts_opt(struct fz *z, uint8_t *o)
{
	o[0] = o[1] = 1;
	o[2] = 8;
	o[3] = 10;
	st32(o + 4, z->peer_ts++);
	st32(o + 8, z->last_tsval);
	return 12;
}

/* A segment from the peer on c, with the options a Linux peer sends. */
static void peer_send_win(struct fz *z, struct fz_conn *c, uint8_t flags,
			  uint32_t ack, uint16_t win, const void *data,
			  size_t dlen)
{
	static const uint8_t syn_opt[] = {2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7};
	uint8_t opt[40], f[2048];
	struct seg s = {c->pport, c->lport, c->rcv_nxt, ack, flags, win,
			opt, 0, data, dlen};

	if (flags & TH_SYN) {
		memcpy(opt, syn_opt, sizeof(syn_opt));
		s.optlen = sizeof(syn_opt);
		if (c->ts)
			s.optlen += ts_opt(z, opt + s.optlen);
	} else if (c->ts) {
		s.optlen = ts_opt(z, opt);
	}
	fz_input(z, f, tcp_frame(f, sizeof(f), &s));
	c->rcv_nxt += (uint32_t)dlen + !!(flags & TH_SYN) + !!(flags & TH_FIN);
}

static void peer_send(struct fz *z, struct fz_conn *c, uint8_t flags,
		      uint32_t ack, const void *data, size_t dlen)
{
	peer_send_win(z, c, flags, ack, 65535, data, dlen);
}

int fz_conn_open(struct fz *z, uint16_t lport, uint16_t pport, int ts)
{
	int i;

	for (i = 0; i < z->nconns; i++)
		if (z->conns[i].lport == lport && z->conns[i].pport == pport)
			break;
	if (i == z->nconns) {
		if (z->nconns == FZ_MAX_CONNS)
			i = (lport ^ pport) % FZ_MAX_CONNS;
		else
			z->nconns++;
	}
	z->conns[i].state = "peer-opened";
	z->conns[i].lport = lport;
	z->conns[i].pport = pport;
	z->conns[i].ts = ts;
	z->conns[i].rcv_nxt = 1000000u * (uint32_t)(i + 1) + z->peer_ts;
	z->conns[i].snd_nxt = 0;
	peer_send(z, &z->conns[i], TH_SYN, 0, NULL, 0);
	return i;
}

void fz_conn_send(struct fz *z, int i, uint8_t flags, uint16_t win,
		  const void *data, size_t len)
{
	struct fz_conn *c;

	if (i < 0 || i >= z->nconns || len > 1400)
		return;
	c = &z->conns[i];
	peer_send_win(z, c, flags, c->snd_nxt, win, data, len);
}

/* The stack's side of c moves with the segments it sent. */
static void conn_sync(struct fz *z, struct fz_conn *c)
{
	if (z->last_dport != c->pport)
		return;
	if (z->last_flags & TH_SYN)
		c->snd_nxt = z->last_end, c->lport = z->last_sport;
	else if ((int32_t)(z->last_end - c->snd_nxt) > 0)
		c->snd_nxt = z->last_end;
}

static struct fz_conn *conn_new(struct fz *z, const char *state,
				uint16_t lport, uint16_t pport, int ts)
{
	struct fz_conn *c = &z->conns[z->nconns++];

	c->state = state;
	c->lport = lport;
	c->pport = pport;
	c->ts = ts;
	c->rcv_nxt = 1000000u * (uint32_t)z->nconns;
	return c;
}

/* SYN, SYN-ACK, ACK with the peer as client; returns the accepted sd. */
static int passive_open(struct fz *z, struct fz_conn *c, int lsd)
{
	int sd;

	peer_send(z, c, TH_SYN, 0, NULL, 0);
	conn_sync(z, c);
	peer_send(z, c, TH_ACK, c->snd_nxt, NULL, 0);
	sd = ustack_accept(z->st, lsd, NULL, NULL);
	if (sd < 0) {
		fprintf(stderr, "fuzz harness: set-up of %s: accept: %s\n",
			c->state, ustack_strerror(sd));
		abort();
	}
	return sd;
}

static int active_open(struct fz *z, struct fz_conn *c, int answer)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int sd = ustack_socket(z->st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	sin.sin_addr.s_addr = htonl(FZ_PEER_IP);
	sin.sin_port = htons(c->pport);
	if (sd < 0 || ustack_connect(z->st, sd, (struct sockaddr *)&sin,
				     sizeof(sin)) != -EINPROGRESS)
		abort();
	conn_sync(z, c);
	if (answer)
		peer_send(z, c, TH_SYN | TH_ACK, c->snd_nxt, NULL, 0);
	return sd;
}

/* ---- set-up ---------------------------------------------------------------- */

static int open_sock(struct fz *z, int type, int proto, uint16_t port,
		     enum fz_role role, enum fz_role child)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int sd = ustack_socket(z->st, AF_INET, type | SOCK_NONBLOCK, proto);

	sin.sin_port = htons(port);
	if (sd < 0 || (port && ustack_bind(z->st, sd, (struct sockaddr *)&sin,
					   sizeof(sin)) < 0) ||
	    (type == SOCK_STREAM && ustack_listen(z->st, sd, 8) < 0)) {
		fprintf(stderr, "fuzz harness: socket for port %u failed\n", port);
		abort();
	}
	sock_add(z, sd, role, child);
	return sd;
}

static void config(struct ustack_config *c)
{
	ustack_config_default(c);
	memcpy(c->mac, FZ_STACK_MAC, 6);
	c->addr = FZ_STACK_IP;
	c->prefix_len = 24;
	c->seed_from_os = 0;
	c->seed = 1;
	c->log_level = USTACK_LOG_ERROR;
	c->log_fn = quiet_log;
	/* small bounds, so inputs can reach them */
	c->max_sockets = 64;
	c->pkb_max_bytes = 4u << 20;
	c->arp_cache_size = 8;
	c->arp_pending_max = 4;
	c->reasm_max_bytes = 65536;
	c->reasm_max_datagrams = 4;
	c->udp_rcvbuf = 16384;
	c->tcp_max_conns = 24;
	c->tcp_syn_backlog = 4;
	c->tcp_sndbuf = 16384;
	c->tcp_rcvbuf = 16384;
	c->tcp_msl_us = USTACK_SEC(2);
	c->tcp_challenge_ack_limit = 10;
}

/* An ARP packet from the peer, broadcast (42 bytes into f): operation op,
 * then the first blen (at most 20) bytes of sha, spa, tha, tpa from body,
 * zeros after. */
static size_t arp_frame(uint8_t *f, uint16_t op, const uint8_t *body,
			size_t blen)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, FZ_PEER_MAC, 6);
	st16(f + 12, 0x0806);
	st16(f + 14, 1);
	st16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	st16(f + 20, op);
	memset(f + 22, 0, 20);
	memcpy(f + 22, body, blen < 20 ? blen : 20);
	return 42;
}

/* The peer asks for our MAC: the ARP cache knows the peer from now on. */
static void learn_peer(struct fz *z)
{
	uint8_t body[20] = {0}, f[42];

	memcpy(body, FZ_PEER_MAC, 6);
	st32(body + 6, FZ_PEER_IP);
	st32(body + 16, FZ_STACK_IP);
	fz_input(z, f, arp_frame(f, 1, body, sizeof(body)));
}

/* Hand-drive a connection into each TCP state through listener lsd. */
static void setup_states(struct fz *z, int lsd)
{
	struct fz_conn *c;
	int sd;

	c = conn_new(z, "ESTABLISHED", 80, 1080, 1);
	sock_add(z, passive_open(z, c, lsd), FZ_ECHO, FZ_FREE);
	c = conn_new(z, "ESTABLISHED", 80, 1079, 0);
	sock_add(z, passive_open(z, c, lsd), FZ_SINK, FZ_FREE);
	c = conn_new(z, "CLOSE_WAIT", 80, 1082, 1);
	sock_add(z, passive_open(z, c, lsd), FZ_IDLE, FZ_FREE);
	peer_send(z, c, TH_FIN | TH_ACK, c->snd_nxt, NULL, 0);
	c = conn_new(z, "LAST_ACK", 80, 1083, 0);
	sd = passive_open(z, c, lsd);
	peer_send(z, c, TH_FIN | TH_ACK, c->snd_nxt, NULL, 0);
	ustack_close(z->st, sd);
	conn_sync(z, c);
	c = conn_new(z, "FIN_WAIT_1", 80, 1084, 1);
	ustack_close(z->st, passive_open(z, c, lsd));
	conn_sync(z, c);
	c = conn_new(z, "FIN_WAIT_2", 80, 1085, 0);
	sd = passive_open(z, c, lsd);
	ustack_shutdown(z->st, sd, SHUT_WR);
	conn_sync(z, c);
	peer_send(z, c, TH_ACK, c->snd_nxt, NULL, 0);
	sock_add(z, sd, FZ_SINK, FZ_FREE);
	c = conn_new(z, "CLOSING", 80, 1086, 1);
	ustack_close(z->st, passive_open(z, c, lsd));
	conn_sync(z, c);
	peer_send(z, c, TH_FIN | TH_ACK, c->snd_nxt - 1, NULL, 0);
	c = conn_new(z, "TIME_WAIT", 80, 1087, 0);
	ustack_close(z->st, passive_open(z, c, lsd));
	conn_sync(z, c);
	peer_send(z, c, TH_FIN | TH_ACK, c->snd_nxt, NULL, 0);
	c = conn_new(z, "SYN_RCVD", 80, 1081, 1);
	peer_send(z, c, TH_SYN, 0, NULL, 0);
	conn_sync(z, c);
	c = conn_new(z, "SYN_SENT", 0, 9000, 1);
	sock_add(z, active_open(z, c, 0), FZ_SINK, FZ_FREE);
	c = conn_new(z, "ESTABLISHED", 0, 9001, 1);
	sock_add(z, active_open(z, c, 1), FZ_ECHO, FZ_FREE);
	conn_sync(z, c);
}

void fz_new(struct fz *z, enum fz_setup setup)
{
	struct ustack_config cfg;
	struct fz_dev *d = calloc(1, sizeof(*d));
	int lsd;

	memset(z, 0, sizeof(*z));
	if (!d)
		abort();
	d->base.ops = &fz_dev_ops;
	d->base.kind = "fuzz";
	d->base.mtu = 1500;
	d->z = z;
	config(&cfg);
	z->now = FZ_START;
	z->peer_ts = 7000;
	if (ustack_create(&z->st, &cfg, &d->base, z->now) < 0)
		abort();
	learn_peer(z);
	if (setup == FZ_SETUP_BARE) {
		z->track = 1;
		z->now += USTACK_MS(1);
		return;
	}
	open_sock(z, SOCK_DGRAM, 0, 7, FZ_ECHO, FZ_FREE);
	open_sock(z, SOCK_DGRAM, 0, 9, FZ_SINK, FZ_FREE);
	open_sock(z, SOCK_DGRAM, IPPROTO_ICMP, 0, FZ_SINK, FZ_FREE);
	open_sock(z, SOCK_STREAM, 0, 7, FZ_LISTEN, FZ_ECHO);
	open_sock(z, SOCK_STREAM, 0, 9, FZ_LISTEN, FZ_SINK);
	open_sock(z, SOCK_STREAM, 0, 5000, FZ_LISTEN, FZ_IDLE);
	lsd = open_sock(z, SOCK_STREAM, 0, 80, FZ_IDLE, FZ_SINK);
	if (setup == FZ_SETUP_STATES)
		setup_states(z, lsd);
	for (int i = 0; i < FZ_MAX_SOCKS; i++)
		if (z->socks[i].sd == lsd && z->socks[i].role == FZ_IDLE)
			z->socks[i].role = FZ_LISTEN;
	z->now += USTACK_MS(1);
}

void fz_free(struct fz *z)
{
	struct ustack_dev *d = ustack_get_dev(z->st);

	ustack_destroy(z->st);
	ustack_dev_close(d);
	z->st = NULL;
}

/* ---- fuzz bytes -> frames ------------------------------------------------ */

void fz_fix_checksums(uint8_t *f, size_t len)
{
	uint8_t *ip = f + 14, *l4;
	uint32_t ihl, tot;

	if (len < 34 || ld16(f + 12) != 0x0800 || ip[0] >> 4 != 4)
		return;
	ihl = (uint32_t)(ip[0] & 15) * 4;
	tot = ld16(ip + 2);
	if (ihl < 20 || 14 + ihl > len)
		return;
	st16(ip + 10, 0);
	st16(ip + 10, fold(sum_bytes(0, ip, ihl)));
	if ((ld16(ip + 6) & 0x3fff) || tot < ihl || 14 + tot > len)
		return;
	l4 = ip + ihl;
	tot -= ihl;
	if (ip[9] == 6 && tot >= 20) {
		st16(l4 + 16, 0);
		st16(l4 + 16, l4_sum(ip, l4, tot));
	} else if (ip[9] == 17 && tot >= 8) {
		st16(l4 + 6, 0);
		st16(l4 + 6, l4_sum(ip, l4, tot));
	} else if (ip[9] == 1 && tot >= 8) {
		st16(l4 + 2, 0);
		st16(l4 + 2, fold(sum_bytes(0, l4, tot)));
	}
}

static size_t build_tcp(struct fz *z, const uint8_t *in, size_t n, uint8_t *out,
			size_t cap)
{
	const struct fz_conn *c;
	uint8_t opt[40];
	struct seg s;
	size_t ol = 0, fl;

	if (n < 13 || !z->nconns)
		return 0;
	c = &z->conns[in[0] % z->nconns];
	s.sport = c->pport;
	s.dport = c->lport;
	s.seq = c->rcv_nxt + ld32(in + 1);
	s.ack = c->snd_nxt + ld32(in + 5);
	s.flags = in[9];
	s.win = ld16(in + 10);
	if (c->ts && !(in[12] & 0x80))
		ol = ts_opt(z, opt);
	fl = (size_t)(in[12] & 0x3f) % (41 - ol);
	if (fl > n - 13)
		fl = n - 13;
	memcpy(opt + ol, in + 13, fl);
	s.opt = opt;
	s.optlen = ol + fl;
	s.data = in + 13 + fl;
	s.dlen = n - 13 - fl;
	return tcp_frame(out, cap, &s);
}

static size_t build_icmp(struct fz *z, const uint8_t *in, size_t n,
			 uint8_t *out, size_t cap)
{
	const struct fz_conn *c;
	uint8_t *ip, *m, *q;
	size_t dl;

	if (n < 11 || !z->nconns || 14 + 20 + 8 + 28 + (n - 11) > cap)
		return 0;
	c = &z->conns[in[6] % z->nconns];
	dl = n - 11;
	ip = ip4_hdr(out, 1, 8 + 28 + dl);
	m = ip + 20;
	m[0] = in[0];
	m[1] = in[1];
	memcpy(m + 4, in + 2, 4);
	q = m + 8;                      /* the quoted packet: ours to the peer */
	memset(q, 0, 28);
	q[0] = 0x45;
	st16(q + 2, 1500);
	q[8] = 64;
	q[9] = 6;
	st32(q + 12, FZ_STACK_IP);
	st32(q + 16, FZ_PEER_IP);
	st16(q + 20, c->lport);
	st16(q + 22, c->pport);
	st32(q + 24, c->snd_nxt + ld32(in + 7));
	memcpy(q + 28, in + 11, dl);
	st16(m + 2, 0);
	st16(m + 2, fold(sum_bytes(0, m, 8 + 28 + dl)));
	return 14 + 20 + 8 + 28 + dl;
}

size_t fz_build(struct fz *z, const uint8_t *in, size_t n, uint8_t *out,
		size_t cap)
{
	uint8_t *ip;
	size_t len;

	if (n < 1)
		return 0;
	switch (in[0]) {
	case 1:                         /* IPv4 packet, checksums fixed */
		if (n - 1 + 14 > cap)
			return 0;
		ip4_hdr(out, 0, 0);
		memcpy(out + 14, in + 1, n - 1);
		fz_fix_checksums(out, n - 1 + 14);
		return n - 1 + 14;
	case 2:
		return build_tcp(z, in + 1, n - 1, out, cap);
	case 3:                         /* UDP datagram */
		if (n < 5 || 14 + 20 + 8 + (n - 5) > cap)
			return 0;
		ip = ip4_hdr(out, 17, 8 + (n - 5));
		st16(ip + 20, ld16(in + 3));
		st16(ip + 22, ld16(in + 1));
		st16(ip + 24, (uint16_t)(8 + (n - 5)));
		memcpy(ip + 28, in + 5, n - 5);
		len = 14 + 20 + 8 + (n - 5);
		fz_fix_checksums(out, len);
		return len;
	case 4:
		return build_icmp(z, in + 1, n - 1, out, cap);
	case 5:                         /* ARP: op, then sha spa tha tpa */
		if (n < 2 || cap < 42)
			return 0;
		return arp_frame(out, in[1], in + 2, n - 2);
	default:                        /* raw frame */
		if (n - 1 > cap)
			return 0;
		memcpy(out, in + 1, n - 1);
		return n - 1;
	}
}
