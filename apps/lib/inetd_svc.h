/*
 * inetd_svc.h - the small services of ustack-inetd (TCP echo, discard,
 * daytime, chargen; UDP echo and discard) written once over the public
 * socket API: accepting, each connection's non-blocking I/O, the UDP
 * batches. ustack-inetd (apps/inetd.c) runs them live on its event loop;
 * ustack-replay (apps/replay/services.c) runs the same code in virtual
 * time, so a replayed stack sees the socket calls, in the same order, that
 * the recorded one saw. Each program keeps its own listeners and poll set
 * and puts the connections in it with inetd_poll_conns().
 */
#ifndef USTACK_APPS_INETD_SVC_H
#define USTACK_APPS_INETD_SVC_H

#include <stdint.h>

#include <ustack/socket.h>
#include <ustack/ustack.h>

struct app;

#define INETD_ECHO_BUF (64u * 1024)  /* echo: bytes held per connection */
#define INETD_RBUF 65536u            /* one discard or UDP read */
#define INETD_ROUNDS 8               /* I/O rounds per connection per wakeup */
#define INETD_BATCH 64               /* accepts or datagrams per wakeup */
#define INETD_CHARGEN_LEN (95 * 74)  /* RFC 864: 95 lines of 72 chars + CRLF */

enum inetd_svc { INETD_ECHO, INETD_DISCARD, INETD_DAYTIME, INETD_CHARGEN,
		 INETD_SVC__N };

/* Names and well-known ports (RFC 862, 863, 867, 864). */
extern const struct inetd_svc_info {
	const char *name;
	uint16_t port;
} inetd_services[INETD_SVC__N];

struct inetd_conn {
	int sd;                  /* -1: free */
	enum inetd_svc svc;
	int tag;                 /* the program's own mark (replay: its service) */
	uint8_t *buf;            /* echo: data to send back; daytime: the line */
	uint32_t len, off;       /* valid bytes, bytes already sent */
	uint32_t pos;            /* chargen: offset into the pattern */
	unsigned rd_eof : 1;     /* the peer has sent FIN */
	unsigned held : 1;       /* the program holds it: no I/O, nothing polled */
};

struct inetd_ctx {
	struct ustack *st;
	const struct app *app;   /* logs go through it; NULL: quiet */
	struct inetd_conn *conns; /* max_conns slots */
	uint32_t max_conns;
	uint32_t hi;             /* slots [hi, max_conns) are all free: the
				    per-wakeup scans stop there */
	uint64_t refused;        /* accepted over the bound, closed at once */
	uint8_t *rbuf;           /* INETD_RBUF bytes: discard and UDP reads */
	uint8_t chargen[INETD_CHARGEN_LEN]; /* the rotating pattern */
	/* A new daytime connection's line: malloc'd, *len bytes; NULL closes
	 * the connection. tag is the one inetd_accept was given. */
	uint8_t *(*daytime)(void *arg, int tag, uint32_t *len);
	void *arg;
};

/* Allocate the connection table (all free), the read buffer and the
 * chargen pattern; st, app and daytime are the caller's to set. 0 or -1. */
int inetd_init(struct inetd_ctx *x, uint32_t max_conns);
/* Free the buffers (after the stack is gone: sockets are not closed). */
void inetd_free(struct inetd_ctx *x);

/* Accept up to INETD_BATCH connections on listener lsd and start each
 * (one I/O round at once). Over max_conns a connection is closed. held:
 * the new connections start held. Returns 0, or the error that stopped
 * it other than -EAGAIN (-EMFILE, -ENFILE, -ENOBUFS: the listener stays
 * readable, the caller should back off). */
int inetd_accept(struct inetd_ctx *x, int lsd, enum inetd_svc svc, int tag,
		 int held);
/* Up to INETD_BATCH datagrams on sd; echo: each goes back to its sender. */
void inetd_udp(struct inetd_ctx *x, int sd, int echo);

/* Append the open connections that wait for something to pfd[n...] (room
 * for max_conns more), map[k] = connection index. Returns the new n. */
unsigned inetd_poll_conns(struct inetd_ctx *x, struct ustack_pollfd *pfd,
			  int *map, unsigned n);
/* Connection i was ready: do its I/O, close it when done or failed. */
void inetd_conn_ready(struct inetd_ctx *x, uint32_t i);
void inetd_conn_close(struct inetd_ctx *x, struct inetd_conn *c);

#endif
