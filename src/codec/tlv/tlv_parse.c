/* Parser for CTL/ITL, .sgn and .enc.sgn files (docs/formats/ctl.md).
 * Stricter than the phones: containers must hold exactly their children,
 * every tag appears at most once, unknown tags are refused, padding only
 * ends the header, and nothing may follow the last record. */
#include "base/cur.h"
#include "codec/tlv/tlv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(code, msg)                                                        \
	do {                                                                   \
		err = (code);                                                  \
		*why = (msg);                                                  \
		goto out;                                                      \
	} while (0)

/* Header tags (docs/formats/ctl.md §2). */
enum {
	H_VERSION = 1,
	H_LENGTH = 2,
	H_SIGNER_INFO = 3,
	H_SIGNER_NAME = 4,
	H_SERIAL = 5,
	H_ISSUER = 6,
	H_SIG_INFO = 7,
	H_HASH_ALG = 8,
	H_SIG_ALG_INFO = 9,
	H_SIG_ALG = 10,
	H_SIG_MODULUS = 11,
	H_SIGNATURE = 12,
	H_PADDING = 13,
	H_FILENAME = 14,
	H_TIMESTAMP = 15,
	H_ENC_INFO = 16,
	H_ENC_IV_INFO = 17,
	H_ENC_IV_ALG = 18,
	H_ENC_IV = 19,
	H_ENC_PAD = 20,
	H_ENC_KEY_INFO = 21,
	H_ENC_KEYWRAP = 22,
	H_ENC_KEY_BITS = 23,
	H_ENC_KEY_ALG = 24,
	H_ENC_KEY = 25,
	H_ENC_HASH_ALG = 26,
	H_ENC_HASH = 27,
	H_SIGNER_VERSION = 28,
};

/* Record tags (docs/formats/ctl.md §4). */
enum {
	R_LENGTH = 1,
	R_DNS_NAME = 2,
	R_SUBJECT = 3,
	R_ROLE = 4,
	R_ISSUER = 5,
	R_SERIAL = 6,
	R_PUBKEY = 7,
	R_SIGNATURE = 8,
	R_CERT = 9,
	R_IP = 10,
	R_CERT_HASH = 11,
	R_HASH_ALG = 12,
};

/* One element: tag, u16 length, a sub-cursor over the value. */
static int elem(struct cur *c, uint8_t *tag, struct cur *val)
{
	uint16_t len;
	int err;

	err = cur_u8(c, tag);
	if (!err) {
		err = cur_u16be(c, &len);
	}
	if (!err) {
		err = cur_sub(c, len, val);
	}
	return err;
}

/* Mark a tag seen; -TL_EDUP when it was seen before. */
static int once(uint32_t *seen, uint8_t tag)
{
	if (tag >= 32) {
		return 0; /* no such tag: the caller refuses it as unknown */
	}
	if (*seen & (1u << tag)) {
		return -TL_EDUP;
	}
	*seen |= 1u << tag;
	return 0;
}

/* A NUL-terminated string whose length includes the NUL. */
static int str_val(struct cur *v, struct slice *out, const char **why)
{
	size_t n = cur_left(v);
	struct slice s;
	int err;

	if (n < 2) {
		*why = "empty string";
		return -TL_EPARSE;
	}
	err = cur_bytes(v, n, &s);
	if (err) {
		return err;
	}
	if (s.p[n - 1] != 0) {
		*why = "string not NUL-terminated";
		return -TL_EPARSE;
	}
	if (memchr(s.p, 0, n - 1)) {
		*why = "NUL inside a string";
		return -TL_EPARSE;
	}
	out->p = s.p;
	out->len = n - 1;
	return 0;
}

static int u8_val(struct cur *v, uint8_t *out, const char **why)
{
	if (cur_left(v) != 1) {
		*why = "one-byte field of the wrong length";
		return -TL_EPARSE;
	}
	return cur_u8(v, out);
}

static int u16_val(struct cur *v, uint16_t *out, const char **why)
{
	if (cur_left(v) != 2) {
		*why = "two-byte field of the wrong length";
		return -TL_EPARSE;
	}
	return cur_u16be(v, out);
}

static int bytes_val(struct cur *v, size_t min, size_t max, struct slice *out,
                     const char **why)
{
	size_t n = cur_left(v);

	if (n < min || n > max) {
		*why = "field length out of range";
		return n > max ? -TL_ETOOBIG : -TL_EPARSE;
	}
	return cur_bytes(v, n, out);
}

/* X.509 serials are at most 20 octets (RFC 5280 §4.1.2.2); allow a sign
 * byte in front. */
#define SERIAL_MAX 21

