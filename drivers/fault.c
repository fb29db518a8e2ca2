/*
 * fault.c - a wrapper that makes any device a bad link: seeded loss,
 * duplication, reordering, corruption, delay and jitter, per frame and per
 * direction (no kernel netem needed, and deterministic: the same seed and
 * the same calls at the same times give the same frames at the same times).
 *
 * Per frame, in order (one decision each, always drawing the same six
 * numbers from the direction's generator, so turning one knob does not
 * change the decisions of the others):
 *   1. loss        the frame vanishes.
 *   2. corruption  one bit is flipped. Past the Ethernet header when the
 *                  frame is longer than 14 bytes, so the frame still reaches
 *                  the peer's IP/transport layers and their checksums must
 *                  catch it (a flipped MAC would only test "not us").
 *   3. duplication a second, uncorrupted copy follows the frame.
 *   4. delay       release at now + delay_us + uniform(0..jitter_us). Jitter
 *                  can reorder frames on its own, as netem's does.
 *   5. reordering  the frame is held back until the next frame of the same
 *                  direction has passed, then released right behind it; if
 *                  no frame comes within reorder_hold_us it is released
 *                  then (so the last frame of a burst is not stuck).
 *
 * Time: the wrapper only knows the time it is told. Frames due for the
 * lower device (transmit side) are handed down at the start of every
 * transmit(), receive() and next_at() call with the `now` of that call, and
 * next_at() reports the earliest pending release (either direction), so a
 * loop that sleeps until ustack_next_deadline() and then runs the stack's
 * timers releases them on time. Receive-side frames are pulled from the
 * lower device as soon as receive() or next_at() is called, then delivered
 * when due.
 *
 * Offloads pass through: the wrapper has its lower device's dev->offloads
 * (as they were when it was made) and each frame keeps its metadata on the
 * way (a TSO super-frame is lost or delayed whole, like the one write it
 * is on a TAP device). A frame to be corrupted first has its checksum
 * completed and its metadata dropped (no partial or verified checksum, no
 * GSO), so the flipped bit reaches a receiver that checks in full.
 *
 * Bounds: each direction holds at most queue_max_bytes of delayed frames;
 * past that a transmit returns -ENOBUFS and a received frame is dropped,
 * both counted in queue_full.
 *
 * May touch: only its own struct, the lower device's ops, and libc.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/dev.h>

#define FAULT_MAX_FRAME (65535u + 14u + 4u)
#define FAULT_PPM 1000000u
#define FAULT_DEFAULT_HOLD_US 1000u
#define FAULT_DEFAULT_QUEUE_BYTES (16u << 20)
#define FAULT_PULL_MAX 256           /* frames pulled per receive() call */
#define FAULT_MAX_TIME USTACK_SEC(3600) /* delay, jitter, hold: sane bounds */

struct fq_frame {
	struct fq_frame *prev, *next;
	ustack_time_t at;            /* release time */
	ustack_time_t base_at;       /* release time without the reorder hold */
	int held;                    /* reordered: waiting for the next frame */
	size_t len;
	struct ustack_frame_meta meta;
	uint8_t data[];
};

/* One direction: frames sorted by release time, ties in arrival order. */
struct fq {
	struct fq_frame *head, *tail;
	uint32_t nheld;
	uint64_t bytes;
	uint64_t rng;                /* splitmix64 state */
};

struct fault_dev {
	struct ustack_dev base;      /* first: the stack sees this */
	struct ustack_dev *lower;    /* owned */
	struct ustack_fault_config cfg;
	struct fq tx, rx;
	struct ustack_fault_stats stats;
	uint8_t *scratch;            /* FAULT_MAX_FRAME bytes */
};

/* What happens to one frame. */
struct fault_plan {
	int drop, corrupt, dup, reorder;
	uint64_t bit;                /* random number for the bit to flip */
	ustack_time_t delay;
};

static const struct ustack_dev_ops fault_ops;

