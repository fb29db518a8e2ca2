/*
 * tcp_test.c - the peer side of the check_tcp_*.c suites (see tcp_test.h):
 * segments in and out of the stack on the test bed, sockets, the two
 * handshakes.
 *
 * May touch: the test bed's stack and its sockets (white-box: the TCB
 * behind a socket), the Check assertions.
 */
#include "lib/tcp_test.h"

struct sockaddr_in tt_sin(uint32_t addr, uint16_t port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_addr.s_addr = htonl(addr);
	s.sin_port = htons(port);
	return s;
}

uint8_t tt_flags(const char *f)
{
	uint8_t v = 0;

	for (; *f; f++) {
		switch (*f) {
		case 'S': v |= TCP_SYN; break;
		case 'F': v |= TCP_FIN; break;
		case 'R': v |= TCP_RST; break;
		case 'P': v |= TCP_PSH; break;
		case '.': v |= TCP_ACK; break;
		case 'U': v |= TCP_URG; break;
		default: ck_abort_msg("bad flag %c", *f);
		}
	}
	return v;
}

struct tt *tt_new_cfg(const struct ustack_config *cfg)
{
	struct tt *t = calloc(1, sizeof(*t));

	ck_assert_ptr_nonnull(t);
	t->tb = tb_new(cfg);
	tb_learn_peer(t->tb, TB_PEER, TB_PEER_MAC);
	t->port = TT_PORT;
	t->pport = TT_PEER_PORT;
	return t;
}

struct tt *tt_new(void)
{
	return tt_new_cfg(NULL);
}

void tt_free(struct tt *t)
{
	tb_free(t->tb);
	free(t);
}

struct ustack *tt_st(struct tt *t)
{
	return t->tb->st;
}

/* ---- options for the next injected segment ------------------------------ */

void tt_opt_clear(struct tt *t)
{
	t->optlen = 0;
}

void tt_opt_raw(struct tt *t, const uint8_t *o, unsigned n)
{
	ck_assert_uint_le(t->optlen + n, 40);
	memcpy(t->opts + t->optlen, o, n);
	t->optlen = (uint8_t)(t->optlen + n);
}

void tt_opt_mss(struct tt *t, uint16_t mss)
{
	uint8_t o[4] = {TCP_OPT_MSS, 4, (uint8_t)(mss >> 8), (uint8_t)mss};

	tt_opt_raw(t, o, 4);
}

void tt_opt_ws(struct tt *t, uint8_t shift)
{
	uint8_t o[4] = {TCP_OPT_NOP, TCP_OPT_WSCALE, 3, shift};

	tt_opt_raw(t, o, 4);
}

void tt_opt_sackok(struct tt *t)
{
	uint8_t o[4] = {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_SACK_PERM, 2};

	tt_opt_raw(t, o, 4);
}

void tt_opt_ts(struct tt *t, uint32_t val, uint32_t ecr)
{
	uint8_t o[12] = {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_TIMESTAMP, 10};

	be32_store(o + 4, val);
	be32_store(o + 8, ecr);
	tt_opt_raw(t, o, 12);
}

void tt_opt_sack(struct tt *t, const uint32_t *edges, unsigned nblocks)
{
	uint8_t o[40] = {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_SACK,
			 (uint8_t)(2 + 8 * nblocks)};

	for (unsigned i = 0; i < 2 * nblocks; i++)
		be32_store(o + 4 + 4 * i, edges[i]);
	tt_opt_raw(t, o, 4 + 8 * nblocks);
}

/* ---- segments in ----------------------------------------------------------- */

void tt_in_full(struct tt *t, uint32_t sip, uint16_t sport, uint16_t dport,
		uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
		const void *data, size_t len, int bad_csum)
{
	static uint8_t frame[70000];
	struct pkt_tcp p;
	size_t n;

	memset(&p, 0, sizeof(p));
	p.sip = sip;
	p.dip = TB_ADDR;
	p.sport = sport;
	p.dport = dport;
	p.seq = seq;
	p.ack = ack;
	p.flags = flags;
	p.win = win;
	p.opts = t->optlen ? t->opts : NULL;
	p.optlen = t->optlen;
	p.data = data;
	p.len = len;
	p.bad_csum = bad_csum;
	n = pkt_tcp(frame, TB_MAC, TB_PEER_MAC, &p);
	t->optlen = 0;
	tb_inject(t->tb, frame, n);
}

