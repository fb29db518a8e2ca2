/*
 * socket.h - the BSD-shaped socket API.
 *
 * Shaped like the BSD calls a C programmer already knows, with the stack as
 * first argument and a socket descriptor (`sd`, a small int local to the
 * stack) in place of a file descriptor. Addresses are `struct sockaddr_in`
 * (AF_INET only); options use the system's constants (SOL_SOCKET,
 * SO_REUSEADDR, IPPROTO_TCP, TCP_NODELAY, ...).
 *
 * Errors: every call returns a count or descriptor >= 0, or a negative errno:
 *   -EBADF     sd is not an open socket (also: closed by another thread
 *              while this call was blocked in it)
 *   -EINVAL    bad argument (address length, flags value, `how`) or call
 *              in the wrong state (bind twice); st == NULL
 *   -EFAULT    a NULL pointer where a buffer or address is needed
 *   -EAFNOSUPPORT  an address family other than AF_INET
 *   -EPROTONOSUPPORT  no such protocol for this socket type
 *   -EAGAIN    non-blocking and the call would block, or SO_RCVTIMEO /
 *              SO_SNDTIMEO ran out
 *   -EINPROGRESS  non-blocking connect started (completion: poll POLLOUT,
 *              then SO_ERROR)
 *   -EINTR     ustack_wakeup() interrupted a blocked call (runtime.h)
 *   -ECANCELED the threaded runtime was stopped (runtime.h)
 *   -ECONNREFUSED -ECONNRESET -ETIMEDOUT -EHOSTUNREACH -ENETUNREACH
 *              (datagram sockets: an ICMP error or ARP failure about the
 *              connected peer fails the next call once; SO_ERROR too)
 *   -EPIPE     send after shutdown(SHUT_WR) or after the peer reset
 *   -ENOTCONN  -EISCONN -EADDRINUSE -EADDRNOTAVAIL -EMFILE -ENOBUFS
 *   -EDESTADDRREQ  send on an unconnected datagram socket without address
 *   -EACCES    datagram to a broadcast address without SO_BROADCAST
 *   -EMSGSIZE  datagram larger than the send limit (65507 bytes, and
 *              SO_SNDBUF for UDP)
 *   -EOPNOTSUPP  operation not for this socket type, or an unsupported
 *              flag (MSG_OOB)
 *   -ENOPROTOOPT  unknown option, or a read-only one set
 * ustack_strerror() gives the text.
 *
 * Blocking: sockets block by default, the way the runtime in use defines it
 * (runtime.h): the event-loop runtime drives the stack from inside the call,
 * the threaded runtime sleeps until the stack signals the socket. With no
 * runtime attached (a test driving the stack by hand) every socket is
 * non-blocking. SOCK_NONBLOCK in `type`, ustack_set_nonblock() or
 * MSG_DONTWAIT make calls return -EAGAIN instead of blocking. A blocking
 * stream send queues everything before it returns (as BSD); MSG_WAITALL
 * makes a stream recv wait for `len` bytes, end of stream or an error.
 * Partial progress followed by an error returns the partial count.
 *
 * More in docs/sockets.md.
 */
#ifndef USTACK_SOCKET_H
#define USTACK_SOCKET_H

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <ustack/ustack.h>

/*
 * The IPPROTO_TCP option names, with Linux's values, so this header does
 * not need <netinet/tcp.h> (which also declares tcp_seq, struct tcphdr,
 * ...). Including <netinet/tcp.h> as well is fine: same values.
 */
#ifndef TCP_NODELAY
#define TCP_NODELAY 1
#endif
#ifndef TCP_MAXSEG
#define TCP_MAXSEG 2
#endif
#ifndef TCP_KEEPIDLE
#define TCP_KEEPIDLE 4
#endif
#ifndef TCP_KEEPINTVL
#define TCP_KEEPINTVL 5
#endif
#ifndef TCP_KEEPCNT
#define TCP_KEEPCNT 6
#endif
#ifndef TCP_CORK
#define TCP_CORK 3
#endif
#ifndef TCP_QUICKACK
#define TCP_QUICKACK 12
#endif
#ifndef TCP_USER_TIMEOUT
#define TCP_USER_TIMEOUT 18
#endif
/* Linux's MSG_MORE (<sys/socket.h> has it under glibc). */
#ifdef MSG_MORE
#define USTACK_MSG_MORE MSG_MORE
#else
#define USTACK_MSG_MORE 0x8000
#endif
/* Most iovecs one ustack_sendmsg() takes (Linux UIO_MAXIOV). */
#define USTACK_IOV_MAX 1024
/* Linux's value; <poll.h> defines it only under _GNU_SOURCE. */
#ifndef POLLRDHUP
#define POLLRDHUP 0x2000
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Create a socket. domain AF_INET; type SOCK_STREAM or SOCK_DGRAM, optionally
 * | SOCK_NONBLOCK; protocol 0, IPPROTO_TCP, IPPROTO_UDP, or IPPROTO_ICMP with
 * SOCK_DGRAM for an echo ("ping") socket as on Linux: send an ICMP echo
 * request header + payload, the stack sets the identifier from the socket's
 * port and delivers matching echo replies.
 */
