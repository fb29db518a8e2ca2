/*
 * check_corpus.c - every frame of the real-world capture corpus
 * (tests/corpus/pcap, tcpdump's test captures, many malformed on purpose)
 * through a stack, at the recorded times, with the stack's timers running
 * in between. The robustness proof of issue 4: no crash, hang, leak or
 * sanitizer report (build with SANITIZE=1), and the counters account for
 * every frame.
 *
 * Each capture is one Check test (forked, so a crash names its capture) and
 * is fed twice:
 *   a) as is, through a pcap tee (to /dev/null): almost everything is
 *      "not us";
 *   b) rewritten to reach the stack: unicast destination MAC and IPv4
 *      destination set to the stack's own (ARP target address too), the
 *      IPv4 header and TCP/UDP checksums patched incrementally (RFC 1624)
 *      so frames that were valid stay valid and broken ones stay broken.
 *      The stack is 10.0.0.2/8 with a gateway, so replies go through ARP
 *      resolution, which the harness answers for every address (so
 *      SYN-ACKs, RSTs, ICMP errors and retransmissions really go out);
 *      sockets listen and are serviced (accept, read, echo, close) when
 *      the socket layer is linked in.
 * The stack logs at TRACE into a sink, so the log formatting sees hostile
 * fields too. After the last frame, time runs on 20 minutes (reassembly,
 * ARP, TCP timers), the sockets close, time runs again, and the stack is
 * destroyed, which asserts that every packet buffer came back.
 *
 * Results go to a shared page so the parent prints one summary line:
 * captures, frames, and the five commonest drop reasons. A crash is
 * reported with capture, mode and frame number. Environment:
 *   USTACK_CORPUS_DIR   directory of captures (default tests/corpus/pcap)
 *   USTACK_CORPUS_ONLY  only captures whose name contains this
 *   USTACK_CORPUS_VERBOSE=1  a line per capture
 *   USTACK_CORPUS_STATS=1    every non-zero counter, summed per mode
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <ustack/dev.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#include "lib/check_main.h"
#include "wire/bytes.h"

/* The socket layer may not be linked in yet: use it only if present. */
#pragma weak ustack_socket
#pragma weak ustack_bind
#pragma weak ustack_listen
#pragma weak ustack_accept
#pragma weak ustack_recv
#pragma weak ustack_recvfrom
#pragma weak ustack_send
#pragma weak ustack_sendto
#pragma weak ustack_close

#define MAX_CAPTURES 2048
#define MAX_SOCKS 64
#define STEPS_PER_GAP 2000     /* timer steps before jumping to a frame */
#define LOOP_GUARD 2000000     /* iterations per capture: a hang */
#define MODES 2

static const uint8_t MY_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
#define MY_IP 0x0a000002u

struct mode_result {
	int started, done;
	int refused;               /* libpcap would not open it */
	uint64_t frames;           /* delivered by the source */
	uint64_t current;          /* frame in flight (crash reports) */
	int phase;                 /* 0 feeding, 1 timers after, 2 destroy */
	uint64_t truncated, too_big, read_error, tx, socks, accepted;
	uint64_t arp_replies;      /* mode b: injected by the harness */
	uint64_t stats[USTACK_STAT__COUNT];
};

struct capture {
	char name[128];
	struct mode_result mode[MODES];
};

static struct capture *caps;   /* shared with the forked tests */
static int ncaps;
static char corpus_dir[512];

