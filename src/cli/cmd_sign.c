/* trustline sign FILE: a Cisco-compatible signed file (FILE.sgn, format
 * 1.0; docs/formats/sgn.md) for configs and firmware images. */
#include "cli/cli.h"
#include "trust/trust.h"
#include "trust/trust_site.h"

#include <stdio.h>
#include <string.h>

const char cmd_sign_summary[] =
        "sign a config or firmware image into FILE.sgn (TFTP role key)";

#define TRUST_CLI_MAX_IN (512u * 1024 * 1024)

static void usage(void)
{
	printf("usage: trustline sign FILE [--site DIR] [--role tftp|ccm]\n"
	       "                 [--key KEY --cert CERT] [--digest "
	       "sha1|sha256|sha512]\n"
	       "                 [--name NAME] [--timestamp UNIX] [--out OUT]\n"
	       "\n"
	       "Writes OUT (default FILE.sgn): the signed header, then FILE "
	       "unchanged.\n"
	       "The key is the site's pki/tftp.key with pki/tftp.crt (--role "
	       "tftp, the\n"
	       "default) or pki/ccm.key (--role ccm, for a CCM+TFTP "
	       "certificate), or\n"
	       "--key/--cert. The phone accepts it only if that certificate "
	       "holds the\n"
	       "TFTP or CCM+TFTP role in its CTL. NAME (header file name) "
	       "defaults to\n"
	       "the base name of OUT. Digest: sha512 by default.\n");
}

int cmd_sign(int argc, char **argv)
{
	const char *site = cli_site_default(), *role = "tftp", *file = NULL;
	const char *out = NULL, *name = NULL, *digest = NULL;
	struct trust_signer_spec sp = {0};
	char keyp[4096], certp[4096], outp[4096];
	struct pki_key *key = NULL;
	X509 *cert = NULL;
	uint64_t ts = 0;
	struct buf in, b;
	int err, rc = CLI_EFAIL;

	if (cli_wants_help(argc, argv)) {
		usage();
		return CLI_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] == '-' && !v) {
			cli_fail("sign", "%s needs a value", a);
			return CLI_EUSAGE;
		}
		if (!strcmp(a, "--site")) {
			site = v;
		} else if (!strcmp(a, "--role")) {
			role = v;
		} else if (!strcmp(a, "--key")) {
			sp.key_file = v;
		} else if (!strcmp(a, "--cert")) {
			sp.cert_file = v;
		} else if (!strcmp(a, "--out")) {
			out = v;
		} else if (!strcmp(a, "--name")) {
			name = v;
		} else if (!strcmp(a, "--digest")) {
			digest = v;
		} else if (!strcmp(a, "--timestamp")) {
			if (slice_to_u64(slice_from_str(v), 10, &ts) ||
			    ts > UINT32_MAX) {
				cli_fail("sign", "bad --timestamp %s", v);
				return CLI_EUSAGE;
			}
		} else if (a[0] == '-') {
			cli_fail("sign", "unknown option %s", a);
			return CLI_EUSAGE;
		} else if (!file) {
			file = a;
			continue;
		} else {
			cli_fail("sign", "unexpected argument %s", a);
			return CLI_EUSAGE;
		}
		i++;
	}
	if (!file) {
		cli_fail("sign", "which file? see --help");
		return CLI_EUSAGE;
	}
	if (strcmp(role, "tftp") && strcmp(role, "ccm")) {
		cli_fail("sign", "--role is tftp or ccm");
		return CLI_EUSAGE;
	}
	if (digest && !trust_md_by_name(digest)) {
		cli_fail("sign", "unknown digest %s (sha1, sha256, sha512)",
		         digest);
		return CLI_EUSAGE;
	}
	if (!!sp.key_file != !!sp.cert_file) {
		cli_fail("sign", "--key and --cert go together");
		return CLI_EUSAGE;
	}
	if (!sp.key_file) {
		snprintf(keyp, sizeof(keyp), "%s/pki/%s.key", site, role);
		snprintf(certp, sizeof(certp), "%s/pki/%s.crt", site, role);
		sp.key_file = keyp;
		sp.cert_file = certp;
	}
	if (!out) {
		snprintf(outp, sizeof(outp), "%s.sgn", file);
		out = outp;
	}
	if (!name) {
		const char *slash = strrchr(out, '/');

		name = slash ? slash + 1 : out;
	}
	buf_init(&in, 0);
	buf_init(&b, 0);
	err = trust_site_signer(&sp, &key, &cert);
	if (err) {
		cli_fail("sign", "cannot load %s / %s: %s", sp.key_file,
		         sp.cert_file, tl_strerror(err));
		goto out;
	}
	err = trust_file_read(file, TRUST_CLI_MAX_IN, &in);
	if (err) {
		cli_fail("sign", "cannot read %s: %s", file, tl_strerror(err));
		goto out;
	}
	{
		struct trust_sign s = {
		        .key = key,
		        .cert = cert,
		        .md = digest ? trust_md_by_name(digest) : NULL,
		        .filename = name,
		        .timestamp = (uint32_t)ts,
		};

		err = trust_sgn_build(&b, &s, buf_slice(&in));
	}
	if (err) {
		cli_fail("sign", "cannot sign %s: %s", file,
		         err == -TL_EPOLICY ? "the key must be RSA and match "
		                              "its certificate"
		                            : tl_strerror(err));
		goto out;
	}
	err = trust_file_write(out, b.p, b.len, 0644);
	if (err) {
		cli_fail("sign", "cannot write %s: %s", out, tl_strerror(err));
		goto out;
	}
	printf("wrote %s (%zu bytes signed)\n", out, in.len);
	rc = CLI_OK;
out:
	pki_key_free(key);
	X509_free(cert);
	buf_free(&in);
	buf_free(&b);
	return rc;
}
