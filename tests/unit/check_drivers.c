/*
 * check_drivers.c - the memlink, fault and pcap drivers (tap has its own
 * suite in check_tap.c because it needs root and a network namespace).
 *
 * Frames here are synthetic: a 14-byte Ethernet header, then a 32-bit
 * sequence number, then filler derived from it, so a test can tell which
 * frame arrived, whether it was changed and where. All in virtual time.
 */
#include <check.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ustack/dev.h>
#include <ustack/ustack.h>

#include "lib/check_main.h"

#define FRAME_MAX (65535 + 14)

/* ---- helpers -------------------------------------------------------------- */

static size_t mkframe(uint8_t *f, uint32_t seq, size_t len)
{
	size_t i;

	memset(f, 0xff, 6);                    /* dst: broadcast */
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x09", 6);
	f[12] = 0x88, f[13] = 0xb5;            /* local experimental type */
	f[14] = (uint8_t)(seq >> 24), f[15] = (uint8_t)(seq >> 16);
	f[16] = (uint8_t)(seq >> 8), f[17] = (uint8_t)seq;
	for (i = 18; i < len; i++)  /* any change to the seq changes these */
		f[i] = (uint8_t)((f[14] ^ f[15] ^ f[16] ^ f[17]) * 31 + i);
	return len;
}

static uint32_t frame_seq(const uint8_t *f)
{
	return (uint32_t)f[14] << 24 | (uint32_t)f[15] << 16 |
	       (uint32_t)f[16] << 8 | f[17];
}

/* Bits that differ between a and b. */
static unsigned bit_diff(const uint8_t *a, const uint8_t *b, size_t len,
			 size_t *first_byte)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t x = a[i] ^ b[i];

		if (x && first_byte && n == 0)
			*first_byte = i;
		n += (unsigned)__builtin_popcount(x);
	}
	return n;
}

/* The frame with this content's length, allowing for one flipped bit
 * anywhere (the sequence number included). */
static int near_original(const uint8_t *buf, size_t len)
{
	static uint8_t ref[FRAME_MAX];
	int k;

	for (k = -1; k < 32; k++) {
		uint32_t seq = frame_seq(buf) ^ (k < 0 ? 0 : 1u << k);

		mkframe(ref, seq, len);
		if (bit_diff(buf, ref, len, NULL) <= 1)
			return 1;
	}
	return 0;
}

/* A record of what came out of a device. */
struct rx_log {
	uint32_t seq[40000];
	ustack_time_t at[40000];
	unsigned n, corrupted;
};

/* Drain everything receivable at `now` into log (checking content). */
static void drain(struct ustack_dev *d, ustack_time_t now, struct rx_log *log,
		  size_t len)
{
	static uint8_t buf[FRAME_MAX], ref[FRAME_MAX];
	long n;

	while ((n = ustack_dev_receive(d, buf, sizeof(buf), now)) > 0) {
		ck_assert_uint_eq((size_t)n, len);
		ck_assert_uint_lt(log->n, 40000);
		mkframe(ref, frame_seq(buf), len);
		if (memcmp(buf, ref, len) != 0)
			log->corrupted++;
		log->seq[log->n] = frame_seq(buf);
		log->at[log->n] = now;
		log->n++;
	}
	ck_assert_int_eq(n, 0);
}

/* ---- memlink -------------------------------------------------------------- */

START_TEST(test_memlink_pair_delivers_in_order_both_ways)
{
	struct ustack_dev *a, *b;
	uint8_t f[200], buf[2048];
	uint32_t i;

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	ck_assert_str_eq(a->kind, "memlink");
	ck_assert_int_eq(ustack_dev_next_at(a, 0), USTACK_TIME_NEVER);
	ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), 0);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(ustack_dev_transmit(a, f, mkframe(f, i, 60 + i), 0), 0);
		ck_assert_int_eq(ustack_dev_transmit(b, f, mkframe(f, 1000 + i, 64), 0), 0);
	}
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), 60 + i);
		ck_assert_uint_eq(frame_seq(buf), i);
		mkframe(f, i, 60 + i);
		ck_assert_mem_eq(buf, f, 60 + i);
		ck_assert_int_eq(ustack_dev_receive(a, buf, sizeof(buf), 0), 64);
		ck_assert_uint_eq(frame_seq(buf), 1000 + i);
	}
	ck_assert_int_eq(ustack_dev_receive(a, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), 0);
	ustack_dev_close(a);
	ustack_dev_close(b);
}
END_TEST

START_TEST(test_memlink_queue_is_bounded)
{
	struct ustack_dev *a, *b;
	uint8_t f[64], buf[64];
	uint32_t i;

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 8), 0);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(ustack_dev_transmit(a, f, mkframe(f, i, 64), 0), 0);
	ck_assert_int_eq(ustack_dev_transmit(a, f, mkframe(f, 8, 64), 0), -EAGAIN);
	/* the other direction has its own bound */
	ck_assert_int_eq(ustack_dev_transmit(b, f, mkframe(f, 9, 64), 0), 0);
	ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), 64);
	ck_assert_uint_eq(frame_seq(buf), 0);
	ck_assert_int_eq(ustack_dev_transmit(a, f, mkframe(f, 10, 64), 0), 0);
	ck_assert_int_eq(ustack_dev_transmit(a, f, mkframe(f, 11, 64), 0), -EAGAIN);
	for (i = 1; i < 8; i++) {
		ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), 64);
		ck_assert_uint_eq(frame_seq(buf), i);
	}
	ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), 64);
	ck_assert_uint_eq(frame_seq(buf), 10);
	ustack_dev_close(b);
	ustack_dev_close(a);
}
END_TEST

START_TEST(test_memlink_carries_64k_frames)
{
	struct ustack_dev *a, *b;
	static uint8_t f[FRAME_MAX + 1], buf[FRAME_MAX + 1];

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 4), 0);
	ck_assert_int_eq(ustack_dev_transmit(a, f, mkframe(f, 1, FRAME_MAX), 0), 0);
	ck_assert_int_eq(ustack_dev_transmit(a, f, FRAME_MAX + 1, 0), -EMSGSIZE);
	ck_assert_int_eq(ustack_dev_transmit(a, f, 0, 0), -EMSGSIZE);
	ck_assert_int_eq(ustack_dev_receive(b, buf, FRAME_MAX, 0), FRAME_MAX);
	ck_assert_mem_eq(buf, f, FRAME_MAX);
	/* A frame longer than the reader's buffer is dropped, not split. */
	ck_assert_int_eq(ustack_dev_transmit(a, f, mkframe(f, 2, 3000), 0), 0);
	ck_assert_int_eq(ustack_dev_transmit(a, f, mkframe(f, 3, 100), 0), 0);
	ck_assert_int_eq(ustack_dev_receive(b, buf, 1514, 0), -EMSGSIZE);
	ck_assert_int_eq(ustack_dev_receive(b, buf, 1514, 0), 100);
	ck_assert_uint_eq(frame_seq(buf), 3);
	ustack_dev_close(a);
	ustack_dev_close(b);
}
END_TEST

