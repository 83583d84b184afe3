/* SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) to and from EVP_PKEY.
 *
 * OpenSSL 3.0 turns every SPKI into a key through its provider decoder
 * framework, which builds a decoder chain on each call: about 85 us, four
 * P-256 signatures' worth, and it is paid for every certificate decoded
 * too. The keys phones use have one DER form each (RFC 5480 §2 for EC
 * named curves, RFC 8017 A.1.1 with RFC 4055 §1.2 for RSA), so those are
 * recognised here and imported through the key manager directly
 * (EVP_PKEY_fromdata, which checks an EC point is on its curve); anything
 * else goes through d2i_PUBKEY/i2d_PUBKEY as before. */
#include "pki/pki.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <string.h>

/* SEQUENCE { SEQUENCE { id-ecPublicKey, namedCurve }, BIT STRING (0
 * unused bits) } up to the uncompressed point (RFC 5480 §2.1.1, §2.2) */
static const uint8_t p256_head[] = {
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
        0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
        0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
static const uint8_t p384_head[] = {
        0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
        0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62,
        0x00};
/* AlgorithmIdentifier { rsaEncryption, NULL } */
static const uint8_t rsa_alg[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                  0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

struct curve {
	const char *group;
	const uint8_t *head;
	size_t head_len;
	size_t point_len; /* 0x04 || X || Y */
};

static const struct curve curves[] = {
        {"prime256v1", p256_head, sizeof(p256_head), 65},
        {"secp384r1", p384_head, sizeof(p384_head), 97},
};

#define SPKI_MAX 2100 /* RSA-16384 and some */

static int from_params(EVP_PKEY **out, const char *type, OSSL_PARAM *params)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	int err = -TL_EPARSE;

	if (ctx == NULL) {
		return -TL_ECRYPTO;
	}
	if (EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1) {
		err = 0;
	}
	EVP_PKEY_CTX_free(ctx);
	return err;
}

/* A key of each curve, made once, whose parameters new keys copy: about
 * half the cost of importing the group by name each time. Read only once
 * made, so threads share them. */
static EVP_PKEY *curve_keys[sizeof(curves) / sizeof(curves[0])];
static pthread_once_t curve_once = PTHREAD_ONCE_INIT;

static void curve_keys_init(void)
{
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		curve_keys[i] =
		        EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i].group);
	}
}

static int ec_decode(EVP_PKEY **out, const struct curve *c, const uint8_t *pt)
{
	EVP_PKEY *tmpl, *k;

	if (pt[0] != 0x04) {
		return -TL_EPARSE; /* compressed points take the slow road */
	}
	pthread_once(&curve_once, curve_keys_init);
	tmpl = curve_keys[c - curves];
	if (!tmpl) {
		OSSL_PARAM params[] = {
		        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
		                               (char *)c->group, 0),
		        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
		                                (void *)pt, c->point_len),
		        OSSL_PARAM_END,
		};
		return from_params(out, "EC", params);
	}
	k = EVP_PKEY_new();
	/* the point is checked to lie on the curve */
	if (!k || EVP_PKEY_copy_parameters(k, tmpl) != 1 ||
	    EVP_PKEY_set1_encoded_public_key(k, pt, c->point_len) != 1) {
		EVP_PKEY_free(k);
		return -TL_EPARSE;
	}
	*out = k;
	return 0;
}

/* One DER header: tag, then a definite length in minimal form; *hl is
 * the header's size, *vl the value's; the value must fit in len. */
static int der_head(const uint8_t *p, size_t len, uint8_t tag, size_t *hl,
                    size_t *vl)
{
	size_t n;

	if (len < 2 || p[0] != tag) {
		return -TL_EPARSE;
	}
	if (p[1] < 0x80) {
		*hl = 2;
		n = p[1];
	} else if (p[1] == 0x81 && len >= 3 && p[2] >= 0x80) {
		*hl = 3;
		n = p[2];
	} else if (p[1] == 0x82 && len >= 4 && p[2] != 0) {
		*hl = 4;
		n = (size_t)p[2] << 8 | p[3];
	} else {
		return -TL_EPARSE;
	}
	if (n > len - *hl) {
		return -TL_EPARSE;
	}
	*vl = n;
	return 0;
}

