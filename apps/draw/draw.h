/*
 * draw.h - what the parts of ustack-draw share: a TCP connection as read
 * from a capture (capture.c), the --trace log's transitions (trace.c), the
 * SVG writer (svg.c) and the three pictures (ladder.c, tseq.c, states.c).
 * An ordinary program: public headers and libpcap only.
 */
#ifndef USTACK_DRAW_H
#define USTACK_DRAW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../lib/wire.h"   /* TH_* flags and header layouts */

#define SEG_MAX_SACK 4

/* What the analysis made of a segment (capture.c, conn_analyse). */
enum seg_kind {
	SEG_NORMAL = 0,
	SEG_RETRANS,      /* data, SYN or FIN below the highest sent before */
	SEG_DUP,          /* the same frame again (same IP id): a network copy */
	SEG_OUT_OF_WINDOW,/* outside the receiver's window: dropped there */
	SEG_DUPACK,       /* a pure ACK repeating the last one (Wireshark's) */
};

/* One TCP segment of a connection. dir: 0 from endpoint 0, 1 from 1. */
struct seg {
	uint64_t t_us;            /* capture time stamp */
	uint32_t frame;           /* frame number in the capture, from 1 */
	int dir;
	uint32_t seq, ack;        /* absolute */
	uint16_t win;             /* the field as sent (unscaled) */
	uint8_t flags;            /* TH_* */
	uint16_t ip_id;
	uint32_t len;             /* payload bytes */
	uint32_t payload_hash;    /* of the captured payload (duplicates) */
	/* options (RFC 9293 3.2, RFC 7323, RFC 2018) */
	int mss;                  /* -1 absent */
	int wscale;               /* -1 absent */
	int sack_ok;
	int has_ts;
	uint32_t tsval, tsecr;
	int nsack;
	uint32_t sack[SEG_MAX_SACK][2]; /* absolute left, right edges */
	/* analysis */
	enum seg_kind kind;
	int dupack_n;             /* SEG_DUPACK: 1, 2, 3 ... */
};

/* One TCP connection: endpoint 0 is the side that opened it (sent the first
 * SYN) when the capture shows that, else the first sender. */
struct conn {
	uint32_t addr[2];         /* host order */
	uint16_t port[2];
	struct seg *v;
	size_t n, cap;
	uint32_t isn[2];          /* relative sequence numbers start here */
	int wscale[2];            /* shift applied to each side's windows, or 0 */
	uint64_t bytes[2];        /* payload bytes sent (first copies only) */
	int syn_seen[2];
	int ended;                /* both FINs or an RST seen */
};

struct capture {
	struct conn *c;
	size_t n, cap;
	uint64_t frames, non_tcp;
};

/* capture.c */
int capture_read(const char *path, struct capture *cap, char *err,
		 size_t errlen);
void capture_free(struct capture *cap);
void conn_analyse(struct conn *c);
uint32_t seg_rel_seq(const struct conn *c, const struct seg *s);
uint32_t seg_rel_ack(const struct conn *c, const struct seg *s);
uint32_t seg_seglen(const struct seg *s);
const char *seg_kind_name(enum seg_kind k);
char *seg_flags_str(uint8_t flags, char *buf, size_t len);
char *seg_opts_str(const struct conn *c, const struct seg *s, char *buf,
		   size_t len);
char *fmt_ep(uint32_t addr, uint16_t port, char *buf); /* >= 22 bytes */

/* trace.c: the transitions of one connection in a --trace log */
struct transition {
	uint64_t t_us;            /* 0 when the line had no time */
	int from, to;             /* enum ustack_tcp_state */
	char cause[24];
};

struct trace {
	uint32_t laddr, raddr;    /* host order: ustack's side, the peer */
	uint16_t lport, rport;
	struct transition *v;
	size_t n, cap;
};

int trace_read(const char *path, const struct conn *c, struct trace *tr,
	       char *err, size_t errlen);
void trace_free(struct trace *tr);
int state_from_name(const char *s);

/* svg.c */
struct svg {
	FILE *f;
	int w, h;
};
int svg_open(struct svg *s, const char *path, int w, int h, const char *title,
	     const char *style);
int svg_close(struct svg *s);
void svg_text_esc(FILE *f, const char *s);
void svg_printf_esc(FILE *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* the pictures */
struct ladder_opts {
	const char *trace;        /* --trace LOGFILE or NULL */
	size_t max_segments;      /* --max-segments K */
	const char *source;       /* capture file name, for the title */
};
int draw_ladder(const struct conn *c, const struct ladder_opts *o,
		const char *out, char *err, size_t errlen);
int draw_tseq(const struct conn *c, const char *source, const char *out,
	      char *err, size_t errlen);
#define STATES_SVG 0
#define STATES_DOT 1
#define STATES_TEXT 2
int draw_states(const char *counts, int format, const char *out,
		char *err, size_t errlen);

#endif
