/*
 * ctl.c - the control socket server: accept, read one command line, answer
 * with app_report()'s text, close. Every descriptor is non-blocking and
 * every client has a deadline, so a stuck client costs a slot, never the
 * stack. May touch: only its own descriptors and, through app_report(), the
 * stack under ustack_lock().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "app.h"
#include "ctl.h"
#include "report.h"

struct ctl_client {
	int fd;                   /* -1: free slot */
	char in[256];             /* the command line being read */
	size_t inlen;
	int answering;            /* the answer is built; writing it */
	struct sbuf out;
	size_t outoff;
	ustack_time_t deadline;   /* dropped if not done by then */
};

struct app_ctl {
	struct app *a;
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_client cl[CTL_MAX_CLIENTS];
	int map[1 + CTL_MAX_CLIENTS]; /* poll entry -> slot (-1 listener) */
	unsigned nmap;
	pthread_t thread;
	int thread_running;
	int wake[2];              /* app_ctl_close() wakes the thread */
};

static void client_drop(struct ctl_client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
	cl->inlen = 0;
	cl->answering = 0;
	cl->outoff = 0;
	sbuf_free(&cl->out);
}

/* A path that answers connect() belongs to a live server. */
static int path_in_use(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live;

	if (fd < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return live;
}

int app_ctl_open(struct app_ctl **out, struct app *a, const char *path,
		 char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct app_ctl *c;
	struct stat sb;

	*out = NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "path too long");
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode) || path_in_use(&sun)) {
			snprintf(err, errlen, "exists and is %s", S_ISSOCK(sb.st_mode) ?
				 "in use by another program" : "not a socket");
			return -EADDRINUSE;
		}
		unlink(path); /* stale, left by a program that died */
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->a = a;
	c->wake[0] = c->wake[1] = -1;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		c->cl[i].fd = -1;
	strcpy(c->path, path);
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->lfd < 0 || bind(c->lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(c->lfd, CTL_MAX_CLIENTS) < 0) {
		int e = errno;

		snprintf(err, errlen, "%s", strerror(e));
		if (c->lfd >= 0)
			close(c->lfd);
		free(c);
		return -e;
	}
	*out = c;
	return 0;
}

void app_ctl_close(struct app_ctl *c)
{
	if (!c)
		return;
	if (c->thread_running) {
		ssize_t n = write(c->wake[1], "x", 1);

		(void)n;
		pthread_join(c->thread, NULL);
	}
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		client_drop(&c->cl[i]);
	close(c->lfd);
	unlink(c->path);
	free(c);
}

/* ---- the per-client state machine --------------------------------------- */

static void ctl_accept(struct app_ctl *c)
{
	for (int k = 0; k < CTL_MAX_CLIENTS; k++) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int i;

		if (fd < 0)
			return;
		for (i = 0; i < CTL_MAX_CLIENTS && c->cl[i].fd >= 0; i++)
			;
		if (i == CTL_MAX_CLIENTS) {
			close(fd); /* all slots busy: the client sees EOF */
			continue;
		}
		c->cl[i].fd = fd;
		c->cl[i].deadline = app_now() + CTL_CLIENT_TIMEOUT_MS * 1000ull;
	}
}

/* Read until a newline (or EOF), then build the answer. */
static void client_read(struct app_ctl *c, struct ctl_client *cl)
{
	for (;;) {
		size_t room = sizeof(cl->in) - 1 - cl->inlen;
		ssize_t n = room ? read(cl->fd, cl->in + cl->inlen, room) : 0;
		char *nl;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			client_drop(cl);
			return;
		}
		cl->inlen += (size_t)n;
		cl->in[cl->inlen] = 0;
		nl = strpbrk(cl->in, "\r\n");
		if (nl)
			*nl = 0;
		if (nl || n == 0) {
			if (n == 0 && cl->inlen == 0 && room) {
				client_drop(cl); /* connected and left */
				return;
			}
			if (!nl && !room)
				sbuf_printf(&cl->out, "error: line too long\n");
			else
				app_report(c->a, cl->in, &cl->out);
			cl->answering = 1;
			return;
		}
	}
}

