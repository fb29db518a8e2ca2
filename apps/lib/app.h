/*
 * app.h - what every ustack program shares: the common option set, bringing
 * a stack up on a TAP device from those options (pcap tee, fault injection),
 * clean shutdown on SIGINT/SIGTERM through a self-pipe, and small helpers.
 *
 * Apps are ordinary programs: they read the clock, print, and keep their
 * state in a `struct app` of their own. They use only the public headers.
 */
#ifndef USTACK_APPS_APP_H
#define USTACK_APPS_APP_H

#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>

#include <ustack/dev.h>
#include <ustack/filter.h>
#include <ustack/runtime.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

/* Exit codes shared by the apps. */
#define APP_EXIT_OK 0
#define APP_EXIT_FAIL 1
#define APP_EXIT_USAGE 2

struct app_opts;

/* What an app adds to the common option set. */
struct app_desc {
	const char *name;            /* "ustack-inetd" */
	const char *synopsis;        /* "[options] HOST PORT" */
	const char *summary;         /* one line: what the program does */
	const char *help;            /* its own options, preformatted lines */
	const char *shortopts;       /* getopt letters ("c:s:i:W:q") or NULL */
	const struct option *longopts; /* its own long options or NULL */
	/* Handle one of its own options; return 0, or -1 for a usage error
	 * (after printing what was wrong with app_usage_error()). */
	int (*opt)(void *ctx, int c, const char *arg);
	void *ctx;
	int min_args, max_args;      /* positional arguments allowed */
	/* Optional: check the program's options against the common ones
	 * once all are parsed (before any device is opened); return 0, or
	 * -1 after printing what is wrong with app_usage_error(). */
	int (*check)(void *ctx, const struct app_opts *o);
};

enum app_host_mode {
	APP_HOST_AUTO = 0,  /* give the kernel side an address if we create tap */
	APP_HOST_SET,       /* --host-addr A.B.C.D/N */
	APP_HOST_NONE,      /* --host-addr none */
};

/* Most --set NAME=VALUE options one program takes. */
#define APP_MAX_SET 32

/* The common options, as parsed. */
struct app_opts {
	const char *dev;             /* --dev (tap0) */
	uint32_t addr;               /* --addr (10.0.0.2/24), host order */
	uint8_t prefix_len;
	uint32_t gateway;            /* --gateway, 0 = none */
	uint8_t mac[6];              /* --mac */
	uint16_t mtu;                /* --mtu, 0 = default */
	int host_mode;               /* enum app_host_mode */
	uint32_t host_addr;          /* --host-addr */
	uint8_t host_prefix_len;
	const char *pcap;            /* --pcap FILE */
	int log_level;               /* --log LEVEL */
	int trace;                   /* --trace */
	const char *ctl;             /* --ctl PATH */
	int seed_set;                /* --seed N */
	uint64_t seed;
	const char *fault;           /* --fault SPEC */
	int offload;                 /* --offload: USTACK_TAP_OFFLOAD_* */
	const char *filter[USTACK_FILTER_MAX]; /* --filter RULE, in order */
	unsigned nfilter;
	uint32_t max_sockets;        /* --max-sockets (the stack's default) */
	ustack_time_t linger_exit_us;/* --linger-exit (APP_LINGER_EXIT_DEFAULT_US) */
	const char *set[APP_MAX_SET]; /* --set NAME=VALUE, in order */
	unsigned nset;
};

/* How long a program keeps its stack running at exit for closing
 * handshakes and TIME_WAIT (see app_stop). */
#define APP_LINGER_EXIT_DEFAULT_US USTACK_SEC(1)

struct app_ctl;

struct app {
	const struct app_desc *desc;
	struct app_opts o;
	struct ustack_config cfg;    /* what the stack was created with */
	struct ustack *st;
	struct ustack_dev *dev;      /* top of the device chain (stack's dev) */
	struct ustack_dev *fault;    /* the fault wrapper, or NULL */
	int tap_created;             /* we created the TAP device */
	uint32_t host_addr;          /* the kernel side's address, 0 unknown */
	uint8_t host_prefix_len;
	ustack_time_t started_at;    /* monotonic, for uptime */
	struct app_ctl *ctl;         /* control socket, or NULL */
	/* Set before app_start() to take the stack's log lines yourself
	 * (ustack_config.log_fn); with log_transitions the stack also sends
	 * every TCP state transition (trace_tcp) whatever --trace says. The
	 * hook then prints only what --log/--trace ask for. */
	ustack_log_fn log_fn;
	void *log_ctx;
	int log_transitions;
	struct ustack_dev *pcap_tee; /* the --pcap tee in the chain, or NULL */
	int pcap_warned;             /* its write error was reported */
};

