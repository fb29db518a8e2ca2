/*
 * tcp_int.h - TCP internals shared by the tcp_*.c files: the control block
 * (TCB) with the RFC 9293 3.3.1 names, the parsed view of a segment, and
 * the functions each file offers the others. Not for other modules.
 *
 * Files and what they own:
 *   tcp_conn.c    TCB allocation, the 4-tuple/listen/bind tables, ISNs
 *   tcp_fsm.c     the state table, tcp_set_state(), closing a TCB
 *   tcp_in.c      segment arrival, split into the RFC 9293 3.10.7 steps
 *   tcp_out.c     building and sending segments, tcp_output()
 *   tcp_timer.c   retransmit/persist, delayed ACK, keepalive, TIME_WAIT
 *   tcp_cc.c      congestion control (RFC 5681/6582), SACK recovery (6675)
 *   tcp_cubic.c   CUBIC (RFC 9438): the default window growth and reduction
 *   tcp_rack.c    RACK loss detection (RFC 8985 6): transmission records
 *   tcp_opt.c     option parsing and building
 *   tcp_buf.c     send/receive byte rings, out-of-order ranges, SACK blocks
 *   tcp_listen.c  listeners, SYN queue, SYN cookies, TIME_WAIT reuse
 *   tcp_sock.c    tcp_sock_ops, ustack_conn_list
 *   tcp_tw.c      compact TIME_WAIT records (what is left of a closed
 *                 connection in TIME_WAIT once no socket holds it)
 */
#ifndef USTACK_PROTO_TCP_INT_H
#define USTACK_PROTO_TCP_INT_H

#include <stdint.h>

#include <ustack/socket.h>

#include "core/assert.h"
#include "core/stack.h"
#include "core/timer.h"
#include "proto/tcp.h"
#include "sock/sock.h"
#include "wire/tcp.h"

/* "Synchronized" states (BSD TCPS_HAVEESTABLISHED). */
#define TCP_SYNCHRONIZED(s) ((s) >= USTACK_TCP_ESTABLISHED)
/* States in which we have sent our FIN (or are about to). */
#define TCP_FIN_STATE(s)                                                       \
	((s) == USTACK_TCP_FIN_WAIT_1 || (s) == USTACK_TCP_CLOSING ||          \
	 (s) == USTACK_TCP_LAST_ACK || (s) == USTACK_TCP_FIN_WAIT_2 ||         \
	 (s) == USTACK_TCP_TIME_WAIT)

#define TCP_DEFAULT_MSS 536        /* RFC 9293 3.7.1, RFC 1122 4.2.2.6 */
#define TCP_MIN_MSS 48             /* floor for a peer's tiny MSS (DoS) */
#define TCP_OPTLEN_TS_ALIGNED 12   /* NOP NOP TS */
#define TCP_OOO_MAX_RANGES 32      /* out-of-order islands per connection */
#define TCP_SCORE_MAX 32           /* SACK scoreboard ranges */
#define TCP_DUPTHRESH 3            /* RFC 5681 3.2, RFC 6675 */
#define TCP_MAX_WIN 65535u         /* RFC 7323 2.2: the largest window the
				      16-bit field says unscaled */
#define TCP_MAX_MSS_OPT 65535u     /* the MSS option's 16 bits (RFC 9293 3.2) */
#define TCP_TS_RTT_MAX_MS 600000u  /* a TSecr echo older than 10 min is no
				      RTT sample (a stale or bogus echo) */
#define TCP_PAWS_IDLE_US (24ull * 24 * 3600 * 1000000) /* RFC 7323 5.5 */
#define TCP_SYNCOOKIE_PERIOD_US (64ull * 1000000)
#define TCP_SYNCOOKIE_MAX_AGE 2    /* periods a cookie stays valid */
#define TCP_OOW_ACK_US 500000u     /* one ACK per 500 ms answers bare
				      unacceptable ACKs (ACK wars) */
#define TCP_CORK_US 200000u        /* TCP_CORK/MSG_MORE ceiling (Linux) */
#define TCP_MAX_QUICKACKS 16       /* quick-ACK credits at most (Linux) */

/* Why a transition happened (the trace's "(FIN)"). */
enum tcp_cause {
	TCP_CAUSE_LISTEN,
	TCP_CAUSE_CONNECT,
	TCP_CAUSE_SYN,
	TCP_CAUSE_SYNACK,
	TCP_CAUSE_ACK,
	TCP_CAUSE_FIN,
	TCP_CAUSE_FINACK,
	TCP_CAUSE_CLOSE,
	TCP_CAUSE_SHUTDOWN,
	TCP_CAUSE_RST,
	TCP_CAUSE_TIMEOUT,
	TCP_CAUSE_ABORT,
	TCP_CAUSE_2MSL,
	TCP_CAUSE_ICMP,
	TCP_CAUSE_REUSE,
	TCP_CAUSE_COOKIE,
	TCP_CAUSE_UNREACH,
	TCP_CAUSE__COUNT
};

/* A byte ring that grows on demand up to a bound the owner checks. */
struct tcp_ring {
	uint8_t *buf;
	uint32_t size;   /* allocated bytes (0: nothing allocated yet) */
	uint32_t head;   /* index of the first byte */
	uint32_t len;    /* bytes held from head */
	uint32_t hint;   /* size before it was last freed empty: the next
			    burst gets that at once, not 4 KiB doublings */
};

/* A half-open sequence range [l, r). */
struct tcp_range {
	uint32_t l, r;
};

/* An out-of-order island in the receive ring. */
struct tcp_rack;

