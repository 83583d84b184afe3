/* EST client (RFC 7030 §4.2): a CSR for the phone's new key, one HTTPS
 * POST, the certs-only answer checked and stored. */
#include "enroll/enroll_cli.h"
#include "enroll/enroll_int.h"
#include "enroll/est_srv.h"

#include "net/net_tls.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESP_MAX 65536

void est_cli_result_clear(struct est_cli_result *r)
{
	X509_free(r->lsc);
	EVP_PKEY_free(r->key);
	memset(r, 0, sizeof(*r));
}

static int make_csr(const struct est_cli_conf *c, EVP_PKEY *key,
                    struct buf *b64)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	uint8_t *der = NULL;
	int len, err = -TL_ECRYPTO;

	if (!req || !n ||
	    !X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	                                (const unsigned char *)c->device, -1,
	                                -1, 0) ||
	    !X509_REQ_set_subject_name(req, n) ||
	    !X509_REQ_set_pubkey(req, key)) {
		goto out;
	}
	/* RFC 7030 §3.5 allows the auth string here too */
	if (c->auth_string &&
	    !X509_REQ_add1_attr_by_NID(
	            req, NID_pkcs9_challengePassword, MBSTRING_UTF8,
	            (const unsigned char *)c->auth_string, -1)) {
		goto out;
	}
	if (X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		goto out;
	}
	len = i2d_X509_REQ(req, &der);
	if (len <= 0) {
		goto out;
	}
	err = buf_reserve(b64, (size_t)len / 3 * 4 + 8);
	if (!err) {
		int m = EVP_EncodeBlock(b64->p + b64->len, der, len);
		b64->len += (size_t)m;
	}
out:
	OPENSSL_free(der);
	X509_NAME_free(n);
	X509_REQ_free(req);
	return err;
}

static int send_all(struct capf_cli_conn *k, const struct buf *b)
{
	return capf_cli_send(k, b->p, b->len);
}

/* status line and body of an HTTP/1.1 answer read to the end */
static int parse_resp(const struct buf *in, int *status, struct slice *body)
{
	const uint8_t *end;
	int st;

	if (in->len < 12 || memcmp(in->p, "HTTP/1.", 7) != 0 ||
	    in->p[8] != ' ') {
		return -TL_EPARSE;
	}
	st = 0;
	for (int i = 9; i < 12; i++) {
		if (in->p[i] < '0' || in->p[i] > '9') {
			return -TL_EPARSE;
		}
		st = st * 10 + (in->p[i] - '0');
	}
	end = memmem(in->p, in->len, "\r\n\r\n", 4);
	if (end == NULL) {
		return -TL_EPARSE;
	}
	*status = st;
	*body = slice_make(end + 4, in->len - (size_t)(end + 4 - in->p));
	return 0;
}

static int take_cert(const struct est_cli_conf *c, struct slice body,
                     struct est_cli_result *r)
{
	struct buf der;
	PKCS7 *p7 = NULL;
	X509 *x = NULL;
	char cn[64];
	int err;

	buf_init(&der, RESP_MAX);
	err = est_b64_decode(body.p, body.len, &der);
	if (!err) {
		const uint8_t *p = der.p;
		p7 = d2i_PKCS7(NULL, &p, (long)der.len);
		if (!p7 || !PKCS7_type_is_signed(p7) ||
		    p7->d.sign->cert == NULL ||
		    sk_X509_num(p7->d.sign->cert) < 1) {
			err = -TL_EPARSE;
		}
	}
	if (!err) {
		x = sk_X509_value(p7->d.sign->cert, 0);
		X509_up_ref(x);
		/* ours: our key, our name */
		if (EVP_PKEY_eq(X509_get0_pubkey(x), r->key) != 1 ||
		    net_tls_cert_cn(x, cn, sizeof(cn)) != 0 ||
		    strcmp(cn, c->device) != 0) {
			err = -TL_EPOLICY;
		}
	}
	if (!err && c->key_out) {
		err = pki_pkey_write(c->key_out, r->key);
	}
	if (!err && c->cert_out) {
		err = enroll_cert_store(c->cert_out, x);
	}
	if (err) {
		X509_free(x);
	} else {
		r->lsc = x;
	}
	PKCS7_free(p7);
	buf_free(&der);
	return err;
}

int est_cli_enroll(const struct est_cli_conf *c, struct est_cli_result *r)
{
	struct capf_cli_conn *k = NULL;
	struct buf csr, req, in;
	struct slice body;
	int err;

	memset(r, 0, sizeof(*r));
	if (c->device == NULL) {
		return -EINVAL;
	}
	buf_init(&csr, EST_BODY_MAX);
	buf_init(&req, 0);
	buf_init(&in, RESP_MAX);
	err = pki_keygen(&r->key, c->key_alg);
	if (!err) {
		err = make_csr(c, r->key, &csr);
	}
	if (err) {
		goto out;
	}
	buf_printf(&req,
	           "POST /.well-known/est/%s HTTP/1.1\r\n"
	           "Host: %s:%u\r\n"
	           "Content-Type: application/pkcs10\r\n"
	           "Content-Length: %zu\r\n"
	           "Connection: close\r\n",
	           c->reenroll ? "simplereenroll" : "simpleenroll", c->host,
	           c->port, csr.len);
	if (c->auth_string) {
		/* RFC 7617: user-id ":" password */
		struct buf up;
		buf_init(&up, 0);
		buf_printf(&up, "%s:%s", c->device, c->auth_string);
		err = buf_err(&up) ? buf_err(&up)
		                   : buf_reserve(&req, up.len / 3 * 4 + 32);
		if (!err) {
			buf_put_str(&req, "Authorization: Basic ");
			int m = EVP_EncodeBlock(req.p + req.len, up.p,
			                        (int)up.len);
			req.len += (size_t)m;
			buf_put_str(&req, "\r\n");
		}
		buf_free_secret(&up);
		if (err) {
			goto out;
		}
	}
	buf_put_str(&req, "\r\n");
	buf_put_slice(&req, buf_slice(&csr));
	err = buf_err(&req);
	if (!err) {
		err = enroll_tls_connect(&k, c->tls, c->host, c->port,
		                         c->ca_file, c->cert, c->cert_key,
		                         c->timeout_ms);
	}
	if (!err) {
		err = send_all(k, &req);
	}
	while (!err) {
		size_t got;
		err = buf_reserve(&in, 4096);
		if (!err) {
			err = enroll_tls_read(k, in.p + in.len, in.cap - in.len,
			                      &got);
		}
		if (!err) {
			in.len += got;
		}
	}
	if (err == -ENOTCONN) {
		err = 0;
	}
	if (!err) {
		err = parse_resp(&in, &r->status, &body);
	}
	if (err) {
		goto out;
	}
	switch (r->status) {
	case 200:
		err = take_cert(c, body, r);
		break;
	case 401:
		err = -TL_EAUTH;
		break;
	case 403:
		err = -TL_EPOLICY;
		break;
	case 400:
		err = -TL_EPARSE;
		break;
	default:
		err = -TL_ESTATE;
		break;
	}
out:
	capf_cli_close(k);
	if (c->auth_string) {
		OPENSSL_cleanse(req.p, req.cap);
	}
	buf_free(&req);
	buf_free(&csr);
	buf_free(&in);
	if (err) {
		EVP_PKEY_free(r->key);
		r->key = NULL;
	}
	return err;
}