static void client_write(struct ctl_client *cl)
{
	while (cl->outoff < cl->out.len) {
		ssize_t n = write(cl->fd, cl->out.buf + cl->outoff,
				  cl->out.len - cl->outoff);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;
		cl->outoff += (size_t)n;
	}
	client_drop(cl); /* done (or the client went away) */
}

static short client_events(const struct ctl_client *cl)
{
	return cl->answering ? POLLOUT : POLLIN;
}

static void client_ready(struct app_ctl *c, struct ctl_client *cl, short rev)
{
	if (cl->fd < 0)
		return;
	if (!cl->answering && (rev & (POLLIN | POLLHUP | POLLERR)))
		client_read(c, cl);
	if (cl->fd >= 0 && cl->answering && (rev & (POLLOUT | POLLERR | POLLHUP)))
		client_write(cl);
}

static void expire_clients(struct app_ctl *c)
{
	ustack_time_t now = app_now();

	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].fd >= 0 && now >= c->cl[i].deadline)
			client_drop(&c->cl[i]);
}

/* ---- event-loop integration --------------------------------------------- */

unsigned app_ctl_pollfds(struct app_ctl *c, struct ustack_pollfd *fds,
			 unsigned max)
{
	unsigned n = 0;

	expire_clients(c);
	c->nmap = 0;
	if (max == 0)
		return 0;
	fds[n] = (struct ustack_pollfd){.sd = -1, .os_fd = c->lfd,
					.events = POLLIN};
	c->map[n++] = -1;
	for (int i = 0; i < CTL_MAX_CLIENTS && n < max; i++) {
		if (c->cl[i].fd < 0)
			continue;
		fds[n] = (struct ustack_pollfd){.sd = -1, .os_fd = c->cl[i].fd,
						.events = client_events(&c->cl[i])};
		c->map[n++] = i;
	}
	c->nmap = n;
	return n;
}

void app_ctl_handle(struct app_ctl *c, const struct ustack_pollfd *fds,
		    unsigned n)
{
	for (unsigned k = 0; k < n && k < c->nmap; k++) {
		if (!fds[k].revents)
			continue;
		if (c->map[k] < 0)
			ctl_accept(c);
		else
			client_ready(c, &c->cl[c->map[k]], fds[k].revents);
	}
}

int app_ctl_timeout_ms(const struct app_ctl *c)
{
	ustack_time_t now = app_now(), first = USTACK_TIME_NEVER;

	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].fd >= 0 && c->cl[i].deadline < first)
			first = c->cl[i].deadline;
	if (first == USTACK_TIME_NEVER)
		return -1;
	return first <= now ? 0 : (int)((first - now + 999) / 1000);
}

/* ---- threaded apps: a thread of its own --------------------------------- */

static void *ctl_thread(void *arg)
{
	struct app_ctl *c = arg;

	for (;;) {
		struct ustack_pollfd ufds[1 + CTL_MAX_CLIENTS];
		struct pollfd pfds[2 + CTL_MAX_CLIENTS];
		unsigned n = app_ctl_pollfds(c, ufds, 1 + CTL_MAX_CLIENTS);

		for (unsigned k = 0; k < n; k++)
			pfds[k] = (struct pollfd){.fd = ufds[k].os_fd,
						  .events = ufds[k].events};
		pfds[n] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
		if (poll(pfds, n + 1, app_ctl_timeout_ms(c)) < 0 && errno != EINTR)
			break;
		if (pfds[n].revents)
			break;
		for (unsigned k = 0; k < n; k++)
			ufds[k].revents = pfds[k].revents;
		app_ctl_handle(c, ufds, n);
	}
	return NULL;
}

int app_ctl_thread_start(struct app_ctl *c)
{
	int r;

	if (pipe2(c->wake, O_CLOEXEC) < 0)
		return -errno;
	r = pthread_create(&c->thread, NULL, ctl_thread, c);
	if (r)
		return -r;
	c->thread_running = 1;
	return 0;
}
