/*
 * hello.c - ustack-hello: the smallest complete program on ustack, to read
 * before the others. It opens a TAP device, creates a stack on it, and
 * serves one TCP port with blocking calls on the event-loop runtime: each
 * client gets a greeting, then everything it sends comes back upper-cased
 * until it closes. Only the public API is used (no apps/lib helpers).
 *
 *   sudo ip netns add demo
 *   sudo ip netns exec demo build/bin/ustack-hello        # tap0, 10.0.0.2
 *   sudo ip netns exec demo nc 10.0.0.2 7777              # in another shell
 *
 * One client at a time, on purpose: ustack-inetd shows many connections on
 * one event loop, as ustack-httpd does.
 *
 * May touch: its stack through the public API, one listening socket, stdout
 * and stderr.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/dev.h>
#include <ustack/runtime.h>
#include <ustack/socket.h>
#include <ustack/ustack.h>

#define PORT 7777

static void serve(struct ustack *st, int sd)
{
	static const char hello[] = "hello from ustack; say something\n";
	char buf[2048];
	ssize_t n;

	ustack_send(st, sd, hello, sizeof(hello) - 1, 0);
	while ((n = ustack_recv(st, sd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			buf[i] = (char)toupper((unsigned char)buf[i]);
		if (ustack_send(st, sd, buf, (size_t)n, 0) < 0)
			break;
	}
	ustack_close(st, sd);
}

int main(int argc, char **argv)
{
	struct ustack_tap_config tap = {.name = argc > 1 ? argv[1] : "tap0",
					.bring_up = 1};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	struct ustack_config cfg;
	struct ustack_dev *dev;
	struct ustack *st;
	char err[256];
	int ls, sd, rc;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: ustack-hello [TAP-DEVICE]\n");
		return 2;
	}
	/* The kernel's side of the TAP device: 10.0.0.1/24. */
	ustack_parse_ip4("10.0.0.1", &tap.host_addr);
	tap.host_prefix_len = 24;
	if ((rc = ustack_tap_open(&dev, &tap, NULL, err, sizeof(err))) < 0) {
		fprintf(stderr, "ustack-hello: %s\n", err);
		return 1;
	}
	/* Our side: the defaults are 10.0.0.2/24, MAC 02:00:00:00:00:02. */
	ustack_config_default(&cfg);
	if ((rc = ustack_create(&st, &cfg, dev, ustack_clock_monotonic(NULL))) < 0 ||
	    (rc = ustack_loop_attach(st, NULL, NULL)) < 0) {
		fprintf(stderr, "ustack-hello: %s\n", ustack_strerror(rc));
		return 1;
	}
	/* From here on it is BSD sockets with a stack argument. Blocking
	 * calls run the stack (device, timers) while they wait. */
	if ((ls = ustack_socket(st, AF_INET, SOCK_STREAM, 0)) < 0 ||
	    (rc = ustack_bind(st, ls, (struct sockaddr *)&a, sizeof(a))) < 0 ||
	    (rc = ustack_listen(st, ls, 8)) < 0) {
		fprintf(stderr, "ustack-hello: %s\n",
			ustack_strerror(ls < 0 ? ls : rc));
		return 1;
	}
	printf("ustack-hello: listening on 10.0.0.2:%d (Ctrl-C to stop)\n", PORT);
	fflush(stdout);
	while ((sd = ustack_accept(st, ls, NULL, NULL)) >= 0)
		serve(st, sd);
	fprintf(stderr, "ustack-hello: accept: %s\n", ustack_strerror(sd));
	ustack_destroy(st);
	ustack_dev_close(dev);
	return 1;
}
