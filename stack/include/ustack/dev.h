/*
 * dev.h - frame sources and sinks (drivers).
 *
 * A driver is a small ops table. The stack calls transmit() with one whole
 * Ethernet frame; a runtime (or a test) calls receive() to get the next frame
 * and waits on get_fd() and next_at() in between. Every call takes `now` so
 * drivers that hold frames back (fault delay, pcap source at recorded times)
 * stay deterministic. Wrappers (pcap tee, fault) stack on top of another
 * driver and own it: closing the wrapper closes the lower driver.
 *
 * Drivers live in drivers/ and use only the public headers.
 *
 * Offloads (optional, after virtio-net and Linux's IFF_VNET_HDR): a device
 * may say in dev->offloads that it completes partial TCP/UDP checksums and
 * cuts TCP super-frames into segments on transmit (TSO), and that frames it
 * receives may carry checksum state or be coalesced TCP segments larger
 * than the MTU (GRO). The per-frame facts travel in a struct
 * ustack_frame_meta through transmit_meta()/receive_meta(). A device
 * without those ops (or with offloads 0) is driven exactly as before, and
 * the stack hands it only ordinary frames with complete checksums.
 */
#ifndef USTACK_DEV_H
#define USTACK_DEV_H

#include <stddef.h>
#include <stdint.h>

#include <ustack/ustack.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ustack_dev;

/* ---- offloads ----------------------------------------------------------- */

/* dev->offloads: what the device does for the stack. */
#define USTACK_DEV_TX_CSUM 0x1u  /* completes CSUM_PARTIAL frames on send */
#define USTACK_DEV_TX_TSO4 0x2u  /* segments GSO_TCPV4 frames on send (the
				    frames are CSUM_PARTIAL too) */
#define USTACK_DEV_RX_CSUM 0x4u  /* received frames may be CSUM_PARTIAL or
				    CSUM_VALID */
#define USTACK_DEV_RX_GRO 0x8u   /* received TCP frames may be larger than
				    the MTU (up to 65535 + 14 bytes) */
#define USTACK_DEV_OFFLOADS_ALL 0xfu

/*
 * What travels with one frame: virtio-net's header (linux/virtio_net.h),
 * in host byte order. Offsets count from the first byte of the frame (the
 * Ethernet header).
 *
 * CSUM_PARTIAL (VIRTIO_NET_HDR_F_NEEDS_CSUM): the checksum field at
 *   csum_start + csum_offset holds the folded pseudo-header sum, not
 *   complemented; the one's-complement sum from csum_start to the end of
 *   the frame, complemented, belongs there. The data is known good (it
 *   never crossed a wire), so a receiver accepts it as valid.
 * CSUM_VALID (VIRTIO_NET_HDR_F_DATA_VALID): the transport checksum was
 *   verified already.
 * GSO_TCPV4: a TCP/IPv4 super-frame, to be cut into segments of gso_size
 *   payload bytes each, every one with a copy of the first hdr_len bytes
 *   (sequence number, IP length and id, and checksums adjusted; FIN and PSH
 *   on the last only), as a NIC does for TSO. Always with CSUM_PARTIAL.
 */
#define USTACK_META_CSUM_PARTIAL 0x1u
#define USTACK_META_CSUM_VALID 0x2u
#define USTACK_GSO_NONE 0
#define USTACK_GSO_TCPV4 1

struct ustack_frame_meta {
	uint8_t flags;          /* USTACK_META_CSUM_* */
	uint8_t gso_type;       /* USTACK_GSO_* */
	uint16_t hdr_len;       /* GSO: Ethernet + IP + TCP header bytes */
	uint16_t gso_size;      /* GSO: payload bytes per segment */
	uint16_t csum_start;    /* CSUM_PARTIAL: where the sum starts */
	uint16_t csum_offset;   /* ... and where it goes, from csum_start */
};

/*
 * Complete a CSUM_PARTIAL frame in software (Linux's skb_checksum_help):
 * sum from csum_start to the end, store it, clear CSUM_PARTIAL. A sum of
 * zero is stored as 0xffff (the same in one's complement; UDP reads 0 as
 * "no checksum"). Returns 0 (also when there was nothing to do) or
 * -EINVAL when the offsets do not fit the frame (meta left as it was).
 */
