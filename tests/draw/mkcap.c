/*
 * mkcap.c - make captures for ustack-draw's tests without root: two stacks
 * joined by memlink in virtual time, "ustack" (10.0.0.2, whose pcap and
 * --trace log are written, as ustack's programs write them) and a "peer"
 * (10.0.0.1, another ustack stack playing the kernel, 1 ms away each way).
 * Same arguments, same bytes: everything is seeded and the clock virtual.
 *
 *   draw_mkcap daytime --pcap FILE --trace FILE
 *       the peer connects to ustack's daytime port 13; ustack sends one
 *       line and closes (active close: TIME_WAIT, MSL 1 s); the peer reads
 *       to the end and closes.
 *   draw_mkcap bulk --pcap FILE --trace FILE [--bytes N] [--loss PPM]
 *                   [--dup PPM] [--seed N]
 *       ustack connects to the peer's port 9 and sends N bytes (default
 *       100000) through a fault injector losing PPM per million of the
 *       frames it sends (default 50000: 5%) and duplicating --dup PPM
 *       (default 0) of those it receives (the copies are in the
 *       capture: the tee is below the injector), then closes. The round trip
 *       is 20 ms here (2 ms for daytime).
 *
 * Exit 0 when the scenario ran to its end, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/dev.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#define ADDR_US 0x0a000002u
#define ADDR_PEER 0x0a000001u
#define PORT_DAYTIME 13
#define PORT_DISCARD 9
#define LINK_DELAY_US 1000      /* the peer's frames, each way (daytime) */
#define BULK_DELAY_US 10000     /* ... (bulk: a 20 ms round trip) */
#define MSL_US 1000000          /* TIME_WAIT = 2 s */
#define TICK_US 10
#define MAX_STEPS 10000000
#define END_US (USTACK_SEC(1) + USTACK_SEC(120))

static const char daytime[] = "Monday, December 7, 2026 21:00:00-UTC\r\n";

struct world {
	struct ustack *us, *peer;
	struct ustack_dev *dus, *dpeer; /* their device chains */
	ustack_time_t now;
	int idle;                 /* passes in a row that moved nothing */
	FILE *trace;
};

static void die(const char *what, long v)
{
	fprintf(stderr, "draw_mkcap: %s (%ld)\n", what, v);
	exit(1);
}

/* The same line format as the stack's default stderr hook. */
static void log_to_file(void *ctx, int level, ustack_time_t now,
			const char *msg)
{
	static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG",
					    "TRACE"};

	fprintf((FILE *)ctx, "ustack %llu.%06llu %s: %s\n",
		(unsigned long long)(now / 1000000),
		(unsigned long long)(now % 1000000),
		level >= 0 && level <= USTACK_LOG_TRACE ? names[level] : "TRACE",
		msg);
}

static struct ustack *make(struct world *w, struct ustack_dev *dev,
			   uint32_t addr, uint8_t mac, uint64_t seed, int traced)
{
	struct ustack_config cfg;
	struct ustack *st;
	int r;

	ustack_config_default(&cfg);
	cfg.addr = addr;
	cfg.mac[5] = mac;
	cfg.seed_from_os = 0;
	cfg.seed = seed;
	cfg.tcp_msl_us = MSL_US;
	cfg.log_level = USTACK_LOG_ERROR;
	if (traced) {
		cfg.trace_tcp = 1;
		cfg.log_fn = log_to_file;
		cfg.log_ctx = w->trace;
	}
	if ((r = ustack_create(&st, &cfg, dev, w->now)) < 0)
		die("ustack_create", r);
	return st;
}