static int readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

START_TEST(test_memlink_fd_readable_while_frames_queued)
{
	struct ustack_dev *a, *b;
	uint8_t f[64], buf[64];

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	/* a frame queued before anyone asked for the fd still shows */
	ustack_dev_transmit(b, f, mkframe(f, 0, 64), 0);
	ck_assert_int_ge(ustack_dev_fd(a), 0);
	ck_assert(readable(ustack_dev_fd(a)));
	ck_assert_int_eq(ustack_dev_receive(a, buf, sizeof(buf), 0), 64);
	ck_assert_int_ge(ustack_dev_fd(b), 0);
	ck_assert_int_ne(ustack_dev_fd(a), ustack_dev_fd(b));
	ck_assert(!readable(ustack_dev_fd(b)));
	ustack_dev_transmit(a, f, mkframe(f, 1, 64), 0);
	ustack_dev_transmit(a, f, mkframe(f, 2, 64), 0);
	ck_assert(readable(ustack_dev_fd(b)));
	ck_assert(!readable(ustack_dev_fd(a)));
	ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), 64);
	ck_assert(readable(ustack_dev_fd(b)));
	ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), 64);
	ck_assert(!readable(ustack_dev_fd(b)));
	ustack_dev_transmit(a, f, mkframe(f, 3, 64), 0);
	ck_assert(readable(ustack_dev_fd(b)));
	ustack_dev_close(a);
	ustack_dev_close(b);
}
END_TEST

START_TEST(test_memlink_closed_peer_is_a_pulled_cable)
{
	struct ustack_dev *a, *b;
	uint8_t f[64], buf[64];

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	ustack_dev_transmit(a, f, mkframe(f, 1, 64), 0);
	ustack_dev_transmit(b, f, mkframe(f, 2, 64), 0);  /* lost with a */
	ustack_dev_close(a);
	ck_assert_int_eq(ustack_dev_transmit(b, f, mkframe(f, 3, 64), 0), -ENOTCONN);
	ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), 64);
	ck_assert_uint_eq(frame_seq(buf), 1);
	ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), 0);
	ustack_dev_close(b);  /* frees the link (ASan would see a leak) */
}
END_TEST

/* ---- fault ---------------------------------------------------------------- */

/* A fault wrapper on end a of a memlink; frames come out at end b. */
struct fl {
	struct ustack_dev *f, *b;
};

static void fl_new(struct fl *l, const struct ustack_fault_config *cfg)
{
	struct ustack_dev *a;

	ck_assert_int_eq(ustack_memlink_pair(&a, &l->b, 65536), 0);
	ck_assert_int_eq(ustack_fault_wrap(&l->f, a, cfg), 0);
	ck_assert_str_eq(l->f->kind, "fault");
	ck_assert_str_eq(l->f->name, "mem0");
}

static void fl_free(struct fl *l)
{
	ustack_dev_close(l->f);
	ustack_dev_close(l->b);
}

static struct ustack_fault_stats fl_stats(struct fl *l)
{
	struct ustack_fault_stats s;

	ustack_fault_get_stats(l->f, &s);
	return s;
}

/* Move time to `end`, draining b at every deadline the wrapper reports. */
static ustack_time_t fl_until(struct fl *l, ustack_time_t now,
			      ustack_time_t end, struct rx_log *log, size_t len)
{
	unsigned guard = 0;

	while (guard++ < 100000) {
		/* next_at(now) also hands down what is due at now */
		ustack_time_t t = ustack_dev_next_at(l->f, now);

		drain(l->b, now, log, len);
		if (t == USTACK_TIME_NEVER || t > end)
			break;
		ck_assert_uint_gt(t, now);
		now = t;
	}
	ck_assert_uint_lt(guard, 100000);
	return end;
}

/* Send n frames of len bytes, one every `gap` us from t0, with time
 * running through every deadline in between, then `tail` us more. */
static void fl_run(struct fl *l, unsigned n, size_t len, ustack_time_t t0,
		   ustack_time_t gap, ustack_time_t tail, struct rx_log *log)
{
	static uint8_t f[FRAME_MAX];
	ustack_time_t now = t0;
	unsigned i;

	for (i = 0; i < n; i++) {
		now = fl_until(l, now, t0 + i * gap, log, len);
		ck_assert_int_eq(ustack_dev_transmit(l->f, f, mkframe(f, i, len),
						     now), 0);
		drain(l->b, now, log, len);
	}
	now = fl_until(l, now, now + tail, log, len);
	ustack_dev_next_at(l->f, now);
	drain(l->b, now, log, len);
}

static void cfg_base(struct ustack_fault_config *c, uint64_t seed)
{
	ustack_fault_config_default(c);
	c->seed = seed;
}

START_TEST(test_fault_defaults_pass_everything_unchanged)
{
	struct ustack_fault_config c;
	static struct rx_log log;
	struct ustack_fault_stats s;
	struct fl l;
	unsigned i;

	cfg_base(&c, 1);
	ck_assert_int_eq(c.tx, 1);
	ck_assert_int_eq(c.rx, 0);
	fl_new(&l, &c);
	memset(&log, 0, sizeof(log));
	fl_run(&l, 1000, 100, 0, 10, 0, &log);
	ck_assert_uint_eq(log.n, 1000);
	ck_assert_uint_eq(log.corrupted, 0);
	for (i = 0; i < 1000; i++) {
		ck_assert_uint_eq(log.seq[i], i);
		ck_assert_uint_eq(log.at[i], i * 10u);  /* no delay at all */
	}
	s = fl_stats(&l);
	ck_assert_uint_eq(s.frames, 1000);
	ck_assert_uint_eq(s.dropped + s.duplicated + s.reordered + s.corrupted +
			  s.delayed + s.queue_full + s.lower_errors, 0);
	ck_assert_int_eq(ustack_dev_next_at(l.f, 99999), USTACK_TIME_NEVER);
	fl_free(&l);
}
END_TEST