/* ---- mode b: rewrite frames to reach the stack ------------------------- */

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one 16-bit word. */
static uint16_t csum_replace(uint16_t hc, uint16_t m, uint16_t m1)
{
	uint32_t s = (uint16_t)~hc + (uint32_t)(uint16_t)~m + m1;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void patch16(uint8_t *csum, uint16_t old, uint16_t new)
{
	be16_store(csum, csum_replace(be16_load(csum), old, new));
}

static void rewrite_ip4(uint8_t *ip, size_t len)
{
	size_t ihl = (size_t)(ip[0] & 15) * 4;
	uint32_t dst = be32_load(ip + 16);
	uint16_t o_hi = (uint16_t)(dst >> 16), o_lo = (uint16_t)dst;
	uint8_t *th = ip + ihl;

	if (dst == 0xffffffffu || (dst >> 28) == 0xe)
		return;  /* broadcast and multicast stay what they are */
	be32_store(ip + 16, MY_IP);
	if (ihl >= 20) {
		patch16(ip + 10, o_hi, MY_IP >> 16);
		patch16(ip + 10, o_lo, MY_IP & 0xffff);
	}
	/* First fragment (or whole datagram): the transport checksum covers
	 * the pseudo-header with the destination. */
	if (ihl < 20 || (be16_load(ip + 6) & 0x1fff) != 0)
		return;
	if (ip[9] == 6 && len >= ihl + 18) {
		patch16(th + 16, o_hi, MY_IP >> 16);
		patch16(th + 16, o_lo, MY_IP & 0xffff);
	} else if (ip[9] == 17 && len >= ihl + 8 && be16_load(th + 6) != 0) {
		patch16(th + 6, o_hi, MY_IP >> 16);
		patch16(th + 6, o_lo, MY_IP & 0xffff);
		if (be16_load(th + 6) == 0)
			be16_store(th + 6, 0xffff);  /* RFC 768: 0 is "none" */
	}
}

static void rewrite(uint8_t *f, size_t n)
{
	uint16_t type;

	if (n < 14)
		return;
	if (!(f[0] & 1))
		memcpy(f, MY_MAC, 6);
	type = be16_load(f + 12);
	if (type == 0x0806 && n >= 42)
		be32_store(f + 38, MY_IP);  /* ARP target protocol address */
	else if (type == 0x0800 && n >= 34)
		rewrite_ip4(f + 14, n - 14);
}

/*
 * A device over the capture source that rewrites what it receives, and
 * plays every neighbour: an ARP request from the stack is answered at once
 * (from PEER_MAC), so replies, SYN-ACKs and retransmissions really leave
 * instead of dying in the ARP pending queue.
 */
#define RW_ARPQ 16
static const uint8_t PEER_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};

struct rw_dev {
	struct ustack_dev base;
	struct ustack_dev *lower;
	uint8_t arpq[RW_ARPQ][42];   /* replies waiting for receive() */
	unsigned arp_head, arp_n;
	uint64_t arp_replies;        /* delivered */
};

static void rw_answer_arp(struct rw_dev *rw, const uint8_t *f, size_t len)
{
	uint8_t *r;

	if (len < 42 || be16_load(f + 12) != 0x0806 || be16_load(f + 20) != 1 ||
	    rw->arp_n == RW_ARPQ || be32_load(f + 38) == MY_IP ||
	    be32_load(f + 38) == be32_load(f + 28))
		return;  /* not a question, or the stack's own announcement */
	r = rw->arpq[(rw->arp_head + rw->arp_n++) % RW_ARPQ];
	memcpy(r, f + 6, 6);             /* to the asker */
	memcpy(r + 6, PEER_MAC, 6);
	be16_store(r + 12, 0x0806);
	be16_store(r + 14, 1);           /* Ethernet */
	be16_store(r + 16, 0x0800);      /* IPv4 */
	r[18] = 6;
	r[19] = 4;
	be16_store(r + 20, 2);           /* reply */
	memcpy(r + 22, PEER_MAC, 6);     /* sender: the address asked for */
	memcpy(r + 28, f + 38, 4);
	memcpy(r + 32, f + 22, 6);       /* target: the asker */
	memcpy(r + 38, f + 28, 4);
}

static int rw_transmit(struct ustack_dev *d, const void *f, size_t len,
		       ustack_time_t now)
{
	struct rw_dev *rw = (struct rw_dev *)d;

	rw_answer_arp(rw, f, len);
	return ustack_dev_transmit(rw->lower, f, len, now);
}

