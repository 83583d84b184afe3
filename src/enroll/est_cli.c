/* EST client (RFC 7030 §4.2): a CSR for the phone's new key, one HTTPS
 * POST, the certs-only answer checked and stored. */
#include "enroll/enroll_cli.h"
#include "enroll/enroll_int.h"
#include "enroll/est_srv.h"

#include "base/cur.h"
#include "net/net_tls.h"
#include "pki/pki_csr.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESP_MAX 65536

void est_cli_result_clear(struct est_cli_result *r)
{
	X509_free(r->lsc);
	EVP_PKEY_free(r->key);
	buf_free(&r->lsc_der);
	memset(r, 0, sizeof(*r));
}

/* tag, DER length (X.690 §8.1.3: definite, minimal), value; values here
 * are far below 64 KiB (EST_BODY_MAX) */
static void der_put(struct buf *b, uint8_t tag, const void *p, size_t n)
{
	buf_put_u8(b, tag);
	if (n >= 0x100) {
		buf_put_u8(b, 0x82);
		buf_put_u16be(b, (uint16_t)n);
	} else if (n >= 0x80) {
		buf_put_u8(b, 0x81);
		buf_put_u8(b, (uint8_t)n);
	} else {
		buf_put_u8(b, (uint8_t)n);
	}
	buf_put(b, p, n);
}

int est_csr_make(struct buf *out, const char *device, const char *challenge,
                 EVP_PKEY *key)
{
	/* RFC 5280 §4.1.2.6 id-at-commonName; RFC 2985 §5.4.1
	 * pkcs-9-at-challengePassword */
	static const uint8_t oid_cn[] = {0x06, 0x03, 0x55, 0x04, 0x03};
	static const uint8_t oid_pw[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
	                                 0xf7, 0x0d, 0x01, 0x09, 0x07};
	/* RFC 5758 §3.2 ecdsa-with-SHA256 (no parameters); RFC 4055 §5
	 * sha256WithRSAEncryption (NULL parameters) */
	static const uint8_t alg_ec[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
	                                 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
	static const uint8_t alg_rsa[] = {0x30, 0x0d, 0x06, 0x09, 0x2a,
	                                  0x86, 0x48, 0x86, 0xf7, 0x0d,
	                                  0x01, 0x01, 0x0b, 0x05, 0x00};
	const uint8_t *alg;
	size_t alg_len, siglen = 0;
	struct buf a, b, info, sig;
	EVP_MD_CTX *md = NULL;
	int err;

	if (EVP_PKEY_is_a(key, "EC")) {
		alg = alg_ec;
		alg_len = sizeof(alg_ec);
	} else if (EVP_PKEY_is_a(key, "RSA")) {
		alg = alg_rsa;
		alg_len = sizeof(alg_rsa);
	} else {
		return -TL_EPOLICY;
	}
	if (strlen(device) > 64 || (challenge && strlen(challenge) > 255)) {
		return -TL_ETOOBIG; /* X.520 ub-common-name; RFC 2985 */
	}
	buf_init(&a, 0);
	buf_init(&b, 0);
	buf_init(&info, 0);
	buf_init(&sig, 0);
	/* CertificationRequestInfo (RFC 2986 §4.1): version v1, the subject
	 * one CN as a UTF8String (RFC 5280 §4.1.2.6), the key, and the
	 * attributes: the challengePassword when there is one (RFC 7030
	 * §3.5, as a UTF8String: RFC 2985 §5.4.1) */
	buf_put(&info, (const uint8_t[]){0x02, 0x01, 0x00}, 3);
	buf_put(&a, oid_cn, sizeof(oid_cn));
	der_put(&a, 0x0c, device, strlen(device));
	der_put(&b, 0x30, a.p, a.len);
	buf_reset(&a);
	der_put(&a, 0x31, b.p, b.len);
	der_put(&info, 0x30, a.p, a.len);
	err = pki_spki_encode(key, &info);
	if (err) {
		goto out;
	}
	buf_reset(&a);
	buf_reset(&b);
	if (challenge) {
		buf_put(&b, oid_pw, sizeof(oid_pw));
		der_put(&a, 0x0c, challenge, strlen(challenge));
		der_put(&b, 0x31, a.p, a.len);
		buf_reset(&a);
		der_put(&a, 0x30, b.p, b.len);
	}
	der_put(&info, 0xa0, a.p, a.len);
	buf_reset(&a);
	der_put(&a, 0x30, info.p, info.len);
	err = buf_err(&a) ? buf_err(&a) : buf_err(&info);
	if (err) {
		goto out;
	}
	/* the proof of possession (RFC 2986 §3 step 4) */
	err = -TL_ECRYPTO;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, a.p, a.len) != 1) {
		goto out;
	}
	err = buf_reserve(&sig, siglen + 1);
	if (err) {
		goto out;
	}
	sig.p[0] = 0; /* no unused bits */
	if (EVP_DigestSign(md, sig.p + 1, &siglen, a.p, a.len) != 1) {
		err = -TL_ECRYPTO;
		goto out;
	}
	sig.len = siglen + 1;
	buf_put(&a, alg, alg_len);
	der_put(&a, 0x03, sig.p, sig.len);
	der_put(out, 0x30, a.p, a.len);
	err = buf_err(&a) ? buf_err(&a) : buf_err(out);
