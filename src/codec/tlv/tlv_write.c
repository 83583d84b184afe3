/* Writer for CTL/ITL, .sgn and .enc.sgn files, in the element order of
 * docs/formats/ctl.md §3 (header) and §4 (records). */
#include "codec/tlv/tlv.h"

#include <errno.h>
#include <string.h>

#define U16_MAX 65535u

static void put_hdr(struct buf *b, uint8_t tag, size_t len)
{
	buf_put_u8(b, tag);
	buf_put_u16be(b, (uint16_t)len);
}

static void put_u8_elem(struct buf *b, uint8_t tag, uint8_t v)
{
	put_hdr(b, tag, 1);
	buf_put_u8(b, v);
}

static void put_u16_elem(struct buf *b, uint8_t tag, uint16_t v)
{
	put_hdr(b, tag, 2);
	buf_put_u16be(b, v);
}

static void put_bytes(struct buf *b, uint8_t tag, struct slice s)
{
	put_hdr(b, tag, s.len);
	buf_put_slice(b, s);
}

/* Strings go out NUL-terminated, the NUL counted in the length. */
static void put_str(struct buf *b, uint8_t tag, struct slice s)
{
	put_hdr(b, tag, s.len + 1);
	buf_put_slice(b, s);
	buf_put_u8(b, 0);
}

static bool str_ok(struct slice s)
{
	return s.len >= 1 && s.len < 1024 && !memchr(s.p, 0, s.len);
}

static bool bytes_ok(struct slice s, size_t max)
{
	return s.len >= 1 && s.len <= max;
}

static int check_record(const struct tlv_record *r)
{
	if (!str_ok(r->subject) || !str_ok(r->issuer) ||
	    !bytes_ok(r->serial, 21) || !bytes_ok(r->pubkey, 4096) ||
	    !bytes_ok(r->cert_sig, 4096) || !bytes_ok(r->cert, 32768)) {
		return -EINVAL;
	}
	if (r->dns_name.len && !str_ok(r->dns_name)) {
		return -EINVAL;
	}
	if (r->ip.len > 64 || r->cert_hash.len > 64 ||
	    r->cert_hash_alg.len > 64) {
		return -EINVAL;
	}
	return 0;
}

static int put_record(struct buf *b, const struct tlv_record *r)
{
	size_t start = b->len;
	size_t len;
	int err = check_record(r);

	if (err) {
		return err;
	}
	put_u16_elem(b, 1, 0);
	if (r->dns_name.len) {
		put_str(b, 2, r->dns_name);
	}
	put_str(b, 3, r->subject);
	put_u16_elem(b, 4, r->role);
	put_str(b, 5, r->issuer);
	put_bytes(b, 6, r->serial);
	put_bytes(b, 7, r->pubkey);
	put_bytes(b, 8, r->cert_sig);
	put_bytes(b, 9, r->cert);
	if (r->ip.len) {
		put_bytes(b, 10, r->ip);
	}
	if (r->cert_hash.len) {
		put_bytes(b, 11, r->cert_hash);
	}
	if (r->cert_hash_alg.len) {
		put_bytes(b, 12, r->cert_hash_alg);
	}
	if (buf_err(b)) {
		return buf_err(b);
	}
	len = b->len - start;
	if (len > U16_MAX) {
		return -TL_ETOOBIG;
	}
	buf_set_u16be(b, start + 3, (uint16_t)len);
	return 0;
}

