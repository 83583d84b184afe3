/* PKCS#10 requests (RFC 2986 §4) from attacker bytes, taken apart
 * without an X509_REQ.
 *
 * d2i_X509_REQ decodes the request's public key through OpenSSL 3.0's
 * provider decoder chain, which costs about four P-256 signatures, and
 * the enrolment hot path then needs the key's DER again. Here the four
 * parts of the request are found by a strict DER walk, the key is decoded
 * once by pki_spki_decode, the subject and each attribute by OpenSSL's own
 * decoders (which touch no key), and the self-signature is checked over
 * the CertificationRequestInfo bytes as received. */
#include "pki/pki_csr.h"

#include "base/cur.h"
#include "pki/pki.h"

#include <errno.h>
#include <openssl/asn1.h>
#include <string.h>

#define CSR_MAX 65536

/* X.690 §10.1: DER has definite lengths in the fewest octets; anything
 * else is refused rather than normalised. */
int pki_der_tlv(struct cur *c, uint8_t want, struct cur *val,
                struct slice *whole)
{
	size_t at = c->off, n;
	uint8_t tag, b, b2;

	if (cur_u8(c, &tag) != 0 || cur_u8(c, &b) != 0 || tag != want) {
		return -TL_EPARSE;
	}
	if (b < 0x80) {
		n = b;
	} else if (b == 0x81) {
		if (cur_u8(c, &b) != 0 || b < 0x80) {
			return -TL_EPARSE;
		}
		n = b;
	} else if (b == 0x82) {
		if (cur_u8(c, &b) != 0 || cur_u8(c, &b2) != 0 || b == 0) {
			return -TL_EPARSE;
		}
		n = (size_t)b << 8 | b2;
	} else {
		return -TL_EPARSE; /* indefinite (0x80), or too long */
	}
	if (cur_sub(c, n, val) != 0) {
		return -TL_EPARSE;
	}
	if (whole) {
		*whole = slice_make(c->p + at, c->off - at);
	}
	return 0;
}

static int decode_attrs(struct pki_csr *r, struct cur *set)
{
	r->attrs = sk_X509_ATTRIBUTE_new_null();
	if (!r->attrs) {
		return -ENOMEM;
	}
	while (cur_left(set) > 0) {
		struct cur v;
		struct slice a;
		int err = pki_der_tlv(set, 0x30, &v, &a);
		if (err) {
			return err;
		}
		const unsigned char *q = a.p;
		X509_ATTRIBUTE *x = d2i_X509_ATTRIBUTE(NULL, &q, (long)a.len);
		if (!x || q != a.p + a.len) {
			X509_ATTRIBUTE_free(x);
			return -TL_EPARSE;
		}
		if (!sk_X509_ATTRIBUTE_push(r->attrs, x)) {
			X509_ATTRIBUTE_free(x);
			return -ENOMEM;
		}
	}
	return 0;
}

/* RFC 2986 §3 step 4, as X509_REQ_verify does it: the signature over
 * the DER of the CertificationRequestInfo. ASN1_item_verify re-encodes
 * what it is given; an ANY holding a SEQUENCE encodes as the bytes it
 * holds, so the bytes signed are exactly the bytes received, and every
 * signature algorithm OpenSSL knows (with its parameter checks, RSA-PSS
 * included) is handled as for an X509_REQ. */
static int verify(struct slice cri, struct slice alg, struct slice sig,
                  EVP_PKEY *pub)
{
	const unsigned char *q;
	X509_ALGOR *a = NULL;
	ASN1_BIT_STRING *s = NULL;
	ASN1_STRING *body = NULL;
	ASN1_TYPE *t = NULL;
	int err = -TL_EPARSE;

	q = alg.p;
	a = d2i_X509_ALGOR(NULL, &q, (long)alg.len);
	if (!a || q != alg.p + alg.len) {
		goto out;
	}
	q = sig.p;
	s = d2i_ASN1_BIT_STRING(NULL, &q, (long)sig.len);
	if (!s || q != sig.p + sig.len) {
		goto out;
	}
	err = -ENOMEM;
	t = ASN1_TYPE_new();
	body = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	if (!t || !body || !ASN1_STRING_set(body, cri.p, (int)cri.len)) {
		goto out;
	}
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, body);
	body = NULL; /* t's now */
	err = ASN1_item_verify(ASN1_ITEM_rptr(ASN1_ANY), a, s, t, pub) == 1
	              ? 0
	              : -TL_ESIG;
