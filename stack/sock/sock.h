/*
 * sock.h - the socket layer: descriptors, the generic half of every call
 * (argument checks, blocking, common options), and the ops table each
 * protocol (UDP, TCP, ICMP echo) implements.
 *
 * Protocol ops never block: they return -EAGAIN and the socket layer waits
 * through the runtime (rt.h) when the socket is blocking. Protocols call
 * sock_wakeup() whenever something a poller could be waiting for changes
 * (data arrived, space freed, connected, error, closed).
 */
#ifndef USTACK_SOCK_SOCK_H
#define USTACK_SOCK_SOCK_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/pkb.h"

struct ustack;
struct sock;

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
	/* POLLIN/POLLOUT/POLLHUP/POLLERR/POLLRDHUP as of now. */
	short (*poll)(struct ustack *st, struct sock *sk);
	/* Protocol options, and a hook for the common ones the socket layer
	 * has already stored (it calls with level SOL_SOCKET too, after
	 * storing; return 0 or -ENOPROTOOPT for "not mine"). */
	int (*setsockopt)(struct ustack *st, struct sock *sk, int level,
			  int name, const void *val, socklen_t len);
	int (*getsockopt)(struct ustack *st, struct sock *sk, int level,
			  int name, void *val, socklen_t *len);
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
	uint32_t rcvbuf, sndbuf;     /* SO_RCVBUF, SO_SNDBUF (bytes) */
	int linger_on, linger_s;     /* SO_LINGER */
	uint32_t keepidle_s, keepintvl_s, keepcnt;
	unsigned nonblock : 1;
	unsigned reuseaddr : 1;
	unsigned keepalive : 1;
	unsigned nodelay : 1;
	unsigned bound : 1;
	unsigned connected : 1;      /* has a default peer */
	unsigned shut_rd : 1, shut_wr : 1;

	/* Datagram sockets: received datagrams (pkb->data at the payload,
	 * pkb->ip.src and pkb->scratch = source port), bounded by rcvbuf. */
	struct pkb_queue rcvq;
	struct sock *hash_next;      /* protocol's demux chain */

	void *pcb;                   /* protocol control block */
	uint32_t wait_seq;           /* bumped by sock_wakeup() */
};

struct sock_table {
	struct sock **tab;           /* cfg.max_sockets slots */
	uint32_t size;
	uint32_t count;
	uint32_t gen;
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

/* ARP gave up on raddr: datagram sockets connected to it get
 * EHOSTUNREACH, and TCP is told (tcp_host_unreachable). */
void sock_host_unreachable(struct ustack *st, uint32_t raddr);

/*
 * Pick an ephemeral port (RFC 6056 algorithm 3, "simple hash-based": a
 * keyed hash of the addresses plus a per-destination counter, so ports are
 * hard to guess and a destination sees them spread). in_use() says whether a
 * candidate is taken for this proto. Range 49152..65535 (RFC 6335).
 * Returns 0 and *port, or -EADDRNOTAVAIL when every port is taken.
 */
int sock_ephemeral_port(struct ustack *st, int protocol, uint32_t laddr,
			uint32_t raddr, uint16_t rport,
			int (*in_use)(struct ustack *st, uint16_t port,
				      void *ctx),
			void *ctx, uint16_t *port);

#define SOCK_EPHEMERAL_LOW 49152
#define SOCK_EPHEMERAL_HIGH 65535

#endif