/*
 * Parse argv: the common options plus desc's own. --help prints the usage
 * on stdout and exits 0, --version exits 0, a bad option prints a message
 * and the usage on stderr and exits 2. Returns the index of the first
 * positional argument (their count is checked against desc).
 */
int app_parse(struct app *a, const struct app_desc *desc, int argc,
	      char **argv);
/* Print "name: message" and a hint to stderr (for desc->opt handlers). */
void app_usage_error(const struct app_desc *desc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print "name: message" then exit 2 with the usage hint. */
void app_usage_exit(const struct app *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Number parsing for options: whole string, in range. 0 or -1. */
int app_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Seconds with a fraction ("0.2", "1", "1.5") into microseconds. */
int app_parse_seconds(const char *s, ustack_time_t *out_us);
/* A TCP/UDP port, 1..65535. */
int app_parse_port(const char *s, uint16_t *out);

/*
 * Bring the stack up: open the TAP device (and the host side), wrap it in
 * the pcap tee and the fault injector as asked, create the stack, open the
 * control socket. Prints what went wrong (with the driver's sentence) and
 * returns an exit code, or 0.
 */
int app_start(struct app *a);
/* Undo app_start in reverse: control socket, stack, devices (flushes the
 * pcap; a TAP device we created goes away with its descriptor). Before
 * the stack goes, it keeps running for up to --linger-exit (default 1 s)
 * while any TCP connection is in FIN_WAIT_1/2, CLOSING, LAST_ACK or
 * TIME_WAIT, so closing handshakes finish and a retransmitted FIN is
 * still ACKed (the event loop is driven here; a stopped threaded runtime
 * is resumed). Connections still open are dropped without a word. If the
 * --pcap capture could not be written whole, says so on stderr and exits
 * with APP_EXIT_FAIL once everything is closed: a truncated capture is a
 * failed run. */
void app_stop(struct app *a);

/* Has the --pcap capture failed? Prints the warning (once) if so; returns
 * 1 then, else 0. app_poll calls it; threaded programs may too. */
int app_pcap_check(struct app *a);

/* One line on stderr saying what is up where (for servers). */
void app_announce(const struct app *a, const char *what);

/*
 * SIGINT/SIGTERM: the handler only sets a flag, writes a byte to a pipe and
 * calls ustack_wakeup() on the stack given here (NULL before there is one).
 * A second signal while stopping exits at once. SIGPIPE is ignored.
 */
int app_signals_init(void);
void app_signals_attach(struct ustack *st);
/* Readable once a stop was asked for (poll it with sd = -1). */
int app_signal_fd(void);
int app_stopping(void);
/* Ask for a stop from the program itself (same path as a signal). */
void app_request_stop(void);

/*
 * Event-loop apps: ustack_poll() over the caller's n entries plus the stop
 * pipe and the control socket, which is served here. fds needs room for
 * n + APP_POLL_EXTRA entries. Returns how many of the caller's entries
 * have revents, -EINTR once a stop was asked for, or another -errno.
 */
#define APP_POLL_EXTRA 10
int app_poll(struct app *a, struct ustack_pollfd *fds, unsigned n,
	     int timeout_ms);

/*
 * Event-loop apps, before app_stop(): keep driving the stack for up to
 * max_us so that connections already closed finish their FIN exchange
 * (ustack_destroy would abort them). Returns once no TCP connection is
 * left outside LISTEN, TIME_WAIT and CLOSED.
 */
void app_linger(struct app *a, ustack_time_t max_us);

/* The monotonic clock in microseconds (same clock as the runtimes). */
ustack_time_t app_now(void);

/* Log through the stack's level: "name: message" on stderr. */
void app_log(const struct app *a, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "10.0.0.1:7" into buf (at least 22 bytes); returns buf. */
char *app_fmt_addr(uint32_t addr, uint16_t port, char *buf);
/* Fill a sockaddr_in (host-order inputs). */
void app_sockaddr(struct sockaddr_in *sin, uint32_t addr, uint16_t port);
/*
 * A server's socket: non-blocking, SO_REUSEADDR, bound to port on every
 * address; a SOCK_STREAM one listens with backlog. Returns the descriptor,
 * or -errno with nothing left open.
 */
int app_server_socket(struct ustack *st, int type, uint16_t port, int backlog);
/* No TCP connection left outside LISTEN, TIME_WAIT and CLOSED (what
 * app_linger waits for). */
int app_tcp_settled(struct ustack *st);

/* Parse "loss=1%,dup=0.5%,reorder=2%,corrupt=100ppm,delay=5ms,jitter=1ms,
 * seed=7,rx=1,tx=1" into cfg. Returns 0, or -1 with a message in err. */
int app_parse_fault(const char *spec, struct ustack_fault_config *cfg,
		    char *err, size_t errlen);

#endif
