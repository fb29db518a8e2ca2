/*
 * regress.c - fuzz_regress: replay saved fuzz inputs without libFuzzer, so
 * `make check` (gcc, and the sanitizer build) keeps every crash the fuzzer
 * ever found fixed.
 *
 *   fuzz_regress DIR...   every file under DIR/frame/ goes to the frame
 *                         target, every file under DIR/seq/ to the
 *                         sequence target, DIR/api/ to the socket-API one
 *   fuzz_regress -t frame|seq|api FILE...
 *   fuzz_regress --states  print the harness's connections after set-up
 *
 * Each input runs in a child process, so one that still crashes is
 * reported (with the harness's or the sanitizer's message) and the others
 * still run. Exit 0 when none crashed, 1 otherwise.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ustack/socket.h>

#include "fuzz/harness.h"

typedef int (*target_fn)(const uint8_t *, size_t);

static int run_file(const char *path, target_fn fn)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	int status;
	pid_t pid;
	long n;

	if (!f) {
		perror(path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		fn(buf, (size_t)(n > 0 ? n : 0));
		free(buf);
		exit(0);
	}
	free(buf);
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		perror("fork");
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	printf("  CRASH %s (%s %d)\n", path, WIFSIGNALED(status) ? "signal" :
	       "exit", WIFSIGNALED(status) ? WTERMSIG(status) :
	       WEXITSTATUS(status));
	return 1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order. Returns how many ran;
 * *crashed counts those that crashed. */
static int run_dir(const char *dir, target_fn fn, int *crashed)
{
	char *names[4096], path[4096];
	struct dirent *e;
	int n = 0, done = 0, r;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL && n < 4096)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!names[i])
			continue;
		r = run_file(path, fn);
		done += r >= 0;
		*crashed += r > 0;
		free(names[i]);
	}
	return done;
}

/* The set-up, as the stack sees it (ustack_conn_list) and as the harness
 * recorded it. */
static int print_states(void)
{
	struct ustack_conn_info v[64];
	struct fz *z = malloc(sizeof(*z));
	char a[16], b[16];
	int n;

	if (!z)
		return 1;
	fz_new(z, FZ_SETUP_STATES);
	n = ustack_conn_list(z->st, v, 64);
	for (int i = 0; i < n && i < 64; i++)
		printf("%-4s %s:%u %s:%u %s\n", v[i].proto == IPPROTO_TCP ? "tcp" :
		       v[i].proto == IPPROTO_UDP ? "udp" : "icmp",
		       ustack_fmt_ip4(v[i].laddr, a), v[i].lport,
		       ustack_fmt_ip4(v[i].raddr, b), v[i].rport,
		       v[i].proto == IPPROTO_TCP ?
		       ustack_tcp_state_name(v[i].state) : "");
	for (int i = 0; i < z->nconns; i++)
		printf("harness conn %d: %s %u<->%u snd_nxt %u rcv_nxt %u%s\n", i,
		       z->conns[i].state, z->conns[i].lport, z->conns[i].pport,
		       z->conns[i].snd_nxt, z->conns[i].rcv_nxt,
		       z->conns[i].ts ? " ts" : "");
	fz_free(z);
	free(z);
	return 0;
}

int main(int argc, char **argv)
{
	char path[4096];
	int frames = 0, seqs = 0, apis = 0, crashed = 0;

	if (argc == 2 && !strcmp(argv[1], "--states"))
		return print_states();
	if (argc > 2 && !strcmp(argv[1], "-t")) {
		target_fn fn = !strcmp(argv[2], "seq") ? fz_seq_one :
			       !strcmp(argv[2], "api") ? fz_api_one : fz_frame_one;

		for (int i = 3; i < argc; i++)
			if (run_file(argv[i], fn) != 0)
				crashed++;
		return crashed ? 1 : 0;
	}
	for (int i = 1; i < argc; i++) {
		snprintf(path, sizeof(path), "%s/frame", argv[i]);
		frames += run_dir(path, fz_frame_one, &crashed);
		snprintf(path, sizeof(path), "%s/seq", argv[i]);
		seqs += run_dir(path, fz_seq_one, &crashed);
		snprintf(path, sizeof(path), "%s/api", argv[i]);
		apis += run_dir(path, fz_api_one, &crashed);
	}
	printf("fuzz regressions: %d frame, %d sequence and %d socket-API "
	       "inputs replayed, %d crashed\n", frames, seqs, apis, crashed);
	return crashed ? 1 : 0;
}