static void put_enc_info(struct buf *b, const struct tlv_hdr *h)
{
	size_t iv_info = 4 + 3 + h->enc_iv.len + 5;
	size_t key_info = 4 + 5 + 4 + 3 + h->enc_key.len;
	size_t info = 3 + iv_info + 3 + key_info + 4 + 3 + h->enc_hash.len;

	put_hdr(b, 16, info);
	put_hdr(b, 17, iv_info);
	put_u8_elem(b, 18, h->enc_iv_alg);
	put_bytes(b, 19, h->enc_iv);
	put_u16_elem(b, 20, h->enc_pad);
	put_hdr(b, 21, key_info);
	put_u8_elem(b, 22, h->enc_keywrap);
	put_u16_elem(b, 23, h->enc_key_bits);
	put_u8_elem(b, 24, h->enc_key_alg);
	put_bytes(b, 25, h->enc_key);
	put_u8_elem(b, 26, h->enc_hash_alg);
	put_bytes(b, 27, h->enc_hash);
}

int tlv_write(struct buf *out, enum tlv_kind kind, const struct tlv_hdr *h,
              const struct tlv_record *recs, size_t nrecs, struct slice content,
              size_t siglen, size_t *sig_val_off)
{
	size_t start = out->len;
	size_t hdr_len;
	uint8_t idx;
	int err;

	switch (siglen) {
	case 64:
		idx = 0;
		break;
	case 128:
		idx = 1;
		break;
	case 256:
		idx = 2;
		break;
	case 512:
		idx = 3;
		break;
	default:
		return -EINVAL;
	}
	if (!str_ok(h->signer_name) || !str_ok(h->issuer_name) ||
	    !bytes_ok(h->serial, 21) || !str_ok(h->filename) ||
	    h->hash_alg < TLV_HASH_SHA1 || h->hash_alg > TLV_HASH_SHA512) {
		return -EINVAL;
	}
	if (kind == TLV_KIND_LIST && (nrecs == 0 || nrecs > TLV_MAX_RECORDS)) {
		return -EINVAL;
	}
	if (kind == TLV_KIND_ENC &&
	    (h->enc_iv.len != 16 || !bytes_ok(h->enc_key, 1024) ||
	     h->enc_hash.len < 20 || h->enc_hash.len > 64)) {
		return -EINVAL;
	}
	put_hdr(out, 1, 2);
	buf_put_u8(out, h->ver_major);
	buf_put_u8(out, h->ver_minor);
	put_u16_elem(out, 2, 0);
	if (kind == TLV_KIND_LIST) {
		put_hdr(out, 28, 2);
		buf_put_u8(out, h->sv_major);
		buf_put_u8(out, h->sv_minor);
	}
	put_hdr(out, 3,
	        3 + h->signer_name.len + 1 + 3 + h->serial.len + 3 +
	                h->issuer_name.len + 1);
	put_str(out, 4, h->signer_name);
	put_bytes(out, 5, h->serial);
	put_str(out, 6, h->issuer_name);
	put_hdr(out, 7, 15);
	put_u8_elem(out, 8, h->hash_alg);
	put_hdr(out, 9, 8);
	put_u8_elem(out, 10, 0);
	put_u8_elem(out, 11, idx);
	put_hdr(out, 12, siglen);
	*sig_val_off = out->len;
	if (!buf_reserve(out, siglen)) {
		memset(out->p + out->len, 0, siglen);
		out->len += siglen;
	}
	put_str(out, 14, h->filename);
	put_hdr(out, 15, 4);
	buf_put_u32be(out, h->timestamp);
	if (kind == TLV_KIND_ENC) {
		put_enc_info(out, h);
	}
	/* Tag 13: single 0x0D bytes until the header is a multiple of 4. */
	while ((out->len - start) % 4 && !buf_err(out)) {
		buf_put_u8(out, 13);
	}
	err = buf_err(out);
	if (err) {
		return err;
	}
	hdr_len = out->len - start;
	if (hdr_len > U16_MAX) {
		return -TL_ETOOBIG;
	}
	buf_set_u16be(out, start + 8, (uint16_t)hdr_len);
	if (kind == TLV_KIND_LIST) {
		for (size_t i = 0; i < nrecs; i++) {
			err = put_record(out, &recs[i]);
			if (err) {
				return err;
			}
		}
	} else {
		buf_put_slice(out, content);
	}
	return buf_err(out);
}
