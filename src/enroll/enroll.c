/* The enrolment engine shared by CAPF and EST (docs/capf.md). */
#include "enroll/enroll.h"

#include "base/cur.h"
#include "base/log.h"
#include "net/net_tls.h"
#include "pki/pki_site.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* RFC 5280 §5.3.1 CRLReason */
#define REASON_SUPERSEDED 4
#define REASON_CESSATION  5

struct enroll {
	struct store *st;
	struct pki_ca *ca;
	struct pki_trust *lsc_trust; /* the site CA, no CRL: see check_cert */
	struct pki_trust *mic_trust; /* the manufacturer CA; NULL: none */
	char *site_dir;
	char issuer[256]; /* RFC 4514 subject of the CA: every LSC's issuer */
	uint32_t lsc_days;
	uint32_t crl_days;
};

int enroll_new(struct enroll **out, const struct enroll_conf *c)
{
	struct enroll *e;
	int err;

	*out = NULL;
	if (c->st == NULL || c->ca == NULL) {
		return -EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		return -ENOMEM;
	}
	e->st = c->st;
	e->ca = c->ca;
	e->lsc_days = c->lsc_days;
	e->crl_days = c->crl_days ? c->crl_days : 7;
	err = pki_trust_new(&e->lsc_trust);
	if (!err) {
		err = pki_trust_add_cert(e->lsc_trust, pki_ca_cert(c->ca));
	}
	if (!err) {
		err = pki_name_str(X509_get_subject_name(pki_ca_cert(c->ca)),
		                   e->issuer, sizeof(e->issuer));
	}
	if (!err && c->mfg_ca != NULL) {
		err = pki_trust_new(&e->mic_trust);
		if (!err) {
			err = pki_trust_add_cert(e->mic_trust, c->mfg_ca);
		}
	}
	if (!err && c->site_dir != NULL) {
		e->site_dir = strdup(c->site_dir);
		if (!e->site_dir) {
			err = -ENOMEM;
		}
	}
	if (err) {
		enroll_free(e);
		return err;
	}
	*out = e;
	return 0;
}

void enroll_free(struct enroll *e)
{
	if (!e) {
		return;
	}
	pki_trust_free(e->lsc_trust);
	pki_trust_free(e->mic_trust);
	free(e->site_dir);
	free(e);
}

X509 *enroll_ca_cert(const struct enroll *e)
{
	return pki_ca_cert(e->ca);
}

int enroll_device_mac(const char *name, char mac[13])
{
	if (name == NULL || strncmp(name, "SEP", 3) != 0 ||
	    strlen(name) != 15) {
		return -TL_EPARSE;
	}
	for (size_t i = 0; i < 12; i++) {
		char ch = name[3 + i];
		if (ch >= 'a' && ch <= 'f') {
			ch = (char)(ch - 'a' + 'A');
		} else if (!((ch >= '0' && ch <= '9') ||
		             (ch >= 'A' && ch <= 'F'))) {
			return -TL_EPARSE;
		}
		mac[i] = ch;
	}
	mac[12] = '\0';
	return 0;
}

/* A certificate offered as credentials: it must chain to t at this time,
 * name the device, and not be revoked in our records. A certificate that
 * we issued (an LSC) must be in our records at all. */
static int check_cert(struct enroll *e, struct pki_trust *t,
                      const struct enroll_cred *cred,
                      const struct store_device *dev, bool must_be_ours)
{
	char cn[64], serial[80];
	struct store_cert rec;
	int err;

	if (t == NULL || cred->cert == NULL) {
		return -TL_ETRUST;
	}
	err = pki_cert_check(t, cred->cert, cred->chain, 0, PKI_EKU_CLIENT);
	if (err) {
		return err;
	}
	err = net_tls_cert_cn(cred->cert, cn, sizeof(cn));
	if (err) {
		return -TL_ETRUST;
	}
	if (strcmp(cn, dev->name) != 0) {
		return -TL_EPOLICY;
	}
	err = pki_serial_hex(cred->cert, serial, sizeof(serial));
	if (err) {
		return err;
	}
	memset(&rec, 0, sizeof(rec));
	err = store_cert_get(e->st, serial, &rec);
	if (err == -TL_ENOTFOUND) {
		return must_be_ours ? -TL_ETRUST : 0;
	}
	if (err) {
		return err;
	}
	err = rec.revoked_at != 0 ? -TL_EREVOKED : 0;
	store_cert_clear(&rec);
	return err;
}

int enroll_authorize(struct enroll *e, const struct enroll_cred *cred,
                     struct store_device *dev)
{
	char mac[13];
	int err;

