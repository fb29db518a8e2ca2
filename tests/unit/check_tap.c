/*
 * check_tap.c - the TAP driver against the real kernel.
 *
 * Name checks run anywhere. Everything that creates a device runs as root in
 * a forked child that first moves into a fresh network namespace
 * (unshare(CLONE_NEWNET)): the devices, addresses and traffic exist only
 * there, and the namespace disappears with the child, cleaning up by
 * itself. Without root or /dev/net/tun those tests are skipped with a
 * message on stderr. The child reports through its exit status (T_ASSERT
 * prints the failed condition); alarm() bounds it in time, and every wait is
 * a bounded poll(2).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ustack/dev.h>

#include "lib/check_main.h"
#include "lib/pkt.h"

#define T_SKIP 77
#define T_ASSERT(c)                                                            \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: failed: %s\n", __FILE__,       \
				__LINE__, #c);                                 \
			_exit(1);                                              \
		}                                                              \
	} while (0)

#define HOST_IP 0x0a000001u  /* 10.0.0.1: the kernel side */
#define STACK_IP 0x0a000002u /* 10.0.0.2: played by the test */
static const uint8_t STACK_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

static int can_make_devices(const char *test)
{
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		fprintf(stderr, "SKIP %s: needs root and /dev/net/tun\n", test);
		return 0;
	}
	return 1;
}

/* Run fn in a child inside a new network namespace; its exit status. */
static int in_netns(int (*fn)(void), unsigned secs)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		alarm(secs);
		if (unshare(CLONE_NEWNET) < 0) {
			fprintf(stderr, "unshare(CLONE_NEWNET): %s\n",
				strerror(errno));
			_exit(T_SKIP);
		}
		_exit(fn());
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void run_in_netns(const char *test, int (*fn)(void))
{
	int r;

	if (!can_make_devices(test))
		return;
	r = in_netns(fn, 20);
	if (r == T_SKIP) {
		fprintf(stderr, "SKIP %s: no network namespaces here\n", test);
		return;
	}
	ck_assert_msg(r == 0, "%s failed in its namespace (status %d)", test, r);
}

/* Make a TAP device with raw ioctls: persistent, optionally owned, with
 * extra flags (IFF_VNET_HDR: what `ip tuntap add ... vnet_hdr` does). */
static void raw_tap_flags(const char *name, int persist, int owner,
			  short flags)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR);

	T_ASSERT(fd >= 0);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | flags);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	T_ASSERT(ioctl(fd, TUNSETIFF, &ifr) == 0);
	if (owner >= 0)
		T_ASSERT(ioctl(fd, TUNSETOWNER, (unsigned long)owner) == 0);
	T_ASSERT(ioctl(fd, TUNSETPERSIST, (unsigned long)persist) == 0);
	close(fd);
}

static void raw_tap(const char *name, int persist, int owner)
{
	raw_tap_flags(name, persist, owner, 0);
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0)
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
		close(fd);
	}
}

START_TEST(test_tap_rejects_bad_names)
{
	static const char *const bad[] = {"", ".", "..", "a/b", "a b", "x:y",
					  "tab\tname", "0123456789abcdef"};
	struct ustack_tap_config cfg;
	struct ustack_dev *d = (struct ustack_dev *)1;
	char err[256];
	unsigned i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.name = bad[i];
		err[0] = 0;
		ck_assert_int_eq(ustack_tap_open(&d, &cfg, NULL, err, sizeof(err)),
				 -EINVAL);
		ck_assert_ptr_null(d);
		ck_assert_msg(strstr(err, "not a valid") || strstr(err, "too long") ||
			      strstr(err, "no TAP device name"), "'%s': %s", bad[i], err);
	}
	cfg.name = NULL;
	ck_assert_int_eq(ustack_tap_open(&d, &cfg, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ustack_tap_open(&d, NULL, NULL, NULL, 0), -EINVAL);
}
END_TEST

/*
 * Where /dev/net/tun is closed to other users (mode 0600 on some hosts), put
 * a world-usable node over it in a private mount namespace, as a stock
 * Debian system has it. Best effort: without it the test stops at EACCES.
 */
