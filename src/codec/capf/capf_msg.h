/* Cisco CAPF wire messages (reference/cisco-formats.md §4.2,
 * docs/formats/capf.md): a pure parser and printer, no sockets.
 *
 *   u8 0x55 | u8 command | u32 BE session id | u16 BE body length | body
 *   body: elements  u8 tag | u16 BE length | value
 *
 * The parser keeps slices into the caller's message: no copies, no writes
 * into the input. Each known element may appear once (-TL_EDUP); a fixed
 * size element must have its size (-TL_EPARSE); a variable one has a
 * limit (-TL_ETOOBIG); unknown tags are skipped (forward compatibility). */
#ifndef TL_CAPF_MSG_H
#define TL_CAPF_MSG_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPF_PROTO_ID 0x55
#define CAPF_HDR_LEN  8
#define CAPF_BODY_MAX 65535
#define CAPF_MSG_MAX  (CAPF_HDR_LEN + CAPF_BODY_MAX)
#define CAPF_VERSION  3

enum capf_cmd {
	CAPF_AUTH_REQ = 1,
	CAPF_AUTH_RESP = 2,
	CAPF_KEYGEN_REQ = 3,
	CAPF_KEYGEN_RESP = 4,
	CAPF_ENCRYPT_RESP = 5,
	CAPF_ENCRYPT_REQ = 6,
	CAPF_DECRYPT_REQ = 7,
	CAPF_DECRYPT_RESP = 8,
	CAPF_STORE_CERT_REQ = 9,
	CAPF_STORE_CERT_RESP = 10,
	CAPF_FETCH_CERT_REQ = 11,
	CAPF_FETCH_CERT_RESP = 12,
	CAPF_DELETE_CERT_REQ = 13,
	CAPF_DELETE_CERT_RESP = 14,
	CAPF_END_SESSION = 15,
	CAPF_RETRY_LATER = 16,
	CAPF_REQUEST_IN_PROGRESS = 17,
	CAPF_STATUS_REQ = 18,
	CAPF_STATUS_RESP = 19,
	CAPF_ABORT_REQ = 20,
	CAPF_ABORT_RESP = 21,
	CAPF_SIGN_CERT_REQ = 22,
	CAPF_SIGN_CERT_RESP = 23,
	CAPF_CMD_MAX = 23,
};

enum capf_tag {
	CAPF_T_REASON = 1,
	CAPF_T_REASON_INFO = 2,
	CAPF_T_CERT_TYPE = 3,
	CAPF_T_CERTIFICATE = 4,
	CAPF_T_CERT_ID = 5,
	CAPF_T_SIGNED_DATA = 6,
	CAPF_T_VERSION = 7,
	CAPF_T_AUTH_TYPE = 8,
	CAPF_T_PUBLIC_KEY = 9,
	CAPF_T_KEY_SIZE = 10,
	CAPF_T_PASSWORD = 11,
	CAPF_T_RETRY_DELAY = 12,
	CAPF_T_DEVICE_NAME = 13,
	CAPF_T_SUDI_DATA = 16,
	CAPF_T_KEY_TYPE = 17,
	CAPF_T_CURVE = 18,
	CAPF_T_DIGEST_TYPE = 19,
	CAPF_T_SHA2_SIGNED_DATA = 20,
	CAPF_TAG_MAX = 20,
};

/* REASON values. */
enum capf_reason {
	CAPF_R_NONE = 0,        /* no action */
	CAPF_R_OK = 1,          /* update certificate / done */
	CAPF_R_INVALID = 7,     /* invalid element */
	CAPF_R_UNKNOWN_DEV = 9, /* unknown device (also: refused) */
};

/* AUTH_TYPE values. */
enum capf_auth {
	CAPF_AUTH_NONE = 0,
	CAPF_AUTH_PASSWORD = 1,
	CAPF_AUTH_NULL = 2,
	CAPF_AUTH_LSC = 3,
	CAPF_AUTH_MIC = 4,
};