static int parse_signer(struct cur *c, struct tlv_hdr *h, const char **why)
{
	uint32_t seen = 0;
	int err = 0;

	while (cur_left(c)) {
		uint8_t tag;
		struct cur v;

		err = elem(c, &tag, &v);
		if (err) {
			FAIL(err, "truncated signer info");
		}
		if (once(&seen, tag)) {
			FAIL(-TL_EDUP, "duplicate tag in signer info");
		}
		switch (tag) {
		case H_SIGNER_NAME:
			err = str_val(&v, &h->signer_name, why);
			break;
		case H_SERIAL:
			err = bytes_val(&v, 1, SERIAL_MAX, &h->serial, why);
			break;
		case H_ISSUER:
			err = str_val(&v, &h->issuer_name, why);
			break;
		default:
			FAIL(-TL_EUNKNOWN, "unknown tag in signer info");
		}
		if (err) {
			goto out;
		}
	}
	if (seen !=
	    ((1u << H_SIGNER_NAME) | (1u << H_SERIAL) | (1u << H_ISSUER))) {
		FAIL(-TL_EPARSE, "signer info lacks name, serial or issuer");
	}
out:
	return err;
}

static int parse_sig_alg(struct cur *c, struct tlv_hdr *h, const char **why)
{
	uint32_t seen = 0;
	int err = 0;

	while (cur_left(c)) {
		uint8_t tag;
		struct cur v;

		err = elem(c, &tag, &v);
		if (err) {
			FAIL(err, "truncated signature algorithm info");
		}
		if (once(&seen, tag)) {
			FAIL(-TL_EDUP, "duplicate tag in signature algorithm");
		}
		switch (tag) {
		case H_SIG_ALG:
			err = u8_val(&v, &h->sig_alg, why);
			break;
		case H_SIG_MODULUS:
			err = u8_val(&v, &h->sig_modulus, why);
			break;
		default:
			FAIL(-TL_EUNKNOWN,
			     "unknown tag in signature algorithm");
		}
		if (err) {
			goto out;
		}
	}
	if (seen != ((1u << H_SIG_ALG) | (1u << H_SIG_MODULUS))) {
		FAIL(-TL_EPARSE, "signature algorithm info incomplete");
	}
	if (h->sig_alg != 0) {
		FAIL(-TL_EUNKNOWN, "signature algorithm is not RSA");
	}
	if (h->sig_modulus > 3) {
		FAIL(-TL_EUNKNOWN, "unknown signature modulus index");
	}
out:
	return err;
}

static int parse_sig_info(struct cur *c, struct tlv_hdr *h, const char **why)
{
	uint32_t seen = 0;
	int err = 0;

	while (cur_left(c)) {
		uint8_t tag;
		struct cur v;

		err = elem(c, &tag, &v);
		if (err) {
			FAIL(err, "truncated signature info");
		}
		if (once(&seen, tag)) {
			FAIL(-TL_EDUP, "duplicate tag in signature info");
		}
		switch (tag) {
		case H_HASH_ALG:
			err = u8_val(&v, &h->hash_alg, why);
			if (!err && (h->hash_alg < TLV_HASH_SHA1 ||
			             h->hash_alg > TLV_HASH_SHA512)) {
				FAIL(-TL_EUNKNOWN, "unknown hash algorithm");
			}
			break;
		case H_SIG_ALG_INFO:
			err = parse_sig_alg(&v, h, why);
			break;
		default:
			FAIL(-TL_EUNKNOWN, "unknown tag in signature info");
		}
		if (err) {
			goto out;
		}
	}
	if (seen != ((1u << H_HASH_ALG) | (1u << H_SIG_ALG_INFO))) {
		FAIL(-TL_EPARSE, "signature info incomplete");
	}
out:
	return err;
}

static int parse_iv_info(struct cur *c, struct tlv_hdr *h, const char **why)
{
	uint32_t seen = 0;
	int err = 0;

	while (cur_left(c)) {
		uint8_t tag;
		struct cur v;

		err = elem(c, &tag, &v);
		if (err) {
			FAIL(err, "truncated IV info");
		}
		if (once(&seen, tag)) {
			FAIL(-TL_EDUP, "duplicate tag in IV info");
		}
		switch (tag) {
		case H_ENC_IV_ALG:
			err = u8_val(&v, &h->enc_iv_alg, why);
			break;
		case H_ENC_IV:
			err = bytes_val(&v, 16, 16, &h->enc_iv, why);
			break;
		case H_ENC_PAD:
			err = u16_val(&v, &h->enc_pad, why);
			break;
		default:
			FAIL(-TL_EUNKNOWN, "unknown tag in IV info");
		}
		if (err) {
			goto out;
		}
	}
	if (seen !=
	    ((1u << H_ENC_IV_ALG) | (1u << H_ENC_IV) | (1u << H_ENC_PAD))) {
		FAIL(-TL_EPARSE, "IV info incomplete");
	}
out:
	return err;
}

