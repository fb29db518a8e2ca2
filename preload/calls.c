/*
 * calls.c - the socket calls of libustack-preload.so. Each looks its
 * descriptor up (pl_sock_get); a kernel descriptor goes straight to libc,
 * a ustack one to the stack. Every ustack call is made non-blocking; a
 * blocking socket waits in wait.c (pl_wait), where signals and
 * SO_RCVTIMEO/SO_SNDTIMEO end the wait as the kernel's would.
 *
 * Loopback: a fresh socket bound or connected to 127.0.0.0/8 is handed to
 * the kernel (the stack has no loopback interface; the program's local
 * peers, a DNS stub or a database on localhost, are the kernel's).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "preload.h"

#define PL_IOV_MAX 1024
#define PL_TCP_BUF (4 << 20)   /* default TCP SO_SNDBUF/SO_RCVBUF */

/* The running stack, or NULL in a fork child (its sockets are dead). */
static struct ustack *live(void)
{
	return pl_stack_if_running();
}

/* ---- socket ---------------------------------------------------------------- */

PL_EXPORT int socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct ustack *st;
	int sd;

	if (domain != AF_INET || (base != SOCK_STREAM && base != SOCK_DGRAM) ||
	    pl_tls.internal || pl_forked())
		return pl_real.socket(domain, type, protocol);
	if (!(st = pl_stack()))
		return pl_real.socket(domain, type, protocol);
	if ((sd = ustack_socket(st, AF_INET, base, protocol)) < 0)
		return (int)pl_ret(sd);
	if (base == SOCK_STREAM) {
		/* Linux autotunes a TCP socket's buffers up to 4-6 MiB; the
		 * stack does not, so start where Linux ends up (as ustack-nc
		 * does). Accepted sockets inherit this; SO_SNDBUF/SO_RCVBUF
		 * from the program replace it. */
		int b = PL_TCP_BUF;

		ustack_setsockopt(st, sd, SOL_SOCKET, SO_SNDBUF, &b, sizeof(b));
		ustack_setsockopt(st, sd, SOL_SOCKET, SO_RCVBUF, &b, sizeof(b));
	}
	return (int)pl_ret(pl_sock_new(sd, base, !!(type & SOCK_NONBLOCK),
				       !!(type & SOCK_CLOEXEC)));
}

/* ---- loopback goes to the kernel ------------------------------------------ */

static int is_loopback(const struct sockaddr *a, socklen_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)a;

	return a && len >= sizeof(*sin) && sin->sin_family == AF_INET &&
	       (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
}

/* Not bound yet, so the kernel can take it over without anyone noticing. */
static int is_fresh(struct ustack *st, struct pl_sock *s)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	return ustack_getsockname(st, s->sd, (struct sockaddr *)&sin, &len) == 0 &&
	       sin.sin_port == 0;
}

static void copy_opt(struct ustack *st, struct pl_sock *s, int kfd, int level,
		     int name)
{
	char v[32];
	socklen_t len = sizeof(v);

	if (ustack_getsockopt(st, s->sd, level, name, v, &len) == 0)
		pl_real.setsockopt(kfd, level, name, v, len);
}

/* Replace fd's ustack socket by a kernel one with the same number and the
 * options that matter. Returns 0 or -errno. */
static int to_kernel(struct ustack *st, int fd, struct pl_sock *s)
{
	int fdflags = pl_real.fcntl(fd, F_GETFD);
	int kfd = pl_real.socket(AF_INET, s->type |
				 (s->nonblock ? SOCK_NONBLOCK : 0), 0);

	if (kfd < 0)
		return -errno;
	copy_opt(st, s, kfd, SOL_SOCKET, SO_REUSEADDR);
	copy_opt(st, s, kfd, SOL_SOCKET, SO_KEEPALIVE);
	copy_opt(st, s, kfd, SOL_SOCKET, SO_RCVTIMEO);
	copy_opt(st, s, kfd, SOL_SOCKET, SO_SNDTIMEO);
	copy_opt(st, s, kfd, SOL_SOCKET, SO_BROADCAST);
	if (s->type == SOCK_STREAM)
		copy_opt(st, s, kfd, IPPROTO_TCP, TCP_NODELAY);
	pl_fd_unmap(fd);
	if (pl_real.dup3(kfd, fd, (fdflags > 0 && (fdflags & FD_CLOEXEC)) ?
			 O_CLOEXEC : 0) < 0) {
		int e = -errno;

		pl_real.close(kfd);
		return e;
	}
	pl_real.close(kfd);
	pl_log(USTACK_LOG_DEBUG, "fd %d: loopback, handed to the kernel", fd);
	return 0;
}

/* ---- bind, listen, accept, connect ---------------------------------------- */

