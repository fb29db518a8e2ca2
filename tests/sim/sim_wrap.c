/*
 * sim_wrap.c - one connection that moves more than 2^32 bytes each way
 * (issue 7, defect 1: a sender that compared SND.UNA with its ISS stopped
 * for good after 2^31 bytes). Two stacks over memlink with checksum
 * offload and TSO/GRO (64 KiB super-frames, as over a TAP device with
 * IFF_VNET_HDR), an ideal link, virtual time: about a second of CPU.
 *
 * For each run: connect, then both sides send WRAP_BYTES at once (past
 * 2^31 and 2^32 bytes from both ISSs: every sequence number is used at
 * least once), checked byte for byte against a pattern as it arrives;
 * then an orderly close (client first), both paths through TIME_WAIT /
 * LAST_ACK to CLOSED; no reset, both stacks empty at the end. With
 * SIM_WRAP_LOSS the fault driver drops that many ppm of the frames (100: a
 * few dozen super-frames each way), so loss recovery (SACK, NewReno's and
 * RFC 6675's "recover") runs on both sides of 2^31 and 2^32 too; off by
 * default, as the fault driver's copy of every 64 KiB frame makes the run
 * 25 times dearer (about 35 s of CPU). Loss only: a corrupted frame would
 * pass, its checksum vouched for by the offload. Run twice: ISNs as RFC 6528 picks them, and (64 MiB)
 * both ISNs forced just below 2^32. (The old bug depended on the distance
 * from the ISS, not on its value: only the first run catches it.)
 *
 *   SIM_WRAP_BYTES=B  bytes each way (default 2^32 + 3 MiB)
 *   SIM_WRAP_LOSS=PPM frames dropped (default 0: no fault driver)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ustack/dev.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#include "core/stack.h"
#include "proto/tcp_int.h"

#define ADDR_SRV 0x0a000001u
#define ADDR_CLI 0x0a000002u
#define PORT 5001
#define CHUNK (256u << 10)
#define PERIOD 65521u              /* pattern period: prime, so no frame
					  or buffer size lines up with it */
#define MAX_PASSES 200000000ull

struct end {
	const char *name;
	struct ustack *st;
	struct ustack_dev *dev;       /* the memlink end, or a fault wrapper
					 that owns it */
	int sd;
	uint64_t sent, rcvd;
	uint32_t shift;               /* where in the pattern its stream starts */
	int eof, closed;
};

struct wrap {
	struct end srv, cli;
	ustack_time_t now;
	uint64_t total, passes;
	uint8_t *pat;                 /* PERIOD + CHUNK bytes of pattern */
	uint8_t *buf;
};

static int fail(const char *what, long v)
{
	fprintf(stderr, "sim_wrap: %s (%ld)\n", what, v);
	return -1;
}

