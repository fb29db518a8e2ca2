/*
 * stats.h - the stack's counters, one per event and one per drop reason.
 *
 * A bad frame is not an error, it is a counted drop: every place that drops
 * a frame increments exactly one *_DROP_* (or *_BAD_*) counter naming why.
 * The list is an X-macro so that the enum and the names (ustack_stat_name(),
 * netstat-like dumps) can never disagree. Names are lower case, module
 * first: "ip4.drop_bad_checksum".
 *
 * Each module owns its section; add new counters at the end of a section.
 */
#ifndef USTACK_STATS_H
#define USTACK_STATS_H

#define USTACK_STATS_LINK(X)                                                   \
	X(ETH_RX, "eth.rx")                   /* frames received */            \
	X(ETH_TX, "eth.tx")                   /* frames handed to the device */\
	X(ETH_RX_BYTES, "eth.rx_bytes")                                        \
	X(ETH_TX_BYTES, "eth.tx_bytes")                                        \
	X(ETH_DROP_SHORT, "eth.drop_short")   /* shorter than a header */      \
	X(ETH_DROP_NOT_US, "eth.drop_not_us") /* dst not ours/broadcast */     \
	X(ETH_DROP_IPV6, "eth.drop_ipv6")     /* IPv6: not supported */        \
	X(ETH_DROP_VLAN, "eth.drop_vlan")     /* 802.1Q tagged */              \
	X(ETH_DROP_OTHER_TYPE, "eth.drop_other_type") /* other ethertypes */   \
	X(ETH_DROP_TOO_BIG, "eth.drop_too_big") /* longer than a buffer */     \
	X(ETH_TX_ERRORS, "eth.tx_errors")     /* device refused a frame */     \
	X(PKB_EXHAUSTED, "pkb.exhausted")     /* no packet buffer free */      \
	X(ETH_TX_GSO, "eth.tx_gso")           /* TSO super-frames handed down */\
	X(ETH_TX_SW_GSO, "eth.tx_sw_gso")     /* ... cut up in software */     \
	X(ETH_TX_GATHER, "eth.tx_gather")     /* sent in pieces, no copy */    \
	X(ETH_RX_GRO, "eth.rx_gro")           /* received longer than the MTU */\
	X(ETH_RX_GRO_MERGED, "eth.rx_gro_merged") /* merged into the frame before */\
	X(ETH_RX_CSUM_OFFLOAD, "eth.rx_csum_offload") /* checksum vouched for */\
	X(ETH_DROP_BAD_META, "eth.drop_bad_meta") /* offload metadata unusable */

#define USTACK_STATS_ARP(X)                                                    \
	X(ARP_RX, "arp.rx")                                                    \
	X(ARP_RX_REQUEST, "arp.rx_request")                                    \
	X(ARP_RX_REPLY, "arp.rx_reply")                                        \
	X(ARP_TX_REQUEST, "arp.tx_request")                                    \
	X(ARP_TX_REPLY, "arp.tx_reply")                                        \
	X(ARP_TX_GRATUITOUS, "arp.tx_gratuitous")                              \
	X(ARP_DROP_BAD, "arp.drop_bad")         /* malformed / not Eth+IPv4 */ \
	X(ARP_DROP_NOT_US, "arp.drop_not_us")   /* request for another host */ \
	X(ARP_DROP_UNSOLICITED, "arp.drop_unsolicited") /* reply not asked */  \
	X(ARP_DROP_BAD_SENDER, "arp.drop_bad_sender") /* bcast/mcast/zero */   \
	X(ARP_ADDR_CONFLICT, "arp.addr_conflict") /* someone claims our IP */  \
	X(ARP_RESOLVE_FAILED, "arp.resolve_failed") /* gave up on an entry */  \
	X(ARP_DROP_PENDING_FULL, "arp.drop_pending_full")                      \
	X(ARP_DROP_UNRESOLVED, "arp.drop_unresolved") /* queued, then failed */\
	X(ARP_DROP_CACHE_FULL, "arp.drop_cache_full")                          \
	X(ARP_DROP_FAILED, "arp.drop_failed")   /* to a recently failed host */

