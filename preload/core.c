/*
 * core.c - the process side of libustack-preload.so: the real libc
 * functions, the descriptor tables, the stack started on first use from
 * USTACK_* variables and stopped at exit, and fork.
 *
 * Tables: fd -> struct pl_sock in chunks of 1024 pointers, allocated on
 * demand and never freed, so a lock-free read can tell a kernel descriptor
 * (no chunk, or NULL) from a maybe-ours one without taking pl_mu; whether
 * it really is ours, and its reference, are taken under pl_mu.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"
#include "../apps/lib/app.h"
#include "../apps/lib/ctl.h"

struct pl_real pl_real;
__thread struct pl_tls pl_tls __attribute__((tls_model("initial-exec")));
pthread_mutex_t pl_mu = PTHREAD_MUTEX_INITIALIZER;

#define PL_CHUNK 1024
#define PL_CHUNKS 4096           /* descriptors up to 4 Mi */

static struct pl_sock **pl_tab[PL_CHUNKS];

static struct {
	pthread_mutex_t start_mu;
	struct app a;
	struct ustack *volatile st;  /* set once the stack runs */
	pid_t owner;                 /* the process that started it */
	int forked;                  /* we are a fork child of the owner */
	int finished;                /* past the exit destructor */
	int failed;
	int log_level;
} pl = {.start_mu = PTHREAD_MUTEX_INITIALIZER, .log_level = USTACK_LOG_WARN};

/* ---- the real functions --------------------------------------------------- */

#define RESOLVE(name) \
	(pl_real.name = (__typeof__(pl_real.name))dlsym(RTLD_NEXT, #name))

static void resolve_all(void)
{
	RESOLVE(socket); RESOLVE(close); RESOLVE(read); RESOLVE(write);
	RESOLVE(readv); RESOLVE(writev); RESOLVE(bind); RESOLVE(listen);
	RESOLVE(accept); RESOLVE(accept4); RESOLVE(connect); RESOLVE(recv);
	RESOLVE(recvfrom); RESOLVE(recvmsg); RESOLVE(recvmmsg); RESOLVE(send);
	RESOLVE(sendto); RESOLVE(sendmsg); RESOLVE(sendmmsg);
	RESOLVE(sendfile); RESOLVE(shutdown); RESOLVE(getsockopt);
	RESOLVE(setsockopt); RESOLVE(getsockname); RESOLVE(getpeername);
	RESOLVE(fcntl); RESOLVE(fcntl64); RESOLVE(ioctl); RESOLVE(dup);
	RESOLVE(dup2); RESOLVE(dup3); RESOLVE(poll); RESOLVE(ppoll);
	RESOLVE(select); RESOLVE(pselect); RESOLVE(epoll_create);
	RESOLVE(epoll_create1); RESOLVE(epoll_ctl); RESOLVE(epoll_wait);
	RESOLVE(epoll_pwait);
	if (!pl_real.fcntl64)
		pl_real.fcntl64 = pl_real.fcntl;
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&pl_mu);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&pl_mu);
}

/* The child has no stack thread and shares the TAP descriptor with its
 * parent: it must never touch the stack. Its inherited ustack sockets are
 * dead (closing one only frees the descriptor); new sockets are the
 * kernel's. */
static void atfork_child(void)
{
	pthread_mutex_init(&pl_mu, NULL);
	pthread_mutex_init(&pl.start_mu, NULL);
	if (pl.st || pl.owner)
		pl.forked = 1;
}