START_TEST(test_fault_each_knob_at_100_percent)
{
	struct ustack_fault_config c;
	static struct rx_log log;
	struct fl l;
	unsigned i;

	cfg_base(&c, 2);
	c.loss_ppm = 1000000;
	fl_new(&l, &c);
	memset(&log, 0, sizeof(log));
	fl_run(&l, 500, 80, 0, 10, 100000, &log);
	ck_assert_uint_eq(log.n, 0);
	ck_assert_uint_eq(fl_stats(&l).dropped, 500);
	fl_free(&l);

	cfg_base(&c, 2);
	c.dup_ppm = 1000000;
	fl_new(&l, &c);
	memset(&log, 0, sizeof(log));
	fl_run(&l, 500, 80, 0, 10, 0, &log);
	ck_assert_uint_eq(log.n, 1000);
	for (i = 0; i < 1000; i++)
		ck_assert_uint_eq(log.seq[i], i / 2);
	ck_assert_uint_eq(fl_stats(&l).duplicated, 500);
	fl_free(&l);

	cfg_base(&c, 2);
	c.corrupt_ppm = 1000000;
	fl_new(&l, &c);
	memset(&log, 0, sizeof(log));
	fl_run(&l, 500, 80, 0, 10, 0, &log);
	ck_assert_uint_eq(log.n, 500);
	ck_assert_uint_eq(log.corrupted, 500);
	ck_assert_uint_eq(fl_stats(&l).corrupted, 500);
	fl_free(&l);
}
END_TEST

START_TEST(test_fault_corruption_flips_one_bit_past_ethernet)
{
	struct ustack_fault_config c;
	struct fl l;
	uint8_t f[200], ref[200], buf[200];
	unsigned i, hist[4] = {0};

	cfg_base(&c, 3);
	c.corrupt_ppm = 1000000;
	c.dup_ppm = 1000000;
	fl_new(&l, &c);
	for (i = 0; i < 2000; i++) {
		size_t len = 15 + i % 180, first = 0;

		mkframe(ref, i, len);
		memcpy(f, ref, len);
		ck_assert_int_eq(ustack_dev_transmit(l.f, f, len, i), 0);
		ck_assert_mem_eq(f, ref, len);  /* the caller's copy is intact */
		ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), i), (long)len);
		ck_assert_uint_eq(bit_diff(buf, ref, len, &first), 1);
		ck_assert_uint_ge(first, 14);
		hist[(first - 14) * 4 / (len - 14)]++;
		/* the duplicate is the frame as sent */
		ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), i), (long)len);
		ck_assert_mem_eq(buf, ref, len);
	}
	for (i = 0; i < 4; i++)  /* spread over the whole frame */
		ck_assert_uint_gt(hist[i], 300);
	/* frames of up to 14 bytes are corrupted anywhere */
	mkframe(ref, 1, 14);
	ck_assert_int_eq(ustack_dev_transmit(l.f, ref, 14, 5000), 0);
	ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), 5000), 14);
	ck_assert_uint_eq(bit_diff(buf, ref, 14, NULL), 1);
	fl_free(&l);
}
END_TEST

/* |count - expected| within 5 standard deviations of a binomial. */
static void assert_rate(uint64_t count, unsigned n, uint32_t ppm)
{
	double p = ppm / 1e6, exp = n * p, sd = __builtin_sqrt(n * p * (1 - p));
	double d = (double)count - exp;

	ck_assert_msg(d < 5 * sd + 1 && -d < 5 * sd + 1,
		      "count %llu, expected %.0f +- %.0f",
		      (unsigned long long)count, exp, 5 * sd);
}

START_TEST(test_fault_statistical_rates_within_tolerance)
{
	struct ustack_fault_config c;
	static struct rx_log log;
	struct ustack_fault_stats s;
	struct fl l;
	const unsigned n = 20000;

	cfg_base(&c, 4);
	c.loss_ppm = 50000;
	c.dup_ppm = 30000;
	c.corrupt_ppm = 20000;
	c.reorder_ppm = 50000;
	fl_new(&l, &c);
	memset(&log, 0, sizeof(log));
	fl_run(&l, n, 64, 0, 10, 100000, &log);
	s = fl_stats(&l);
	ck_assert_uint_eq(s.frames, n);
	assert_rate(s.dropped, n, c.loss_ppm);
	assert_rate(s.duplicated, n, c.dup_ppm);
	assert_rate(s.corrupted, n, c.corrupt_ppm);
	assert_rate(s.reordered, n, c.reorder_ppm);
	/* Everything accounted for: sent - lost + duplicates arrived. */
	ck_assert_uint_eq(log.n, n - s.dropped + s.duplicated);
	ck_assert_uint_eq(log.corrupted, s.corrupted);
	ck_assert_uint_eq(s.queue_full + s.lower_errors, 0);
	fl_free(&l);
}
END_TEST

START_TEST(test_fault_reorder_reorders_and_loses_nothing)
{
	struct ustack_fault_config c;
	static struct rx_log log;
	static uint8_t seen[3000];
	struct fl l;
	unsigned i, inversions = 0;

	cfg_base(&c, 5);
	c.reorder_ppm = 100000;
	fl_new(&l, &c);
	memset(&log, 0, sizeof(log));
	fl_run(&l, 3000, 64, 0, 10, 10000, &log);
	ck_assert_uint_eq(log.n, 3000);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 3000; i++) {
		ck_assert_uint_lt(log.seq[i], 3000);
		ck_assert(!seen[log.seq[i]]);
		seen[log.seq[i]] = 1;
		if (i && log.seq[i] < log.seq[i - 1])
			inversions++;
	}
	/* Each held frame lands right behind the one after it. */
	ck_assert_uint_gt(inversions, 200);
	ck_assert_uint_le(inversions, fl_stats(&l).reordered);
	fl_free(&l);
}
END_TEST

START_TEST(test_fault_reorder_hold_expires_for_the_last_frame)
{
	struct ustack_fault_config c;
	struct fl l;
	uint8_t f[64], buf[64];

	cfg_base(&c, 6);
	c.reorder_ppm = 1000000;
	c.reorder_hold_us = 500;
	fl_new(&l, &c);
	ck_assert_int_eq(ustack_dev_transmit(l.f, f, mkframe(f, 1, 64), 1000), 0);
	ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), 1000), 0);
	ck_assert_uint_eq(ustack_dev_next_at(l.f, 1000), 1500);
	ck_assert_uint_eq(ustack_dev_next_at(l.f, 1499), 1500);
	ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), 1499), 0);
	ck_assert_uint_eq(ustack_dev_next_at(l.f, 1500), USTACK_TIME_NEVER);
	ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), 1500), 64);
	ck_assert_uint_eq(frame_seq(buf), 1);
	fl_free(&l);
}
END_TEST

