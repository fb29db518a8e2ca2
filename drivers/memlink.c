/*
 * memlink.c - two devices joined in memory: a frame transmitted on one end
 * is queued (copied) for receive() on the other. For tests and simulation:
 * two stacks over one memlink, usually with the fault wrapper in between.
 *
 * Each direction is a bounded FIFO of `queue_frames` frames (-EAGAIN when
 * full, which the sending stack counts as a transmit error). Frames are
 * 1..MEMLINK_MAX_FRAME bytes (65535 + 14: a 64 KiB IP datagram in one
 * frame). Memory is at most queue_frames * MEMLINK_MAX_FRAME per direction;
 * each frame is one malloc of its own size, so ordinary traffic costs what
 * it carries.
 *
 * Waiting: get_fd() gives an eventfd that is readable exactly while frames
 * are queued for that end (set when its queue goes from empty to non-empty,
 * cleared when receive() empties it), so the event-loop and threaded
 * runtimes can sleep in poll(2) on it like on a TAP fd. It is made on the
 * first get_fd() call, so hand-driven simulations that never ask pay no
 * system calls per frame. If eventfd() fails get_fd() returns -1 and the
 * device works for hand-driven loops only. next_at() is always NEVER:
 * frames are ready at once.
 *
 * Offloads (ustack_memlink_offload, off by default): each frame keeps the
 * metadata it was sent with and receive_meta() hands it over unchanged, so
 * two stacks exchange TSO super-frames with partial checksums exactly as
 * over a TAP device with IFF_VNET_HDR, and simulations exercise that path.
 *
 * Closing one end leaves the other working: its transmits fail with
 * -ENOTCONN (a pulled cable) and what was queued for it can still be read.
 * The shared state is freed with the second end.
 *
 * May touch: only its own struct and libc.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <ustack/dev.h>

#define MEMLINK_MAX_FRAME (65535u + 14u)
#define MEMLINK_DEFAULT_QUEUE 1024u

struct ml_frame {
	struct ml_frame *next;
	size_t len;
	struct ustack_frame_meta meta; /* all zero for a plain frame */
	uint8_t data[];
};

struct ml_link;

struct ml_end {
	struct ustack_dev base;     /* first: the stack sees this */
	struct ml_link *link;
	struct ml_frame *head, *tail; /* frames waiting for this end's receive */
	uint32_t count;
	int efd;                    /* readable while count > 0; -1: not made */
	int open;
};

struct ml_link {
	struct ml_end end[2];
	uint32_t max_frames;        /* per direction */
};

static struct ml_end *ml_peer(struct ml_end *e)
{
	struct ml_link *l = e->link;

	return e == &l->end[0] ? &l->end[1] : &l->end[0];
}

static void ml_signal(struct ml_end *e)
{
	uint64_t one = 1;

	if (e->efd >= 0 && write(e->efd, &one, sizeof(one)) < 0) {
		/* Counter overflow cannot happen with one write per
		 * empty->non-empty edge; nothing to do on failure. */
	}
}

