/*
 * loopback.c - ustack-loopback: two stacks in one process, joined by an
 * in-memory link, with a clock the program moves by hand. No TAP device,
 * no root, no real time: the first example to run.
 *
 *   build/bin/ustack-loopback                    # prints what happens
 *   build/bin/ustack-loopback -w loop.pcap       # and writes a capture
 *   tcpdump -nr loop.pcap                        # 10.0.0.1 <-> 10.0.0.2
 *
 * A client stack (10.0.0.1) connects to a server stack (10.0.0.2), sends a
 * line, gets it back upper-cased, and closes; the server closes too. Then
 * the program jumps the clock two minutes ahead and the client's TIME_WAIT
 * ends at once: time is an input of the stack (docs/architecture.md), so
 * the same program gives the same frames, bit for bit, on every run.
 *
 * No runtime is attached, so every socket call returns at once (-EAGAIN
 * where it would block) and the program itself drives both stacks:
 * step() reads each stack's device and fires its timers at `now`.
 *
 * May touch: its two stacks and the memlink between them, the capture it
 * writes, stdout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ustack/dev.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#define PORT 7
#define CLIENT_ADDR 0x0a000001u /* 10.0.0.1 */
#define SERVER_ADDR 0x0a000002u /* 10.0.0.2 */
#define MAX_STEPS 10000         /* bounds every loop below */

struct world {
	struct ustack *cli, *srv;
	ustack_time_t now;        /* microseconds, ours to move */
};

static void die(const char *what, int err)
{
	fprintf(stderr, "ustack-loopback: %s: %s\n", what, ustack_strerror(err));
	exit(1);
}

/* Let both stacks read the frames that wait for them and run due timers,
 * until neither has anything left to do at `now`. */
static void step(struct world *w)
{
	for (int i = 0; i < MAX_STEPS; i++) {
		int n = ustack_poll_dev(w->cli, w->now, 64) +
			ustack_poll_dev(w->srv, w->now, 64);

		ustack_run_timers(w->cli, w->now);
		ustack_run_timers(w->srv, w->now);
		if (n == 0)
			return;
	}
}

/* Move the clock forward by `us`, stopping at every timer on the way. */
static void advance(struct world *w, ustack_time_t us)
{
	ustack_time_t end = w->now + us;

	for (int i = 0; i < MAX_STEPS && w->now < end; i++) {
		ustack_time_t a = ustack_next_deadline(w->cli);
		ustack_time_t b = ustack_next_deadline(w->srv);
		ustack_time_t next = a < b ? a : b;

		w->now = next < end ? (next > w->now ? next : w->now + 1) : end;
		step(w);
	}
}

/* The state of the client's one connection, as ustack-stat shows it. */
static const char *client_state(struct world *w)
{
	struct ustack_conn_info ci[4];
	int n = ustack_conn_list(w->cli, ci, 4);

	for (int i = 0; i < n; i++)
		if (ci[i].proto == IPPROTO_TCP && ci[i].state != USTACK_TCP_LISTEN)
			return ustack_tcp_state_name(ci[i].state);
	return "(none)";
}

/* The stack's log hook: `now` is the stack's own (virtual) time. */
static void log_line(void *ctx, int level, ustack_time_t now, const char *msg)
{
	(void)ctx;
	(void)level;
	printf("  t=%10.3f ms  %s\n", (double)now / 1000.0, msg);
}