typedef int (*addr_real)(int fd, const struct sockaddr *addr, socklen_t len);
typedef int (*addr_op)(struct ustack *st, struct pl_sock *s,
		       const struct sockaddr *addr, socklen_t len);

/* bind and connect, written once: a fresh socket given a loopback address
 * is handed to the kernel (to_kernel) and the real call runs there; any
 * other runs on the stack (op). */
static int addr_call(int fd, const struct sockaddr *addr, socklen_t len,
		     addr_real real, addr_op op)
{
	struct pl_sock *s = pl_sock_get(fd);
	struct ustack *st;
	int r;

	if (!s)
		return real(fd, addr, len);
	if (!(st = live())) {
		r = -EBADF;
	} else if (is_loopback(addr, len) && is_fresh(st, s)) {
		r = to_kernel(st, fd, s);
		pl_sock_put(s);
		return r < 0 ? (int)pl_ret(r) : real(fd, addr, len);
	} else {
		r = op(st, s, addr, len);
	}
	pl_sock_put(s);
	return (int)pl_ret(r);
}

static int do_bind(struct ustack *st, struct pl_sock *s,
		   const struct sockaddr *addr, socklen_t len)
{
	return ustack_bind(st, s->sd, addr, len);
}

PL_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	return addr_call(fd, addr, len, pl_real.bind, do_bind);
}

/* listen and shutdown, written once: one int argument, no address. */
static int int_call(int fd, int arg, int (*real)(int, int),
		    int (*call)(struct ustack *, int, int))
{
	struct pl_sock *s = pl_sock_get(fd);
	struct ustack *st;
	int r;

	if (!s)
		return real(fd, arg);
	r = (st = live()) ? call(st, s->sd, arg) : -EBADF;
	pl_sock_put(s);
	return (int)pl_ret(r);
}

PL_EXPORT int listen(int fd, int backlog)
{
	return int_call(fd, backlog, pl_real.listen, ustack_listen);
}

static int do_accept(struct pl_sock *s, struct sockaddr *addr,
		     socklen_t *alen, int flags)
{
	struct ustack *st = live();
	ustack_time_t dl = pl_deadline(s->rcvtimeo_us);
	int sd, w;

	if (!st)
		return -EBADF;
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	for (;;) {
		__atomic_add_fetch(&s->in_seq, 1, __ATOMIC_RELAXED);
		sd = ustack_accept4(st, s->sd, addr, alen, SOCK_NONBLOCK);
		if (sd >= 0)
			break;
		if (sd != -EAGAIN || s->nonblock)
			return sd;
		if ((w = pl_wait(s, POLLIN, dl, 1)) < 0)
			return w;
	}
	int fd = pl_sock_new(sd, SOCK_STREAM, !!(flags & SOCK_NONBLOCK),
			     !!(flags & SOCK_CLOEXEC));
	struct pl_sock *n = fd >= 0 ? pl_sock_get(fd) : NULL;

	/* The stack's socket inherits the listener's options, SO_RCVTIMEO
	 * and SO_SNDTIMEO included (as Linux); so do the waits done here. */
	if (n) {
		n->rcvtimeo_us = s->rcvtimeo_us;
		n->sndtimeo_us = s->sndtimeo_us;
		pl_sock_put(n);
	}
	return fd;
}

PL_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	struct pl_sock *s = pl_sock_get(fd);
	int r;

	if (!s)
		return pl_real.accept4(fd, addr, alen, flags);
	r = do_accept(s, addr, alen, flags);
	pl_sock_put(s);
	return (int)pl_ret(r);
}

PL_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
	if (!pl_is_sock(fd))
		return pl_real.accept(fd, addr, alen);
	return accept4(fd, addr, alen, 0);
}

/* Blocking connect: wait for the handshake, then the answer is SO_ERROR
 * (SO_SNDTIMEO running out leaves it in progress, as Linux). */
static int do_connect(struct ustack *st, struct pl_sock *s,
		      const struct sockaddr *addr, socklen_t len)
{
	ustack_time_t dl = pl_deadline(s->sndtimeo_us);
	int r = ustack_connect(st, s->sd, addr, len), err = 0, w;
	socklen_t elen = sizeof(err);

	if (r != -EINPROGRESS || s->nonblock)
		return r;
	for (;;) {
		w = pl_wait(s, POLLOUT, dl, 1);
		if (w < 0)
			return w == -EAGAIN ? -EINPROGRESS : w;
		if (w > 0)
			break;
	}
	r = ustack_getsockopt(st, s->sd, SOL_SOCKET, SO_ERROR, &err, &elen);
	return r < 0 ? r : -err;
}

PL_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	return addr_call(fd, addr, len, pl_real.connect, do_connect);
}

/* ---- receiving ------------------------------------------------------------- */