struct tcp_ooo {
	uint32_t l, r;     /* sequence range held */
	uint32_t stamp;    /* last time a segment touched it (SACK order) */
};

/* Options parsed from a received segment (tcp_opt.c). */
struct tcp_opts {
	uint16_t mss;
	uint8_t wscale;
	uint8_t nsack;
	unsigned has_mss : 1, has_ws : 1, sack_ok : 1, has_ts : 1;
	uint32_t tsval, tsecr;
	struct tcp_range sack[TCP_MAX_SACK_BLOCKS];
};

/* A received segment, validated by tcp_input(). */
struct tcp_seg {
	uint32_t saddr, daddr;     /* host order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint32_t seq0;             /* SEG.SEQ as received (before trimming) */
	uint32_t len;              /* data bytes (after trimming) */
	uint16_t wnd;              /* raw window field */
	uint8_t flags;
	const uint8_t *data;       /* len bytes */
	struct tcp_opts opt;
	struct pkb *pkb;
};

/* SEG.LEN of RFC 9293: data plus one for each of SYN and FIN. */
static inline uint32_t tcp_seg_len(const struct tcp_seg *s)
{
	return s->len + !!(s->flags & TCP_SYN) + !!(s->flags & TCP_FIN);
}

enum tcp_rtx_kind { TCP_RTX_NONE, TCP_RTX_RETRANSMIT, TCP_RTX_PERSIST,
		    TCP_RTX_CORK, TCP_RTX_TLP,
		    TCP_RTX_REO /* RFC 8985 reorder timer */ };
enum tcp_wait_kind { TCP_WAIT_NONE, TCP_WAIT_2MSL, TCP_WAIT_FIN2 };
enum tcp_queue { TCP_Q_NONE, TCP_Q_SYN, TCP_Q_ACCEPT };

/*
 * The transmission control block. Field names follow RFC 9293 3.3.1
 * (BSD tcp_var.h). Sequence fields are compared only with seq_lt & co.
 */
/* A TCB's place in one hash chain (tcp_conn.c: chain_insert/remove).
 * pprev points at what points here (the bucket or the previous link's
 * next), so leaving a chain needs no hash of the 4-tuple. */
struct tcp_link {
	struct tcp_conn *next, **pprev;
};

/* A listener's queues: out of line, so that the TCB of every other
 * connection does not carry them. */
struct tcp_lq {
	struct tcp_conn *synq;           /* half-open children */
	struct tcp_conn *accq, *accq_tail; /* established, not yet accepted */
	uint32_t backlog;                /* accept queue bound */
	uint32_t nsyn, nacc;
};

/*
 * CUBIC (RFC 9438) state of one connection, in bytes and microseconds.
 * on 0: no congestion avoidance stage has begun since the last reduction.
 */
struct tcp_cubic_st {
	ustack_time_t epoch;             /* t_epoch (4.2) */
	uint64_t est_acc;                /* W_est's growth not yet whole
					    bytes, times 17 * cwnd */
	uint32_t w_max;                  /* W_max (4.2, 4.7) */
	uint32_t cwnd_prior;             /* cwnd_prior (4.3, 4.6) */
	uint32_t w_est;                  /* W_est (4.3) */
	uint32_t k_ms;                   /* K (4.2), milliseconds */
	uint32_t acc;                    /* cwnd's, times cwnd */
	uint8_t on;                      /* a stage is running (epoch set) */
	uint8_t after_rto;               /* 4.8: next stage K = 0 */
};

/* Allocated at the first congestion event (an idle connection that never
 * lost anything does not carry it); prior is the state when the current
 * reduction episode began, for undo (4.9). */
struct tcp_cubic {
	struct tcp_cubic_st now, prior;
};

