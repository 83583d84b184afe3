/* Certificates written as DER directly (X.690 §10, RFC 5280 §4.1) for the
 * enrolment hot path. OpenSSL 3.0 builds an X509 object through its
 * encoder and decoder frameworks, which cost several signatures' time per
 * certificate; here the fixed parts (issuer, signature algorithm, the
 * profile's extensions, AKI, CDP) are encoded once per CA, and each
 * certificate only adds its serial, validity, subject, key, SAN and SKI.
 * The unit tests check that the result matches pki_ca_issue's, extension
 * by extension. Anything unusual (non-ASCII names) takes that path. */
#include "pki/pki_int.h"
#include "pki/pki_key_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>

static void der_len(struct buf *b, size_t n)
{
	if (n < 0x80) {
		buf_put_u8(b, (uint8_t)n);
	} else if (n < 0x100) {
		buf_put_u8(b, 0x81);
		buf_put_u8(b, (uint8_t)n);
	} else if (n < 0x10000) {
		buf_put_u8(b, 0x82);
		buf_put_u16be(b, (uint16_t)n);
	} else {
		buf_put_u8(b, 0x83);
		buf_put_u8(b, (uint8_t)(n >> 16));
		buf_put_u16be(b, (uint16_t)n);
	}
}

static void der_tlv(struct buf *b, uint8_t tag, const void *p, size_t n)
{
	buf_put_u8(b, tag);
	der_len(b, n);
	buf_put(b, p, n);
}

/* An unsigned big-endian integer as DER INTEGER (X.690 §8.3). */
static void der_uint(struct buf *b, const uint8_t *p, size_t n)
{
	while (n > 1 && p[0] == 0) {
		p++;
		n--;
	}
	buf_put_u8(b, 0x02);
	der_len(b, n + (p[0] & 0x80 ? 1 : 0));
	if (p[0] & 0x80) {
		buf_put_u8(b, 0);
	}
	buf_put(b, p, n);
}

static const uint8_t oid_cn[] = {0x06, 0x03, 0x55, 0x04, 0x03};
static const uint8_t oid_o[] = {0x06, 0x03, 0x55, 0x04, 0x0a};
static const uint8_t oid_ou[] = {0x06, 0x03, 0x55, 0x04, 0x0b};
static const uint8_t oid_san[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
static const uint8_t oid_ski[] = {0x06, 0x03, 0x55, 0x1d, 0x0e};
static const uint8_t alg_ecdsa_sha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                           0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t alg_rsa_sha256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a,
                                         0x86, 0x48, 0x86, 0xf7, 0x0d,
                                         0x01, 0x01, 0x0b, 0x05, 0x00};
static const uint8_t alg_rsa[] = {0x30, 0x0d, 0x06, 0x09, 0x2a,
                                  0x86, 0x48, 0x86, 0xf7, 0x0d,
                                  0x01, 0x01, 0x01, 0x05, 0x00};
static const uint8_t oid_ec_pub[] = {0x06, 0x07, 0x2a, 0x86, 0x48,
                                     0xce, 0x3d, 0x02, 0x01};
static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                   0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

void pki_ca_der_free(struct pki_ca *ca)
{
	EVP_MD_free(ca->sha1);
	buf_free(&ca->issuer_der);
	buf_free(&ca->inherit_rdns);
	buf_free(&ca->sigalg_der);
	buf_free(&ca->tail_exts);
	for (int i = 0; i < PKI_N_PROFILES; i++) {
		buf_free(&ca->prof_exts[i][0]);
		buf_free(&ca->prof_exts[i][1]);
	}
}

static int put_i2d(struct buf *b, int len, unsigned char *der)
{
	if (len <= 0) {
		return -TL_ECRYPTO;
	}
	buf_put(b, der, (size_t)len);
	OPENSSL_free(der);
	return buf_err(b);
}