static size_t iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Drop the first `n` bytes from an iovec array in place. */
static void iov_advance(struct iovec **iov, int *cnt, size_t n)
{
	while (*cnt > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt > 0 && n) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

/*
 * Every receive call ends here: recvmsg on the stack, non-blocking, with
 * the blocking, MSG_WAITALL and SO_RCVTIMEO done around it.
 */
static ssize_t recv_common(struct pl_sock *s, struct msghdr *m, int flags)
{
	struct ustack *st = live();
	int nb = s->nonblock || (flags & MSG_DONTWAIT);
	int waitall = (flags & MSG_WAITALL) && s->type == SOCK_STREAM &&
		      !(flags & MSG_PEEK);
	ustack_time_t dl = pl_deadline(s->rcvtimeo_us);
	struct iovec local[PL_IOV_MAX], *iov = m->msg_iov;
	int cnt = (int)m->msg_iovlen, w;
	size_t want, got = 0;
	ssize_t r;

	if (!st)
		return -EBADF;
	if (m->msg_iovlen > PL_IOV_MAX)
		return -EMSGSIZE;
	if (m->msg_iovlen && !m->msg_iov)
		return -EFAULT;
	if (waitall) {
		memcpy(local, m->msg_iov, sizeof(*iov) * (size_t)cnt);
		iov = local;
	}
	want = iov_total(iov, cnt);
	flags = (flags & ~MSG_WAITALL) | MSG_DONTWAIT;
	for (;;) {
		struct msghdr mm = *m;

		mm.msg_iov = iov;
		mm.msg_iovlen = (size_t)cnt;
		__atomic_add_fetch(&s->in_seq, 1, __ATOMIC_RELAXED);
		r = ustack_recvmsg(st, s->sd, &mm, flags);
		if (r >= 0) {
			m->msg_namelen = mm.msg_namelen;
			m->msg_controllen = mm.msg_controllen;
			m->msg_flags = mm.msg_flags;
		}
		if (r > 0 && waitall) {
			got += (size_t)r;
			if (got >= want)
				return (ssize_t)got;
			iov_advance(&iov, &cnt, (size_t)r);
			continue;
		}
		if (r != -EAGAIN || nb)
			return got ? (ssize_t)got : r;
		if ((w = pl_wait(s, POLLIN, dl, 1)) < 0)
			return got ? (ssize_t)got : w;
	}
}

static ssize_t recv_buf(int fd, void *buf, size_t len, int flags,
			struct sockaddr *addr, socklen_t *alen, int *ours)
{
	struct pl_sock *s = pl_sock_get(fd);
	struct iovec v = {buf, len};
	struct msghdr m = {0};
	ssize_t r;

	*ours = s != NULL;
	if (!s)
		return 0;
	m.msg_iov = &v;
	m.msg_iovlen = 1;
	if (addr && alen) {
		m.msg_name = addr;
		m.msg_namelen = *alen;
	}
	r = recv_common(s, &m, flags);
	if (r >= 0 && addr && alen)
		*alen = m.msg_namelen;
	pl_sock_put(s);
	return pl_ret(r);
}

PL_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	int ours = 0;
	ssize_t r;

	if (!pl_is_sock(fd))
		return pl_real.read(fd, buf, len);
	r = recv_buf(fd, buf, len, 0, NULL, NULL, &ours);
	return ours ? r : pl_real.read(fd, buf, len);
}

PL_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		abort();
	return read(fd, buf, len);
}

PL_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	int ours = 0;
	ssize_t r;

	if (!pl_is_sock(fd))
		return pl_real.recv(fd, buf, len, flags);
	r = recv_buf(fd, buf, len, flags, NULL, NULL, &ours);
	return ours ? r : pl_real.recv(fd, buf, len, flags);
}

PL_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen,
			     int flags)
{
	if (len > buflen)
		abort();
	return recv(fd, buf, len, flags);
}

PL_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
			   struct sockaddr *addr, socklen_t *alen)
{
	int ours = 0;
	ssize_t r;

	if (!pl_is_sock(fd))
		return pl_real.recvfrom(fd, buf, len, flags, addr, alen);
	r = recv_buf(fd, buf, len, flags, addr, alen, &ours);
	return ours ? r : pl_real.recvfrom(fd, buf, len, flags, addr, alen);
}

PL_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
				 int flags, struct sockaddr *addr,
				 socklen_t *alen)
{
	if (len > buflen)
		abort();
	return recvfrom(fd, buf, len, flags, addr, alen);
}

/*
 * The message calls on a stack socket, written once for both directions:
 * op is recv_common or send_msg. Each takes the reference s (from
 * pl_sock_get) and puts it back.
 */
typedef ssize_t (*msg_op)(struct pl_sock *s, struct msghdr *m, int flags);

/* recvmsg, sendmsg: one message. */
static ssize_t msg_call(struct pl_sock *s, struct msghdr *m, int flags,
			msg_op op)
{
	ssize_t r = m ? op(s, m, flags) : -EFAULT;

	pl_sock_put(s);
	return pl_ret(r);
}