struct tcp_conn {
	/* Tables and lists (tcp_conn.c) */
	struct tcp_link h;               /* 4-tuple hash, or listen hash */
	struct tcp_link b;               /* bind hash (by local port) */
	struct tcp_conn *anext, *aprev;  /* st->tcp.all */
	struct tcp_conn *qnext, *qprev;  /* listener's SYN/accept queue */
	struct tcp_conn *twnext, *twprev;/* TIME_WAIT list */
	struct tcp_conn *onext, *oprev;  /* orphan list (tcp_conn.c) */
	uint32_t laddr, raddr;           /* host order; laddr 0 = any */
	uint16_t lport, rport;
	uint8_t state;                   /* enum ustack_tcp_state */
	uint8_t queue;                   /* enum tcp_queue: where in parent */
	unsigned hashed : 1;             /* in the 4-tuple hash */
	unsigned lhashed : 1;            /* in the listen hash */
	unsigned bhashed : 1;            /* in the bind hash */
	unsigned in_tw : 1;              /* on the TIME_WAIT list */
	unsigned in_orph : 1;            /* on the orphan list */
	unsigned passive : 1;            /* opened from a listener */
	unsigned orphan : 1;             /* the application closed it */
	unsigned bound : 1;              /* explicit bind() (port reserved) */
	unsigned reuseaddr : 1;          /* SO_REUSEADDR at bind time */
	unsigned fin_queued : 1;         /* the application is done sending */
	unsigned fin_rcvd : 1;           /* the peer's FIN is consumed (EOF) */
	unsigned fin_ooo : 1;            /* a FIN seen beyond rcv_nxt */
	unsigned ws_ok : 1;              /* RFC 7323 2: window scaling on */
	unsigned sack_ok : 1;            /* RFC 2018: SACK permitted both ways */
	unsigned ts_ok : 1;              /* RFC 7323 3: timestamps on */
	unsigned ack_now : 1;            /* send an ACK before returning */
	unsigned rtt_timing : 1;         /* rtt_seq is being timed */
	unsigned in_recovery : 1;        /* fast recovery (NewReno or SACK) */
	unsigned was_synchronized : 1;   /* reached ESTABLISHED once */
	unsigned reset : 1;              /* ended by RST/abort: send -> EPIPE */
	unsigned shut_rd : 1;            /* SHUT_RD: discard arriving data */
	unsigned probe_out : 1;          /* snd_max includes a zero-window
					    probe byte not yet taken */
	unsigned after_rto : 1;          /* RFC 6675 5.1: an RTO since the
					    ACK last passed recover */
	unsigned syn_rxmit : 1;          /* our SYN/SYN-ACK was sent again:
					    no RTT sample from its ACK */
	unsigned cork : 1;               /* TCP_CORK: full segments only */
	unsigned more : 1;               /* MSG_MORE: cork for this output */
	unsigned push_once : 1;          /* uncork / cork timer: send the
					    partial tail now */
	unsigned pingpong : 1;           /* interactive: delay ACKs, they
					    ride on our answers (Linux) */
	unsigned rcv_data_seen : 1;      /* some data received (quick-ACK) */
	unsigned dsack_pending : 1;      /* RFC 2883: report dsack once */
	unsigned undo_on : 1;            /* a reduction that may be undone */
	unsigned tlp_on : 1;             /* RFC 8985 7: a probe is out */
	unsigned tlp_rxt : 1;            /*  and it was a retransmission */
	unsigned rack_mark : 1;          /* rack_edge valid (see tcp_cc.c) */
	unsigned batch_acked : 1;        /* the last segment sent was a read
					    batch's ACK (tcp_rx_batch) */
	unsigned syn_acked : 1;          /* our SYN was acknowledged. A flag,
					    not seq_gt(snd_una, iss): that
					    flips after 2^31 bytes (RFC 9293
					    3.4, sequence space wraps) */
	int soft_err;                    /* RFC 1122 4.2.3.9: reported if we
					    time out */

	struct sock *sk;                 /* owning socket, NULL if none */
	struct tcp_conn *parent;         /* listener, until accepted */

	struct tcp_lq *lq;               /* a listener's queues (LISTEN only,
					    made by listen(): tcp_sock.c) */

	/* Send sequence space (RFC 9293 3.3.1) */
	uint32_t iss;
	uint32_t snd_una;                /* oldest unacknowledged */
	uint32_t snd_nxt;                /* next to send */
	uint32_t snd_max;                /* highest sent + 1 (BSD) */
	uint32_t snd_wnd;                /* peer's window, scaled */
	uint32_t snd_wl1, snd_wl2;       /* seq/ack of last window update */
	uint32_t max_snd_wnd;            /* largest window offered */
	uint32_t snd_buf_seq;            /* sequence of sbuf's first byte */
	uint32_t snd_cap;                /* SO_SNDBUF */

	/* Receive sequence space */
	uint32_t irs;
	uint32_t rcv_nxt;
	uint32_t rcv_adv;                /* right edge advertised (rcv_nxt +
					    RCV.WND); never moves left */
	uint32_t rcv_cap;                /* SO_RCVBUF */
	uint32_t last_ack_sent;          /* RFC 7323 4.3 */
	uint32_t fin_seq;                /* sequence of the peer's FIN */

	/* Options */
	uint16_t rcv_mss;                /* MSS we advertised */
	uint16_t mss_clamp;              /* max data+options we send: the
					    peer's MSS, our MTU, the PMTU */
	uint16_t smss;                   /* data in a full segment (SMSS) */
	uint8_t snd_wscale, rcv_wscale;
	uint32_t ts_offset;              /* RFC 7323 7: random, per 4-tuple */
	uint32_t ts_recent;              /* RFC 7323 4.3: TS.Recent */
	ustack_time_t ts_recent_at;

	/* RTT and RTO (RFC 6298), microseconds */
	uint32_t srtt_us, rttvar_us;
	ustack_time_t rto_us;
	uint32_t rtt_seq;                /* timed segment's sequence */
	uint32_t rack_min_rtt_us;        /* RFC 8985 min_RTT */
	uint32_t nrexmit;                /* consecutive timeouts */
	ustack_time_t rtt_at;            /* when it was sent */
	uint32_t total_retrans;          /* segments retransmitted */

	/* Congestion control (RFC 5681, 6582, 6675; RFC 9438 in cub) */
	uint32_t cwnd, ssthresh;
	uint32_t bytes_acked;            /* CA byte counting */
	uint32_t dupacks;
	uint32_t lt_bytes;               /* sent by limited transmit since the
					    last new ACK (RFC 5681 3.2) */
	uint32_t last_acked;             /* bytes the last new ACK covered */
	uint32_t recover;                /* NewReno "recover" / RecoveryPoint */
	uint32_t rxt_high;               /* HighRxt + 1 */
	struct tcp_cubic *cub;           /* CUBIC's state (tcp_cubic.c): NULL
					    until the first congestion event */
	ustack_time_t last_send_at;      /* restart after idle (4.1) */
	struct tcp_range *score;         /* SACKed, sorted, disjoint: NULL
					    until the first SACK block, freed
					    when the scoreboard empties
					    (TCP_SCORE_MAX entries) */

