/* The TFTP server and client together on one event loop over loopback:
 * real sockets, real files, a lossy relay for the fault cases. */
#include "base/buf.h"
#include "codec/tftp/tftp_pkt.h"
#include "prov/prov_fs.h"
#include "prov/tftp_cli.h"
#include "prov/tftp_srv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

struct fx {
	char dir[PATH_MAX];      /* temporary directory */
	char root[PATH_MAX + 8]; /* dir/root: the served tree */
	struct event_base *base;
	struct event *tick;
	struct prov_fs *fs;
	struct tftp_srv *srv;
	uint8_t *big;
	size_t big_len;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_file(const char *dir, const char *name, const void *p,
                       size_t n)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	if (n) {
		assert_int_equal(fwrite(p, 1, n, f), n);
	}
	assert_int_equal(fclose(f), 0);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static int gen(const char *name, struct buf *out, void *arg)
{
	if (strcmp(name, "SEP001122334455.cnf.xml") == 0) {
		buf_put_str(out, "<device><deviceSecurityMode>1"
		                 "</deviceSecurityMode></device>\n");
		return 0;
	}
	if (strcmp(name, "broken.cnf.xml") == 0) {
		return -EIO;
	}
	return -TL_ENOTFOUND;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

static void start_srv(struct fx *f, const struct tftp_srv_cfg *cfg)
{
	tftp_srv_free(f->srv);
	f->srv = NULL;
	assert_int_equal(tftp_srv_new(&f->srv, f->base, f->fs, cfg), 0);
	assert_true(tftp_srv_port(f->srv) != 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	struct tftp_srv_cfg cfg = {.addr = "127.0.0.1", .timeout_ms = 60};
	struct timeval tv = {0, 10000};
	uint8_t small[5000], mult[4096];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/tl-tftp-XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->root, sizeof(f->root), "%s/root", f->dir);
	assert_int_equal(mkdir(f->root, 0755), 0);
	char sub[PATH_MAX + 16], path[PATH_MAX + 32];

	snprintf(sub, sizeof(sub), "%s/sub", f->root);
	assert_int_equal(mkdir(sub, 0755), 0);
	fill(small, sizeof(small), 1);
	fill(mult, sizeof(mult), 2);
	write_file(f->root, "CTLFile.tlv", small, sizeof(small));
	write_file(f->root, "mult.bin", mult, sizeof(mult));
	write_file(f->root, "empty.bin", "", 0);
	write_file(sub, "c.bin", mult, 1000);
	write_file(f->root, "text.txt", "a\nb\rc\r\n", 7);
	write_file(f->dir, "secret.txt", "secret", 6);
	f->big_len = 65536 * 8 + 5; /* 65537 blocks of 8 bytes: rollover */
	f->big = malloc(f->big_len);
	assert_non_null(f->big);
	fill(f->big, f->big_len, 3);
	write_file(f->root, "big.bin", f->big, f->big_len);
	snprintf(path, sizeof(path), "%s/inside", f->root);
	assert_int_equal(symlink("sub/c.bin", path), 0);
	snprintf(path, sizeof(path), "%s/escape", f->root);
	assert_int_equal(symlink("../secret.txt", path), 0);
	snprintf(path, sizeof(path), "%s/abs", f->root);
	assert_int_equal(symlink("/etc/hostname", path), 0);

	f->base = event_base_new();
	assert_non_null(f->base);
	/* A tick so that EVLOOP_ONCE always returns soon. */
	f->tick = event_new(f->base, -1, EV_PERSIST, tick_cb, NULL);
	assert_non_null(f->tick);
	event_add(f->tick, &tv);
	assert_int_equal(prov_fs_new(&f->fs, f->root), 0);
	prov_fs_set_gen(f->fs, gen, NULL);
	start_srv(f, &cfg);
	*state = f;
	return 0;
}

static void rm_tree(const char *dir)
{
	static const char *const names[] = {
	        "root/CTLFile.tlv", "root/mult.bin", "root/empty.bin",
	        "root/sub/c.bin",   "root/text.txt", "secret.txt",
	        "root/big.bin",     "root/inside",   "root/escape",
	        "root/abs",         "root/sub",      "root",
	};
	char path[PATH_MAX * 2];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) != 0) {
			rmdir(path);
		}
	}
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tftp_srv_free(f->srv);
	prov_fs_free(f->fs);
	event_free(f->tick);
	event_base_free(f->base);
	rm_tree(f->dir);
	free(f->big);
	free(f);
	return 0;
}

/* ---- client helpers ---- */

struct done {
	bool done;
	int err;
};

static void on_done(struct tftp_cli *c, int err, void *arg)
{
	struct done *d = arg;

	d->done = true;
	d->err = err;
}

static void run_until(struct event_base *base, const bool *flag, int limit_ms)
{
	int64_t end = now_ms() + limit_ms;

	while (!*flag && now_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE);
	}
}

/* Let the server read the last ACKs. */
static void settle(struct fx *f, struct tftp_srv *srv)
{
	struct tftp_srv_stats st;
	int64_t end = now_ms() + 5000;

	do {
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		tftp_srv_stats(srv, &st);
	} while (st.active && now_ms() < end);
}

static void req_init(struct tftp_cli_req *r, uint16_t port, const char *file)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(
	        inet_pton(AF_INET, "127.0.0.1",
	                  &((struct sockaddr_in *)&r->server)->sin_addr),
	        1);
	((struct sockaddr_in *)&r->server)->sin_family = AF_INET;
	((struct sockaddr_in *)&r->server)->sin_port = htons(port);
	r->server_len = sizeof(struct sockaddr_in);
	r->file = file;
	r->timeout_ms = 60;
	r->retries = 5;
}

