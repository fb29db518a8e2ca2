/*
 * pkb.h - packet buffers: one contiguous buffer with headroom, used by every
 * layer (Linux sk_buff's reserve/push/pull/put, without chains).
 *
 * Received frames are read straight into a pkb; each layer pulls its header
 * and records where it was (nh_off, th_off) so errors can quote it. Sent
 * packets start with PKB_HEADROOM free bytes in front of the data and each
 * layer pushes its header in place: no copies between layers.
 *
 * Buffers come from a pool the stack owns, in three size classes (2 KiB for
 * ordinary frames, 16 KiB for jumbo frames, 68 KiB for 64 KiB datagrams and
 * TSO/GRO super-frames). Freed buffers are kept on per-class free lists, so
 * the steady state does no malloc. The pool's memory (in use + cached) is
 * bounded by cfg.pkb_max_bytes; past it pkb_alloc() returns NULL and counts
 * PKB_EXHAUSTED.
 */
#ifndef USTACK_CORE_PKB_H
#define USTACK_CORE_PKB_H

#include <stdint.h>

#include <ustack/ustack.h>

/* eth 14 + IPv4 60 + TCP 60 + virtio-net header 12, rounded up. */
#define PKB_HEADROOM 160u
#define PKB_CLASSES 3
#define PKB_SMALL_SIZE 2048u /* bytes (from head) of the smallest class */
/* Largest payload (after headroom) a pkb can hold. */
#define PKB_MAX_LEN (65536u + 2048u)

struct pkb {
	struct pkb *next;     /* queue link (free list, ARP queue, reassembly) */
	uint8_t *head;        /* start of the buffer */
	uint8_t *data;        /* first valid byte */
	uint32_t len;         /* valid bytes from data */
	uint32_t size;        /* bytes in the buffer from head */
	uint8_t cls;          /* size class */
	uint8_t l2_mcast;     /* received to a broadcast/multicast MAC */
	uint16_t nh_off;      /* network (IP) header, offset from head */
	uint16_t th_off;      /* transport header, offset from head (also
				 set on send by TCP, for checksum offload) */
	uint8_t csum;         /* PKB_CSUM_*: the transport checksum's state */
	uint8_t csum_off;     /* PARTIAL on send: field offset from th_off */
	uint16_t gso_size;    /* send: TSO super-frame, payload bytes per
				 segment (0: an ordinary packet) */
	/* Send: payload that follows data[0..len) where it lies (TCP's
	 * send ring, up to two pieces), for a device that gathers
	 * (stack_xmit); 0 bytes: none. The buffer keeps room for it:
	 * pkb_linearize() copies it in wherever the frame must be whole
	 * (queued, looped back, fragmented, a device that can not gather). */
	const uint8_t *ext[2];
	uint32_t ext_len[2];  /* valid while ext_total is not 0 */
	uint32_t ext_total;   /* ext_len[0] + ext_len[1] */
	ustack_time_t ts;     /* when received or queued */
	/* Set by ip4_input for the layers above (host byte order). */
	struct {
		uint32_t src, dst;
		uint8_t proto, ttl, tos, hlen;
		uint16_t id;
		uint8_t bcast;  /* to a broadcast/multicast IP address */
		uint8_t reasm;  /* reassembled from fragments */
	} ip;
	uint32_t scratch;     /* owner-private (e.g. ARP next hop) */
};

/* pkb->csum. Received: VALID, the device verified the transport checksum
 * or the data never crossed a wire (a partial checksum from the kernel);
 * the transport layer skips its check. Sent: PARTIAL, the checksum field
 * holds the pseudo-header sum and the device completes it (stack_xmit). */
#define PKB_CSUM_NONE 0
#define PKB_CSUM_VALID 1
#define PKB_CSUM_PARTIAL 2

struct pkb_pool {
	struct pkb *free[PKB_CLASSES];
	uint32_t nfree[PKB_CLASSES];
	uint64_t bytes;       /* malloc'd: in use + cached */
	uint64_t max_bytes;
	uint32_t in_use;
};

struct ustack;

void pkb_pool_init(struct pkb_pool *pool, uint64_t max_bytes);
void pkb_pool_fini(struct pkb_pool *pool);

/* A buffer with room for `len` bytes after PKB_HEADROOM; data at the
 * headroom, len 0. NULL (counted) when the pool is exhausted. */
struct pkb *pkb_alloc(struct ustack *st, uint32_t len);
void pkb_free(struct ustack *st, struct pkb *p);
/* Free a chain linked through ->next. */
void pkb_free_chain(struct ustack *st, struct pkb *p);
/* A copy with the same headroom, data and metadata. */
struct pkb *pkb_copy(struct ustack *st, const struct pkb *p);

static inline uint32_t pkb_headroom(const struct pkb *p)
{
	return (uint32_t)(p->data - p->head);
}

static inline uint32_t pkb_tailroom(const struct pkb *p)
{
	return p->size - pkb_headroom(p) - p->len;
}

static inline uint8_t *pkb_tail(const struct pkb *p)
{
	return p->data + p->len;
}

/* Prepend n bytes (a header); returns the new data pointer. The caller must
 * have left room: running out of headroom is a bug, so it aborts. */
uint8_t *pkb_push(struct pkb *p, uint32_t n);
/* Remove n bytes from the front (n <= len, checked by the caller). */
uint8_t *pkb_pull(struct pkb *p, uint32_t n);
/* Append n bytes; returns where they go (n <= tailroom, else abort). */
uint8_t *pkb_put(struct pkb *p, uint32_t n);
/* Cut to len bytes (len <= current len). */
void pkb_trim(struct pkb *p, uint32_t len);

/* Bytes of the packet: the buffer's and the pieces that follow it. */
static inline uint32_t pkb_total_len(const struct pkb *p)
{
	return p->len + p->ext_total;
}
/* Copy the pieces in after data[0..len) (the room was kept). */
void pkb_linearize_ext(struct pkb *p);
static inline void pkb_linearize(struct pkb *p)
{
	if (p->ext_total)
		pkb_linearize_ext(p);
}

static inline uint8_t *pkb_nh(const struct pkb *p) { return p->head + p->nh_off; }
static inline uint8_t *pkb_th(const struct pkb *p) { return p->head + p->th_off; }
static inline void pkb_set_nh(struct pkb *p) { p->nh_off = (uint16_t)(p->data - p->head); }
static inline void pkb_set_th(struct pkb *p) { p->th_off = (uint16_t)(p->data - p->head); }

/* A FIFO of pkbs with byte and frame counts (bounds are the owner's). */
struct pkb_queue {
	struct pkb *head, *tail;
	uint32_t count;
	uint32_t bytes;       /* sum of len */
};

static inline void pkb_queue_init(struct pkb_queue *q)
{
	q->head = q->tail = 0;
	q->count = q->bytes = 0;
}

void pkb_queue_push(struct pkb_queue *q, struct pkb *p);
struct pkb *pkb_queue_pop(struct pkb_queue *q);
void pkb_queue_purge(struct ustack *st, struct pkb_queue *q);

#endif