int ustack_frame_csum_complete(void *frame, size_t len,
			       struct ustack_frame_meta *meta);

/*
 * Software segmentation of a GSO_TCPV4 super-frame (what a NIC does for
 * TSO): calls emit() once per resulting frame, each an ordinary frame with
 * complete checksums, built in `scratch` (at least hdr_len + gso_size
 * bytes). A frame without GSO is completed if partial and emitted as is.
 * Returns the number of frames emitted, an emit() error, or -EINVAL for a
 * malformed super-frame.
 */
int ustack_frame_segment(const void *frame, size_t len,
			 const struct ustack_frame_meta *meta, void *scratch,
			 int (*emit)(void *ctx, const void *frame, size_t len),
			 void *ctx);

/* One piece of a frame handed down in pieces (transmit_gather). */
struct ustack_frag {
	const void *data;
	size_t len;
};

struct ustack_dev_ops {
	/* Send one frame. Returns 0, or -errno (-EAGAIN: queue full, the
	 * stack counts a drop). The driver copies; the caller keeps `frame`. */
	int (*transmit)(struct ustack_dev *dev, const void *frame, size_t len,
			ustack_time_t now);
	/* Copy the next received frame into buf. Returns its length, 0 when
	 * nothing is ready now, or -errno (-EMSGSIZE: frame longer than cap,
	 * dropped). Never blocks. May be NULL when receive_meta() is set:
	 * ustack_dev_receive() then calls receive_meta() and completes a
	 * partial checksum, so the reader gets a checked frame. */
	long (*receive)(struct ustack_dev *dev, void *buf, size_t cap,
			ustack_time_t now);
	/* A file descriptor that polls readable when receive() may return a
	 * frame, or -1 (memory devices). */
	int (*get_fd)(struct ustack_dev *dev);
	/* When receive() will next have a frame without the fd becoming
	 * readable (delayed frames), or USTACK_TIME_NEVER. May be NULL. */
	ustack_time_t (*next_at)(struct ustack_dev *dev, ustack_time_t now);
	/* Release everything, including a wrapped lower device. */
	void (*close)(struct ustack_dev *dev);
	/* Optional (offloading devices). transmit() with the frame's
	 * metadata: the stack calls it instead of transmit() when it is set,
	 * and sets in meta only what dev->offloads allows. */
	int (*transmit_meta)(struct ustack_dev *dev, const void *frame,
			     size_t len, const struct ustack_frame_meta *meta,
			     ustack_time_t now);
	/* Optional. receive() that also fills *meta (all zero for a plain
	 * frame). The stack calls it instead of receive() when it is set. */
	long (*receive_meta)(struct ustack_dev *dev, void *buf, size_t cap,
			     struct ustack_frame_meta *meta, ustack_time_t now);
	/* Optional (gather transmit). transmit_meta() of the frame that is
	 * frags[0..n) end to end (n <= USTACK_FRAGS_MAX): the headers, then
	 * the payload where it lies (TCP's send ring), so the stack need not
	 * copy it into one buffer first. The driver copies or writes before
	 * it returns; the pieces are the caller's again after. The stack
	 * uses it only for frames whose checksum the device completes
	 * (CSUM_PARTIAL), so a driver never has to sum the pieces. */
	int (*transmit_gather)(struct ustack_dev *dev,
			       const struct ustack_frag *frags, unsigned n,
			       const struct ustack_frame_meta *meta,
			       ustack_time_t now);
};

#define USTACK_FRAGS_MAX 4

/* Drivers embed this first in their own struct. */
struct ustack_dev {
	const struct ustack_dev_ops *ops;
	const char *kind;       /* "tap", "pcap-tee", "memlink", "fault", ... */
	char name[32];          /* device name, e.g. "tap0" */
	uint16_t mtu;           /* IP MTU the link carries (default 1500) */
	uint8_t mac[6];         /* hardware address if the driver has one */
	uint32_t offloads;      /* USTACK_DEV_TX_CSUM | ... now switched on */
	uint32_t gso_max;       /* largest TSO frame the stack may hand down,
				   Ethernet header included (0: 65535 + 14);
				   lower it to bound super-frames */
};

