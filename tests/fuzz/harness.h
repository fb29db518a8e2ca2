/*
 * harness.h - what the fuzz targets share: a stack on a checking sink
 * device in virtual time, its sockets served after every event the way
 * small servers would, TCP connections hand-driven into every state the
 * state machine has, and the decoding of fuzz input into frames.
 *
 * Everything is rebuilt for every input (fz_new ... fz_free), so an input
 * always meets the same stack: same seed, same clock, same connections.
 * The sink device checks every frame the stack sends (IPv4 header and
 * transport checksums, lengths) and aborts on a malformed one: a fuzz
 * input that makes the stack emit garbage is a crash like any other.
 *
 * The stack is 10.0.0.2 (02:00:00:00:00:02), the peer 10.0.0.1
 * (02:00:00:00:00:01), as in the replay cases, so frames from the replay
 * corpus are meaningful seeds.
 */
#ifndef USTACK_FUZZ_HARNESS_H
#define USTACK_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <ustack/ustack.h>

#define FZ_STACK_IP 0x0a000002u
#define FZ_PEER_IP 0x0a000001u
#define FZ_MAX_SOCKS 48
#define FZ_MAX_CONNS 16
#define FZ_FRAME_MAX 9000

extern const uint8_t FZ_STACK_MAC[6];
extern const uint8_t FZ_PEER_MAC[6];

/* What the harness does with a socket after every event. */
enum fz_role {
	FZ_FREE = 0,
	FZ_LISTEN,     /* accept; the new socket gets the listener's child role */
	FZ_ECHO,       /* TCP/UDP: read everything, send it back */
	FZ_SINK,       /* read everything; close on end of stream */
	FZ_IDLE,       /* never touched (keeps CLOSE_WAIT, fills windows) */
};

struct fz_sock {
	int sd;
	enum fz_role role, child;    /* child: role of accepted sockets */
};

/* A TCP connection the harness drove into a known state. */
struct fz_conn {
	const char *state;           /* what the set-up left it in */
	uint16_t lport, pport;       /* ours, the peer's */
	uint32_t snd_nxt;            /* the stack's next sequence number */
	uint32_t rcv_nxt;            /* the peer's next sequence number */
	int ts;                      /* timestamps negotiated */
};

struct fz {
	struct ustack *st;
	ustack_time_t now;
	struct fz_sock socks[FZ_MAX_SOCKS];
	struct fz_conn conns[FZ_MAX_CONNS];
	int nconns;
	uint32_t peer_ts;            /* the peer's timestamp clock */
	/* the last TCP segment the stack sent (set-up bookkeeping) */
	uint16_t last_sport, last_dport;
	uint32_t last_tsval;
	uint32_t last_seq, last_end, last_ack;
	uint8_t last_flags;
	uint64_t frames_out;
	int track;                   /* conns follow the stack's segments
					(FZ_SETUP_BARE: the API target) */
};

/* Set-ups. */
enum fz_setup {
	FZ_SETUP_SERVERS,  /* inetd-like services and one connect in flight */
	FZ_SETUP_STATES,   /* plus a connection in every TCP state */
	FZ_SETUP_BARE,     /* no sockets; conns[] track the stack's segments */
};

/* Create the stack and drive it into the set-up. Aborts on failure (a
 * set-up that fails is a harness bug or a regression, not an input). */
void fz_new(struct fz *z, enum fz_setup setup);
void fz_free(struct fz *z);

/* Feed one frame at the current time; timers and sockets then run. */
void fz_input(struct fz *z, const uint8_t *frame, size_t len);
/* Queue a frame on the device; fz_flush() has the stack read every
 * queued frame in one device read batch (ustack_poll_dev: software GRO,
 * the batch's ACKs), then runs the timers and the services. */
void fz_queue(struct fz *z, const uint8_t *frame, size_t len);
void fz_flush(struct fz *z);
/* Move the clock forward by us, firing timers at their deadlines. */
void fz_advance(struct fz *z, ustack_time_t us);

/* The peer opens a connection to lport from pport (SYN; with timestamps
 * if ts): returns its index in conns[]. */
int fz_conn_open(struct fz *z, uint16_t lport, uint16_t pport, int ts);
/* The peer sends an in-sequence segment on conns[i], acknowledging
 * everything the stack sent (len <= 1400). */
void fz_conn_send(struct fz *z, int i, uint8_t flags, uint16_t win,
		  const void *data, size_t len);

/*
 * Turn fuzz bytes into one frame (returns its length, 0 for none). The
 * first byte chooses how the rest is read, so the fuzzer reaches deep
 * states without having to forge checksums or guess sequence numbers:
 *   0  a raw Ethernet frame
 *   1  an IPv4 packet: Ethernet header added, IPv4 and transport
 *      checksums filled in
 *   2  a TCP segment on connection (b1 % nconns): seq and ack relative to
 *      the connection's (be32 b2..5, b6..9), flags b10, window b11..12,
 *      option length b13 % 44, options, payload; addresses, ports and
 *      checksum filled in
 *   3  a UDP datagram to port be16 b1..2 (from b3..4), payload, checksum
 *   4  an ICMP message type b1 code b2 rest-of-header b3..6 quoting a
 *      segment of connection (b7 % nconns), seq offset be32 b8..11
 *   5  an ARP packet: op b1, sender/target fields from the input
 * Other values: like 0.
 */
size_t fz_build(struct fz *z, const uint8_t *in, size_t n, uint8_t *out,
		size_t cap);

/* Fill in the IPv4 header checksum and the TCP/UDP/ICMP checksum of an
 * Ethernet frame, where the lengths allow. */
void fz_fix_checksums(uint8_t *f, size_t len);

/* The entry points the targets define (one per target binary under
 * libFuzzer; all of them in the regression driver). */
int fz_frame_one(const uint8_t *data, size_t size);
int fz_seq_one(const uint8_t *data, size_t size);
int fz_api_one(const uint8_t *data, size_t size);

#endif
