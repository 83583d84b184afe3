/* EST server (RFC 7030) on libevent's evhttp over bufferevent_openssl,
 * with the TLS policy of the net layer (net_tls.h). */
#include "enroll/est_srv.h"

#include "base/log.h"
#include "net/net.h"
#include "net/net_tls.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define EST_PREFIX "/.well-known/est/"

struct est_srv {
	struct enroll *e;
	struct net_tls *tls;
	struct evhttp *http;
	uint16_t port;
	struct buf cacerts; /* base64 certs-only of the site CA */
};

/* ---- the pure request path ---- */

int est_b64_decode(const uint8_t *p, size_t len, struct buf *out)
{
	uint8_t *clean;
	size_t n = 0, pad = 0;
	int err;

	if (len > EST_BODY_MAX * 2) {
		return -TL_ETOOBIG;
	}
	clean = malloc(len + 1);
	if (!clean) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			continue;
		}
		clean[n++] = c;
	}
	if (n == 0 || n % 4 != 0) {
		free(clean);
		return -TL_EPARSE;
	}
	/* '=' only as the last one or two characters */
	for (size_t i = 0; i < n; i++) {
		if (clean[i] == '=' && i < n - 2) {
			free(clean);
			return -TL_EPARSE;
		}
	}
	pad = (clean[n - 1] == '=') + (clean[n - 2] == '=');
	if (clean[n - 2] == '=' && clean[n - 1] != '=') {
		free(clean);
		return -TL_EPARSE;
	}
	err = buf_reserve(out, n / 4 * 3);
	if (err) {
		free(clean);
		return err;
	}
	int got = EVP_DecodeBlock(out->p + out->len, clean, (int)n);
	free(clean);
	if (got < 0 || (size_t)got < pad) {
		return -TL_EPARSE;
	}
	out->len += (size_t)got - pad;
	return 0;
}

static void b64_encode(struct buf *out, const uint8_t *p, size_t len)
{
	/* RFC 2045 §6.8 lines (64 characters here), as EST bodies are */
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int n = 0;

	if (!ctx || buf_reserve(out, len / 48 * 66 + 72) != 0) {
		EVP_ENCODE_CTX_free(ctx);
		if (out->err == 0) {
			out->err = -ENOMEM;
		}
		return;
	}
	EVP_EncodeInit(ctx);
	if (EVP_EncodeUpdate(ctx, out->p + out->len, &n, p, (int)len) != 1) {
		out->err = -TL_ECRYPTO;
		EVP_ENCODE_CTX_free(ctx);
		return;
	}
	out->len += (size_t)n;
	EVP_EncodeFinal(ctx, out->p + out->len, &n);
	out->len += (size_t)n;
	EVP_ENCODE_CTX_free(ctx);
}

int est_name_cn(const X509_NAME *n, char *out, size_t outlen)
{
	int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	unsigned char *u = NULL;
	int len, err = 0;

	if (i < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, i) >= 0) {
		return -TL_EPARSE;
	}
	len = ASN1_STRING_to_UTF8(
	        &u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
	if (len < 0) {
		return -TL_EPARSE;
	}
	if ((size_t)len >= outlen) {
		err = -TL_ETOOBIG;
	} else if (memchr(u, 0, (size_t)len) != NULL) {
		err = -TL_EPARSE;
	} else {
		memcpy(out, u, (size_t)len);
		out[len] = '\0';
	}
	OPENSSL_free(u);
	return err;
}

/* RFC 2985 §5.4.1 challengePassword: at most one, one value. */
static int req_challenge(const STACK_OF(X509_ATTRIBUTE) * attrs, char *out,
                         size_t outlen)
{
	int i = X509at_get_attr_by_NID(attrs, NID_pkcs9_challengePassword, -1);

	out[0] = '\0';
	if (i < 0) {
		return 0;
	}
	if (X509at_get_attr_by_NID(attrs, NID_pkcs9_challengePassword, i) >=
	    0) {
		return -TL_EPARSE;
	}
	X509_ATTRIBUTE *a = X509at_get_attr(attrs, i);
	if (a == NULL || X509_ATTRIBUTE_count(a) != 1) {
		return -TL_EPARSE;
	}
	ASN1_TYPE *t = X509_ATTRIBUTE_get0_type(a, 0);
	if (t == NULL ||
	    (t->type != V_ASN1_PRINTABLESTRING &&
	     t->type != V_ASN1_UTF8STRING && t->type != V_ASN1_IA5STRING)) {
		return -TL_EPARSE;
	}
	const ASN1_STRING *s = t->value.asn1_string;
	int len = ASN1_STRING_length(s);
	const unsigned char *d = ASN1_STRING_get0_data(s);
	if (len < 0 || (size_t)len >= outlen) {
		return -TL_ETOOBIG;
	}
	if (memchr(d, 0, (size_t)len) != NULL) {
		return -TL_EPARSE;
	}
	memcpy(out, d, (size_t)len);
	out[len] = '\0';
	return 0;
}

