/*
 * tcpscript.h - black-box TCP conformance scripts, packetdrill style.
 *
 * A script plays the remote peer with raw segments at virtual times and
 * drives the stack's public socket API (non-blocking, no runtime) as the
 * local application. Every segment the stack sends must be matched by a
 * `>` line (anything unexpected fails), and every one is also checked
 * against RFC invariants (MSS, peer window, timestamps, option rules,
 * window never shrinking, data equal to what the application wrote). The
 * language is described in docs/testing.md ("TCP conformance scripts");
 * the scripts live in tests/tcp/ (*.pkt) and run from check_tcp_conform.
 *
 *   # RFC 9293 3.10.7.2: a SYN to a listener gets a SYN-ACK
 *   0    socket() = l
 *   +0   bind(l, 8080) = 0
 *   +0   listen(l, 1) = 0
 *   +0   < S 0:0(0) win 65535 <mss 1460>
 *   +0   > S. 0:0(0) ack 1 <mss 1460>
 *   +.1  < . 1:1(0) ack 1 win 65535
 *   +0   accept(l) = c
 *
 * Uses tests/lib/testbed.h: one stack on a capture device, the peer is
 * 10.0.0.1. The stack is destroyed at the end, which asserts that every
 * packet buffer came back.
 */
#ifndef USTACK_TESTS_TCPSCRIPT_H
#define USTACK_TESTS_TCPSCRIPT_H

#include <stddef.h>

/*
 * Run a script; name is used in messages. Returns 0 on success, -1 with a
 * readable report (file:line, expected vs got, decoded) in err.
 * Environment: TCPSCRIPT_VERBOSE=1 prints every line and segment.
 */
int tcpscript_run(const char *name, const char *text, char *err,
		  size_t errlen);
int tcpscript_run_file(const char *path, char *err, size_t errlen);

#endif