static int der_prepare(struct pki_ca *ca)
{
	unsigned char *der = NULL;
	struct buf inh;
	size_t hdr;
	int err;

	int len;

	buf_init(&inh, 0);
	/* (the length first: argument evaluation order is unspecified) */
	len = i2d_X509_NAME(ca->name, &der);
	err = put_i2d(&ca->issuer_der, len, der);
	der = NULL;
	if (!err) {
		len = i2d_X509_NAME(ca->inherit, &der);
		err = put_i2d(&inh, len, der);
	}
	if (err) {
		goto out;
	}
	/* strip the SEQUENCE header: the RDNs go before the CN's */
	if (inh.len < 2 || inh.p[0] != 0x30) {
		err = -TL_ECRYPTO;
		goto out;
	}
	hdr = (inh.p[1] & 0x80) ? 2 + (inh.p[1] & 0x7f) : 2;
	buf_put(&ca->inherit_rdns, inh.p + hdr, inh.len - hdr);
	if (EVP_PKEY_get_base_id(ca->key->pub) == EVP_PKEY_RSA) {
		buf_put(&ca->sigalg_der, alg_rsa_sha256,
		        sizeof(alg_rsa_sha256));
	} else {
		buf_put(&ca->sigalg_der, alg_ecdsa_sha256,
		        sizeof(alg_ecdsa_sha256));
	}
	der = NULL;
	len = i2d_X509_EXTENSION(ca->aki, &der);
	err = put_i2d(&ca->tail_exts, len, der);
	der = NULL;
	if (!err && ca->cdp) {
		len = i2d_X509_EXTENSION(ca->cdp, &der);
		err = put_i2d(&ca->tail_exts, len, der);
	}
	if (!err) {
		err = buf_err(&ca->inherit_rdns);
	}
	if (!err) {
		err = buf_err(&ca->sigalg_der);
	}
	if (!err) {
		ca->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
		err = ca->sha1 ? 0 : -TL_ECRYPTO;
	}
	ca->der_ready = !err;
out:
	buf_free(&inh);
	return err;
}

/* Printable ASCII only: what an IA5String or an ASCII UTF8String holds
 * without question. */
static bool plain(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s; s++, n++) {
		if (*s < 0x20 || *s > 0x7e) {
			return false;
		}
	}
	return n > 0 && n <= max;
}

static void put_rdn(struct buf *b, const uint8_t *oid, size_t oidlen,
                    const char *v)
{
	size_t vl = strlen(v);
	size_t atv = oidlen + 1 + (vl < 0x80 ? 1 : vl < 0x100 ? 2 : 3) + vl;
	size_t set = 1 + (atv < 0x80 ? 1 : 2) + atv;

	buf_put_u8(b, 0x31); /* SET */
	der_len(b, set);
	buf_put_u8(b, 0x30); /* AttributeTypeAndValue */
	der_len(b, atv);
	buf_put(b, oid, oidlen);
	der_tlv(b, 0x0c, v, vl); /* UTF8String */
}