/* readv, writev: the iovec as one message without flags. */
static ssize_t iov_call(struct pl_sock *s, const struct iovec *iov, int cnt,
			msg_op op)
{
	struct msghdr m = {0};
	ssize_t r;

	m.msg_iov = (struct iovec *)iov;
	m.msg_iovlen = cnt < 0 ? 0 : (size_t)cnt;
	r = cnt < 0 ? -EINVAL : op(s, &m, 0);
	pl_sock_put(s);
	return pl_ret(r);
}

/* recvmmsg, sendmmsg: message by message, the first with flags, the rest
 * with rest_flags; stops at the first error, which is returned only when
 * no message went (as Linux). */
static int mmsg_call(struct pl_sock *s, struct mmsghdr *v, unsigned n,
		     int flags, int rest_flags, msg_op op)
{
	unsigned i;
	ssize_t r = 0;

	if (n && !v) {
		pl_sock_put(s);
		return (int)pl_ret(-EFAULT);
	}
	for (i = 0; i < n; i++) {
		r = op(s, &v[i].msg_hdr, i > 0 ? rest_flags : flags);
		if (r < 0)
			break;
		v[i].msg_len = (unsigned)r;
	}
	pl_sock_put(s);
	if (i > 0)
		return (int)i;
	return (int)pl_ret(r);
}

PL_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	struct pl_sock *s = pl_sock_get(fd);

	if (!s)
		return pl_real.recvmsg(fd, m, flags);
	return msg_call(s, m, flags, recv_common);
}

PL_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct pl_sock *s = pl_sock_get(fd);

	if (!s)
		return pl_real.readv(fd, iov, cnt);
	return iov_call(s, iov, cnt, recv_common);
}

PL_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags,
		       struct timespec *timeout)
{
	struct pl_sock *s = pl_sock_get(fd);
	int f = flags & ~MSG_WAITFORONE;

	if (!s)
		return pl_real.recvmmsg(fd, v, n, flags, timeout);
	if (timeout && !(n && !v))
		pl_log_once("recvmmsg timeout (ignored)", 0, 0);
	/* after the first message, never wait (MSG_WAITFORONE or not: the
	 * timeout is not implemented) */
	return mmsg_call(s, v, n, f, f | MSG_DONTWAIT, recv_common);
}

/* ---- sending --------------------------------------------------------------- */

static void sigpipe(void)
{
	pthread_kill(pthread_self(), SIGPIPE);
}

/*
 * The one place where a scatter list is sent: ustack_sendmsg() for streams
 * and connected datagrams; a datagram to an explicit address is made one
 * buffer first (the stack's gather call has no destination).
 */