START_TEST(test_fault_delay_schedules_next_at)
{
	struct ustack_fault_config c;
	struct fl l;
	uint8_t f[64], buf[64];

	cfg_base(&c, 7);
	c.delay_us = 10000;
	fl_new(&l, &c);
	ck_assert_int_eq(ustack_dev_transmit(l.f, f, mkframe(f, 1, 64), 1000), 0);
	ck_assert_int_eq(ustack_dev_transmit(l.f, f, mkframe(f, 2, 64), 3000), 0);
	ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), 3000), 0);
	ck_assert_uint_eq(ustack_dev_next_at(l.f, 3000), 11000);
	ck_assert_uint_eq(ustack_dev_next_at(l.f, 10999), 11000);
	ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), 10999), 0);
	/* Released by a call with a late enough `now` (here: receive). */
	ck_assert_int_eq(ustack_dev_receive(l.f, buf, sizeof(buf), 11000), 0);
	ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), 11000), 64);
	ck_assert_uint_eq(frame_seq(buf), 1);
	ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), 11000), 0);
	ck_assert_uint_eq(ustack_dev_next_at(l.f, 11000), 13000);
	/* A late call releases everything due, in order. */
	ck_assert_int_eq(ustack_dev_transmit(l.f, f, mkframe(f, 3, 64), 20000), 0);
	ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), 20000), 64);
	ck_assert_uint_eq(frame_seq(buf), 2);
	ck_assert_int_eq(ustack_dev_receive(l.b, buf, sizeof(buf), 20000), 0);
	ck_assert_uint_eq(ustack_dev_next_at(l.f, 20000), 30000);
	ck_assert_uint_eq(fl_stats(&l).delayed, 3);
	fl_free(&l);
}
END_TEST

START_TEST(test_fault_jitter_stays_in_bounds)
{
	struct ustack_fault_config c;
	static struct rx_log log;
	struct fl l;
	unsigned i, late = 0;

	cfg_base(&c, 8);
	c.delay_us = 1000;
	c.jitter_us = 500;
	fl_new(&l, &c);
	memset(&log, 0, sizeof(log));
	fl_run(&l, 2000, 64, 0, 100, 10000, &log);
	ck_assert_uint_eq(log.n, 2000);
	for (i = 0; i < 2000; i++) {
		ustack_time_t sent = log.seq[i] * 100u;

		ck_assert_uint_ge(log.at[i], sent + 1000);
		ck_assert_uint_le(log.at[i], sent + 1500);
		late += log.at[i] > sent + 1250;
	}
	ck_assert_uint_gt(late, 700);
	ck_assert_uint_lt(late, 1300);
	fl_free(&l);
}
END_TEST

/* Run a fixed mixed workload; return a hash of every frame and its time. */
static uint64_t fault_trace(uint64_t seed, uint32_t corrupt_ppm,
			    struct rx_log *log)
{
	struct ustack_fault_config c;
	struct fl l;
	uint64_t h = 1469598103934665603ull;
	unsigned i;

	cfg_base(&c, seed);
	c.loss_ppm = c.dup_ppm = c.reorder_ppm = 50000;
	c.corrupt_ppm = corrupt_ppm;
	c.delay_us = 200;
	c.jitter_us = 300;
	fl_new(&l, &c);
	memset(log, 0, sizeof(*log));
	fl_run(&l, 5000, 64, 0, 50, 10000, log);
	for (i = 0; i < log->n; i++)
		h = (h ^ log->seq[i] ^ (log->at[i] << 20)) * 1099511628211ull;
	fl_free(&l);
	return h ^ log->corrupted;
}

START_TEST(test_fault_same_seed_same_output)
{
	static struct rx_log l1, l2;
	uint64_t a = fault_trace(11, 50000, &l1);
	uint64_t b = fault_trace(11, 50000, &l2);

	ck_assert_uint_eq(l1.n, l2.n);
	ck_assert_mem_eq(l1.seq, l2.seq, l1.n * sizeof(l1.seq[0]));
	ck_assert_mem_eq(l1.at, l2.at, l1.n * sizeof(l1.at[0]));
	ck_assert_uint_eq(a, b);
	ck_assert_uint_ne(a, fault_trace(12, 50000, &l2));
	/* Knobs draw independently: corruption does not move the rest. */
	fault_trace(11, 0, &l2);
	ck_assert_uint_eq(l1.n, l2.n);
	ck_assert_mem_eq(l1.at, l2.at, l1.n * sizeof(l1.at[0]));
	ck_assert_uint_eq(l2.corrupted, 0);
}
END_TEST

START_TEST(test_fault_rx_direction)
{
	struct ustack_fault_config c;
	struct ustack_dev *a, *b, *f;
	struct ustack_fault_stats s;
	uint8_t fr[64], buf[64];

	/* Faults on receive only: b -> a frames are delayed, a -> b not. */
	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	cfg_base(&c, 9);
	c.tx = 0;
	c.rx = 1;
	c.delay_us = 5000;
	ck_assert_int_eq(ustack_fault_wrap(&f, a, &c), 0);
	ck_assert_int_eq(ustack_dev_fd(f), ustack_dev_fd(a));
	ck_assert_int_eq(ustack_dev_transmit(f, fr, mkframe(fr, 1, 64), 100), 0);
	ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 100), 64);
	ck_assert_int_eq(ustack_dev_transmit(b, fr, mkframe(fr, 2, 64), 100), 0);
	ck_assert_int_eq(ustack_dev_receive(f, buf, sizeof(buf), 100), 0);
	ck_assert_uint_eq(ustack_dev_next_at(f, 100), 5100);
	ck_assert_int_eq(ustack_dev_receive(f, buf, sizeof(buf), 5099), 0);
	ck_assert_int_eq(ustack_dev_receive(f, buf, 10, 5100), -EMSGSIZE);
	ck_assert_int_eq(ustack_dev_transmit(b, fr, mkframe(fr, 3, 64), 6000), 0);
	ck_assert_uint_eq(ustack_dev_next_at(f, 6000), 11000);
	ck_assert_int_eq(ustack_dev_receive(f, buf, sizeof(buf), 11000), 64);
	ck_assert_uint_eq(frame_seq(buf), 3);
	ustack_fault_get_stats(f, &s);
	ck_assert_uint_eq(s.frames, 2);
	ck_assert_uint_eq(s.delayed, 2);
	ustack_dev_close(f);
	ustack_dev_close(b);
}
END_TEST