/* RFC 5480 §2: the whole SubjectPublicKeyInfo up to the point */
static const uint8_t spki_p256[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a,
                                    0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                                    0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03,
                                    0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
static const uint8_t spki_p384[] = {
        0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
        0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00, 0x04};

/* The caller's SPKI when it is an uncompressed point on pub's curve. */
static bool spki_given(const struct pki_issue *req, const char *group)
{
	const uint8_t *t;
	size_t tl, pl;

	if (!req->spki) {
		return false;
	}
	if (!strcmp(group, "prime256v1")) {
		t = spki_p256;
		tl = sizeof(spki_p256);
		pl = 64;
	} else if (!strcmp(group, "secp384r1")) {
		t = spki_p384;
		tl = sizeof(spki_p384);
		pl = 96;
	} else {
		return false;
	}
	return req->spki_len == tl + pl && !memcmp(req->spki, t, tl);
}

static int put_spki(struct buf *b, const struct pki_issue *req,
                    const EVP_MD *sha1, uint8_t ski[20])
{
	EVP_PKEY *pub = req->pub;
	uint8_t point[160];
	size_t plen = 0;
	struct buf in, bits;
	int err = 0;

	buf_init(&in, 0);
	buf_init(&bits, 0);
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
		char group[32];
		size_t glen = 0;

		if (EVP_PKEY_get_utf8_string_param(
		            pub, OSSL_PKEY_PARAM_GROUP_NAME, group,
		            sizeof(group), &glen) != 1) {
			err = -TL_ECRYPTO;
			goto out;
		}
		if (spki_given(req, group)) {
			/* RFC 5280 §4.2.1.2 (1): over the BIT STRING's
			 * value, here the point */
			size_t off = !strcmp(group, "prime256v1")
			                     ? req->spki_len - 65
			                     : req->spki_len - 97;

			if (EVP_Digest(req->spki + off, req->spki_len - off,
			               ski, NULL, sha1, NULL) != 1) {
				err = -TL_ECRYPTO;
			} else {
				buf_put(b, req->spki, req->spki_len);
			}
			goto out;
		}
		if (EVP_PKEY_get_octet_string_param(
		            pub, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
		            sizeof(point), &plen) != 1) {
			err = -TL_ECRYPTO;
			goto out;
		}
		buf_put_u8(&in, 0x30);
		if (!strcmp(group, "prime256v1")) {
			der_len(&in, sizeof(oid_ec_pub) + sizeof(oid_p256));
			buf_put(&in, oid_ec_pub, sizeof(oid_ec_pub));
			buf_put(&in, oid_p256, sizeof(oid_p256));
		} else if (!strcmp(group, "secp384r1")) {
			der_len(&in, sizeof(oid_ec_pub) + sizeof(oid_p384));
			buf_put(&in, oid_ec_pub, sizeof(oid_ec_pub));
			buf_put(&in, oid_p384, sizeof(oid_p384));
		} else {
			err = -TL_EPOLICY;
			goto out;
		}
		buf_put(&bits, point, plen);
	} else {
		BIGNUM *n = NULL, *e = NULL;
		uint8_t nb[1024], eb[16];
		int nl, el;
		struct buf rsa;

		if (EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &n) !=
		            1 ||
		    EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e) !=
		            1 ||
		    BN_num_bytes(n) > (int)sizeof(nb) ||
		    BN_num_bytes(e) > (int)sizeof(eb)) {
			BN_free(n);
			BN_free(e);
			err = -TL_ECRYPTO;
			goto out;
		}
		nl = BN_bn2bin(n, nb);
		el = BN_bn2bin(e, eb);
		BN_free(n);
		BN_free(e);
		buf_put(&in, alg_rsa, sizeof(alg_rsa));
		/* RFC 8017 A.1.1 RSAPublicKey */
		buf_init(&rsa, 0);
		der_uint(&rsa, nb, (size_t)nl);
		der_uint(&rsa, eb, (size_t)el);
		err = buf_err(&rsa);
		if (!err) {
			der_tlv(&bits, 0x30, rsa.p, rsa.len);
		}
		buf_free(&rsa);
		if (err) {
			goto out;
		}
	}
	err = buf_err(&bits);
	if (err) {
		goto out;
	}
	/* RFC 5280 §4.2.1.2 method (1) */
	if (EVP_Digest(bits.p, bits.len, ski, NULL, sha1, NULL) != 1) {
		err = -TL_ECRYPTO;
		goto out;
	}
	buf_put_u8(&in, 0x03);
	der_len(&in, bits.len + 1);
	buf_put_u8(&in, 0x00);
	buf_put(&in, bits.p, bits.len);
	err = buf_err(&in);
	if (!err) {
		der_tlv(b, 0x30, in.p, in.len);
	}
out:
	buf_free(&in);
	buf_free(&bits);
	return err;
}