	/* Timers: one struct timer per kind, each on its own deadline. */
	struct timer t_rtx;              /* retransmit or persist */
	struct timer t_delack;
	struct timer t_keep;
	struct timer t_wait;             /* TIME_WAIT, orphan FIN_WAIT_2 */
	uint8_t rtx_kind;                /* enum tcp_rtx_kind */
	uint8_t wait_kind;               /* enum tcp_wait_kind */
	uint8_t nscore;                  /* entries in score */
	uint32_t persist_probes;         /* since the window closed */
	uint32_t probes_unanswered;      /* zero-window probes since the
					    peer last acknowledged anything */
	uint32_t keep_probes;
	ustack_time_t persist_us;        /* current persist interval */
	struct sock_conn_opts opt;        /* the socket's, copied by sync_opts
					    (keepidle_s etc. 0: cfg default) */
	ustack_time_t rtx_base_at;       /* TCP_USER_TIMEOUT counts from here:
					    the timer start of the data that
					    first timed out */
	ustack_time_t last_rcv_at;       /* keepalive idle reference */

	/* Buffers (tcp_buf.c) */
	struct tcp_ring sbuf;            /* [snd_buf_seq, + len) */
	struct tcp_ring rbuf;            /* unread data, then the window */
	struct tcp_ooo *ooo;             /* islands: NULL until the first
					    out-of-order segment, freed when
					    none is left (TCP_OOO_MAX_RANGES) */
	uint8_t nooo;
	uint8_t quick;                   /* quick-ACK credits (segments to
					    ACK at once, RFC 1122 4.2.3.2) */
	uint32_t ooo_bytes;
	uint32_t ooo_stamp;
	uint32_t delack_bytes;           /* received since our last ACK */
	ustack_time_t oow_ack_at;        /* last ACK for an unacceptable
					    bare ACK (rate limit) */
	ustack_time_t chal_slot_at;      /* RFC 5961 7: challenge ACKs */
	uint32_t chal_count;             /*  sent in this one-second slot */
	uint32_t rcv_mss_est;            /* largest segment seen */
	ustack_time_t lrcv_at;           /* last data received (idle test) */
	struct tcp_range dsack;          /* RFC 2883: duplicate to report */
	uint32_t snd_sml;                /* end of the last small segment
					    sent (Minshall's Nagle) */
	/* Undo of spurious reductions (RFC 3708, RFC 3522; Linux undo) */
	uint32_t prior_cwnd, prior_ssthresh;
	uint32_t undo_marker;            /* snd_una when the episode began */
	uint32_t undo_retrans;           /* retransmissions not D-SACKed */
	uint32_t rxt_tsval;              /* TSval of the episode's first
					    retransmission (Eifel) */
	uint32_t tlp_end;                /* RFC 8985 TLP.end_seq */
	uint32_t rack_edge;              /* unSACKed data below is lost */
	ustack_time_t tlp_rto_at;        /* the RTO the PTO stands in for */
	struct tcp_rack *rack;           /* RFC 8985 records and state
					    (tcp_rack.c): NULL while nothing
					    is in flight */
	uint8_t reo_wnd_mult;            /* RACK.reo_wnd_mult */
	uint8_t reo_wnd_persist;         /* RACK.reo_wnd_persist */

};

/* ---- inline helpers ----------------------------------------------------- */

/* RCV.WND as advertised. */
static inline uint32_t tcp_rcv_wnd(const struct tcp_conn *c)
{
	return seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
}

/* Sequence number one past the last byte queued to send. */
static inline uint32_t tcp_data_end(const struct tcp_conn *c)
{
	return c->snd_buf_seq + c->sbuf.len;
}

/* Our FIN has been sent (its sequence number is below snd_max). */
static inline int tcp_fin_sent(const struct tcp_conn *c)
{
	return c->fin_queued && seq_gt(c->snd_max, tcp_data_end(c));
}

/* Our FIN has been acknowledged. */
static inline int tcp_fin_acked(const struct tcp_conn *c)
{
	return c->fin_queued && seq_gt(c->snd_una, tcp_data_end(c));
}

/* Bytes sent and not yet acknowledged (FlightSize of RFC 5681). */
static inline uint32_t tcp_flight(const struct tcp_conn *c)
{
	return c->snd_max - c->snd_una;
}

/* Our TSval clock for a connection whose offset is ts_offset (RFC 7323
 * 5.4: 1 ms ticks, a random per-connection offset: tcp_ts_offset). */
static inline uint32_t tcp_ts_clock(const struct ustack *st,
				    uint32_t ts_offset)
{
	return (uint32_t)(st->now / 1000) + ts_offset; /* 1 ms clock */
}

static inline uint32_t tcp_ts_now(const struct ustack *st,
				  const struct tcp_conn *c)
{
	return tcp_ts_clock(st, c->ts_offset);
}

static inline ustack_time_t tcp_time_add(ustack_time_t now, ustack_time_t d)
{
	return d > USTACK_TIME_NEVER - now ? USTACK_TIME_NEVER : now + d;
}

/* ---- tcp_conn.c ---------------------------------------------------------- */
struct tcp_conn *tcp_conn_alloc(struct ustack *st);
/* Unlink from every table and list, cancel timers, free buffers and c. */
void tcp_conn_free(struct ustack *st, struct tcp_conn *c);
/* Insert into the 4-tuple hash, making room by evicting the oldest
 * TIME_WAIT if the table is full. -ENOBUFS (counted) if it can not. */
int tcp_hash_insert(struct ustack *st, struct tcp_conn *c);
void tcp_hash_remove(struct ustack *st, struct tcp_conn *c);
struct tcp_conn *tcp_lookup(struct ustack *st, uint32_t laddr, uint16_t lport,
			    uint32_t raddr, uint16_t rport);
/* The same, and on a miss the TIME_WAIT record for the tuple in *tw (the
 * keyed hash computed once for both tables). */