static long rw_receive(struct ustack_dev *d, void *buf, size_t cap,
		       ustack_time_t now)
{
	struct rw_dev *rw = (struct rw_dev *)d;
	long n;

	if (rw->arp_n && cap >= 42) {
		memcpy(buf, rw->arpq[rw->arp_head], 42);
		rw->arp_head = (rw->arp_head + 1) % RW_ARPQ;
		rw->arp_n--;
		rw->arp_replies++;
		return 42;
	}
	n = ustack_dev_receive(rw->lower, buf, cap, now);
	if (n > 0)
		rewrite(buf, (size_t)n);
	return n;
}

static ustack_time_t rw_next_at(struct ustack_dev *d, ustack_time_t now)
{
	struct rw_dev *rw = (struct rw_dev *)d;

	return rw->arp_n ? now : ustack_dev_next_at(rw->lower, now);
}

static void rw_close(struct ustack_dev *d)
{
	ustack_dev_close(((struct rw_dev *)d)->lower);
	free(d);
}

static const struct ustack_dev_ops rw_ops = {
	.transmit = rw_transmit,
	.receive = rw_receive,
	.next_at = rw_next_at,
	.close = rw_close,
};

/* ---- sockets ------------------------------------------------------------- */

struct socks {
	int listen[16], udp[16], conn[MAX_SOCKS];
	int nlisten, nudp, nconn;
};

static int have_sockets(void)
{
	return ustack_socket && ustack_bind && ustack_listen && ustack_accept &&
	       ustack_recv && ustack_recvfrom && ustack_send && ustack_sendto &&
	       ustack_close;
}

static int open_bound(struct ustack *st, int type, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int sd = ustack_socket(st, AF_INET, type | SOCK_NONBLOCK, 0);

	if (sd < 0)
		return sd;
	if (ustack_bind(st, sd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && ustack_listen(st, sd, 8) < 0)) {
		ustack_close(st, sd);
		return -1;
	}
	return sd;
}

static void socks_open(struct ustack *st, struct socks *s)
{
	static const uint16_t tcp[] = {21, 22, 23, 25, 53, 80, 110, 139, 179,
				       443, 445, 2000, 5060, 8080};
	static const uint16_t udp[] = {7, 53, 67, 69, 123, 137, 161, 500, 514,
				       520, 1812, 4500, 5060, 5353};
	unsigned i;
	int sd;

	memset(s, 0, sizeof(*s));
	if (!have_sockets())
		return;
	for (i = 0; i < sizeof(tcp) / sizeof(tcp[0]); i++)
		if ((sd = open_bound(st, SOCK_STREAM, tcp[i])) >= 0)
			s->listen[s->nlisten++] = sd;
	for (i = 0; i < sizeof(udp) / sizeof(udp[0]); i++)
		if ((sd = open_bound(st, SOCK_DGRAM, udp[i])) >= 0)
			s->udp[s->nudp++] = sd;
}

/* Accept, read, echo a little, close what the peer finished with. */
static void socks_service(struct ustack *st, struct socks *s,
			  struct mode_result *r)
{
	uint8_t buf[2048];
	struct sockaddr_in from;
	socklen_t fl;
	int i, k, sd;

	for (i = 0; i < s->nlisten; i++) {
		for (k = 0; k < 8 && s->nconn < MAX_SOCKS; k++) {
			if ((sd = ustack_accept(st, s->listen[i], NULL, NULL)) < 0)
				break;
			s->conn[s->nconn++] = sd;
			r->accepted++;
		}
	}
	for (i = 0; i < s->nconn; i++) {
		ssize_t n = ustack_recv(st, s->conn[i], buf, sizeof(buf), 0);

		if (n > 0) {
			ustack_send(st, s->conn[i], buf, (size_t)n / 2 + 1, 0);
		} else if (n == 0 || (n < 0 && n != -EAGAIN)) {
			ustack_close(st, s->conn[i]);
			s->conn[i--] = s->conn[--s->nconn];
		}
	}
	for (i = 0; i < s->nudp; i++) {
		for (k = 0; k < 8; k++) {
			ssize_t n;

			fl = sizeof(from);
			n = ustack_recvfrom(st, s->udp[i], buf, sizeof(buf), 0,
					    (struct sockaddr *)&from, &fl);
			if (n < 0)
				break;
			ustack_sendto(st, s->udp[i], buf, (size_t)n, 0,
				      (struct sockaddr *)&from, fl);
		}
	}
}

