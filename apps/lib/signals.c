/*
 * signals.c - SIGINT/SIGTERM for every app: the handler does no work, it
 * sets a flag, writes one byte to a self-pipe (which the app's poll set
 * watches) and calls ustack_wakeup() (async-signal-safe: an eventfd write)
 * so a call blocked inside the stack returns. The app then leaves its loop
 * and shuts down in order (pcap flushed, device closed).
 *
 * Process-wide state is unavoidable for a signal handler; it lives here,
 * in the app library, never in the stack.
 *
 * May touch: the process's signal handlers, its three statics (the stop
 * flag, a self-pipe, the stack to wake) and that stack (ustack_wakeup).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "app.h"

static volatile sig_atomic_t stop_requested;
static int sig_pipe[2] = {-1, -1};
static struct ustack *volatile sig_stack;

/* Async-signal-safe: a flag, a byte to the pipe, an eventfd write. */
static void stop_now(void)
{
	struct ustack *st = sig_stack;

	stop_requested = 1;
	if (sig_pipe[1] >= 0) {
		ssize_t n = write(sig_pipe[1], "x", 1);
		(void)n;
	}
	if (st)
		ustack_wakeup(st);
}

static void on_signal(int sig)
{
	int saved = errno;

	if (stop_requested) {
		/* Second Ctrl-C: the user wants out now. */
		_exit(128 + sig);
	}
	stop_now();
	errno = saved;
}

int app_signals_init(void)
{
	struct sigaction sa;

	if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

void app_signals_attach(struct ustack *st)
{
	sig_stack = st;
}

int app_signal_fd(void)
{
	return sig_pipe[0];
}

int app_stopping(void)
{
	return stop_requested != 0;
}

void app_request_stop(void)
{
	if (!stop_requested)
		stop_now();
}
