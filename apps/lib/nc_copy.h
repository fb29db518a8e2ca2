/*
 * nc_copy.h - ustack-nc's copy, written once: stdin -> socket -> stdout
 * through two buffers, the half-close after the end of stdin, UDP's
 * first-sender-is-the-peer. ustack-nc (apps/nc.c) runs it live on its
 * event loop with stdin and stdout; ustack-replay (apps/replay/services.c)
 * runs the same code in virtual time with a case's text as stdin and a
 * sink as stdout, so a replayed stack sees the socket calls, in the same
 * order, that the recorded one saw. Each program keeps its own set-up
 * (connect, listen) and its own wait (poll set, timeouts).
 */
#ifndef USTACK_APPS_NC_COPY_H
#define USTACK_APPS_NC_COPY_H

#include <stddef.h>

#include <ustack/socket.h>
#include <ustack/ustack.h>

#define NC_BUF (1u << 20)      /* each way: large transfers move in big chunks */
#define NC_UDP_MAX 65507       /* the largest UDP payload over IPv4 */

struct nc_buf {
	char *p;               /* NC_BUF bytes, the caller's */
	size_t len, off;       /* valid bytes, bytes already consumed */
};

/* The program's side. Both return a byte count, -EAGAIN for "not now",
 * or another -errno. read_in returns 0 at the end of stdin; an error
 * there ends stdin too (the callback reports it). A write_out error ends
 * the copy with -EPIPE. */
struct nc_io {
	long (*read_in)(void *ctx, void *p, size_t cap);
	long (*write_out)(void *ctx, const void *p, size_t len);
	void *ctx;
};

struct nc_copy {
	struct ustack *st;
	int sd;
	int udp;               /* -u: each read from stdin is one datagram */
	int no_stdin;          /* -d: never read stdin, never half-close */
	int keep_sending;      /* -K: after the peer's FIN, send until EOF */
	int verbose;           /* -v: say on stderr who the UDP peer is */
	int udp_peer;          /* UDP: the socket is connected to a peer */
	int in_eof, net_eof, shut_sent;
	struct nc_buf to_net, to_out;
	struct nc_io io;
};

/* Ready to copy on a connected (or bound UDP) socket: state cleared, the
 * buffers and callbacks kept. */
void nc_copy_start(struct nc_copy *c);

/* One pass: stdin -> to_net -> socket -> to_out -> stdout, without
 * waiting. Returns >0 if anything moved, 0 if nothing could, or -errno
 * (the connection failed, or -EPIPE from stdout). Callers repeat it
 * while it returns >0, then wait. */
int nc_pump(struct nc_copy *c);

/* Read stdin now? Not after its end, not in UDP while a datagram waits or
 * before there is a peer, and not once the peer closed (unless -K). */
int nc_want_stdin(const struct nc_copy *c);

/* TCP: the peer closed, everything received is written out and what was
 * read from stdin is sent (with -K: all of stdin). UDP has no end of its
 * own (ustack-nc adds its idle time). */
int nc_tcp_finished(const struct nc_copy *c);

/* Both buffers empty. */
int nc_drained(const struct nc_copy *c);

#endif
