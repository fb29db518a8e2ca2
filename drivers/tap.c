/*
 * tap.c - a Linux TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI): whole
 * Ethernet frames in and out through one non-blocking file descriptor.
 *
 * Open creates the named device, or attaches to it if it already exists
 * (a persistent device made with `ip tuntap add dev NAME mode tap user U`,
 * which lets user U open it without CAP_NET_ADMIN). TUNSETIFF does both;
 * we tell which happened by asking if_nametoindex(NAME) just before it
 * (a name with "%d" lets the kernel pick, and is always a creation). A
 * device we created is not persistent: the kernel removes it when the fd is
 * closed, addresses and all.
 *
 * Optional host-side set-up - MTU, the kernel side's address and netmask,
 * link up - is done with ioctls on an AF_INET socket (SIOCSIFMTU,
 * SIOCSIFADDR, SIOCSIFNETMASK, SIOCSIFFLAGS), never by running ip(8). Each
 * step is skipped when the device already is that way; a change needs
 * CAP_NET_ADMIN even on a persistent device the user owns.
 *
 * dev->mtu is the device's MTU as the kernel reports it after set-up.
 * dev->mac stays zero: the kernel side has its own address and the stack
 * uses the MAC in its configuration (any unicast address works on a TAP).
 *
 * receive() reads one frame; a frame longer than the caller's buffer is
 * detected with one scratch byte past it (the kernel reports or copies more
 * than fits) and dropped with -EMSGSIZE. transmit() writes one frame;
 * -EAGAIN when the kernel queue is full (the stack counts it), -EIO while
 * the link is down.
 *
 * Offloads (IFF_VNET_HDR, Documentation/networking/tuntap.rst and
 * linux/virtio_net.h): every frame on the fd is preceded by a struct
 * virtio_net_hdr (TUNSETVNETHDRSZ pins its size to 10 bytes), in host byte
 * order (the legacy virtio layout the kernel uses unless told otherwise).
 * Writes may be TSO super-frames of up to 64 KiB with a partial checksum:
 * the kernel takes them as a virtio guest's, one write instead of 44.
 * TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4) tells the kernel we take the
 * same, so it sends its TCP to us in 64 KiB frames (one read) with
 * checksums partial or already verified. The metadata travels through
 * transmit_meta()/receive_meta(); plain receive() completes partial
 * checksums itself, plain transmit() writes a zero header. With AUTO an
 * existing device gets offloads when it was made with vnet_hdr (its
 * persistent flags, asked over rtnetlink before attaching); a refused
 * virtio header falls back to plain frames. Touches only its own struct,
 * the fd, one rtnetlink query and libc.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ustack/dev.h>

#include "drv.h"

#define TUN_PATH "/dev/net/tun"

struct tap_dev {
	struct ustack_dev base;      /* first: the stack sees this */
	int fd;
	int vnet;                    /* frames carry a virtio_net_hdr */
};

#define TAP_VNET_HDR_LEN ((int)sizeof(struct virtio_net_hdr))

