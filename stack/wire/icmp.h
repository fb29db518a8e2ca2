/*
 * icmp.h - ICMP messages (RFC 792).
 *
 * Echo and echo reply:
 *   offset size  field
 *    0      1    type (8 echo, 0 echo reply)
 *    1      1    code (0)
 *    2      2    checksum (over the whole ICMP message)
 *    4      2    identifier
 *    6      2    sequence number
 *    8           data
 *
 * Errors (3 destination unreachable, 11 time exceeded, 12 parameter
 * problem, 4 source quench):
 *    0      1    type
 *    1      1    code
 *    2      2    checksum
 *    4      4    unused (3/4: next-hop MTU in bytes 6..7, RFC 1191;
 *                12: pointer in byte 4)
 *    8           the offending IP header + at least 8 bytes of its data
 */
#ifndef USTACK_WIRE_ICMP_H
#define USTACK_WIRE_ICMP_H

#include <stdint.h>

#include "wire/bytes.h"

#define ICMP_HDR_LEN 8
#define ICMP_OFF_TYPE 0
#define ICMP_OFF_CODE 1
#define ICMP_OFF_CSUM 2
#define ICMP_OFF_ID 4
#define ICMP_OFF_SEQ 6
#define ICMP_OFF_MTU 6

#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_REDIRECT 5
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12

/* Destination unreachable codes. */
#define ICMP_NET_UNREACH 0
#define ICMP_HOST_UNREACH 1
#define ICMP_PROTO_UNREACH 2
#define ICMP_PORT_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMP_SR_FAILED 5
#define ICMP_NET_UNKNOWN 6
#define ICMP_HOST_UNKNOWN 7
#define ICMP_NET_PROHIB 9
#define ICMP_HOST_PROHIB 10
#define ICMP_ADMIN_PROHIB 13

static inline uint8_t icmp_type(const uint8_t *h) { return h[ICMP_OFF_TYPE]; }
static inline uint8_t icmp_code(const uint8_t *h) { return h[ICMP_OFF_CODE]; }
static inline uint16_t icmp_id(const uint8_t *h) { return be16_load(h + ICMP_OFF_ID); }
static inline uint16_t icmp_seq(const uint8_t *h) { return be16_load(h + ICMP_OFF_SEQ); }

#endif
