/*
 * pcap.c - capture files, both ways, through libpcap.
 *
 * The tee wraps any device and appends every frame that crosses it to a
 * pcap file (LINKTYPE_ETHERNET, microsecond stamps): frames the lower device
 * accepted on transmit and frames it returned on receive, in the order they
 * crossed. Stamps are the stack's `now` (monotonic microseconds, so a file
 * from a live run starts near the machine's boot time in 1970; replays and
 * tests get exact virtual times). The file is flushed on close, by
 * ustack_pcap_tee_flush(), and at most a second (of `now`) after a frame,
 * so `tcpdump -r` on a live file lags by no more than that.
 *
 * Write errors (a full disk, /dev/full, a file system gone read-only) are
 * not ignored: libpcap's pcap_dump() returns nothing, so the tee checks
 * the stream's error flag after each frame and the result of every
 * flush. The first error is kept (its errno), the tee stops writing (a
 * capture with a hole in the middle would mislead more than one that
 * ends early), and later frames are counted as lost. The frames pass on
 * to and from the wire as before: a capture never holds the network up.
 * ustack_pcap_tee_get_stats() tells the program, which must tell the
 * user (the programs warn at once and exit 1).
 *
 * Offloads pass through: the tee has its lower device's dev->offloads (as
 * they were when it was made) and hands metadata down and up unchanged.
 * What it writes is what tcpdump on the host would show, TSO super-frames
 * and coalesced frames whole, except that partial checksums are completed
 * in the written copy, so captures read back clean and replay as input.
 *
 * The source replays a capture: receive() returns its frames in file order,
 * each once now >= start + (stamp - first stamp) (a stamp earlier than the
 * first counts as the first: bad captures go backwards), or at once with
 * ignore_time; next_at() is that schedule. Frames cut short in the capture
 * (caplen < len) are delivered as captured; empty records are skipped;
 * records longer than the caller's buffer are dropped with -EMSGSIZE. A
 * file that ends in a damaged record ends there (read_error in the stats).
 * transmit() discards and counts. Only Ethernet captures are accepted.
 *
 * May touch: its own structs, the lower device's ops (tee) and libpcap.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/dev.h>

#include "drv.h"

/* tcpdump's MAXIMUM_SNAPLEN: room for 64 KiB frames and more. */
#define TEE_SNAPLEN 262144u
#define TEE_FLUSH_US USTACK_SEC(1)

/* ---- tee ----------------------------------------------------------------- */

struct pcap_tee {
	struct ustack_dev base;      /* first: the stack sees this */
	struct ustack_dev *lower;    /* owned */
	pcap_t *dead;                /* pcap_open_dead: link type + snaplen */
	pcap_dumper_t *dumper;
	ustack_time_t flushed_at;    /* `now` of the last flush */
	struct ustack_pcap_tee_stats stats; /* frames, lost, first error */
	uint8_t *scratch;            /* TEE_SCRATCH: a frame whose partial
					checksum is completed for the file */
};

#define TEE_SCRATCH (65535u + 14u + 4u)

static const struct ustack_dev_ops tee_ops;

static void tee_write(struct pcap_tee *t, const void *frame, size_t len,
		      ustack_time_t now);

/* Write a frame with metadata: a partial checksum completed in a copy
 * (when the copy can not be made the frame is written as it is). */
static void tee_write_meta(struct pcap_tee *t, const void *frame, size_t len,
			   const struct ustack_frame_meta *meta,
			   ustack_time_t now)
{
	struct ustack_frame_meta m = *meta;

	if (!(m.flags & USTACK_META_CSUM_PARTIAL) || len > TEE_SCRATCH ||
	    (!t->scratch && (t->scratch = malloc(TEE_SCRATCH)) == NULL)) {
		tee_write(t, frame, len, now);
		return;
	}
	memcpy(t->scratch, frame, len);
	(void)ustack_frame_csum_complete(t->scratch, len, &m);
	tee_write(t, t->scratch, len, now);
}