/* One write of iov (a frame, behind its virtio header if any). */
static int tap_writev(struct tap_dev *t, const struct iovec *iov, int n)
{
	ssize_t r;
	int tries = 2;

	do {
		r = writev(t->fd, iov, n);
	} while (r < 0 && errno == EINTR && --tries > 0);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

/* The virtio header that says what m says. */
static void tap_vnet_hdr(struct virtio_net_hdr *vh,
			 const struct ustack_frame_meta *m)
{
	memset(vh, 0, sizeof(*vh));
	if (m->flags & USTACK_META_CSUM_PARTIAL) {
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->csum_start = m->csum_start;
		vh->csum_offset = m->csum_offset;
	}
	if (m->gso_type == USTACK_GSO_TCPV4) {
		vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		vh->gso_size = m->gso_size;
		vh->hdr_len = m->hdr_len;
	}
}

/* Without IFF_VNET_HDR the frame alone (m is then all zero). */
static int tap_transmit_meta(struct ustack_dev *d, const void *frame,
			     size_t len, const struct ustack_frame_meta *m,
			     ustack_time_t now)
{
	struct tap_dev *t = (struct tap_dev *)d;
	struct virtio_net_hdr vh;
	struct iovec iov[2] = {
		{.iov_base = &vh, .iov_len = sizeof(vh)},
		{.iov_base = (void *)frame, .iov_len = len},
	};

	(void)now;
	tap_vnet_hdr(&vh, m);
	return t->vnet ? tap_writev(t, iov, 2) : tap_writev(t, iov + 1, 1);
}

/* Gather: the virtio header and the pieces in one writev (the kernel
 * copies them into one skb; nothing is copied here). */
static int tap_transmit_gather(struct ustack_dev *d,
			       const struct ustack_frag *fr, unsigned n,
			       const struct ustack_frame_meta *m,
			       ustack_time_t now)
{
	struct tap_dev *t = (struct tap_dev *)d;
	struct iovec iov[1 + USTACK_FRAGS_MAX];
	struct virtio_net_hdr vh;
	unsigned i;

	(void)now;
	if (n == 0 || n > USTACK_FRAGS_MAX)
		return -EINVAL;
	tap_vnet_hdr(&vh, m);
	iov[0] = (struct iovec){.iov_base = &vh, .iov_len = sizeof(vh)};
	for (i = 0; i < n; i++)
		iov[i + 1] = (struct iovec){.iov_base = (void *)fr[i].data,
					    .iov_len = fr[i].len};
	return t->vnet ? tap_writev(t, iov, (int)n + 1) :
			 tap_writev(t, iov + 1, (int)n);
}

/* A plain frame: a zero virtio header, if any. */
static int tap_transmit(struct ustack_dev *d, const void *frame, size_t len,
			ustack_time_t now)
{
	static const struct ustack_frame_meta none;

	return tap_transmit_meta(d, frame, len, &none, now);
}

/* readv into [header,] buf and one scratch byte past it. Returns the
 * frame's length, 0, or -errno (-EMSGSIZE: longer than cap, dropped). */
static long tap_readv(struct tap_dev *t, struct virtio_net_hdr *vh, void *buf,
		      size_t cap)
{
	uint8_t extra;
	struct iovec iov[3] = {
		{.iov_base = vh, .iov_len = sizeof(*vh)},
		{.iov_base = buf, .iov_len = cap},
		{.iov_base = &extra, .iov_len = 1},
	};
	size_t hl = t->vnet ? sizeof(*vh) : 0;
	ssize_t n = readv(t->fd, t->vnet ? iov : iov + 1, t->vnet ? 3 : 2);

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		return errno == EFAULT ? -EMSGSIZE : -errno;
	}
	if ((size_t)n < hl + 1)
		return 0;          /* a header without a frame: nothing */
	if ((size_t)n - hl > cap)
		return -EMSGSIZE;  /* the frame is gone: the kernel dequeued it */
	return (long)((size_t)n - hl);
}

static long tap_receive_meta(struct ustack_dev *d, void *buf, size_t cap,
			     struct ustack_frame_meta *m, ustack_time_t now)
{
	struct tap_dev *t = (struct tap_dev *)d;
	struct virtio_net_hdr vh;
	long n;

	(void)now;
	memset(&vh, 0, sizeof(vh));
	memset(m, 0, sizeof(*m));
	if ((n = tap_readv(t, &vh, buf, cap)) <= 0)
		return n;
	if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		m->flags |= USTACK_META_CSUM_PARTIAL;
		m->csum_start = vh.csum_start;
		m->csum_offset = vh.csum_offset;
	} else if (vh.flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		m->flags |= USTACK_META_CSUM_VALID;
	}
	if ((vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4) {
		m->gso_type = USTACK_GSO_TCPV4;
		m->gso_size = vh.gso_size;
		m->hdr_len = vh.hdr_len;
	}
	return n;
}

static int tap_get_fd(struct ustack_dev *d)
{
	return ((struct tap_dev *)d)->fd;
}

static void tap_close(struct ustack_dev *d)
{
	struct tap_dev *t = (struct tap_dev *)d;

	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

static const struct ustack_dev_ops tap_ops = {
	.transmit = tap_transmit,
	.receive_meta = tap_receive_meta,
	.get_fd = tap_get_fd,
	.next_at = NULL,
	.close = tap_close,
};

static const struct ustack_dev_ops tap_vnet_ops = {
	.transmit = tap_transmit,
	.get_fd = tap_get_fd,
	.next_at = NULL,
	.close = tap_close,
	.transmit_meta = tap_transmit_meta,
	.receive_meta = tap_receive_meta,
	.transmit_gather = tap_transmit_gather,
};

/* Linux's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or
 * white space. */
static int tap_name_ok(const char *name, char *err, size_t errlen)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n == 0) {
		drv_set_err(err, errlen, "no TAP device name given");
		return 0;
	}
	if (n >= IFNAMSIZ) {
		drv_set_err(err, errlen, "%.64s: device name too long (at "
			    "most %d characters)", name, IFNAMSIZ - 1);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (name[i] == '/' || name[i] == ':' ||
		    isspace((unsigned char)name[i]))
			break;
	}
	if (i < n || !strcmp(name, ".") || !strcmp(name, "..")) {
		drv_set_err(err, errlen, "\"%s\": not a valid device name "
			    "(no '/', ':' or spaces; not '.' or '..')", name);
		return 0;
	}
	return 1;
}

