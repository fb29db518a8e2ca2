/*
 * ports.c - ephemeral port selection (RFC 6056) for every protocol that
 * needs a local port (UDP, TCP, ICMP echo identifiers).
 *
 * With a destination: RFC 6056 3.3.4 algorithm 4 ("double-hash port
 * selection"). F() and G() are SipHash under the stack's hash key
 * (rand_hash), so the port sequence towards one destination is unguessable
 * from outside and says nothing about the ports used towards another; the
 * per-bucket counters (table[] in the RFC) make consecutive connections to
 * the same destination take different ports. Without a destination (bind
 * to port 0, unconnected sendto) there is nothing to hash: RFC 6056 3.3.1
 * algorithm 1, a random starting point. Both then walk the range linearly
 * until the protocol's in_use() accepts a port, so a port is never handed
 * out twice while it is in use, and a full range answers -EADDRNOTAVAIL.
 *
 * All randomness is st->rand, so runs with a fixed seed are reproducible.
 * May touch: st->socks.port_perturb, st->rand. Cost: one or two SipHash
 * calls plus one in_use() call per candidate (O(range) only when the range
 * is nearly full).
 */
#include <errno.h>

#include "core/stack.h"
#include "sock/sock.h"
#include "wire/bytes.h"

#define EPHEMERAL_COUNT (SOCK_EPHEMERAL_HIGH - SOCK_EPHEMERAL_LOW + 1u)

/* The hash input: a tag ('F' or 'G') then protocol, addresses, port. */
static uint64_t port_hash(const struct ustack *st, uint8_t tag, int protocol,
			  uint32_t laddr, uint32_t raddr, uint16_t rport)
{
	uint8_t in[12];

	in[0] = tag;
	in[1] = (uint8_t)protocol;
	be32_store(in + 2, laddr);
	be32_store(in + 6, raddr);
	be16_store(in + 10, rport);
	return rand_hash(&st->rand, in, sizeof(in));
}

void sock_ports_init(struct ustack *st)
{
	/* RFC 6056 3.3.4: table[] starts at random values. */
	for (unsigned i = 0; i < SOCK_PORT_TABLE; i++)
		st->socks.port_perturb[i] = (uint16_t)rand_u32(&st->rand);
}

int sock_ephemeral_port(struct ustack *st, int protocol, uint32_t laddr,
			uint32_t raddr, uint16_t rport,
			int (*in_use)(struct ustack *st, uint16_t port,
				      void *ctx),
			void *ctx, uint16_t *port)
{
	uint16_t *counter = NULL;
	uint32_t start;

	if (raddr) {
		/* RFC 6056 3.3.4: offset = F(laddr, raddr, rport, key1),
		 * index = G(laddr, raddr, rport, key2). */
		uint64_t f = port_hash(st, 'F', protocol, laddr, raddr, rport);
		uint64_t g = port_hash(st, 'G', protocol, laddr, raddr, rport);

		counter = &st->socks.port_perturb[g % SOCK_PORT_TABLE];
		start = (uint32_t)((f + *counter) % EPHEMERAL_COUNT);
	} else {
		/* RFC 6056 3.3.1: a random starting point. */
		start = rand_below(&st->rand, EPHEMERAL_COUNT);
	}
	for (uint32_t i = 0; i < EPHEMERAL_COUNT; i++) {
		uint16_t p = (uint16_t)(SOCK_EPHEMERAL_LOW +
					(start + i) % EPHEMERAL_COUNT);

		if (in_use && in_use(st, p, ctx))
			continue;
		/* RFC 6056 3.3.4: table[index]++ for every candidate tried. */
		if (counter)
			*counter = (uint16_t)(*counter + i + 1);
		*port = p;
		return 0;
	}
	return -EADDRNOTAVAIL;
}