int ustack_socket(struct ustack *st, int domain, int type, int protocol);
int ustack_bind(struct ustack *st, int sd, const struct sockaddr *addr,
		socklen_t addrlen);
int ustack_listen(struct ustack *st, int sd, int backlog);
/* accept(2): the new socket is blocking whatever the listener is (as on
 * Linux: O_NONBLOCK is not inherited). accept4(2): flags SOCK_NONBLOCK
 * makes it non-blocking; SOCK_CLOEXEC is accepted and means nothing here;
 * any other flag is -EINVAL. Other options are the listener's. */
int ustack_accept(struct ustack *st, int sd, struct sockaddr *addr,
		  socklen_t *addrlen);
int ustack_accept4(struct ustack *st, int sd, struct sockaddr *addr,
		   socklen_t *addrlen, int flags);
int ustack_connect(struct ustack *st, int sd, const struct sockaddr *addr,
		   socklen_t addrlen);

/*
 * send flags: MSG_DONTWAIT, MSG_NOSIGNAL (accepted; no signals are ever
 * raised), MSG_MORE (TCP: cork this send, see ustack_sendmsg; UDP:
 * ignored), MSG_EOR and MSG_CONFIRM (ignored).
 * recv flags: MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL (streams), MSG_TRUNC
 * (datagrams: return the datagram's real length). Other flags: -EOPNOTSUPP.
 * Datagram sockets: one datagram per recv, cut to len (the rest is
 * discarded, as on Linux); a zero-length datagram reads as 0. recvfrom
 * on a stream socket sets *addrlen to 0.
 */
ssize_t ustack_send(struct ustack *st, int sd, const void *buf, size_t len,
		    int flags);
ssize_t ustack_recv(struct ustack *st, int sd, void *buf, size_t len,
		    int flags);
ssize_t ustack_sendto(struct ustack *st, int sd, const void *buf, size_t len,
		      int flags, const struct sockaddr *addr, socklen_t addrlen);
ssize_t ustack_recvfrom(struct ustack *st, int sd, void *buf, size_t len,
			int flags, struct sockaddr *addr, socklen_t *addrlen);
/*
 * Gather send: the iovecs in order, as one send. TCP queues all of it
 * (what fits) before cutting segments, so a header and a body written
 * together leave in full-sized segments across the pieces' boundaries;
 * UDP sends one datagram of all the pieces. flags as ustack_send's;
 * USTACK_MSG_MORE (Linux MSG_MORE) on TCP holds a short tail for more
 * data (as TCP_CORK, for this call: it leaves with the next send without
 * it, when a full segment is ready, or after 200 ms). Returns the bytes
 * queued (a non-blocking stream may take fewer; a blocking one all),
 * or -errno: -EINVAL for iovcnt < 0 or > USTACK_IOV_MAX or a total
 * beyond SSIZE_MAX, -EFAULT for a NULL iov or base with a length.
 * ustack_writev() is ustack_sendmsg() with flags 0.
 */
ssize_t ustack_sendmsg(struct ustack *st, int fd, const struct iovec *iov,
		       int iovcnt, int flags);
ssize_t ustack_writev(struct ustack *st, int fd, const struct iovec *iov,
		      int iovcnt);
/* recvfrom with scatter (msg_iov) and control messages: with IP_RECVTTL
 * set on a datagram socket, an IP_TTL message (int) gives the datagram's
 * TTL, as on Linux. msg_flags gets MSG_CTRUNC when msg_control is short. */
ssize_t ustack_recvmsg(struct ustack *st, int sd, struct msghdr *msg,
		       int flags);

/* SHUT_RD, SHUT_WR (TCP: send FIN, keep receiving), SHUT_RDWR. As on
 * Linux, an unconnected datagram socket answers -ENOTCONN but is shut down
 * anyway (recv then returns 0: the way to wake a blocked reader). */
int ustack_shutdown(struct ustack *st, int sd, int how);
/*
 * Release the descriptor. TCP: an orderly close (FIN after queued data)
 * continues in the background; with unread data, or SO_LINGER on with zero
 * timeout, the connection is aborted with RST (RFC 1122 4.2.2.13). SO_LINGER
 * on with a timeout, on a blocking socket: wait up to that long for the
 * peer to acknowledge everything, FIN included, then release.
 */
int ustack_close(struct ustack *st, int sd);