struct tcp_conn *tcp_lookup_tw(struct ustack *st, uint32_t laddr,
			       uint16_t lport, uint32_t raddr, uint16_t rport,
			       struct tcp_tw **tw);
/* The tcp.hash bucket index of a 4-tuple (keyed SipHash). */
uint64_t tcp_tuple_bucket(struct ustack *st, uint32_t laddr, uint16_t lport,
			  uint32_t raddr, uint16_t rport);
void tcp_lhash_insert(struct ustack *st, struct tcp_conn *c);
void tcp_lhash_remove(struct ustack *st, struct tcp_conn *c);
struct tcp_conn *tcp_listener_lookup(struct ustack *st, uint32_t laddr,
				     uint16_t lport);
void tcp_bhash_insert(struct ustack *st, struct tcp_conn *c);
void tcp_bhash_remove(struct ustack *st, struct tcp_conn *c);
struct tcp_conn *tcp_bhash_first(struct ustack *st, uint16_t lport);
void tcp_tw_link(struct ustack *st, struct tcp_conn *c);
void tcp_tw_unlink(struct ustack *st, struct tcp_conn *c);
/* States an orphan (closed by the application) may still be in while it
 * counts against cfg.tcp_max_orphans. */
#define TCP_ORPHAN_STATE(s)                                                    \
	((s) == USTACK_TCP_FIN_WAIT_1 || (s) == USTACK_TCP_FIN_WAIT_2 ||       \
	 (s) == USTACK_TCP_CLOSING || (s) == USTACK_TCP_LAST_ACK)
/* The application closed c: put it on the orphan list if it is still
 * closing; over cfg.tcp_max_orphans the oldest orphan is reset. */
void tcp_orphan_add(struct ustack *st, struct tcp_conn *c);
void tcp_orphan_unlink(struct ustack *st, struct tcp_conn *c);
/* RFC 6528 ISN, and the RFC 7323 7 timestamp offset, for c's 4-tuple. */
uint32_t tcp_isn(struct ustack *st, uint32_t laddr, uint16_t lport,
		 uint32_t raddr, uint16_t rport);
uint32_t tcp_ts_offset(struct ustack *st, uint32_t laddr, uint16_t lport,
		       uint32_t raddr, uint16_t rport);
/* Set up sequence numbers, MSS, window scale and RTO for a new
 * connection on c's 4-tuple (active or passive). */
void tcp_conn_start(struct ustack *st, struct tcp_conn *c);
/* RFC 7323 2.3: the smallest shift that lets a window of `space` bytes
 * be advertised (at most TCP_MAX_WSCALE). */
uint8_t tcp_wscale_for(uint32_t space);
/* "10.0.0.2:7 10.0.0.1:40000" into buf (at least 48 bytes). */
char *tcp_fmt_tuple(const struct tcp_conn *c, char *buf);

/* ---- tcp_fsm.c ------------------------------------------------------------ */
void tcp_set_state(struct ustack *st, struct tcp_conn *c, int state,
		   enum tcp_cause cause);
const char *tcp_cause_name(enum tcp_cause cause);
/* Is from -> to in the transition table? */
int tcp_transition_ok(int from, int to);
/* The table as st->tcp.fsm_ok (tcp_init). */
void tcp_fsm_init(struct ustack *st);
/*
 * The connection is over: enter CLOSED, leave the tables, stop timers,
 * drop buffers, report err (positive errno, 0 = none) to the socket. If no
 * socket owns c, c is freed: the caller must not touch it afterwards.
 */
void tcp_done(struct ustack *st, struct tcp_conn *c, int err,
	      enum tcp_cause cause);
/* Send RST (if synchronized enough to matter) and tcp_done(). */
void tcp_abort(struct ustack *st, struct tcp_conn *c, int err,
	       enum tcp_cause cause);
/* Without a socket, c becomes a TIME_WAIT record and is freed: the
 * caller must not touch it afterwards. */
void tcp_enter_time_wait(struct ustack *st, struct tcp_conn *c,
			 enum tcp_cause cause);
/* The application closed or shut down writing: queue FIN and move on. */
void tcp_close_send(struct ustack *st, struct tcp_conn *c,
		    enum tcp_cause cause);
/* Something a waiter may care about changed. */
void tcp_wakeup(struct ustack *st, struct tcp_conn *c);

/* ---- tcp_in.c ------------------------------------------------------------ */
/* The steps of RFC 9293 3.10.7.4 for synchronized states and SYN_RCVD. */
void tcp_rcv_established(struct ustack *st, struct tcp_conn *c,
			 struct tcp_seg *seg);
/* Send RST in reply to a segment for no connection (3.10.7.1). */
void tcp_reply_rst(struct ustack *st, const struct tcp_seg *seg);
/* TCP's handlers in IPv4's protocol table (tcp_in.c; tcp_init registers). */
extern const struct ip4_proto tcp_ip4_proto;
/* RFC 5961 7: send a challenge ACK unless over the per-second limit. */
void tcp_challenge_ack(struct ustack *st, struct tcp_conn *c);
/* Quick-ACK mode: the next few data segments are ACKed at once. */
void tcp_quickack_enter(struct tcp_conn *c);
/* Forget a deferred ACK of c (it leaves the tables). */
void tcp_ack_undefer(struct ustack *st, struct tcp_conn *c);
/* st->rx_batch_hook (set by tcp_init): a device read batch begins (end
 * 0) or ends (end 1: the ACKs held back for it go out). */
void tcp_rx_batch(struct ustack *st, int end);