START_TEST(test_fault_queue_bound_refuses)
{
	struct ustack_fault_config c;
	struct fl l;
	uint8_t f[1000];
	int i;

	cfg_base(&c, 10);
	c.delay_us = 1000;
	c.queue_max_bytes = 3500;
	fl_new(&l, &c);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(ustack_dev_transmit(l.f, f, mkframe(f, i, 1000), 0), 0);
	ck_assert_int_eq(ustack_dev_transmit(l.f, f, mkframe(f, 3, 1000), 0), -ENOBUFS);
	ck_assert_uint_eq(fl_stats(&l).queue_full, 1);
	ck_assert_uint_eq(ustack_dev_next_at(l.f, 1000), USTACK_TIME_NEVER);
	ck_assert_int_eq(ustack_dev_transmit(l.f, f, mkframe(f, 4, 1000), 1000), 0);
	fl_free(&l);
}
END_TEST

START_TEST(test_fault_passes_lower_errors_and_checks_config)
{
	struct ustack_fault_config c;
	struct ustack_dev *a, *b, *f;
	struct ustack_fault_stats s;
	uint8_t fr[64];

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 1), 0);
	cfg_base(&c, 11);
	c.loss_ppm = 1000001;
	ck_assert_int_eq(ustack_fault_wrap(&f, a, &c), -EINVAL);
	ck_assert_ptr_null(f);
	cfg_base(&c, 11);
	c.jitter_us = UINT64_MAX;
	ck_assert_int_eq(ustack_fault_wrap(&f, a, &c), -EINVAL);
	cfg_base(&c, 11);
	ck_assert_int_eq(ustack_fault_wrap(&f, a, &c), 0);
	ck_assert_int_eq(ustack_dev_transmit(f, fr, mkframe(fr, 1, 64), 0), 0);
	ck_assert_int_eq(ustack_dev_transmit(f, fr, mkframe(fr, 2, 64), 0), -EAGAIN);
	ustack_fault_get_stats(b, &s);  /* not a fault device: zeros */
	ck_assert_uint_eq(s.frames, 0);
	ustack_dev_close(f);
	ustack_dev_close(b);
}
END_TEST

/* Random configurations and call sequences, both directions faulted:
 * every frame is accounted for, none is changed in more than one bit, and
 * nothing leaks (ASan). */
START_TEST(test_fault_random_operations_account_for_every_frame)
{
	static uint8_t f[4096], buf[4096];
	uint64_t r = 0x1234567u + (uint64_t)_i * 7919u;
	struct ustack_fault_config c;
	struct ustack_fault_stats s;
	struct ustack_dev *a, *b, *fa;
	uint64_t sent = 0, refused = 0, got_b = 0, got_a = 0, tx_b = 0;
	ustack_time_t now = 0;
	int op;

#define RND() (r = r * 6364136223846793005ull + 1442695040888963407ull, r >> 33)
	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 100000), 0);
	cfg_base(&c, RND());
	c.rx = 1;
	c.loss_ppm = (uint32_t)(RND() % 300000);
	c.dup_ppm = (uint32_t)(RND() % 300000);
	c.reorder_ppm = (uint32_t)(RND() % 300000);
	c.corrupt_ppm = (uint32_t)(RND() % 300000);
	c.delay_us = RND() % 3 ? RND() % 2000 : 0;
	c.jitter_us = RND() % 2 ? RND() % 2000 : 0;
	c.reorder_hold_us = 1 + RND() % 3000;
	c.queue_max_bytes = 20000 + (uint32_t)(RND() % 200000);
	ck_assert_int_eq(ustack_fault_wrap(&fa, a, &c), 0);
	for (op = 0; op < 5000; op++) {
		size_t len = 14 + RND() % 1500;
		long n;

		now += RND() % 4 ? 0 : RND() % 700;
		switch (RND() % 4) {
		case 0:
			n = ustack_dev_transmit(fa, f, mkframe(f, (uint32_t)op, len), now);
			ck_assert(n == 0 || n == -ENOBUFS);
			sent++;
			refused += n < 0;
			break;
		case 1:
			n = ustack_dev_transmit(b, f, mkframe(f, (uint32_t)op, len), now);
			ck_assert_int_eq(n, 0);
			tx_b++;
			break;
		case 2:
			while ((n = ustack_dev_receive(b, buf, sizeof(buf), now)) > 0)
				got_b++;
			while ((n = ustack_dev_receive(fa, buf, sizeof(buf), now)) > 0) {
				ck_assert(near_original(buf, (size_t)n));
				got_a++;
			}
			break;
		default:
			ck_assert_uint_ge(ustack_dev_next_at(fa, now), 0);
			break;
		}
	}
	/* Run out the schedule: frames still in the lower device are only
	 * seen (and delayed) now. */
	for (op = 0; op < 1000; op++) {
		ustack_time_t t = ustack_dev_next_at(fa, now);

		while (ustack_dev_receive(fa, buf, sizeof(buf), now) > 0)
			got_a++;
		while (ustack_dev_receive(b, buf, sizeof(buf), now) > 0)
			got_b++;
		if (t == USTACK_TIME_NEVER)
			break;
		now = t > now ? t : now;
	}
	ustack_fault_get_stats(fa, &s);
	ck_assert_uint_eq(s.frames, sent + tx_b);
	ck_assert_uint_eq(s.lower_errors, 0);
	/* what came out = what went in - lost + duplicated - refused */
	ck_assert_msg(got_a + got_b == s.frames - s.dropped + s.duplicated -
		      s.queue_full, "got %llu+%llu frames %llu dropped %llu dup %llu "
		      "qfull %llu refused %llu", (unsigned long long)got_a,
		      (unsigned long long)got_b, (unsigned long long)s.frames,
		      (unsigned long long)s.dropped, (unsigned long long)s.duplicated,
		      (unsigned long long)s.queue_full, (unsigned long long)refused);
	ustack_dev_close(fa);
	ustack_dev_close(b);
#undef RND
}
END_TEST

/* ---- pcap ----------------------------------------------------------------- */

static char tmpdir[64];