static void setup(struct world *w, const char *pcap, int bulk,
		  uint32_t loss_ppm, uint32_t dup_ppm, uint64_t seed)
{
	struct ustack_dev *a, *b, *tee, *fa, *fb;
	struct ustack_fault_config fc;
	char err[256];
	int r;

	if ((r = ustack_memlink_pair(&a, &b, 4096)) < 0)
		die("memlink", r);
	/* ustack: memlink, pcap tee, fault, stack (as the programs stack
	 * tap, tee, fault): frames the injector drops on send are not in
	 * the capture. */
	if ((r = ustack_pcap_tee(&tee, a, pcap, err, sizeof(err))) < 0) {
		fprintf(stderr, "draw_mkcap: %s\n", err);
		exit(1);
	}
	ustack_fault_config_default(&fc);
	fc.seed = seed;
	fc.loss_ppm = loss_ppm;
	if (dup_ppm) {
		/* Duplicates on receive only: copies made on transmit would
		 * pass the tee twice too, but so would a real NIC's. */
		fc.dup_ppm = dup_ppm;
		fc.rx = 1;
	}
	if ((r = ustack_fault_wrap(&fa, tee, &fc)) < 0)
		die("fault", r);
	/* The peer: its frames are delayed both ways. */
	ustack_fault_config_default(&fc);
	fc.delay_us = bulk ? BULK_DELAY_US : LINK_DELAY_US;
	fc.rx = 1;
	if ((r = ustack_fault_wrap(&fb, b, &fc)) < 0)
		die("fault", r);
	w->dus = fa;
	w->dpeer = fb;
	w->now = USTACK_SEC(1);
	w->us = make(w, fa, ADDR_US, 2, seed, 1);
	w->peer = make(w, fb, ADDR_PEER, 1, seed + 1, 0);
}

/* One step: both devices read, both timer sets run; when two passes in a
 * row moved nothing, jump to the next deadline (a second pass because a
 * frame the fault wrapper released into memlink shows only on the next
 * read: memlink has no next_at). Returns 0 when nothing is left to do. */
static int step(struct world *w, int moved_app)
{
	int n = ustack_poll_dev(w->us, w->now, 64) +
		ustack_poll_dev(w->peer, w->now, 64);
	ustack_time_t a, b, t;

	ustack_run_timers(w->us, w->now);
	ustack_run_timers(w->peer, w->now);
	if (n > 0 || moved_app || !w->idle) {
		w->idle = !(n > 0 || moved_app);
		w->now += TICK_US;
		return 1;
	}
	w->idle = 0;
	a = ustack_next_deadline(w->us);
	b = ustack_next_deadline(w->peer);
	t = a < b ? a : b;
	if (t == USTACK_TIME_NEVER || t > END_US)
		return 0;
	w->now = t > w->now ? t : w->now + TICK_US;
	return 1;
}

static void sin_of(struct sockaddr_in *sa, uint32_t addr, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(addr);
	sa->sin_port = htons(port);
}