/* ---- tcp_out.c ----------------------------------------------------------- */
/* Send what the windows, Nagle and SWS avoidance allow; ACK if pending. */
void tcp_output(struct ustack *st, struct tcp_conn *c);
void tcp_send_ack(struct ustack *st, struct tcp_conn *c);
/* SYN (SYN_SENT) or SYN-ACK (SYN_RCVD) at iss. */
void tcp_send_syn(struct ustack *st, struct tcp_conn *c);
void tcp_send_rst(struct ustack *st, struct tcp_conn *c);
/* (Re)send one segment of up to max_len data bytes starting at seq (a FIN
 * rides along if seq reaches the end of the data and it was sent before).
 * Returns the sequence space it covered (0 if nothing). */
uint32_t tcp_send_at(struct ustack *st, struct tcp_conn *c, uint32_t seq,
		     uint32_t max_len);
/* A zero-window probe (1 byte of new data, or the FIN). */
void tcp_send_probe(struct ustack *st, struct tcp_conn *c);
/* A keepalive probe: seq = snd_una - 1, no data (RFC 1122 4.2.3.6). */
void tcp_send_keepalive(struct ustack *st, struct tcp_conn *c);
/* The 16-bit window field to send now (moves rcv_adv, 3.8.6.2.2). */
uint16_t tcp_window_field(struct tcp_conn *c);
/* The application freed receive space: send a window update if the
 * right edge can move enough (receiver SWS avoidance). */
void tcp_rcv_space_update(struct ustack *st, struct tcp_conn *c);
/* A stateless segment (RST replies, SYN cookie SYN-ACKs). Returns 0 or
 * ip4_output's -errno; callers ignore it (as xmit's, tcp_out.c): a failed
 * send is a lost segment, and the peer's next segment (a retransmitted
 * SYN, another unacceptable segment) draws the reply again. */
int tcp_send_raw(struct ustack *st, uint32_t laddr, uint16_t lport,
		 uint32_t raddr, uint16_t rport, uint32_t seq, uint32_t ack,
		 uint8_t flags, uint16_t wnd, const uint8_t *opts,
		 unsigned optlen);
/* The same with the IP TTL/TOS and the state name the trace shows (a
 * TIME_WAIT record's segments, tcp_tw.c). */
struct tcp_raw_tx {
	uint8_t ttl, tos;                /* 0, 0: the defaults */
	const char *state;               /* "-" when no connection */
};
int tcp_send_raw_tx(struct ustack *st, uint32_t laddr, uint16_t lport,
		    uint32_t raddr, uint16_t rport, uint32_t seq, uint32_t ack,
		    uint8_t flags, uint16_t wnd, const uint8_t *opts,
		    unsigned optlen, const struct tcp_raw_tx *tx);

/* ---- tcp_timer.c --------------------------------------------------------- */
void tcp_timers_init(struct tcp_conn *c);
void tcp_timers_stop(struct ustack *st, struct tcp_conn *c);
/* RFC 6298 5.1/5.3: (re)start the retransmission timer at now + RTO. */
void tcp_rtx_start(struct ustack *st, struct tcp_conn *c);
void tcp_rtx_stop(struct ustack *st, struct tcp_conn *c);
/* Arm the persist timer if it is not running (zero or tiny window). */
void tcp_persist_start(struct ustack *st, struct tcp_conn *c);
void tcp_delack_schedule(struct ustack *st, struct tcp_conn *c);
void tcp_delack_cancel(struct ustack *st, struct tcp_conn *c);
/* Re-evaluate the keepalive timer (option changed, state changed). */
void tcp_keepalive_update(struct ustack *st, struct tcp_conn *c);
void tcp_wait_arm(struct ustack *st, struct tcp_conn *c, int kind,
		  ustack_time_t at);
/* RFC 6298 2.2/2.3: a new RTT sample. */
void tcp_rtt_sample(struct ustack *st, struct tcp_conn *c, ustack_time_t rtt);
/* RTO from SRTT/RTTVAR again: the backoff is over (RFC 6298 5.7). */
void tcp_rto_reset(struct ustack *st, struct tcp_conn *c);
ustack_time_t tcp_rto_clamp(const struct ustack *st, ustack_time_t rto);

/* ---- tcp_cc.c ------------------------------------------------------------ */
void tcp_cc_init(struct ustack *st, struct tcp_conn *c);
/* An ACK advanced snd_una by `acked` bytes (after snd_una moved). */
void tcp_cc_ack(struct ustack *st, struct tcp_conn *c, uint32_t acked);
/* A duplicate ACK per RFC 5681 3.2 (or new SACK information). */
void tcp_cc_dupack(struct ustack *st, struct tcp_conn *c);
/* RFC 3042 limited transmit: one new segment beyond cwnd (the first and
 * second duplicate ACKs). */
void tcp_send_limited(struct ustack *st, struct tcp_conn *c);
/* The RTO fired: RFC 5681 3.1 eq. 4, loss window. */
void tcp_cc_timeout(struct ustack *st, struct tcp_conn *c);
/* RFC 5681 4.1: about to send new data. */
void tcp_cc_before_send(struct ustack *st, struct tcp_conn *c);
/* Merge SACK blocks from a segment into the scoreboard. Returns 1 if the
 * scoreboard grew. */
int tcp_sack_update(struct tcp_conn *c, const struct tcp_opts *o);
/* Drop scoreboard entries below snd_una. */
void tcp_sack_trim(struct tcp_conn *c);
/* Spurious reduction: back to the prior cwnd/ssthresh (rto: after an
 * RTO, no go-back-N). */