/* Record the first write error (errno as the failing call left it). */
static void tee_failed(struct pcap_tee *t, int e)
{
	if (!t->stats.error)
		t->stats.error = e > 0 ? e : EIO;
}

/* Flush; 0 or -1 (the error recorded). */
static int tee_flush(struct pcap_tee *t)
{
	if (t->stats.error)
		return -1;
	errno = 0;
	if (pcap_dump_flush(t->dumper) != 0 ||
	    ferror(pcap_dump_file(t->dumper))) {
		tee_failed(t, errno);
		return -1;
	}
	return 0;
}

static void tee_write(struct pcap_tee *t, const void *frame, size_t len,
		      ustack_time_t now)
{
	struct pcap_pkthdr h;

	if (t->stats.error) {
		t->stats.lost++;
		return;
	}
	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = (time_t)(now / 1000000u);
	h.ts.tv_usec = (suseconds_t)(now % 1000000u);
	h.len = len > UINT32_MAX ? UINT32_MAX : (bpf_u_int32)len;
	h.caplen = h.len > TEE_SNAPLEN ? TEE_SNAPLEN : h.len;
	errno = 0;
	pcap_dump((u_char *)t->dumper, &h, frame);
	if (ferror(pcap_dump_file(t->dumper))) {
		/* this frame (and what was buffered) did not make it */
		tee_failed(t, errno);
		t->stats.lost++;
		return;
	}
	t->stats.frames++;
	if (now >= t->flushed_at + TEE_FLUSH_US) {
		(void)tee_flush(t);
		t->flushed_at = now;
	}
}

static int tee_transmit(struct ustack_dev *d, const void *frame, size_t len,
			ustack_time_t now)
{
	struct pcap_tee *t = (struct pcap_tee *)d;
	int err = ustack_dev_transmit(t->lower, frame, len, now);

	if (err >= 0)  /* what the wire got: refused frames never left */
		tee_write(t, frame, len, now);
	return err;
}

static long tee_receive(struct ustack_dev *d, void *buf, size_t cap,
			ustack_time_t now)
{
	struct pcap_tee *t = (struct pcap_tee *)d;
	long n = ustack_dev_receive(t->lower, buf, cap, now);

	if (n > 0)
		tee_write(t, buf, (size_t)n, now);
	return n;
}

static int tee_transmit_meta(struct ustack_dev *d, const void *frame,
			     size_t len, const struct ustack_frame_meta *meta,
			     ustack_time_t now)
{
	struct pcap_tee *t = (struct pcap_tee *)d;
	int err = ustack_dev_transmit_meta(t->lower, frame, len, meta, now);

	if (err >= 0)
		tee_write_meta(t, frame, len, meta, now);
	return err;
}

static long tee_receive_meta(struct ustack_dev *d, void *buf, size_t cap,
			     struct ustack_frame_meta *meta, ustack_time_t now)
{
	struct pcap_tee *t = (struct pcap_tee *)d;
	long n = ustack_dev_receive_meta(t->lower, buf, cap, meta, now);

	if (n > 0)
		tee_write_meta(t, buf, (size_t)n, meta, now);
	return n;
}

static int tee_get_fd(struct ustack_dev *d)
{
	return ustack_dev_fd(((struct pcap_tee *)d)->lower);
}

static ustack_time_t tee_next_at(struct ustack_dev *d, ustack_time_t now)
{
	return ustack_dev_next_at(((struct pcap_tee *)d)->lower, now);
}

static void tee_close(struct ustack_dev *d)
{
	struct pcap_tee *t = (struct pcap_tee *)d;

	pcap_dump_close(t->dumper);  /* flushes */
	pcap_close(t->dead);
	ustack_dev_close(t->lower);
	free(t->scratch);
	free(t);
}