static void socks_close(struct ustack *st, struct socks *s)
{
	int i;

	for (i = 0; i < s->nconn; i++)
		ustack_close(st, s->conn[i]);
	for (i = 0; i < s->nlisten; i++)
		ustack_close(st, s->listen[i]);
	for (i = 0; i < s->nudp; i++)
		ustack_close(st, s->udp[i]);
	s->nconn = s->nlisten = s->nudp = 0;
}

/* ---- driving a stack through one capture ------------------------------- */

#define START USTACK_SEC(1)

/* The log sink reads every message (a bad string would trip ASan). */
static void sink_log(void *ctx, int level, ustack_time_t now, const char *msg)
{
	(void)level, (void)now;
	*(size_t *)ctx += strlen(msg);
}

/* Run time on to `end` through every deadline, polling the device too. */
static ustack_time_t run_until(struct ustack *st, ustack_time_t now,
			       ustack_time_t end, const char *name)
{
	int steps = 0;

	for (;;) {
		ustack_time_t t = ustack_next_deadline(st);

		if (t > end)
			break;
		ck_assert_msg(++steps < 200000, "%s: timers never settle", name);
		now = t > now ? t : now;
		ustack_run_timers(st, now);
		ustack_poll_dev(st, now, 64);
	}
	ustack_run_timers(st, end);
	return end;
}

/* Feed the capture frame by frame at its times; timers in between. A
 * long silence with busy timers is crossed after STEPS_PER_GAP steps. */
static ustack_time_t feed(struct ustack *st, struct ustack_dev *src,
			  struct socks *s, struct mode_result *r,
			  const char *name)
{
	struct ustack_pcap_source_stats ps;
	ustack_time_t now = START;
	unsigned gap_steps = 0;
	long guard;

	for (guard = 0;; guard++) {
		ustack_time_t frame_at = ustack_dev_next_at(src, now);
		ustack_time_t t = ustack_next_deadline(st);

		ck_assert_msg(guard < LOOP_GUARD, "%s: hang at frame %llu", name,
			      (unsigned long long)r->current);
		if (frame_at == USTACK_TIME_NEVER)
			break;
		if (t < frame_at && gap_steps < STEPS_PER_GAP) {
			gap_steps++;
		} else {
			t = frame_at;
			gap_steps = 0;
		}
		now = t > now ? t : now;
		ustack_run_timers(st, now);
		ustack_pcap_source_get_stats(src, &ps);
		r->current = ps.frames + ps.too_big + 1;
		ustack_poll_dev(st, now, 1);
		socks_service(st, s, r);
	}
	return now;
}

static void mode_config(struct ustack_config *cfg, int mode, size_t *logged,
			uint64_t seed)
{
	ustack_config_default(cfg);
	memcpy(cfg->mac, MY_MAC, 6);
	cfg->addr = MY_IP;
	cfg->prefix_len = mode ? 8 : 24;
	cfg->gateway = mode ? 0x0a000001u : 0;
	cfg->seed_from_os = 0;
	cfg->seed = seed;
	cfg->log_level = USTACK_LOG_TRACE;
	cfg->log_fn = sink_log;
	cfg->log_ctx = logged;
	cfg->trace_tcp = 1;
}

static void run_mode(const char *path, const char *name, int mode,
		     struct mode_result *r, uint64_t seed)
{
	struct ustack_pcap_source_stats ps;
	struct ustack_config cfg;
	struct ustack_dev *src, *dev;
	struct rw_dev *rw = NULL;
	struct ustack *st;
	struct socks s;
	ustack_time_t now;
	size_t logged = 0;
	char err[512];
	int e;

