/*
 * tcp.h - TCP header and options (RFC 9293 3.1, RFC 7323, RFC 2018).
 *
 *   offset size  field
 *    0      2    source port
 *    2      2    destination port
 *    4      4    sequence number
 *    8      4    acknowledgment number
 *   12      1    data offset (4 bits, header length in 32-bit words, >= 5)
 *                | reserved (4 bits)
 *   13      1    flags: CWR ECE URG ACK PSH RST SYN FIN
 *   14      2    window
 *   16      2    checksum (pseudo header + header + data)
 *   18      2    urgent pointer
 *   20    0-40   options
 *
 * Options (kind, length, value):
 *   0 end of list; 1 no-op;
 *   2 MSS (len 4: 16-bit MSS, SYN only, RFC 9293 3.7.1);
 *   3 window scale (len 3: shift 0..14, SYN only, RFC 7323 2);
 *   4 SACK permitted (len 2, SYN only, RFC 2018);
 *   5 SACK (len 2+8n: n blocks of left/right edge, RFC 2018 3);
 *   8 timestamps (len 10: TSval, TSecr, RFC 7323 3).
 */
#ifndef USTACK_WIRE_TCP_H
#define USTACK_WIRE_TCP_H

#include <stdint.h>

#include "wire/bytes.h"

#define TCP_HDR_LEN 20
#define TCP_HDR_MAX 60
#define TCP_OFF_SPORT 0
#define TCP_OFF_DPORT 2
#define TCP_OFF_SEQ 4
#define TCP_OFF_ACK 8
#define TCP_OFF_DOFF 12
#define TCP_OFF_FLAGS 13
#define TCP_OFF_WIN 14
#define TCP_OFF_CSUM 16
#define TCP_OFF_URP 18

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
#define TCP_OPT_WSCALE 3
#define TCP_OPT_SACK_PERM 4
#define TCP_OPT_SACK 5
#define TCP_OPT_TIMESTAMP 8

#define TCP_OPTLEN_MSS 4
#define TCP_OPTLEN_WSCALE 3
#define TCP_OPTLEN_SACK_PERM 2
#define TCP_OPTLEN_TIMESTAMP 10
#define TCP_MAX_WSCALE 14      /* RFC 7323 2.3 */
#define TCP_MAX_SACK_BLOCKS 4

static inline uint16_t tcp_sport(const uint8_t *h) { return be16_load(h + TCP_OFF_SPORT); }
static inline uint16_t tcp_dport(const uint8_t *h) { return be16_load(h + TCP_OFF_DPORT); }
static inline uint32_t tcp_seq(const uint8_t *h) { return be32_load(h + TCP_OFF_SEQ); }
static inline uint32_t tcp_ack(const uint8_t *h) { return be32_load(h + TCP_OFF_ACK); }
static inline unsigned tcp_hlen(const uint8_t *h) { return (h[TCP_OFF_DOFF] >> 4) * 4u; }
static inline uint8_t tcp_flags(const uint8_t *h) { return h[TCP_OFF_FLAGS]; }
static inline uint16_t tcp_win(const uint8_t *h) { return be16_load(h + TCP_OFF_WIN); }
static inline uint16_t tcp_urp(const uint8_t *h) { return be16_load(h + TCP_OFF_URP); }

/* Sequence space comparisons (RFC 9293 3.4): modulo 2^32, never with < on
 * raw values. */
static inline int seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline int seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline int seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
static inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }
/* a <= x < b */
static inline int seq_in(uint32_t x, uint32_t a, uint32_t b) { return seq_leq(a, x) && seq_lt(x, b); }

#endif