__attribute__((constructor)) static void pl_init(void)
{
	resolve_all();
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- descriptor tables ---------------------------------------------------- */

int pl_is_sock(int fd)
{
	struct pl_sock **c;

	if (fd < 0 || fd >= PL_CHUNK * PL_CHUNKS)
		return 0;
	c = __atomic_load_n(&pl_tab[fd / PL_CHUNK], __ATOMIC_ACQUIRE);
	return c && __atomic_load_n(&c[fd % PL_CHUNK], __ATOMIC_RELAXED);
}

static struct pl_sock **slot(int fd, int create)
{
	struct pl_sock **c;

	if (fd < 0 || fd >= PL_CHUNK * PL_CHUNKS)
		return NULL;
	c = pl_tab[fd / PL_CHUNK];
	if (!c && create) {
		c = calloc(PL_CHUNK, sizeof(*c));
		if (!c)
			return NULL;
		__atomic_store_n(&pl_tab[fd / PL_CHUNK], c, __ATOMIC_RELEASE);
	}
	return c ? &c[fd % PL_CHUNK] : NULL;
}

struct pl_sock *pl_sock_get(int fd)
{
	struct pl_sock **p, *s = NULL;

	if (!pl_is_sock(fd))
		return NULL;
	pthread_mutex_lock(&pl_mu);
	if ((p = slot(fd, 0)) && (s = *p))
		s->refs++;
	pthread_mutex_unlock(&pl_mu);
	return s;
}

/* The last reference went: out of the epoll sets, then the ustack socket
 * closes (TCP: FIN, in the background), unless this is a fork child. A
 * blocking socket is made blocking inside the stack first, so that
 * SO_LINGER with a timeout makes this close wait, as POSIX says (not at
 * exit: the exit path bounds its own wait). */
static void sock_release(struct pl_sock *s)
{
	struct ustack *st = pl.st;

	if (st && !pl.forked) {
		if (!s->nonblock && !pl.finished)
			ustack_set_nonblock(st, s->sd, 0);
		ustack_close(st, s->sd);
	}
	free(s);
}

void pl_sock_put(struct pl_sock *s)
{
	int last;

	pthread_mutex_lock(&pl_mu);
	last = --s->refs == 0;
	if (last)
		pl_ep_forget_locked(s);
	pthread_mutex_unlock(&pl_mu);
	if (last)
		sock_release(s);
}

int pl_fd_map(int fd, struct pl_sock *s)
{
	struct pl_sock **p;

	pthread_mutex_lock(&pl_mu);
	if (!(p = slot(fd, 1))) {
		pthread_mutex_unlock(&pl_mu);
		return -ENOMEM;
	}
	s->refs++;
	__atomic_store_n(p, s, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pl_mu);
	return 0;
}

int pl_fd_unmap(int fd)
{
	struct pl_sock **p, *s = NULL;

	if (!pl_is_sock(fd))
		return 0;
	pthread_mutex_lock(&pl_mu);
	if ((p = slot(fd, 0)) && (s = *p))
		__atomic_store_n(p, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pl_mu);
	if (!s)
		return 0;
	pl_sock_put(s);
	return 1;
}

int pl_sock_new(int sd, int type, int nonblock, int cloexec)
{
	struct pl_sock *s = calloc(1, sizeof(*s));
	int fd, r;

	if (!s) {
		ustack_close(pl.st, sd);
		return -ENOMEM;
	}
	/* The descriptor number the program sees: a kernel eventfd that
	 * holds the number (nothing else can get it while the socket lives)
	 * and carries FD_CLOEXEC. */
	fd = eventfd(0, cloexec ? EFD_CLOEXEC : 0);
	if (fd < 0) {
		r = -errno;
		ustack_close(pl.st, sd);
		free(s);
		return r;
	}
	s->sd = sd;
	s->type = type;
	s->nonblock = nonblock;
	/* Every ustack call of ours is non-blocking: the waiting is done in
	 * wait.c, where signals can interrupt it. */
	ustack_set_nonblock(pl.st, sd, 1);
	if ((r = pl_fd_map(fd, s)) < 0) {
		pl_real.close(fd);
		ustack_close(pl.st, sd);
		free(s);
		return r;
	}
	return fd;
}

/* ---- starting the stack --------------------------------------------------- */

/* USTACK_* variable -> option. */
static const struct {
	const char *env, *opt;
	int flag;                /* no argument ("1" turns it on) */
} env_opts[] = {
	{"USTACK_DEV", "--dev", 0},
	{"USTACK_ADDR", "--addr", 0},
	{"USTACK_GATEWAY", "--gateway", 0},
	{"USTACK_MAC", "--mac", 0},
	{"USTACK_MTU", "--mtu", 0},
	{"USTACK_HOST_ADDR", "--host-addr", 0},
	{"USTACK_PCAP", "--pcap", 0},
	{"USTACK_LOG", "--log", 0},
	{"USTACK_TRACE", "--trace", 1},
	{"USTACK_CTL", "--ctl", 0},
	{"USTACK_SEED", "--seed", 0},
	{"USTACK_FAULT", "--fault", 0},
	{"USTACK_OFFLOAD", "--offload", 0},
};
#define N_ENV (sizeof(env_opts) / sizeof(env_opts[0]))

static const struct app_desc pl_desc = {
	.name = "libustack-preload",
	.synopsis = "(settings from USTACK_* environment variables)",
	.summary = "Puts a program's IPv4 sockets on ustack (docs/preload.md).",
	.min_args = 0,
	.max_args = 0,
};

/* The options from the environment, through apps/lib's parser (which
 * prints one sentence and exits 2 on a bad value). getopt's globals are
 * the program's: saved and restored around it. */
static void parse_env(struct app *a)
{
	char *argv[2 * N_ENV + 2];
	int argc = 0, saved_ind = optind, saved_err = opterr;
	char *saved_arg = optarg;

	argv[argc++] = (char *)"libustack-preload";
	for (size_t i = 0; i < N_ENV; i++) {
		const char *v = getenv(env_opts[i].env);

		if (!v || !*v)
			continue;
		if (env_opts[i].flag) {
			if (strcmp(v, "0") != 0)
				argv[argc++] = (char *)env_opts[i].opt;
			continue;
		}
		argv[argc++] = (char *)env_opts[i].opt;
		argv[argc++] = (char *)v;
	}
	argv[argc] = NULL;
	optind = 0;
	opterr = 1;
	app_parse(a, &pl_desc, argc, argv);
	optind = saved_ind;
	opterr = saved_err;
	optarg = saved_arg;
}

static int start_locked(void)
{
	sigset_t all, old;
	int r;

	pl_tls.internal++;
	parse_env(&pl.a);
	pl.log_level = pl.a.o.trace && pl.a.o.log_level < USTACK_LOG_INFO ?
		       USTACK_LOG_INFO : pl.a.o.log_level;
	if ((r = app_start(&pl.a)) != 0) {
		fprintf(stderr, "libustack-preload: the stack did not start "
			"(see above); exiting\n");
		exit(r);
	}
	/* The stack and control threads take no signals: those are the
	 * program's, and a signal must interrupt the program's own wait. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = ustack_thread_start(pl.a.st, NULL, NULL);
	if (r == 0 && pl.a.ctl)
		r = app_ctl_thread_start(pl.a.ctl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		fprintf(stderr, "libustack-preload: cannot start the stack "
			"thread: %s; exiting\n", ustack_strerror(r));
		exit(1);
	}
	pl.owner = getpid();
	__atomic_store_n(&pl.st, pl.a.st, __ATOMIC_RELEASE);
	pl_log(USTACK_LOG_INFO, "stack up on %s", pl.a.o.dev);
	pl_tls.internal--;
	return 0;
}

struct ustack *pl_stack(void)
{
	struct ustack *st = __atomic_load_n(&pl.st, __ATOMIC_ACQUIRE);

	if (pl.forked || pl.finished) {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	if (st)
		return st;
	pthread_mutex_lock(&pl.start_mu);
	if (!pl.st && !pl.forked && !pl.finished)
		start_locked();
	pthread_mutex_unlock(&pl.start_mu);
	if (pl.forked || pl.finished) {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	return pl.st;
}

struct ustack *pl_stack_if_running(void)
{
	return pl.forked ? NULL : __atomic_load_n(&pl.st, __ATOMIC_ACQUIRE);
}

int pl_forked(void)
{
	return pl.forked;
}

/* ---- stopping at exit ------------------------------------------------------ */

static int settled(struct ustack *st)
{
	int r;

	ustack_lock(st);
	r = app_tcp_settled(st);
	ustack_unlock(st);
	return r;
}

#define PL_EXIT_LINGER_MS 3000

/*
 * At exit (exit() or the end of main; a fatal signal skips this, as it
 * skips every clean-up): close the sockets the program left open (the
 * kernel would), give their FIN exchanges up to 3 s, close the control
 * socket and stop the stack thread. The devices and the stack are left to
 * the end of the process: another thread may still make a call (it gets
 * -ECANCELED if it would wait), the TAP descriptor closes with the
 * process, and exit()'s stdio flush writes out the pcap, with no stack
 * thread writing to it any more.
 */
__attribute__((destructor)) static void pl_fini(void)
{
	struct ustack *st = pl.st;
	struct timespec ts = {0, 10 * 1000 * 1000};

	pl.finished = 1;   /* later sockets (other destructors) are the kernel's */
	if (!st || pl.forked || getpid() != pl.owner)
		return;
	pl_tls.internal++;
	for (int c = 0; c < PL_CHUNKS; c++) {
		if (!pl_tab[c])
			continue;
		for (int i = 0; i < PL_CHUNK; i++)
			if (pl_tab[c][i] && pl_fd_unmap(c * PL_CHUNK + i))
				pl_real.close(c * PL_CHUNK + i);
	}
	for (int i = 0; i < PL_EXIT_LINGER_MS / 10 && !settled(st); i++)
		nanosleep(&ts, NULL);
	if (pl.a.ctl) {
		app_ctl_close(pl.a.ctl);
		pl.a.ctl = NULL;
	}
	ustack_thread_stop(st);
	pl_tls.internal--;
}

/* ---- logging -------------------------------------------------------------- */

void pl_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > pl.log_level)
		return;
	fputs("libustack-preload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define PL_ONCE_MAX 64

void pl_log_once(const char *what, int a, int b)
{
	static struct { const char *what; int a, b; } seen[PL_ONCE_MAX];
	static unsigned nseen;
	int fresh = 1;

	pthread_mutex_lock(&pl_mu);
	for (unsigned i = 0; i < nseen; i++)
		if (seen[i].what == what && seen[i].a == a && seen[i].b == b)
			fresh = 0;
	if (fresh && nseen < PL_ONCE_MAX)
		seen[nseen++] = (typeof(seen[0])){what, a, b};
	pthread_mutex_unlock(&pl_mu);
	if (fresh)
		pl_log(USTACK_LOG_WARN, "%s(%d, %d): not supported on ustack "
		       "sockets (logged once)", what, a, b);
}
