/* HTTP provisioning (port 6970) against libevent's HTTP client on one
 * loop over loopback. */
#include "base/buf.h"
#include "prov/http_prov.h"
#include "prov/prov_fs.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

struct fx {
	char dir[PATH_MAX];
	char root[PATH_MAX + 8];
	struct event_base *base;
	struct prov_fs *fs;
	struct http_prov *hp;
	uint8_t big[100000];
};

static void put(const char *dir, const char *name, const void *p, size_t n)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static int gen(const char *name, struct buf *out, void *arg)
{
	if (strcmp(name, "SEP001122334455.cnf.xml") == 0) {
		buf_put_str(out, "<device/>");
		return 0;
	}
	return -TL_ENOTFOUND;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	struct http_prov_cfg cfg = {.addr = "127.0.0.1"};
	char p[PATH_MAX * 2];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/tl-http-XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->root, sizeof(f->root), "%s/root", f->dir);
	assert_int_equal(mkdir(f->root, 0755), 0);
	for (size_t i = 0; i < sizeof(f->big); i++) {
		f->big[i] = (uint8_t)(i * 7 + (i >> 8));
	}
	put(f->root, "CTLFile.tlv", f->big, sizeof(f->big));
	put(f->root, "a.xml", "<x/>", 4);
	put(f->root, "empty", "", 0);
	put(f->dir, "secret", "secret", 6);
	put(f->dir, "crl.der", "\x30\x03\x02\x01\x00", 5);
	snprintf(p, sizeof(p), "%s/escape", f->root);
	assert_int_equal(symlink("../secret", p), 0);
	f->base = event_base_new();
	assert_non_null(f->base);
	assert_int_equal(prov_fs_new(&f->fs, f->root), 0);
	prov_fs_set_gen(f->fs, gen, NULL);
	snprintf(p, sizeof(p), "%s/crl.der", f->dir);
	assert_int_equal(prov_fs_map(f->fs, "crl.der", p), 0);
	assert_int_equal(http_prov_new(&f->hp, f->base, f->fs, &cfg), 0);
	assert_true(http_prov_port(f->hp) != 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	static const char *const rm[] = {
	        "root/CTLFile.tlv", "root/a.xml", "root/empty",
	        "root/escape",      "root",       "secret",
	        "crl.der",
	};
	char p[PATH_MAX * 2];

	http_prov_free(f->hp);
	prov_fs_free(f->fs);
	event_base_free(f->base);
	for (size_t i = 0; i < sizeof(rm) / sizeof(rm[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, rm[i]);
		if (unlink(p) != 0) {
			rmdir(p);
		}
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

struct resp {
	bool done;
	int code;
	char ctype[64];
	long clen; /* -1: none */
	struct buf body;
};

static void on_resp(struct evhttp_request *req, void *arg)
{
	struct resp *r = arg;
	struct evbuffer *in;
	const char *v;

	r->done = true;
	if (!req) {
		r->code = -1;
		return;
	}
	r->code = evhttp_request_get_response_code(req);
	v = evhttp_find_header(evhttp_request_get_input_headers(req),
	                       "Content-Type");
	snprintf(r->ctype, sizeof(r->ctype), "%s", v ? v : "");
	v = evhttp_find_header(evhttp_request_get_input_headers(req),
	                       "Content-Length");
	r->clen = v ? strtol(v, NULL, 10) : -1;
	in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);

	if (n) {
		buf_put(&r->body, evbuffer_pullup(in, -1), n);
	}
}

static void request(struct fx *f, enum evhttp_cmd_type type, const char *uri,
                    struct resp *r)
{
	struct evhttp_connection *conn = evhttp_connection_base_new(
	        f->base, NULL, "127.0.0.1", http_prov_port(f->hp));
	struct evhttp_request *req;

	assert_non_null(conn);
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, 0);
	req = evhttp_request_new(on_resp, r);
	assert_non_null(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	                  "127.0.0.1");
	assert_int_equal(evhttp_make_request(conn, req, type, uri), 0);
	for (int i = 0; i < 1000 && !r->done; i++) {
		event_base_loop(f->base, EVLOOP_ONCE);
	}
	assert_true(r->done);
	evhttp_connection_free(conn);
}

struct http_case {
	enum evhttp_cmd_type type;
	const char *uri;
	int code;
	const char *ctype; /* NULL: not checked */
	long clen;         /* -2: not checked */
};

static const struct http_case cases[] = {
        {EVHTTP_REQ_GET, "/CTLFile.tlv", 200, "application/octet-stream",
         100000},
        {EVHTTP_REQ_HEAD, "/CTLFile.tlv", 200, "application/octet-stream",
         100000},
        {EVHTTP_REQ_GET, "/a.xml", 200, "text/xml", 4},
        {EVHTTP_REQ_GET, "/SEP001122334455.cnf.xml", 200, "text/xml", 9},
        {EVHTTP_REQ_HEAD, "/SEP001122334455.cnf.xml", 200, "text/xml", 9},
        {EVHTTP_REQ_GET, "/crl.der", 200, "application/pkix-crl", 5},
        {EVHTTP_REQ_GET, "/empty", 200, "application/octet-stream", 0},
        {EVHTTP_REQ_GET, "/a%2exml", 200, "text/xml", 4},
        {EVHTTP_REQ_GET, "/a.xml?x=1", 200, "text/xml", 4},
        /* refused */
        {EVHTTP_REQ_GET, "/missing", 404, NULL, -2},
        {EVHTTP_REQ_HEAD, "/missing", 404, NULL, -2},
        {EVHTTP_REQ_GET, "/", 404, NULL, -2},
        {EVHTTP_REQ_GET, "/../secret", 403, NULL, -2},
        {EVHTTP_REQ_GET, "/%2e%2e/secret", 403, NULL, -2},
        {EVHTTP_REQ_GET, "/%2Fetc%2Fpasswd", 403, NULL, -2},
        /* libevent reads "//etc" as an authority: the path is "/passwd",
         * inside the root. */
        {EVHTTP_REQ_GET, "//etc/passwd", 404, NULL, -2},
        {EVHTTP_REQ_GET, "/a.xml/", 403, NULL, -2},
        {EVHTTP_REQ_GET, "/escape", 403, NULL, -2},
        {EVHTTP_REQ_GET, "/a%00.xml", 400, NULL, -2},
        {EVHTTP_REQ_GET, "/a%0a.xml", 400, NULL, -2},
        {EVHTTP_REQ_GET, "/..%5csecret", 400, NULL, -2},
        {EVHTTP_REQ_POST, "/CTLFile.tlv", 405, NULL, -2},
        {EVHTTP_REQ_PUT, "/CTLFile.tlv", 405, NULL, -2},
        {EVHTTP_REQ_DELETE, "/CTLFile.tlv", 405, NULL, -2},
        {EVHTTP_REQ_OPTIONS, "/CTLFile.tlv", 405, NULL, -2},
        {EVHTTP_REQ_PATCH, "/CTLFile.tlv", 405, NULL, -2},
};

static void test_requests(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct http_case *t = &cases[i];
		struct resp r;

		request(f, t->type, t->uri, &r);
		if (r.code != t->code) {
			fail_msg("%s: got %d, want %d", t->uri, r.code,
			         t->code);
		}
		if (t->ctype) {
			assert_string_equal(r.ctype, t->ctype);
		}
		if (t->clen != -2) {
			assert_int_equal(r.clen, t->clen);
		}
		if (t->type == EVHTTP_REQ_HEAD) {
			assert_int_equal(r.body.len, 0);
		} else if (t->code == 200) {
			assert_int_equal(r.body.len, (size_t)t->clen);
		}
		buf_free(&r.body);
	}
}