static void perm_hint(char *err, size_t errlen, const char *what,
		      const char *name, int e)
{
	drv_set_err(err, errlen, "%s: %s; needs CAP_NET_ADMIN: run as root or "
		"create a persistent device with `ip tuntap add dev %s mode "
		"tap user $USER`", what, strerror(e), name);
}

/* open(/dev/net/tun) + TUNSETIFF. Returns the fd or -errno. */
static int tap_attach(const char *name, int existed, int vnet, char *actual,
		      char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, e;

	fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		if (e == EPERM || e == EACCES)
			perm_hint(err, errlen, TUN_PATH, name, e);
		else if (e == ENOENT || e == ENODEV || e == ENXIO)
			drv_set_err(err, errlen, "%s: %s; load the tun module "
				"(modprobe tun)", TUN_PATH, strerror(e));
		else
			drv_set_err(err, errlen, "%s: %s", TUN_PATH,
				    strerror(e));
		return -e;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		close(fd);
		if (e == EPERM || e == EACCES)
			perm_hint(err, errlen, name, name, e);
		else if (e == EBUSY)
			drv_set_err(err, errlen, "%s is in use by another "
				    "process", name);
		else if (e == EINVAL && existed)
			drv_set_err(err, errlen, "%s exists and is not a TAP "
				    "device this process can attach to (a TUN "
				    "device, another kind of interface, or made "
				    "with multi_queue)", name);
		else
			drv_set_err(err, errlen, "%s: cannot create TAP "
				    "device: %s", name, strerror(e));
		return -e;
	}
	memcpy(actual, ifr.ifr_name, IFNAMSIZ);
	actual[IFNAMSIZ - 1] = '\0';
	return fd;
}

static int if_ioctl(int sk, unsigned long req, struct ifreq *ifr,
		    const char *what, char *err, size_t errlen)
{
	int e;

	if (ioctl(sk, req, ifr) == 0)
		return 0;
	e = errno;
	if (e == EPERM || e == EACCES)
		perm_hint(err, errlen, what, ifr->ifr_name, e);
	else
		drv_set_err(err, errlen, "%s: %s", what, strerror(e));
	return -e;
}

static void set_sin(struct sockaddr *sa, uint32_t addr)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(addr);
	memcpy(sa, &sin, sizeof(sin));
}

static uint32_t get_sin(const struct sockaddr *sa)
{
	struct sockaddr_in sin;

	memcpy(&sin, sa, sizeof(sin));
	return ntohl(sin.sin_addr.s_addr);
}

/* Set the MTU unless it already is that (no privilege needed then). */
static int host_mtu(int sk, struct ifreq *ifr, uint16_t mtu, char *err,
		    size_t errlen)
{
	char what[64];
	int r;

	snprintf(what, sizeof(what), "%s: read MTU", ifr->ifr_name);
	if ((r = if_ioctl(sk, SIOCGIFMTU, ifr, what, err, errlen)) < 0)
		return r;
	if (!mtu || ifr->ifr_mtu == mtu)
		return 0;
	snprintf(what, sizeof(what), "%s: set MTU %u", ifr->ifr_name, mtu);
	ifr->ifr_mtu = mtu;
	return if_ioctl(sk, SIOCSIFMTU, ifr, what, err, errlen);
}