static ssize_t send_once(struct ustack *st, struct pl_sock *s,
			 const struct iovec *iov, int cnt, int flags,
			 const struct sockaddr *to, socklen_t tolen)
{
	ssize_t r;

	/* Streams, and datagrams to the connected peer: one gather call,
	 * so a writev()'s pieces leave as full segments (one datagram). */
	if (s->type == SOCK_STREAM || !to)
		return ustack_sendmsg(st, s->sd, iov, cnt, flags);
	if (cnt == 1)
		return ustack_sendto(st, s->sd, iov[0].iov_base, iov[0].iov_len,
				     flags, to, tolen);
	{
		size_t len = iov_total(iov, cnt), off = 0;
		char *buf = malloc(len ? len : 1);

		if (!buf)
			return -ENOBUFS;
		for (int i = 0; i < cnt; i++) {
			memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		r = ustack_sendto(st, s->sd, buf, len, flags, to, tolen);
		free(buf);
		return r;
	}
}

/* Every send call ends here. A blocking stream send queues everything
 * (or stops at an error or a timeout with what it queued). */
static ssize_t send_common(struct pl_sock *s, const struct msghdr *m, int flags)
{
	struct ustack *st = live();
	int nb = s->nonblock || (flags & MSG_DONTWAIT);
	ustack_time_t dl = pl_deadline(s->sndtimeo_us);
	struct iovec local[PL_IOV_MAX], *iov = local;
	int cnt = (int)m->msg_iovlen, w;
	size_t want, done = 0;
	ssize_t r;

	if (!st)
		return -EBADF;
	if (m->msg_iovlen > PL_IOV_MAX)
		return -EMSGSIZE;
	if (m->msg_iovlen && !m->msg_iov)
		return -EFAULT;
	if (m->msg_controllen) {
		pl_log_once("sendmsg with control messages", 0, 0);
		return -EOPNOTSUPP;
	}
	memcpy(local, m->msg_iov, sizeof(*iov) * (size_t)cnt);
	want = iov_total(iov, cnt);
	flags = (flags | MSG_DONTWAIT) & ~MSG_NOSIGNAL;
	for (;;) {
		r = send_once(st, s, iov, cnt, flags,
			      s->type == SOCK_STREAM ? NULL : m->msg_name,
			      m->msg_namelen);
		/* A send that ended short is what makes Linux give the next
		 * EPOLLOUT edge (when space comes back). */
		if (r < 0 || (s->type == SOCK_STREAM &&
			      (size_t)r < iov_total(iov, cnt)))
			__atomic_add_fetch(&s->out_seq, 1, __ATOMIC_RELAXED);
		if (r >= 0 && s->type == SOCK_STREAM) {
			done += (size_t)r;
			if (done >= want || nb)
				return done ? (ssize_t)done : r;
			iov_advance(&iov, &cnt, (size_t)r);
			if (r > 0)
				continue;
			r = -EAGAIN;
		}
		if (r >= 0)
			return r;
		if (r != -EAGAIN || nb)
			break;
		if ((w = pl_wait(s, POLLOUT, dl, 1)) < 0) {
			r = w;
			break;
		}
	}
	if (done)
		return (ssize_t)done;
	return r;
}

static ssize_t send_sock(struct pl_sock *s, const struct msghdr *m, int flags)
{
	ssize_t r = send_common(s, m, flags);

	if (r == -EPIPE && !(flags & MSG_NOSIGNAL) && s->type == SOCK_STREAM)
		sigpipe();
	return r;
}

/* send_sock as a msg_op (the message calls above). */
static ssize_t send_msg(struct pl_sock *s, struct msghdr *m, int flags)
{
	return send_sock(s, m, flags);
}

static ssize_t send_buf(struct pl_sock *s, const void *buf, size_t len,
			int flags, const struct sockaddr *to, socklen_t tolen)
{
	struct iovec v = {(void *)buf, len};
	struct msghdr m = {0};
	ssize_t r;

	m.msg_iov = &v;
	m.msg_iovlen = 1;
	m.msg_name = (void *)to;
	m.msg_namelen = to ? tolen : 0;
	r = send_sock(s, &m, flags);
	pl_sock_put(s);
	return pl_ret(r);
}

PL_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct pl_sock *s = pl_sock_get(fd);

	if (!s)
		return pl_real.write(fd, buf, len);
	return send_buf(s, buf, len, 0, NULL, 0);
}

PL_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct pl_sock *s = pl_sock_get(fd);

	if (!s)
		return pl_real.send(fd, buf, len, flags);
	return send_buf(s, buf, len, flags, NULL, 0);
}

PL_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *to, socklen_t tolen)
{
	struct pl_sock *s = pl_sock_get(fd);

	if (!s)
		return pl_real.sendto(fd, buf, len, flags, to, tolen);
	return send_buf(s, buf, len, flags, to, tolen);
}

PL_EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	struct pl_sock *s = pl_sock_get(fd);

	if (!s)
		return pl_real.sendmsg(fd, m, flags);
	return msg_call(s, (struct msghdr *)m, flags, send_msg);
}

PL_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct pl_sock *s = pl_sock_get(fd);

	if (!s)
		return pl_real.writev(fd, iov, cnt);
	return iov_call(s, iov, cnt, send_msg);
}

PL_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	struct pl_sock *s = pl_sock_get(fd);

	if (!s)
		return pl_real.sendmmsg(fd, v, n, flags);
	return mmsg_call(s, v, n, flags, flags, send_msg);
}

#define PL_SENDFILE_CHUNK (256 * 1024)

/* File to ustack socket: read a chunk with pread, send it; what the
 * socket did not take is not consumed (the offset says what was sent). */
static ssize_t do_sendfile(struct pl_sock *s, int in, off_t *offp, size_t count)
{
	off_t pos = offp ? *offp : lseek(in, 0, SEEK_CUR);
	char *buf;
	size_t done = 0;
	ssize_t r = 0;

	if (pos < 0)
		return -errno;
	if (!(buf = malloc(PL_SENDFILE_CHUNK)))
		return -ENOMEM;
	while (done < count) {
		size_t want = count - done < PL_SENDFILE_CHUNK ?
			      count - done : PL_SENDFILE_CHUNK;
		struct iovec v;
		struct msghdr m = {0};
		ssize_t n = pread(in, buf, want, pos);

		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		v.iov_base = buf;
		v.iov_len = (size_t)n;
		m.msg_iov = &v;
		m.msg_iovlen = 1;
		r = send_sock(s, &m, 0);
		if (r <= 0)
			break;
		done += (size_t)r;
		pos += r;
		if (r < n)
			break;
	}
	free(buf);
	if (offp)
		*offp = pos;
	else if (done)
		lseek(in, pos, SEEK_SET);
	return done ? (ssize_t)done : r;
}