static unsigned long long env_ull(const char *name, unsigned long long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* Byte i of the stream an end sends: pat[(i + shift) % PERIOD]. */
static const uint8_t *pattern_at(const struct wrap *w, const struct end *e,
				 uint64_t off)
{
	return w->pat + (off + e->shift) % PERIOD;
}

static int make_end(struct wrap *w, struct end *e, struct ustack_dev *link,
		    uint32_t addr, uint8_t mac, int force_isn)
{
	struct ustack_config cfg;
	struct ustack_fault_config fc;
	struct ustack_dev *dev = link;
	int err;

	ustack_fault_config_default(&fc);
	fc.seed = 1000 + mac;
	fc.loss_ppm = (uint32_t)env_ull("SIM_WRAP_LOSS", 0);
	if (fc.loss_ppm && (err = ustack_fault_wrap(&dev, link, &fc)) < 0)
		return fail("fault_wrap", err);

	ustack_config_default(&cfg);
	cfg.addr = addr;
	cfg.mac[5] = mac;
	cfg.seed_from_os = 0;
	cfg.seed = 77 + mac;
	cfg.log_level = USTACK_LOG_ERROR;
	e->dev = dev;
	if ((err = ustack_create(&e->st, &cfg, dev, w->now)) < 0)
		return fail("ustack_create", err);
	if (force_isn) {
		/* Just below 2^32: the sequence numbers wrap within the
		 * first few KiB (and the super-frames straddle the wrap). */
		e->st->tcp.isn_forced = 1;
		e->st->tcp.isn_force = 0xffffffffu - 5000u * mac;
	}
	return 0;
}

/* One pass of both devices and timers; returns frames moved. */
static int pass(struct wrap *w)
{
	int n;

	w->now += 1;
	w->passes++;
	n = ustack_poll_dev(w->srv.st, w->now, 64);
	n += ustack_poll_dev(w->cli.st, w->now, 64);
	ustack_run_timers(w->srv.st, w->now);
	ustack_run_timers(w->cli.st, w->now);
	return n;
}

/* Nothing moved: jump to the next deadline. 0 if there is none. */
static int idle(struct wrap *w)
{
	ustack_time_t a = ustack_next_deadline(w->srv.st);
	ustack_time_t b = ustack_next_deadline(w->cli.st);
	ustack_time_t t = a < b ? a : b;

	if (t == USTACK_TIME_NEVER)
		return 0;
	if (t > w->now)
		w->now = t - 1;
	return 1;
}

static int do_send(struct wrap *w, struct end *e)
{
	int progress = 0;

	while (e->sent < w->total) {
		uint64_t left = w->total - e->sent;
		size_t want = left < CHUNK ? (size_t)left : CHUNK;
		ssize_t n;

		n = ustack_send(e->st, e->sd, pattern_at(w, e, e->sent), want, 0);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return fail("send", (long)n);
		e->sent += (uint64_t)n;
		progress = 1;
	}
	if (e->sent == w->total && !e->closed && e == &w->cli) {
		ustack_shutdown(e->st, e->sd, SHUT_WR);   /* client closes first */
		e->closed = 1;
	}
	return progress;
}

/* Receive into w->buf and compare with the peer's pattern. */
static int do_recv(struct wrap *w, struct end *e, const struct end *peer)
{
	int progress = 0;

	while (!e->eof) {
		ssize_t n = ustack_recv(e->st, e->sd, w->buf, CHUNK, 0);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			return fail("recv", (long)n);
		if (n == 0) {
			e->eof = 1;
			break;
		}
		if (e->rcvd + (uint64_t)n > w->total)
			return fail("received too much", (long)n);
		if (memcmp(w->buf, pattern_at(w, peer, e->rcvd), (size_t)n)) {
			fprintf(stderr, "sim_wrap: %s: data differs near byte "
				"%llu\n", e->name, (unsigned long long)e->rcvd);
			return -1;
		}
		e->rcvd += (uint64_t)n;
		progress = 1;
	}
	if (e->eof && e == &w->srv && !e->closed && e->sent == w->total) {
		ustack_close(e->st, e->sd);
		e->closed = 2;
	}
	return progress;
}

static int run(uint64_t total, int force_isn)
{
	struct ustack_dev *ds, *dc;
	struct sockaddr_in sa;
	struct wrap w;
	uint32_t iss_srv = 0, iss_cli = 0;
	int lsd, r, rc = -1;
	clock_t c0 = clock();

	memset(&w, 0, sizeof(w));
	w.total = total;
	w.now = USTACK_SEC(1);
	w.srv = (struct end){.name = "server", .sd = -1, .shift = 0};
	w.cli = (struct end){.name = "client", .sd = -1, .shift = 30000};
	w.pat = malloc(PERIOD + CHUNK);
	w.buf = malloc(CHUNK);
	if (!w.pat || !w.buf)
		return fail("malloc", 0);
	for (uint32_t i = 0; i < PERIOD + CHUNK; i++) {
		uint32_t k = i % PERIOD;

		w.pat[i] = (uint8_t)(k * 131u + (k >> 7) * 17u + (k >> 13));
	}
	if ((r = ustack_memlink_pair(&ds, &dc, 4096)) < 0 ||
	    (r = ustack_memlink_offload(ds, USTACK_DEV_OFFLOADS_ALL)) < 0 ||
	    (r = ustack_memlink_offload(dc, USTACK_DEV_OFFLOADS_ALL)) < 0)
		return fail("memlink", r);
	if (make_end(&w, &w.srv, ds, ADDR_SRV, 1, force_isn) < 0 ||
	    make_end(&w, &w.cli, dc, ADDR_CLI, 2, force_isn) < 0)
		goto out;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(PORT);
	lsd = ustack_socket(w.srv.st, AF_INET, SOCK_STREAM, 0);
	if (ustack_bind(w.srv.st, lsd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    ustack_listen(w.srv.st, lsd, 1) < 0) {
		fail("listen", 0);
		goto out;
	}
	sa.sin_addr.s_addr = htonl(ADDR_SRV);
	w.cli.sd = ustack_socket(w.cli.st, AF_INET, SOCK_STREAM, 0);
	r = ustack_connect(w.cli.st, w.cli.sd, (struct sockaddr *)&sa, sizeof(sa));
	if (r != -EINPROGRESS && r != 0) {
		fail("connect", r);
		goto out;
	}
	while (w.srv.sd < 0) {
		int moved = pass(&w);

		w.srv.sd = ustack_accept(w.srv.st, lsd, NULL, NULL);
		if (w.srv.sd < 0 && w.srv.sd != -EAGAIN) {
			fail("accept", w.srv.sd);
			goto out;
		}
		if (w.srv.sd < 0 && !moved && !idle(&w)) {
			fail("handshake stalled", 0);
			goto out;
		}
	}
	ustack_close(w.srv.st, lsd);
	iss_srv = ((struct tcp_conn *)w.srv.st->tcp.all)->iss;
	iss_cli = ((struct tcp_conn *)w.cli.st->tcp.all)->iss;

	/* Both ways at once, then the close; until both stacks are empty. */
	while (w.srv.st->tcp.ntcb || w.cli.st->tcp.ntcb) {
		int moved, progress = 0, p;

		if (w.passes > MAX_PASSES) {
			fail("no progress (passes)", 0);
			goto out;
		}
		if ((p = do_send(&w, &w.cli)) < 0 || (progress |= p,
		    (p = do_send(&w, &w.srv)) < 0))
			goto out;
		progress |= p;
		moved = pass(&w);
		if ((p = do_recv(&w, &w.srv, &w.cli)) < 0 || (progress |= p,
		    (p = do_recv(&w, &w.cli, &w.srv)) < 0))
			goto out;
		progress |= p;
		if (getenv("SIM_WRAP_DEBUG") && !moved && !progress)
			fprintf(stderr, "idle at %.6f: srv %llu/%llu cli %llu/%llu "
				"ntcb %u/%u\n", (double)w.now / 1e6,
				(unsigned long long)w.srv.sent,
				(unsigned long long)w.srv.rcvd,
				(unsigned long long)w.cli.sent,
				(unsigned long long)w.cli.rcvd,
				w.srv.st->tcp.ntcb, w.cli.st->tcp.ntcb);
		if (w.cli.eof && w.cli.closed == 1) {
			ustack_close(w.cli.st, w.cli.sd);
			w.cli.closed = 2;
		}
		if (!w.srv.st->tcp.ntcb && !w.cli.st->tcp.ntcb)
			break;
		if (!moved && !progress && !idle(&w)) {
			fprintf(stderr, "sim_wrap: stalled: server sent %llu "
				"rcvd %llu, client sent %llu rcvd %llu\n",
				(unsigned long long)w.srv.sent,
				(unsigned long long)w.srv.rcvd,
				(unsigned long long)w.cli.sent,
				(unsigned long long)w.cli.rcvd);
			goto out;
		}
	}
	if (w.srv.rcvd != total || w.cli.rcvd != total || !w.srv.eof || !w.cli.eof) {
		fail("incomplete transfer", 0);
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		struct ustack *st = i ? w.cli.st : w.srv.st;

		if (ustack_stat(st, USTACK_STAT_TCP_ESTAB_RESETS) ||
		    ustack_stat(st, USTACK_STAT_TCP_RST_TX) ||
		    ustack_stat(st, USTACK_STAT_TCP_ABORT_ON_TIMEOUT) ||
		    (!getenv("SIM_WRAP_LOSS") &&
		     ustack_stat(st, USTACK_STAT_TCP_RETRANS_SEGS))) {
			fail("a reset, abort or (lossless) retransmission", i);
			goto out;
		}
	}
	if (ustack_pkb_in_use(w.srv.st) || ustack_pkb_in_use(w.cli.st)) {
		fail("packet buffers still in use", 0);
		goto out;
	}
	printf("sim_wrap: %llu bytes each way, ISS %u/%u%s, %.1f s virtual, "
	       "%llu passes, retransmissions %llu+%llu (%llu+%llu fast, "
	       "%llu+%llu timeouts), %.1f s CPU\n",
	       (unsigned long long)total, iss_srv, iss_cli,
	       force_isn ? " (forced)" : "", (double)w.now / 1e6,
	       (unsigned long long)w.passes,
	       (unsigned long long)ustack_stat(w.srv.st, USTACK_STAT_TCP_RETRANS_SEGS),
	       (unsigned long long)ustack_stat(w.cli.st, USTACK_STAT_TCP_RETRANS_SEGS),
	       (unsigned long long)ustack_stat(w.srv.st, USTACK_STAT_TCP_FAST_RETRANS),
	       (unsigned long long)ustack_stat(w.cli.st, USTACK_STAT_TCP_FAST_RETRANS),
	       (unsigned long long)ustack_stat(w.srv.st, USTACK_STAT_TCP_TIMEOUTS),
	       (unsigned long long)ustack_stat(w.cli.st, USTACK_STAT_TCP_TIMEOUTS),
	       (double)(clock() - c0) / CLOCKS_PER_SEC);
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "sim_wrap: failed (ISS %u/%u%s): server sent %llu "
			"rcvd %llu, client sent %llu rcvd %llu\n", iss_srv,
			iss_cli, force_isn ? " forced" : "",
			(unsigned long long)w.srv.sent,
			(unsigned long long)w.srv.rcvd,
			(unsigned long long)w.cli.sent,
			(unsigned long long)w.cli.rcvd);
	if (w.srv.st)
		ustack_destroy(w.srv.st);
	if (w.cli.st)
		ustack_destroy(w.cli.st);
	ustack_dev_close(w.srv.dev ? w.srv.dev : ds);   /* the wrapper owns */
	ustack_dev_close(w.cli.dev ? w.cli.dev : dc);   /* the memlink end */
	free(w.pat);
	free(w.buf);
	return rc;
}

int main(void)
{
	uint64_t total = env_ull("SIM_WRAP_BYTES", (1ull << 32) + (3u << 20));
	int rc = 0;

	if (run(total, 0) < 0)
		rc = 1;
	/* Forced ISNs: the wrap comes within the first KiB, so a shorter
	 * run is enough. */
	if (run(total < (64u << 20) ? total : (64u << 20), 1) < 0)
		rc = 1;
	return rc;
}