#define USTACK_STATS_IP4(X)                                                    \
	X(IP4_RX, "ip4.rx")                                                    \
	X(IP4_TX, "ip4.tx")                                                    \
	X(IP4_RX_DELIVERED, "ip4.rx_delivered")                                \
	X(IP4_DROP_SHORT, "ip4.drop_short")          /* truncated header */    \
	X(IP4_DROP_BAD_VERSION, "ip4.drop_bad_version")                        \
	X(IP4_DROP_BAD_IHL, "ip4.drop_bad_ihl")                                \
	X(IP4_DROP_BAD_LENGTH, "ip4.drop_bad_length") /* total length */       \
	X(IP4_DROP_BAD_CHECKSUM, "ip4.drop_bad_checksum")                      \
	X(IP4_DROP_BAD_SRC, "ip4.drop_bad_src")      /* martian source */      \
	X(IP4_DROP_BAD_OPTIONS, "ip4.drop_bad_options")                        \
	X(IP4_DROP_TTL, "ip4.drop_ttl")              /* TTL 0 */               \
	X(IP4_DROP_NOT_US, "ip4.drop_not_us")        /* not our address */     \
	X(IP4_DROP_UNKNOWN_PROTO, "ip4.drop_unknown_proto")                    \
	X(IP4_DROP_NO_ROUTE, "ip4.drop_no_route")    /* on send */             \
	X(IP4_DROP_DF, "ip4.drop_df")                /* needs frag, DF set */  \
	X(IP4_FRAG_TX, "ip4.frag_tx")                /* fragments sent */      \
	X(IP4_FRAG_RX, "ip4.frag_rx")                /* fragments received */  \
	X(IP4_REASM_OK, "ip4.reasm_ok")                                        \
	X(IP4_REASM_DROP_OVERLAP, "ip4.reasm_drop_overlap")                    \
	X(IP4_REASM_DROP_TIMEOUT, "ip4.reasm_drop_timeout")                    \
	X(IP4_REASM_DROP_MEMORY, "ip4.reasm_drop_memory") /* bound hit */      \
	X(IP4_REASM_DROP_TOO_BIG, "ip4.reasm_drop_too_big")                    \
	X(IP4_REASM_DROP_BAD, "ip4.reasm_drop_bad")  /* bad frag fields */   \
	X(IP4_REASM_DUP, "ip4.reasm_dup")          /* exact duplicate frag */ \
	X(IP4_DROP_TOO_BIG, "ip4.drop_too_big")    /* send > 65535 bytes */   \
	X(IP4_DROP_LOOP_FULL, "ip4.drop_loop_full") /* loopback queue full */ \
	X(IP4_RX_LOOP, "ip4.rx_loop")              /* looped back to us */

#define USTACK_STATS_ICMP(X)                                                   \
	X(ICMP_RX, "icmp.rx")                                                  \
	X(ICMP_TX, "icmp.tx")                                                  \
	X(ICMP_RX_ECHO, "icmp.rx_echo")                                        \
	X(ICMP_TX_ECHO_REPLY, "icmp.tx_echo_reply")                            \
	X(ICMP_RX_ECHO_REPLY, "icmp.rx_echo_reply")                            \
	X(ICMP_RX_DEST_UNREACH, "icmp.rx_dest_unreach")                        \
	X(ICMP_RX_TIME_EXCEEDED, "icmp.rx_time_exceeded")                      \
	X(ICMP_TX_DEST_UNREACH, "icmp.tx_dest_unreach")                        \
	X(ICMP_RATE_LIMITED, "icmp.rate_limited")     /* errors not sent */    \
	X(ICMP_DROP_SHORT, "icmp.drop_short")                                  \
	X(ICMP_DROP_BAD_CHECKSUM, "icmp.drop_bad_checksum")                    \
	X(ICMP_DROP_BAD_TYPE, "icmp.drop_bad_type")   /* unhandled type */     \
	X(ICMP_DROP_BCAST_ECHO, "icmp.drop_bcast_echo") /* RFC 1122 3.2.2.6 */ \
	X(ICMP_ERR_DELIVERED, "icmp.err_delivered")   /* to UDP/TCP/echo */    \
	X(ICMP_ERR_NO_SOCKET, "icmp.err_no_socket")                            \
	X(ICMP_TX_TIME_EXCEEDED, "icmp.tx_time_exceeded")                      \
	X(ICMP_TX_ECHO, "icmp.tx_echo")               /* from echo sockets */  \
	X(ICMP_RX_PARAM_PROBLEM, "icmp.rx_param_problem")                      \
	X(ICMP_DROP_BAD_QUOTE, "icmp.drop_bad_quote") /* error's IP header */  \
	X(ICMP_DROP_NO_SOCKET, "icmp.drop_no_socket") /* echo reply unmatched */\
	X(ICMP_DROP_RCVBUF, "icmp.drop_rcvbuf")       /* echo socket full */