void tcp_cc_undo(struct ustack *st, struct tcp_conn *c, int rto);

/* tcp_cubic.c: RFC 9438 (the choice is cfg.tcp_congestion; tcp_cc.c
 * calls these only for CUBIC). */
int tcp_cubic_ca(struct ustack *st, struct tcp_conn *c, uint32_t acked);
int tcp_cubic_loss(struct tcp_conn *c, uint32_t flight, uint32_t *ssthresh);
void tcp_cubic_rto(struct tcp_conn *c);
void tcp_cubic_reset(struct tcp_conn *c);
void tcp_cubic_undo_start(struct tcp_conn *c);
void tcp_cubic_undo(struct tcp_conn *c);
void tcp_cubic_free(struct tcp_conn *c);
size_t tcp_cubic_mem(const struct tcp_conn *c);
/* A D-SACK in o (RFC 2883): count it against the episode's
 * retransmissions; undo when all were duplicates (RFC 3708). */
void tcp_dsack_rcv(struct ustack *st, struct tcp_conn *c,
		   const struct tcp_opts *o, uint32_t ack);
/* RFC 8985 7.2: arm the probe timeout in place of the RTO when it
 * comes first and a tail loss probe may go. */
void tcp_tlp_arm(struct ustack *st, struct tcp_conn *c);
/* RFC 8985 7.3: the probe timeout fired. */
void tcp_tlp_fire(struct ustack *st, struct tcp_conn *c);
/* RFC 8985 7.4 and 6.2: an ACK arrived (after the scoreboard took its
 * SACK blocks). Returns 1 when it showed data lost below the probe. */
int tcp_tlp_ack(struct ustack *st, struct tcp_conn *c,
		const struct tcp_seg *seg);
/* RACK found segments lost (tcp_rack_detect): enter SACK recovery if
 * not in it yet. */
void tcp_cc_rack_lost(struct ustack *st, struct tcp_conn *c);
/* The lost edge of RFC 6675 IsLost() (DupThresh) for tcp_rack_detect. */
uint32_t tcp_sack_lost_edge(const struct tcp_conn *c);
/* The RACK reorder timer fired. */
void tcp_rack_reo_fire(struct ustack *st, struct tcp_conn *c);
/* RFC 6675 transmission during SACK recovery. */
void tcp_sack_output(struct ustack *st, struct tcp_conn *c);
/* Going back over sent data: the end of the SACKed range holding seq (or
 * seq, with *room cut to reach no SACKed range). */
uint32_t tcp_sack_skip(const struct tcp_conn *c, uint32_t seq,
		       uint32_t *room);
/* RFC 6675 IsLost(HighACK + 1): enough SACKed above snd_una. */
int tcp_sack_is_lost_head(const struct tcp_conn *c);

/* ---- tcp_rack.c ---------------------------------------------------------- */
/* [seq, seq + len) (sequence space, FIN included) was just sent. */
void tcp_rack_sent(struct ustack *st, struct tcp_conn *c, uint32_t seq,
		   uint32_t len);
/* An ACK (scoreboard updated, snd_una not yet moved): RACK_update(). */
void tcp_rack_ack(struct ustack *st, struct tcp_conn *c,
		  const struct tcp_seg *seg);
/* snd_una moved: forget acknowledged records (free them all when none
 * is left). */
void tcp_rack_trim(struct tcp_conn *c);
void tcp_rack_free(struct tcp_conn *c);
size_t tcp_rack_mem(const struct tcp_conn *c);
/* Mark losses (RACK, and DupThresh below dupthresh_edge), arm the
 * reorder timer; returns the segments newly marked lost. */
unsigned tcp_rack_detect(struct ustack *st, struct tcp_conn *c,
			 uint32_t dupthresh_edge);
/* A D-SACK arrived / a recovery ended (reordering window, 6.2 step 4). */
void tcp_rack_dsack(struct tcp_conn *c);
void tcp_rack_recovery_done(struct tcp_conn *c);
int tcp_rack_next_lost(const struct tcp_conn *c, uint32_t *seq,
		       uint32_t *len);
int tcp_rack_has_lost(const struct tcp_conn *c);
/* SetPipe() from the marks; -1 without records. */
int64_t tcp_rack_pipe(const struct tcp_conn *c);
/* An RTO: lost marks cleared (everything goes again). */
void tcp_rack_rto(struct tcp_conn *c);

/* ---- tcp_opt.c ----------------------------------------------------------- */
/* Parse options (opt..opt+len). Returns 0, or -1 when malformed. */
int tcp_opt_parse(const uint8_t *opt, unsigned len, int syn,
		  struct tcp_opts *o);
/* Options for our SYN or SYN-ACK into p (<= 40 bytes); returns length. */
unsigned tcp_opt_build_syn(struct ustack *st, const struct tcp_conn *c,
			   uint8_t *p);
/* The same without a TCB (SYN cookies). ws < 0: no window scale. */
unsigned tcp_opt_build_syn_raw(uint8_t *p, uint16_t mss, int ws, int sack,
			       int ts, uint32_t tsval, uint32_t tsecr);
/* Options for other segments (timestamps, SACK blocks if with_sack). */
unsigned tcp_opt_build(struct ustack *st, const struct tcp_conn *c,
		       uint8_t *p, int with_sack);
/* Length tcp_opt_build() would produce. */
unsigned tcp_opt_len(const struct tcp_conn *c, int with_sack);
/* The peer's SYN options (and its unscaled window) applied to c. */
void tcp_opt_apply_syn(struct ustack *st, struct tcp_conn *c,
		       const struct tcp_opts *o, uint16_t wnd);