/* Give the kernel side addr/prefix unless it already has exactly that. */
static int host_addr(int sk, struct ifreq *ifr, uint32_t addr, uint8_t plen,
		     char *err, size_t errlen)
{
	uint32_t mask = plen >= 32 ? 0xffffffffu :
			plen ? ~(0xffffffffu >> plen) : 0;
	char what[64];
	int r;

	if (ioctl(sk, SIOCGIFADDR, ifr) == 0 &&
	    get_sin(&ifr->ifr_addr) == addr &&
	    ioctl(sk, SIOCGIFNETMASK, ifr) == 0 &&
	    get_sin(&ifr->ifr_netmask) == mask)
		return 0;
	snprintf(what, sizeof(what), "%s: set host address", ifr->ifr_name);
	set_sin(&ifr->ifr_addr, addr);
	if ((r = if_ioctl(sk, SIOCSIFADDR, ifr, what, err, errlen)) < 0)
		return r;
	set_sin(&ifr->ifr_netmask, mask);
	return if_ioctl(sk, SIOCSIFNETMASK, ifr, what, err, errlen);
}

static int host_up(int sk, struct ifreq *ifr, char *err, size_t errlen)
{
	char what[64];
	int r;

	snprintf(what, sizeof(what), "%s: set link up", ifr->ifr_name);
	if ((r = if_ioctl(sk, SIOCGIFFLAGS, ifr, what, err, errlen)) < 0 ||
	    (ifr->ifr_flags & IFF_UP))
		return r;
	ifr->ifr_flags |= IFF_UP;
	return if_ioctl(sk, SIOCSIFFLAGS, ifr, what, err, errlen);
}

/*
 * MTU, host address, link up, each skipped when already so (an
 * unprivileged user can attach to a device set up for them and ask for
 * what it has); then read the MTU back into dev->mtu.
 */
static int tap_host_setup(struct tap_dev *t, const struct ustack_tap_config *c,
			  char *err, size_t errlen)
{
	struct ifreq ifr;
	char what[64];
	int sk, r;

	if ((sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		int e = errno;

		drv_set_err(err, errlen, "socket(AF_INET): %s", strerror(e));
		return -e;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->base.name, IFNAMSIZ);
	r = host_mtu(sk, &ifr, c->mtu, err, errlen);
	if (r == 0 && c->host_addr)
		r = host_addr(sk, &ifr, c->host_addr, c->host_prefix_len, err,
			      errlen);
	if (r == 0 && c->bring_up)
		r = host_up(sk, &ifr, err, errlen);
	if (r == 0) {
		snprintf(what, sizeof(what), "%s: read MTU", t->base.name);
		r = if_ioctl(sk, SIOCGIFMTU, &ifr, what, err, errlen);
		if (r == 0)
			t->base.mtu = ifr.ifr_mtu > 65535 ? 65535 :
				      (uint16_t)ifr.ifr_mtu;
	}
	close(sk);
	return r;
}

/*
 * With the virtio header on: pin its size, take what we can always send
 * (checksum offload, TSO: the kernel accepts a guest's super-frames), and
 * ask the kernel to send us the same (TUNSETOFFLOAD). Without it: make
 * sure a persistent device left with offloads by an earlier user sends us
 * plain frames.
 */
static int tap_offload_setup(struct tap_dev *t, char *err, size_t errlen)
{
	int sz = TAP_VNET_HDR_LEN, e;

	if (!t->vnet) {
		(void)ioctl(t->fd, TUNSETOFFLOAD, 0ul);
		return 0;
	}
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &sz) < 0) {
		e = errno;
		drv_set_err(err, errlen, "%s: TUNSETVNETHDRSZ: %s",
			    t->base.name, strerror(e));
		return -e;
	}
	t->base.ops = &tap_vnet_ops;
	t->base.offloads = USTACK_DEV_TX_CSUM | USTACK_DEV_TX_TSO4;
	if (ioctl(t->fd, TUNSETOFFLOAD,
		  (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)) == 0)
		t->base.offloads |= USTACK_DEV_RX_CSUM | USTACK_DEV_RX_GRO;
	return 0;
}

/*
 * AUTO on an existing device: offloads when its owner made it for them
 * (`ip tuntap add dev NAME mode tap vnet_hdr`), which the kernel keeps in
 * a persistent device's flags until someone attaches. We ask the kernel
 * the way `ip -d link` does: RTM_GETLINK in our own network namespace,
 * IFLA_LINKINFO -> IFLA_INFO_DATA -> IFLA_TUN_VNET_HDR (Linux 4.15+).
 * No answer, an older kernel, not a tun device: 0, plain frames.
 */
static const struct rtattr *rta_find(const void *p, size_t len, int type)
{
	const struct rtattr *a = p;

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if ((a->rta_type & NLA_TYPE_MASK) == type)
			return a;
	return NULL;
}