/* Convenience wrappers over the ops table. */
static inline int ustack_dev_transmit(struct ustack_dev *d, const void *f,
				      size_t len, ustack_time_t now)
{
	return d->ops->transmit(d, f, len, now);
}
static inline long ustack_dev_receive(struct ustack_dev *d, void *buf,
				      size_t cap, ustack_time_t now)
{
	struct ustack_frame_meta m;
	long n;

	if (d->ops->receive)
		return d->ops->receive(d, buf, cap, now);
	/* The default for a device with only receive_meta(): a reader
	 * without metadata gets a checked frame (a super-frame stays one
	 * frame). Offsets that do not fit leave the sum as it was, for the
	 * reader's checksum check to drop. */
	n = d->ops->receive_meta(d, buf, cap, &m, now);
	if (n > 0 && (m.flags & USTACK_META_CSUM_PARTIAL))
		(void)ustack_frame_csum_complete(buf, (size_t)n, &m);
	return n;
}
/* With metadata; plain transmit()/receive() for devices without the ops
 * (transmit: then meta must be all zero, the caller's duty). */
static inline int ustack_dev_transmit_meta(struct ustack_dev *d, const void *f,
					   size_t len,
					   const struct ustack_frame_meta *m,
					   ustack_time_t now)
{
	if (d->ops->transmit_meta)
		return d->ops->transmit_meta(d, f, len, m, now);
	return d->ops->transmit(d, f, len, now);
}
static inline long ustack_dev_receive_meta(struct ustack_dev *d, void *buf,
					   size_t cap,
					   struct ustack_frame_meta *m,
					   ustack_time_t now)
{
	if (d->ops->receive_meta)
		return d->ops->receive_meta(d, buf, cap, m, now);
	*m = (struct ustack_frame_meta){0};
	return d->ops->receive(d, buf, cap, now);
}
static inline int ustack_dev_fd(struct ustack_dev *d)
{
	return d->ops->get_fd ? d->ops->get_fd(d) : -1;
}
static inline ustack_time_t ustack_dev_next_at(struct ustack_dev *d,
					       ustack_time_t now)
{
	return d->ops->next_at ? d->ops->next_at(d, now) : USTACK_TIME_NEVER;
}
static inline void ustack_dev_close(struct ustack_dev *d)
{
	if (d)
		d->ops->close(d);
}

/* ---- tap: /dev/net/tun, IFF_TAP | IFF_NO_PI ---------------------------- */

struct ustack_tap_config {
	const char *name;         /* "tap0"; created, or attached if it exists */
	uint16_t mtu;             /* 0: leave as is (set on the host side) */
	/* Optional host-side set-up (needs CAP_NET_ADMIN): */
	uint32_t host_addr;       /* 0: none; else give the kernel side this */
	uint8_t host_prefix_len;
	int bring_up;             /* set the link up */
	/* IFF_VNET_HDR offloads: checksums, TSO and GRO (one write or read
	 * per 64 KiB super-frame). AUTO: on for a device we create; on an
	 * existing one only if it was made for them (`ip tuntap add ...
	 * vnet_hdr`, the flag the kernel keeps for a persistent device),
	 * else off (whatever else is wired to it, a bridge or a packet-socket
	 * relay, may not expect super-frames or partial checksums). When the
	 * kernel refuses the virtio header, AUTO falls back to plain frames. */
	int offload;              /* USTACK_TAP_OFFLOAD_AUTO (0), _ON, _OFF */
};

#define USTACK_TAP_OFFLOAD_AUTO 0
#define USTACK_TAP_OFFLOAD_ON 1
#define USTACK_TAP_OFFLOAD_OFF 2