/* Fetch on the fixture's loop; returns the error, fills out. */
static int fetch(struct fx *f, const struct tftp_cli_req *r, struct buf *out,
                 struct tftp_cli_info *info)
{
	struct tftp_cli *c = NULL;
	struct done d = {0};
	int err = tftp_cli_start(&c, f->base, r, on_done, &d);

	if (err) {
		return err;
	}
	run_until(f->base, &d.done, 60000);
	assert_true(d.done);
	if (info) {
		tftp_cli_info(c, info);
	}
	if (!d.err) {
		struct buf *b = tftp_cli_data(c);

		buf_put(out, b->p, b->len);
	}
	tftp_cli_free(c);
	return d.err;
}

static void expect_file(struct fx *f, const char *name, const struct buf *b)
{
	char path[PATH_MAX * 2];
	struct stat st;
	uint8_t *want;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->root, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((size_t)st.st_size, b->len);
	want = malloc((size_t)st.st_size + 1);
	assert_non_null(want);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(want, 1, (size_t)st.st_size, fp),
	                 (size_t)st.st_size);
	fclose(fp);
	if (b->len) {
		assert_memory_equal(want, b->p, b->len);
	}
	free(want);
}

struct get_case {
	const char *file;
	uint16_t blksize, window;
	bool tsize;
	int err;          /* 0: the bytes must equal root/<file> */
	uint16_t errcode; /* the server's error code */
	const char *same; /* compare against this file instead */
};

static const struct get_case gets[] = {
        {"CTLFile.tlv", 0, 0, false, 0, 0, NULL},
        {"CTLFile.tlv", 1428, 0, true, 0, 0, NULL},
        {"CTLFile.tlv", 8, 16, true, 0, 0, NULL},
        {"CTLFile.tlv", 65464, 4, true, 0, 0, NULL},
        {"mult.bin", 1024, 0, false, 0, 0, NULL}, /* ends with 0 bytes */
        {"mult.bin", 1024, 4, true, 0, 0, NULL},
        {"mult.bin", 512, 8, false, 0, 0, NULL},
        {"empty.bin", 0, 0, false, 0, 0, NULL},
        {"empty.bin", 512, 3, true, 0, 0, NULL},
        {"sub/c.bin", 0, 2, false, 0, 0, NULL},
        {"inside", 0, 0, false, 0, 0, "sub/c.bin"}, /* symlink in the root */
        /* refused */
        {"missing.bin", 0, 0, false, -TL_ENOTFOUND, TFTP_ENOTFOUND, NULL},
        {"sub/missing", 512, 0, true, -TL_ENOTFOUND, TFTP_ENOTFOUND, NULL},
        {"sub", 0, 0, false, -TL_ENOTFOUND, TFTP_ENOTFOUND, NULL},
        {"escape", 0, 0, false, -EACCES, TFTP_EACCESS, NULL},
        {"abs", 0, 0, false, -EACCES, TFTP_EACCESS, NULL},
        {"../secret.txt", 0, 0, false, -EACCES, TFTP_EACCESS, NULL},
        {"sub/../../secret.txt", 0, 0, false, -EACCES, TFTP_EACCESS, NULL},
        {"/etc/passwd", 0, 0, false, -EACCES, TFTP_EACCESS, NULL},
        {"./CTLFile.tlv", 0, 0, false, -EACCES, TFTP_EACCESS, NULL},
        {"sub//c.bin", 0, 0, false, -EACCES, TFTP_EACCESS, NULL},
        {"..\\secret.txt", 0, 0, false, -EACCES, TFTP_EACCESS, NULL},
        {"a\x01z", 0, 0, false, -EACCES, TFTP_EACCESS, NULL},
        {"a\tz", 0, 0, false, -EACCES, TFTP_EACCESS, NULL},
        {"broken.cnf.xml", 0, 0, false, -EACCES, TFTP_EACCESS, NULL},
};

static void test_get_table(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		const struct get_case *t = &gets[i];
		struct tftp_cli_req r;
		struct tftp_cli_info info;
		struct buf b;
		int err;

		req_init(&r, tftp_srv_port(f->srv), t->file);
		r.blksize = t->blksize;
		r.window = t->window;
		r.tsize = t->tsize;
		buf_init(&b, 0);
		err = fetch(f, &r, &b, &info);
		if (err != t->err) {
			fail_msg("%s: got %d, want %d", t->file, err, t->err);
		}
		if (!err) {
			expect_file(f, t->same ? t->same : t->file, &b);
			assert_int_equal(info.blksize,
			                 t->blksize ? t->blksize : 512);
			assert_int_equal(info.window,
			                 t->window ? t->window : 1);
			assert_int_equal(info.retransmits, 0);
			if (t->tsize) {
				assert_int_equal(info.tsize, b.len);
			}
		} else {
			assert_int_equal(info.errcode, t->errcode);
		}
		buf_free(&b);
	}
}

static void test_generated(void **state)
{
	struct fx *f = *state;
	struct tftp_cli_req r;
	struct buf b;

	req_init(&r, tftp_srv_port(f->srv), "SEP001122334455.cnf.xml");
	r.tsize = true;
	buf_init(&b, 0);
	assert_int_equal(fetch(f, &r, &b, NULL), 0);
	assert_int_equal(b.len, 60);
	assert_memory_equal(b.p, "<device><deviceSecurityMode>1", 29);
	buf_free(&b);
}