void est_req_clear(struct est_req *r)
{
	pki_csr_clear(&r->csr);
	buf_free_secret(&r->der); /* it may hold a challengePassword */
	OPENSSL_cleanse(r->challenge, sizeof(r->challenge));
	memset(r, 0, sizeof(*r));
}

int est_req_parse(struct est_req *r, const uint8_t *body, size_t len)
{
	int err;

	memset(r, 0, sizeof(*r));
	if (len > EST_BODY_MAX) {
		return -TL_ETOOBIG;
	}
	buf_init(&r->der, EST_BODY_MAX);
	err = est_b64_decode(body, len, &r->der);
	if (!err) {
		/* DER only: a PEM header is not base64 anyway */
		err = r->der.len > 0 && r->der.p[0] == 0x30
		              ? pki_csr_decode(&r->csr, r->der.p, r->der.len)
		              : -TL_EPARSE;
	}
	if (!err) {
		err = est_name_cn(r->csr.subject, r->cn, sizeof(r->cn));
	}
	if (!err) {
		err = req_challenge(r->csr.attrs, r->challenge,
		                    sizeof(r->challenge));
	}
	if (err) {
		est_req_clear(r);
	}
	return err;
}

int est_basic_parse(const char *hdr, char *user, size_t userlen, char *pass,
                    size_t passlen)
{
	struct buf dec;
	int err;

	if (hdr == NULL || strncasecmp(hdr, "Basic ", 6) != 0) {
		return -TL_EPARSE;
	}
	hdr += 6;
	while (*hdr == ' ') {
		hdr++;
	}
	buf_init(&dec, 1024);
	err = est_b64_decode((const uint8_t *)hdr, strlen(hdr), &dec);
	if (!err) {
		const uint8_t *colon = memchr(dec.p, ':', dec.len);
		size_t ul = colon ? (size_t)(colon - dec.p) : 0;
		size_t pl = colon ? dec.len - ul - 1 : 0;
		if (!colon || memchr(dec.p, 0, dec.len) != NULL) {
			err = -TL_EPARSE;
		} else if (ul >= userlen || pl >= passlen) {
			err = -TL_ETOOBIG;
		} else {
			memcpy(user, dec.p, ul);
			user[ul] = '\0';
			memcpy(pass, colon + 1, pl);
			pass[pl] = '\0';
		}
	}
	buf_free_secret(&dec);
	return err;
}

/* ---- the server ---- */

static void reply(struct evhttp_request *req, int code, const char *reason,
                  const char *type, const struct buf *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev =
	        conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	int one = 1;

	/* one answer per request, written at once: no Nagle delay */
	if (bev && bufferevent_getfd(bev) >= 0) {
		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP,
		                 TCP_NODELAY, &one, sizeof(one));
	}

	evhttp_add_header(h, "Cache-Control", "no-store");
	if (type) {
		evhttp_add_header(h, "Content-Type", type);
		/* RFC 7030 §4.1.3; RFC 8951 §3.1 says clients ignore it */
		evhttp_add_header(h, "Content-Transfer-Encoding", "base64");
	} else {
		evhttp_add_header(h, "Content-Type", "text/plain");
	}
	if (out && body) {
		evbuffer_add(out, body->p, body->len);
	} else if (out) {
		evbuffer_add_printf(out, "%s\n", reason);
	}
	evhttp_send_reply(req, code, reason, out);
	if (out) {
		evbuffer_free(out);
	}
}

static void fail(struct evhttp_request *req, int code, const char *why)
{
	const char *reason = code == 400   ? "Bad Request"
	                     : code == 401 ? "Unauthorized"
	                     : code == 403 ? "Forbidden"
	                     : code == 404 ? "Not Found"
	                     : code == 405 ? "Method Not Allowed"
	                     : code == 413 ? "Payload Too Large"
	                     : code == 415 ? "Unsupported Media Type"
	                                   : "Internal Server Error";
	if (code == 401) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		                  "WWW-Authenticate",
		                  "Basic realm=\"trustline EST\"");
	}
	if (code == 405) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		                  "Allow", "GET, POST");
	}
	log_info("est", "%s %s: %d %s", evhttp_request_get_uri(req),
	         why ? why : "", code, reason);
	reply(req, code, reason, NULL, NULL);
}