static void test_bytes(void **state)
{
	struct fx *f = *state;
	struct resp r;

	request(f, EVHTTP_REQ_GET, "/CTLFile.tlv", &r);
	assert_int_equal(r.code, 200);
	assert_int_equal(r.body.len, sizeof(f->big));
	assert_memory_equal(r.body.p, f->big, sizeof(f->big));
	buf_free(&r.body);
	request(f, EVHTTP_REQ_GET, "/crl.der", &r);
	assert_memory_equal(r.body.p, "\x30\x03\x02\x01\x00", 5);
	buf_free(&r.body);
}

static void test_content_types(void **state)
{
	assert_string_equal(http_prov_content_type("SEP1.cnf.xml"), "text/xml");
	assert_string_equal(http_prov_content_type("SEP1.cnf.XML"), "text/xml");
	assert_string_equal(http_prov_content_type("SEP1.cnf.xml.sgn"),
	                    "application/octet-stream");
	assert_string_equal(http_prov_content_type("crl.der"),
	                    "application/pkix-crl");
	assert_string_equal(http_prov_content_type("pki/ca.crl"),
	                    "application/pkix-crl");
	assert_string_equal(http_prov_content_type("crl.pem"),
	                    "application/x-pem-file");
	assert_string_equal(http_prov_content_type("CTLFile.tlv"),
	                    "application/octet-stream");
	assert_string_equal(http_prov_content_type("xml"),
	                    "application/octet-stream");
}

static void test_port_taken(void **state)
{
	struct fx *f = *state;
	struct http_prov_cfg cfg = {.addr = "127.0.0.1",
	                            .port = http_prov_port(f->hp)};
	struct http_prov *hp = NULL;

	assert_true(http_prov_new(&hp, f->base, f->fs, &cfg) < 0);
	assert_null(hp);
	http_prov_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bytes, setup, teardown),
	        cmocka_unit_test(test_content_types),
	        cmocka_unit_test_setup_teardown(test_port_taken, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
