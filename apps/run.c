/*
 * run.c - ustack-run: run an unmodified program with its IPv4 sockets on
 * ustack.
 *
 *   ustack-run [stack options] [--] PROGRAM [ARGS...]
 *
 * Checks the stack options (the same as every ustack program), brings the
 * stack up once to prove the configuration works (TAP permission, device,
 * addresses) and takes it down again, then puts the options in USTACK_*
 * variables, adds libustack-preload.so to LD_PRELOAD and execs PROGRAM.
 * The library (preload/, docs/preload.md) starts the program's own stack
 * on its first AF_INET socket.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/app.h"

static const char run_help[] =
"  PROGRAM and ARGS    the program to run; its AF_INET stream and datagram\n"
"                      sockets use the stack, everything else the kernel\n"
"                      (sockets to 127.0.0.0/8 too). Options stop at the\n"
"                      first argument that is not one, or at --.\n"
"\n"
"The options are passed to the program's library as USTACK_DEV,\n"
"USTACK_ADDR, USTACK_GATEWAY, USTACK_MAC, USTACK_MTU, USTACK_HOST_ADDR,\n"
"USTACK_PCAP, USTACK_LOG, USTACK_TRACE=1, USTACK_CTL, USTACK_SEED,\n"
"USTACK_FAULT and USTACK_OFFLOAD (any such variables already set are\n"
"replaced); the library is found next to this program (../lib) or at\n"
"$USTACK_PRELOAD_LIB. Without ustack-run: LD_PRELOAD=libustack-preload.so\n"
"with the same variables. See docs/preload.md.\n";

static const struct app_desc run_desc = {
	.name = "ustack-run",
	.synopsis = "[stack options] [--] PROGRAM [ARGS...]",
	.summary = "Run PROGRAM with its IPv4 sockets on ustack (a preload library).",
	.help = run_help,
	.min_args = 1,
	.max_args = INT_MAX,
};

static const char *const env_names[] = {
	"USTACK_DEV", "USTACK_ADDR", "USTACK_GATEWAY", "USTACK_MAC",
	"USTACK_MTU", "USTACK_HOST_ADDR", "USTACK_PCAP", "USTACK_LOG",
	"USTACK_TRACE", "USTACK_CTL", "USTACK_SEED", "USTACK_FAULT",
	"USTACK_OFFLOAD",
};

static void set(const char *name, const char *v)
{
	if (setenv(name, v, 1) < 0) {
		perror("ustack-run: setenv");
		exit(APP_EXIT_FAIL);
	}
}

/* A path as an absolute one: PROGRAM may change directory (redis --dir,
 * nginx -p) before its first socket starts the stack. */
static void set_path(const char *name, const char *path, size_t max)
{
	char cwd[PATH_MAX / 2], *full;
	size_t n;

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)) ||
	    strlen(cwd) + strlen(path) + 1 > max) {
		set(name, path);   /* (a socket path has a length limit) */
		return;
	}
	n = strlen(cwd);
	if (!(full = malloc(n + strlen(path) + 2))) {
		perror("ustack-run");
		exit(APP_EXIT_FAIL);
	}
	memcpy(full, cwd, n);
	full[n] = '/';
	strcpy(full + n + 1, path);
	set(name, full);
	free(full);
}

/* The parsed options back into USTACK_* variables. */
static void export_opts(const struct app_opts *o)
{
	static const char *const levels[] = {"error", "warn", "info", "debug",
					     "trace"};
	static const char *const offl[] = {"auto", "on", "off"};
	char b[64], ip[16];
	const uint8_t *m = o->mac;

	for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
		unsetenv(env_names[i]);
	set("USTACK_DEV", o->dev);
	snprintf(b, sizeof(b), "%s/%u", ustack_fmt_ip4(o->addr, ip), o->prefix_len);
	set("USTACK_ADDR", b);
	if (o->gateway)
		set("USTACK_GATEWAY", ustack_fmt_ip4(o->gateway, ip));
	snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
		 m[2], m[3], m[4], m[5]);
	set("USTACK_MAC", b);
	if (o->mtu) {
		snprintf(b, sizeof(b), "%u", o->mtu);
		set("USTACK_MTU", b);
	}
	if (o->host_mode == APP_HOST_NONE) {
		set("USTACK_HOST_ADDR", "none");
	} else if (o->host_mode == APP_HOST_SET) {
		snprintf(b, sizeof(b), "%s/%u", ustack_fmt_ip4(o->host_addr, ip),
			 o->host_prefix_len);
		set("USTACK_HOST_ADDR", b);
	}
	if (o->pcap)
		set_path("USTACK_PCAP", o->pcap, PATH_MAX);
	if (o->log_level >= 0 && o->log_level <= 4)
		set("USTACK_LOG", levels[o->log_level]);
	if (o->trace)
		set("USTACK_TRACE", "1");
	if (o->ctl)
		set_path("USTACK_CTL", o->ctl, 99);
	if (o->seed_set) {
		snprintf(b, sizeof(b), "%llu", (unsigned long long)o->seed);
		set("USTACK_SEED", b);
	}
	if (o->fault)
		set("USTACK_FAULT", o->fault);
	if (o->offload >= 0 && o->offload <= 2)
		set("USTACK_OFFLOAD", offl[o->offload]);
}

/* The library: $USTACK_PRELOAD_LIB, or ../lib/ from this program. */
static void find_lib(char *out, size_t len)
{
	const char *env = getenv("USTACK_PRELOAD_LIB");
	char exe[PATH_MAX - 64];
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(out, len, "%s", env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0) {
			perror("ustack-run: /proc/self/exe");
			exit(APP_EXIT_FAIL);
		}
		exe[n] = 0;
		if ((slash = strrchr(exe, '/')))
			*slash = 0;
		snprintf(out, len, "%s/../lib/libustack-preload.so", exe);
	}
	if (access(out, R_OK) != 0) {
		fprintf(stderr, "ustack-run: the preload library %s is missing "
			"(build it with make, or set USTACK_PRELOAD_LIB)\n", out);
		exit(APP_EXIT_FAIL);
	}
}

int main(int argc, char **argv)
{
	struct app a;
	char lib[PATH_MAX], *pre;
	const char *old;
	int first, r;

	/* Options end at PROGRAM: its own options are not ours. */
	setenv("POSIXLY_CORRECT", "1", 1);
	first = app_parse(&a, &run_desc, argc, argv);
	unsetenv("POSIXLY_CORRECT");
	find_lib(lib, sizeof(lib));

	/* Bring the stack up once and down again: a bad address, no TAP
	 * permission or a busy device is one sentence now, not a failure
	 * deep inside PROGRAM. */
	if ((r = app_start(&a)) != 0)
		return r;
	app_stop(&a);

	export_opts(&a.o);
	old = getenv("LD_PRELOAD");
	if (old && *old) {
		size_t n = strlen(lib) + strlen(old) + 2;

		if (!(pre = malloc(n))) {
			perror("ustack-run");
			return APP_EXIT_FAIL;
		}
		snprintf(pre, n, "%s:%s", lib, old);
	} else {
		pre = lib;
	}
	set("LD_PRELOAD", pre);
	execvp(argv[first], argv + first);
	fprintf(stderr, "ustack-run: cannot run %s: %s\n", argv[first],
		strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