static void tmp_setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ustack-drivers-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (tmpdir[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static const char *tmp_path(const char *name)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

/* Write a capture of link type lt with frames (len, caplen, stamp us). */
struct rec {
	uint32_t seq, len, caplen;
	ustack_time_t ts;
};

static void write_capture(const char *path, int lt, const struct rec *r,
			  unsigned n)
{
	static uint8_t f[FRAME_MAX];
	pcap_t *p = pcap_open_dead(lt, 262144);
	pcap_dumper_t *d = pcap_dump_open(p, path);
	unsigned i;

	ck_assert_ptr_nonnull(d);
	for (i = 0; i < n; i++) {
		struct pcap_pkthdr h;

		memset(&h, 0, sizeof(h));
		h.ts.tv_sec = (time_t)(r[i].ts / 1000000);
		h.ts.tv_usec = (suseconds_t)(r[i].ts % 1000000);
		h.len = r[i].len;
		h.caplen = r[i].caplen;
		mkframe(f, r[i].seq, r[i].len > 18 ? r[i].len : 18);
		pcap_dump((u_char *)d, &h, f);
	}
	pcap_dump_close(d);
	pcap_close(p);
}

START_TEST(test_pcap_tee_writes_what_libpcap_reads_back)
{
	struct ustack_dev *a, *b, *tee;
	static uint8_t f[FRAME_MAX], buf[FRAME_MAX];
	static const struct { int out; uint32_t seq; size_t len; ustack_time_t at; } ev[] = {
		{1, 1, 60, 1000001}, {0, 2, 100, 1500000}, {1, 3, FRAME_MAX, 2000007},
		{0, 4, 1514, 3999999}, {1, 5, 42, 4000000},
	};
	char err[256] = "", cmd[256];
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p;
	unsigned i;

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	ck_assert_int_eq(ustack_pcap_tee(&tee, a, tmp_path("tee.pcap"), err,
					 sizeof(err)), 0);
	ck_assert_str_eq(tee->kind, "pcap-tee");
	ck_assert_int_eq(ustack_dev_fd(tee), ustack_dev_fd(a));
	for (i = 0; i < 5; i++) {
		mkframe(f, ev[i].seq, ev[i].len);
		if (ev[i].out) {
			ck_assert_int_eq(ustack_dev_transmit(tee, f, ev[i].len, ev[i].at), 0);
			ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), (long)ev[i].len);
		} else {
			ck_assert_int_eq(ustack_dev_transmit(b, f, ev[i].len, 0), 0);
			ck_assert_int_eq(ustack_dev_receive(tee, buf, sizeof(buf), ev[i].at),
					 (long)ev[i].len);
		}
	}
	ck_assert_int_eq(ustack_dev_receive(tee, buf, sizeof(buf), 5000000), 0);
	ustack_pcap_tee_flush(tee);
	ustack_dev_close(tee);  /* closes a as well */
	ustack_dev_close(b);

	p = pcap_open_offline(tmp_path("tee.pcap"), ebuf);
	ck_assert_msg(p != NULL, "%s", ebuf);
	ck_assert_int_eq(pcap_datalink(p), DLT_EN10MB);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(pcap_next_ex(p, &h, &data), 1);
		ck_assert_uint_eq(h->len, ev[i].len);
		ck_assert_uint_eq(h->caplen, ev[i].len);
		ck_assert_uint_eq((uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec,
				  ev[i].at);
		mkframe(f, ev[i].seq, ev[i].len);
		ck_assert_mem_eq(data, f, ev[i].len);
	}
	ck_assert_int_eq(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK);
	pcap_close(p);
	if (access("/usr/bin/tcpdump", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd),
			 "tcpdump -n -r '%s' 2>/dev/null | grep -c '^[0-9]' | grep -qx 5",
			 tmp_path("tee.pcap"));
		ck_assert_msg(system(cmd) == 0, "tcpdump -r did not read 5 frames");
	}
}
END_TEST

START_TEST(test_pcap_tee_flush_makes_frames_readable_before_close)
{
	struct ustack_dev *a, *b, *tee;
	char err[256], ebuf[PCAP_ERRBUF_SIZE];
	uint8_t f[64];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p;

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	ck_assert_int_eq(ustack_pcap_tee(&tee, a, tmp_path("f.pcap"), err,
					 sizeof(err)), 0);
	ustack_dev_transmit(tee, f, mkframe(f, 7, 64), 10);
	ustack_pcap_tee_flush(tee);
	p = pcap_open_offline(tmp_path("f.pcap"), ebuf);
	ck_assert_msg(p != NULL, "%s", ebuf);
	ck_assert_int_eq(pcap_next_ex(p, &h, &data), 1);
	ck_assert_uint_eq(h->len, 64);
	pcap_close(p);
	ustack_pcap_tee_flush(b);  /* not a tee: ignored */
	ustack_dev_close(tee);
	ustack_dev_close(b);
}
END_TEST

/* A capture that cannot be written says so: /dev/full fails at the first
 * flush (or when libpcap's buffer fills); the error is kept, later frames
 * are counted as lost, and frames still cross the tee. */
START_TEST(test_pcap_tee_write_error_reported)
{
	struct ustack_dev *a, *b, *tee;
	struct ustack_pcap_tee_stats ts;
	char err[256];
	uint8_t f[1514], g[1514];

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	ck_assert_int_eq(ustack_pcap_tee(&tee, a, "/dev/full", err,
					 sizeof(err)), 0);
	ck_assert_int_eq(ustack_pcap_tee_get_stats(tee, &ts), 0);
	ck_assert_int_eq(ts.error, 0);
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(ustack_dev_transmit(tee, f, mkframe(f, i, 1514),
						     (ustack_time_t)i), 0);
		ck_assert_int_eq(ustack_dev_receive(b, g, sizeof(g), i), 1514);
	}
	ustack_pcap_tee_flush(tee);
	ck_assert_int_eq(ustack_pcap_tee_get_stats(tee, &ts), 0);
	ck_assert_int_eq(ts.error, ENOSPC);
	ck_assert_uint_gt(ts.lost, 0);
	ck_assert_uint_eq(ts.frames + ts.lost, 100);
	ck_assert_int_eq(ustack_dev_transmit(tee, f, mkframe(f, 1, 60), 200), 0);
	ck_assert_int_eq(ustack_pcap_tee_get_stats(tee, &ts), 0);
	ck_assert_uint_eq(ts.frames + ts.lost, 101);
	ck_assert_int_eq(ustack_pcap_tee_get_stats(b, &ts), -EINVAL);
	ustack_dev_close(tee);
	ustack_dev_close(b);
}
END_TEST

START_TEST(test_pcap_tee_bad_path_keeps_lower)
{
	struct ustack_dev *a, *b, *tee;
	char err[256] = "";
	uint8_t f[64], buf[64];

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	ck_assert_int_eq(ustack_pcap_tee(&tee, a, "/nonexistent/dir/x.pcap", err,
					 sizeof(err)), -ENOENT);
	ck_assert_ptr_null(tee);
	ck_assert_msg(strstr(err, "/nonexistent/dir/x.pcap") != NULL, "%s", err);
	/* a still works and is still ours to close */
	ck_assert_int_eq(ustack_dev_transmit(a, f, mkframe(f, 1, 64), 0), 0);
	ck_assert_int_eq(ustack_dev_receive(b, buf, sizeof(buf), 0), 64);
	ustack_dev_close(a);
	ustack_dev_close(b);
}
END_TEST

