/* Private to src/trust: helpers shared by the CTL, .sgn and .enc.sgn code. */
#ifndef TL_TRUST_INT_H
#define TL_TRUST_INT_H

#include "trust/trust.h"

#include <errno.h>

/* Header tag 8 value for md, or -EINVAL. */
int trust_hash_code(const EVP_MD *md);
/* EVP_MD for a header tag 8 value, or NULL. */
const EVP_MD *trust_hash_md(uint8_t code);
/* Raw big-endian serial bytes (minimal, no sign byte); len in/out. */
int trust_serial_bytes(X509 *cert, uint8_t *out, size_t *len) TL_MUST_CHECK;
/* Fill the signer fields of h from s (names, serial, hash) and check that
 * the key is RSA and matches the certificate; *siglen gets its size.
 * serial_buf holds the serial bytes h->serial points to; names live in
 * the two string buffers. */
struct trust_signer_buf {
	uint8_t serial[32];
	char name[1024];
	char issuer[1024];
};
int trust_fill_signer(struct tlv_hdr *h, const struct trust_sign *s,
                      struct trust_signer_buf *sb,
                      size_t *siglen) TL_MUST_CHECK;
/* Write the file with tlv_write, sign the signed parts with s->key and
 * patch the signature in. */
int trust_write_signed(struct buf *out, enum tlv_kind kind,
                       const struct tlv_hdr *h, const struct tlv_record *recs,
                       size_t nrecs, struct slice content, size_t siglen,
                       const struct trust_sign *s) TL_MUST_CHECK;
/* Verify the header signature of a parsed file over its signed parts. */
int trust_check_sig(EVP_PKEY *pub, const struct tlv_hdr *h, const uint8_t *p,
                    size_t len) TL_MUST_CHECK;
/* Validity period and CRL. */
int trust_check_cert(X509 *cert, const struct trust_opts *o,
                     const char **why) TL_MUST_CHECK;
/* Verify a .sgn or .enc.sgn header against ctl (TFTP role). */
int trust_check_file_signer(const struct tlv_file *f, const uint8_t *p,
                            size_t len, const struct trust_ctl *ctl,
                            const struct trust_opts *o,
                            const char **why) TL_MUST_CHECK;

#endif
