/* CTLFile.tlv / ITLFile.tlv: build, parse, verify, look up roles
 * (docs/formats/ctl.md). */
#include "trust/trust_int.h"

#include "pki/pki.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAST 2 /* seed 002 / ctl.md §5: at most two SASTs per CTL */

struct trust_ctl {
	uint8_t *bytes;
	size_t len;
	struct tlv_file f;
	X509 **certs; /* one per record, decoded on first use */
	bool *bad;    /* a record whose certificate failed to decode */
	bool *signed_by; /* the file's signature verified with this record's
	                  * key (a second look need not check it again) */
};

static bool role_covers(uint16_t have, uint16_t want)
{
	if (have == want) {
		return true;
	}
	return have == TLV_ROLE_CCM_TFTP &&
	       (want == TLV_ROLE_CCM || want == TLV_ROLE_TFTP);
}

/* Per-record buffers while building. */
struct rec_buf {
	uint8_t serial[32];
	char subject[1024];
	char issuer[1024];
	uint8_t *der;
};

static int fill_record(struct tlv_record *r, struct rec_buf *rb, X509 *cert,
                       uint16_t role)
{
	const ASN1_BIT_STRING *sig = NULL;
	const unsigned char *pk = NULL;
	size_t slen = sizeof(rb->serial);
	int pklen = 0, n, err;

	memset(r, 0, sizeof(*r));
	r->role = role;
	err = trust_serial_bytes(cert, rb->serial, &slen);
	if (!err) {
		err = trust_dn_string(X509_get_subject_name(cert), rb->subject,
		                      sizeof(rb->subject));
	}
	if (!err) {
		err = trust_dn_string(X509_get_issuer_name(cert), rb->issuer,
		                      sizeof(rb->issuer));
	}
	if (err) {
		return err;
	}
	/* The subjectPublicKey BIT STRING holds exactly what tag 7 carries:
	 * DER RSAPublicKey (RFC 8017 A.1.1) or the X9.62 EC point. */
	if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL,
	                            X509_get_X509_PUBKEY(cert)) ||
	    pklen < 1) {
		return -TL_EPARSE;
	}
	X509_get0_signature(&sig, NULL, cert);
	if (!sig || ASN1_STRING_length(sig) < 1) {
		return -TL_EPARSE;
	}
	n = i2d_X509(cert, &rb->der);
	if (n < 1) {
		return -TL_ECRYPTO;
	}
	r->serial = slice_make(rb->serial, slen);
	r->subject = slice_from_str(rb->subject);
	r->issuer = slice_from_str(rb->issuer);
	r->pubkey = slice_make(pk, (size_t)pklen);
	r->cert_sig = slice_make(ASN1_STRING_get0_data(sig),
	                         (size_t)ASN1_STRING_length(sig));
	r->cert = slice_make(rb->der, (size_t)n);
	return 0;
}

int trust_ctl_build(struct buf *out, const struct trust_sign *s,
                    X509 *const *certs, const uint16_t *roles, size_t n,
                    unsigned flags)
{
	struct tlv_record *recs = NULL;
	struct rec_buf *rbs = NULL;
	struct trust_signer_buf sb;
	struct tlv_hdr h = {0};
	size_t siglen, nsast = 0;
	bool signer_listed = false, ec = false;
	int err;

	if (n == 0 || n > TLV_MAX_RECORDS) {
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!certs[i]) {
			return -EINVAL;
		}
		if (roles[i] == TLV_ROLE_SAST) {
			nsast++;
			if (s->cert && !X509_cmp(certs[i], s->cert)) {
				signer_listed = true;
			}
		}
		if (EVP_PKEY_get_base_id(X509_get0_pubkey(certs[i])) ==
		    EVP_PKEY_EC) {
			ec = true;
		}
	}
	if (nsast > MAX_SAST) {
		return -TL_EPOLICY;
	}
	if ((flags & TRUST_BUILD_MIXED) && nsast < 2) {
		return -TL_EPOLICY;
	}
	if (!signer_listed) {
		return -TL_ETRUST; /* a CTL is signed by one of its SASTs */
	}
	err = trust_fill_signer(&h, s, &sb, &siglen);
	if (err) {
		return err;
	}
	h.ver_major = 1;
	h.ver_minor = TLV_FORMAT_LIST_MINOR;
	/* ctl.md §2: signer version 1.1 announces EC certificates. */
	h.sv_major = 1;
	h.sv_minor = ec ? 1 : 0;
	recs = calloc(n, sizeof(*recs));
	rbs = calloc(n, sizeof(*rbs));
	if (!recs || !rbs) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		err = fill_record(&recs[i], &rbs[i], certs[i], roles[i]);
		if (err) {
			goto out;
		}
	}
	err = trust_write_signed(out, TLV_KIND_LIST, &h, recs, n, SLICE_NULL,
	                         siglen, s);
out:
	if (rbs) {
		for (size_t i = 0; i < n; i++) {
			OPENSSL_free(rbs[i].der);
		}
	}
	free(rbs);
	free(recs);
	return err;
}