/* splitmix64 (Steele, Lea, Flood 2014): small, fast, any seed is fine. */
static uint64_t fq_rand(struct fq *q)
{
	uint64_t z = (q->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* True with probability ppm / 10^6: 0 never, 10^6 always. */
static int chance(uint64_t r, uint32_t ppm)
{
	return (((r >> 32) * FAULT_PPM) >> 32) < ppm;
}

static void fault_plan(struct fault_dev *f, struct fq *q, struct fault_plan *p)
{
	uint64_t r_loss = fq_rand(q), r_corrupt = fq_rand(q);
	uint64_t r_dup = fq_rand(q), r_reorder = fq_rand(q);
	uint64_t r_bit = fq_rand(q), r_jitter = fq_rand(q);
	const struct ustack_fault_config *c = &f->cfg;

	p->drop = chance(r_loss, c->loss_ppm);
	p->corrupt = chance(r_corrupt, c->corrupt_ppm);
	p->dup = chance(r_dup, c->dup_ppm);
	p->reorder = chance(r_reorder, c->reorder_ppm);
	p->bit = r_bit;
	p->delay = c->delay_us;
	if (c->jitter_us)
		p->delay += r_jitter % (c->jitter_us + 1);
}

static void flip_bit(uint8_t *frame, size_t len, uint64_t r)
{
	size_t first = len > 14 ? 14 : 0;
	uint64_t nbits = (uint64_t)(len - first) * 8;
	uint64_t bit = r % nbits;

	frame[first + bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

/* Insert after every frame released no later than fr->at (stable). */
static void fq_insert(struct fq *q, struct fq_frame *fr)
{
	struct fq_frame *after = q->tail;

	while (after && after->at > fr->at)
		after = after->prev;
	fr->prev = after;
	fr->next = after ? after->next : q->head;
	if (fr->next)
		fr->next->prev = fr;
	else
		q->tail = fr;
	if (after)
		after->next = fr;
	else
		q->head = fr;
	q->bytes += fr->len;
	q->nheld += fr->held ? 1 : 0;
}

static void fq_unlink(struct fq *q, struct fq_frame *fr)
{
	if (fr->prev)
		fr->prev->next = fr->next;
	else
		q->head = fr->next;
	if (fr->next)
		fr->next->prev = fr->prev;
	else
		q->tail = fr->prev;
	fr->prev = fr->next = NULL;
	q->bytes -= fr->len;
	q->nheld -= fr->held ? 1 : 0;
}

/* The head if it is due at `now`, unlinked; held frames whose hold ran out
 * are released like any other. */
static struct fq_frame *fq_pop_due(struct fq *q, ustack_time_t now)
{
	struct fq_frame *fr = q->head;

	if (!fr || fr->at > now)
		return NULL;
	fq_unlink(q, fr);
	return fr;
}

/* A frame passed: every frame held back before it goes right behind it. */
static void fq_release_held(struct fq *q, const struct fq_frame *passed)
{
	struct fq_frame *fr, *next, *list = NULL, **tail = &list;

	for (fr = q->head; fr && q->nheld; fr = next) {
		next = fr->next;
		if (!fr->held || fr == passed)
			continue;
		fq_unlink(q, fr);
		fr->held = 0;
		fr->at = fr->base_at > passed->at ? fr->base_at : passed->at;
		*tail = fr;
		tail = &fr->next;
	}
	for (fr = list; fr; fr = next) {
		next = fr->next;
		fq_insert(q, fr);
	}
}

static void fq_purge(struct fq *q)
{
	struct fq_frame *fr;

	while ((fr = q->head) != NULL) {
		fq_unlink(q, fr);
		free(fr);
	}
}

static ustack_time_t fq_next_at(const struct fq *q)
{
	return q->head ? q->head->at : USTACK_TIME_NEVER;
}

static struct fq_frame *fq_frame_new(const void *data, size_t len,
				     const struct ustack_frame_meta *meta)
{
	struct fq_frame *fr = malloc(sizeof(*fr) + len);

	if (fr) {
		memset(fr, 0, sizeof(*fr));
		fr->len = len;
		fr->meta = *meta;
		memcpy(fr->data, data, len);
	}
	return fr;
}

/* Flip a bit the receiver will check: complete a partial checksum first
 * and forget the metadata (see the top of the file). */
static void corrupt(uint8_t *frame, size_t len, struct ustack_frame_meta *m,
		    uint64_t bit)
{
	(void)ustack_frame_csum_complete(frame, len, m);
	memset(m, 0, sizeof(*m));
	flip_bit(frame, len, bit);
}


/* Count what the plan did to a frame that was let through. */
static void fault_count(struct fault_dev *f, const struct fault_plan *p)
{
	f->stats.corrupted += p->corrupt ? 1 : 0;
	f->stats.duplicated += p->dup ? 1 : 0;
	f->stats.delayed += p->delay ? 1 : 0;
	f->stats.reordered += p->reorder ? 1 : 0;
}

/*
 * Queue a frame that survived loss: the frame (corrupted if planned), then
 * its uncorrupted duplicate. A frame that is not held back releases every
 * frame held before it, right behind it. Returns 0 or -ENOBUFS.
 */
static int fault_enqueue(struct fault_dev *f, struct fq *q, const void *frame,
			 size_t len, const struct ustack_frame_meta *meta,
			 const struct fault_plan *p, ustack_time_t now)
{
	struct fq_frame *fr[2] = {NULL, NULL};
	int i, n = p->dup ? 2 : 1;

	if (q->bytes + (uint64_t)len * (uint64_t)n > f->cfg.queue_max_bytes)
		goto full;
	for (i = 0; i < n; i++) {
		if ((fr[i] = fq_frame_new(frame, len, meta)) == NULL) {
			free(fr[0]);
			goto full;
		}
		fr[i]->base_at = now + p->delay;
		fr[i]->held = p->reorder;
		fr[i]->at = fr[i]->base_at +
			    (p->reorder ? f->cfg.reorder_hold_us : 0);
	}
	if (p->corrupt)
		corrupt(fr[0]->data, len, &fr[0]->meta, p->bit);
	for (i = 0; i < n; i++)
		fq_insert(q, fr[i]);
	if (!p->reorder && q->nheld)
		fq_release_held(q, fr[n - 1]);
	fault_count(f, p);
	return 0;
full:
	f->stats.queue_full++;
	return -ENOBUFS;
}

/* Draw the plan for one frame entering q; counts frames and losses. */
static void fault_decide(struct fault_dev *f, struct fq *q, size_t len,
			 struct fault_plan *p)
{
	fault_plan(f, q, p);
	if (len == 0)
		p->corrupt = 0;  /* no bit to flip */
	f->stats.frames++;
	f->stats.dropped += p->drop ? 1 : 0;
}

/* Hand every due transmit-side frame to the lower device. */
static void fault_flush_tx(struct fault_dev *f, ustack_time_t now)
{
	struct fq_frame *fr;

	while ((fr = fq_pop_due(&f->tx, now)) != NULL) {
		if (ustack_dev_transmit_meta(f->lower, fr->data, fr->len,
					     &fr->meta, now) < 0)
			f->stats.lower_errors++;
		free(fr);
	}
}

static int fault_transmit_meta(struct ustack_dev *d, const void *frame,
			       size_t len, const struct ustack_frame_meta *meta,
			       ustack_time_t now)
{
	struct fault_dev *f = (struct fault_dev *)d;
	struct ustack_frame_meta m = *meta;
	struct fault_plan p;
	const void *data = frame;
	int err;

	fault_flush_tx(f, now);
	if (!f->cfg.tx)
		return ustack_dev_transmit_meta(f->lower, frame, len, meta, now);
	if (len > FAULT_MAX_FRAME)
		return -EMSGSIZE;
	fault_decide(f, &f->tx, len, &p);
	if (p.drop)
		return 0;
	if (f->tx.head || p.delay || p.reorder) {
		err = fault_enqueue(f, &f->tx, frame, len, meta, &p, now);
		fault_flush_tx(f, now);
		return err;
	}
	/* Nothing queued ahead and no delay: straight through, so the
	 * caller sees the lower device's answer (-EAGAIN). */
	fault_count(f, &p);
	if (p.corrupt) {
		memcpy(f->scratch, frame, len);
		corrupt(f->scratch, len, &m, p.bit);
		data = f->scratch;
	}
	err = ustack_dev_transmit_meta(f->lower, data, len, &m, now);
	if (p.dup && ustack_dev_transmit_meta(f->lower, frame, len, meta,
					      now) < 0)
		f->stats.lower_errors++;
	return err;
}

static int fault_transmit(struct ustack_dev *d, const void *frame, size_t len,
			  ustack_time_t now)
{
	static const struct ustack_frame_meta none;

	return fault_transmit_meta(d, frame, len, &none, now);
}

/*
 * Move frames from the lower device into the receive queue until one is
 * due (so an undelayed link buffers one frame at a time), the lower device
 * is empty, or FAULT_PULL_MAX frames. Returns 0 or the lower's -errno.
 */
static long fault_pull(struct fault_dev *f, ustack_time_t now)
{
	struct fq *q = &f->rx;
	int i;

	for (i = 0; i < FAULT_PULL_MAX; i++) {
		struct ustack_frame_meta m;
		struct fault_plan p;
		long n;

		if (q->head && q->head->at <= now)
			break;
		n = ustack_dev_receive_meta(f->lower, f->scratch,
					    FAULT_MAX_FRAME, &m, now);
		if (n <= 0)
			return n;
		fault_decide(f, q, (size_t)n, &p);
		if (!p.drop)
			fault_enqueue(f, q, f->scratch, (size_t)n, &m, &p, now);
	}
	return 0;
}

static long fault_receive_meta(struct ustack_dev *d, void *buf, size_t cap,
			       struct ustack_frame_meta *meta,
			       ustack_time_t now)
{
	struct fault_dev *f = (struct fault_dev *)d;
	struct fq_frame *fr;
	long n;

	fault_flush_tx(f, now);
	if (!f->cfg.rx)
		return ustack_dev_receive_meta(f->lower, buf, cap, meta, now);
	memset(meta, 0, sizeof(*meta));
	n = fault_pull(f, now);
	if ((fr = fq_pop_due(&f->rx, now)) == NULL)
		return n;
	if (n < 0)
		f->stats.lower_errors++;  /* reported by the lower, not here */
	if (fr->len > cap) {
		n = -EMSGSIZE;
	} else {
		memcpy(buf, fr->data, fr->len);
		*meta = fr->meta;
		n = (long)fr->len;
	}
	free(fr);
	return n;
}

static int fault_get_fd(struct ustack_dev *d)
{
	return ustack_dev_fd(((struct fault_dev *)d)->lower);
}

static ustack_time_t fault_next_at(struct ustack_dev *d, ustack_time_t now)
{
	struct fault_dev *f = (struct fault_dev *)d;
	ustack_time_t t, u;

	fault_flush_tx(f, now);
	if (f->cfg.rx)
		fault_pull(f, now);
	t = fq_next_at(&f->tx);
	u = fq_next_at(&f->rx);
	t = u < t ? u : t;
	u = ustack_dev_next_at(f->lower, now);
	return u < t ? u : t;
}

static void fault_close(struct ustack_dev *d)
{
	struct fault_dev *f = (struct fault_dev *)d;

	fq_purge(&f->tx);  /* frames still delayed are lost, as on a wire */
	fq_purge(&f->rx);
	ustack_dev_close(f->lower);
	free(f->scratch);
	free(f);
}

static const struct ustack_dev_ops fault_ops = {
	.transmit = fault_transmit,
	.get_fd = fault_get_fd,
	.next_at = fault_next_at,
	.close = fault_close,
	.transmit_meta = fault_transmit_meta,
	.receive_meta = fault_receive_meta,
};

void ustack_fault_config_default(struct ustack_fault_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->seed = 1;
	cfg->tx = 1;
	cfg->rx = 0;
	cfg->reorder_hold_us = FAULT_DEFAULT_HOLD_US;
	cfg->queue_max_bytes = FAULT_DEFAULT_QUEUE_BYTES;
}

int ustack_fault_wrap(struct ustack_dev **out, struct ustack_dev *lower,
		      const struct ustack_fault_config *cfg)
{
	struct fault_dev *f;

	*out = NULL;
	if (!lower || !cfg || cfg->loss_ppm > FAULT_PPM ||
	    cfg->dup_ppm > FAULT_PPM || cfg->reorder_ppm > FAULT_PPM ||
	    cfg->corrupt_ppm > FAULT_PPM || cfg->delay_us > FAULT_MAX_TIME ||
	    cfg->jitter_us > FAULT_MAX_TIME ||
	    cfg->reorder_hold_us > FAULT_MAX_TIME)
		return -EINVAL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -ENOMEM;
	if ((f->scratch = malloc(FAULT_MAX_FRAME)) == NULL) {
		free(f);
		return -ENOMEM;
	}
	f->cfg = *cfg;
	if (!f->cfg.reorder_hold_us)
		f->cfg.reorder_hold_us = FAULT_DEFAULT_HOLD_US;
	if (!f->cfg.queue_max_bytes)
		f->cfg.queue_max_bytes = FAULT_DEFAULT_QUEUE_BYTES;
	f->lower = lower;
	/* Two independent streams: traffic one way never shifts the
	 * decisions made the other way. */
	f->tx.rng = cfg->seed;
	f->rx.rng = cfg->seed ^ 0x5851f42d4c957f2dull;
	f->base.ops = &fault_ops;
	f->base.kind = "fault";
	memcpy(f->base.name, lower->name, sizeof(f->base.name));
	f->base.mtu = lower->mtu;
	memcpy(f->base.mac, lower->mac, sizeof(f->base.mac));
	f->base.offloads = lower->offloads;
	f->base.gso_max = lower->gso_max;
	*out = &f->base;
	return 0;
}

void ustack_fault_get_stats(struct ustack_dev *d, struct ustack_fault_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (d && d->ops == &fault_ops)
		*out = ((struct fault_dev *)d)->stats;
}
