/* Cisco trust-file TLV codec: CTLFile.tlv / ITLFile.tlv (format 1.x, header
 * plus records), signed files *.sgn (format 1.0, header plus content) and
 * encrypted configs *.enc.sgn (format 2.0). Pure: no keys, no files, no
 * crypto; docs/formats/ctl.md, sgn.md and enc-sgn.md describe the bytes.
 *
 * Encoding (docs/formats/ctl.md §1): every element is `tag u8, length u16
 * big-endian, value`, except tag 13 (padding), a lone 0x0D byte. Strings
 * are NUL-terminated on the wire; the slices here exclude the NUL.
 *
 * A parsed file is a view: every slice points into the caller's buffer,
 * which must outlive it. tlv_file_clear frees the record array only. */
#ifndef TL_TLV_H
#define TL_TLV_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tlv_kind {
	TLV_KIND_LIST = 1, /* CTL or ITL: format 1.x, records follow */
	TLV_KIND_SGN,      /* signed file: format 1.0, content follows */
	TLV_KIND_ENC,      /* encrypted config: format 2.0 */
};

/* Header tag 8 values. */
enum tlv_hash {
	TLV_HASH_SHA1 = 1,
	TLV_HASH_SHA256 = 2,
	TLV_HASH_SHA512 = 3,
};

/* Record tag 4 values (record "function"). */
enum tlv_role {
	TLV_ROLE_SAST = 0,
	TLV_ROLE_CCM = 1,
	TLV_ROLE_CCM_TFTP = 2,
	TLV_ROLE_TFTP = 3,
	TLV_ROLE_CAPF = 4,
	TLV_ROLE_APP_SERVER = 7,
	TLV_ROLE_TVS = 21,
};

/* Header tag 22 values: how tag 25 carries the content key. 0 is Cisco's
 * (RSA PKCS#1 v1.5); 2 is ours for EC device certificates
 * (docs/formats/enc-sgn.md). */
enum tlv_keywrap {
	TLV_KEYWRAP_RSA = 0,
	TLV_KEYWRAP_ECDH_P256 = 2,
};

#define TLV_MAX_RECORDS       256
#define TLV_FORMAT_LIST_MINOR 2 /* we write 1.2 */

struct tlv_record {
	uint16_t length; /* whole record, from its tag 1 */
	uint16_t role;
	struct slice dns_name;  /* tag 2, optional */
	struct slice subject;   /* tag 3 */
	struct slice issuer;    /* tag 5 */
	struct slice serial;    /* tag 6, raw big-endian bytes */
	struct slice pubkey;    /* tag 7: DER RSAPublicKey or X9.62 point */
	struct slice cert_sig;  /* tag 8: the certificate's signatureValue */
	struct slice cert;      /* tag 9: DER certificate */
	struct slice ip;        /* tag 10, optional */
	struct slice cert_hash; /* tag 11, optional */
	struct slice cert_hash_alg; /* tag 12, optional */
};

struct tlv_hdr {
	uint8_t ver_major, ver_minor;
	uint16_t header_len;
	bool has_signer_version; /* tag 28 */
	uint8_t sv_major, sv_minor;
	struct slice signer_name; /* tag 4 */
	struct slice serial;      /* tag 5 */
	struct slice issuer_name; /* tag 6 */
	uint8_t hash_alg;         /* tag 8, enum tlv_hash */
	uint8_t sig_alg;          /* tag 10: 0 = RSA */
	uint8_t sig_modulus;      /* tag 11: 0..3 = 512..4096 bits */
	struct slice signature;   /* tag 12 value */
	size_t sig_off;           /* file offset of the tag-12 element */
	struct slice filename;    /* tag 14 */
	uint32_t timestamp;       /* tag 15 */
	/* format 2.0 only (tags 16-27) */
	uint8_t enc_iv_alg;    /* tag 18 */
	struct slice enc_iv;   /* tag 19, 16 bytes */
	uint16_t enc_pad;      /* tag 20: padding bytes after the plaintext */
	uint8_t enc_keywrap;   /* tag 22, enum tlv_keywrap */
	uint16_t enc_key_bits; /* tag 23 */
	uint8_t enc_key_alg;   /* tag 24: 1 = AES */
	struct slice enc_key;  /* tag 25 */
	uint8_t enc_hash_alg;  /* tag 26 */
	struct slice enc_hash; /* tag 27: hash of the plaintext */
};

struct tlv_file {
	enum tlv_kind kind;
	struct tlv_hdr hdr;
	struct tlv_record *recs; /* TLV_KIND_LIST: malloc'd */
	size_t nrecs;
	struct slice content; /* TLV_KIND_SGN/ENC: the bytes after the header */
};

/* Parse a whole file of the given kind. On failure *why (when why is not
 * NULL) names the problem in a static string. Nothing is verified here
 * beyond the grammar: signatures and trust are src/trust's job. */
int tlv_parse(struct tlv_file *f, enum tlv_kind kind, const uint8_t *p,
              size_t len, const char **why) TL_MUST_CHECK;
void tlv_file_clear(struct tlv_file *f);

/* The signed bytes are the file without the signature element (tag, length
 * and value): parts[0] before it, parts[1] after it. */
void tlv_signed_parts(const struct tlv_hdr *h, const uint8_t *p, size_t len,
                      struct slice parts[2]);

/* Write a file. h supplies versions, signer, hash, filename, timestamp and
 * (for format 2.0) the encryption fields; header_len, sig_alg, sig_modulus
 * and sig_off are computed. The signature value is written as siglen zero
 * bytes at *sig_val_off, for the caller to sign tlv_signed_parts and patch.
 * siglen is 64, 128, 256 or 512. Records are written for TLV_KIND_LIST,
 * content for the other kinds. */
int tlv_write(struct buf *out, enum tlv_kind kind, const struct tlv_hdr *h,
              const struct tlv_record *recs, size_t nrecs, struct slice content,
              size_t siglen, size_t *sig_val_off) TL_MUST_CHECK;

/* "SAST", "CCM", "CCM+TFTP", ... or NULL for a code we do not know. */
const char *tlv_role_name(uint16_t role);
/* The inverse (case-insensitive); -TL_EUNKNOWN when not a role name. */
int tlv_role_parse(const char *name, uint16_t *role) TL_MUST_CHECK;

#endif
