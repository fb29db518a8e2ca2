/*
 * config.c - struct ustack_config by name: one table of its numeric fields
 * for everything that sets them as text (the programs' --set NAME=VALUE,
 * replay cases' `set`, conformance scripts' `set`), so a new field is
 * named in one place.
 *
 * May touch: only the configuration it is handed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <ustack/ustack.h>

enum cfg_kind { K_U8, K_U16, K_U32, K_U64, K_INT };

#define F(f, k) {#f, offsetof(struct ustack_config, f), k}
static const struct {
	const char *name;
	size_t off;
	enum cfg_kind kind;
} fields[] = {
	F(prefix_len, K_U8), F(mtu, K_U16), F(seed, K_U64),
	F(log_level, K_INT), F(trace_tcp, K_INT),
	F(max_sockets, K_U32), F(pkb_max_bytes, K_U32),
	F(arp_cache_size, K_U32), F(arp_pending_max, K_U32),
	F(arp_pending_bytes, K_U32), F(reasm_max_bytes, K_U32),
	F(reasm_max_datagrams, K_U32), F(reasm_max_size, K_U32),
	F(udp_rcvbuf, K_U32), F(udp_sndbuf, K_U32),
	F(arp_reachable_us, K_U64), F(arp_stale_us, K_U64),
	F(arp_retry_us, K_U64), F(arp_retries, K_U32),
	F(arp_failed_us, K_U64), F(reasm_timeout_us, K_U64),
	F(icmp_rate_per_sec, K_U32), F(icmp_rate_burst, K_U32),
	F(icmp_dst_interval_us, K_U64), F(icmp_dst_burst, K_U32),
	F(tcp_max_conns, K_U32), F(tcp_max_orphans, K_U32),
	F(tcp_syn_backlog, K_U32), F(tcp_sndbuf, K_U32),
	F(tcp_rcvbuf, K_U32), F(tcp_ooo_max_bytes, K_U32),
	F(tcp_msl_us, K_U64), F(tcp_rto_initial_us, K_U64),
	F(tcp_rto_min_us, K_U64), F(tcp_rto_max_us, K_U64),
	F(tcp_syn_retries, K_U32), F(tcp_synack_retries, K_U32),
	F(tcp_retries2, K_U32), F(tcp_delack_us, K_U64),
	F(tcp_fin_wait2_us, K_U64), F(tcp_keepidle_us, K_U64),
	F(tcp_keepintvl_us, K_U64), F(tcp_keepcnt, K_U32),
	F(tcp_challenge_ack_limit, K_U32), F(tcp_sack, K_INT),
	F(tcp_timestamps, K_INT), F(tcp_wscale, K_INT),
	F(tcp_syncookies, K_INT), F(tcp_initial_window_segments, K_U32),
	F(tcp_congestion, K_INT),
};
#undef F

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

const char *ustack_config_field(unsigned i)
{
	return i < NFIELDS ? fields[i].name : NULL;
}

int ustack_config_set(struct ustack_config *cfg, const char *name,
		      uint64_t value)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		unsigned char *p = (unsigned char *)cfg + fields[i].off;

		if (strcmp(name, fields[i].name) != 0)
			continue;
		switch (fields[i].kind) {
		case K_U8: {
			uint8_t v = (uint8_t)value;

			if (value > UINT8_MAX)
				return -ERANGE;
			memcpy(p, &v, sizeof(v));
			return 0;
		}
		case K_U16: {
			uint16_t v = (uint16_t)value;

			if (value > UINT16_MAX)
				return -ERANGE;
			memcpy(p, &v, sizeof(v));
			return 0;
		}
		case K_U32: {
			uint32_t v = (uint32_t)value;

			if (value > UINT32_MAX)
				return -ERANGE;
			memcpy(p, &v, sizeof(v));
			return 0;
		}
		case K_U64:
			memcpy(p, &value, sizeof(value));
			return 0;
		case K_INT: {
			int v = (int)value;

			if (value > INT32_MAX)
				return -ERANGE;
			memcpy(p, &v, sizeof(v));
			return 0;
		}
		}
	}
	return -ENOENT;
}
