/*
 * udp_state.h - the UDP module's state (bound sockets by port), embedded
 * in struct ustack. Its interface is udp.h; only core/stack.h includes
 * this.
 */
#ifndef USTACK_PROTO_UDP_STATE_H
#define USTACK_PROTO_UDP_STATE_H

#include <stdint.h>

struct sock;

struct udp_state {
	struct sock **hash;      /* bound sockets by local port */
	uint32_t hash_size;
};

#endif