/* RFC 1350: block numbers are 16 bits; 65537 blocks wrap to 0 and on. */
static void test_rollover(void **state)
{
	struct fx *f = *state;
	struct tftp_srv_stats st;
	struct tftp_cli_info info;
	struct tftp_cli_req r;
	struct buf b;

	req_init(&r, tftp_srv_port(f->srv), "big.bin");
	r.blksize = 8;
	r.window = 32;
	r.timeout_ms = 500;
	buf_init(&b, 0);
	assert_int_equal(fetch(f, &r, &b, &info), 0);
	assert_int_equal(b.len, f->big_len);
	assert_memory_equal(b.p, f->big, f->big_len);
	assert_int_equal(info.blocks, 65537);
	settle(f, f->srv);
	tftp_srv_stats(f->srv, &st);
	assert_int_equal(st.rollovers, 1);
	assert_int_equal(st.active, 0);
	buf_free(&b);
}

/* ---- raw packets ---- */

static int raw_sock(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void raw_send(int fd, uint16_t port, const void *p, size_t n)
{
	struct sockaddr_in a = {.sin_family = AF_INET};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	assert_int_equal(sendto(fd, p, n, 0, (struct sockaddr *)&a, sizeof(a)),
	                 (ssize_t)n);
}

/* Receive one datagram within limit_ms while the loop runs; returns its
 * length or -1, and the sender's port. */
static ssize_t raw_recv(struct fx *f, int fd, uint8_t *p, size_t cap,
                        uint16_t *port, int limit_ms)
{
	int64_t end = now_ms() + limit_ms;

	do {
		struct sockaddr_in a;
		socklen_t al = sizeof(a);
		ssize_t n = recvfrom(fd, p, cap, 0, (struct sockaddr *)&a, &al);

		if (n >= 0) {
			if (port) {
				*port = ntohs(a.sin_port);
			}
			return n;
		}
		event_base_loop(f->base, EVLOOP_ONCE);
	} while (now_ms() < end);
	return -1;
}

struct raw_case {
	const char *what;
	const uint8_t *p;
	size_t len;
	uint16_t code; /* expected error code */
};

#define PKT(s) (const uint8_t *)(s), sizeof(s) - 1

static const struct raw_case raws[] = {
        {"WRQ", PKT("\0\2CTLFile.tlv\0octet\0"), TFTP_EACCESS},
        {"blksize 7",
         PKT("\0\1CTLFile.tlv\0octet\0blksize\0"
             "7\0"),
         TFTP_EOPTNEG},
        {"blksize 65465",
         PKT("\0\1CTLFile.tlv\0octet\0blksize\0"
             "65465\0"),
         TFTP_EOPTNEG},
        {"blksize overflow",
         PKT("\0\1CTLFile.tlv\0octet\0blksize\0"
             "99999999999999999999999\0"),
         TFTP_EOPTNEG},
        {"blksize x", PKT("\0\1CTLFile.tlv\0octet\0blksize\0x\0"),
         TFTP_EOPTNEG},
        {"windowsize 0",
         PKT("\0\1CTLFile.tlv\0octet\0windowsize\0"
             "0\0"),
         TFTP_EOPTNEG},
        {"windowsize 65536",
         PKT("\0\1CTLFile.tlv\0octet\0windowsize\0"
             "65536\0"),
         TFTP_EOPTNEG},
        {"timeout 0",
         PKT("\0\1CTLFile.tlv\0octet\0timeout\0"
             "0\0"),
         TFTP_EOPTNEG},
        {"timeout 256",
         PKT("\0\1CTLFile.tlv\0octet\0timeout\0"
             "256\0"),
         TFTP_EOPTNEG},
        {"tsize -1", PKT("\0\1CTLFile.tlv\0octet\0tsize\0-1\0"), TFTP_EOPTNEG},
        {"duplicate option",
         PKT("\0\1CTLFile.tlv\0octet\0tsize\0"
             "0\0TSize\0"
             "0\0"),
         TFTP_EOPTNEG},
        {"netascii (disabled)", PKT("\0\1text.txt\0netascii\0"), TFTP_EBADOP},
        {"mail mode", PKT("\0\1text.txt\0mail\0"), TFTP_EBADOP},
        {"unknown mode", PKT("\0\1text.txt\0binary\0"), TFTP_EBADOP},
        {"truncated RRQ", PKT("\0\1text.txt\0oct"), TFTP_EBADOP},
        {"ACK to the server port", PKT("\0\4\0\1"), TFTP_EBADOP},
        {"DATA to the server port", PKT("\0\3\0\1abc"), TFTP_EBADOP},
};

static void test_refusals(void **state)
{
	struct fx *f = *state;
	int fd = raw_sock();

	for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		const struct raw_case *t = &raws[i];
		uint8_t rx[1024];
		struct tftp_pkt pkt;
		ssize_t n;

		raw_send(fd, tftp_srv_port(f->srv), t->p, t->len);
		n = raw_recv(f, fd, rx, sizeof(rx), NULL, 2000);
		if (n < 0) {
			fail_msg("%s: no answer", t->what);
		}
		assert_int_equal(tftp_pkt_parse(&pkt, rx, (size_t)n), 0);
		if (pkt.op != TFTP_ERROR || pkt.code != t->code) {
			fail_msg("%s: op %d code %u, want error %u", t->what,
			         pkt.op, pkt.code, t->code);
		}
		assert_true(pkt.msg.len > 0);
	}
	/* Garbage that is no request gets no answer at all. */
	raw_send(fd, tftp_srv_port(f->srv), "\0\5\0\1x\0", 6);
	raw_send(fd, tftp_srv_port(f->srv), "\xff", 1);
	uint8_t rx[64];

	assert_int_equal(raw_recv(f, fd, rx, sizeof(rx), NULL, 100), -1);
	close(fd);
}

/* Unknown options are ignored (RFC 2347); an oversized blksize is lowered
 * to the server's limit (RFC 2348), the window too (RFC 7440). */
