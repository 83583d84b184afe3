/* Helpers shared by every trust file: names, serials, signing and checking
 * signatures, certificate validity and revocation. */
#include "trust/trust_int.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int trust_hash_code(const EVP_MD *md)
{
	switch (md ? EVP_MD_get_type(md) : NID_sha512) {
	case NID_sha1:
		return TLV_HASH_SHA1;
	case NID_sha256:
		return TLV_HASH_SHA256;
	case NID_sha512:
		return TLV_HASH_SHA512;
	default:
		return -EINVAL;
	}
}

const EVP_MD *trust_hash_md(uint8_t code)
{
	switch (code) {
	case TLV_HASH_SHA1:
		return EVP_sha1();
	case TLV_HASH_SHA256:
		return EVP_sha256();
	case TLV_HASH_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

const EVP_MD *trust_md_by_name(const char *name)
{
	if (!strcmp(name, "sha1")) {
		return EVP_sha1();
	}
	if (!strcmp(name, "sha256")) {
		return EVP_sha256();
	}
	if (!strcmp(name, "sha512")) {
		return EVP_sha512();
	}
	return NULL;
}

void trust_hex(struct slice s, char *out, size_t outlen)
{
	static const char digits[] = "0123456789abcdef";
	size_t o = 0;

	if (!outlen) {
		return;
	}
	for (size_t i = 0; i < s.len && o + 2 < outlen; i++) {
		out[o++] = digits[s.p[i] >> 4];
		out[o++] = digits[s.p[i] & 15];
	}
	out[o] = 0;
}

int trust_serial_bytes(X509 *cert, uint8_t *out, size_t *len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	int n, err = 0;

	if (!bn) {
		return -TL_ECRYPTO;
	}
	n = BN_num_bytes(bn);
	if (BN_is_negative(bn) || n < 1 || (size_t)n > *len || n > 21) {
		err = -TL_EPARSE;
		goto out;
	}
	*len = (size_t)BN_bn2bin(bn, out);
out:
	BN_free(bn);
	return err;
}

/* RFC 4514 §2.4: escape the characters that would end or confuse a value;
 * ';' too, because it separates our attributes. */
static int put_escaped(char *out, size_t outlen, size_t *o,
                       const unsigned char *v, int n)
{
	for (int i = 0; i < n; i++) {
		unsigned char ch = v[i];
		bool esc = strchr(",+\"\\<>;=", ch) && ch;

		if ((i == 0 && (ch == ' ' || ch == '#')) ||
		    (i == n - 1 && ch == ' ')) {
			esc = true;
		}
		if (ch == 0) {
			return -TL_EPARSE;
		}
		if (*o + 3 > outlen) {
			return -TL_ETOOBIG;
		}
		if (esc) {
			out[(*o)++] = '\\';
		}
		out[(*o)++] = (char)ch;
	}
	return 0;
}

int trust_dn_string(const X509_NAME *name, char *out, size_t outlen)
{
	size_t o = 0;
	int err = 0;

	if (outlen < 1) {
		return -TL_ETOOBIG;
	}
	out[0] = 0;
	for (int i = 0; i < X509_NAME_entry_count(name); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
		unsigned char *v = NULL;
		int n;
		char oid[80];

		if (!sn) {
			if (OBJ_obj2txt(oid, sizeof(oid),
			                X509_NAME_ENTRY_get_object(e), 1) < 1) {
				return -TL_EPARSE;
			}
			sn = oid;
		}
		n = ASN1_STRING_to_UTF8(&v, X509_NAME_ENTRY_get_data(e));
		if (n < 0) {
			return -TL_EPARSE;
		}
		if (o + strlen(sn) + 3 > outlen) {
			err = -TL_ETOOBIG;
		} else {
			if (o) {
				out[o++] = ';';
			}
			memcpy(out + o, sn, strlen(sn));
			o += strlen(sn);
			out[o++] = '=';
			err = put_escaped(out, outlen, &o, v, n);
		}
		OPENSSL_free(v);
		if (err) {
			return err;
		}
	}
	out[o] = 0;
	return o ? 0 : -TL_EPARSE;
}

static int digest_hex(X509 *cert, const EVP_MD *md, char *out, size_t outlen)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!X509_digest(cert, md, d, &n)) {
		return -TL_ECRYPTO;
	}
	trust_hex(slice_make(d, n), out, outlen);
	return 0;
}

int trust_cert_hash(X509 *cert, char out[33])
{
	return digest_hex(cert, EVP_md5(), out, 33);
}

int trust_cert_sha256(X509 *cert, char out[65])
{
	return digest_hex(cert, EVP_sha256(), out, 65);
}

int trust_fill_signer(struct tlv_hdr *h, const struct trust_sign *s,
                      struct trust_signer_buf *sb, size_t *siglen)
{
	EVP_PKEY *pub = s->key ? pki_key_public(s->key) : NULL;
	size_t slen = sizeof(sb->serial);
	int code, err, size;