	r->started = 1;
	e = ustack_pcap_source(&src, path, START + 1000, 0, err, sizeof(err));
	if (e == -EPROTONOSUPPORT || e == -EINVAL) {
		r->refused = 1;
		r->done = 1;
		return;
	}
	ck_assert_msg(e == 0, "%s", err);
	dev = src;
	if (mode == 0) {  /* the tee sees every frame too (to /dev/null) */
		ck_assert_msg(ustack_pcap_tee(&dev, src, "/dev/null", err,
					      sizeof(err)) == 0, "%s", err);
	} else {
		rw = calloc(1, sizeof(*rw));
		ck_assert_ptr_nonnull(rw);
		rw->base = *src;
		rw->base.ops = &rw_ops;
		rw->lower = src;
		dev = &rw->base;
	}
	mode_config(&cfg, mode, &logged, seed);
	ck_assert_int_eq(ustack_create(&st, &cfg, dev, START), 0);
	socks_open(st, &s);
	r->socks = (uint64_t)(s.nlisten + s.nudp);
	now = feed(st, src, &s, r, name);
	r->phase = 1;
	now = run_until(st, now, now + USTACK_SEC(1200), name);
	socks_close(st, &s);
	now = run_until(st, now, now + USTACK_SEC(1200), name);
	ustack_stats_snapshot(st, r->stats);
	ustack_pcap_source_get_stats(src, &ps);
	r->frames = ps.frames;
	r->truncated = ps.truncated;
	r->too_big = ps.too_big;
	r->read_error = (uint64_t)ps.read_error;
	r->tx = ps.tx_discarded;
	r->arp_replies = rw ? rw->arp_replies : 0;
	ck_assert_msg(ps.eof, "%s: capture not read to the end", name);
	/* Every frame the device delivered reached eth_input, and every
	 * frame it had to refuse was counted as too big. */
	ck_assert_uint_eq(r->stats[USTACK_STAT_ETH_RX], ps.frames + r->arp_replies);
	ck_assert_uint_eq(r->stats[USTACK_STAT_ETH_DROP_TOO_BIG], ps.too_big);
	ck_assert_uint_eq(r->stats[USTACK_STAT_ETH_TX], ps.tx_discarded);
	r->phase = 2;
	ustack_destroy(st);  /* asserts every packet buffer came back */
	ustack_dev_close(dev);
	r->done = 1;
}

START_TEST(test_corpus_capture)
{
	struct capture *c = &caps[_i];
	char path[1024];
	int m;

	snprintf(path, sizeof(path), "%s/%s", corpus_dir, c->name);
	for (m = 0; m < MODES; m++) {
		run_mode(path, c->name, m, &c->mode[m], 1000u + (uint64_t)_i);
		if (getenv("USTACK_CORPUS_VERBOSE"))
			fprintf(stderr, "%-50s mode %c: %llu frames, eth.rx %llu\n",
				c->name, 'a' + m,
				(unsigned long long)c->mode[m].frames,
				(unsigned long long)c->mode[m].stats[USTACK_STAT_ETH_RX]);
	}
}
END_TEST

START_TEST(test_corpus_found_captures)
{
	ck_assert_msg(ncaps > 0, "no captures in %s (set USTACK_CORPUS_DIR)",
		      corpus_dir);
}
END_TEST

/* ---- set-up and the summary -------------------------------------------- */

static int is_capture(const char *n)
{
	size_t l = strlen(n);

	return (l > 5 && !strcmp(n + l - 5, ".pcap")) ||
	       (l > 7 && !strcmp(n + l - 7, ".pcapng"));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct capture *)a)->name,
		      ((const struct capture *)b)->name);
}