static void ml_unsignal(struct ml_end *e)
{
	uint64_t v;

	if (e->efd >= 0 && read(e->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already clear. */
	}
}

/* A queue entry of len bytes for e's peer, or NULL with *err set. */
static inline __attribute__((always_inline))
struct ml_frame *ml_frame_new(struct ml_end *e, size_t len,
				     const struct ustack_frame_meta *meta,
				     int *err)
{
	struct ml_end *p = ml_peer(e);
	struct ml_frame *f;

	*err = !p->open ? -ENOTCONN :
	       (len == 0 || len > MEMLINK_MAX_FRAME) ? -EMSGSIZE :
	       p->count >= e->link->max_frames ? -EAGAIN : 0;
	if (*err)
		return NULL;
	if ((f = malloc(sizeof(*f) + len)) == NULL) {
		*err = -ENOBUFS;
		return NULL;
	}
	f->next = NULL;
	f->len = len;
	f->meta = *meta;
	return f;
}

static inline __attribute__((always_inline))
void ml_push(struct ml_end *e, struct ml_frame *f)
{
	struct ml_end *p = ml_peer(e);

	if (p->tail)
		p->tail->next = f;
	else
		p->head = f;
	p->tail = f;
	if (p->count++ == 0)
		ml_signal(p);
}

static int ml_transmit_meta(struct ustack_dev *d, const void *frame,
			    size_t len, const struct ustack_frame_meta *meta,
			    ustack_time_t now)
{
	struct ml_end *e = (struct ml_end *)d;
	struct ml_frame *f;
	int err;

	(void)now;
	if ((f = ml_frame_new(e, len, meta, &err)) == NULL)
		return err;
	memcpy(f->data, frame, len);
	ml_push(e, f);
	return 0;
}

/* The frame that is fr[0..n) end to end: one copy, into the queue. */
static int ml_transmit_gather(struct ustack_dev *d,
			      const struct ustack_frag *fr, unsigned n,
			      const struct ustack_frame_meta *meta,
			      ustack_time_t now)
{
	struct ml_end *e = (struct ml_end *)d;
	struct ml_frame *f;
	size_t len = 0, at = 0;
	unsigned i;
	int err;

	(void)now;
	if (n > USTACK_FRAGS_MAX)
		return -EMSGSIZE;
	for (i = 0; i < n; i++)
		len += fr[i].len;
	if ((f = ml_frame_new(e, len, meta, &err)) == NULL)
		return err;
	for (i = 0; i < n; i++) {
		memcpy(f->data + at, fr[i].data, fr[i].len);
		at += fr[i].len;
	}
	ml_push(e, f);
	return 0;
}

static struct ml_frame *ml_pop(struct ml_end *e)
{
	struct ml_frame *f = e->head;

	if (!f)
		return NULL;
	e->head = f->next;
	if (!e->head)
		e->tail = NULL;
	if (--e->count == 0)
		ml_unsignal(e);
	return f;
}

static int ml_transmit(struct ustack_dev *d, const void *frame, size_t len,
		       ustack_time_t now)
{
	static const struct ustack_frame_meta none;

	return ml_transmit_meta(d, frame, len, &none, now);
}

static long ml_receive_meta(struct ustack_dev *d, void *buf, size_t cap,
			    struct ustack_frame_meta *meta, ustack_time_t now)
{
	struct ml_end *e = (struct ml_end *)d;
	struct ml_frame *f = ml_pop(e);
	long n;

	(void)now;
	if (!f)
		return 0;
	if (f->len > cap) {
		n = -EMSGSIZE;  /* dropped, like a NIC with small buffers */
	} else {
		memcpy(buf, f->data, f->len);
		*meta = f->meta;
		n = (long)f->len;
	}
	free(f);
	return n;
}

static int ml_get_fd(struct ustack_dev *d)
{
	struct ml_end *e = (struct ml_end *)d;

	if (e->efd < 0 && e->open) {
		e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (e->count)
			ml_signal(e);
	}
	return e->efd;
}

static ustack_time_t ml_next_at(struct ustack_dev *d, ustack_time_t now)
{
	(void)d, (void)now;
	return USTACK_TIME_NEVER;
}

static void ml_close(struct ustack_dev *d)
{
	struct ml_end *e = (struct ml_end *)d;
	struct ml_end *p = ml_peer(e);
	struct ml_frame *f;

	while ((f = ml_pop(e)) != NULL)
		free(f);
	if (e->efd >= 0)
		close(e->efd);
	e->efd = -1;
	e->open = 0;
	if (!p->open)
		free(e->link);
}

static const struct ustack_dev_ops ml_ops = {
	.transmit = ml_transmit,
	.get_fd = ml_get_fd,
	.next_at = ml_next_at,
	.close = ml_close,
	.transmit_meta = ml_transmit_meta,
	.transmit_gather = ml_transmit_gather,
	.receive_meta = ml_receive_meta,
};

int ustack_memlink_offload(struct ustack_dev *d, uint32_t offloads)
{
	struct ml_end *e = (struct ml_end *)d;

	if (!d || d->ops != &ml_ops || (offloads & ~USTACK_DEV_OFFLOADS_ALL))
		return -EINVAL;
	e->link->end[0].base.offloads = offloads;
	e->link->end[1].base.offloads = offloads;
	return 0;
}

int ustack_memlink_pair(struct ustack_dev **a, struct ustack_dev **b,
			uint32_t queue_frames)
{
	struct ml_link *l;
	int i;

	*a = *b = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -ENOMEM;
	l->max_frames = queue_frames ? queue_frames : MEMLINK_DEFAULT_QUEUE;
	for (i = 0; i < 2; i++) {
		struct ml_end *e = &l->end[i];

		e->base.ops = &ml_ops;
		e->base.kind = "memlink";
		snprintf(e->base.name, sizeof(e->base.name), "mem%d", i);
		e->base.mtu = 1500;
		e->link = l;
		e->open = 1;
		e->efd = -1;
	}
	*a = &l->end[0].base;
	*b = &l->end[1].base;
	return 0;
}