static int tap_made_for_vnet(const char *name)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req;
	union {
		struct nlmsghdr nh;
		char b[16384];
	} rsp;
	const struct rtattr *li, *data, *vh;
	unsigned idx = if_nametoindex(name);
	ssize_t n;
	size_t al;
	int sk;

	if (!idx || (sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
				 NETLINK_ROUTE)) < 0)
		return 0;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)idx;
	/* The kernel answers within send(): the receive never waits. */
	n = send(sk, &req, sizeof(req), 0) == (ssize_t)sizeof(req) ?
	    recv(sk, &rsp, sizeof(rsp), MSG_DONTWAIT) : -1;
	close(sk);
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct ifinfomsg)) ||
	    !NLMSG_OK(&rsp.nh, (size_t)n) || rsp.nh.nlmsg_type != RTM_NEWLINK)
		return 0;
	al = rsp.nh.nlmsg_len - NLMSG_LENGTH(sizeof(struct ifinfomsg));
	li = rta_find(IFLA_RTA((struct ifinfomsg *)NLMSG_DATA(&rsp.nh)), al,
		      IFLA_LINKINFO);
	data = li ? rta_find(RTA_DATA(li), RTA_PAYLOAD(li), IFLA_INFO_DATA) : NULL;
	vh = data ? rta_find(RTA_DATA(data), RTA_PAYLOAD(data),
			     IFLA_TUN_VNET_HDR) : NULL;
	return vh && RTA_PAYLOAD(vh) >= 1 && *(const uint8_t *)RTA_DATA(vh);
}

/* The device, attached with or without the virtio header; offloads set
 * up. Returns 0 or -errno. */
static int tap_open_fd(struct tap_dev *t, const struct ustack_tap_config *cfg,
		       int existed, int vnet, char *actual, char *err,
		       size_t errlen)
{
	int fd = tap_attach(cfg->name, existed, vnet, actual, err, errlen);

	if (fd < 0)
		return fd;
	t->fd = fd;
	t->vnet = vnet;
	t->base.ops = &tap_ops;
	t->base.offloads = 0;
	memcpy(t->base.name, actual, IFNAMSIZ);
	return tap_offload_setup(t, err, errlen);
}

int ustack_tap_open(struct ustack_dev **out, const struct ustack_tap_config *cfg,
		    int *created, char *err, size_t errlen)
{
	char actual[IFNAMSIZ];
	struct tap_dev *t;
	int existed, r, vnet;

	*out = NULL;
	if (created)
		*created = 0;
	if (!cfg || !tap_name_ok(cfg->name, err, errlen))
		return -EINVAL;
	if (cfg->offload < USTACK_TAP_OFFLOAD_AUTO ||
	    cfg->offload > USTACK_TAP_OFFLOAD_OFF) {
		drv_set_err(err, errlen, "%s: bad offload setting %d",
			    cfg->name, cfg->offload);
		return -EINVAL;
	}
	if (cfg->host_addr && cfg->host_prefix_len > 32) {
		drv_set_err(err, errlen, "%s: bad host prefix length %u",
			    cfg->name, cfg->host_prefix_len);
		return -EINVAL;
	}
	existed = !strchr(cfg->name, '%') && if_nametoindex(cfg->name) != 0;
	vnet = cfg->offload == USTACK_TAP_OFFLOAD_ON ||
	       (cfg->offload == USTACK_TAP_OFFLOAD_AUTO &&
		(!existed || tap_made_for_vnet(cfg->name)));
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->fd = -1;
	t->base.kind = "tap";
	t->base.mtu = 1500;
	r = tap_open_fd(t, cfg, existed, vnet, actual, err, errlen);
	if (r < 0 && r != -ENOMEM && vnet &&
	    cfg->offload == USTACK_TAP_OFFLOAD_AUTO) {
		/* The kernel refused IFF_VNET_HDR or its header size: plain
		 * frames (a device we created goes with the first fd). */
		if (t->fd >= 0)
			close(t->fd);
		t->fd = -1;
		vnet = 0;
		r = tap_open_fd(t, cfg, existed, 0, actual, err, errlen);
	}
	if (r < 0) {
		tap_close(&t->base);
		return r;
	}
	if ((r = tap_host_setup(t, cfg, err, errlen)) < 0) {
		tap_close(&t->base);  /* a device we created goes with it */
		return r;
	}
	if (created)
		*created = !existed;
	*out = &t->base;
	return 0;
}