static int parse_key_info(struct cur *c, struct tlv_hdr *h, const char **why)
{
	uint32_t seen = 0;
	int err = 0;

	while (cur_left(c)) {
		uint8_t tag;
		struct cur v;

		err = elem(c, &tag, &v);
		if (err) {
			FAIL(err, "truncated key info");
		}
		if (once(&seen, tag)) {
			FAIL(-TL_EDUP, "duplicate tag in key info");
		}
		switch (tag) {
		case H_ENC_KEYWRAP:
			err = u8_val(&v, &h->enc_keywrap, why);
			break;
		case H_ENC_KEY_BITS:
			err = u16_val(&v, &h->enc_key_bits, why);
			break;
		case H_ENC_KEY_ALG:
			err = u8_val(&v, &h->enc_key_alg, why);
			break;
		case H_ENC_KEY:
			err = bytes_val(&v, 1, 1024, &h->enc_key, why);
			break;
		default:
			FAIL(-TL_EUNKNOWN, "unknown tag in key info");
		}
		if (err) {
			goto out;
		}
	}
	if (seen != ((1u << H_ENC_KEYWRAP) | (1u << H_ENC_KEY_BITS) |
	             (1u << H_ENC_KEY_ALG) | (1u << H_ENC_KEY))) {
		FAIL(-TL_EPARSE, "key info incomplete");
	}
out:
	return err;
}

static int parse_enc_info(struct cur *c, struct tlv_hdr *h, const char **why)
{
	uint32_t seen = 0;
	int err = 0;

	while (cur_left(c)) {
		uint8_t tag;
		struct cur v;

		err = elem(c, &tag, &v);
		if (err) {
			FAIL(err, "truncated encryption info");
		}
		if (once(&seen, tag)) {
			FAIL(-TL_EDUP, "duplicate tag in encryption info");
		}
		switch (tag) {
		case H_ENC_IV_INFO:
			err = parse_iv_info(&v, h, why);
			break;
		case H_ENC_KEY_INFO:
			err = parse_key_info(&v, h, why);
			break;
		case H_ENC_HASH_ALG:
			err = u8_val(&v, &h->enc_hash_alg, why);
			if (!err && (h->enc_hash_alg < TLV_HASH_SHA1 ||
			             h->enc_hash_alg > TLV_HASH_SHA512)) {
				FAIL(-TL_EUNKNOWN, "unknown content hash");
			}
			break;
		case H_ENC_HASH:
			err = bytes_val(&v, 20, 64, &h->enc_hash, why);
			break;
		default:
			FAIL(-TL_EUNKNOWN, "unknown tag in encryption info");
		}
		if (err) {
			goto out;
		}
	}
	if (seen != ((1u << H_ENC_IV_INFO) | (1u << H_ENC_KEY_INFO) |
	             (1u << H_ENC_HASH_ALG) | (1u << H_ENC_HASH))) {
		FAIL(-TL_EPARSE, "encryption info incomplete");
	}
out:
	return err;
}