	memset(dev, 0, sizeof(*dev));
	err = enroll_device_mac(cred->device, mac);
	if (err) {
		return err;
	}
	err = store_device_get(e->st, mac, dev);
	if (err) {
		return err;
	}
	if (strcasecmp(dev->name, cred->device) != 0) {
		return -TL_ENOTFOUND;
	}
	if (cred->reenroll) {
		/* RFC 7030 §4.2.2: re-enrolment is authenticated by the
		 * current certificate. */
		err = check_cert(e, e->lsc_trust, cred, dev, true);
	} else {
		switch (dev->capf_auth_mode) {
		case 1:
			if (cred->auth_string == NULL) {
				err = -TL_EAUTH;
				break;
			}
			err = store_device_capf_auth_check(e->st, mac,
			                                   cred->auth_string);
			break;
		case 2:
			err = 0;
			break;
		case 3:
			/* the LSC first, then the MIC */
			err = check_cert(e, e->lsc_trust, cred, dev, true);
			if (err == -TL_ETRUST && e->mic_trust != NULL) {
				err = check_cert(e, e->mic_trust, cred, dev,
				                 false);
			}
			break;
		case 4:
			err = check_cert(e, e->mic_trust, cred, dev, false);
			break;
		default:
			err = -TL_EPOLICY;
			break;
		}
	}
	if (err) {
		return err;
	}
	if (dev->capf_op == STORE_CAPF_NONE) {
		return -TL_ESTATE;
	}
	if (dev->capf_deadline != 0 &&
	    (int64_t)time(NULL) > dev->capf_deadline) {
		return -TL_EEXPIRED;
	}
	return 0;
}

static int crl_update(struct enroll *e)
{
	uint64_t n;

	if (e->site_dir == NULL) {
		return 0;
	}
	return pki_site_crl_update(e->site_dir, e->ca, e->st, e->crl_days, &n);
}

/* The operation is done: clear it (and the one-time auth string). */
static int op_clear(struct enroll *e, const struct store_device *dev)
{
	struct store_device d = *dev;
	int err;

	d.capf_op = STORE_CAPF_NONE;
	d.capf_deadline = 0;
	err = store_device_update(e->st, &d);
	if (!err && dev->capf_has_auth_string) {
		err = store_device_capf_auth_set(e->st, dev->mac, NULL);
	}
	return err;
}

/* One DER TLV header (X.690 §8.1): the tag, and the value as a
 * sub-cursor; whole gives the TLV with its header. */
static int der_tlv(struct cur *c, uint8_t *tag, struct cur *val,
                   struct slice *whole)
{
	size_t at = c->off, n = 0;
	uint8_t b;
	int err = cur_u8(c, tag);

	if (!err) {
		err = cur_u8(c, &b);
	}
	if (!err && (b & 0x80)) {
		unsigned k = b & 0x7f;
		if (k == 0 || k > 3) {
			return -TL_EPARSE;
		}
		for (unsigned i = 0; !err && i < k; i++) {
			err = cur_u8(c, &b);
			n = (n << 8) | b;
		}
	} else {
		n = b;
	}
	if (!err) {
		err = cur_sub(c, n, val);
	}
	if (!err && whole) {
		*whole = slice_make(c->p + at, c->off - at);
	}
	return err;
}

static int der_time(struct slice tlv, int64_t *out)
{
	const uint8_t *p = tlv.p;
	ASN1_TIME *t = d2i_ASN1_TIME(NULL, &p, (long)tlv.len);
	struct tm tm;
	int err = -TL_EPARSE;

	if (t && ASN1_TIME_to_tm(t, &tm) == 1) {
		*out = (int64_t)timegm(&tm);
		err = 0;
	}
	ASN1_TIME_free(t);
	return err;
}

/* Record the LSC we just issued (as pki_site_record does) from its DER,
 * without decoding it into an X509: OpenSSL 3.0 decodes the public key
 * of a certificate through its provider framework, which costs more than
 * issuing it. We wrote this DER; the walk below only finds the fields. */