PL_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	struct pl_sock *s = pl_sock_get(out);
	ssize_t r;

	if (!s)
		return pl_real.sendfile(out, in, off, count);
	r = do_sendfile(s, in, off, count);
	pl_sock_put(s);
	return pl_ret(r);
}

PL_EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count)
{
	return sendfile(out, in, off, count);
}

/* ---- shutdown, names ------------------------------------------------------- */

PL_EXPORT int shutdown(int fd, int how)
{
	return int_call(fd, how, pl_real.shutdown, ustack_shutdown);
}

/* getsockname and getpeername, written once. */
static int name_call(int fd, struct sockaddr *a, socklen_t *len,
		     int (*real)(int, struct sockaddr *, socklen_t *),
		     int (*op)(struct ustack *, int, struct sockaddr *,
			       socklen_t *))
{
	struct pl_sock *s = pl_sock_get(fd);
	struct ustack *st;
	int r;

	if (!s)
		return real(fd, a, len);
	r = (st = live()) ? op(st, s->sd, a, len) : -EBADF;
	pl_sock_put(s);
	return (int)pl_ret(r);
}

PL_EXPORT int getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
	return name_call(fd, a, len, pl_real.getsockname, ustack_getsockname);
}

PL_EXPORT int getpeername(int fd, struct sockaddr *a, socklen_t *len)
{
	return name_call(fd, a, len, pl_real.getpeername, ustack_getpeername);
}

/* ---- options --------------------------------------------------------------- */

/* Linux's TCP_* state numbers (include/net/tcp_states.h). */
static const uint8_t linux_state[USTACK_TCP__NSTATES] = {
	[USTACK_TCP_CLOSED] = 7, [USTACK_TCP_LISTEN] = 10,
	[USTACK_TCP_SYN_SENT] = 2, [USTACK_TCP_SYN_RCVD] = 3,
	[USTACK_TCP_ESTABLISHED] = 1, [USTACK_TCP_CLOSE_WAIT] = 8,
	[USTACK_TCP_FIN_WAIT_1] = 4, [USTACK_TCP_CLOSING] = 11,
	[USTACK_TCP_LAST_ACK] = 9, [USTACK_TCP_FIN_WAIT_2] = 5,
	[USTACK_TCP_TIME_WAIT] = 6,
};

/* The connection of socket sd, under the stack's lock. 0 or -ENOENT. */
static int conn_of(struct ustack *st, int sd, struct ustack_conn_info *out)
{
	struct ustack_conn_info *v;
	int n, r = -ENOENT;

	ustack_lock(st);
	n = ustack_conn_list(st, NULL, 0);
	v = n > 0 ? malloc(sizeof(*v) * (size_t)n) : NULL;
	if (v) {
		n = ustack_conn_list(st, v, n);
		for (int i = 0; i < n; i++) {
			if (v[i].sd == sd) {
				*out = v[i];
				r = 0;
				break;
			}
		}
		free(v);
	}
	ustack_unlock(st);
	return r;
}

/* TCP_INFO in Linux's layout, for the fields ustack tracks. */
static int tcp_info(struct ustack *st, struct pl_sock *s, void *val,
		    socklen_t *len)
{
	struct ustack_conn_info c;
	struct tcp_info ti;
	uint32_t mss;

	if (s->type != SOCK_STREAM)
		return -ENOPROTOOPT;
	memset(&ti, 0, sizeof(ti));
	if (conn_of(st, s->sd, &c) == 0) {
		mss = c.mss ? c.mss : 536;
		ti.tcpi_state = c.state < USTACK_TCP__NSTATES ?
				linux_state[c.state] : 7;
		ti.tcpi_rto = c.rto_us;
		ti.tcpi_snd_mss = mss;
		ti.tcpi_rcv_mss = mss;
		ti.tcpi_advmss = mss;
		ti.tcpi_rtt = c.srtt_us;
		ti.tcpi_rttvar = c.srtt_us / 2;
		ti.tcpi_snd_cwnd = c.cwnd / mss;
		ti.tcpi_snd_ssthresh = c.ssthresh / mss;
		ti.tcpi_unacked = (c.snd_queued + mss - 1) / mss;
		ti.tcpi_total_retrans = c.retransmits;
		ti.tcpi_rcv_space = c.rcv_wnd;
		ti.tcpi_pmtu = mss + 40;
	} else {
		ti.tcpi_state = 7;
	}
	if (*len > sizeof(ti)) {
		memset(val, 0, *len);
		*len = sizeof(ti);
	}
	memcpy(val, &ti, *len);
	return 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
	if (*len < sizeof(int))
		return -EINVAL;
	memcpy(val, &v, sizeof(int));
	*len = sizeof(int);
	return 0;
}