static int parse_header(struct cur *c, enum tlv_kind kind, struct tlv_hdr *h,
                        const char **why)
{
	uint32_t seen = 0;
	bool padding = false;
	uint32_t need;
	int err = 0;

	while (cur_left(c)) {
		size_t at = c->off;
		uint8_t tag;
		struct cur v;

		if (c->p[c->off] == H_PADDING) {
			/* Tag 13 is a lone byte: pads the header to 4. */
			if (cur_skip(c, 1)) {
				FAIL(-TL_ETRUNC, "truncated header");
			}
			padding = true;
			continue;
		}
		if (padding) {
			FAIL(-TL_EPARSE, "header element after padding");
		}
		err = elem(c, &tag, &v);
		if (err) {
			FAIL(err, "header element overruns the header length");
		}
		if (once(&seen, tag)) {
			FAIL(-TL_EDUP, "duplicate header tag");
		}
		switch (tag) {
		case H_SIGNER_INFO:
			err = parse_signer(&v, h, why);
			break;
		case H_SIG_INFO:
			err = parse_sig_info(&v, h, why);
			break;
		case H_SIGNATURE:
			h->sig_off = at;
			err = bytes_val(&v, 64, 512, &h->signature, why);
			break;
		case H_FILENAME:
			err = str_val(&v, &h->filename, why);
			break;
		case H_TIMESTAMP:
			if (cur_left(&v) != 4) {
				FAIL(-TL_EPARSE, "timestamp is not 4 bytes");
			}
			err = cur_u32be(&v, &h->timestamp);
			break;
		case H_SIGNER_VERSION:
			if (kind != TLV_KIND_LIST) {
				FAIL(-TL_EUNKNOWN,
				     "signer version in a signed file");
			}
			if (cur_left(&v) != 2) {
				FAIL(-TL_EPARSE,
				     "signer version is not 2 bytes");
			}
			h->has_signer_version = true;
			err = cur_u8(&v, &h->sv_major);
			if (!err) {
				err = cur_u8(&v, &h->sv_minor);
			}
			if (!err && (h->sv_major != 1 || h->sv_minor > 1)) {
				FAIL(-TL_EUNKNOWN, "unknown signer version");
			}
			break;
		case H_ENC_INFO:
			if (kind != TLV_KIND_ENC) {
				FAIL(-TL_EUNKNOWN,
				     "encryption info in an unencrypted file");
			}
			err = parse_enc_info(&v, h, why);
			break;
		default:
			FAIL(-TL_EUNKNOWN, "unknown header tag");
		}
		if (err) {
			goto out;
		}
	}
	need = (1u << H_SIGNER_INFO) | (1u << H_SIG_INFO) |
	       (1u << H_SIGNATURE) | (1u << H_FILENAME) | (1u << H_TIMESTAMP);
	if (kind == TLV_KIND_ENC) {
		need |= 1u << H_ENC_INFO;
	}
	if ((seen & need) != need) {
		FAIL(-TL_EPARSE, "header lacks a required tag");
	}
	if (h->signature.len != (size_t)64 << h->sig_modulus) {
		FAIL(-TL_EPARSE, "signature length does not match modulus");
	}
out:
	return err;
}

static int parse_record(struct cur *c, struct tlv_record *r, const char **why)
{
	uint32_t seen = 0;
	uint8_t tag;
	uint16_t len;
	struct cur rc;
	int err = 0;

	if (cur_u8(c, &tag) || cur_u16be(c, &len) || tag != R_LENGTH ||
	    len != 2) {
		FAIL(cur_ok(c) ? -TL_EPARSE : -TL_ETRUNC,
		     "record does not start with its length");
	}
	if (cur_u16be(c, &r->length)) {
		FAIL(-TL_ETRUNC, "truncated record length");
	}
	if (r->length < 5) {
		FAIL(-TL_EPARSE, "record length too small");
	}
	if (cur_sub(c, r->length - 5u, &rc)) {
		FAIL(-TL_ETRUNC, "record overruns the file");
	}
	while (cur_left(&rc)) {
		struct cur v;

		err = elem(&rc, &tag, &v);
		if (err) {
			FAIL(err, "record element overruns the record");
		}
		if (once(&seen, tag)) {
			FAIL(-TL_EDUP, "duplicate record tag");
		}
		switch (tag) {
		case R_DNS_NAME:
			err = str_val(&v, &r->dns_name, why);
			break;
		case R_SUBJECT:
			err = str_val(&v, &r->subject, why);
			break;
		case R_ROLE:
			err = u16_val(&v, &r->role, why);
			break;
		case R_ISSUER:
			err = str_val(&v, &r->issuer, why);
			break;
		case R_SERIAL:
			err = bytes_val(&v, 1, SERIAL_MAX, &r->serial, why);
			break;
		case R_PUBKEY:
			err = bytes_val(&v, 1, 65535, &r->pubkey, why);
			break;
		case R_SIGNATURE:
			err = bytes_val(&v, 1, 65535, &r->cert_sig, why);
			break;
		case R_CERT:
			err = bytes_val(&v, 1, 65535, &r->cert, why);
			break;
		case R_IP:
			err = bytes_val(&v, 1, 64, &r->ip, why);
			break;
		case R_CERT_HASH:
			err = bytes_val(&v, 1, 64, &r->cert_hash, why);
			break;
		case R_HASH_ALG:
			err = bytes_val(&v, 1, 64, &r->cert_hash_alg, why);
			break;
		default:
			FAIL(-TL_EUNKNOWN, "unknown record tag");
		}
		if (err) {
			goto out;
		}
	}
	if (!(seen & (1u << R_ROLE)) || !(seen & (1u << R_SERIAL)) ||
	    !(seen & (1u << R_CERT))) {
		FAIL(-TL_EPARSE, "record lacks role, serial or certificate");
	}
out:
	return err;
}

