/*
 * udp.h - UDP header (RFC 768).
 *
 *   offset size  field
 *    0      2    source port
 *    2      2    destination port
 *    4      2    length (header + data, >= 8)
 *    6      2    checksum (pseudo header + header + data; 0 = none sent;
 *                a computed 0 is sent as 0xffff)
 */
#ifndef USTACK_WIRE_UDP_H
#define USTACK_WIRE_UDP_H

#include <stdint.h>

#include "wire/bytes.h"

#define UDP_HDR_LEN 8
#define UDP_OFF_SPORT 0
#define UDP_OFF_DPORT 2
#define UDP_OFF_LEN 4
#define UDP_OFF_CSUM 6

static inline uint16_t udp_sport(const uint8_t *h) { return be16_load(h + UDP_OFF_SPORT); }
static inline uint16_t udp_dport(const uint8_t *h) { return be16_load(h + UDP_OFF_DPORT); }
static inline uint16_t udp_len(const uint8_t *h) { return be16_load(h + UDP_OFF_LEN); }
static inline uint16_t udp_csum(const uint8_t *h) { return be16_load(h + UDP_OFF_CSUM); }

#endif