static int do_getsockopt(struct ustack *st, struct pl_sock *s, int level,
			 int name, void *val, socklen_t *len)
{
	int r;

	if (!val || !len)
		return -EFAULT;
	if (level == SOL_SOCKET && name == SO_REUSEPORT)
		return put_int(val, len, s->reuseport);
	if (level == IPPROTO_TCP && name == TCP_INFO)
		return tcp_info(st, s, val, len);
	if (level == SOL_SOCKET && name == SO_ACCEPTCONN) {
		struct ustack_conn_info c;

		return put_int(val, len, conn_of(st, s->sd, &c) == 0 &&
			       c.state == USTACK_TCP_LISTEN);
	}
	r = ustack_getsockopt(st, s->sd, level, name, val, len);
	if (r == 0 && level == SOL_SOCKET &&
	    (name == SO_RCVBUF || name == SO_SNDBUF) && *len >= sizeof(int))
		*(int *)val *= 2;   /* Linux reports twice what was set */
	if (r == -ENOPROTOOPT)
		pl_log_once("getsockopt", level, name);
	return r;
}

PL_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct pl_sock *s = pl_sock_get(fd);
	struct ustack *st;
	int r;

	if (!s)
		return pl_real.getsockopt(fd, level, name, val, len);
	r = (st = live()) ? do_getsockopt(st, s, level, name, val, len) : -EBADF;
	pl_sock_put(s);
	return (int)pl_ret(r);
}

static ustack_time_t tv_us(const void *val, socklen_t len)
{
	struct timeval tv;

	if (len < sizeof(tv))
		return 0;
	memcpy(&tv, val, sizeof(tv));
	if (tv.tv_sec < 0 || tv.tv_usec < 0)
		return 0;
	return (ustack_time_t)tv.tv_sec * 1000000u + (ustack_time_t)tv.tv_usec;
}

static int do_setsockopt(struct ustack *st, struct pl_sock *s, int level,
			 int name, const void *val, socklen_t len)
{
	int r, v;

	if (level == SOL_SOCKET && name == SO_REUSEPORT) {
		if (!val || len < sizeof(int))
			return -EINVAL;
		memcpy(&v, val, sizeof(v));
		s->reuseport = !!v;
		if (v)
			pl_log(USTACK_LOG_INFO, "SO_REUSEPORT is stored but "
			       "does not balance: one socket per port");
		return 0;
	}
	r = ustack_setsockopt(st, s->sd, level, name, val, len);
	if (r == 0 && level == SOL_SOCKET && name == SO_RCVTIMEO)
		s->rcvtimeo_us = tv_us(val, len);
	if (r == 0 && level == SOL_SOCKET && name == SO_SNDTIMEO)
		s->sndtimeo_us = tv_us(val, len);
	if (r == -ENOPROTOOPT)
		pl_log_once("setsockopt", level, name);
	return r;
}

PL_EXPORT int setsockopt(int fd, int level, int name, const void *val,
			 socklen_t len)
{
	struct pl_sock *s = pl_sock_get(fd);
	struct ustack *st;
	int r;

	if (!s)
		return pl_real.setsockopt(fd, level, name, val, len);
	r = (st = live()) ? do_setsockopt(st, s, level, name, val, len) : -EBADF;
	pl_sock_put(s);
	return (int)pl_ret(r);
}

/* ---- fcntl, ioctl ---------------------------------------------------------- */

static int do_fcntl(int fd, struct pl_sock *s, int cmd, long arg)
{
	int nfd, r;

	switch (cmd) {
	case F_GETFL:
		return O_RDWR | (s->nonblock ? O_NONBLOCK : 0);
	case F_SETFL:
		if (arg & O_ASYNC) {
			pl_log_once("fcntl F_SETFL O_ASYNC", cmd, O_ASYNC);
			return -EINVAL;
		}
		s->nonblock = !!(arg & O_NONBLOCK);
		return 0;
	case F_GETFD:
	case F_SETFD:
		r = pl_real.fcntl(fd, cmd, arg);
		return r < 0 ? -errno : r;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		if ((nfd = pl_real.fcntl(fd, cmd, arg)) < 0)
			return -errno;
		if ((r = pl_fd_map(nfd, s)) < 0) {
			pl_real.close(nfd);
			return r;
		}
		return nfd;
	case F_GETOWN:
		return 0;
	}
	pl_log_once("fcntl", cmd, 0);
	return -EINVAL;
}

/* fcntl and fcntl64 (the same call on 64-bit), once the argument is read. */
static int fcntl_call(int fd, int cmd, long arg, int (*real)(int, int, ...))
{
	struct pl_sock *s;
	int r;

	if (!(s = pl_sock_get(fd)))
		return real(fd, cmd, arg);
	r = do_fcntl(fd, s, cmd, arg);
	pl_sock_put(s);
	return (int)pl_ret(r);
}