	if (!pub || !s->cert || !s->filename || !*s->filename) {
		return -EINVAL;
	}
	if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
		return -TL_EPOLICY; /* phones verify RSA PKCS#1 v1.5 only */
	}
	if (EVP_PKEY_eq(pub, X509_get0_pubkey(s->cert)) != 1) {
		return -TL_EPOLICY; /* key and certificate do not match */
	}
	size = EVP_PKEY_get_size(pub);
	if (size != 64 && size != 128 && size != 256 && size != 512) {
		return -TL_EPOLICY;
	}
	*siglen = (size_t)size;
	code = trust_hash_code(s->md);
	if (code < 0) {
		return code;
	}
	h->hash_alg = (uint8_t)code;
	err = trust_serial_bytes(s->cert, sb->serial, &slen);
	if (!err) {
		err = trust_dn_string(X509_get_subject_name(s->cert), sb->name,
		                      sizeof(sb->name));
	}
	if (!err) {
		err = trust_dn_string(X509_get_issuer_name(s->cert), sb->issuer,
		                      sizeof(sb->issuer));
	}
	if (err) {
		return err;
	}
	h->serial = slice_make(sb->serial, slen);
	h->signer_name = slice_from_str(sb->name);
	h->issuer_name = slice_from_str(sb->issuer);
	h->filename = slice_from_str(s->filename);
	h->timestamp = s->timestamp ? s->timestamp : (uint32_t)time(NULL);
	return 0;
}

int trust_write_signed(struct buf *out, enum tlv_kind kind,
                       const struct tlv_hdr *h, const struct tlv_record *recs,
                       size_t nrecs, struct slice content, size_t siglen,
                       const struct trust_sign *s)
{
	struct buf file, tbs, sig;
	struct tlv_hdr parsed_sig = {0};
	struct slice parts[2];
	size_t val_off;
	int err;

	buf_init(&file, 0);
	buf_init(&tbs, 0);
	buf_init(&sig, 0);
	err = tlv_write(&file, kind, h, recs, nrecs, content, siglen, &val_off);
	if (err) {
		goto out;
	}
	parsed_sig.sig_off = val_off - 3;
	parsed_sig.signature = slice_make(file.p + val_off, siglen);
	tlv_signed_parts(&parsed_sig, file.p, file.len, parts);
	buf_put_slice(&tbs, parts[0]);
	buf_put_slice(&tbs, parts[1]);
	err = buf_err(&tbs);
	if (err) {
		goto out;
	}
	err = pki_key_sign(s->key, trust_hash_md(h->hash_alg), tbs.p, tbs.len,
	                   &sig);
	if (err) {
		goto out;
	}
	if (sig.len != siglen) {
		err = -TL_ECRYPTO;
		goto out;
	}
	memcpy(file.p + val_off, sig.p, siglen);
	buf_put(out, file.p, file.len);
	err = buf_err(out);
out:
	buf_free(&file);
	buf_free(&tbs);
	buf_free(&sig);
	return err;
}

int trust_check_sig(EVP_PKEY *pub, const struct tlv_hdr *h, const uint8_t *p,
                    size_t len)
{
	const EVP_MD *md = trust_hash_md(h->hash_alg);
	struct slice parts[2];
	EVP_MD_CTX *ctx;
	int rc;

	if (!md || !pub || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
		return -TL_ESIG;
	}
	if ((size_t)EVP_PKEY_get_size(pub) != h->signature.len) {
		return -TL_ESIG;
	}
	tlv_signed_parts(h, p, len, parts);
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		return -ENOMEM;
	}
	rc = EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub) == 1 &&
	     EVP_DigestVerifyUpdate(ctx, parts[0].p, parts[0].len) == 1 &&
	     EVP_DigestVerifyUpdate(ctx, parts[1].p, parts[1].len) == 1 &&
	     EVP_DigestVerifyFinal(ctx, h->signature.p, h->signature.len) == 1;
	EVP_MD_CTX_free(ctx);
	return rc ? 0 : -TL_ESIG;
}

int trust_check_cert(X509 *cert, const struct trust_opts *o, const char **why)
{
	time_t now = (o && o->now) ? (time_t)o->now : time(NULL);
	X509_REVOKED *rev = NULL;

	if (X509_cmp_time(X509_get0_notBefore(cert), &now) >= 0) {
		*why = "signer certificate is not yet valid";
		return -TL_EEXPIRED;
	}
	if (X509_cmp_time(X509_get0_notAfter(cert), &now) <= 0) {
		*why = "signer certificate has expired";
		return -TL_EEXPIRED;
	}
	/* RFC 5280 §6.3.3: a CRL speaks only for its issuer's certificates. */
	if (o && o->crl &&
	    !X509_NAME_cmp(X509_CRL_get_issuer(o->crl),
	                   X509_get_issuer_name(cert)) &&
	    X509_CRL_get0_by_cert(o->crl, &rev, cert) == 1) {
		*why = "signer certificate is revoked";
		return -TL_EREVOKED;
	}
	return 0;
}