static int record_lsc(struct enroll *e, const uint8_t *der, size_t len,
                      const char *serial)
{
	struct cur c, cert, tbs, v, validity;
	struct slice subject, t1, t2;
	struct store_cert rec;
	uint8_t tag;
	X509_NAME *name = NULL;
	int err;

	memset(&rec, 0, sizeof(rec));
	cur_init(&c, der, len);
	err = der_tlv(&c, &tag, &cert, NULL);
	if (!err) {
		err = der_tlv(&cert, &tag, &tbs, NULL);
	}
	if (!err) {
		err = der_tlv(&tbs, &tag, &v, NULL); /* [0] version */
	}
	if (!err && tag == 0xa0) {
		err = der_tlv(&tbs, &tag, &v, NULL); /* serialNumber */
	}
	if (!err) {
		err = der_tlv(&tbs, &tag, &v, NULL); /* signature */
	}
	if (!err) {
		err = der_tlv(&tbs, &tag, &v, NULL); /* issuer */
	}
	if (!err) {
		err = der_tlv(&tbs, &tag, &validity, NULL);
	}
	if (!err) {
		err = der_tlv(&validity, &tag, &v, &t1);
	}
	if (!err) {
		err = der_tlv(&validity, &tag, &v, &t2);
	}
	if (!err) {
		err = der_tlv(&tbs, &tag, &v, &subject);
	}
	if (!err) {
		err = der_time(t1, &rec.not_before);
	}
	if (!err) {
		err = der_time(t2, &rec.not_after);
	}
	if (err) {
		return -TL_ECRYPTO; /* our own DER: a bug, not input */
	}
	const uint8_t *p = subject.p;
	name = d2i_X509_NAME(NULL, &p, (long)subject.len);
	err = name ? pki_name_str(name, rec.subject, sizeof(rec.subject))
	           : -TL_ECRYPTO;
	X509_NAME_free(name);
	if (err) {
		return err;
	}
	snprintf(rec.serial, sizeof(rec.serial), "%s", serial);
	snprintf(rec.issuer, sizeof(rec.issuer), "%s", e->issuer);
	snprintf(rec.profile, sizeof(rec.profile), "%s",
	         pki_profile_name(PKI_PROFILE_LSC));
	/* RFC 7468 §5.1: 64-character lines */
	struct buf pem;
	buf_init(&pem, 0);
	buf_put_str(&pem, "-----BEGIN CERTIFICATE-----\n");
	err = buf_reserve(&pem, (len + 2) / 3 * 4 + len / 48 + 40);
	if (!err) {
		for (size_t i = 0; i < len; i += 48) {
			size_t n = len - i < 48 ? len - i : 48;
			pem.len += (size_t)EVP_EncodeBlock(pem.p + pem.len,
			                                   der + i, (int)n);
			buf_put_u8(&pem, '\n');
		}
		buf_put_str(&pem, "-----END CERTIFICATE-----\n");
		buf_put_u8(&pem, 0);
		err = buf_err(&pem);
	}
	if (!err) {
		rec.pem = (char *)pem.p;
		err = store_cert_add(e->st, &rec);
	}
	buf_free(&pem);
	return err;
}

int enroll_install(struct enroll *e, const struct store_device *dev,
                   EVP_PKEY *pub, const uint8_t *spki, size_t spki_len,
                   const char *actor, struct buf *der)
{
	struct pki_issue req = {
	        .profile = PKI_PROFILE_LSC,
	        .cn = dev->name,
	        .days = e->lsc_days,
	        .pub = pub,
	        .spki = spki,
	        .spki_len = spki_len,
	};
	char serial[80], detail[256];
	size_t start = der->len;
	bool revoked_old = false;
	int err;

	if (dev->capf_op != STORE_CAPF_INSTALL &&
	    dev->capf_op != STORE_CAPF_UPGRADE) {
		return -TL_ESTATE;
	}
	err = pki_key_policy(pub);
	if (err) {
		return err;
	}
	err = pki_ca_issue_der(e->ca, &req, der, serial, sizeof(serial));
	if (err) {
		return err;
	}
	err = store_tx_begin(e->st);
	if (err) {
		goto out;
	}
	err = record_lsc(e, der->p + start, der->len - start, serial);
	if (!err && dev->cert_serial[0] != '\0') {
		struct store_cert old;
		memset(&old, 0, sizeof(old));
		if (store_cert_get(e->st, dev->cert_serial, &old) == 0) {
			if (old.revoked_at == 0 &&
			    strcmp(old.profile, "lsc") == 0) {
				err = store_cert_revoke(e->st, dev->cert_serial,
				                        REASON_SUPERSEDED,
				                        (int64_t)time(NULL));
				revoked_old = err == 0;
			}
			store_cert_clear(&old);
		}
	}
	if (!err) {
		err = store_device_cert_set_issued(e->st, dev->mac,
		                                   der->p + start,
		                                   der->len - start, serial);
	}
	if (!err) {
		err = op_clear(e, dev);
	}
	if (!err) {
		snprintf(detail, sizeof(detail), "%s %s lsc %s%s", dev->name,
		         store_capf_op_name(dev->capf_op), serial,
		         revoked_old ? " (previous revoked)" : "");
		err = store_audit(e->st, actor, "capf.install", detail);
	}
	if (err) {
		store_tx_rollback(e->st);
		goto out;
	}
	err = store_tx_commit(e->st);
	if (!err && revoked_old) {
		err = crl_update(e);
		if (err) {
			log_err("enroll", "CRL update failed: %s",
			        tl_strerror(err));
			err = 0;
		}
	}
out:
	if (err) {
		der->len = start;
	}
	return err;
}