static void test_negotiation(void **state)
{
	struct fx *f = *state;
	struct tftp_srv_cfg cfg = {.addr = "127.0.0.1",
	                           .max_blksize = 1024,
	                           .max_window = 4,
	                           .timeout_ms = 60};
	static const uint8_t rrq[] = "\0\1CTLFile.tlv\0OCTET\0foo\0bar\0"
	                             "BLKSIZE\0"
	                             "8192\0windowsize\0"
	                             "16\0"
	                             "timeout\0"
	                             "3\0tsize\0"
	                             "0\0";
	uint8_t rx[2048];
	struct tftp_pkt pkt;
	uint16_t tid = 0;
	ssize_t n;
	int fd;

	start_srv(f, &cfg);
	fd = raw_sock();
	raw_send(fd, tftp_srv_port(f->srv), rrq, sizeof(rrq) - 1);
	n = raw_recv(f, fd, rx, sizeof(rx), &tid, 2000);
	assert_true(n > 0);
	/* RFC 1350 §4: the answer comes from a fresh port. */
	assert_true(tid != tftp_srv_port(f->srv));
	assert_int_equal(tftp_pkt_parse(&pkt, rx, (size_t)n), 0);
	assert_int_equal(pkt.op, TFTP_OACK);
	assert_int_equal(pkt.nopts, 4);
	assert_true(slice_eq_str(tftp_pkt_opt(&pkt, "blksize"), "1024"));
	assert_true(slice_eq_str(tftp_pkt_opt(&pkt, "windowsize"), "4"));
	assert_true(slice_eq_str(tftp_pkt_opt(&pkt, "timeout"), "3"));
	assert_true(slice_eq_str(tftp_pkt_opt(&pkt, "tsize"), "5000"));
	assert_null(tftp_pkt_opt(&pkt, "foo").p);
	/* ACK 0 starts a window of 4 blocks of 1024 bytes. */
	raw_send(fd, tid, "\0\4\0\0", 4);
	for (int i = 1; i <= 4; i++) {
		n = raw_recv(f, fd, rx, sizeof(rx), NULL, 2000);
		assert_int_equal(n, 4 + 1024);
		assert_int_equal(tftp_pkt_parse(&pkt, rx, (size_t)n), 0);
		assert_int_equal(pkt.op, TFTP_DATA);
		assert_int_equal(pkt.block, i);
	}
	/* Abort: the server forgets the transfer. */
	raw_send(fd, tid, "\0\5\0\0stop\0", 9);
	raw_recv(f, fd, rx, sizeof(rx), NULL, 50);
	struct tftp_srv_stats st;

	tftp_srv_stats(f->srv, &st);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.failed, 1);
	close(fd);
}

/* RFC 1350 §4 (Sorcerer's Apprentice): a duplicate ACK is not answered;
 * the lost-packet case is the timer's job. */
static void test_duplicate_ack(void **state)
{
	struct fx *f = *state;
	struct tftp_srv_cfg cfg = {.addr = "127.0.0.1", .timeout_ms = 1000};
	uint8_t rx[1024];
	struct tftp_pkt pkt;
	uint16_t tid = 0;
	ssize_t n;
	int fd;

	start_srv(f, &cfg);
	fd = raw_sock();
	raw_send(fd, tftp_srv_port(f->srv), PKT("\0\1CTLFile.tlv\0octet\0"));
	n = raw_recv(f, fd, rx, sizeof(rx), &tid, 2000);
	assert_int_equal(n, 516);
	raw_send(fd, tid, "\0\4\0\1", 4);
	raw_send(fd, tid, "\0\4\0\1", 4);
	raw_send(fd, tid, "\0\4\0\1", 4);
	n = raw_recv(f, fd, rx, sizeof(rx), NULL, 2000);
	assert_int_equal(tftp_pkt_parse(&pkt, rx, (size_t)n), 0);
	assert_int_equal(pkt.block, 2);
	/* No second DATA 2 before the retransmission timer (1 s). */
	assert_int_equal(raw_recv(f, fd, rx, sizeof(rx), NULL, 300), -1);
	close(fd);

	/* RFC 2347: an OACK is acknowledged with block 0 only; an ACK of
	 * another block starts nothing (the next packet is no DATA before
	 * the OACK's retransmission timer). */
	fd = raw_sock();
	raw_send(fd, tftp_srv_port(f->srv),
	         PKT("\0\1CTLFile.tlv\0octet\0tsize\0"
	             "0\0"));
	n = raw_recv(f, fd, rx, sizeof(rx), &tid, 2000);
	assert_true(n > 0);
	assert_int_equal(tftp_pkt_parse(&pkt, rx, (size_t)n), 0);
	assert_int_equal(pkt.op, TFTP_OACK);
	raw_send(fd, tid, "\0\4\0\1", 4);
	assert_int_equal(raw_recv(f, fd, rx, sizeof(rx), NULL, 300), -1);
	raw_send(fd, tid, "\0\4\0\0", 4);
	n = raw_recv(f, fd, rx, sizeof(rx), NULL, 2000);
	assert_int_equal(n, 516);
	assert_int_equal(tftp_pkt_parse(&pkt, rx, (size_t)n), 0);
	assert_int_equal(pkt.op, TFTP_DATA);
	assert_int_equal(pkt.block, 1);
	close(fd);
}

/* A silent client: the server retransmits with backoff, a bounded number
 * of times, then forgets the transfer. */
static void test_server_gives_up(void **state)
{
	struct fx *f = *state;
	struct tftp_srv_cfg cfg = {
	        .addr = "127.0.0.1", .timeout_ms = 20, .retries = 3};
	struct tftp_srv_stats st;
	uint8_t rx[1024];
	int64_t t0, t_last = 0;
	int fd, count = 0;

	start_srv(f, &cfg);
	fd = raw_sock();
	t0 = now_ms();
	raw_send(fd, tftp_srv_port(f->srv), PKT("\0\1CTLFile.tlv\0octet\0"));
	while (raw_recv(f, fd, rx, sizeof(rx), NULL, 1000) == 516) {
		count++;
		t_last = now_ms();
	}
	/* The first send and three retries: 20 + 40 + 80 ms of backoff. */
	assert_int_equal(count, 4);
	/* 60 ms without backoff; libevent's coarse clock may fire early. */
	assert_true(t_last - t0 >= 100);
	tftp_srv_stats(f->srv, &st);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.retransmits, 3);
	close(fd);
}