static int rsa_decode(EVP_PKEY **out, const uint8_t *p, size_t len)
{
	size_t hl, vl;
	const uint8_t *n, *e;
	size_t nl, el;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	int err = -TL_EPARSE;

	/* SEQUENCE { AlgorithmIdentifier, BIT STRING { 0, RSAPublicKey } } */
	if (der_head(p, len, 0x30, &hl, &vl) || hl + vl != len) {
		return -TL_EPARSE;
	}
	p += hl;
	len = vl;
	if (len < sizeof(rsa_alg) || memcmp(p, rsa_alg, sizeof(rsa_alg))) {
		return -TL_EPARSE;
	}
	p += sizeof(rsa_alg);
	len -= sizeof(rsa_alg);
	if (der_head(p, len, 0x03, &hl, &vl) || hl + vl != len || vl < 1 ||
	    p[hl] != 0) {
		return -TL_EPARSE;
	}
	p += hl + 1;
	len = vl - 1;
	/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
	if (der_head(p, len, 0x30, &hl, &vl) || hl + vl != len) {
		return -TL_EPARSE;
	}
	p += hl;
	len = vl;
	{
		const uint8_t *q = p;
		size_t ql = len, h2, v2;

		if (der_head(q, ql, 0x02, &h2, &v2) || v2 == 0) {
			return -TL_EPARSE;
		}
		n = q + h2;
		nl = v2;
		q += h2 + v2;
		ql -= h2 + v2;
		if (der_head(q, ql, 0x02, &h2, &v2) || v2 == 0 ||
		    h2 + v2 != ql) {
			return -TL_EPARSE;
		}
		e = q + h2;
		el = v2;
	}
	/* positive and minimal (X.690 §8.3.2) */
	if ((n[0] & 0x80) || (e[0] & 0x80) ||
	    (nl > 1 && n[0] == 0 && !(n[1] & 0x80)) ||
	    (el > 1 && e[0] == 0 && !(e[1] & 0x80))) {
		return -TL_EPARSE;
	}
	bn = BN_bin2bn(n, (int)nl, NULL);
	be = BN_bin2bn(e, (int)el, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!bn || !be || !bld ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld))) {
		err = -ENOMEM;
		goto out;
	}
	err = from_params(out, "RSA", params);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return err;
}

int pki_spki_decode(EVP_PKEY **out, const uint8_t *p, size_t len)
{
	const unsigned char *q = p;
	EVP_PKEY *k;

	*out = NULL;
	if (!p || len == 0) {
		return -TL_ETRUNC;
	}
	if (len > SPKI_MAX) {
		return -TL_ETOOBIG;
	}
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		const struct curve *c = &curves[i];
		if (len == c->head_len + c->point_len &&
		    !memcmp(p, c->head, c->head_len) &&
		    p[c->head_len] == 0x04) {
			return ec_decode(out, c, p + c->head_len);
		}
	}
	if (len > 4 + sizeof(rsa_alg) && p[0] == 0x30 &&
	    rsa_decode(out, p, len) == 0) {
		return 0;
	}
	k = d2i_PUBKEY(NULL, &q, (long)len);
	if (!k) {
		return -TL_EPARSE;
	}
	if (q != p + len) {
		EVP_PKEY_free(k);
		return -TL_ETRAIL;
	}
	*out = k;
	return 0;
}

int pki_spki_encode(EVP_PKEY *key, struct buf *out)
{
	char group[32];
	uint8_t pt[133];
	size_t glen = 0, plen = 0;
	unsigned char *der = NULL;
	int n;

	if (!key) {
		return -EINVAL;
	}
	if (EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	                                   group, sizeof(group), &glen) == 1 &&
	    EVP_PKEY_get_octet_string_param(key,
	                                    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	                                    pt, sizeof(pt), &plen) == 1) {
		for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]);
		     i++) {
			const struct curve *c = &curves[i];
			if (!strcmp(group, c->group) && plen == c->point_len &&
			    pt[0] == 0x04) {
				buf_put(out, c->head, c->head_len);
				buf_put(out, pt, plen);
				return buf_err(out);
			}
		}
	}
	n = i2d_PUBKEY(key, &der);
	if (n <= 0) {
		return -TL_ECRYPTO;
	}
	buf_put(out, der, (size_t)n);
	OPENSSL_free(der);
	return buf_err(out);
}