static int listener(struct ustack *st, uint16_t port)
{
	struct sockaddr_in sa;
	int sd = ustack_socket(st, AF_INET, SOCK_STREAM, 0);

	sin_of(&sa, 0, port);
	if (sd < 0 || ustack_bind(st, sd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    ustack_listen(st, sd, 4) < 0)
		die("listen", sd);
	return sd;
}

static int connector(struct ustack *st, uint32_t addr, uint16_t port)
{
	struct sockaddr_in sa;
	int sd = ustack_socket(st, AF_INET, SOCK_STREAM, 0), r;

	sin_of(&sa, addr, port);
	if (sd < 0)
		die("socket", sd);
	r = ustack_connect(st, sd, (struct sockaddr *)&sa, sizeof(sa));
	if (r != -EINPROGRESS && r != 0)
		die("connect", r);
	return sd;
}

/* Read what is there; 1 at end of stream, 0 otherwise. */
static int drain(struct ustack *st, int sd, uint64_t *got)
{
	char buf[4096];
	ssize_t n;

	while ((n = ustack_recv(st, sd, buf, sizeof(buf), 0)) > 0)
		*got += (uint64_t)n;
	if (n == 0)
		return 1;
	if (n != -EAGAIN && n != -ENOTCONN)
		die("recv", (long)n);
	return 0;
}

static void run_daytime(struct world *w)
{
	int lsd = listener(w->us, PORT_DAYTIME), csd, ssd = -1, cdone = 0;
	uint64_t got = 0;
	long steps = 0;

	csd = connector(w->peer, ADDR_US, PORT_DAYTIME);
	for (;;) {
		int moved = 0;

		if (++steps > MAX_STEPS)
			die("no end", steps);
		if (ssd < 0 && (ssd = ustack_accept(w->us, lsd, NULL, NULL)) >= 0) {
			if (ustack_send(w->us, ssd, daytime, sizeof(daytime) - 1, 0) !=
			    (ssize_t)sizeof(daytime) - 1)
				die("send", 0);
			ustack_close(w->us, ssd);
			moved = 1;
		}
		if (!cdone && drain(w->peer, csd, &got)) {
			ustack_close(w->peer, csd);
			cdone = moved = 1;
		}
		if (!step(w, moved))
			break;
	}
	if (got != sizeof(daytime) - 1 || !cdone)
		die("daytime did not arrive", (long)got);
	ustack_close(w->us, lsd);
}

static void run_bulk(struct world *w, uint64_t bytes)
{
	int lsd = listener(w->peer, PORT_DISCARD), csd, ssd = -1, sdone = 0;
	uint64_t sent = 0, got = 0;
	int closed = 0;
	long steps = 0;
	char buf[8192];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	csd = connector(w->us, ADDR_PEER, PORT_DISCARD);
	for (;;) {
		int moved = 0;

		if (++steps > MAX_STEPS)
			die("no end", steps);
		while (sent < bytes) {
			size_t want = bytes - sent < sizeof(buf) ? (size_t)(bytes - sent)
								 : sizeof(buf);
			ssize_t n = ustack_send(w->us, csd, buf, want, 0);

			if (n == -EAGAIN || n == -ENOTCONN)
				break;
			if (n < 0)
				die("send", (long)n);
			sent += (uint64_t)n;
			moved = 1;
		}
		if (sent == bytes && !closed) {
			ustack_close(w->us, csd);
			closed = moved = 1;
		}
		if (ssd < 0)
			ssd = ustack_accept(w->peer, lsd, NULL, NULL);
		if (ssd >= 0 && !sdone && drain(w->peer, ssd, &got)) {
			ustack_close(w->peer, ssd);
			sdone = moved = 1;
		}
		if (!step(w, moved))
			break;
	}
	if (got != bytes)
		die("bulk: bytes lost", (long)got);
	ustack_close(w->peer, lsd);
}

int main(int argc, char **argv)
{
	const char *pcap = NULL, *trace = NULL;
	uint64_t bytes = 100000, seed = 1;
	uint32_t loss = 50000, dup = 0;
	struct world w;
	int bulk;

	if (argc < 2 || (strcmp(argv[1], "daytime") && strcmp(argv[1], "bulk"))) {
		fprintf(stderr, "usage: draw_mkcap daytime|bulk --pcap FILE "
			"--trace FILE [--bytes N] [--loss PPM] [--dup PPM] [--seed N]\n");
		return 2;
	}
	bulk = !strcmp(argv[1], "bulk");
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--pcap"))
			pcap = argv[i + 1];
		else if (!strcmp(argv[i], "--trace"))
			trace = argv[i + 1];
		else if (!strcmp(argv[i], "--bytes"))
			bytes = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--loss"))
			loss = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--dup"))
			dup = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 10);
		else
			die("unknown option", i);
	}
	if (!pcap || !trace)
		die("--pcap and --trace are required", 0);
	memset(&w, 0, sizeof(w));
	if ((w.trace = fopen(trace, "w")) == NULL)
		die("cannot write the trace", errno);
	setup(&w, pcap, bulk, bulk ? loss : 0, bulk ? dup : 0, seed);
	if (bulk)
		run_bulk(&w, bytes);
	else
		run_daytime(&w);
	ustack_destroy(w.us);
	ustack_destroy(w.peer);
	/* The stacks do not own their devices; closing flushes the pcap. */
	ustack_dev_close(w.dus);
	ustack_dev_close(w.dpeer);
	fclose(w.trace);
	return 0;
}