START_TEST(test_pcap_source_honours_the_schedule)
{
	static const struct rec r[] = {
		{1, 60, 60, 100000000}, {2, 70, 70, 100500000},
		{3, 80, 80, 102000000}, {4, 90, 90, 99000000}, /* backwards */
	};
	struct ustack_pcap_source_stats s;
	struct ustack_dev *src;
	uint8_t buf[2048];
	char err[256];

	write_capture(tmp_path("s.pcap"), DLT_EN10MB, r, 4);
	ck_assert_int_eq(ustack_pcap_source(&src, tmp_path("s.pcap"), 5000000, 0,
					    err, sizeof(err)), 0);
	ck_assert_str_eq(src->kind, "pcap-source");
	ck_assert_int_eq(ustack_dev_fd(src), -1);
	ck_assert_uint_eq(ustack_dev_next_at(src, 0), 5000000);
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 4999999), 0);
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 5000000), 60);
	ck_assert_uint_eq(frame_seq(buf), 1);
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 5000000), 0);
	ck_assert_uint_eq(ustack_dev_next_at(src, 5000000), 5500000);
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 5500000), 70);
	ck_assert_uint_eq(ustack_dev_next_at(src, 5500000), 7000000);
	ck_assert_int_eq(ustack_dev_transmit(src, buf, 60, 6000000), 0);
	/* late: both remaining frames at once, the backwards one at once */
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 9000000), 80);
	ck_assert_uint_eq(ustack_dev_next_at(src, 9000000), 5000000);
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 9000000), 90);
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 9000000), 0);
	ck_assert_uint_eq(ustack_dev_next_at(src, 9000000), USTACK_TIME_NEVER);
	ustack_pcap_source_get_stats(src, &s);
	ck_assert_uint_eq(s.frames, 4);
	ck_assert_uint_eq(s.bytes, 300);
	ck_assert_uint_eq(s.tx_discarded, 1);
	ck_assert_int_eq(s.eof, 1);
	ck_assert_int_eq(s.read_error, 0);
	ustack_dev_close(src);
}
END_TEST

START_TEST(test_pcap_source_odd_records)
{
	static const struct rec r[] = {
		{1, 1514, 100, 1000}, /* cut short by the capture */
		{2, 60, 0, 2000},     /* empty record */
		{3, 3000, 3000, 3000},/* longer than the reader's buffer */
		{4, 64, 64, 4000},
	};
	struct ustack_pcap_source_stats s;
	struct ustack_dev *src;
	uint8_t buf[2048];
	char err[256];

	write_capture(tmp_path("o.pcap"), DLT_EN10MB, r, 4);
	ck_assert_int_eq(ustack_pcap_source(&src, tmp_path("o.pcap"), 0, 1, err,
					    sizeof(err)), 0);
	ck_assert_uint_eq(ustack_dev_next_at(src, 77), 77);  /* ignore_time */
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 0), 100);
	ck_assert_uint_eq(frame_seq(buf), 1);
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 0), -EMSGSIZE);
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 0), 64);
	ck_assert_uint_eq(frame_seq(buf), 4);
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 0), 0);
	ustack_pcap_source_get_stats(src, &s);
	ck_assert_uint_eq(s.frames, 2);
	ck_assert_uint_eq(s.truncated, 1);
	ck_assert_uint_eq(s.empty, 1);
	ck_assert_uint_eq(s.too_big, 1);
	ck_assert_int_eq(s.eof, 1);
	ustack_dev_close(src);
}
END_TEST

START_TEST(test_pcap_source_refuses_bad_files)
{
	static const struct rec r[] = {{1, 40, 40, 0}};
	struct ustack_dev *src;
	char err[256] = "";
	FILE *fp;

	write_capture(tmp_path("raw.pcap"), DLT_RAW, r, 1);
	ck_assert_int_eq(ustack_pcap_source(&src, tmp_path("raw.pcap"), 0, 0, err,
					    sizeof(err)), -EPROTONOSUPPORT);
	ck_assert_ptr_null(src);
	ck_assert_msg(strstr(err, "not Ethernet") && strstr(err, "RAW"), "%s", err);

	ck_assert_int_eq(ustack_pcap_source(&src, tmp_path("missing.pcap"), 0, 0,
					    err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "missing.pcap") != NULL, "%s", err);

	fp = fopen(tmp_path("junk.pcap"), "w");
	ck_assert_ptr_nonnull(fp);
	fputs("this is not a capture file at all\n", fp);
	fclose(fp);
	ck_assert_int_eq(ustack_pcap_source(&src, tmp_path("junk.pcap"), 0, 0,
					    err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "not a capture") != NULL, "%s", err);
}
END_TEST

START_TEST(test_pcap_source_damaged_tail_ends_the_file)
{
	static const struct rec r[] = {{1, 60, 60, 0}, {2, 60, 60, 10}};
	struct ustack_pcap_source_stats s;
	struct ustack_dev *src;
	uint8_t buf[2048];
	char err[256];

	write_capture(tmp_path("t.pcap"), DLT_EN10MB, r, 2);
	ck_assert_int_eq(truncate(tmp_path("t.pcap"), 24 + 16 + 60 + 16 + 30), 0);
	ck_assert_int_eq(ustack_pcap_source(&src, tmp_path("t.pcap"), 0, 1, err,
					    sizeof(err)), 0);
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 0), 60);
	ck_assert_int_eq(ustack_dev_receive(src, buf, sizeof(buf), 0), 0);
	ck_assert_uint_eq(ustack_dev_next_at(src, 0), USTACK_TIME_NEVER);
	ustack_pcap_source_get_stats(src, &s);
	ck_assert_int_eq(s.eof, 1);
	ck_assert_int_eq(s.read_error, 1);
	ustack_dev_close(src);
}
END_TEST