static int status_of(int err)
{
	switch (err) {
	case -TL_EAUTH:
		return 401;
	case -TL_EPARSE:
	case -TL_ETRUNC:
	case -TL_ETRAIL:
	case -TL_ESIG:
	case -TL_EDUP:
		return 400;
	case -TL_ETOOBIG:
		return 413;
	case -TL_ENOTFOUND:
	case -TL_EPOLICY:
	case -TL_ETRUST:
	case -TL_EREVOKED:
	case -TL_EEXPIRED:
	case -TL_ESTATE:
		return 403;
	default:
		return 500;
	}
}

static void do_cacerts(struct est_srv *s, struct evhttp_request *req)
{
	reply(req, 200, "OK", "application/pkcs7-mime", &s->cacerts);
}

/* RFC 7030 §4.5.2 CsrAttrs: challengePassword, an EC P-256 key
 * (id-ecPublicKey with secp256r1), ecdsa-with-SHA256. */
static const uint8_t csrattrs_der[] = {
        0x30, 0x2c, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09,
        0x07, 0x30, 0x15, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        0x31, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
};

static void do_csrattrs(struct est_srv *s, struct evhttp_request *req)
{
	struct buf b;

	buf_init(&b, 0);
	b64_encode(&b, csrattrs_der, sizeof(csrattrs_der));
	if (buf_err(&b) != 0) {
		fail(req, 500, "csrattrs");
	} else {
		reply(req, 200, "OK", "application/csrattrs", &b);
	}
	buf_free(&b);
}