int tlv_parse(struct tlv_file *f, enum tlv_kind kind, const uint8_t *p,
              size_t len, const char **why)
{
	const char *dummy = NULL;
	struct tlv_hdr *h = &f->hdr;
	struct cur c, hc;
	uint8_t tag;
	uint16_t n;
	int err = 0;

	if (!why) {
		why = &dummy;
	}
	*why = NULL;
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	cur_init(&c, p, len);
	if (cur_u8(&c, &tag) || cur_u16be(&c, &n)) {
		FAIL(-TL_ETRUNC, "truncated before the version");
	}
	if (tag != H_VERSION || n != 2) {
		FAIL(-TL_EPARSE, "file does not start with a version");
	}
	if (cur_u8(&c, &h->ver_major) || cur_u8(&c, &h->ver_minor)) {
		FAIL(-TL_ETRUNC, "truncated version");
	}
	if ((kind == TLV_KIND_ENC && h->ver_major != 2) ||
	    (kind != TLV_KIND_ENC && h->ver_major != 1)) {
		FAIL(-TL_EUNKNOWN, "unsupported format version");
	}
	if (cur_u8(&c, &tag) || cur_u16be(&c, &n)) {
		FAIL(-TL_ETRUNC, "truncated before the header length");
	}
	if (tag != H_LENGTH || n != 2) {
		FAIL(-TL_EPARSE, "header length does not follow the version");
	}
	if (cur_u16be(&c, &h->header_len)) {
		FAIL(-TL_ETRUNC, "truncated header length");
	}
	if (h->header_len < c.off) {
		FAIL(-TL_EPARSE, "header length too small");
	}
	if (cur_sub(&c, h->header_len - c.off, &hc)) {
		FAIL(-TL_ETRUNC, "header length beyond the end of the file");
	}
	/* Offsets in hc are relative to its own start; rebase them. */
	err = parse_header(&hc, kind, h, why);
	if (err) {
		goto out;
	}
	h->sig_off += (size_t)(hc.p - p);
	if (kind != TLV_KIND_LIST) {
		err = cur_bytes(&c, cur_left(&c), &f->content);
		goto out;
	}
	while (cur_left(&c)) {
		struct tlv_record *r;

		if (cur_left(&c) < 5) {
			FAIL(-TL_ETRAIL,
			     "trailing bytes after the last record");
		}
		if (f->nrecs == TLV_MAX_RECORDS) {
			FAIL(-TL_ETOOBIG, "too many records");
		}
		if ((f->nrecs & (f->nrecs - 1)) == 0) {
			size_t cap = f->nrecs ? f->nrecs * 2 : 4;

			r = realloc(f->recs, cap * sizeof(*r));
			if (!r) {
				FAIL(-ENOMEM, "out of memory");
			}
			f->recs = r;
		}
		r = &f->recs[f->nrecs];
		memset(r, 0, sizeof(*r));
		err = parse_record(&c, r, why);
		if (err) {
			goto out;
		}
		f->nrecs++;
	}
	if (!f->nrecs) {
		FAIL(-TL_EPARSE, "trust list without records");
	}
out:
	if (err) {
		if (!*why) {
			*why = "malformed file";
		}
		tlv_file_clear(f);
	}
	return err;
}

void tlv_file_clear(struct tlv_file *f)
{
	if (!f) {
		return;
	}
	free(f->recs);
	f->recs = NULL;
	f->nrecs = 0;
}

void tlv_signed_parts(const struct tlv_hdr *h, const uint8_t *p, size_t len,
                      struct slice parts[2])
{
	size_t end = h->sig_off + 3 + h->signature.len;

	parts[0] = slice_make(p, h->sig_off);
	parts[1] = slice_make(p + end, len - end);
}

static const struct {
	uint16_t code;
	const char *name;
} roles[] = {
        {TLV_ROLE_SAST, "SAST"},         {TLV_ROLE_CCM, "CCM"},
        {TLV_ROLE_CCM_TFTP, "CCM+TFTP"}, {TLV_ROLE_TFTP, "TFTP"},
        {TLV_ROLE_CAPF, "CAPF"},         {TLV_ROLE_APP_SERVER, "APP-SERVER"},
        {TLV_ROLE_TVS, "TVS"},
};

const char *tlv_role_name(uint16_t role)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (roles[i].code == role) {
			return roles[i].name;
		}
	}
	return NULL;
}

int tlv_role_parse(const char *name, uint16_t *role)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (slice_eq_str_nocase(slice_from_str(name), roles[i].name)) {
			*role = roles[i].code;
			return 0;
		}
	}
	return -TL_EUNKNOWN;
}
