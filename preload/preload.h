/*
 * preload.h - the inside of libustack-preload.so (docs/preload.md).
 *
 * The library replaces libc's socket calls in an unmodified program: its
 * AF_INET stream and datagram sockets become sockets of one ustack per
 * process (the threaded runtime), everything else goes to the kernel.
 *
 * core.c   process state, the real libc functions, the descriptor tables,
 *          starting the stack lazily (settings from USTACK_* variables,
 *          parsed by apps/lib), stopping it at exit, fork
 * calls.c  socket, bind, connect, send/recv and friends, options, fcntl,
 *          ioctl, dup, close
 * wait.c   waiting: a blocking call's wait, poll, select, epoll
 *
 * Unlike stack/, this is a program-side library: process-wide state is
 * unavoidable (the program calls plain socket()), and it lives here.
 */
#ifndef USTACK_PRELOAD_H
#define USTACK_PRELOAD_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <ustack/runtime.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#define PL_EXPORT __attribute__((visibility("default")))

/* One ustack socket: what the kernel calls an open file description. Every
 * descriptor number that names it (socket, dup, accept) and every call in
 * flight on it holds a reference; the last one closes the ustack socket. */
struct pl_sock {
	int sd;                  /* ustack descriptor */
	int type;                /* SOCK_STREAM, SOCK_DGRAM */
	int refs;                /* under pl_mu */
	int nonblock;            /* the program's O_NONBLOCK */
	int reuseport;           /* SO_REUSEPORT as set (stored only) */
	ustack_time_t rcvtimeo_us, sndtimeo_us; /* 0 = forever */
	unsigned in_seq;         /* bumped by every receive/accept call, and */
	unsigned out_seq;        /* by a send that ended short: re-arm EPOLLET */
};

/* The real libc functions (dlsym RTLD_NEXT), resolved at load. */
struct pl_real {
	int (*socket)(int, int, int);
	int (*close)(int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *,
			    socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*recvmmsg)(int, struct mmsghdr *, unsigned, int,
			struct timespec *);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int,
			  const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned, int);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	int (*shutdown)(int, int);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *,
		     const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *,
		       const struct timespec *, const sigset_t *);
	int (*epoll_create)(int);
	int (*epoll_create1)(int);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int,
			   const sigset_t *);
};
extern struct pl_real pl_real;

/* Per thread: inside the library's own set-up (socket() goes to the
 * kernel), and signal detection while a call waits. */
struct pl_tls {
	int internal;            /* our own code runs: everything to the kernel */
	int in_wait;             /* a ustack_poll of ours is sleeping */
	int signalled;           /* ... and a signal interrupted it */
	const sigset_t *wait_mask; /* ppoll/pselect/epoll_pwait's mask for
				      the runtime's sleep (atomic, as theirs) */
};
extern __thread struct pl_tls pl_tls __attribute__((tls_model("initial-exec")));

extern pthread_mutex_t pl_mu;    /* tables, references, epoll shadows */

/* The stack, started on first use; NULL (errno set) when it can not be
 * used in this process (a forked child). */
struct ustack *pl_stack(void);
/* The stack if it is running, without starting it. */
struct ustack *pl_stack_if_running(void);
/* This process is a fork child of the one that owns the stack: inherited
 * ustack sockets are dead, new sockets go to the kernel. */
int pl_forked(void);

/* Descriptor tables. pl_is_sock() is a lock-free hint: "maybe ours". */
int pl_is_sock(int fd);
/* The socket behind fd with a reference taken, or NULL (kernel fd). */
struct pl_sock *pl_sock_get(int fd);
void pl_sock_put(struct pl_sock *s);
/* Map fd -> s (takes a reference for the fd). Returns 0 or -ENOMEM. */
int pl_fd_map(int fd, struct pl_sock *s);
/* Remove fd's mapping and drop its reference; 1 if fd was ours. */
int pl_fd_unmap(int fd);
/* A new pl_sock for sd with a reserved kernel descriptor (an eventfd, with
 * FD_CLOEXEC if asked); returns the fd or -errno (sd closed on error). */
int pl_sock_new(int sd, int type, int nonblock, int cloexec);
/* Called with pl_mu held when s is about to go: drop it from epoll sets. */
void pl_ep_forget_locked(struct pl_sock *s);
/* The epoll shadow behind an epoll fd is going away (close). */
void pl_ep_close(int epfd);

/* Say once per key that something is not supported (stderr). */
void pl_log_once(const char *what, int a, int b);
/* Log at a level through the configured --log level. */
void pl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set errno from a negative return and give -1, or pass r through. */
static inline long pl_ret(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* glibc's _FORTIFY_SOURCE entry points, replaced too. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
		       int flags, struct sockaddr *addr, socklen_t *alen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		const sigset_t *mask, size_t fdslen);
ssize_t sendfile64(int out, int in, off_t *off, size_t count);
int fcntl64(int fd, int cmd, ...);
int close_range(unsigned first, unsigned last, int flags);
void closefrom(int lowfd);

/* ---- wait.c ---- */
/* Milliseconds left until deadline (NEVER: -1). */
int pl_ms_left(ustack_time_t deadline);
/* A deadline timeo_us from now (0: NEVER). */
ustack_time_t pl_deadline(ustack_time_t timeo_us);
/*
 * Wait for events on s until deadline. Returns 0 (try the call again),
 * -EAGAIN (deadline passed), -EINTR (a signal; restartable calls restart
 * when every caught signal has SA_RESTART), or another -errno.
 */
int pl_wait(struct pl_sock *s, short events, ustack_time_t deadline,
	    int restartable);
/* Every signal with a handler has SA_RESTART. */
int pl_all_restart(void);

#endif