void trust_ctl_free(struct trust_ctl *ctl)
{
	if (!ctl) {
		return;
	}
	if (ctl->certs) {
		for (size_t i = 0; i < ctl->f.nrecs; i++) {
			X509_free(ctl->certs[i]);
		}
	}
	free(ctl->certs);
	free(ctl->bad);
	free(ctl->signed_by);
	tlv_file_clear(&ctl->f);
	free(ctl->bytes);
	free(ctl);
}

/* X.690 §8.1: one DER SEQUENCE (definite length) filling the slice
 * exactly. The full decode waits until the certificate is used: OpenSSL
 * decodes the public key with every certificate, which dominates the cost
 * of reading a CTL. */
static bool der_sequence(struct slice s)
{
	size_t len, hdr;

	if (s.len < 2 || s.p[0] != 0x30) {
		return false;
	}
	if (s.p[1] < 0x80) {
		len = s.p[1];
		hdr = 2;
	} else {
		size_t n = s.p[1] & 0x7f;

		if (n == 0 || n > 3 || s.len < 2 + n || s.p[2] == 0) {
			return false;
		}
		len = 0;
		for (size_t i = 0; i < n; i++) {
			len = (len << 8) | s.p[2 + i];
		}
		if (len < 0x80) {
			return false; /* DER: shortest form */
		}
		hdr = 2 + n;
	}
	return hdr + len == s.len;
}

/* The record's certificate, decoded on first use; NULL when it does not
 * decode as one DER certificate or its serial differs from the record's.
 * Such a record is never trusted for anything. */
static X509 *cert_at(const struct trust_ctl *ctl, size_t i)
{
	const struct tlv_record *r = &ctl->f.recs[i];
	uint8_t serial[32];
	size_t slen = sizeof(serial);
	X509 *x;

	if (ctl->certs[i] || ctl->bad[i]) {
		return ctl->certs[i];
	}
	x = pki_cert_shared(r->cert.p, r->cert.len);
	if (!x || trust_serial_bytes(x, serial, &slen) ||
	    !slice_eq(slice_make(serial, slen), r->serial)) {
		X509_free(x);
		ctl->bad[i] = true;
		return NULL;
	}
	ctl->certs[i] = x;
	return x;
}

int trust_ctl_parse(struct trust_ctl **out, const uint8_t *p, size_t len,
                    const char **why)
{
	const char *dummy = NULL;
	struct trust_ctl *ctl;
	int err;

	if (!why) {
		why = &dummy;
	}
	*why = NULL;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		return -ENOMEM;
	}
	ctl->bytes = malloc(len ? len : 1);
	if (!ctl->bytes) {
		err = -ENOMEM;
		goto out;
	}
	if (len) {
		memcpy(ctl->bytes, p, len);
	}
	ctl->len = len;
	err = tlv_parse(&ctl->f, TLV_KIND_LIST, ctl->bytes, len, why);
	if (err) {
		goto out;
	}
	ctl->certs = calloc(ctl->f.nrecs, sizeof(*ctl->certs));
	ctl->bad = calloc(ctl->f.nrecs, sizeof(*ctl->bad));
	ctl->signed_by = calloc(ctl->f.nrecs, sizeof(*ctl->signed_by));
	if (!ctl->certs || !ctl->bad || !ctl->signed_by) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ctl->f.nrecs; i++) {
		if (!der_sequence(ctl->f.recs[i].cert)) {
			*why = "record certificate is not one DER SEQUENCE";
			err = -TL_EPARSE;
			goto out;
		}
	}
out:
	if (err) {
		trust_ctl_free(ctl);
		return err;
	}
	*out = ctl;
	return 0;
}

size_t trust_ctl_count(const struct trust_ctl *ctl)
{
	return ctl->f.nrecs;
}

int trust_ctl_entry(const struct trust_ctl *ctl, size_t i,
                    struct trust_entry *e)
{
	if (i >= ctl->f.nrecs) {
		return -TL_ENOTFOUND;
	}
	e->cert = cert_at(ctl, i);
	if (!e->cert) {
		return -TL_EPARSE;
	}
	e->role = ctl->f.recs[i].role;
	e->serial = ctl->f.recs[i].serial;
	e->subject = ctl->f.recs[i].subject;
	return 0;
}

const struct tlv_hdr *trust_ctl_header(const struct trust_ctl *ctl)
{
	return &ctl->f.hdr;
}

struct slice trust_ctl_bytes(const struct trust_ctl *ctl)
{
	return slice_make(ctl->bytes, ctl->len);
}

X509 *trust_ctl_signer(const struct trust_ctl *ctl)
{
	const struct tlv_hdr *h = &ctl->f.hdr;

	for (size_t i = 0; i < ctl->f.nrecs; i++) {
		const struct tlv_record *r = &ctl->f.recs[i];
		X509 *x;

		if (r->role != TLV_ROLE_SAST ||
		    !slice_eq(r->serial, h->serial)) {
			continue;
		}
		x = cert_at(ctl, i);
		if (x && (ctl->signed_by[i] ||
		          !trust_check_sig(X509_get0_pubkey(x), h, ctl->bytes,
		                           ctl->len))) {
			ctl->signed_by[i] = true;
			return x;
		}
	}
	return NULL;
}

