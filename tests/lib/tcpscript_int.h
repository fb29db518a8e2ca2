/*
 * tcpscript_int.h - internals shared by tcpscript.c (the runner: lines,
 * time, socket calls) and tcpscript_seg.c (segments: parse a spec, build
 * an inbound frame, decode an outbound one, compare, check invariants).
 * Only the harness includes this; tests use tcpscript.h.
 *
 * Sequence numbers in scripts are relative, as in packetdrill: what the
 * peer (the script) sends is relative to the peer's ISN, what the stack
 * sends is relative to the ISS learned from the stack's SYN (absolute
 * while no SYN was seen, e.g. a RST from a closed port).
 */
#ifndef USTACK_TESTS_TCPSCRIPT_INT_H
#define USTACK_TESTS_TCPSCRIPT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <ustack/ustack.h>

#define TS_MAX_OPTS 16
#define TS_MAX_SOCKS 16
#define TS_MAX_CTX 8
#define TS_ERR_MAX 4096

/* One TCP option in a script or decoded from a frame. */
enum ts_optkind { TO_NOP, TO_EOL, TO_MSS, TO_WS, TO_SACKOK, TO_TS, TO_SACK,
		  TO_RAW };

struct ts_opt {
	uint8_t kind;            /* enum ts_optkind */
	uint8_t any_a, any_b;    /* '*': value a (TS val) / b (ecr) not checked */
	uint8_t echo_b;          /* inbound "ecr *": the stack's last TSval
				    (plus b: "ecr *-N" gives b = -N) */
	uint8_t nblk;            /* SACK blocks */
	uint32_t a, b;           /* MSS, shift, TS val / ecr */
	uint32_t blk[8];         /* SACK edges, relative */
	uint8_t raw[40];         /* TO_RAW bytes, verbatim */
	uint8_t rawlen;
};

/* A segment: a script's spec, or an outbound frame decoded (relative). */
struct ts_seg {
	uint8_t flags;
	uint8_t any_seq;
	uint32_t seq, len;       /* relative sequence, data length */
	uint8_t has_ack, any_ack;
	uint32_t ack;
	uint8_t has_win, any_win;
	uint32_t win;
	uint8_t has_urg;
	uint16_t urg;
	uint8_t has_opts;        /* <...> given: the list is checked exactly */
	uint8_t nopts;
	struct ts_opt opts[TS_MAX_OPTS];
	uint8_t bad_csum;        /* inbound: corrupt the checksum */
	uint16_t sport, dport;   /* decoded only */
	uint32_t abs_seq, abs_ack;
	const uint8_t *data;     /* decoded only: payload */
	unsigned optlen;         /* decoded only: bytes of options */
};

/*
 * One connection as the peer sees it, keyed by the peer's port. Holds the
 * bases for relative numbers and what invariants need (negotiated
 * options, the windows offered both ways, the clock of the stack).
 */
struct ts_ctx {
	int used;
	uint16_t pport, lport;       /* peer port; stack port (0 unknown) */
	uint32_t peer_isn;           /* base of the peer's sequence space */
	uint32_t iss;                /* base of the stack's (0 until a SYN) */
	int iss_known;
	uint32_t prev_iss_end;       /* highest stack seq of the previous
					incarnation (for iss_advance()) */
	int have_prev;
	uint32_t peer_syn_seq;       /* the peer's last SYN (its IRS) */
	/* negotiated, from the two SYNs */
	int peer_syn_seen, stack_syn_seen;
	uint32_t peer_mss;           /* 536 when the SYN had none */
	int peer_ws, stack_ws;       /* -1: no option */
	int peer_ts, stack_ts;       /* TSopt in each SYN */
	int peer_sackok, stack_sackok;
	/* invariants */
	uint32_t stack_max_seq;      /* highest stack seq + len sent */
	int stack_sent;
	uint32_t last_tsval;         /* the stack's last TSval */
	int tsval_seen;
	uint32_t rcv_edge;           /* stack's right edge: ack + wnd */
	int rcv_edge_known;
	uint32_t peer_edge;          /* peer's right edge (largest offered) */
	int peer_edge_known;
	uint32_t peer_wnd;           /* last window the peer offered (bytes) */
	uint32_t peer_max;           /* highest peer seq + len sent */
	int peer_sent;
};

/* A socket of the script's application, by name. */
struct ts_sock {
	int used;
	char name[24];
	int sd;
	int ctx;                 /* index of the connection it belongs to */
	uint32_t woff, roff;     /* stream offsets written / read */
	int rbase_set;
	uint32_t rbase;          /* peer stream index of its first byte */
};

/* ---- tcpscript.c: what the runner offers the other parts ----------------- */
struct ts_run;
struct ts_ctx *ts_cur(struct ts_run *r);
int ts_fail(struct ts_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
struct ustack *ts_stack(struct ts_run *r);
/* Make the connection with this peer port current (created if new). */
int ts_ctx_select(struct ts_run *r, uint16_t pport);
int ts_ctx_find(struct ts_run *r, uint16_t pport);
struct ts_ctx *ts_ctx_at(struct ts_run *r, int i);
int ts_cur_index(struct ts_run *r);
struct ts_sock *ts_sock_table(struct ts_run *r);   /* TS_MAX_SOCKS */

/* ---- tcpscript_call.c ------------------------------------------------------ */
/* "name(args) OP result": one call of the application. */
int ts_call(struct ts_run *r, const char *text);

/* ---- tcpscript_seg.c --------------------------------------------------- */

/* Parse "FLAGS SEQ:END(LEN) [ack N] [win N] [urg N] [badcsum] [<opts>]"
 * (outbound lines may use '*' for seq, ack and win). Returns 0 or -1
 * with *err set. */
int ts_seg_parse(const char *s, int outbound, struct ts_seg *seg,
		 const char **err);
/* "S.", "P.", "F." ... */
const char *ts_flags_str(uint8_t f, char *buf);
/* packetdrill-like text of a segment (relative numbers). */
void ts_seg_format(const struct ts_seg *s, char *buf, size_t n);
/* Build the frame of an inbound segment for ctx into f; returns length. */
size_t ts_seg_build(struct ts_ctx *c, const struct ts_seg *s, uint8_t *f);
/*
 * An outbound frame (Ethernet) of the stack: decode into out relative to
 * ctx (learning ISS/ports from a SYN). Returns 1 if it is TCP, 0 if not
 * TCP, -1 if malformed (err set).
 */
int ts_seg_decode(struct ts_ctx *c, const uint8_t *f, size_t len,
		  struct ts_seg *out, char *err, size_t errlen);
/* Compare a decoded segment with an expectation: 0, or -1 with what
 * differs in why. */
int ts_seg_match(const struct ts_ctx *c, const struct ts_seg *want,
		 const struct ts_seg *got, char *why, size_t n);
/* RFC invariants on every segment the stack sends; -1 with why. */
int ts_seg_invariants(struct ts_ctx *c, const struct ts_seg *got,
		      int check_shrink, char *why, size_t n);
/* Book-keeping after a segment went either way (edges, clocks). */
void ts_seg_note_out(struct ts_ctx *c, const struct ts_seg *got);
void ts_seg_note_in(struct ts_ctx *c, const struct ts_seg *s);
/* The data patterns: byte i of the peer's / the stack's stream. */
uint8_t ts_peer_byte(uint32_t i);
uint8_t ts_stack_byte(uint32_t i);
/* ICMP error quoting a stack segment with relative seq. */
size_t ts_icmp_build(struct ts_ctx *c, uint8_t type, uint8_t code,
		     uint16_t mtu, uint32_t rel_seq, uint8_t *f);

#endif