/* A client repeating a stale ACK does not keep a transfer alive: the
 * retransmission deadline only moves when the transfer does. */
static void test_stale_acks(void **state)
{
	struct fx *f = *state;
	struct tftp_srv_cfg cfg = {
	        .addr = "127.0.0.1", .timeout_ms = 50, .retries = 2};
	struct tftp_srv_stats st;
	uint8_t rx[1024];
	uint16_t tid = 0;
	int64_t end;
	int fd, data = 0;

	start_srv(f, &cfg);
	fd = raw_sock();
	raw_send(fd, tftp_srv_port(f->srv), PKT("\0\1CTLFile.tlv\0octet\0"));
	end = now_ms() + 3000;
	do {
		ssize_t n = raw_recv(f, fd, rx, sizeof(rx), &tid, 10);

		if (n == 516) {
			data++;
		}
		if (tid) {
			raw_send(fd, tid, "\0\4\0\0", 4); /* stale */
		}
		tftp_srv_stats(f->srv, &st);
	} while (st.active && now_ms() < end);
	/* 50 + 100 + 200 ms of backoff, then the transfer is dropped. */
	assert_int_equal(st.active, 0);
	assert_int_equal(st.failed, 1);
	assert_int_equal(data, 3);
	assert_true(now_ms() < end);
	close(fd);
}

/* The client against a scripted server: transfer IDs (RFC 1350 §4) and
 * OACK checks (RFC 2347). */
struct script {
	bool done;
	int err;
};

static void script_done(struct tftp_cli *c, int err, void *arg)
{
	struct script *sc = arg;

	sc->done = true;
	sc->err = err;
}

static uint16_t port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	return ntohs(a.sin_port);
}

static void test_client_protocol(void **state)
{
	struct fx *f = *state;
	int lfd = raw_sock(), tid = raw_sock(), other = raw_sock();
	struct tftp_cli_req r;
	struct tftp_cli *c = NULL;
	struct script sc = {0};
	struct tftp_pkt pkt;
	uint8_t rx[1024], blk[516];
	uint16_t cport = 0;
	ssize_t n;

	/* 1. A DATA from a third port is answered with error 5 and does
	 * not disturb the transfer. */
	req_init(&r, port_of(lfd), "x.bin");
	assert_int_equal(tftp_cli_start(&c, f->base, &r, script_done, &sc), 0);
	n = raw_recv(f, lfd, rx, sizeof(rx), &cport, 2000);
	assert_true(n > 0);
	assert_int_equal(tftp_pkt_parse(&pkt, rx, (size_t)n), 0);
	assert_int_equal(pkt.op, TFTP_RRQ);
	memset(blk, 'a', sizeof(blk));
	tftp_hdr_data(blk, 1);
	raw_send(tid, cport, blk, 516);
	n = raw_recv(f, tid, rx, sizeof(rx), NULL, 2000);
	assert_int_equal(n, 4); /* ACK 1 */
	tftp_hdr_data(blk, 2);
	raw_send(other, cport, blk, 100);
	n = raw_recv(f, other, rx, sizeof(rx), NULL, 2000);
	assert_true(n > 0);
	assert_int_equal(tftp_pkt_parse(&pkt, rx, (size_t)n), 0);
	assert_int_equal(pkt.op, TFTP_ERROR);
	assert_int_equal(pkt.code, TFTP_EBADID);
	assert_false(sc.done);
	raw_send(tid, cport, blk, 100); /* the real block 2, the last */
	run_until(f->base, &sc.done, 2000);
	assert_true(sc.done);
	assert_int_equal(sc.err, 0);
	assert_int_equal(tftp_cli_data(c)->len, 512 + 96);
	tftp_cli_free(c);
	c = NULL;
	while (recv(tid, rx, sizeof(rx), 0) > 0) {
	}

	/* 2. An OACK with a larger block than asked is refused with
	 * error 8; 3. so is an option we did not ask for. */
	static const struct {
		const uint8_t *p;
		size_t len;
	} bad[] = {
	        {PKT("\0\6blksize\0"
	             "2000\0")},
	        {PKT("\0\6windowsize\0"
	             "2\0")},
	        {PKT("\0\6blksize\0"
	             "7\0")},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&sc, 0, sizeof(sc));
		req_init(&r, port_of(lfd), "x.bin");
		r.blksize = 1024;
		assert_int_equal(
		        tftp_cli_start(&c, f->base, &r, script_done, &sc), 0);
		n = raw_recv(f, lfd, rx, sizeof(rx), &cport, 2000);
		assert_true(n > 0);
		raw_send(tid, cport, bad[i].p, bad[i].len);
		run_until(f->base, &sc.done, 2000);
		assert_true(sc.done);
		assert_int_equal(sc.err, -TL_EPARSE);
		n = raw_recv(f, tid, rx, sizeof(rx), NULL, 2000);
		assert_true(n > 0);
		assert_int_equal(tftp_pkt_parse(&pkt, rx, (size_t)n), 0);
		assert_int_equal(pkt.op, TFTP_ERROR);
		assert_int_equal(pkt.code, TFTP_EOPTNEG);
		tftp_cli_free(c);
		c = NULL;
	}

	/* 4. A server error ends the transfer with its code and its
	 * message, made printable. */
	memset(&sc, 0, sizeof(sc));
	req_init(&r, port_of(lfd), "x.bin");
	assert_int_equal(tftp_cli_start(&c, f->base, &r, script_done, &sc), 0);
	n = raw_recv(f, lfd, rx, sizeof(rx), &cport, 2000);
	raw_send(tid, cport, PKT("\0\5\0\1no\x01such\0"));
	run_until(f->base, &sc.done, 2000);
	assert_int_equal(sc.err, -TL_ENOTFOUND);
	struct tftp_cli_info info;

	tftp_cli_info(c, &info);
	assert_int_equal(info.errcode, 1);
	assert_string_equal(info.errmsg, "no?such");
	tftp_cli_free(c);

	/* 5. A block larger than negotiated (no options: 512) is refused
	 * with error 4 and nothing of it is kept. */
	{
		uint8_t big[4 + 513] = {0, 3, 0, 1};

		memset(&sc, 0, sizeof(sc));
		req_init(&r, port_of(lfd), "x.bin");
		assert_int_equal(
		        tftp_cli_start(&c, f->base, &r, script_done, &sc), 0);
		n = raw_recv(f, lfd, rx, sizeof(rx), &cport, 2000);
		assert_true(n > 0);
		raw_send(tid, cport, big, sizeof(big));
		run_until(f->base, &sc.done, 2000);
		assert_true(sc.done);
		assert_int_equal(sc.err, -EPROTO);
		assert_int_equal(tftp_cli_data(c)->len, 0);
		n = raw_recv(f, tid, rx, sizeof(rx), NULL, 2000);
		assert_true(n > 0);
		assert_int_equal(tftp_pkt_parse(&pkt, rx, (size_t)n), 0);
		assert_int_equal(pkt.op, TFTP_ERROR);
		assert_int_equal(pkt.code, TFTP_EBADOP);
		tftp_cli_free(c);
	}
	close(lfd);
	close(tid);
	close(other);
}