out:
	EVP_MD_CTX_free(md);
	buf_free_secret(&a);
	buf_free_secret(&b);
	buf_free_secret(&info);
	buf_free(&sig);
	return err;
}

static int make_csr(const struct est_cli_conf *c, EVP_PKEY *key,
                    struct buf *b64)
{
	struct buf der;
	int err;

	buf_init(&der, EST_BODY_MAX);
	err = est_csr_make(&der, c->device, c->auth_string, key);
	if (!err) {
		err = buf_reserve(b64, der.len / 3 * 4 + 8);
	}
	if (!err) {
		int m = EVP_EncodeBlock(b64->p + b64->len, der.p, (int)der.len);
		b64->len += (size_t)m;
	}
	buf_free_secret(&der);
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

/* RFC 7030 §4.2.3: the answer is a certs-only message (RFC 5652 §5.1
 * SignedData without signers) whose first certificate is the one
 * issued. Only its place is found here. */
static int p7_first_cert(struct slice der, struct slice *cert)
{
	static const uint8_t oid_signed[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
	                                     0x0d, 0x01, 0x07, 0x02};
	struct cur c, ci = {0}, ex = {0}, sd = {0}, v = {0}, certs = {0};
	int err;

	cur_init(&c, der.p, der.len);
	/* ContentInfo { id-signedData, [0] EXPLICIT SignedData } */
	err = pki_der_tlv(&c, 0x30, &ci, NULL);
	if (!err && cur_left(&c) != 0) {
		err = -TL_EPARSE;
	}
	if (!err) {
		err = pki_der_tlv(&ci, 0x06, &v, NULL);
	}
	if (!err && (v.len != sizeof(oid_signed) ||
	             memcmp(v.p, oid_signed, sizeof(oid_signed)) != 0)) {
		err = -TL_EPARSE;
	}
	if (!err) {
		err = pki_der_tlv(&ci, 0xa0, &ex, NULL);
	}
	if (!err) {
		err = pki_der_tlv(&ex, 0x30, &sd, NULL);
	}
	if (!err && (cur_left(&ci) != 0 || cur_left(&ex) != 0)) {
		err = -TL_EPARSE;
	}
	/* SignedData { version, digestAlgorithms, encapContentInfo,
	 * certificates [0] IMPLICIT, crls [1] IMPLICIT OPTIONAL,
	 * signerInfos } */
	if (!err) {
		err = pki_der_tlv(&sd, 0x02, &v, NULL);
	}
	if (!err) {
		err = pki_der_tlv(&sd, 0x31, &v, NULL);
	}
	if (!err) {
		err = pki_der_tlv(&sd, 0x30, &v, NULL);
	}
	if (!err) {
		err = pki_der_tlv(&sd, 0xa0, &certs, NULL);
	}
	if (!err) {
		err = pki_der_tlv(&certs, 0x30, &v, cert);
	}
	if (!err && cur_left(&sd) > 0 && sd.p[sd.off] == 0xa1) {
		err = pki_der_tlv(&sd, 0xa1, &v, NULL);
	}
	if (!err) {
		err = pki_der_tlv(&sd, 0x31, &v, NULL);
	}
	if (!err && cur_left(&sd) != 0) {
		err = -TL_EPARSE;
	}
	return err;
}

int est_resp_cert(struct slice der, const char *device, EVP_PKEY *key,
                  struct slice *cert)
{
	struct slice subject, spki;
	X509_NAME *n = NULL;
	struct buf mine;
	char cn[64];
	int err;