#define USTACK_STATS_UDP(X)                                                    \
	X(UDP_RX, "udp.rx")                                                    \
	X(UDP_TX, "udp.tx")                                                    \
	X(UDP_DROP_SHORT, "udp.drop_short")                                    \
	X(UDP_DROP_BAD_LENGTH, "udp.drop_bad_length")                          \
	X(UDP_DROP_BAD_CHECKSUM, "udp.drop_bad_checksum")                      \
	X(UDP_DROP_NO_PORT, "udp.drop_no_port")       /* port unreachable */   \
	X(UDP_DROP_RCVBUF, "udp.drop_rcvbuf")         /* receive queue full */ \
	X(UDP_ICMP_ERR, "udp.icmp_err")     /* ICMP error -> connected socket */ \
	X(UDP_ICMP_ERR_IGNORED, "udp.icmp_err_ignored") /* no connected socket */

#define USTACK_STATS_TCP(X)                                                    \
	X(TCP_RX, "tcp.rx")                          /* segments received */   \
	X(TCP_TX, "tcp.tx")                          /* segments sent */       \
	X(TCP_ACTIVE_OPENS, "tcp.active_opens")                                \
	X(TCP_PASSIVE_OPENS, "tcp.passive_opens")                              \
	X(TCP_ATTEMPT_FAILS, "tcp.attempt_fails")                              \
	X(TCP_ESTAB_RESETS, "tcp.estab_resets")                                \
	X(TCP_CURR_ESTAB, "tcp.curr_estab")          /* gauge */               \
	X(TCP_RETRANS_SEGS, "tcp.retrans_segs")                                \
	X(TCP_FAST_RETRANS, "tcp.fast_retrans")                                \
	X(TCP_TIMEOUTS, "tcp.timeouts")              /* RTO expirations */     \
	X(TCP_RST_TX, "tcp.rst_tx")                                            \
	X(TCP_RST_RX, "tcp.rst_rx")                                            \
	X(TCP_CHALLENGE_ACKS, "tcp.challenge_acks")                            \
	X(TCP_CHALLENGE_ACK_LIMITED, "tcp.challenge_ack_limited")              \
	X(TCP_SYNCOOKIES_SENT, "tcp.syncookies_sent")                          \
	X(TCP_SYNCOOKIES_OK, "tcp.syncookies_ok")                              \
	X(TCP_SYNCOOKIES_FAILED, "tcp.syncookies_failed")                      \
	X(TCP_LISTEN_OVERFLOW, "tcp.listen_overflow")                          \
	X(TCP_KEEPALIVE_PROBES, "tcp.keepalive_probes")                        \
	X(TCP_ZERO_WINDOW_PROBES, "tcp.zero_window_probes")                    \
	X(TCP_DELAYED_ACKS, "tcp.delayed_acks")                                \
	X(TCP_OOO_SEGS, "tcp.ooo_segs")              /* queued out of order */ \
	X(TCP_SACK_RECOVERY, "tcp.sack_recovery")                              \
	X(TCP_TIME_WAIT_REUSED, "tcp.time_wait_reused")                        \
	X(TCP_DROP_SHORT, "tcp.drop_short")                                    \
	X(TCP_DROP_BAD_CHECKSUM, "tcp.drop_bad_checksum")                      \
	X(TCP_DROP_BAD_OFFSET, "tcp.drop_bad_offset")                          \
	X(TCP_DROP_BAD_FLAGS, "tcp.drop_bad_flags")                            \
	X(TCP_DROP_BAD_ADDR, "tcp.drop_bad_addr")    /* bcast/mcast */         \
	X(TCP_DROP_NO_CONN, "tcp.drop_no_conn")      /* answered with RST */   \
	X(TCP_DROP_OUT_OF_WINDOW, "tcp.drop_out_of_window")                    \
	X(TCP_DROP_PAWS, "tcp.drop_paws")                                      \
	X(TCP_DROP_BAD_ACK, "tcp.drop_bad_ack")                                \
	X(TCP_DROP_OOO_FULL, "tcp.drop_ooo_full")                              \
	X(TCP_DROP_NO_MEM, "tcp.drop_no_mem")                                  \
	X(TCP_DROP_SYN_QUEUE_FULL, "tcp.drop_syn_queue_full")                  \
	X(TCP_DROP_CONNS_FULL, "tcp.drop_conns_full")                          \
	X(TCP_DROP_BAD_OPTIONS, "tcp.drop_bad_options") /* illegal length */   \
	X(TCP_DROP_NO_TS, "tcp.drop_no_ts")  /* RFC 7323 3.2: TSopt missing */ \
	X(TCP_DROP_NO_ACK, "tcp.drop_no_ack") /* synchronized, ACK bit off */  \
	X(TCP_DROP_STATE, "tcp.drop_state")  /* not for this state, ignored */ \
	X(TCP_RST_IGNORED_TW, "tcp.rst_ignored_time_wait") /* RFC 1337 */      \
	X(TCP_ABORT_ON_DATA, "tcp.abort_on_data") /* data after close() */     \
	X(TCP_ABORT_ON_CLOSE, "tcp.abort_on_close") /* unread data, linger 0 */\
	X(TCP_ABORT_ON_TIMEOUT, "tcp.abort_on_timeout") /* retries, keepalive */\
	X(TCP_PMTU_UPDATES, "tcp.pmtu_updates")   /* MSS lowered by ICMP */    \
	X(TCP_DSACK_TX, "tcp.dsack_tx")      /* RFC 2883 duplicates reported */\
	X(TCP_DSACK_RX, "tcp.dsack_rx")      /* D-SACK blocks received */      \
	X(TCP_UNDO, "tcp.undo")          /* spurious reductions undone */   \
	X(TCP_TLP_PROBES, "tcp.tlp_probes")  /* RFC 8985 tail loss probes */    \
	X(TCP_TLP_RECOVERY, "tcp.tlp_recovery") /* losses the probe found */ \
	X(TCP_LOST_RETRANS, "tcp.lost_retrans") /* retransmissions lost again */\
	X(TCP_ORPHANS_OVERFLOW, "tcp.orphans_overflow") /* oldest orphan   \
					reset: over tcp_max_orphans */         \
	X(TCP_ORPHANS_RECLAIMED, "tcp.orphans_reclaimed") /* oldest orphan \
					reset: table full, no TIME_WAIT */

#define USTACK_STATS_FILTER(X)                                                 \
	X(FILTER_ALLOW, "filter.allow")       /* matched an allow rule */      \
	X(FILTER_DROP, "filter.drop")         /* dropped by a drop rule */     \
	X(FILTER_REJECT, "filter.reject")     /* dropped, reply attempted */   \
	X(FILTER_REJECT_LIMITED, "filter.reject_limited") /* RST not sent */

#define USTACK_STATS(X)                                                        \
	USTACK_STATS_LINK(X)                                                   \
	USTACK_STATS_ARP(X)                                                    \
	USTACK_STATS_IP4(X)                                                    \
	USTACK_STATS_ICMP(X)                                                   \
	USTACK_STATS_UDP(X)                                                    \
	USTACK_STATS_TCP(X)                                                    \
	USTACK_STATS_FILTER(X)

enum ustack_stat_id {
#define USTACK_STAT_ENUM_(id, name) USTACK_STAT_##id,
	USTACK_STATS(USTACK_STAT_ENUM_)
#undef USTACK_STAT_ENUM_
	USTACK_STAT__COUNT
};

#endif