/* The client against a server that never answers: bounded retries. */
static void test_client_timeout(void **state)
{
	struct fx *f = *state;
	int dead = raw_sock();
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	struct tftp_cli_info info;
	struct tftp_cli_req r;
	uint8_t rx[600];
	struct buf b;
	int64_t t0;
	int rrqs = 0;

	assert_int_equal(getsockname(dead, (struct sockaddr *)&a, &al), 0);
	req_init(&r, ntohs(a.sin_port), "CTLFile.tlv");
	r.timeout_ms = 30;
	r.retries = 3;
	buf_init(&b, 0);
	t0 = now_ms();
	assert_int_equal(fetch(f, &r, &b, &info), -ETIMEDOUT);
	/* 30 + 60 + 120 + 240 ms. */
	assert_true(now_ms() - t0 >= 400);
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(info.retransmits, 3);
	while (recv(dead, rx, sizeof(rx), 0) > 0) {
		rrqs++;
	}
	assert_int_equal(rrqs, 4);
	buf_free(&b);
	close(dead);
}

static void test_client_limits(void **state)
{
	struct fx *f = *state;
	struct tftp_cli_req r;
	struct tftp_cli_info info;
	struct tftp_srv_stats st;
	struct buf b;

	buf_init(&b, 0);
	/* Refused from the tsize in the OACK. */
	req_init(&r, tftp_srv_port(f->srv), "CTLFile.tlv");
	r.tsize = true;
	r.max_size = 4999;
	assert_int_equal(fetch(f, &r, &b, &info), -TL_ETOOBIG);
	assert_int_equal(info.blocks, 0);
	/* Refused while receiving. */
	req_init(&r, tftp_srv_port(f->srv), "CTLFile.tlv");
	r.max_size = 1000;
	assert_int_equal(fetch(f, &r, &b, &info), -TL_ETOOBIG);
	assert_int_equal(info.blocks, 1);
	/* Exactly the size is fine. */
	req_init(&r, tftp_srv_port(f->srv), "CTLFile.tlv");
	r.max_size = 5000;
	assert_int_equal(fetch(f, &r, &b, NULL), 0);
	assert_int_equal(b.len, 5000);
	buf_free(&b);
	/* Both aborted transfers were ended by the client's error packet. */
	bool later = false;

	run_until(f->base, &later, 100);
	tftp_srv_stats(f->srv, &st);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.failed, 2);
	/* Bad requests never leave the client. */
	req_init(&r, tftp_srv_port(f->srv), "x");
	r.blksize = 7;
	struct tftp_cli *c = NULL;

	assert_int_equal(tftp_cli_start(&c, f->base, &r, on_done, NULL),
	                 -TL_EPARSE);
	assert_null(c);
}

static void test_rate_limit(void **state)
{
	struct fx *f = *state;
	struct tftp_srv_cfg cfg = {
	        .addr = "127.0.0.1", .rate = 3, .timeout_ms = 1000};
	struct tftp_srv_stats st;
	uint8_t rx[1024];
	int fd, got = 0;

	start_srv(f, &cfg);
	fd = raw_sock();
	for (int i = 0; i < 8; i++) {
		raw_send(fd, tftp_srv_port(f->srv),
		         PKT("\0\1CTLFile.tlv\0octet\0"));
	}
	while (raw_recv(f, fd, rx, sizeof(rx), NULL, 200) > 0) {
		got++;
	}
	tftp_srv_stats(f->srv, &st);
	/* Within one second: 3 admitted, 5 dropped (unless the second
	 * turned over during the burst). */
	assert_true(st.started >= 3 && st.started <= 6);
	assert_int_equal(st.started + st.rate_limited, 8);
	assert_int_equal(got, (int)st.started);
	close(fd);
}