int enroll_delete(struct enroll *e, const struct store_device *dev,
                  const char *actor)
{
	char detail[256];
	bool revoked = false;
	int err;

	if (dev->capf_op != STORE_CAPF_DELETE) {
		return -TL_ESTATE;
	}
	err = store_tx_begin(e->st);
	if (err) {
		return err;
	}
	/* only an LSC of ours: a MIC stays the manufacturer's */
	struct store_cert cur;
	memset(&cur, 0, sizeof(cur));
	if (dev->cert_serial[0] != '\0' &&
	    store_cert_get(e->st, dev->cert_serial, &cur) == 0 &&
	    strcmp(cur.profile, "lsc") == 0 && cur.revoked_at == 0) {
		err = store_cert_revoke(e->st, dev->cert_serial,
		                        REASON_CESSATION, (int64_t)time(NULL));
		revoked = err == 0;
	}
	store_cert_clear(&cur);
	if (!err) {
		err = store_device_cert_set(e->st, dev->mac, NULL, 0);
	}
	if (!err) {
		err = op_clear(e, dev);
	}
	if (!err) {
		snprintf(detail, sizeof(detail), "%s lsc %s%s", dev->name,
		         dev->cert_serial[0] ? dev->cert_serial : "(none)",
		         revoked ? " revoked" : "");
		err = store_audit(e->st, actor, "capf.delete", detail);
	}
	if (err) {
		store_tx_rollback(e->st);
		return err;
	}
	err = store_tx_commit(e->st);
	if (!err && revoked) {
		err = crl_update(e);
	}
	return err;
}

int enroll_fetch(struct enroll *e, const struct store_device *dev,
                 struct slice phone, const char *actor, struct buf *der)
{
	uint8_t *cur = NULL;
	size_t len = 0;
	char detail[256];
	const char *match = "";
	int err;

	if (dev->capf_op != STORE_CAPF_FETCH) {
		return -TL_ESTATE;
	}
	err = store_device_cert_get(e->st, dev->mac, &cur, &len);
	if (err && err != -TL_ENOTFOUND) {
		return err;
	}
	if (phone.len != 0) {
		match = cur != NULL && phone.len == len &&
		                        CRYPTO_memcmp(phone.p, cur, len) == 0
		                ? " phone holds it"
		                : " phone holds another certificate";
	}
	err = store_tx_begin(e->st);
	if (!err) {
		err = op_clear(e, dev);
	}
	if (!err) {
		snprintf(detail, sizeof(detail), "%s cert %s%s", dev->name,
		         cur ? dev->cert_serial : "(none)", match);
		err = store_audit(e->st, actor, "capf.fetch", detail);
	}
	if (err) {
		store_tx_rollback(e->st);
	} else {
		err = store_tx_commit(e->st);
	}
	if (!err && cur == NULL) {
		err = -TL_ENOTFOUND;
	}
	if (!err) {
		buf_put(der, cur, len);
		err = buf_err(der);
	}
	free(cur);
	return err;
}

/* DER length octets (X.690 §8.1.3). */
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

static size_t der_len_size(size_t n)
{
	return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 4;
}

int enroll_p7_certs(struct buf *out, const struct slice *certs, size_t n)
{
	/* ContentInfo { id-signedData, [0] SignedData { version 1,
	 * digestAlgorithms {}, encapContentInfo { id-data },
	 * certificates [0] IMPLICIT ..., signerInfos {} } } */
	static const uint8_t oid_signed[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
	                                     0xf7, 0x0d, 0x01, 0x07, 0x02};
	static const uint8_t head[] = {0x02, 0x01, 0x01, 0x31, 0x00, 0x30,
	                               0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48,
	                               0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
	static const uint8_t tail[] = {0x31, 0x00};
	size_t certs_len = 0;

	for (size_t i = 0; i < n; i++) {
		certs_len += certs[i].len;
	}
	if (certs_len > 0xffffff / 2) {
		return -TL_ETOOBIG;
	}
	size_t set = 1 + der_len_size(certs_len) + certs_len;
	size_t sd = sizeof(head) + set + sizeof(tail);
	size_t sd_seq = 1 + der_len_size(sd) + sd;
	size_t ctx0 = sd_seq;
	size_t ci = sizeof(oid_signed) + 1 + der_len_size(ctx0) + ctx0;

	buf_put_u8(out, 0x30);
	der_len(out, ci);
	buf_put(out, oid_signed, sizeof(oid_signed));
	buf_put_u8(out, 0xa0);
	der_len(out, ctx0);
	buf_put_u8(out, 0x30);
	der_len(out, sd);
	buf_put(out, head, sizeof(head));
	buf_put_u8(out, 0xa0);
	der_len(out, certs_len);
	for (size_t i = 0; i < n; i++) {
		buf_put_slice(out, certs[i]);
	}
	buf_put(out, tail, sizeof(tail));
	return buf_err(out);
}