static void find_captures(void)
{
	const char *only = getenv("USTACK_CORPUS_ONLY");
	const char *dir = getenv("USTACK_CORPUS_DIR");
	struct dirent *de;
	DIR *d;

	snprintf(corpus_dir, sizeof(corpus_dir), "%s",
		 dir ? dir : "tests/corpus/pcap");
	caps = mmap(NULL, sizeof(*caps) * MAX_CAPTURES, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (caps == MAP_FAILED)
		abort();
	if ((d = opendir(corpus_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && ncaps < MAX_CAPTURES) {
		if (!is_capture(de->d_name) || strlen(de->d_name) >= 128 ||
		    (only && !strstr(de->d_name, only)))
			continue;
		memcpy(caps[ncaps++].name, de->d_name, strlen(de->d_name) + 1);
	}
	closedir(d);
	qsort(caps, (size_t)ncaps, sizeof(*caps), by_name);
}

static void print_top_drops(const uint64_t *sum)
{
	int used[USTACK_STAT__COUNT] = {0}, k, i;

	printf("corpus: top drops:");
	for (k = 0; k < 5; k++) {
		int best = -1;

		for (i = 0; i < USTACK_STAT__COUNT; i++) {
			const char *n = ustack_stat_name((enum ustack_stat_id)i);

			if (used[i] || !sum[i] ||
			    (!strstr(n, "drop") && !strstr(n, "bad")))
				continue;
			if (best < 0 || sum[i] > sum[best])
				best = i;
		}
		if (best < 0)
			break;
		used[best] = 1;
		printf(" %s=%llu", ustack_stat_name((enum ustack_stat_id)best),
		       (unsigned long long)sum[best]);
	}
	printf("\n");
}

static void print_mode_stats(void)
{
	int i, m, s;

	for (m = 0; m < MODES; m++) {
		printf("corpus: mode %c counters:", 'a' + m);
		for (s = 0; s < USTACK_STAT__COUNT; s++) {
			uint64_t v = 0;

			for (i = 0; i < ncaps; i++)
				v += caps[i].mode[m].stats[s];
			if (v)
				printf(" %s=%llu",
				       ustack_stat_name((enum ustack_stat_id)s),
				       (unsigned long long)v);
		}
		printf("\n");
	}
}

static void summary(void)
{
	static uint64_t sum[USTACK_STAT__COUNT];
	uint64_t frames = 0, tx = 0, accepted = 0, socks = 0, arp = 0;
	int i, m, s, refused = 0, failed = 0;

	for (i = 0; i < ncaps; i++) {
		refused += caps[i].mode[0].refused;
		for (m = 0; m < MODES; m++) {
			struct mode_result *r = &caps[i].mode[m];

			if (r->started && !r->done) {
				static const char *const ph[] = {
					"feeding frame", "in the timers after frame",
					"destroying the stack (a leak?) after frame"};

				failed++;
				printf("corpus: FAILED %s mode %c %s %llu "
				       "(reproduce: USTACK_CORPUS_ONLY=%s "
				       "CK_FORK=no)\n", caps[i].name, 'a' + m,
				       ph[r->phase], (unsigned long long)r->current,
				       caps[i].name);
			}
			frames += r->frames;
			arp += r->arp_replies;
			tx += r->tx;
			accepted += r->accepted;
			socks = r->socks > socks ? r->socks : socks;
			for (s = 0; s < USTACK_STAT__COUNT; s++)
				sum[s] += r->stats[s];
		}
	}
	printf("corpus: %d captures (%d refused by libpcap), %llu frames fed "
	       "in %d modes (+%llu ARP replies), %d failed; stack sent %llu "
	       "frames; %llu sockets open%s, %llu connections accepted\n",
	       ncaps, refused, (unsigned long long)frames, MODES,
	       (unsigned long long)arp, failed, (unsigned long long)tx,
	       (unsigned long long)socks,
	       have_sockets() ? "" : " (socket layer not linked)",
	       (unsigned long long)accepted);
	print_top_drops(sum);
	if (getenv("USTACK_CORPUS_STATS"))
		print_mode_stats();
	fflush(stdout);
}

static Suite *corpus_suite(void)
{
	Suite *s = suite_create("corpus");
	TCase *tc = tcase_create("corpus");

	find_captures();
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, NULL, summary);
	tcase_add_test(tc, test_corpus_found_captures);
	tcase_add_loop_test(tc, test_corpus_capture, 0, ncaps);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(corpus_suite)
