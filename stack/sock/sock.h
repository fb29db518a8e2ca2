/*
 * sock.h - the socket layer: descriptors, the generic half of every call
 * (argument checks, blocking, common options), and the ops table each
 * protocol (UDP, TCP, ICMP echo) implements.
 *
 * Protocol ops never block: they return -EAGAIN and the socket layer waits
 * through the runtime (rt.h) when the socket is blocking. Protocols call
 * sock_wakeup() whenever something a poller could be waiting for changes
 * (data arrived, space freed, connected, error, closed).
 *
 * Division of labour with the protocols:
 * - The socket layer checks arguments (sd, NULL pointers, address length
 *   and family, flags) before any op runs, so ops get a valid sock and, for
 *   bind/connect/sendto, an AF_INET address (connect may also get
 *   AF_UNSPEC: "disconnect"). An op that is NULL answers -EOPNOTSUPP.
 * - Common options (SO_*, TCP_NODELAY, TCP_KEEP*, TCP_USER_TIMEOUT,
 *   TCP_MAXSEG, IP_TTL, IP_TOS) are stored in sk->opt by the socket layer (sockopt.c) before
 *   ops->setsockopt is told; limits are checked there, once.
 * - Protocols keep laddr/lport/raddr/rport, `bound` and `connected` true
 *   (connected: there is a peer getpeername() may report; TCP sets it once
 *   established), set so_error (positive errno) for asynchronous errors,
 *   and leave shut_rd/shut_wr to the socket layer (set after a successful
 *   ops->shutdown).
 * - A struct sock is freed only by ustack_close() (and ustack_destroy), or
 *   by a protocol for a sock it allocated and never handed out. A blocking
 *   call remembers (sd, gen) and looks the socket up again after every
 *   wait, so a close from another thread gives it -EBADF, never a dangling
 *   pointer.
 */
#ifndef USTACK_SOCK_SOCK_H
#define USTACK_SOCK_SOCK_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <ustack/ustack.h>

#include "core/pkb.h"

struct ustack;
struct sock;

/* Each protocol names its ops <proto>_sock_<op> (udp_sock_bind,
 * tcp_sock_poll, icmp_sock_sendto) and its table <proto>_sock_ops. */
struct sock_ops {
	/* Set up protocol state after the socket is allocated. */
	int (*init)(struct ustack *st, struct sock *sk);
	/* ustack_close(): release the protocol part (TCP may carry on as an
	 * orphan). The socket layer frees the sock afterwards. */
	void (*release)(struct ustack *st, struct sock *sk);
	int (*bind)(struct ustack *st, struct sock *sk,
		    const struct sockaddr_in *addr);
	int (*listen)(struct ustack *st, struct sock *sk, int backlog);
	/* A ready connection as a new sock (made with sock_alloc()), or
	 * -EAGAIN. */
	int (*accept)(struct ustack *st, struct sock *sk, struct sock **child);
	/* 0 when done, -EINPROGRESS when started, or -errno. */
	int (*connect)(struct ustack *st, struct sock *sk,
		       const struct sockaddr_in *addr);
	/* Bytes accepted (may be partial for streams), or -errno. dst NULL:
	 * the connected peer. */
	ssize_t (*sendto)(struct ustack *st, struct sock *sk, const void *buf,
			  size_t len, int flags, const struct sockaddr_in *dst);
	/* Bytes read, 0 at end of stream, or -errno. src may be NULL. */
	ssize_t (*recvfrom)(struct ustack *st, struct sock *sk, void *buf,
			    size_t len, int flags, struct sockaddr_in *src);
	int (*shutdown)(struct ustack *st, struct sock *sk, int how);
	/* POLLIN/POLLOUT/POLLHUP/POLLERR/POLLRDHUP as of now, and for
	 * streams SOCK_POLL_SENT once everything sent, FIN included, is
	 * acknowledged (or the connection is gone). */
	short (*poll)(struct ustack *st, struct sock *sk);
	/* Protocol options, and a hook for the common ones the socket layer
	 * has already stored (it calls with level SOL_SOCKET too, after
	 * storing; return 0 or -ENOPROTOOPT for "not mine"). */
	int (*setsockopt)(struct ustack *st, struct sock *sk, int level,
			  int name, const void *val, socklen_t len);
	int (*getsockopt)(struct ustack *st, struct sock *sk, int level,
			  int name, void *val, socklen_t *len);
	/* Gather send for streams (optional): like sendto over the iovecs
	 * after their first `skip` bytes, queued as one unit before any
	 * segment is cut. Without it the socket layer gathers into one
	 * buffer and calls sendto (what datagrams always get: one
	 * datagram). */
	ssize_t (*sendmsg)(struct ustack *st, struct sock *sk,
			   const struct iovec *iov, int iovcnt, size_t skip,
			   int flags);
};