out:
	ASN1_STRING_free(body);
	ASN1_TYPE_free(t);
	ASN1_BIT_STRING_free(s);
	X509_ALGOR_free(a);
	return err;
}

int pki_csr_decode(struct pki_csr *r, const uint8_t *p, size_t len)
{
	struct cur c, req = {0}, info = {0}, v = {0}, set = {0};
	struct slice cri = {0}, name = {0}, alg = {0}, sig = {0};
	int err;

	memset(r, 0, sizeof(*r));
	if (!p || len == 0) {
		return -TL_ETRUNC;
	}
	if (len > CSR_MAX) {
		return -TL_ETOOBIG;
	}
	cur_init(&c, p, len);
	err = pki_der_tlv(&c, 0x30, &req, NULL);
	if (!err && cur_left(&c) != 0) {
		err = -TL_ETRAIL;
	}
	/* CertificationRequest ::= SEQUENCE { certificationRequestInfo,
	 * signatureAlgorithm AlgorithmIdentifier, signature BIT STRING } */
	if (!err) {
		err = pki_der_tlv(&req, 0x30, &info, &cri);
	}
	if (!err) {
		err = pki_der_tlv(&req, 0x30, &v, &alg);
	}
	if (!err) {
		err = pki_der_tlv(&req, 0x03, &v, &sig);
	}
	if (!err && cur_left(&req) != 0) {
		err = -TL_EPARSE;
	}
	/* CertificationRequestInfo ::= SEQUENCE { version INTEGER { v1(0) },
	 * subject Name, subjectPKInfo SubjectPublicKeyInfo, attributes [0]
	 * IMPLICIT SET OF Attribute } */
	if (!err) {
		err = pki_der_tlv(&info, 0x02, &v, NULL);
	}
	if (!err && (v.len != 1 || v.p[0] != 0)) {
		err = -TL_EPARSE;
	}
	if (!err) {
		err = pki_der_tlv(&info, 0x30, &v, &name);
	}
	if (!err) {
		err = pki_der_tlv(&info, 0x30, &v, &r->spki);
	}
	if (!err) {
		err = pki_der_tlv(&info, 0xa0, &set, NULL);
	}
	if (!err && cur_left(&info) != 0) {
		err = -TL_EPARSE;
	}
	if (err) {
		goto out;
	}
	const unsigned char *q = name.p;
	r->subject = d2i_X509_NAME(NULL, &q, (long)name.len);
	if (!r->subject || q != name.p + name.len) {
		err = -TL_EPARSE;
		goto out;
	}
	err = decode_attrs(r, &set);
	if (err) {
		goto out;
	}
	err = pki_spki_decode(&r->pub, r->spki.p, r->spki.len);
	if (err) {
		/* a SubjectPublicKeyInfo over 2 KiB is a key too big for
		 * any policy */
		err = err == -TL_ETOOBIG ? -TL_EPOLICY : -TL_EPARSE;
		goto out;
	}
	err = pki_key_policy(r->pub);
	if (!err) {
		err = verify(cri, alg, sig, r->pub);
	}
out:
	if (err) {
		pki_csr_clear(r);
	}
	return err;
}

void pki_csr_clear(struct pki_csr *r)
{
	if (!r) {
		return;
	}
	X509_NAME_free(r->subject);
	sk_X509_ATTRIBUTE_pop_free(r->attrs, X509_ATTRIBUTE_free);
	EVP_PKEY_free(r->pub);
	memset(r, 0, sizeof(*r));
}
