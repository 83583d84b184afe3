/* Signed files (*.sgn, format 1.0): the CTL header, then the original
 * bytes unchanged (docs/formats/sgn.md). */
#include "trust/trust_int.h"

int trust_sgn_build(struct buf *out, const struct trust_sign *s,
                    struct slice content)
{
	struct trust_signer_buf sb;
	struct tlv_hdr h = {0};
	size_t siglen;
	int err;

	err = trust_fill_signer(&h, s, &sb, &siglen);
	if (err) {
		return err;
	}
	h.ver_major = 1;
	h.ver_minor = 0;
	return trust_write_signed(out, TLV_KIND_SGN, &h, NULL, 0, content,
	                          siglen, s);
}

int trust_sgn_verify(struct slice file, const struct trust_ctl *ctl,
                     const struct trust_opts *o, struct slice *content,
                     const char **why)
{
	const char *dummy = NULL;
	struct tlv_file f;
	int err;

	if (!why) {
		why = &dummy;
	}
	*why = NULL;
	err = tlv_parse(&f, TLV_KIND_SGN, file.p, file.len, why);
	if (err) {
		return err;
	}
	err = trust_check_file_signer(&f, file.p, file.len, ctl, o, why);
	if (!err) {
		*content = f.content;
	}
	tlv_file_clear(&f);
	return err;
}