/*
 * Open a TAP device. On failure returns -errno and writes a sentence for a
 * human into err (e.g. "/dev/net/tun: no such device; load the tun module"):
 * -ENOENT/-ENODEV no /dev/net/tun, -EPERM/-EACCES no permission (the
 * sentence says how to make a persistent device for a user), -EBUSY in use
 * by another process, -EINVAL a bad name or an existing non-TAP interface.
 * `created` (may be NULL) tells whether the device was created by us (it
 * did not exist just before): such a device is not persistent and the
 * kernel removes it when the device is closed. A name with "%d" lets the
 * kernel pick the number; dev->name has the result. dev->mtu is the
 * kernel's MTU after set-up; dev->mac stays zero (the stack's MAC comes
 * from its config). receive() returns -EMSGSIZE (frame dropped) for a frame
 * longer than the buffer; transmit() -EAGAIN when the kernel queue is full.
 * With offloads on, every frame carries a virtio_net_hdr on the fd
 * (TUNSETVNETHDRSZ), dev->offloads has TX_CSUM | TX_TSO4 and, if the
 * kernel took TUNSETOFFLOAD (TUN_F_CSUM | TUN_F_TSO4), RX_CSUM | RX_GRO;
 * if IFF_VNET_HDR itself (or TUNSETVNETHDRSZ) is refused, ON fails and
 * AUTO falls back to plain frames.
 */
int ustack_tap_open(struct ustack_dev **out, const struct ustack_tap_config *cfg,
		    int *created, char *err, size_t errlen);

/* ---- pcap: write every frame to a capture file, or read one ------------- */

/*
 * Wrap `lower`: every frame transmitted (and accepted by lower) and every
 * frame received is also written to `path` (pcap, LINKTYPE_ETHERNET,
 * snaplen 262144, microsecond stamps = `now`). Flushed on close, by
 * ustack_pcap_tee_flush() and at most one second (of `now`) after a frame.
 * Offloads pass through (the tee has lower's dev->offloads as they were
 * when it was made); a partial checksum is completed in the written copy.
 * On failure `lower` is not closed; err has libpcap's reason.
 */
int ustack_pcap_tee(struct ustack_dev **out, struct ustack_dev *lower,
		    const char *path, char *err, size_t errlen);
/* Flush buffered frames to disk (the tee flushes on close anyway). */
void ustack_pcap_tee_flush(struct ustack_dev *tee);

/*
 * Whether the capture is whole. A failed write or flush (disk full,
 * /dev/full) is kept in `error` (its errno); from then on nothing more is
 * written and frames are counted in `lost` (they still cross the tee).
 * Flush first to learn about buffered frames; a program should tell its
 * user and fail. Returns 0, or -EINVAL when `tee` is not a pcap tee.
 */
struct ustack_pcap_tee_stats {
	uint64_t frames;          /* handed to the file without an error */
	uint64_t lost;            /* not written: after (or at) the error */
	int error;                /* 0, or errno of the first failed write */
};
int ustack_pcap_tee_get_stats(struct ustack_dev *tee,
			      struct ustack_pcap_tee_stats *out);

/*
 * A capture as input: receive() returns the frames of `path` in order, each
 * once `now` has reached its timestamp relative to the first frame plus
 * `start` (so next_at() gives the replay schedule; a stamp before the first
 * frame's is due at `start`). If `ignore_time` is set, every frame is ready
 * at once. Frames cut short in the capture are delivered as captured; empty
 * records are skipped; a frame longer than receive()'s buffer gives
 * -EMSGSIZE. transmit() discards (and counts). get_fd() is -1.
 * Non-Ethernet captures are refused with -EPROTONOSUPPORT, unreadable
 * files with -errno or -EINVAL, each with a sentence in err.
 */
int ustack_pcap_source(struct ustack_dev **out, const char *path,
		       ustack_time_t start, int ignore_time, char *err,
		       size_t errlen);

/* What a source has done so far. */
struct ustack_pcap_source_stats {
	uint64_t frames;          /* delivered by receive() */
	uint64_t bytes;
	uint64_t truncated;       /* delivered cut short (caplen < len) */
	uint64_t empty;           /* empty records, skipped */
	uint64_t too_big;         /* longer than receive()'s buffer: -EMSGSIZE */
	uint64_t tx_discarded;    /* frames transmitted to the source */
	int eof;                  /* no frame left */
	int read_error;           /* the file ended in a damaged record */
};
void ustack_pcap_source_get_stats(struct ustack_dev *src,
				  struct ustack_pcap_source_stats *out);