static char *two(char *p, int v)
{
	*p++ = (char)('0' + v / 10 % 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

/* RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime after. */
static int put_time(struct buf *b, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[16], *p = s;
	bool utc;

	if (!gmtime_r(&tt, &tm) || tm.tm_year < 0 || tm.tm_year > 8099) {
		return -TL_ETOOBIG;
	}
	utc = tm.tm_year >= 50 && tm.tm_year < 150;
	if (!utc) {
		p = two(p, (tm.tm_year + 1900) / 100);
	}
	p = two(p, tm.tm_year % 100);
	p = two(p, tm.tm_mon + 1);
	p = two(p, tm.tm_mday);
	p = two(p, tm.tm_hour);
	p = two(p, tm.tm_min);
	p = two(p, tm.tm_sec);
	*p++ = 'Z';
	der_tlv(b, utc ? 0x17 : 0x18, s, (size_t)(p - s));
	return 0;
}

static int put_san(struct buf *b, const struct pki_issue *req, const char *uri)
{
	struct buf names, os;
	int err;

	if (!req->n_dns && !req->n_ip && !uri) {
		return 0;
	}
	buf_init(&names, 0);
	buf_init(&os, 0);
	for (size_t i = 0; i < req->n_dns; i++) {
		der_tlv(&names, 0x82, req->dns[i], strlen(req->dns[i]));
	}
	for (size_t i = 0; i < req->n_ip; i++) {
		uint8_t a[16];

		if (inet_pton(AF_INET, req->ip[i], a) == 1) {
			der_tlv(&names, 0x87, a, 4);
		} else if (inet_pton(AF_INET6, req->ip[i], a) == 1) {
			der_tlv(&names, 0x87, a, 16);
		} else {
			buf_free(&names);
			return -TL_EPARSE;
		}
	}
	if (uri) {
		der_tlv(&names, 0x86, uri, strlen(uri));
	}
	err = buf_err(&names);
	if (!err) {
		der_tlv(&os, 0x30, names.p, names.len);
		err = buf_err(&os);
	}
	if (!err) {
		size_t inner = sizeof(oid_san) + 1 +
		               (os.len < 0x80    ? 1
		                : os.len < 0x100 ? 2
		                                 : 3) +
		               os.len;

		buf_put_u8(b, 0x30);
		der_len(b, inner);
		buf_put(b, oid_san, sizeof(oid_san));
		der_tlv(b, 0x04, os.p, os.len);
	}
	buf_free(&names);
	buf_free(&os);
	return err;
}

static bool fast_ok(const struct pki_issue *req)
{
	if (!req->cn || !plain(req->cn, 64) ||
	    (req->org && *req->org && !plain(req->org, 64)) ||
	    (req->ou && *req->ou && !plain(req->ou, 64)) ||
	    (req->uri && !plain(req->uri, 1024))) {
		return false;
	}
	for (size_t i = 0; i < req->n_dns; i++) {
		if (!plain(req->dns[i], 253)) {
			return false;
		}
	}
	return req->n_dns <= 64 && req->n_ip <= 64;
}

static int slow_path(struct pki_ca *ca, const struct pki_issue *req,
                     struct buf *out, char *serial, size_t serlen)
{
	X509 *x = NULL;
	unsigned char *der = NULL;
	int err = pki_ca_issue(ca, req, &x);
	int len;

	if (err) {
		return err;
	}
	if (serial) {
		err = pki_serial_hex(x, serial, serlen);
	}
	len = i2d_X509(x, &der);
	X509_free(x);
	if (!err) {
		err = put_i2d(out, len, der);
	} else {
		OPENSSL_free(der);
	}
	return err;
}

int pki_ca_issue_der(struct pki_ca *ca, const struct pki_issue *req,
                     struct buf *out, char *serial, size_t serlen)
{
	static const char hex[] = "0123456789abcdef";
	bool rsa, device;
	struct buf tbs, part, sig;
	uint8_t rnd[16], ski[20];
	int64_t now;
	uint32_t days;
	struct buf *pe;
	int err;

	if (!req->pub) {
		return -EINVAL;
	}
	if (req->profile != PKI_PROFILE_SERVER &&
	    req->profile != PKI_PROFILE_CLIENT &&
	    req->profile != PKI_PROFILE_LSC &&
	    req->profile != PKI_PROFILE_MIC) {
		return -TL_EPOLICY;
	}
	if (serial && serlen < 33) {
		return -TL_ETOOBIG;
	}
	if (!fast_ok(req)) {
		return slow_path(ca, req, out, serial, serlen);
	}
	err = pki_key_policy(req->pub);
	if (err) {
		return err;
	}
	days = req->days ? req->days : pki_profile_days(req->profile);
	if (days > 36500) {
		return -TL_ETOOBIG;
	}
	if (!ca->der_ready) {
		err = der_prepare(ca);
		if (err) {
			return err;
		}
	}
	rsa = EVP_PKEY_get_base_id(req->pub) == EVP_PKEY_RSA;
	pe = &ca->prof_exts[req->profile][rsa];
	if (!ca->prof_ready[req->profile][rsa]) {
		err = pki_profile_exts_der(req->profile, rsa, pe);
		if (err) {
			return err;
		}
		ca->prof_ready[req->profile][rsa] = true;
	}
	device = req->profile == PKI_PROFILE_LSC ||
	         req->profile == PKI_PROFILE_MIC;
	/* RFC 5280 §4.1.2.2 (see set_serial in cert.c) */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		return -TL_ECRYPTO;
	}
	rnd[0] |= 0x01;
	now = req->now ? req->now : (int64_t)time(NULL);

	buf_init(&tbs, 0);
	buf_init(&part, 0);
	buf_init(&sig, 0);
	if (buf_reserve(&tbs, 1536) || buf_reserve(&part, 1536) ||
	    buf_reserve(&sig, 600) || buf_reserve(out, 1600)) {
		err = -ENOMEM;
		goto out;
	}
	/* version v3, serial, signature, issuer */
	buf_put(&tbs, "\xa0\x03\x02\x01\x02", 5);
	der_uint(&tbs, rnd, sizeof(rnd));
	buf_put_slice(&tbs, buf_slice(&ca->sigalg_der));
	buf_put_slice(&tbs, buf_slice(&ca->issuer_der));
	/* validity, backdated as in cert.c */
	err = put_time(&part, now - 300);
	if (!err) {
		err = put_time(&part, now + (int64_t)days * 86400);
	}
	if (err) {
		goto out;
	}
	der_tlv(&tbs, 0x30, part.p, part.len);
	/* subject */
	buf_reset(&part);
	if (device) {
		buf_put_slice(&part, buf_slice(&ca->inherit_rdns));
	} else {
		if (req->org && *req->org) {
			put_rdn(&part, oid_o, sizeof(oid_o), req->org);
		}
		if (req->ou && *req->ou) {
			put_rdn(&part, oid_ou, sizeof(oid_ou), req->ou);
		}
	}
	put_rdn(&part, oid_cn, sizeof(oid_cn), req->cn);
	der_tlv(&tbs, 0x30, part.p, part.len);
	/* subjectPublicKeyInfo */
	err = put_spki(&tbs, req, ca->sha1, ski);
	if (err) {
		goto out;
	}
	/* extensions: profile, SAN, SKI, AKI, CDP (cert.c's order) */
	buf_reset(&part);
	buf_put_slice(&part, buf_slice(pe));
	err = put_san(&part, req, pki_profile_uri(req));
	if (err) {
		goto out;
	}
	buf_put(&part, "\x30\x1d", 2);
	buf_put(&part, oid_ski, sizeof(oid_ski));
	buf_put(&part, "\x04\x16\x04\x14", 4);
	buf_put(&part, ski, sizeof(ski));
	buf_put_slice(&part, buf_slice(&ca->tail_exts));
	err = buf_err(&part);
	if (err) {
		goto out;
	}
	buf_put_u8(&tbs, 0xa3);
	der_len(&tbs, part.len + 1 +
	                      (part.len < 0x80    ? 1
	                       : part.len < 0x100 ? 2
	                                          : 3));
	der_tlv(&tbs, 0x30, part.p, part.len);
	err = buf_err(&tbs);
	if (err) {
		goto out;
	}
	/* TBSCertificate, then sign it */
	buf_reset(&part);
	der_tlv(&part, 0x30, tbs.p, tbs.len);
	err = buf_err(&part);
	if (!err) {
		err = pki_key_sign(ca->key, EVP_sha256(), part.p, part.len,
		                   &sig);
	}
	if (err) {
		goto out;
	}
	/* Certificate ::= SEQUENCE { tbs, signatureAlgorithm, signature } */
	buf_reset(&tbs);
	buf_put_slice(&tbs, buf_slice(&part));
	buf_put_slice(&tbs, buf_slice(&ca->sigalg_der));
	buf_put_u8(&tbs, 0x03);
	der_len(&tbs, sig.len + 1);
	buf_put_u8(&tbs, 0x00);
	buf_put_slice(&tbs, buf_slice(&sig));
	err = buf_err(&tbs);
	if (!err) {
		der_tlv(out, 0x30, tbs.p, tbs.len);
		err = buf_err(out);
	}
	if (!err && serial) {
		for (size_t i = 0; i < sizeof(rnd); i++) {
			serial[2 * i] = hex[rnd[i] >> 4];
			serial[2 * i + 1] = hex[rnd[i] & 15];
		}
		serial[32] = '\0';
	}
out:
	buf_free(&tbs);
	buf_free(&part);
	buf_free(&sig);
	return err;
}
