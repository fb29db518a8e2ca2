/*
 * sock_state.h - the socket layer's state (the descriptor table, the
 * ephemeral-port perturbation table), embedded in struct ustack. Its
 * interface is sock.h; only core/stack.h includes this.
 */
#ifndef USTACK_SOCK_SOCK_STATE_H
#define USTACK_SOCK_SOCK_STATE_H

#include <stdint.h>

struct sock;

/* RFC 6056 3.3.4 algorithm 4: per-bucket counters (uint16_t each). */
#define SOCK_PORT_TABLE 1024

struct sock_table {
	struct sock **tab;           /* cfg.max_sockets slots */
	uint32_t size;
	uint32_t count;
	uint32_t gen;
	uint32_t low_free;           /* no free slot below this index */
	uint16_t port_perturb[SOCK_PORT_TABLE]; /* RFC 6056 table[] */
};

#endif