static const struct ustack_dev_ops tee_ops = {
	.transmit = tee_transmit,
	.receive = tee_receive,
	.get_fd = tee_get_fd,
	.next_at = tee_next_at,
	.close = tee_close,
	.transmit_meta = tee_transmit_meta,
	.receive_meta = tee_receive_meta,
};

int ustack_pcap_tee(struct ustack_dev **out, struct ustack_dev *lower,
		    const char *path, char *err, size_t errlen)
{
	struct pcap_tee *t;
	int e;

	*out = NULL;
	if (!lower || !path || !*path) {
		drv_set_err(err, errlen, "pcap tee: no device or no file name");
		return -EINVAL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->dead = pcap_open_dead(DLT_EN10MB, (int)TEE_SNAPLEN);
	if (!t->dead) {
		free(t);
		return -ENOMEM;
	}
	errno = 0;
	t->dumper = pcap_dump_open(t->dead, path);
	if (!t->dumper) {
		e = errno ? errno : EIO;
		drv_set_err(err, errlen, "cannot write capture: %s",
			pcap_geterr(t->dead));
		pcap_close(t->dead);
		free(t);
		return -e;
	}
	t->lower = lower;
	t->base.ops = &tee_ops;
	t->base.kind = "pcap-tee";
	memcpy(t->base.name, lower->name, sizeof(t->base.name));
	t->base.mtu = lower->mtu;
	memcpy(t->base.mac, lower->mac, sizeof(t->base.mac));
	t->base.offloads = lower->offloads;
	t->base.gso_max = lower->gso_max;
	*out = &t->base;
	return 0;
}

void ustack_pcap_tee_flush(struct ustack_dev *d)
{
	if (d && d->ops == &tee_ops)
		(void)tee_flush((struct pcap_tee *)d);
}

int ustack_pcap_tee_get_stats(struct ustack_dev *d,
			      struct ustack_pcap_tee_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!d || d->ops != &tee_ops)
		return -EINVAL;
	*out = ((struct pcap_tee *)d)->stats;
	return 0;
}

/* ---- source -------------------------------------------------------------- */

struct pcap_src {
	struct ustack_dev base;      /* first: the stack sees this */
	pcap_t *p;
	ustack_time_t start;         /* when the first frame is due */
	int ignore_time;
	int have_first;
	uint64_t first_ts;           /* stamp of the first frame, us */
	/* The next frame, read ahead (libpcap keeps `data` valid until the
	 * next pcap_next_ex call). */
	int have_next;
	struct pcap_pkthdr hdr;
	const u_char *data;
	ustack_time_t due;
	struct ustack_pcap_source_stats stats;
};

static const struct ustack_dev_ops src_ops;

static uint64_t stamp_us(const struct pcap_pkthdr *h)
{
	uint64_t sec = h->ts.tv_sec < 0 ? 0 : (uint64_t)h->ts.tv_sec;
	uint64_t usec = h->ts.tv_usec < 0 ? 0 : (uint64_t)h->ts.tv_usec;

	return sec * 1000000u + usec;
}

/* Read the next record ahead, once. Sets eof at the end or on damage. */
static void src_fetch(struct pcap_src *s)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t ts, delta;
	int r;

	if (s->have_next || s->stats.eof)
		return;
	r = pcap_next_ex(s->p, &h, &data);
	if (r != 1) {
		s->stats.eof = 1;
		s->stats.read_error = r == PCAP_ERROR;
		return;
	}
	s->have_next = 1;
	s->hdr = *h;
	s->data = data;
	ts = stamp_us(h);
	if (!s->have_first) {
		s->have_first = 1;
		s->first_ts = ts;
	}
	delta = ts > s->first_ts ? ts - s->first_ts : 0;
	s->due = delta >= USTACK_TIME_NEVER - s->start ? USTACK_TIME_NEVER - 1
						       : s->start + delta;
}

