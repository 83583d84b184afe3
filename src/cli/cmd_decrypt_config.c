/* trustline decrypt-config --key DEVICE.key IN.enc.sgn: what a phone does
 * with its encrypted config (docs/formats/enc-sgn.md). */
#include "cli/cli.h"
#include "trust/trust.h"
#include "trust/trust_site.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

const char cmd_decrypt_config_summary[] =
        "decrypt a .enc.sgn config with the device key (checks it first)";

#define TRUST_CLI_MAX_IN (32u * 1024 * 1024)

static void usage(void)
{
	printf("usage: trustline decrypt-config --key DEVICE.key IN.enc.sgn\n"
	       "                 [--ctl CTLFile.tlv] [--out OUT]\n"
	       "\n"
	       "Checks the signature against --ctl (signer: TFTP role) when "
	       "given, then\n"
	       "decrypts with the device's private key and checks the content "
	       "hash.\n"
	       "Writes OUT (default IN without .enc.sgn; '-' for standard "
	       "output) with\n"
	       "mode 0600: the config may hold secrets.\n");
}

static int load_key(const char *path, EVP_PKEY **out)
{
	FILE *f = fopen(path, "r");

	if (!f) {
		return -errno;
	}
	*out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return *out ? 0 : -TL_EPARSE;
}

int cmd_decrypt_config(int argc, char **argv)
{
	const char *in = NULL, *keyp = NULL, *ctlp = NULL, *out = NULL;
	struct trust_opts o = {0}, co = {.first_use = true};
	struct trust_ctl *ctl = NULL;
	EVP_PKEY *key = NULL;
	const char *why = NULL;
	char outp[4096];
	struct buf fb, cb, plain;
	int err, rc = CLI_EFAIL;

	if (cli_wants_help(argc, argv)) {
		usage();
		return CLI_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] == '-' && a[1] && !v) {
			cli_fail("decrypt-config", "%s needs a value", a);
			return CLI_EUSAGE;
		}
		if (!strcmp(a, "--key")) {
			keyp = v;
		} else if (!strcmp(a, "--ctl")) {
			ctlp = v;
		} else if (!strcmp(a, "--out")) {
			out = v;
		} else if (a[0] == '-') {
			cli_fail("decrypt-config", "unknown option %s", a);
			return CLI_EUSAGE;
		} else if (!in) {
			in = a;
			continue;
		} else {
			cli_fail("decrypt-config", "unexpected argument %s", a);
			return CLI_EUSAGE;
		}
		i++;
	}
	if (!in || !keyp) {
		cli_fail("decrypt-config", "need --key DEVICE.key and "
		                           "IN.enc.sgn; see --help");
		return CLI_EUSAGE;
	}
	if (!out) {
		size_t n = strlen(in);

		if (n > 8 && !strcmp(in + n - 8, ".enc.sgn")) {
			snprintf(outp, sizeof(outp), "%.*s", (int)(n - 8), in);
		} else {
			snprintf(outp, sizeof(outp), "%s.xml", in);
		}
		out = outp;
	}
	buf_init(&fb, 0);
	buf_init(&cb, 0);
	buf_init(&plain, 0);
	err = load_key(keyp, &key);
	if (err) {
		cli_fail("decrypt-config", "cannot load key %s: %s", keyp,
		         tl_strerror(err));
		goto out;
	}
	if (ctlp) {
		err = trust_file_read(ctlp, TRUST_CLI_MAX_IN, &cb);
		if (!err) {
			err = trust_ctl_parse(&ctl, cb.p, cb.len, &why);
		}
		if (!err) {
			err = trust_ctl_verify(ctl, NULL, &co, &why);
		}
		if (err) {
			cli_fail("decrypt-config", "%s is not a valid CTL: %s",
			         ctlp, why ? why : tl_strerror(err));
			goto out;
		}
	} else {
		fprintf(stderr, "trustline decrypt-config: no --ctl: the "
		                "signer is not checked\n");
	}
	err = trust_file_read(in, TRUST_CLI_MAX_IN, &fb);
	if (err) {
		cli_fail("decrypt-config", "cannot read %s: %s", in,
		         tl_strerror(err));
		goto out;
	}
	err = trust_enc_open(buf_slice(&fb), ctl, &o, key, &plain, &why);
	if (err) {
		cli_fail("decrypt-config", "%s: %s", in,
		         why ? why : tl_strerror(err));
		goto out;
	}
	if (!strcmp(out, "-")) {
		if (fwrite(plain.p, 1, plain.len, stdout) != plain.len) {
			goto out;
		}
	} else {
		err = trust_file_write(out, plain.p, plain.len, 0600);
		if (err) {
			cli_fail("decrypt-config", "cannot write %s: %s", out,
			         tl_strerror(err));
			goto out;
		}
		printf("wrote %s (%zu bytes)\n", out, plain.len);
	}
	rc = CLI_OK;
out:
	EVP_PKEY_free(key);
	trust_ctl_free(ctl);
	buf_free(&fb);
	buf_free(&cb);
	buf_free_secret(&plain);
	return rc;
}