enum capf_cert_type {
	CAPF_CERT_LSC = 1,
	CAPF_CERT_MIC = 2,
};

enum capf_key_type {
	CAPF_KEY_RSA = 0,
	CAPF_KEY_EC = 1,
};

enum capf_curve {
	CAPF_CURVE_P256 = 0,
	CAPF_CURVE_P384 = 1,
	CAPF_CURVE_P521 = 2,
};

/* SHA2_SIGNED_DATA hash algorithm: SHA-512. */
#define CAPF_HASH_SHA512 3

/* Limits of variable elements (bytes of the value). */
#define CAPF_NAME_MAX   64   /* DEVICE_NAME, NUL included */
#define CAPF_PASS_MAX   64   /* PASSWORD, NUL included */
#define CAPF_CERT_MAX   8192 /* CERTIFICATE (wrapper + DER) */
#define CAPF_PUBKEY_MAX 2048 /* PUBLIC_KEY (DER SubjectPublicKeyInfo) */
#define CAPF_SIG_MAX    1024 /* SIGNED_DATA; SHA2_SIGNED_DATA + 3 */
#define CAPF_OTHER_MAX  4096 /* any other element */

struct capf_msg {
	uint8_t cmd;
	uint32_t session;
	uint32_t present; /* bit n: tag n seen */
	struct slice el[CAPF_TAG_MAX + 1];
};

/* Stream framer: 0 when more input is needed, 1 with *msg_len set when a
 * whole message is at p, -TL_EPARSE when p does not start a CAPF
 * message. */
int capf_frame(const uint8_t *p, size_t len, size_t *msg_len) TL_MUST_CHECK;

/* Parse one whole message (header and body; nothing after it). */
int capf_msg_parse(struct capf_msg *m, const uint8_t *p,
                   size_t len) TL_MUST_CHECK;

bool capf_msg_has(const struct capf_msg *m, enum capf_tag tag);
/* Typed element reads: -TL_ENOTFOUND when absent. */
int capf_msg_u8(const struct capf_msg *m, enum capf_tag tag,
                uint8_t *v) TL_MUST_CHECK;
int capf_msg_u16(const struct capf_msg *m, enum capf_tag tag,
                 uint16_t *v) TL_MUST_CHECK;
/* A NUL-terminated string element (an empty value reads as ""): copied
 * into out; -TL_EPARSE without the final NUL or with one inside,
 * -TL_ETOOBIG when it does not fit. */
int capf_msg_str(const struct capf_msg *m, enum capf_tag tag, char *out,
                 size_t outlen) TL_MUST_CHECK;
/* CERTIFICATE: 01 | u16 | 00 | type | DER. The DER is not parsed. */
int capf_msg_cert(const struct capf_msg *m, uint8_t *type,
                  struct slice *der) TL_MUST_CHECK;
/* SHA2_SIGNED_DATA: u8 hash | u16 len | signature (exactly). */
int capf_msg_sig2(const struct capf_msg *m, uint8_t *hash,
                  struct slice *sig) TL_MUST_CHECK;

/* Printer: begin writes the header (length patched by end), the puts add
 * elements, end checks the body length and the buffer. start is b->len
 * before begin. */
size_t capf_msg_begin(struct buf *b, enum capf_cmd cmd, uint32_t session);
void capf_put_u8(struct buf *b, enum capf_tag tag, uint8_t v);
void capf_put_u16(struct buf *b, enum capf_tag tag, uint16_t v);
void capf_put_bytes(struct buf *b, enum capf_tag tag, const void *p,
                    size_t len);
void capf_put_str(struct buf *b, enum capf_tag tag, const char *s);
void capf_put_cert(struct buf *b, uint8_t type, const uint8_t *der, size_t len);
void capf_put_sig2(struct buf *b, uint8_t hash, const uint8_t *sig, size_t len);
int capf_msg_end(struct buf *b, size_t start) TL_MUST_CHECK;

/* "AUTH_REQ", ... or "?" */
const char *capf_cmd_name(unsigned cmd);

#endif