static int src_transmit(struct ustack_dev *d, const void *frame, size_t len,
			ustack_time_t now)
{
	(void)frame, (void)len, (void)now;
	((struct pcap_src *)d)->stats.tx_discarded++;
	return 0;
}

static long src_receive(struct ustack_dev *d, void *buf, size_t cap,
			ustack_time_t now)
{
	struct pcap_src *s = (struct pcap_src *)d;

	for (;;) {
		size_t n;

		src_fetch(s);
		if (!s->have_next || (!s->ignore_time && now < s->due))
			return 0;
		s->have_next = 0;
		n = s->hdr.caplen;
		if (n == 0) {
			s->stats.empty++;  /* 0 would mean "nothing ready" */
			continue;
		}
		if (n > cap) {
			s->stats.too_big++;
			return -EMSGSIZE;
		}
		memcpy(buf, s->data, n);
		s->stats.frames++;
		s->stats.bytes += n;
		s->stats.truncated += n < s->hdr.len ? 1 : 0;
		return (long)n;
	}
}

static int src_get_fd(struct ustack_dev *d)
{
	(void)d;
	return -1;
}

static ustack_time_t src_next_at(struct ustack_dev *d, ustack_time_t now)
{
	struct pcap_src *s = (struct pcap_src *)d;

	src_fetch(s);
	if (!s->have_next)
		return USTACK_TIME_NEVER;
	return s->ignore_time ? now : s->due;
}

static void src_close(struct ustack_dev *d)
{
	struct pcap_src *s = (struct pcap_src *)d;

	pcap_close(s->p);
	free(s);
}

static const struct ustack_dev_ops src_ops = {
	.transmit = src_transmit,
	.receive = src_receive,
	.get_fd = src_get_fd,
	.next_at = src_next_at,
	.close = src_close,
};

static int src_open(pcap_t **out, const char *path, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	FILE *fp = fopen(path, "rb");
	int e;

	*out = NULL;
	if (!fp) {
		e = errno;
		drv_set_err(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	*out = pcap_fopen_offline_with_tstamp_precision(
		fp, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!*out) {
		fclose(fp);
		drv_set_err(err, errlen, "%s: not a capture libpcap can "
			    "read (%s)", path, ebuf);
		return -EINVAL;
	}
	return 0;
}

int ustack_pcap_source(struct ustack_dev **out, const char *path,
		       ustack_time_t start, int ignore_time, char *err,
		       size_t errlen)
{
	struct pcap_src *s;
	pcap_t *p;
	int r, lt, snap;

	*out = NULL;
	if (!path) {
		drv_set_err(err, errlen, "pcap source: no file name");
		return -EINVAL;
	}
	if ((r = src_open(&p, path, err, errlen)) < 0)
		return r;
	if ((lt = pcap_datalink(p)) != DLT_EN10MB) {
		const char *name = pcap_datalink_val_to_name(lt);
		char what[64];

		snprintf(what, sizeof(what), "%s (%d)", name ? name : "?", lt);
		drv_set_err(err, errlen,
			"%s: link type %s is not Ethernet (EN10MB); only "
			"Ethernet captures can be fed to the stack", path, what);
		pcap_close(p);
		return -EPROTONOSUPPORT;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		pcap_close(p);
		return -ENOMEM;
	}
	s->p = p;
	s->start = start;
	s->ignore_time = ignore_time;
	s->base.ops = &src_ops;
	s->base.kind = "pcap-source";
	snprintf(s->base.name, sizeof(s->base.name), "pcap");
	/* The link carries what the capture holds: up to its snaplen. */
	snap = pcap_snapshot(p) - 14;
	s->base.mtu = snap < 1500 ? 1500 : snap > 65535 ? 65535 : (uint16_t)snap;
	*out = &s->base;
	return 0;
}

void ustack_pcap_source_get_stats(struct ustack_dev *d,
				  struct ustack_pcap_source_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (d && d->ops == &src_ops)
		*out = ((struct pcap_src *)d)->stats;
}