static void test_netascii(void **state)
{
	struct fx *f = *state;
	struct tftp_srv_cfg cfg = {
	        .addr = "127.0.0.1", .netascii = true, .timeout_ms = 60};
	uint8_t rx[1024];
	struct tftp_pkt pkt;
	uint16_t tid = 0;
	ssize_t n;
	int fd;

	start_srv(f, &cfg);
	fd = raw_sock();
	raw_send(fd, tftp_srv_port(f->srv),
	         PKT("\0\1text.txt\0NETASCII\0tsize\0"
	             "0\0"));
	n = raw_recv(f, fd, rx, sizeof(rx), &tid, 2000);
	assert_true(n > 0);
	assert_int_equal(tftp_pkt_parse(&pkt, rx, (size_t)n), 0);
	assert_int_equal(pkt.op, TFTP_OACK);
	/* RFC 1350: LF -> CR LF, CR -> CR NUL; "a\nb\rc\r\n" has 7 bytes,
	 * 11 in netascii. */
	assert_true(slice_eq_str(tftp_pkt_opt(&pkt, "tsize"), "11"));
	raw_send(fd, tid, "\0\4\0\0", 4);
	n = raw_recv(f, fd, rx, sizeof(rx), NULL, 2000);
	assert_int_equal(n, 15);
	assert_memory_equal(rx + 4, "a\r\nb\r\0c\r\0\r\n", 11);
	raw_send(fd, tid, "\0\4\0\1", 4);
	close(fd);
}

/* ---- a lossy relay between client and server ----
 * It mirrors the server's transfer IDs: each server port gets its own
 * client-facing socket, so the client sees as many TIDs as the server
 * uses (a lost OACK makes the client repeat its RRQ, which starts a
 * second transfer on a second port). */

#define RELAY_TIDS 8

struct relay;

struct relay_port {
	struct relay *r;
	int cfd; /* client-facing */
	struct event *ev;
	struct sockaddr_in server; /* where its packets go (listen or TID) */
};

struct relay {
	struct fx *f;
	int sfd; /* server-facing */
	struct event *sev;
	struct relay_port ports[RELAY_TIDS]; /* [0]: the listen port */
	size_t nports;
	struct sockaddr_in client;
	bool have_client;
	unsigned n_down, n_up;                 /* packets seen per direction */
	unsigned drop_down, drop_up, dup_down; /* every Nth (0: never) */
	const unsigned *drop_list; /* server->client packets to drop once */
	size_t ndrop_list;
	unsigned dropped, duplicated;
};

static bool in_list(const struct relay *r, unsigned n)
{
	for (size_t i = 0; i < r->ndrop_list; i++) {
		if (r->drop_list[i] == n) {
			return true;
		}
	}
	return false;
}

static void relay_up(evutil_socket_t fd, short what, void *arg)
{
	struct relay_port *rp = arg;
	struct relay *r = rp->r;
	uint8_t p[70000];
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	ssize_t n;

	while ((n = recvfrom(fd, p, sizeof(p), 0, (struct sockaddr *)&a,
	                     &al)) >= 0) {
		al = sizeof(a);
		r->client = a;
		r->have_client = true;
		r->n_up++;
		if (r->drop_up && r->n_up % r->drop_up == 0) {
			r->dropped++;
			continue;
		}
		(void)!sendto(r->sfd, p, (size_t)n, 0,
		              (struct sockaddr *)&rp->server,
		              sizeof(rp->server));
	}
}

static struct relay_port *relay_port_add(struct relay *r,
                                         const struct sockaddr_in *server)
{
	struct relay_port *rp = &r->ports[r->nports++];

	assert_true(r->nports <= RELAY_TIDS);
	rp->r = r;
	rp->cfd = raw_sock();
	rp->server = *server;
	rp->ev = event_new(r->f->base, rp->cfd, EV_READ | EV_PERSIST, relay_up,
	                   rp);
	event_add(rp->ev, NULL);
	return rp;
}

static void relay_down(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	uint8_t p[70000];
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	ssize_t n;

	while ((n = recvfrom(fd, p, sizeof(p), 0, (struct sockaddr *)&a,
	                     &al)) >= 0) {
		struct relay_port *rp = NULL;

		al = sizeof(a);
		for (size_t i = 1; i < r->nports; i++) {
			if (r->ports[i].server.sin_port == a.sin_port) {
				rp = &r->ports[i];
			}
		}
		if (!rp) {
			rp = relay_port_add(r, &a);
		}
		r->n_down++;
		if (!r->have_client) {
			continue;
		}
		if (in_list(r, r->n_down) ||
		    (r->drop_down && r->n_down % r->drop_down == 0)) {
			r->dropped++;
			continue;
		}
		(void)!sendto(rp->cfd, p, (size_t)n, 0,
		              (struct sockaddr *)&r->client, sizeof(r->client));
		if (r->dup_down && r->n_down % r->dup_down == 0) {
			r->duplicated++;
			(void)!sendto(rp->cfd, p, (size_t)n, 0,
			              (struct sockaddr *)&r->client,
			              sizeof(r->client));
		}
	}
}

static uint16_t relay_start(struct relay *r, struct fx *f)
{
	struct sockaddr_in a, srv = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	struct relay_port *rp;

	r->f = f;
	r->sfd = raw_sock();
	srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.sin_port = htons(tftp_srv_port(f->srv));
	rp = relay_port_add(r, &srv);
	r->sev =
	        event_new(f->base, r->sfd, EV_READ | EV_PERSIST, relay_down, r);
	event_add(r->sev, NULL);
	assert_int_equal(getsockname(rp->cfd, (struct sockaddr *)&a, &al), 0);
	return ntohs(a.sin_port);
}

static void relay_stop(struct relay *r)
{
	for (size_t i = 0; i < r->nports; i++) {
		event_free(r->ports[i].ev);
		close(r->ports[i].cfd);
	}
	event_free(r->sev);
	close(r->sfd);
}