/* Internal poll bit (Linux leaves POLLMSG unused for sockets): a stream's
 * own close is complete, what SO_LINGER's timed close waits for. */
#define SOCK_POLL_SENT 0x400 /* POLLMSG */

/*
 * Options. The socket owns them: setsockopt stores here and nowhere else
 * (sockopt.c, which also holds every limit). struct sock_conn_opts is the
 * part a connection applies to its own segments; a TCB holds a copy (tcp_sock.c sync_opts, one struct assignment; a listener's child
 * is given the listener's copy), because a connection may live without a
 * socket: a child not yet accepted, an orphan finishing its close.
 */
struct sock_conn_opts {
	uint32_t keepidle_s;         /* TCP_KEEPIDLE */
	uint32_t keepintvl_s;        /* TCP_KEEPINTVL */
	uint32_t keepcnt;            /* TCP_KEEPCNT */
	uint32_t user_timeout_ms;    /* TCP_USER_TIMEOUT (RFC 5482), 0 = off */
	uint16_t maxseg;             /* TCP_MAXSEG set by the user, 0 = none */
	uint8_t nodelay;             /* TCP_NODELAY */
	uint8_t keepalive;           /* SO_KEEPALIVE */
	uint8_t ttl;                 /* IP_TTL, 0 = IP4_DEFAULT_TTL */
	uint8_t tos;                 /* IP_TOS */
};

struct sock_opts {
	uint32_t rcvbuf, sndbuf;     /* SO_RCVBUF, SO_SNDBUF (bytes) */
	int linger_on, linger_s;     /* SO_LINGER */
	ustack_time_t rcvtimeo_us;   /* SO_RCVTIMEO, 0 = wait forever */
	ustack_time_t sndtimeo_us;   /* SO_SNDTIMEO (also bounds connect) */
	uint8_t reuseaddr;           /* SO_REUSEADDR */
	uint8_t broadcast;           /* SO_BROADCAST: may send to broadcast */
	struct sock_conn_opts conn;  /* per connection: TCP level, SO_KEEPALIVE,
				        IP_TTL/IP_TOS */
};

struct sock {
	int sd;                      /* descriptor (index in the table) */
	int type;                    /* SOCK_STREAM, SOCK_DGRAM */
	int protocol;                /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
	const struct sock_ops *ops;
	uint32_t gen;                /* bumped when the slot is reused */

	/* Addresses, host byte order; 0 = unbound / any. */
	uint32_t laddr, raddr;
	uint16_t lport, rport;

	int so_error;                /* pending error (positive errno) */
	struct sock_opts opt;        /* setsockopt's store (see above) */
	unsigned nonblock : 1;
	unsigned bound : 1;
	unsigned connected : 1;      /* has a default peer */
	unsigned shut_rd : 1, shut_wr : 1;
	unsigned recvttl : 1;        /* IP_RECVTTL: recvmsg() adds IP_TTL */

	/* Datagram sockets: received datagrams (pkb->data at the payload,
	 * pkb->ip.src and pkb->scratch = source port), bounded by rcvbuf. */
	struct pkb_queue rcvq;
	struct sock *hash_next;      /* protocol's demux chain */