/* ---- memlink: two stacks joined in memory ------------------------------- */

/*
 * Two connected devices: a frame transmitted on one is received on the other.
 * Each direction queues at most `queue_frames` frames (0: 1024; transmit
 * returns -EAGAIN beyond that). Frames of 1..65535+14 bytes (-EMSGSIZE
 * otherwise). get_fd() is an eventfd, readable while frames wait for that
 * end, so the runtimes can sleep on a memlink; next_at() is NEVER. dev->mtu
 * is 1500 (callers may raise it). After one end is closed the other's
 * transmit returns -ENOTCONN.
 */
int ustack_memlink_pair(struct ustack_dev **a, struct ustack_dev **b,
			uint32_t queue_frames);

/*
 * Let the link carry offloaded frames (USTACK_DEV_* flags, both ends), as
 * a TAP device with IFF_VNET_HDR does: metadata travels with each frame, so
 * stacks on both ends exchange TSO super-frames with partial checksums.
 * A frame with metadata read through plain receive() has its checksum
 * completed first. 0 turns offloads off again. Returns 0, -EINVAL (not a
 * memlink, unknown flags).
 */
int ustack_memlink_offload(struct ustack_dev *end, uint32_t offloads);

/* ---- fault: seeded loss, duplication, reordering, delay, corruption ----- */

struct ustack_fault_config {
	uint64_t seed;
	/* Probabilities in parts per million, applied per frame and direction. */
	uint32_t loss_ppm;
	uint32_t dup_ppm;
	uint32_t reorder_ppm;     /* hold a frame back behind the next ones */
	uint32_t corrupt_ppm;     /* flip one random bit */
	ustack_time_t delay_us;   /* fixed extra delay for every frame */
	ustack_time_t jitter_us;  /* plus uniform 0..jitter */
	int tx;                   /* apply on transmit (default 1) */
	int rx;                   /* apply on receive (default 0) */
	ustack_time_t reorder_hold_us; /* longest a reordered frame waits for
					  the next one (0: default 1 ms) */
	uint32_t queue_max_bytes; /* delayed frames held per direction
				     (0: default 16 MiB; past it -ENOBUFS on
				     transmit, a counted drop on receive) */
};

/*
 * Per frame: loss, then corruption (one bit flipped past the 14-byte
 * Ethernet header, so checksums above must catch it), then duplication (an
 * uncorrupted copy follows), delay + jitter (jitter may reorder, as netem's
 * does), reordering (held until the next frame of that direction passed,
 * at most reorder_hold_us). Deterministic for a seed: same calls at the same
 * `now` give the same frames at the same times. The wrapper knows only the
 * time it is told: due transmit-side frames go to the lower device at the
 * start of every transmit/receive/next_at call, and next_at() reports the
 * earliest pending release, so drive it by calling the stack at
 * ustack_next_deadline(). Defaults: seed 1, no faults, tx 1, rx 0.
 * Offloads pass through (lower's dev->offloads when wrapped; metadata kept
 * with each frame); a frame it corrupts loses its metadata, its checksum
 * completed first, so the receiver checks it in full.
 * On failure (-EINVAL: a rate above 10^6 ppm, a time above an hour)
 * `lower` is not closed.
 */
void ustack_fault_config_default(struct ustack_fault_config *cfg);
int ustack_fault_wrap(struct ustack_dev **out, struct ustack_dev *lower,
		      const struct ustack_fault_config *cfg);

struct ustack_fault_stats {
	uint64_t frames, dropped, duplicated, reordered, corrupted, delayed;
	uint64_t queue_full;      /* refused: queue_max_bytes reached */
	uint64_t lower_errors;    /* delayed frames the lower device refused */
};
void ustack_fault_get_stats(struct ustack_dev *fault,
			    struct ustack_fault_stats *out);

#ifdef __cplusplus
}
#endif
#endif