	*cert = SLICE_NULL;
	buf_init(&mine, 0);
	err = p7_first_cert(der, cert);
	if (!err) {
		err = pki_cert_spki(cert->p, cert->len, &subject, &spki);
	}
	if (!err) {
		err = pki_spki_encode(key, &mine);
	}
	if (err) {
		goto out;
	}
	const unsigned char *q = subject.p;
	n = d2i_X509_NAME(NULL, &q, (long)subject.len);
	if (!n || q != subject.p + subject.len) {
		err = -TL_EPARSE;
	} else if (spki.len != mine.len ||
	           memcmp(spki.p, mine.p, mine.len) != 0 ||
	           est_name_cn(n, cn, sizeof(cn)) != 0 ||
	           strcmp(cn, device) != 0) {
		err = -TL_EPOLICY;
	}
out:
	if (err) {
		*cert = SLICE_NULL;
	}
	X509_NAME_free(n);
	buf_free(&mine);
	return err;
}

/* RFC 7468 §5.1 */
static int store_der(const char *path, struct slice der)
{
	struct buf pem;
	int err;

	buf_init(&pem, 0);
	buf_put_str(&pem, "-----BEGIN CERTIFICATE-----\n");
	err = buf_reserve(&pem, (der.len + 2) / 3 * 4 + der.len / 48 + 40);
	if (!err) {
		for (size_t i = 0; i < der.len; i += 48) {
			size_t n = der.len - i < 48 ? der.len - i : 48;
			pem.len += (size_t)EVP_EncodeBlock(pem.p + pem.len,
			                                   der.p + i, (int)n);
			buf_put_u8(&pem, '\n');
		}
		buf_put_str(&pem, "-----END CERTIFICATE-----\n");
		err = buf_err(&pem);
	}
	if (!err) {
		err = pki_file_write(path, pem.p, pem.len, 0600);
	}
	buf_free(&pem);
	return err;
}

static int take_cert(const struct est_cli_conf *c, struct slice body,
                     struct est_cli_result *r)
{
	struct buf der;
	struct slice cert;
	X509 *x = NULL;
	int err;

	buf_init(&der, RESP_MAX);
	err = est_b64_decode(body.p, body.len, &der);
	if (!err) {
		err = est_resp_cert(buf_slice(&der), c->device, r->key, &cert);
	}
	/* the one decode of the certificate, strict DER, when wanted */
	if (!err && !c->lsc_der_only) {
		err = pki_cert_parse(&x, cert.p, cert.len);
	}
	if (!err && c->key_out) {
		err = pki_pkey_write(c->key_out, r->key);
	}
	if (!err && c->cert_out) {
		err = store_der(c->cert_out, cert);
	}
	if (!err) {
		buf_put_slice(&r->lsc_der, cert);
		err = buf_err(&r->lsc_der);
	}
	if (err) {
		X509_free(x);
		buf_free(&r->lsc_der);
	} else {
		r->lsc = x;
	}
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