static bool content_type_is(struct evhttp_request *req, const char *want)
{
	const char *ct = evhttp_find_header(
	        evhttp_request_get_input_headers(req), "Content-Type");
	size_t n = strlen(want);

	/* parameters after ';' are allowed */
	return ct != NULL && strncasecmp(ct, want, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void do_enroll(struct est_srv *s, struct evhttp_request *req,
                      bool reenroll)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(
	        evhttp_request_get_connection(req));
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	char user[64] = "", pass[128] = "", pcn[64];
	struct enroll_cred cred = {0};
	struct store_device dev;
	struct est_req r = {0};
	struct buf der, p7, body;
	const char *auth;
	int err;

	buf_init(&der, 0);
	buf_init(&p7, 0);
	buf_init(&body, 0);
	if (!content_type_is(req, "application/pkcs10")) {
		fail(req, 415, "not application/pkcs10");
		goto out;
	}
	size_t len = evbuffer_get_length(in);
	if (len > EST_BODY_MAX) {
		fail(req, 413, "body");
		goto out;
	}
	err = est_req_parse(&r, evbuffer_pullup(in, -1), len);
	if (err) {
		fail(req, err == -TL_EPOLICY ? 403 : status_of(err),
		     tl_strerror(err));
		goto out;
	}
	auth = evhttp_find_header(evhttp_request_get_input_headers(req),
	                          "Authorization");
	if (auth != NULL && est_basic_parse(auth, user, sizeof(user), pass,
	                                    sizeof(pass)) != 0) {
		fail(req, 401, "bad Authorization");
		goto out;
	}
	/* the requested identity must be the authenticated one */
	if (user[0] != '\0' && strcmp(user, r.cn) != 0) {
		fail(req, 403, "user is not the CSR's device");
		goto out;
	}
	if (peer != NULL && net_tls_cert_cn(peer, pcn, sizeof(pcn)) == 0 &&
	    strcmp(pcn, r.cn) != 0) {
		fail(req, 403, "certificate is not the CSR's device");
		goto out;
	}
	cred.device = r.cn;
	cred.auth_string = pass[0] ? pass : r.challenge[0] ? r.challenge : NULL;
	cred.cert = peer;
	cred.chain = ssl ? SSL_get_peer_cert_chain(ssl) : NULL;
	cred.reenroll = reenroll;
	err = enroll_authorize(s->e, &cred, &dev);
	if (!err) {
		err = enroll_install(s->e, &dev, r.csr.pub, r.csr.spki.p,
		                     r.csr.spki.len, "est", &der);
	}
	if (err) {
		/* a CSR error has been answered above: what is left is
		 * refusal */
		int code = status_of(err);
		if (code == 400) {
			code = 403;
		}
		if (err == -TL_EAUTH && reenroll) {
			code = 403;
		}
		fail(req, code, tl_strerror(err));
		goto out;
	}
	struct slice one = buf_slice(&der);
	err = enroll_p7_certs(&p7, &one, 1);
	if (!err) {
		b64_encode(&body, p7.p, p7.len);
		err = buf_err(&body);
	}
	if (err) {
		fail(req, 500, "encoding");
		goto out;
	}
	log_info("est", "%s: LSC issued for %s", evhttp_request_get_uri(req),
	         r.cn);
	reply(req, 200, "OK", "application/pkcs7-mime; smime-type=certs-only",
	      &body);
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	est_req_clear(&r);
	buf_free(&der);
	buf_free(&p7);
	buf_free(&body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct est_srv *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	static const struct {
		const char *op;
		bool post;
	} ops[] = {
	        {"cacerts", false},
	        {"csrattrs", false},
	        {"simpleenroll", true},
	        {"simplereenroll", true},
	};
	size_t plen = strlen(EST_PREFIX);

	if (uri == NULL || strncmp(uri, EST_PREFIX, plen) != 0) {
		fail(req, 404, "path");
		return;
	}
	const char *op = uri + plen;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(op, ops[i].op) != 0) {
			continue;
		}
		if ((ops[i].post && m != EVHTTP_REQ_POST) ||
		    (!ops[i].post && m != EVHTTP_REQ_GET)) {
			fail(req, 405, "method");
			return;
		}
		switch (i) {
		case 0:
			do_cacerts(s, req);
			break;
		case 1:
			do_csrattrs(s, req);
			break;
		default:
			do_enroll(s, req, i == 3);
			break;
		}
		return;
	}
	fail(req, 404, "operation");
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
	struct est_srv *s = arg;
	SSL *ssl = SSL_new(net_tls_ssl_ctx(s->tls));
	struct bufferevent *bev;

	if (!ssl) {
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	                                     BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	if (bev) {
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	return bev;
}

/* The engine checks client certificates itself (auth mode, identity,
 * revocation): the handshake accepts any, so that a refusal is a 403 and
 * not a TLS alert. */
static int accept_any(X509 *peer, STACK_OF(X509) * chain, int ok, void *arg)
{
	return 1;
}

int est_srv_new(struct est_srv **out, struct event_base *base, struct enroll *e,
                const struct est_srv_conf *c)
{
	struct est_srv *s;
	struct evhttp_bound_socket *bs;
	struct buf p7;
	uint8_t *der = NULL;
	int len, err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->e = e;
	buf_init(&s->cacerts, 0);
	buf_init(&p7, 0);
	struct net_tls_conf tc = {
	        .role = NET_TLS_SERVER,
	        .cert_file = c->cert_file,
	        .key_file = c->key_file,
	        .cert2_file = c->cert2_file,
	        .key2_file = c->key2_file,
	        .ca_file = c->client_ca_file,
	        .client_auth = NET_TLS_CLIENT_CERT_OPTIONAL,
	        .verify_h = accept_any,
	        .keylog_file = c->keylog_file,
	};
	err = net_tls_new(&s->tls, &tc);
	if (err) {
		goto out;
	}
	if (!err) {
		/* a phone enrols once: TLS 1.3 session tickets would only
		 * cost a signature-free round of writes per session */
		SSL_CTX_set_num_tickets(net_tls_ssl_ctx(s->tls), 0);
	}
	len = i2d_X509(enroll_ca_cert(e), &der);
	if (len <= 0) {
		err = -TL_ECRYPTO;
		goto out;
	}
	struct slice ca = slice_make(der, (size_t)len);
	err = enroll_p7_certs(&p7, &ca, 1);
	if (!err) {
		b64_encode(&s->cacerts, p7.p, p7.len);
		err = buf_err(&s->cacerts);
	}
	if (err) {
		goto out;
	}
	s->http = evhttp_new(base);
	if (!s->http) {
		err = -ENOMEM;
		goto out;
	}
	evhttp_set_bevcb(s->http, bevcb, s);
	evhttp_set_gencb(s->http, on_request, s);
	evhttp_set_max_body_size(s->http, EST_BODY_MAX);
	evhttp_set_max_headers_size(s->http, 8192);
	evhttp_set_timeout(s->http, c->timeout_s ? (int)c->timeout_s : 10);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	                                            EVHTTP_REQ_HEAD);
	bs = evhttp_bind_socket_with_handle(
	        s->http, c->addr ? c->addr : "127.0.0.1", c->port);
	if (!bs) {
		err = -EADDRINUSE;
		goto out;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct net_addr a;
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	                &sl) != 0 ||
	    net_addr_from_sa(&a, (struct sockaddr *)&ss, sl) != 0) {
		err = -errno;
		goto out;
	}
	s->port = net_addr_port(&a);
out:
	OPENSSL_free(der);
	buf_free(&p7);
	if (err) {
		est_srv_free(s);
		return err;
	}
	*out = s;
	return 0;
}

void est_srv_free(struct est_srv *s)
{
	if (!s) {
		return;
	}
	if (s->http) {
		evhttp_free(s->http);
	}
	net_tls_unref(s->tls);
	buf_free(&s->cacerts);
	free(s);
}

uint16_t est_srv_port(const struct est_srv *s)
{
	return s->port;
}