PL_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return fcntl_call(fd, cmd, arg, pl_real.fcntl);
}

PL_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return fcntl_call(fd, cmd, arg, pl_real.fcntl64);
}

static int do_ioctl(struct ustack *st, struct pl_sock *s, unsigned long req,
		    void *arg)
{
	struct ustack_conn_info c;
	int v, kfd, r;

	switch (req) {
	case FIONBIO:
		if (!arg)
			return -EFAULT;
		memcpy(&v, arg, sizeof(v));
		s->nonblock = !!v;
		return 0;
	case FIONREAD:
	case TIOCOUTQ:
		if (!arg)
			return -EFAULT;
		if (s->type == SOCK_DGRAM && req == FIONREAD) {
			char b;
			ssize_t n = ustack_recv(st, s->sd, &b, 0,
						MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);

			v = n < 0 ? 0 : (int)n;
		} else if (conn_of(st, s->sd, &c) == 0) {
			v = (int)(req == FIONREAD ? c.rcv_queued : c.snd_queued);
		} else {
			v = 0;
		}
		memcpy(arg, &v, sizeof(v));
		return 0;
	}
	/* Interface ioctls (SIOCGIFADDR, SIOCGIFCONF, ...) are about the
	 * kernel's interfaces: any AF_INET socket answers them. */
	if (req >= 0x8900 && req <= 0x89ff) {
		if ((kfd = pl_real.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			return -errno;
		r = pl_real.ioctl(kfd, req, arg);
		r = r < 0 ? -errno : r;
		pl_real.close(kfd);
		return r;
	}
	pl_log_once("ioctl", (int)req, 0);
	return -ENOTTY;
}

PL_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	struct pl_sock *s;
	struct ustack *st;
	va_list ap;
	void *arg;
	int r;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!(s = pl_sock_get(fd)))
		return pl_real.ioctl(fd, req, arg);
	r = (st = live()) ? do_ioctl(st, s, req, arg) : -EBADF;
	pl_sock_put(s);
	return (int)pl_ret(r);
}

/* ---- dup, close ------------------------------------------------------------- */

PL_EXPORT int dup(int fd)
{
	struct pl_sock *s = pl_sock_get(fd);
	int nfd, r;

	if (!s)
		return pl_real.dup(fd);
	nfd = pl_real.dup(fd);
	if (nfd >= 0 && (r = pl_fd_map(nfd, s)) < 0) {
		pl_real.close(nfd);
		nfd = (int)pl_ret(r);
	}
	pl_sock_put(s);
	return nfd;
}

static int dup_onto(int old, int new, int flags, int three)
{
	struct pl_sock *s;
	int r;

	/* Same number (dup2: a no-op, dup3: EINVAL) or a bad old: the
	 * kernel answers and new is left alone. */
	if (old == new || pl_real.fcntl(old, F_GETFD) < 0)
		return three ? pl_real.dup3(old, new, flags) : pl_real.dup2(old, new);
	s = pl_sock_get(old);
	/* new is replaced: if it was a ustack socket, that reference goes. */
	pl_fd_unmap(new);
	pl_ep_close(new);
	r = three ? pl_real.dup3(old, new, flags) : pl_real.dup2(old, new);
	if (r >= 0 && s && pl_fd_map(new, s) < 0) {
		pl_real.close(new);
		r = (int)pl_ret(-ENOMEM);
	}
	if (s)
		pl_sock_put(s);
	return r;
}

PL_EXPORT int dup2(int old, int new)
{
	return dup_onto(old, new, 0, 0);
}

PL_EXPORT int dup3(int old, int new, int flags)
{
	return dup_onto(old, new, flags, 1);
}

/* close_range(2) and closefrom(3) close our placeholders too: forget
 * the sockets first, or the numbers would stay ours when the kernel hands
 * them out again. */
static void unmap_range(unsigned first, unsigned last)
{
	for (unsigned fd = first; fd <= last && fd < (1u << 22); fd++) {
		pl_fd_unmap((int)fd);
		pl_ep_close((int)fd);
	}
}

PL_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	int (*real)(unsigned, unsigned, int) =
		(int (*)(unsigned, unsigned, int))dlsym(RTLD_NEXT, "close_range");

	if (!(flags & CLOSE_RANGE_CLOEXEC))
		unmap_range(first, last);
	if (!real)
		return (int)pl_ret(-ENOSYS);
	return real(first, last, flags);
}

PL_EXPORT void closefrom(int lowfd)
{
	void (*real)(int) = (void (*)(int))dlsym(RTLD_NEXT, "closefrom");

	if (lowfd >= 0)
		unmap_range((unsigned)lowfd, ~0u);
	if (real)
		real(lowfd);
}

PL_EXPORT int close(int fd)
{
	pl_fd_unmap(fd);
	pl_ep_close(fd);
	return pl_real.close(fd);
}
