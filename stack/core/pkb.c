/*
 * pkb.c - the packet-buffer pool and its operations (see pkb.h).
 *
 * May touch: only the pool inside struct ustack and the PKB_EXHAUSTED
 * counter.
 */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/pkb.h"
#include "core/stack.h"

/* Total buffer bytes (from head) of each class. */
static const uint32_t class_size[PKB_CLASSES] = {
	PKB_SMALL_SIZE, 16384, PKB_HEADROOM + PKB_MAX_LEN,
};

void pkb_pool_init(struct pkb_pool *pool, uint64_t max_bytes)
{
	memset(pool, 0, sizeof(*pool));
	pool->max_bytes = max_bytes;
}

static void release_cached(struct pkb_pool *pool, int cls)
{
	struct pkb *p;

	while ((p = pool->free[cls]) != NULL) {
		pool->free[cls] = p->next;
		pool->nfree[cls]--;
		pool->bytes -= class_size[cls] + sizeof(*p);
		free(p);
	}
}

void pkb_pool_fini(struct pkb_pool *pool)
{
	for (int c = 0; c < PKB_CLASSES; c++)
		release_cached(pool, c);
}

/* Room in the budget for one more buffer of class c, releasing cached
 * buffers of other classes if that makes room. */
static int pool_has_room(struct pkb_pool *pool, int c)
{
	uint64_t need = class_size[c] + sizeof(struct pkb);

	for (int o = PKB_CLASSES - 1; o >= 0 &&
				       pool->bytes + need > pool->max_bytes; o--)
		if (o != c)
			release_cached(pool, o);
	return pool->bytes + need <= pool->max_bytes;
}

struct pkb *pkb_alloc(struct ustack *st, uint32_t len)
{
	struct pkb_pool *pool = &st->pool;
	struct pkb *p;
	int c = 0;

	while (c < PKB_CLASSES && class_size[c] < PKB_HEADROOM + (uint64_t)len)
		c++;
	if (c == PKB_CLASSES) {
		STAT_INC(st, PKB_EXHAUSTED);
		return NULL;
	}
	if ((p = pool->free[c]) != NULL) {
		pool->free[c] = p->next;
		pool->nfree[c]--;
	} else {
		if (!pool_has_room(pool, c) ||
		    (p = malloc(sizeof(*p) + class_size[c])) == NULL) {
			STAT_INC(st, PKB_EXHAUSTED);
			return NULL;
		}
		pool->bytes += class_size[c] + sizeof(*p);
		p->head = (uint8_t *)(p + 1);
		p->size = class_size[c];
		p->cls = (uint8_t)c;
	}
	p->next = NULL;
	p->data = p->head + PKB_HEADROOM;
	p->len = 0;
	p->l2_mcast = 0;
	p->nh_off = p->th_off = 0;
	p->csum = PKB_CSUM_NONE;
	p->csum_off = 0;
	p->gso_size = 0;
	p->ext_total = 0;
	p->ts = st->now;
	memset(&p->ip, 0, sizeof(p->ip));
	p->scratch = 0;
	pool->in_use++;
	return p;
}

void pkb_free(struct ustack *st, struct pkb *p)
{
	struct pkb_pool *pool = &st->pool;

	if (!p)
		return;
	USTACK_ASSERT(pool->in_use > 0);
	pool->in_use--;
	p->next = pool->free[p->cls];
	pool->free[p->cls] = p;
	pool->nfree[p->cls]++;
}

void pkb_free_chain(struct ustack *st, struct pkb *p)
{
	while (p) {
		struct pkb *n = p->next;
		pkb_free(st, p);
		p = n;
	}
}

void pkb_linearize_ext(struct pkb *p)
{
	for (int i = 0; i < 2; i++) {
		if (p->ext_len[i])
			memcpy(pkb_put(p, p->ext_len[i]), p->ext[i], p->ext_len[i]);
	}
	p->ext_total = 0;
}

struct pkb *pkb_copy(struct ustack *st, const struct pkb *p)
{
	uint32_t room = pkb_headroom(p);
	struct pkb *q = pkb_alloc(st, room + p->len);

	USTACK_ASSERT(pkb_total_len(p) == p->len);  /* linear only */
	if (!q)
		return NULL;
	q->data = q->head + room;
	memcpy(q->data, p->data, p->len);
	q->len = p->len;
	q->l2_mcast = p->l2_mcast;
	q->nh_off = p->nh_off;
	q->th_off = p->th_off;
	q->csum = p->csum;
	q->csum_off = p->csum_off;
	q->gso_size = p->gso_size;
	q->ts = p->ts;
	q->ip = p->ip;
	q->scratch = p->scratch;
	/* Headers already pulled stay readable through nh_off/th_off. */
	memcpy(q->head, p->head, room);
	return q;
}

uint8_t *pkb_push(struct pkb *p, uint32_t n)
{
	USTACK_ASSERT(n <= pkb_headroom(p));
	p->data -= n;
	p->len += n;
	return p->data;
}

uint8_t *pkb_pull(struct pkb *p, uint32_t n)
{
	USTACK_ASSERT(n <= p->len);
	p->data += n;
	p->len -= n;
	return p->data;
}

uint8_t *pkb_put(struct pkb *p, uint32_t n)
{
	uint8_t *t = pkb_tail(p);

	USTACK_ASSERT(n <= pkb_tailroom(p));
	p->len += n;
	return t;
}

void pkb_trim(struct pkb *p, uint32_t len)
{
	USTACK_ASSERT(len <= p->len);
	p->len = len;
}

void pkb_queue_push(struct pkb_queue *q, struct pkb *p)
{
	pkb_linearize(p);  /* queued: the pieces may move meanwhile */
	p->next = NULL;
	if (q->tail)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
	q->count++;
	q->bytes += p->len;
}

struct pkb *pkb_queue_pop(struct pkb_queue *q)
{
	struct pkb *p = q->head;

	if (!p)
		return NULL;
	q->head = p->next;
	if (!q->head)
		q->tail = NULL;
	q->count--;
	q->bytes -= p->len;
	p->next = NULL;
	return p;
}

void pkb_queue_purge(struct ustack *st, struct pkb_queue *q)
{
	pkb_free_chain(st, q->head);
	pkb_queue_init(q);
}