void tt_in(struct tt *t, const char *flags, uint32_t seq, uint32_t ack,
	   uint16_t win, const void *data, size_t len)
{
	tt_in_full(t, TB_PEER, t->pport, t->port, tt_flags(flags), seq, ack,
		   win, data, len, 0);
}

void tt_seg_in(struct tt *t, const struct tt_in_seg *s)
{
	tt_in(t, s->flags, s->seq, s->ack, s->win, s->data, s->len);
}

/* ---- segments out ---------------------------------------------------------- */

int tt_out(struct tt *t, struct tt_seg *s)
{
	struct tb_frame *fr;

	while ((fr = tb_pop(t->tb)) != NULL) {
		struct pkt_view v;

		if (pkt_parse(fr->data, fr->len, &v) < 0 || !v.ip ||
		    v.ip_proto != IP4_PROTO_TCP) {
			free(fr);
			continue;
		}
		memset(s, 0, offsetof(struct tt_seg, data));
		s->flags = tcp_flags(v.l4);
		s->seq = tcp_seq(v.l4);
		s->ack = tcp_ack(v.l4);
		s->win = tcp_win(v.l4);
		s->sport = tcp_sport(v.l4);
		s->dport = tcp_dport(v.l4);
		s->hlen = tcp_hlen(v.l4);
		s->len = (uint32_t)v.payload_len;
		memcpy(s->data, v.payload, v.payload_len);
		s->ip_dst = v.ip_dst;
		s->at = fr->at;
		s->csum_ok = v.l4_csum_ok;
		ck_assert_int_eq(tcp_opt_parse(v.l4 + TCP_HDR_LEN,
					       s->hlen - TCP_HDR_LEN,
					       !!(s->flags & TCP_SYN), &s->opt),
				 0);
		free(fr);
		ck_assert_msg(s->csum_ok, "bad TCP checksum from the stack");
		return 1;
	}
	return 0;
}

const char *tt_flagstr(uint8_t f, char *b)
{
	int n = 0;

	if (f & TCP_SYN) b[n++] = 'S';
	if (f & TCP_FIN) b[n++] = 'F';
	if (f & TCP_RST) b[n++] = 'R';
	if (f & TCP_PSH) b[n++] = 'P';
	if (f & TCP_ACK) b[n++] = '.';
	b[n] = 0;
	return b;
}

void tt_expect(struct tt *t, const char *flags, struct tt_seg *s)
{
	uint8_t want = tt_flags(flags);
	char a[8], b[8];

	ck_assert_msg(tt_out(t, s), "expected [%s], nothing sent", flags);
	if (!(want & TCP_PSH))
		s->flags &= (uint8_t)~TCP_PSH;
	ck_assert_msg(s->flags == want, "expected [%s], got [%s] seq %u ack %u",
		      tt_flagstr(want, a), tt_flagstr(s->flags, b), s->seq, s->ack);
}

void tt_expect_none(struct tt *t)
{
	struct tt_seg s;
	char b[8];

	if (tt_out(t, &s))
		ck_abort_msg("expected nothing, got [%s] seq %u ack %u len %u",
			     tt_flagstr(s.flags, b), s.seq, s.ack, s.len);
}

void tt_advance(struct tt *t, ustack_time_t us)
{
	tb_advance(t->tb, us);
}

uint64_t tt_stat(struct tt *t, enum ustack_stat_id id)
{
	return ustack_stat(tt_st(t), id);
}

/* ---- sockets ---------------------------------------------------------------- */

