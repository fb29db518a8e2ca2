/*
 * ustack.h - the stack context: configuration, frame input, timers,
 * counters, logging and errors.
 *
 * A `struct ustack` is one network interface with one IPv4 address and
 * everything above it (ARP, IPv4, ICMP, UDP, TCP, sockets). All of its state
 * lives in the context; there are no globals. The core never reads a clock:
 * every entry point that can move time forward takes `now`, a monotonic time
 * in microseconds (ustack_time_t), and the timer entry point returns the
 * next deadline. Same inputs at the same times give the same outputs.
 *
 * Error convention for the whole API: functions return a count >= 0 or a
 * negative errno (-EAGAIN, -ECONNRESET, ...); ustack_strerror() names it.
 *
 * Threading: a context is used by one thread at a time. The threaded runtime
 * (runtime.h) takes care of that for the socket API; the functions in this
 * header are for the thread that drives the stack.
 */
#ifndef USTACK_USTACK_H
#define USTACK_USTACK_H

#include <stddef.h>
#include <stdint.h>

#include <ustack/stats.h>

#ifdef __cplusplus
extern "C" {
#endif

#define USTACK_VERSION "0.1.0"

/* Monotonic time in microseconds. One unit everywhere. */
typedef uint64_t ustack_time_t;
#define USTACK_TIME_NEVER UINT64_MAX
#define USTACK_MS(x) ((ustack_time_t)(x) * 1000u)
#define USTACK_SEC(x) ((ustack_time_t)(x) * 1000000u)

struct ustack;
struct ustack_dev;

enum ustack_log_level {
	USTACK_LOG_ERROR = 0,
	USTACK_LOG_WARN = 1,
	USTACK_LOG_INFO = 2,
	USTACK_LOG_DEBUG = 3,
	USTACK_LOG_TRACE = 4, /* one line per frame/segment */
};

/* Log hook. `now` is the stack's current time; `msg` has no newline. */
typedef void (*ustack_log_fn)(void *ctx, int level, ustack_time_t now,
			      const char *msg);

/*
 * Configuration. Fill with ustack_config_default() and then change fields.
 * IPv4 addresses are in host byte order throughout this header.
 */
struct ustack_config {
	/* Interface */
	uint8_t mac[6];        /* our Ethernet address */
	uint32_t addr;         /* our IPv4 address */
	uint8_t prefix_len;    /* connected subnet, 0..32 */
	uint32_t gateway;      /* default route, 0 = none */
	uint16_t mtu;          /* IP MTU of the link, 68..65535 (default 1500) */

	/* Randomness: ISNs, ephemeral ports, IP ids, ARP jitter */
	int seed_from_os;      /* 1 (default): getrandom(); 0: use `seed` */
	uint64_t seed;         /* fixed seed for reproducible runs */

	/* Logging */
	int log_level;         /* default USTACK_LOG_WARN */
	ustack_log_fn log_fn;  /* default: stderr */
	void *log_ctx;
	int trace_tcp;         /* log every TCP state transition at INFO */

	/* Bounds. Hitting one drops or refuses with a counter, never grows. */
	uint32_t max_sockets;         /* socket descriptors (default 4096) */
	uint32_t pkb_max_bytes;       /* packet-buffer pool memory (default 64 MiB) */
	uint32_t arp_cache_size;      /* entries (default 256) */
	uint32_t arp_pending_max;     /* frames queued per unresolved entry (default 128) */
	uint32_t arp_pending_bytes;   /* and their bytes (default 128 KiB: the
					 largest datagram in fragments fits) */
	uint32_t reasm_max_bytes;     /* IPv4 reassembly memory (default 1 MiB) */
	uint32_t reasm_max_datagrams; /* datagrams being reassembled (default 64) */
	uint32_t reasm_max_size;      /* largest datagram reassembled (default 65535) */
	uint32_t udp_rcvbuf;          /* default UDP receive buffer, bytes (default 212992) */
	uint32_t udp_sndbuf;          /* default UDP max datagram, bytes (default 65507) */

	/* Timers (microseconds) */
	ustack_time_t arp_reachable_us;  /* REACHABLE -> STALE (default 30 s) */
	ustack_time_t arp_stale_us;      /* STALE entry evicted (default 10 min) */
	ustack_time_t arp_retry_us;      /* request retransmit interval (default 1 s) */
	uint32_t arp_retries;            /* requests before giving up (default 3) */
	ustack_time_t arp_failed_us;     /* how long a failed entry answers
					    EHOSTUNREACH at once (default 3 s) */
	ustack_time_t reasm_timeout_us;  /* RFC 791/1122: 15..120 s (default 30 s) */
	uint32_t icmp_rate_per_sec;      /* ICMP errors sent per second, all
					    destinations (default 1000) */
	uint32_t icmp_rate_burst;        /* token bucket depth (default 50) */
	ustack_time_t icmp_dst_interval_us; /* and per destination: one error
					    per interval (default 1 s; 0 = no
					    per-destination limit) */
	uint32_t icmp_dst_burst;         /* per-destination depth (default 6) */

	/* TCP (used by the TCP layer; see docs/tcp.md) */
	uint32_t tcp_max_conns;          /* control blocks, incl. TIME_WAIT (default 16384) */
	uint32_t tcp_syn_backlog;        /* half-open per listener before SYN cookies (default 256) */
	uint32_t tcp_sndbuf;             /* default send buffer, bytes (default 256 KiB) */
	uint32_t tcp_rcvbuf;             /* default receive buffer, bytes (default 256 KiB) */
	uint32_t tcp_ooo_max_bytes;      /* out-of-order queue per connection (default = rcvbuf) */
	ustack_time_t tcp_msl_us;        /* MSL; TIME_WAIT = 2*MSL (default 30 s) */
	ustack_time_t tcp_rto_initial_us;/* RFC 6298 2.1: 1 s */
	ustack_time_t tcp_rto_min_us;    /* RFC 6298 2.4 says 1 s; default 200 ms */
	ustack_time_t tcp_rto_max_us;    /* default 60 s */
	uint32_t tcp_syn_retries;        /* SYN retransmissions before ETIMEDOUT (default 7:
					    183 s, RFC 9293 3.8.3 asks >= 3 min) */
	uint32_t tcp_synack_retries;     /* SYN-ACK retransmissions (default 5) */
	uint32_t tcp_retries2;           /* data retransmissions before ETIMEDOUT (default 15) */
	ustack_time_t tcp_delack_us;     /* delayed ACK timer (default 40 ms) */
	ustack_time_t tcp_fin_wait2_us;  /* orphaned FIN_WAIT_2 timeout (default 60 s) */
	uint32_t tcp_max_orphans;        /* connections closed by the application
					    and still closing (FIN_WAIT_1/2,
					    CLOSING, LAST_ACK); beyond it the
					    oldest is reset (default 0: half of
					    tcp_max_conns) */
	ustack_time_t tcp_keepidle_us;   /* SO_KEEPALIVE defaults (7200 s) */
	ustack_time_t tcp_keepintvl_us;  /* (75 s) */
	uint32_t tcp_keepcnt;            /* (9) */
	uint32_t tcp_challenge_ack_limit;/* RFC 5961 7: per connection and
					    second (default 1000) */
	int tcp_sack;                    /* offer SACK (default 1) */
	int tcp_timestamps;              /* offer timestamps (default 1) */
	int tcp_wscale;                  /* offer window scaling (default 1) */
	int tcp_syncookies;              /* SYN cookies when the SYN queue is full (default 1) */
	uint32_t tcp_initial_window_segments; /* initial cwnd in segments: 10 (default,
					    RFC 6928: min(10*MSS, max(2*MSS, 14600))),
					    N: min(N*MSS, max(2*MSS, N*1460)),
					    0: RFC 5681/3390's min(4*MSS, max(2*MSS, 4380)) */
	int tcp_congestion;              /* congestion control: USTACK_TCP_CC_CUBIC
					    (1, default, RFC 9438, as Linux) or
					    USTACK_TCP_CC_RENO (0, RFC 5681 and
					    6582/6675's halving) */
};

#define USTACK_TCP_CC_RENO  0
#define USTACK_TCP_CC_CUBIC 1

/* Defaults, as documented field by field above. */
void ustack_config_default(struct ustack_config *cfg);

/*
 * Set a numeric field of the configuration by its name (the member's name:
 * "tcp_max_orphans", "icmp_dst_burst", ...), for programs and files that
 * take settings as text. Returns 0, -ENOENT (no such numeric field) or
 * -ERANGE (the value does not fit the field). ustack_config_field(i) names
 * the fields one by one (NULL past the last). ustack_create() checks the
 * values as for any configuration.
 */
int ustack_config_set(struct ustack_config *cfg, const char *name,
		      uint64_t value);
const char *ustack_config_field(unsigned i);

/*
 * Create a stack on a device. The stack does not own `dev` (close it after
 * ustack_destroy()). Sends a gratuitous ARP. Returns 0 or -errno
 * (-EINVAL for a bad configuration, -ENOMEM).
 */
int ustack_create(struct ustack **out, const struct ustack_config *cfg,
		  struct ustack_dev *dev, ustack_time_t now);
void ustack_destroy(struct ustack *st);

/* Tell the stack what time it is (never goes backwards). */
void ustack_set_now(struct ustack *st, ustack_time_t now);
ustack_time_t ustack_now(const struct ustack *st);

/*
 * Feed one received Ethernet frame (copied). Bad frames are counted drops,
 * never errors: returns 0, or -ENOBUFS when no packet buffer was free.
 */
int ustack_input(struct ustack *st, const void *frame, size_t len,
		 ustack_time_t now);

/* Read and process up to `budget` frames from the device. Returns the count. */
int ustack_poll_dev(struct ustack *st, ustack_time_t now, int budget);

/* Fire every timer due at `now`. Returns the next deadline (or NEVER). */
ustack_time_t ustack_run_timers(struct ustack *st, ustack_time_t now);

/* The deadline of the earliest timer, including the device's own. */
ustack_time_t ustack_next_deadline(const struct ustack *st);

/* Counters: see stats.h for the list. */
uint64_t ustack_stat(const struct ustack *st, enum ustack_stat_id id);
void ustack_stats_snapshot(const struct ustack *st, uint64_t out[USTACK_STAT__COUNT]);
const char *ustack_stat_name(enum ustack_stat_id id);

/* Packet buffers in use (0 when the stack is idle and empty): leak checks. */
uint32_t ustack_pkb_in_use(const struct ustack *st);

const struct ustack_config *ustack_get_config(const struct ustack *st);
struct ustack_dev *ustack_get_dev(const struct ustack *st);

/* The ARP cache, for the netstat-like view. Returns how many entries exist. */
struct ustack_arp_info {
	uint32_t addr;             /* host order */
	uint8_t mac[6];            /* zero while INCOMPLETE */
	const char *state;         /* INCOMPLETE REACHABLE STALE DELAY PROBE FAILED */
	ustack_time_t expires_at;  /* next state change */
	uint32_t pending;          /* frames waiting for resolution */
};
int ustack_arp_list(struct ustack *st, struct ustack_arp_info *out, int max);

/* "No such file or directory"-style text for a negative errno. */
const char *ustack_strerror(int err);

/* Helpers for addresses (host byte order). Return 0 or -EINVAL. */
int ustack_parse_ip4(const char *s, uint32_t *addr);
int ustack_parse_cidr(const char *s, uint32_t *addr, uint8_t *prefix_len);
int ustack_parse_mac(const char *s, uint8_t mac[6]);
/* Format into buf (at least 16 bytes); returns buf. */
char *ustack_fmt_ip4(uint32_t addr, char *buf);

#ifdef __cplusplus
}
#endif
#endif