/*
 * Options:
 *   SOL_SOCKET: SO_REUSEADDR, SO_KEEPALIVE, SO_BROADCAST, SO_LINGER
 *               (struct linger; l_linger clamped to 0..65535 s),
 *               SO_RCVBUF, SO_SNDBUF (bytes, clamped to 1 KiB..16 MiB, read
 *               back as stored: no doubling as Linux does),
 *               SO_RCVTIMEO, SO_SNDTIMEO (struct timeval; 0 = forever;
 *               SO_SNDTIMEO also bounds a blocking connect),
 *               SO_ERROR (get, clears), SO_TYPE, SO_PROTOCOL, SO_DOMAIN (get)
 *   IPPROTO_TCP (stream sockets): TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL
 *               (1..32767 s), TCP_KEEPCNT (1..127), TCP_MAXSEG (get),
 *               TCP_CORK (Linux: only full segments leave until it is
 *               cleared, which sends the rest; a short tail waits 200 ms
 *               at most), TCP_QUICKACK (Linux: 1 sends a pending ACK now
 *               and ACKs the next segments at once; 0 delays ACKs to
 *               ride on answers; neither is permanent)
 *   IPPROTO_IP (datagram sockets): IP_RECVTTL (see ustack_recvmsg)
 * int-valued options take an int (optlen >= sizeof(int), else -EINVAL).
 */
int ustack_setsockopt(struct ustack *st, int sd, int level, int optname,
		      const void *optval, socklen_t optlen);
int ustack_getsockopt(struct ustack *st, int sd, int level, int optname,
		      void *optval, socklen_t *optlen);
int ustack_getsockname(struct ustack *st, int sd, struct sockaddr *addr,
		       socklen_t *addrlen);
int ustack_getpeername(struct ustack *st, int sd, struct sockaddr *addr,
		       socklen_t *addrlen);
int ustack_set_nonblock(struct ustack *st, int sd, int on);

/*
 * Poll stack sockets and, optionally, OS file descriptors (an entry with
 * sd < 0 polls os_fd, e.g. stdin). events/revents use POLLIN, POLLOUT,
 * POLLHUP, POLLERR, POLLRDHUP, POLLNVAL. timeout_ms: -1 forever, 0 no wait.
 * Returns the number of entries with revents != 0, or -errno (-EINTR
 * after ustack_wakeup(), -ECANCELED once the threaded runtime is stopped).
 * POLLERR and POLLHUP are reported even if not asked for; a bad sd gets
 * POLLNVAL; an entry with sd < 0 and os_fd < 0 is ignored. Without a
 * runtime the call only evaluates (timeout ignored). Under the event-loop
 * runtime this is where the stack runs.
 */
struct ustack_pollfd {
	int sd;          /* stack socket, or -1 to poll os_fd */
	int os_fd;       /* OS descriptor, used when sd < 0 */
	short events;
	short revents;
};
int ustack_poll(struct ustack *st, struct ustack_pollfd *fds, unsigned nfds,
		int timeout_ms);

/* ---- inspection: the netstat-like view --------------------------------- */

/* TCP states in BSD order: "synchronized" is state >= ESTABLISHED. */
enum ustack_tcp_state {
	USTACK_TCP_CLOSED = 0,
	USTACK_TCP_LISTEN,
	USTACK_TCP_SYN_SENT,
	USTACK_TCP_SYN_RCVD,
	USTACK_TCP_ESTABLISHED,
	USTACK_TCP_CLOSE_WAIT,
	USTACK_TCP_FIN_WAIT_1,
	USTACK_TCP_CLOSING,
	USTACK_TCP_LAST_ACK,
	USTACK_TCP_FIN_WAIT_2,
	USTACK_TCP_TIME_WAIT,
	USTACK_TCP__NSTATES
};
const char *ustack_tcp_state_name(int state); /* "ESTABLISHED" */
/* The TCP state machine's table of legal transitions (stack/proto/tcp_fsm.c),
 * read-only, for tools that draw or check it: entry i's states and cause in
 * words. Returns 0, or -ENOENT when i is past the last entry. */
int ustack_tcp_transition(unsigned i, int *from, int *to, const char **why);

struct ustack_conn_info {
	int proto;            /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
	int state;            /* enum ustack_tcp_state (TCP), else 0 */
	int sd;               /* owning socket, -1 for an orphaned connection */
	uint32_t laddr, raddr;/* host order; 0 = any */
	uint16_t lport, rport;
	uint32_t rcv_queued;  /* bytes waiting for the application */
	uint32_t snd_queued;  /* bytes not yet acknowledged */
	/* TCP only: */
	uint32_t srtt_us, rto_us;
	uint32_t cwnd, ssthresh, snd_wnd, rcv_wnd, mss;
	uint32_t retransmits;
};
/* Fill up to max entries; returns how many exist (may exceed max). */
int ustack_conn_list(struct ustack *st, struct ustack_conn_info *out, int max);

#ifdef __cplusplus
}
#endif
#endif