/* A capture source wrapped in a tee writes the same frames back out. */
START_TEST(test_pcap_source_through_tee_round_trip)
{
	static const struct rec r[] = {
		{1, 60, 60, 7000000}, {2, 1514, 1514, 7000100}, {3, 64, 64, 8000000},
	};
	struct ustack_dev *src, *tee;
	uint8_t buf[2048];
	char err[256], ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	ustack_time_t t;
	pcap_t *p;
	int n = 0;

	write_capture(tmp_path("in.pcap"), DLT_EN10MB, r, 3);
	ck_assert_int_eq(ustack_pcap_source(&src, tmp_path("in.pcap"), 1000, 0,
					    err, sizeof(err)), 0);
	ck_assert_int_eq(ustack_pcap_tee(&tee, src, tmp_path("out.pcap"), err,
					 sizeof(err)), 0);
	while ((t = ustack_dev_next_at(tee, 0)) != USTACK_TIME_NEVER && n < 10)
		n += ustack_dev_receive(tee, buf, sizeof(buf), t) > 0;
	ck_assert_int_eq(n, 3);
	ustack_dev_close(tee);
	p = pcap_open_offline(tmp_path("out.pcap"), ebuf);
	ck_assert_ptr_nonnull(p);
	for (n = 0; n < 3; n++) {
		ck_assert_int_eq(pcap_next_ex(p, &h, &data), 1);
		ck_assert_uint_eq(h->len, r[n].len);
		ck_assert_uint_eq((uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec,
				  1000 + r[n].ts - r[0].ts);
		ck_assert_uint_eq(frame_seq(data), r[n].seq);
	}
	pcap_close(p);
}
END_TEST

/* ---- with real stacks ----------------------------------------------------- */

/* Two stacks, A's side through fault and a pcap tee: whatever A sends
 * (gratuitous ARP at least) reaches B, minus losses, plus duplicates, at
 * the delayed times; the tee saw every frame A sent and received. */
START_TEST(test_drivers_two_stacks_over_memlink_fault_tee)
{
	struct ustack_fault_config fc;
	struct ustack_fault_stats fs;
	struct ustack_config ca, cb;
	struct ustack_dev *a, *b, *fa, *ta;
	struct ustack *sa, *sb;
	char err[256], ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	ustack_time_t now = 1000000, end = now + USTACK_SEC(20);
	uint64_t tee_frames = 0, a_rx;
	pcap_t *p;
	int guard = 0;

	ck_assert_int_eq(ustack_memlink_pair(&a, &b, 0), 0);
	ustack_fault_config_default(&fc);
	fc.seed = 99;
	fc.delay_us = 5000;
	fc.dup_ppm = 300000;
	ck_assert_int_eq(ustack_fault_wrap(&fa, a, &fc), 0);
	ck_assert_int_eq(ustack_pcap_tee(&ta, fa, tmp_path("a.pcap"), err,
					 sizeof(err)), 0);
	ustack_config_default(&ca);
	ca.seed_from_os = 0;
	ca.seed = 1;
	ca.log_level = USTACK_LOG_ERROR;
	cb = ca;
	cb.addr = 0x0a000003;
	cb.mac[5] = 3;
	ck_assert_int_eq(ustack_create(&sa, &ca, ta, now), 0);
	ck_assert_int_eq(ustack_create(&sb, &cb, b, now), 0);
	while (now < end && guard++ < 100000) {
		ustack_time_t t = ustack_run_timers(sa, now);
		ustack_time_t u = ustack_run_timers(sb, now);

		ustack_poll_dev(sa, now, 64);
		ustack_poll_dev(sb, now, 64);
		t = u < t ? u : t;
		now = t > now ? (t < end ? t : end) : now + 1000;
	}
	ustack_run_timers(sa, end);
	ustack_poll_dev(sb, end, 64);
	ustack_fault_get_stats(fa, &fs);
	ck_assert_uint_ge(ustack_stat(sa, USTACK_STAT_ETH_TX), 1);
	ck_assert_uint_eq(fs.frames, ustack_stat(sa, USTACK_STAT_ETH_TX));
	ck_assert_uint_eq(ustack_stat(sb, USTACK_STAT_ETH_RX),
			  fs.frames - fs.dropped + fs.duplicated);
	ck_assert_uint_eq(fs.delayed, fs.frames);
	a_rx = ustack_stat(sa, USTACK_STAT_ETH_RX);
	ck_assert_uint_ge(a_rx, 1);  /* B's announcement came back */
	ustack_destroy(sa);
	ustack_destroy(sb);
	ustack_dev_close(ta);
	ustack_dev_close(b);
	p = pcap_open_offline(tmp_path("a.pcap"), ebuf);
	ck_assert_ptr_nonnull(p);
	while (pcap_next_ex(p, &h, &data) == 1)
		tee_frames++;
	pcap_close(p);
	ck_assert_uint_eq(tee_frames, fs.frames + a_rx);  /* both ways */
}
END_TEST

static Suite *drivers_suite(void)
{
	Suite *s = suite_create("drivers");
	TCase *tc = tcase_create("memlink");

	tcase_add_test(tc, test_memlink_pair_delivers_in_order_both_ways);
	tcase_add_test(tc, test_memlink_queue_is_bounded);
	tcase_add_test(tc, test_memlink_carries_64k_frames);
	tcase_add_test(tc, test_memlink_fd_readable_while_frames_queued);
	tcase_add_test(tc, test_memlink_closed_peer_is_a_pulled_cable);
	suite_add_tcase(s, tc);

	tc = tcase_create("fault");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fault_defaults_pass_everything_unchanged);
	tcase_add_test(tc, test_fault_each_knob_at_100_percent);
	tcase_add_test(tc, test_fault_corruption_flips_one_bit_past_ethernet);
	tcase_add_test(tc, test_fault_statistical_rates_within_tolerance);
	tcase_add_test(tc, test_fault_reorder_reorders_and_loses_nothing);
	tcase_add_test(tc, test_fault_reorder_hold_expires_for_the_last_frame);
	tcase_add_test(tc, test_fault_delay_schedules_next_at);
	tcase_add_test(tc, test_fault_jitter_stays_in_bounds);
	tcase_add_test(tc, test_fault_same_seed_same_output);
	tcase_add_test(tc, test_fault_rx_direction);
	tcase_add_test(tc, test_fault_queue_bound_refuses);
	tcase_add_test(tc, test_fault_passes_lower_errors_and_checks_config);
	tcase_add_loop_test(tc, test_fault_random_operations_account_for_every_frame,
			    0, 20);
	suite_add_tcase(s, tc);

	tc = tcase_create("pcap");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_pcap_tee_writes_what_libpcap_reads_back);
	tcase_add_test(tc, test_pcap_tee_flush_makes_frames_readable_before_close);
	tcase_add_test(tc, test_pcap_tee_write_error_reported);
	tcase_add_test(tc, test_pcap_tee_bad_path_keeps_lower);
	tcase_add_test(tc, test_pcap_source_honours_the_schedule);
	tcase_add_test(tc, test_pcap_source_odd_records);
	tcase_add_test(tc, test_pcap_source_refuses_bad_files);
	tcase_add_test(tc, test_pcap_source_damaged_tail_ends_the_file);
	tcase_add_test(tc, test_pcap_source_through_tee_round_trip);
	tcase_add_test(tc, test_drivers_two_stacks_over_memlink_fault_tee);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(drivers_suite)
