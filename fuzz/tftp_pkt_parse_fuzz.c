/* libFuzzer target for the TFTP packet parser (src/codec/tftp). Every
 * accepted packet is printed again and must parse to the same fields;
 * option values go through the number parser. */
#include "base/buf.h"
#include "codec/tftp/tftp_pkt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_same(const struct tftp_pkt *a, const struct tftp_pkt *b)
{
	if (a->op != b->op || a->nopts != b->nopts || a->block != b->block ||
	    a->code != b->code || !slice_eq(a->file, b->file) ||
	    !slice_eq(a->mode, b->mode) || !slice_eq(a->data, b->data) ||
	    !slice_eq(a->msg, b->msg)) {
		abort();
	}
	for (size_t i = 0; i < a->nopts; i++) {
		if (!slice_eq(a->opts[i].name, b->opts[i].name) ||
		    !slice_eq(a->opts[i].value, b->opts[i].value)) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tftp_pkt pkt, again;
	char file[TFTP_REQ_MAX + 1], mode[TFTP_REQ_MAX + 1];
	char msg[TFTP_ERRMSG_MAX + 1];
	struct buf b;
	uint64_t v;

	if (tftp_pkt_parse(&pkt, data, size) != 0) {
		return 0;
	}
	(void)tftp_mode_of(pkt.mode);
	for (size_t i = 0; i < pkt.nopts; i++) {
		if (tftp_opt_num(pkt.opts[i].value, 0, UINT64_MAX, &v) == 0 &&
		    pkt.opts[i].value.len > 20) {
			abort();
		}
	}
	buf_init(&b, 0);
	switch (pkt.op) {
	case TFTP_RRQ:
	case TFTP_WRQ:
		if (slice_to_cstr(pkt.file, file, sizeof(file)) ||
		    slice_to_cstr(pkt.mode, mode, sizeof(mode))) {
			abort(); /* the parser split on NUL: none inside */
		}
		tftp_put_req(&b, pkt.op, file, mode, pkt.opts, pkt.nopts);
		break;
	case TFTP_DATA:
		tftp_put_data(&b, pkt.block, pkt.data.p, pkt.data.len);
		break;
	case TFTP_ACK:
		tftp_put_ack(&b, pkt.block);
		break;
	case TFTP_ERROR:
		if (slice_to_cstr(pkt.msg, msg, sizeof(msg))) {
			abort();
		}
		tftp_put_error(&b, pkt.code, msg);
		break;
	case TFTP_OACK:
		tftp_put_oack(&b, pkt.opts, pkt.nopts);
		break;
	}
	if (buf_err(&b) || b.len != size || memcmp(b.p, data, size) != 0 ||
	    tftp_pkt_parse(&again, b.p, b.len) != 0) {
		abort();
	}
	check_same(&pkt, &again);
	buf_free(&b);
	return 0;
}
