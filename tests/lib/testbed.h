/*
 * testbed.h - one stack on a capture device, in virtual time, for unit
 * tests: inject frames, collect what the stack sends, move the clock.
 *
 * The stack is 10.0.0.2/24 with MAC 02:00:00:00:00:02 and a fixed seed;
 * the test plays the peer, by default 10.0.0.1 at 02:00:00:00:00:01.
 * tb_free() destroys the stack, which asserts that every packet buffer was
 * returned (the pool-full leak check of lwIP's Check suites).
 */
#ifndef USTACK_TESTS_TESTBED_H
#define USTACK_TESTS_TESTBED_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <ustack/dev.h>
#include <ustack/ustack.h>

#define TB_ADDR 0x0a000002u
#define TB_PEER 0x0a000001u
extern const uint8_t TB_MAC[6];
extern const uint8_t TB_PEER_MAC[6];

struct tb_frame {
	struct tb_frame *next;
	ustack_time_t at;     /* when the stack sent it */
	size_t len;
	uint8_t data[];
};

struct tb {
	struct ustack *st;
	struct ustack_dev *dev;      /* the capture device */
	ustack_time_t now;
	struct tb_frame *out_head, *out_tail; /* sent by the stack, oldest first */
	unsigned nout;
};

/* Defaults for a testbed config (seeded, quiet logs); tests may edit. */
void tb_config(struct ustack_config *cfg);
/* cfg NULL: tb_config(). Starts at time 1 s. Aborts the test on failure.
 * The gratuitous ARP sent at start is discarded. */
struct tb *tb_new(const struct ustack_config *cfg);
void tb_free(struct tb *tb);

/* Feed a frame at the current time. */
void tb_inject(struct tb *tb, const void *frame, size_t len);
/* Move time forward by us and fire timers at every deadline on the way. */
void tb_advance(struct tb *tb, ustack_time_t us);
/* Next frame the stack sent (caller frees with free()), or NULL. */
struct tb_frame *tb_pop(struct tb *tb);
/* Drop every captured frame; returns how many there were. */
unsigned tb_drain(struct tb *tb);
/* Make the device refuse transmits (-ENOBUFS) while set. */
void tb_set_tx_fail(struct tb *tb, int fail);

/* Pre-load the ARP cache by injecting a reply from the peer... by injecting
 * an ARP request from ip/mac for our address (which teaches the cache) and
 * discarding our reply. */
void tb_learn_peer(struct tb *tb, uint32_t ip, const uint8_t mac[6]);

/* Socket helpers the suites share. tb_sin: an AF_INET address from a
 * host-order address and port. tb_get_int: an int option, which must
 * succeed with an int's length (asserted). tb_set_int: set one, the
 * result as ustack_setsockopt gives it. */
struct sockaddr_in tb_sin(uint32_t addr, uint16_t port);
int tb_get_int(struct tb *tb, int sd, int level, int name);
int tb_set_int(struct tb *tb, int sd, int level, int name, int v);

#endif
