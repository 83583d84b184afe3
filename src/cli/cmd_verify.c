/* trustline verify FILE.sgn --ctl CTLFile.tlv: check a signed file (or the
 * signature of an encrypted config) the way a phone does. */
#include "cli/cli.h"
#include "trust/trust.h"
#include "trust/trust_site.h"

#include <jansson.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_verify_summary[] =
        "verify a .sgn or .enc.sgn file against a CTL (signer: TFTP role)";

#define TRUST_CLI_MAX_IN (512u * 1024 * 1024)

static void usage(void)
{
	printf("usage: trustline verify FILE.sgn --ctl CTLFile.tlv [--strip "
	       "OUT]\n"
	       "                 [--crl CRL] [--at UNIX] [--json]\n"
	       "\n"
	       "Accepts FILE only if its signer holds the TFTP or CCM+TFTP "
	       "role in the\n"
	       "CTL (itself checked as a validly signed CTL), is within its "
	       "validity\n"
	       "period (at --at, default now) and is not revoked by --crl. "
	       "--strip\n"
	       "writes the original content. A .enc.sgn (format 2.0) has its "
	       "signature\n"
	       "checked; decrypt it with `trustline decrypt-config`.\n"
	       "Exit 0 valid, 1 invalid, 2 usage.\n");
}

static int load_crl(const char *path, X509_CRL **out)
{
	struct buf b;
	BIO *bio;
	int err;

	buf_init(&b, 0);
	err = trust_file_read(path, 64u * 1024 * 1024, &b);
	if (err) {
		buf_free(&b);
		return err;
	}
	bio = BIO_new_mem_buf(b.p, (int)b.len);
	*out = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!*out) {
		const unsigned char *d = b.p;

		*out = d2i_X509_CRL(NULL, &d, (long)b.len);
	}
	buf_free(&b);
	return *out ? 0 : -TL_EPARSE;
}

int cmd_verify(int argc, char **argv)
{
	const char *file = NULL, *ctlp = NULL, *strip = NULL, *crlp = NULL;
	struct trust_opts o = {0}, co = {.first_use = true};
	struct trust_ctl *ctl = NULL;
	const char *why = NULL;
	struct slice content = SLICE_NULL;
	bool json = false, enc;
	uint64_t at = 0;
	struct buf cb, fb;
	int err, rc = CLI_EFAIL;

	if (cli_wants_help(argc, argv)) {
		usage();
		return CLI_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--json")) {
			json = true;
			continue;
		}
		if (a[0] == '-' && !v) {
			cli_fail("verify", "%s needs a value", a);
			return CLI_EUSAGE;
		}
		if (!strcmp(a, "--ctl")) {
			ctlp = v;
		} else if (!strcmp(a, "--strip")) {
			strip = v;
		} else if (!strcmp(a, "--crl")) {
			crlp = v;
		} else if (!strcmp(a, "--at")) {
			if (slice_to_u64(slice_from_str(v), 19, &at)) {
				cli_fail("verify", "bad --at %s", v);
				return CLI_EUSAGE;
			}
		} else if (a[0] == '-') {
			cli_fail("verify", "unknown option %s", a);
			return CLI_EUSAGE;
		} else if (!file) {
			file = a;
			continue;
		} else {
			cli_fail("verify", "unexpected argument %s", a);
			return CLI_EUSAGE;
		}
		i++;
	}
	if (!file || !ctlp) {
		cli_fail("verify",
		         "need FILE and --ctl CTLFile.tlv; see --help");
		return CLI_EUSAGE;
	}
	o.now = co.now = (int64_t)at;
	buf_init(&cb, 0);
	buf_init(&fb, 0);
	err = trust_file_read(ctlp, TRUST_CLI_MAX_IN, &cb);
	if (err) {
		cli_fail("verify", "cannot read %s: %s", ctlp,
		         tl_strerror(err));
		goto out;
	}
	err = trust_ctl_parse(&ctl, cb.p, cb.len, &why);
	if (!err) {
		err = trust_ctl_verify(ctl, NULL, &co, &why);
	}
	if (err) {
		cli_fail("verify", "%s is not a valid CTL: %s", ctlp,
		         why ? why : tl_strerror(err));
		goto out;
	}
	if (crlp) {
		err = load_crl(crlp, &o.crl);
		if (err) {
			cli_fail("verify", "cannot read CRL %s: %s", crlp,
			         tl_strerror(err));
			goto out;
		}
	}
	err = trust_file_read(file, TRUST_CLI_MAX_IN, &fb);
	if (err) {
		cli_fail("verify", "cannot read %s: %s", file,
		         tl_strerror(err));
		goto out;
	}
	/* The version element says which kind: 1.0 signed, 2.0 encrypted. */
	enc = fb.len >= 5 && fb.p[0] == 1 && fb.p[3] == 2;
	if (enc) {
		err = trust_enc_verify(buf_slice(&fb), ctl, &o, &why);
	} else {
		err = trust_sgn_verify(buf_slice(&fb), ctl, &o, &content, &why);
	}
	if (json) {
		json_t *j = json_pack(
		        "{s:s, s:s, s:b, s:s?, s:I}", "file", file, "kind",
		        enc ? "enc.sgn" : "sgn", "valid", !err, "reason",
		        err ? (why ? why : tl_strerror(err)) : NULL,
		        "content_bytes", (json_int_t)content.len);
		char *s = j ? json_dumps(j, 0) : NULL;

		if (s) {
			printf("%s\n", s);
		}
		free(s);
		json_decref(j);
	}
	if (err) {
		if (!json) {
			cli_fail("verify", "%s: not valid: %s", file,
			         why ? why : tl_strerror(err));
		}
		goto out;
	}
	if (strip && !enc) {
		err = trust_file_write(strip, content.p, content.len, 0644);
		if (err) {
			cli_fail("verify", "cannot write %s: %s", strip,
			         tl_strerror(err));
			goto out;
		}
	} else if (strip) {
		cli_fail("verify",
		         "--strip: %s is encrypted; use "
		         "decrypt-config",
		         file);
		goto out;
	}
	if (!json) {
		printf("%s: valid\n", file);
	}
	rc = CLI_OK;
out:
	X509_CRL_free(o.crl);
	trust_ctl_free(ctl);
	buf_free(&cb);
	buf_free(&fb);
	return rc;
}
