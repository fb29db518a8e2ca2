/*
 * tcp_test.h - helpers shared by the check_tcp_*.c suites: the test plays
 * the peer (10.0.0.1) one segment at a time against the stack (10.0.0.2)
 * on the test bed, in virtual time, packetdrill style:
 *
 *   tt_send(t, .flags = "S", .seq = 1000, .win = 65535); // peer's SYN
 *   tt_expect(t, "S.", &s);                   // stack answers SYN-ACK
 *   ck_assert_uint_eq(s.ack, 1001);
 *   tt_expect_none(t);
 *
 * Defined in tests/lib/tcp_test.c (part of the test library every suite
 * links).
 */
#ifndef USTACK_TESTS_TCP_TEST_H
#define USTACK_TESTS_TCP_TEST_H

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/socket.h>

#include "core/stack.h"
#include "lib/pkt.h"
#include "lib/testbed.h"
#include "proto/tcp_int.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define TT_PEER_PORT 40000
#define TT_PORT 7

struct tt {
	struct tb *tb;
	uint16_t port;          /* the stack's port */
	uint16_t pport;         /* the peer's port */
	uint8_t opts[40];       /* options for the next tt_in */
	uint8_t optlen;
};

/* A segment the stack sent. */
struct tt_seg {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;
	uint16_t sport, dport;
	uint32_t len;
	uint8_t data[65536];
	struct tcp_opts opt;
	uint32_t ip_dst;
	ustack_time_t at;
	int csum_ok;
	unsigned hlen;
};

struct sockaddr_in tt_sin(uint32_t addr, uint16_t port);
uint8_t tt_flags(const char *f);
struct tt *tt_new_cfg(const struct ustack_config *cfg);
struct tt *tt_new(void);
void tt_free(struct tt *t);
struct ustack *tt_st(struct tt *t);

/* ---- options for the next injected segment ------------------------------ */

void tt_opt_clear(struct tt *t);
void tt_opt_raw(struct tt *t, const uint8_t *o, unsigned n);
void tt_opt_mss(struct tt *t, uint16_t mss);
void tt_opt_ws(struct tt *t, uint8_t shift);
void tt_opt_sackok(struct tt *t);
void tt_opt_ts(struct tt *t, uint32_t val, uint32_t ecr);
void tt_opt_sack(struct tt *t, const uint32_t *edges, unsigned nblocks);

/* ---- segments in ----------------------------------------------------------- */

/* The peer sends a segment; options set with tt_opt_* are used once. */
void tt_in_full(struct tt *t, uint32_t sip, uint16_t sport, uint16_t dport,
		uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
		const void *data, size_t len, int bad_csum);
/* A segment from the peer by field name, for tt_send(): what is left out
 * is zero (no ACK number, no data). */
struct tt_in_seg {
	const char *flags;      /* "S", "S.", ".", "F.", "R", "P." ... */
	uint32_t seq, ack;
	uint16_t win;
	const void *data;
	size_t len;
};

/* tt_send(t, .flags = "S", .seq = 1000, .win = 65535): the peer sends it
 * (options set with tt_opt_* are used once). */
#define tt_send(t, ...) tt_seg_in((t), &(struct tt_in_seg){__VA_ARGS__})
void tt_seg_in(struct tt *t, const struct tt_in_seg *s);
void tt_in(struct tt *t, const char *flags, uint32_t seq, uint32_t ack,
	   uint16_t win, const void *data, size_t len);

/* ---- segments out ---------------------------------------------------------- */

/* Next TCP segment the stack sent (other frames skipped); 0 if none. */
int tt_out(struct tt *t, struct tt_seg *s);
const char *tt_flagstr(uint8_t f, char *b);

/* The stack must have sent a segment with exactly these flags (PSH is
 * ignored unless asked for). */
void tt_expect(struct tt *t, const char *flags, struct tt_seg *s);
void tt_expect_none(struct tt *t);
void tt_advance(struct tt *t, ustack_time_t us);
uint64_t tt_stat(struct tt *t, enum ustack_stat_id id);

/* ---- sockets ---------------------------------------------------------------- */

int tt_listen(struct tt *t, uint16_t port, int backlog);
int tt_accept(struct tt *t, int lsd);

/* The TCB behind a socket (white-box checks). */
struct tcp_conn *tt_conn(struct tt *t, int sd);
int tt_state(struct tt *t, int sd);

/* The TCB for the test's 4-tuple, wherever it is (orphans too). */
struct tcp_conn *tt_find(struct tt *t);
/* The state of the test connection's 4-tuple: its TCB's, TIME_WAIT for a
 * compact TIME_WAIT record (tcp_tw.c), CLOSED when there is neither. */
int tt_find_state(struct tt *t);
int tt_so_error(struct tt *t, int sd);
short tt_poll(struct tt *t, int sd, short events);

/*
 * A passive open on t->port without options: SYN seq `irs`, SYN-ACK
 * checked, ACK, accept. Returns the accepted sd; *iss gets the stack's ISS.
 * The listening sd goes to *lsd when not NULL.
 */
int tt_passive(struct tt *t, uint32_t irs, uint16_t win, uint32_t *iss,
	       int *lsd);

/*
 * An active open from the stack to the peer's t->pport: connect, SYN,
 * SYN-ACK from the peer with ISS `piss` (and whatever options were set with
 * tt_opt_*), ACK. Sets t->port to the stack's ephemeral port. Returns the
 * sd; *iss gets the stack's ISS.
 */
int tt_active(struct tt *t, uint32_t piss, uint16_t win, uint32_t *iss);

/* Config with the TCP options off (plain segments in tests). */
void tt_config_plain(struct ustack_config *cfg);

#endif
