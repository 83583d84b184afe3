/* TFTP load generator: N concurrent clients (one event loop, one UDP
 * socket each, the project's TFTP client) fetch the given files in turn
 * until each has done its share; every received file is compared with
 * the local copy. Prints one line:
 *   transfers N failed F seconds S rate R/s retransmits X
 * usage: tftp_load_bench HOST PORT ROOT CLIENTS ROUNDS [BLKSIZE] FILE...
 * Each client fetches every FILE ROUNDS times (CLIENTS x ROUNDS x FILES
 * transfers). BLKSIZE 0 sends no option (512-byte blocks). */
#include "base/buf.h"
#include "prov/tftp_cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct want {
	const char *name;
	uint8_t *p;
	size_t len;
};

struct load;

struct slot {
	struct load *ld;
	struct tftp_cli *c;
	unsigned next; /* transfers this client has started */
};

struct load {
	struct event_base *base;
	struct tftp_cli_req req;
	struct want *files;
	unsigned nfiles;
	unsigned per_client;
	unsigned long done, failed, retransmits, running;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int slot_start(struct slot *s);

static void on_done(struct tftp_cli *c, int err, void *arg)
{
	struct slot *s = arg;
	struct load *ld = s->ld;
	const struct want *w = &ld->files[(s->next - 1) % ld->nfiles];
	struct buf *b = tftp_cli_data(c);
	struct tftp_cli_info info;

	tftp_cli_info(c, &info);
	ld->retransmits += info.retransmits;
	if (err || b->len != w->len ||
	    (w->len && memcmp(b->p, w->p, w->len) != 0)) {
		ld->failed++;
		if (ld->failed <= 5) {
			fprintf(stderr, "%s: %s\n", w->name,
			        err ? tl_strerror(err) : "bytes differ");
		}
	} else {
		ld->done++;
	}
	tftp_cli_free(c);
	s->c = NULL;
	ld->running--;
	if (s->next < ld->per_client && slot_start(s) != 0) {
		ld->failed++;
	}
	if (ld->running == 0) {
		event_base_loopbreak(ld->base);
	}
}

static int slot_start(struct slot *s)
{
	struct load *ld = s->ld;
	struct tftp_cli_req r = ld->req;
	int err;

	r.file = ld->files[s->next % ld->nfiles].name;
	s->next++;
	err = tftp_cli_start(&s->c, ld->base, &r, on_done, s);
	if (err == 0) {
		ld->running++;
	}
	return err;
}

static int load_file(const char *root, struct want *w)
{
	char path[4096];
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", root, w->name);
	f = fopen(path, "rb");
	if (!f) {
		return -errno;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -EIO;
	}
	w->len = (size_t)n;
	w->p = malloc(w->len + 1);
	if (!w->p || fread(w->p, 1, w->len, f) != w->len) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct load ld = {0};
	struct slot *slots;
	struct sockaddr_in *a = (struct sockaddr_in *)&ld.req.server;
	struct rlimit rl;
	unsigned clients, rounds;
	double t0, t1;
	int first_file = 7;

	if (argc < 8) {
		fprintf(stderr,
		        "usage: %s HOST PORT ROOT CLIENTS ROUNDS "
		        "BLKSIZE FILE...\n",
		        argv[0]);
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	a->sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[1], &a->sin_addr) != 1) {
		fprintf(stderr, "bad host %s\n", argv[1]);
		return 2;
	}
	a->sin_port = htons((uint16_t)strtoul(argv[2], NULL, 10));
	ld.req.server_len = sizeof(*a);
	clients = (unsigned)strtoul(argv[4], NULL, 10);
	rounds = (unsigned)strtoul(argv[5], NULL, 10);
	ld.req.blksize = (uint16_t)strtoul(argv[6], NULL, 10);
	ld.req.timeout_ms = 1000;
	ld.req.retries = 6;
	ld.nfiles = (unsigned)(argc - first_file);
	ld.files = calloc(ld.nfiles, sizeof(*ld.files));
	slots = calloc(clients ? clients : 1, sizeof(*slots));
	if (!ld.files || !slots || !clients || !rounds) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	for (unsigned i = 0; i < ld.nfiles; i++) {
		ld.files[i].name = argv[first_file + i];
		if (load_file(argv[3], &ld.files[i]) != 0) {
			fprintf(stderr, "cannot read %s/%s\n", argv[3],
			        ld.files[i].name);
			return 1;
		}
	}
	ld.per_client = rounds * ld.nfiles;
	ld.base = event_base_new();
	if (!ld.base) {
		return 1;
	}
	t0 = now_s();
	for (unsigned i = 0; i < clients; i++) {
		slots[i].ld = &ld;
		if (slot_start(&slots[i]) != 0) {
			fprintf(stderr, "cannot start client %u\n", i);
			return 1;
		}
	}
	event_base_dispatch(ld.base);
	t1 = now_s();
	printf("transfers %lu failed %lu seconds %.3f rate %.0f/s "
	       "retransmits %lu\n",
	       ld.done, ld.failed, t1 - t0, (double)ld.done / (t1 - t0),
	       ld.retransmits);
	for (unsigned i = 0; i < clients; i++) {
		tftp_cli_free(slots[i].c);
	}
	for (unsigned i = 0; i < ld.nfiles; i++) {
		free(ld.files[i].p);
	}
	free(ld.files);
	free(slots);
	event_base_free(ld.base);
	return ld.failed ? 1 : 0;
}