/* ---- tcp_buf.c ----------------------------------------------------------- */
void tcp_ring_free(struct tcp_ring *r);
/* The out-of-line OOO islands and SACK scoreboard: made on first use,
 * released when empty (an idle TCB holds neither). */
int tcp_score_alloc(struct tcp_conn *c);
void tcp_score_release(struct tcp_conn *c);
void tcp_ooo_release(struct tcp_conn *c);
size_t tcp_conn_mem(const struct tcp_conn *c);
/* Make room for `need` bytes from head (need <= bound). 0 or -ENOMEM. */
int tcp_ring_reserve(struct tcp_ring *r, uint32_t need, uint32_t bound);
void tcp_ring_write(struct tcp_ring *r, uint32_t off, const void *src,
		    uint32_t n);
/* Where n bytes from off lie: *p0 (*n0 bytes), then the rest from
 * r->buf (the ring wrapped); no copy. */
void tcp_ring_peek(const struct tcp_ring *r, uint32_t off, uint32_t n,
		   const uint8_t **p0, uint32_t *n0);
void tcp_ring_read(const struct tcp_ring *r, uint32_t off, void *dst,
		   uint32_t n);
void tcp_ring_consume(struct tcp_ring *r, uint32_t n);
/* Queue application data to send; returns bytes taken (may be 0). */
uint32_t tcp_sbuf_append(struct ustack *st, struct tcp_conn *c,
			 const void *buf, uint32_t len);
/* The peer acknowledged up to snd_una: drop acked bytes. */
void tcp_sbuf_ack(struct tcp_conn *c);
/*
 * Data from seg at sequence seg->seq (already trimmed to the window):
 * in order -> rbuf, else an out-of-order island. Returns 1 if it was in
 * order, 0 if queued out of order, -1 if dropped (counted).
 */
int tcp_rcv_data(struct ustack *st, struct tcp_conn *c,
		 const struct tcp_seg *seg);
/* SACK blocks to report (most recent first, RFC 2018 4). */
unsigned tcp_sack_blocks(const struct tcp_conn *c, struct tcp_range *out,
			 unsigned max);
void tcp_ooo_purge(struct tcp_conn *c);
/* RFC 2883: [l, r) arrived twice; report it in the next ACK. */
void tcp_dsack_note(struct ustack *st, struct tcp_conn *c, uint32_t l,
		    uint32_t r);
/* Free space in the receive buffer for the window (3.8.6.2.2). */
uint32_t tcp_rcv_space(const struct tcp_conn *c);

/* ---- tcp_listen.c -------------------------------------------------------- */
void tcp_listen_input(struct ustack *st, struct tcp_conn *lc,
		      struct tcp_seg *seg);
/* A child reached ESTABLISHED: move it to the accept queue. Returns 0, or
 * -1 when the accept queue is full (the ACK is dropped, counted). */
int tcp_child_established(struct ustack *st, struct tcp_conn *c);
/* Remove a child from its listener's queues. */
void tcp_child_unlink(struct ustack *st, struct tcp_conn *c);
/* Close a listener: abort every child. */
void tcp_listen_close(struct ustack *st, struct tcp_conn *lc);
/* RFC 6191 / RFC 1122 4.2.2.13: may a SYN reopen a TIME_WAIT 4-tuple
 * whose old incarnation had these values? Returns its listener (and the
 * new ISS in *iss), or NULL. */
struct tcp_conn *tcp_timewait_syn_ok(struct ustack *st, int ts_ok,
				     uint32_t ts_recent, uint32_t rcv_nxt,
				     uint32_t snd_nxt, const struct tcp_seg *seg,
				     uint32_t *iss);
/* The TIME_WAIT is gone: open the new incarnation from lc. */
void tcp_timewait_reopen(struct ustack *st, struct tcp_conn *lc,
			 struct tcp_seg *seg, uint32_t iss);
/* The same for a TIME_WAIT that is still a full TCB (its socket is
 * open). Returns 1 if it was accepted (tw ended, a new child made). */
int tcp_timewait_syn(struct ustack *st, struct tcp_conn *tw,
		     struct tcp_seg *seg);

/* ---- tcp_tw.c ------------------------------------------------------------ */
/* c (in TIME_WAIT, no socket, no listener) becomes a compact record and
 * is freed. Keeps c (returns -1) if no memory for the record. */
int tcp_tw_convert(struct ustack *st, struct tcp_conn *c);
/* The record for a 4-tuple, given the tuple's tcp.hash bucket index. */
struct tcp_tw *tcp_tw_find(struct ustack *st, uint64_t h, uint32_t laddr,
			   uint16_t lport, uint32_t raddr, uint16_t rport);
/* RFC 9293 3.10.7.4 in TIME_WAIT, for a record (tcp_in.c's
 * rcv_time_wait for a TCB). */
void tcp_tw_input(struct ustack *st, struct tcp_tw *tw, struct tcp_seg *seg);
/* End the oldest record (table full). -1 if none. */
int tcp_tw_evict(struct ustack *st);
/* Expiry of the oldest record (USTACK_TIME_NEVER if none). */
ustack_time_t tcp_tw_oldest_at(const struct ustack *st);
/* Records on local port `port` (and, raddr != 0, towards raddr:rport
 * from laddr: an exact 4-tuple). */
uint32_t tcp_tw_port_count(const struct ustack *st, uint16_t port);
int tcp_tw_rows(struct ustack *st, struct ustack_conn_info *out, int max,
		int n);
size_t tcp_tw_mem(void);
void tcp_tw_fini(struct ustack *st);

#endif