struct fault_case {
	const char *what;
	uint16_t blksize, window;
	unsigned drop_down, drop_up, dup_down;
	unsigned drops[4];
	size_t ndrops;
};

static const struct fault_case faults[] = {
        {"lock-step, drop 1/7 down, dup 1/5", 512, 0, 7, 0, 5, {0}, 0},
        {"lock-step, drop 1/5 up", 512, 0, 0, 5, 0, {0}, 0},
        {"window 4, one lost in the window", 512, 4, 0, 0, 0, {4}, 1},
        {"window 4, two lost in one window", 512, 4, 0, 0, 0, {3, 5}, 2},
        {"window 8, drop 1/9 both ways, dup 1/4", 1024, 8, 9, 9, 4, {0}, 0},
        {"window 16, first block lost", 256, 16, 0, 0, 0, {2}, 1},
        {"OACK lost", 512, 4, 0, 0, 0, {1}, 1},
        {"last block lost", 1428, 0, 0, 0, 0, {5}, 1},
};

static void test_faults(void **state)
{
	struct fx *f = *state;
	struct tftp_srv_cfg cfg = {
	        .addr = "127.0.0.1", .timeout_ms = 40, .retries = 8};
	static uint8_t want[100000];

	fill(want, sizeof(want), 9);
	write_file(f->root, "fault.bin", want, sizeof(want));
	start_srv(f, &cfg);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		const struct fault_case *t = &faults[i];
		struct relay r = {0};
		struct tftp_cli_req req;
		struct tftp_cli_info info;
		struct buf b;
		int err;

		r.drop_down = t->drop_down;
		r.drop_up = t->drop_up;
		r.dup_down = t->dup_down;
		r.drop_list = t->drops;
		r.ndrop_list = t->ndrops;
		req_init(&req, relay_start(&r, f),
		         strcmp(t->what, "last block lost") == 0 ? "CTLFile.tlv"
		                                                 : "fault.bin");
		req.blksize = t->blksize;
		req.window = t->window;
		req.timeout_ms = 40;
		req.retries = 8;
		buf_init(&b, 0);
		err = fetch(f, &req, &b, &info);
		if (err) {
			fail_msg("%s: %d", t->what, err);
		}
		if (strcmp(t->what, "last block lost") == 0) {
			expect_file(f, "CTLFile.tlv", &b);
		} else {
			assert_int_equal(b.len, sizeof(want));
			assert_memory_equal(b.p, want, sizeof(want));
		}
		assert_true(r.dropped > 0);
		if (t->dup_down) {
			assert_true(r.duplicated > 0);
		}
		buf_free(&b);
		relay_stop(&r);
	}
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/fault.bin", f->root);
	unlink(path);
}

/* Many transfers at once on one loop. */
#define NCONC 300

static void test_concurrent(void **state)
{
	struct fx *f = *state;
	static struct tftp_cli *c[NCONC];
	static struct done d[NCONC];
	struct tftp_srv_stats st;
	bool all = false;
	int64_t end;

	for (int i = 0; i < NCONC; i++) {
		struct tftp_cli_req r;

		req_init(&r, tftp_srv_port(f->srv),
		         i % 2 ? "CTLFile.tlv" : "mult.bin");
		r.blksize = i % 3 ? 1428 : 0;
		r.window = (uint16_t)(i % 4);
		r.timeout_ms = 500;
		d[i].done = false;
		assert_int_equal(
		        tftp_cli_start(&c[i], f->base, &r, on_done, &d[i]), 0);
	}
	end = now_ms() + 60000;
	while (!all && now_ms() < end) {
		event_base_loop(f->base, EVLOOP_ONCE);
		all = true;
		for (int i = 0; i < NCONC && all; i++) {
			all = d[i].done;
		}
	}
	assert_true(all);
	for (int i = 0; i < NCONC; i++) {
		assert_int_equal(d[i].err, 0);
		expect_file(f, i % 2 ? "CTLFile.tlv" : "mult.bin",
		            tftp_cli_data(c[i]));
		tftp_cli_free(c[i]);
	}
	settle(f, f->srv);
	tftp_srv_stats(f->srv, &st);
	if (st.completed != NCONC) {
		/* name the counters: a loaded machine and a lost last ACK
		 * look different here */
		fail_msg("completed %llu of %d: failed %llu, active %u, "
		         "retransmits %llu",
		         (unsigned long long)st.completed, NCONC,
		         (unsigned long long)st.failed, st.active,
		         (unsigned long long)st.retransmits);
	}
}

/* The same over IPv6 loopback. */
static void test_ipv6(void **state)
{
	struct fx *f = *state;
	struct tftp_srv_cfg cfg = {.addr = "::1", .timeout_ms = 60};
	struct tftp_cli_req r;
	struct tftp_srv *s6 = NULL;
	struct buf b;
	int err = tftp_srv_new(&s6, f->base, f->fs, &cfg);

	if (err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT) {
		skip();
	}
	assert_int_equal(err, 0);
	memset(&r, 0, sizeof(r));
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&r.server;

	a6->sin6_family = AF_INET6;
	a6->sin6_addr = in6addr_loopback;
	a6->sin6_port = htons(tftp_srv_port(s6));
	r.server_len = sizeof(*a6);
	r.file = "CTLFile.tlv";
	r.blksize = 1428;
	r.window = 2;
	buf_init(&b, 0);
	assert_int_equal(fetch(f, &r, &b, NULL), 0);
	expect_file(f, "CTLFile.tlv", &b);
	buf_free(&b);
	tftp_srv_free(s6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_get_table, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_generated, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_rollover, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_negotiation, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_duplicate_ack, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_server_gives_up, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_client_protocol, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_stale_acks, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_client_timeout, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_client_limits, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_rate_limit, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_netascii, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_concurrent, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
