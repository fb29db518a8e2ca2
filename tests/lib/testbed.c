/*
 * testbed.c - see testbed.h.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/socket.h>

#include "lib/pkt.h"
#include "lib/testbed.h"

const uint8_t TB_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
const uint8_t TB_PEER_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

struct capdev {
	struct ustack_dev base;
	struct tb *tb;
	int tx_fail;
};

static int cap_transmit(struct ustack_dev *d, const void *f, size_t len,
			ustack_time_t now)
{
	struct capdev *c = (struct capdev *)d;
	struct tb *tb = c->tb;
	struct tb_frame *fr;

	if (c->tx_fail)
		return -ENOBUFS;
	fr = malloc(sizeof(*fr) + len);
	if (!fr)
		abort();
	fr->next = NULL;
	fr->at = now;
	fr->len = len;
	memcpy(fr->data, f, len);
	if (tb->out_tail)
		tb->out_tail->next = fr;
	else
		tb->out_head = fr;
	tb->out_tail = fr;
	tb->nout++;
	return 0;
}

static long cap_receive(struct ustack_dev *d, void *buf, size_t cap,
			ustack_time_t now)
{
	(void)d, (void)buf, (void)cap, (void)now;
	return 0;
}

static void cap_close(struct ustack_dev *d)
{
	free(d);
}

static const struct ustack_dev_ops cap_ops = {
	.transmit = cap_transmit,
	.receive = cap_receive,
	.close = cap_close,
};

void tb_config(struct ustack_config *cfg)
{
	ustack_config_default(cfg);
	memcpy(cfg->mac, TB_MAC, 6);
	cfg->addr = TB_ADDR;
	cfg->prefix_len = 24;
	cfg->seed_from_os = 0;
	cfg->seed = 42;
	cfg->log_level = getenv("USTACK_TEST_LOG") ? atoi(getenv("USTACK_TEST_LOG"))
						  : USTACK_LOG_ERROR;
}

struct tb *tb_new(const struct ustack_config *cfg)
{
	struct ustack_config c;
	struct tb *tb = calloc(1, sizeof(*tb));
	struct capdev *d = calloc(1, sizeof(*d));
	int err;

	if (!tb || !d)
		abort();
	if (!cfg) {
		tb_config(&c);
		cfg = &c;
	}
	d->base.ops = &cap_ops;
	d->base.kind = "capture";
	snprintf(d->base.name, sizeof(d->base.name), "cap0");
	d->base.mtu = cfg->mtu;
	d->tb = tb;
	tb->dev = &d->base;
	tb->now = 1000000;
	err = ustack_create(&tb->st, cfg, tb->dev, tb->now);
	if (err < 0) {
		fprintf(stderr, "tb_new: ustack_create: %s\n", ustack_strerror(err));
		abort();
	}
	tb_drain(tb);
	return tb;
}

void tb_free(struct tb *tb)
{
	if (!tb)
		return;
	ustack_destroy(tb->st);
	tb_drain(tb);
	ustack_dev_close(tb->dev);
	free(tb);
}

void tb_inject(struct tb *tb, const void *frame, size_t len)
{
	ustack_input(tb->st, frame, len, tb->now);
}

void tb_advance(struct tb *tb, ustack_time_t us)
{
	ustack_time_t end = tb->now + us;
	int guard = 1000000;

	while (guard-- > 0) {
		ustack_time_t next = ustack_next_deadline(tb->st);

		if (next > end)
			break;
		if (next > tb->now)
			tb->now = next;
		ustack_run_timers(tb->st, tb->now);
	}
	if (guard <= 0) {
		fprintf(stderr, "tb_advance: timers never settle\n");
		abort();
	}
	tb->now = end;
	ustack_run_timers(tb->st, tb->now);
}

struct tb_frame *tb_pop(struct tb *tb)
{
	struct tb_frame *f = tb->out_head;

	if (!f)
		return NULL;
	tb->out_head = f->next;
	if (!tb->out_head)
		tb->out_tail = NULL;
	tb->nout--;
	f->next = NULL;
	return f;
}

unsigned tb_drain(struct tb *tb)
{
	unsigned n = 0;
	struct tb_frame *f;

	while ((f = tb_pop(tb)) != NULL) {
		free(f);
		n++;
	}
	return n;
}

void tb_set_tx_fail(struct tb *tb, int fail)
{
	((struct capdev *)tb->dev)->tx_fail = fail;
}

void tb_learn_peer(struct tb *tb, uint32_t ip, const uint8_t mac[6])
{
	uint8_t f[64];
	size_t n = pkt_arp(f, ETH_BCAST_MAC, mac, 1, mac, ip, NULL, TB_ADDR);

	tb_inject(tb, f, n);
	tb_drain(tb);
}

struct sockaddr_in tb_sin(uint32_t addr, uint16_t port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_addr.s_addr = htonl(addr);
	s.sin_port = htons(port);
	return s;
}

int tb_get_int(struct tb *tb, int sd, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);

	ck_assert_int_eq(ustack_getsockopt(tb->st, sd, level, name, &v, &len),
			 0);
	ck_assert_uint_eq(len, sizeof(int));
	return v;
}

int tb_set_int(struct tb *tb, int sd, int level, int name, int v)
{
	return ustack_setsockopt(tb->st, sd, level, name, &v, sizeof(v));
}
