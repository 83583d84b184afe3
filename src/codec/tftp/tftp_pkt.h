/* TFTP packets (RFC 1350) with option extension (RFC 2347): a pure parser
 * and printers. The parser keeps slices into the caller's datagram: no
 * copies, no writes into the input.
 *
 *   RRQ/WRQ  | 01/02 | filename | 0 | mode | 0 | opt1 | 0 | val1 | 0 | ...
 *   DATA     | 03 | block | data (0..TFTP_DATA_MAX bytes)
 *   ACK      | 04 | block
 *   ERROR    | 05 | code | message | 0
 *   OACK     | 06 | opt1 | 0 | val1 | 0 | ...           (RFC 2347)
 */
#ifndef TL_TFTP_PKT_H
#define TL_TFTP_PKT_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"

#include <stddef.h>
#include <stdint.h>

enum tftp_op {
	TFTP_RRQ = 1,
	TFTP_WRQ = 2,
	TFTP_DATA = 3,
	TFTP_ACK = 4,
	TFTP_ERROR = 5,
	TFTP_OACK = 6,
};

/* RFC 1350 §5 and RFC 2347 (code 8) error codes. */
enum tftp_errcode {
	TFTP_EUNDEF = 0,
	TFTP_ENOTFOUND = 1,
	TFTP_EACCESS = 2,
	TFTP_EDISKFULL = 3,
	TFTP_EBADOP = 4,
	TFTP_EBADID = 5,
	TFTP_EEXISTS = 6,
	TFTP_ENOUSER = 7,
	TFTP_EOPTNEG = 8,
};

enum tftp_mode {
	TFTP_MODE_UNKNOWN = 0,
	TFTP_MODE_OCTET,
	TFTP_MODE_NETASCII,
	TFTP_MODE_MAIL, /* obsolete (RFC 1350 §1); refused */
};

/* RFC 2347: "the maximum size of a request packet is 512 octets". */
#define TFTP_REQ_MAX  512
#define TFTP_OPTS_MAX 16
/* RFC 2348: blksize is 8..65464 octets. */
#define TFTP_BLKSIZE_MIN 8
#define TFTP_BLKSIZE_MAX 65464
#define TFTP_BLKSIZE_DEF 512
#define TFTP_DATA_MAX    TFTP_BLKSIZE_MAX
/* RFC 7440: windowsize is 1..65535 blocks. */
#define TFTP_WINDOW_MAX 65535
/* RFC 2349: timeout is 1..255 seconds. */
#define TFTP_TIMEOUT_MIN 1
#define TFTP_TIMEOUT_MAX 255
/* An error message longer than this is refused. */
#define TFTP_ERRMSG_MAX 512

struct tftp_opt {
	struct slice name;
	struct slice value;
};

struct tftp_pkt {
	enum tftp_op op;
	struct slice file;                   /* RRQ, WRQ */
	struct slice mode;                   /* RRQ, WRQ */
	struct tftp_opt opts[TFTP_OPTS_MAX]; /* RRQ, WRQ, OACK */
	size_t nopts;
	uint16_t block;    /* DATA, ACK */
	struct slice data; /* DATA */
	uint16_t code;     /* ERROR */
	struct slice msg;  /* ERROR, without the NUL */
};

/* Parse one datagram. Errors: -TL_ETRUNC (short, or a string without its
 * NUL), -TL_ETRAIL (bytes after the end), -TL_ETOOBIG (request over
 * TFTP_REQ_MAX, DATA over TFTP_DATA_MAX, too many options, long message),
 * -TL_EDUP (an option named twice, case-insensitively), -TL_EPARSE (empty
 * file or option name, empty OACK), -TL_EUNKNOWN (opcode). */
int tftp_pkt_parse(struct tftp_pkt *out, const uint8_t *p,
                   size_t len) TL_MUST_CHECK;

enum tftp_mode tftp_mode_of(struct slice mode);
/* The value of option name (case-insensitive), or SLICE_NULL. */
struct slice tftp_pkt_opt(const struct tftp_pkt *pkt, const char *name);
/* A decimal option value: 1..20 digits, only digits, value in [min, max].
 * -TL_EPARSE (not a number), -TL_ETOOBIG (overflow or over max),
 * -TL_EPOLICY (under min). */
int tftp_opt_num(struct slice v, uint64_t min, uint64_t max,
                 uint64_t *out) TL_MUST_CHECK;

/* Printers append one whole packet to b; check buf_err(b). Options are
 * name/value string pairs. */
void tftp_put_req(struct buf *b, enum tftp_op op, const char *file,
                  const char *mode, const struct tftp_opt *opts, size_t nopts);
void tftp_put_data(struct buf *b, uint16_t block, const void *data, size_t len);
void tftp_put_ack(struct buf *b, uint16_t block);
void tftp_put_error(struct buf *b, uint16_t code, const char *msg);
void tftp_put_oack(struct buf *b, const struct tftp_opt *opts, size_t nopts);
/* Fixed-size headers for the hot path. */
void tftp_hdr_data(uint8_t hdr[4], uint16_t block);
void tftp_hdr_ack(uint8_t pkt[4], uint16_t block);

#endif