	void *pcb;                   /* protocol control block */
	uint8_t rx_ttl;              /* TTL of the last datagram taken */
	uint32_t wait_seq;           /* bumped by sock_wakeup() */
};

int sock_table_init(struct ustack *st);
/* Release every socket (abortive for TCP) and the table. */
void sock_table_fini(struct ustack *st);

/* A new socket with the lowest free descriptor, common options set from the
 * config; ops->init is called. NULL when the table is full (-EMFILE). */
struct sock *sock_alloc(struct ustack *st, int type, int protocol,
			const struct sock_ops *ops);
/* Free the descriptor and the sock (no protocol calls). */
void sock_free(struct ustack *st, struct sock *sk);
/* The open socket sd, or NULL. */
struct sock *sock_get(struct ustack *st, int sd);

/* Something a waiter may care about changed on sk (sk may be NULL:
 * "something changed", e.g. a listener's child). */
void sock_wakeup(struct ustack *st, struct sock *sk);

/*
 * Datagram receive queues (UDP, ICMP echo sockets). Each datagram is charged
 * its length plus SOCK_DGRAM_OVERHEAD against sk->rcvbuf, so that empty
 * datagrams are bounded too. sock_queue_dgram() queues pkb (data at the
 * payload, pkb->ip.src and pkb->scratch = source port set) and wakes
 * waiters: 0, or -ENOBUFS when it does not fit (pkb NOT consumed: the caller
 * counts its own drop and frees). sock_recv_dgram() takes one datagram:
 * copies up to len bytes (the rest is discarded, as on Linux), fills src,
 * honours MSG_PEEK and MSG_TRUNC (return the full length); -EAGAIN when
 * empty (0 after SHUT_RD).
 */
#define SOCK_DGRAM_OVERHEAD 256u
int sock_queue_dgram(struct ustack *st, struct sock *sk, struct pkb *pkb);
ssize_t sock_recv_dgram(struct ustack *st, struct sock *sk, void *buf,
			size_t len, int flags, struct sockaddr_in *src);

/* SO_RCVBUF/SO_SNDBUF (and the configured defaults) are clamped to this
 * range (bytes, no doubling), by sockopt.c only. */
#define SOCK_BUF_MIN 1024u
#define SOCK_BUF_MAX (16u << 20)
#define SOCK_MAX_BACKLOG 4096      /* listen() clamp, as Linux somaxconn */

/* A new socket's options from the configuration (sockopt.c). */
void sock_opts_init(const struct ustack *st, struct sock *sk);

/* Take the pending error (positive errno, 0 if none) and clear it. */
static inline int sock_take_error(struct sock *sk)
{
	int e = sk->so_error;

	sk->so_error = 0;
	return e;
}

/*
 * Pick an ephemeral port. With a destination (raddr != 0): RFC 6056 3.3.4
 * algorithm 4, "double-hash": offset = keyed hash of (proto, laddr, raddr,
 * rport), plus a counter from a table indexed by a second keyed hash, so
 * ports are hard to guess, consecutive connections to one destination do
 * not collide, and one destination learns nothing about the ports used
 * towards another. Without one (bind to port 0, unconnected sendto): RFC
 * 6056 3.3.1 algorithm 1, a random start. Either way the search walks the
 * range from there and in_use() says whether a candidate is taken for this
 * proto. Deterministic for a fixed seed. Range 49152..65535 (RFC 6335).
 * Returns 0 and *port, or -EADDRNOTAVAIL when every port is taken.
 */
int sock_ephemeral_port(struct ustack *st, int protocol, uint32_t laddr,
			uint32_t raddr, uint16_t rport,
			int (*in_use)(struct ustack *st, uint16_t port,
				      void *ctx),
			void *ctx, uint16_t *port);

/* Seed the RFC 6056 table (sock_table_init calls it). */
void sock_ports_init(struct ustack *st);

#define SOCK_EPHEMERAL_LOW 49152
#define SOCK_EPHEMERAL_HIGH 65535

#endif