static struct ustack *make_stack(struct world *w, struct ustack_dev *dev,
				 uint32_t addr, uint8_t last_mac_byte)
{
	struct ustack_config cfg;
	struct ustack *st;
	int rc;

	ustack_config_default(&cfg);
	cfg.addr = addr;
	cfg.mac[5] = last_mac_byte;
	cfg.seed_from_os = 0; /* same seed, same ISNs and ports: same frames */
	cfg.seed = 1;
	cfg.trace_tcp = 1;    /* every state transition, with the 4-tuple */
	cfg.log_level = USTACK_LOG_INFO;
	cfg.log_fn = log_line;
	cfg.log_ctx = NULL;
	if ((rc = ustack_create(&st, &cfg, dev, w->now)) < 0)
		die("ustack_create", rc);
	return st;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ustack-loopback [-w FILE.pcap]\n"
		   "Two stacks over an in-memory link in virtual time: a TCP\n"
		   "echo exchange from SYN to the end of TIME_WAIT. -w writes\n"
		   "every frame the client stack sends and receives to FILE.\n");
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT),
				 .sin_addr.s_addr = htonl(SERVER_ADDR)};
	struct world w = {.now = 1000000};
	struct ustack_dev *da, *db, *cap = NULL;
	const char *pcap = NULL;
	char buf[256], err[256];
	int ls, cs, ss = -1, rc, opt;
	ssize_t n;

	while ((opt = getopt(argc, argv, "w:h")) != -1) {
		if (opt == 'w') {
			pcap = optarg;
		} else {
			usage(opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if ((rc = ustack_memlink_pair(&da, &db, 0)) < 0)
		die("ustack_memlink_pair", rc);
	if (pcap) {
		if (ustack_pcap_tee(&cap, da, pcap, err, sizeof(err)) < 0) {
			fprintf(stderr, "ustack-loopback: %s\n", err);
			return 1;
		}
		da = cap;
	}
	printf("two stacks on one in-memory link; the clock is ours to move\n");
	w.cli = make_stack(&w, da, CLIENT_ADDR, 1);
	w.srv = make_stack(&w, db, SERVER_ADDR, 2);
	step(&w); /* the gratuitous ARPs */

	if ((ls = ustack_socket(w.srv, AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket", ls);
	if ((rc = ustack_bind(w.srv, ls, (struct sockaddr *)&sa, sizeof(sa))) < 0 ||
	    (rc = ustack_listen(w.srv, ls, 4)) < 0)
		die("bind/listen", rc);

	printf("\n1. connect: ARP, then the three-way handshake\n");
	if ((cs = ustack_socket(w.cli, AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket", cs);
	rc = ustack_connect(w.cli, cs, (struct sockaddr *)&sa, sizeof(sa));
	if (rc < 0 && rc != -EINPROGRESS)
		die("connect", rc);
	for (int i = 0; i < MAX_STEPS && ss < 0; i++) {
		advance(&w, 100); /* a link with 0.1 ms steps */
		ss = ustack_accept(w.srv, ls, NULL, NULL);
		if (ss < 0 && ss != -EAGAIN)
			die("accept", ss);
	}
	if (ss < 0)
		die("accept", -ETIMEDOUT);

	printf("\n2. data: the client sends a line, the server echoes it upper-cased\n");
	static const char line[] = "hello, loopback";
	if ((n = ustack_send(w.cli, cs, line, sizeof(line) - 1, 0)) < 0)
		die("send", (int)n);
	advance(&w, 1000);
	if ((n = ustack_recv(w.srv, ss, buf, sizeof(buf), 0)) < 0)
		die("server recv", (int)n);
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] = (char)(buf[i] - 'a' + 'A');
	if ((rc = (int)ustack_send(w.srv, ss, buf, (size_t)n, 0)) < 0)
		die("server send", rc);
	advance(&w, 1000);
	if ((n = ustack_recv(w.cli, cs, buf, sizeof(buf) - 1, 0)) < 0)
		die("client recv", (int)n);
	buf[n] = '\0';
	printf("  client got \"%s\"\n", buf);

	printf("\n3. close: the client first (it will hold TIME_WAIT), then the server\n");
	ustack_close(w.cli, cs);
	advance(&w, 1000);
	ustack_close(w.srv, ss);
	advance(&w, 1000);
	printf("  client connection: %s\n", client_state(&w));

	printf("\n4. jump the clock 2 minutes: TIME_WAIT (2*MSL) ends at once\n");
	advance(&w, 120 * 1000000ull);
	printf("  client connection: %s\n", client_state(&w));

	ustack_close(w.srv, ls);
	ustack_destroy(w.cli);
	ustack_destroy(w.srv);
	ustack_dev_close(da); /* the tee closes the memlink end it wraps */
	ustack_dev_close(db);
	if (pcap)
		printf("\nframes written to %s (tcpdump -nr %s)\n", pcap, pcap);
	return strcmp(buf, "HELLO, LOOPBACK") == 0 ? 0 : 1;
}
