/* trustline encrypt-config --cert DEVICE.crt IN.xml: an encrypted,
 * signed config (IN.xml.enc.sgn, format 2.0; docs/formats/enc-sgn.md). */
#include "cli/cli.h"
#include "trust/trust.h"
#include "trust/trust_site.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_encrypt_config_summary[] =
        "encrypt a phone config to its certificate and sign it (.enc.sgn)";

#define TRUST_CLI_MAX_IN (16u * 1024 * 1024)

static void usage(void)
{
	printf("usage: trustline encrypt-config --cert DEVICE.crt IN.xml "
	       "[--site DIR]\n"
	       "                 [--key KEY --signer-cert CERT] [--digest "
	       "sha1|sha256|sha512]\n"
	       "                 [--name NAME] [--out OUT] [--json]\n"
	       "\n"
	       "Encrypts IN.xml with a fresh AES-128 key (CBC), carries the "
	       "key to the\n"
	       "device certificate's key (RSA: PKCS#1 v1.5 as Cisco phones "
	       "expect;\n"
	       "EC P-256: ECDH + HKDF-SHA256 + AES key wrap) and signs the "
	       "file with the\n"
	       "site's TFTP key (pki/tftp.key) or --key/--signer-cert. Writes "
	       "OUT\n"
	       "(default IN.xml.enc.sgn) and prints the certHash (hex MD5 of "
	       "the device\n"
	       "certificate) that the stub SEP<MAC>.cnf.xml.sgn must carry.\n");
}

int cmd_encrypt_config(int argc, char **argv)
{
	const char *site = cli_site_default(), *in = NULL, *devp = NULL;
	const char *out = NULL, *name = NULL, *digest = NULL;
	struct trust_signer_spec sp = {0};
	char keyp[4096], certp[4096], outp[4096], hash[33];
	struct pki_key *key = NULL;
	X509 *cert = NULL, *dev = NULL;
	bool json = false;
	struct buf ib, b;
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
			cli_fail("encrypt-config", "%s needs a value", a);
			return CLI_EUSAGE;
		}
		if (!strcmp(a, "--cert")) {
			devp = v;
		} else if (!strcmp(a, "--site")) {
			site = v;
		} else if (!strcmp(a, "--key")) {
			sp.key_file = v;
		} else if (!strcmp(a, "--signer-cert")) {
			sp.cert_file = v;
		} else if (!strcmp(a, "--digest")) {
			digest = v;
		} else if (!strcmp(a, "--name")) {
			name = v;
		} else if (!strcmp(a, "--out")) {
			out = v;
		} else if (a[0] == '-') {
			cli_fail("encrypt-config", "unknown option %s", a);
			return CLI_EUSAGE;
		} else if (!in) {
			in = a;
			continue;
		} else {
			cli_fail("encrypt-config", "unexpected argument %s", a);
			return CLI_EUSAGE;
		}
		i++;
	}
	if (!in || !devp) {
		cli_fail("encrypt-config", "need --cert DEVICE.crt and IN.xml; "
		                           "see --help");
		return CLI_EUSAGE;
	}
	if (digest && !trust_md_by_name(digest)) {
		cli_fail("encrypt-config", "unknown digest %s", digest);
		return CLI_EUSAGE;
	}
	if (!!sp.key_file != !!sp.cert_file) {
		cli_fail("encrypt-config",
		         "--key and --signer-cert go together");
		return CLI_EUSAGE;
	}
	if (!sp.key_file) {
		snprintf(keyp, sizeof(keyp), "%s/pki/tftp.key", site);
		snprintf(certp, sizeof(certp), "%s/pki/tftp.crt", site);
		sp.key_file = keyp;
		sp.cert_file = certp;
	}
	if (!out) {
		snprintf(outp, sizeof(outp), "%s.enc.sgn", in);
		out = outp;
	}
	if (!name) {
		const char *slash = strrchr(out, '/');

		name = slash ? slash + 1 : out;
	}
	buf_init(&ib, 0);
	buf_init(&b, 0);
	err = trust_cert_read(&dev, devp);
	if (err) {
		cli_fail("encrypt-config", "cannot read certificate %s: %s",
		         devp, tl_strerror(err));
		goto out;
	}
	err = trust_site_signer(&sp, &key, &cert);
	if (err) {
		cli_fail("encrypt-config", "cannot load %s / %s: %s",
		         sp.key_file, sp.cert_file, tl_strerror(err));
		goto out;
	}
	err = trust_file_read(in, TRUST_CLI_MAX_IN, &ib);
	if (err) {
		cli_fail("encrypt-config", "cannot read %s: %s", in,
		         tl_strerror(err));
		goto out;
	}
	{
		struct trust_sign s = {
		        .key = key,
		        .cert = cert,
		        .md = digest ? trust_md_by_name(digest) : NULL,
		        .filename = name,
		};

		err = trust_enc_build(&b, &s, dev, buf_slice(&ib));
	}
	if (err) {
		cli_fail("encrypt-config", "cannot encrypt: %s",
		         err == -TL_EPOLICY
		                 ? "device key is neither RSA nor P-256, or "
		                   "the signing key is not RSA or does not "
		                   "match its certificate"
		                 : tl_strerror(err));
		goto out;
	}
	if (trust_cert_hash(dev, hash)) {
		goto out;
	}
	err = trust_file_write(out, b.p, b.len, 0644);
	if (err) {
		cli_fail("encrypt-config", "cannot write %s: %s", out,
		         tl_strerror(err));
		goto out;
	}
	if (json) {
		json_t *j =
		        json_pack("{s:s, s:s}", "file", out, "certHash", hash);
		char *s = j ? json_dumps(j, 0) : NULL;

		if (s) {
			printf("%s\n", s);
		}
		free(s);
		json_decref(j);
	} else {
		printf("wrote %s\ncertHash %s\n", out, hash);
	}
	rc = CLI_OK;
out:
	pki_key_free(key);
	X509_free(cert);
	X509_free(dev);
	buf_free_secret(&ib);
	buf_free(&b);
	return rc;
}
