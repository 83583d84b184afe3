/* libFuzzer target for the trust-file codec: the first byte chooses the
 * kind (CTL/ITL, .sgn, .enc.sgn); a parsed file is written back and must
 * parse again to the same header. */
#include "base/buf.h"
#include "codec/tlv/tlv.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum tlv_kind kinds[] = {TLV_KIND_LIST, TLV_KIND_SGN,
	                                      TLV_KIND_ENC};
	enum tlv_kind kind;
	struct tlv_file f, g;
	const char *why = NULL;
	struct buf b;
	size_t off;

	if (size < 1) {
		return 0;
	}
	kind = kinds[data[0] % 3];
	if (tlv_parse(&f, kind, data + 1, size - 1, &why)) {
		if (!why) {
			abort(); /* every failure names its reason */
		}
		return 0;
	}
	buf_init(&b, 0);
	if (!f.hdr.has_signer_version) {
		/* the writer always states one for a trust list */
		f.hdr.sv_major = 1;
		f.hdr.sv_minor = 0;
	}
	if (!tlv_write(&b, kind, &f.hdr, f.recs, f.nrecs, f.content,
	               f.hdr.signature.len, &off)) {
		memcpy(b.p + off, f.hdr.signature.p, f.hdr.signature.len);
		if (tlv_parse(&g, kind, b.p, b.len, &why) ||
		    g.nrecs != f.nrecs || !slice_eq(g.content, f.content) ||
		    !slice_eq(g.hdr.serial, f.hdr.serial)) {
			abort();
		}
		tlv_file_clear(&g);
	}
	buf_free(&b);
	tlv_file_clear(&f);
	return 0;
}