static void open_tun_to_all(void)
{
	char node[64];

	snprintf(node, sizeof(node), "/tmp/ustack-tun-%d", (int)getpid());
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mknod(node, S_IFCHR | 0666, makedev(10, 200)) < 0)
		return;
	if (chmod(node, 0666) < 0 ||
	    mount(node, "/dev/net/tun", NULL, MS_BIND, NULL) < 0)
		fprintf(stderr, "could not open /dev/net/tun to all: %s\n",
			strerror(errno));
	unlink(node);
}

/* As an unprivileged user: attach to a device we were given, nothing else. */
static int no_permission_child(void)
{
	struct ustack_tap_config cfg;
	struct ustack_dev *d;
	char err[512] = "";
	int created = -1, r;

	raw_tap("ustk8", 1, 65534);
	open_tun_to_all();
	T_ASSERT(setgid(65534) == 0 && setuid(65534) == 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "ustk9";
	r = ustack_tap_open(&d, &cfg, &created, err, sizeof(err));
	T_ASSERT(r == -EPERM || r == -EACCES);
	T_ASSERT(strstr(err, "CAP_NET_ADMIN") != NULL);
	T_ASSERT(strstr(err, "ip tuntap add dev ustk9 mode tap user") != NULL);
	T_ASSERT(created == 0 && d == NULL);
	if (r == -EACCES) {
		fprintf(stderr, "note: /dev/net/tun closed to others here; "
			"attach as a user not tested\n");
		return 0;
	}
	/* The persistent device owned by us opens without privileges... */
	cfg.name = "ustk8";
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	T_ASSERT(created == 0);
	ustack_dev_close(d);
	/* Asking for what it already has needs nothing... */
	cfg.mtu = 1500;
	cfg.bring_up = 0;
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	ustack_dev_close(d);
	/* ...but changing its host side still needs CAP_NET_ADMIN. */
	cfg.host_addr = HOST_IP;
	cfg.host_prefix_len = 24;
	err[0] = 0;
	r = ustack_tap_open(&d, &cfg, &created, err, sizeof(err));
	T_ASSERT(r == -EPERM || r == -EACCES);
	T_ASSERT(strstr(err, "set host address") && strstr(err, "CAP_NET_ADMIN"));
	return 0;
}

START_TEST(test_tap_no_permission_explains_itself)
{
	run_in_netns("test_tap_no_permission_explains_itself", no_permission_child);
}
END_TEST

/* Wait for a frame from the kernel; 0 on timeout. */
static long tap_wait(struct ustack_dev *d, uint8_t *buf, size_t cap, int ms)
{
	struct pollfd p = {.fd = ustack_dev_fd(d), .events = POLLIN};
	int i;

	for (i = 0; i < ms / 20; i++) {
		long n = ustack_dev_receive(d, buf, cap, 0);

		if (n != 0)
			return n;
		poll(&p, 1, 20);
	}
	return 0;
}

/* Play 10.0.0.2 until a UDP datagram to port 7777 arrives: answer the
 * kernel's ARP request on the way. Returns the frame length. */
static long await_udp(struct ustack_dev *d, uint8_t *buf, size_t cap,
		      uint8_t kmac[6])
{
	int i;

	for (i = 0; i < 100; i++) {
		struct pkt_view v;
		uint8_t reply[64];
		long n = tap_wait(d, buf, cap, 100);

		if (n <= 14)
			continue;
		memcpy(kmac, buf + 6, 6);
		if (buf[12] == 0x08 && buf[13] == 0x06 && n >= 42 &&
		    buf[21] == 1 && !memcmp(buf + 38, "\x0a\x00\x00\x02", 4)) {
			size_t rl = pkt_arp(reply, kmac, STACK_MAC, 2, STACK_MAC,
					    STACK_IP, kmac, HOST_IP);
			T_ASSERT(ustack_dev_transmit(d, reply, rl, 0) == 0);
			continue;
		}
		if (pkt_parse(buf, (size_t)n, &v) == 0 && v.ip && v.ip_proto == 17 &&
		    v.l4 && v.l4[2] == 0x1e && v.l4[3] == 0x61)
			return n;
	}
	return 0;
}

static int round_trip_child(void)
{
	static const char ping[] = "ping from the kernel", pong[] = "pong from ustack";
	struct ustack_tap_config cfg = {.name = "ustk0", .mtu = 1400,
					.host_addr = HOST_IP,
					.host_prefix_len = 24, .bring_up = 1};
	struct sockaddr_in k = {.sin_family = AF_INET}, s = k, from;
	socklen_t fl = sizeof(from);
	uint8_t buf[2048], f[2048], kmac[6], big[1300];
	struct ustack_dev *d;
	struct pkt_view v;
	struct pollfd p;
	char err[256];
	int created = 0, sk, i, emsgsize = 0;
	long n;

	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	T_ASSERT(created == 1 && !strcmp(d->kind, "tap") && !strcmp(d->name, "ustk0"));
	T_ASSERT(d->mtu == 1400 && ustack_dev_fd(d) >= 0);
	T_ASSERT(if_nametoindex("ustk0") != 0);

	/* kernel -> driver, through ARP */
	k.sin_addr.s_addr = htonl(HOST_IP);
	k.sin_port = htons(5555);
	s.sin_addr.s_addr = htonl(STACK_IP);
	s.sin_port = htons(7777);
	T_ASSERT((sk = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	T_ASSERT(bind(sk, (struct sockaddr *)&k, sizeof(k)) == 0);
	T_ASSERT(sendto(sk, ping, sizeof(ping), 0, (struct sockaddr *)&s,
			sizeof(s)) == sizeof(ping));
	T_ASSERT((n = await_udp(d, buf, sizeof(buf), kmac)) > 0);
	T_ASSERT(pkt_parse(buf, (size_t)n, &v) == 0 && v.l4_csum_ok);
	T_ASSERT(v.payload_len == sizeof(ping) && !memcmp(v.payload, ping, sizeof(ping)));

	/* driver -> kernel */
	n = (long)pkt_udp(f, kmac, STACK_MAC, STACK_IP, HOST_IP, 7777, 5555, pong,
			  sizeof(pong), 1);
	T_ASSERT(ustack_dev_transmit(d, f, (size_t)n, 0) == 0);
	p.fd = sk;
	p.events = POLLIN;
	T_ASSERT(poll(&p, 1, 2000) == 1);
	T_ASSERT(recvfrom(sk, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) ==
		 sizeof(pong));
	T_ASSERT(!memcmp(buf, pong, sizeof(pong)));
	T_ASSERT(from.sin_addr.s_addr == htonl(STACK_IP) && from.sin_port == htons(7777));

	/* A frame longer than the buffer: -EMSGSIZE, and it is gone. */
	memset(big, 'x', sizeof(big));
	T_ASSERT(sendto(sk, big, sizeof(big), 0, (struct sockaddr *)&s,
			sizeof(s)) == sizeof(big));
	for (i = 0; i < 10 && !emsgsize; i++)
		emsgsize = tap_wait(d, buf, 200, 500) == -EMSGSIZE;
	T_ASSERT(emsgsize);
	T_ASSERT(tap_wait(d, buf, sizeof(buf), 200) <= 0 ||
		 pkt_parse(buf, 2048, &v) != 0 || v.payload_len != sizeof(big));
	close(sk);

	ustack_dev_close(d);
	T_ASSERT(if_nametoindex("ustk0") == 0);  /* ours: gone with the fd */
	return 0;
}

START_TEST(test_tap_round_trip_with_the_kernel)
{
	run_in_netns("test_tap_round_trip_with_the_kernel", round_trip_child);
}
END_TEST

static int persistent_child(void)
{
	struct ustack_tap_config cfg;
	struct ustack_dev *d, *d2;
	char err[256] = "";
	int created = -1;

	raw_tap("ustk1", 1, -1);
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "ustk1";
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	T_ASSERT(created == 0 && d->mtu == 1500);
	T_ASSERT(ustack_tap_open(&d2, &cfg, &created, err, sizeof(err)) == -EBUSY);
	T_ASSERT(d2 == NULL && strstr(err, "ustk1 is in use by another process"));
	ustack_dev_close(d);
	T_ASSERT(if_nametoindex("ustk1") != 0);  /* persistent: stays */

	/* Set up once; asking again for the same is a no-op. */
	cfg.host_addr = HOST_IP;
	cfg.host_prefix_len = 24;
	cfg.bring_up = 1;
	cfg.mtu = 9000;
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	T_ASSERT(d->mtu == 9000);
	ustack_dev_close(d);
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	ustack_dev_close(d);
	memset(&cfg, 0, sizeof(cfg));

	cfg.name = "lo";
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == -EINVAL);
	T_ASSERT(strstr(err, "lo exists and is not a TAP device") != NULL);

	cfg.name = "ustk%d";  /* the kernel picks the number */
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	T_ASSERT(created == 1 && !strncmp(d->name, "ustk", 4) && !strchr(d->name, '%'));
	ustack_dev_close(d);

	raw_tap("ustk1", 0, -1);
	T_ASSERT(if_nametoindex("ustk1") == 0);
	return 0;
}

START_TEST(test_tap_attach_persistent_and_busy)
{
	run_in_netns("test_tap_attach_persistent_and_busy", persistent_child);
}
END_TEST

/* --offload auto on an existing device: on when it was made with
 * vnet_hdr, off when not; OFF and ON as asked either way. */
static int offload_auto_child(void)
{
	const uint32_t all = USTACK_DEV_TX_CSUM | USTACK_DEV_TX_TSO4 |
			     USTACK_DEV_RX_CSUM | USTACK_DEV_RX_GRO;
	struct ustack_tap_config cfg;
	struct ustack_dev *d;
	char err[256] = "";
	int created = -1;

	raw_tap_flags("ustk2", 1, -1, IFF_VNET_HDR);
	raw_tap("ustk3", 1, -1);
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "ustk2";
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	T_ASSERT(created == 0 && d->offloads == all);
	ustack_dev_close(d);
	cfg.offload = USTACK_TAP_OFFLOAD_OFF;
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	T_ASSERT(d->offloads == 0);
	ustack_dev_close(d);
	/* Attaching without the flag took it away from the device. */
	cfg.offload = USTACK_TAP_OFFLOAD_AUTO;
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	T_ASSERT(d->offloads == 0);
	ustack_dev_close(d);

	cfg.name = "ustk3";
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	T_ASSERT(created == 0 && d->offloads == 0);
	ustack_dev_close(d);
	cfg.offload = USTACK_TAP_OFFLOAD_ON;
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	T_ASSERT(d->offloads == all);
	ustack_dev_close(d);

	cfg.name = "ustk4";                      /* created: on */
	cfg.offload = USTACK_TAP_OFFLOAD_AUTO;
	T_ASSERT(ustack_tap_open(&d, &cfg, &created, err, sizeof(err)) == 0);
	T_ASSERT(created == 1 && d->offloads == all);
	ustack_dev_close(d);
	raw_tap("ustk2", 0, -1);
	raw_tap("ustk3", 0, -1);
	return 0;
}

START_TEST(test_tap_offload_auto_follows_the_device)
{
	run_in_netns("test_tap_offload_auto_follows_the_device",
		     offload_auto_child);
}
END_TEST

static Suite *tap_suite(void)
{
	Suite *s = suite_create("tap");
	TCase *tc = tcase_create("tap");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_tap_rejects_bad_names);
	tcase_add_test(tc, test_tap_no_permission_explains_itself);
	tcase_add_test(tc, test_tap_round_trip_with_the_kernel);
	tcase_add_test(tc, test_tap_attach_persistent_and_busy);
	tcase_add_test(tc, test_tap_offload_auto_follows_the_device);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tap_suite)