int tt_listen(struct tt *t, uint16_t port, int backlog)
{
	struct sockaddr_in a = tt_sin(0, port);
	int sd = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(sd, 0);
	ck_assert_int_eq(ustack_bind(tt_st(t), sd, (struct sockaddr *)&a,
				     sizeof(a)), 0);
	ck_assert_int_eq(ustack_listen(tt_st(t), sd, backlog), 0);
	return sd;
}

int tt_accept(struct tt *t, int lsd)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	return ustack_accept(tt_st(t), lsd, (struct sockaddr *)&a, &al);
}

struct tcp_conn *tt_conn(struct tt *t, int sd)
{
	struct sock *sk = sock_get(tt_st(t), sd);

	ck_assert_ptr_nonnull(sk);
	return sk->pcb;
}

int tt_state(struct tt *t, int sd)
{
	struct tcp_conn *c = tt_conn(t, sd);

	return c ? c->state : USTACK_TCP_CLOSED;
}

struct tcp_conn *tt_find(struct tt *t)
{
	return tcp_lookup(tt_st(t), TB_ADDR, t->port, TB_PEER, t->pport);
}

int tt_find_state(struct tt *t)
{
	struct tcp_tw *tw;
	struct tcp_conn *c = tcp_lookup_tw(tt_st(t), TB_ADDR, t->port, TB_PEER,
					   t->pport, &tw);

	if (c)
		return c->state;
	return tw ? USTACK_TCP_TIME_WAIT : USTACK_TCP_CLOSED;
}

int tt_so_error(struct tt *t, int sd)
{
	int err = -1;
	socklen_t l = sizeof(err);

	ck_assert_int_eq(ustack_getsockopt(tt_st(t), sd, SOL_SOCKET, SO_ERROR,
					   &err, &l), 0);
	return err;
}

short tt_poll(struct tt *t, int sd, short events)
{
	struct ustack_pollfd p = {.sd = sd, .os_fd = -1, .events = events};

	ck_assert_int_ge(ustack_poll(tt_st(t), &p, 1, 0), 0);
	return p.revents;
}

int tt_passive(struct tt *t, uint32_t irs, uint16_t win, uint32_t *iss,
	       int *lsd)
{
	struct tt_seg s;
	int l = tt_listen(t, t->port, 8), sd;

	tt_in(t, "S", irs, 0, win, NULL, 0);
	tt_expect(t, "S.", &s);
	ck_assert_uint_eq(s.ack, irs + 1);
	tt_in(t, ".", irs + 1, s.seq + 1, win, NULL, 0);
	tt_expect_none(t);
	sd = tt_accept(t, l);
	ck_assert_int_ge(sd, 0);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_ESTABLISHED);
	*iss = s.seq;
	if (lsd)
		*lsd = l;
	return sd;
}

int tt_active(struct tt *t, uint32_t piss, uint16_t win, uint32_t *iss)
{
	struct sockaddr_in a = tt_sin(TB_PEER, t->pport);
	int sd = ustack_socket(tt_st(t), AF_INET, SOCK_STREAM, 0);
	uint8_t saved[40], savedlen = t->optlen;
	struct tt_seg s;

	memcpy(saved, t->opts, sizeof(saved));
	t->optlen = 0;
	ck_assert_int_ge(sd, 0);
	ck_assert_int_eq(ustack_connect(tt_st(t), sd, (struct sockaddr *)&a,
					sizeof(a)), -EINPROGRESS);
	tt_expect(t, "S", &s);
	t->port = s.sport;
	memcpy(t->opts, saved, sizeof(saved));
	t->optlen = savedlen;
	tt_in(t, "S.", piss, s.seq + 1, win, NULL, 0);
	tt_expect(t, ".", &s);
	ck_assert_uint_eq(s.ack, piss + 1);
	ck_assert_int_eq(tt_state(t, sd), USTACK_TCP_ESTABLISHED);
	*iss = s.seq - 1;
	return sd;
}

void tt_config_plain(struct ustack_config *cfg)
{
	tb_config(cfg);
	cfg->tcp_sack = 0;
	cfg->tcp_timestamps = 0;
	cfg->tcp_wscale = 0;
}