/* prev's decoded certificate for a SAST record with this serial and the
 * same certificate bytes, or NULL. */
static X509 *prev_sast(const struct trust_ctl *prev, const struct tlv_record *r)
{
	for (size_t i = 0; i < prev->f.nrecs; i++) {
		const struct tlv_record *q = &prev->f.recs[i];

		if (q->role == TLV_ROLE_SAST &&
		    slice_eq(q->serial, r->serial) &&
		    slice_eq(q->cert, r->cert)) {
			return cert_at(prev, i);
		}
	}
	return NULL;
}

int trust_ctl_verify(const struct trust_ctl *ctl, const struct trust_ctl *prev,
                     const struct trust_opts *o, const char **why)
{
	const struct tlv_hdr *h = &ctl->f.hdr;
	const char *dummy = NULL;
	size_t nsast = 0;
	bool listed = false, known = false;
	int err = -TL_ETRUST;

	if (!why) {
		why = &dummy;
	}
	*why = NULL;
	for (size_t i = 0; i < ctl->f.nrecs; i++) {
		if (ctl->f.recs[i].role == TLV_ROLE_SAST) {
			nsast++;
		}
	}
	if (nsast > MAX_SAST) {
		*why = "more than two SAST records";
		return -TL_EPOLICY;
	}
	if (!prev && !(o && o->first_use)) {
		*why = "no previous CTL to check against and first use not "
		       "allowed";
		return -TL_ETRUST;
	}
	for (size_t i = 0; i < ctl->f.nrecs; i++) {
		const struct tlv_record *r = &ctl->f.recs[i];
		X509 *cert;

		if (r->role != TLV_ROLE_SAST ||
		    !slice_eq(r->serial, h->serial)) {
			continue;
		}
		listed = true;
		/* With a previous CTL the key comes from it: the same bytes,
		 * already decoded, trusted before this file arrived. */
		cert = prev ? prev_sast(prev, r) : cert_at(ctl, i);
		if (!cert) {
			continue;
		}
		known = true;
		err = trust_check_sig(X509_get0_pubkey(cert), h, ctl->bytes,
		                      ctl->len);
		if (err) {
			*why = "signature does not verify";
			continue;
		}
		/* the same key: a previous CTL's record has these bytes */
		ctl->signed_by[i] = true;
		return trust_check_cert(cert, o, why);
	}
	if (!listed) {
		*why = "signer is not a SAST listed in the CTL";
		return -TL_ETRUST;
	}
	if (!known) {
		*why = prev ? "signer is not a SAST of the previous CTL"
		            : "signer certificate does not decode";
		return -TL_ETRUST;
	}
	return err;
}

/* The DER of cert, malloc'd by OpenSSL. */
static struct slice der_of(X509 *cert, unsigned char **mem)
{
	int n;

	*mem = NULL;
	n = i2d_X509(cert, mem);
	return n > 0 ? slice_make(*mem, (size_t)n) : SLICE_NULL;
}

bool trust_ctl_has_role(const struct trust_ctl *ctl, X509 *cert, uint16_t role)
{
	unsigned char *mem;
	struct slice der = der_of(cert, &mem);
	bool found = false;

	for (size_t i = 0; der.len && i < ctl->f.nrecs && !found; i++) {
		found = role_covers(ctl->f.recs[i].role, role) &&
		        slice_eq(ctl->f.recs[i].cert, der) &&
		        cert_at(ctl, i) != NULL;
	}
	OPENSSL_free(mem);
	return found;
}

bool trust_ctl_serial_has_role(const struct trust_ctl *ctl, struct slice serial,
                               uint16_t role)
{
	for (size_t i = 0; i < ctl->f.nrecs; i++) {
		if (role_covers(ctl->f.recs[i].role, role) &&
		    slice_eq(ctl->f.recs[i].serial, serial) &&
		    cert_at(ctl, i)) {
			return true;
		}
	}
	return false;
}

int trust_check_file_signer(const struct tlv_file *f, const uint8_t *p,
                            size_t len, const struct trust_ctl *ctl,
                            const struct trust_opts *o, const char **why)
{
	const struct tlv_hdr *h = &f->hdr;
	bool holder = false;
	int err = -TL_ETRUST;

	for (size_t i = 0; i < ctl->f.nrecs; i++) {
		const struct tlv_record *r = &ctl->f.recs[i];
		X509 *cert;

		if (!role_covers(r->role, TLV_ROLE_TFTP) ||
		    !slice_eq(r->serial, h->serial)) {
			continue;
		}
		cert = cert_at(ctl, i);
		if (!cert) {
			continue;
		}
		holder = true;
		err = trust_check_sig(X509_get0_pubkey(cert), h, p, len);
		if (err) {
			*why = "signature does not verify";
			continue;
		}
		return trust_check_cert(cert, o, why);
	}
	if (!holder) {
		*why = "signer does not hold the TFTP role in the CTL";
	}
	return err;
}
