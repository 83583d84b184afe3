/* trustline ctl build|sign|show|verify: the Certificate Trust List (and
 * the ITL, same format). docs/formats/ctl.md. */
#include "cli/cli.h"
#include "codec/tlv/tlv.h"
#include "trust/trust.h"
#include "trust/trust_site.h"

#include <jansson.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_ctl_summary[] =
        "build, sign, show and verify the CTL/ITL (CTLFile.tlv, ITLFile.tlv)";

#define MAX_ADD  64
#define MAX_FILE (4u * 1024 * 1024)

static void usage(void)
{
	printf("usage: trustline ctl build [--site DIR] [--itl] [--add "
	       "ROLE:CERT]...\n"
	       "                 [--no-site-certs] [--single-sast] [--token N "
	       "| --key KEY --cert CERT]\n"
	       "                 [--pin PIN | --pin-file F] [--module SO] "
	       "[--digest sha1|sha256|sha512]\n"
	       "                 [--name NAME] [--timestamp UNIX] [--out "
	       "FILE]\n"
	       "       trustline ctl sign FILE [--site DIR] [--token N | --key "
	       "KEY --cert CERT]\n"
	       "                 [--pin PIN | --pin-file F] [--module SO] "
	       "[--digest ...] [--out FILE]\n"
	       "       trustline ctl show [FILE] [--site DIR] [--json]\n"
	       "       trustline ctl verify FILE [--previous OLD.tlv | "
	       "--first-use] [--crl CRL]\n"
	       "                 [--at UNIX] [--json]\n"
	       "\n"
	       "build   lists the site's SAST tokens (pki/sast1.crt, "
	       "pki/sast2.crt) and service\n"
	       "        certificates (ccm, tftp, capf, ccm-ec) plus each --add "
	       "ROLE:CERT, and signs\n"
	       "        with SAST token 1 (or --token N, or a key file). "
	       "Roles: SAST, CCM, CCM+TFTP,\n"
	       "        TFTP, CAPF, APP-SERVER, TVS. A CTL needs two SASTs "
	       "(mixed mode) unless\n"
	       "        --single-sast or --itl; it never lists more than two. "
	       "Writes\n"
	       "        tftp/CTLFile.tlv (tftp/ITLFile.tlv with --itl) unless "
	       "--out.\n"
	       "sign    re-signs FILE's records with another SAST (FILE is "
	       "replaced unless --out).\n"
	       "show    prints the signer and every record (role, subject, "
	       "serial, fingerprints).\n"
	       "verify  checks the signature and the trust rule: the signer "
	       "must be a SAST of\n"
	       "        the previous CTL (--previous), or --first-use for a "
	       "first CTL.\n"
	       "        Exit 0 valid, 1 invalid, 2 usage.\n");
}

struct opts {
	const char *sub;
	const char *site;
	const char *file;
	const char *out;
	const char *name;
	const char *previous;
	const char *crl;
	const char *digest;
	struct trust_signer_spec sp;
	const char *add[MAX_ADD];
	size_t nadd;
	bool itl, json, first_use, no_site, single;
	int64_t at;
	uint32_t timestamp;
};

static int num_arg(const char *s, uint64_t max, uint64_t *out)
{
	return slice_to_u64(slice_from_str(s), 20, out) || *out > max ? -1 : 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	uint64_t v;

	if (argc < 2) {
		return cli_fail("ctl", "missing subcommand (build, sign, "
		                       "show, verify); see --help");
	}
	o->sub = argv[1];
	o->site = cli_site_default();
	o->sp.token = -1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;

		if (!strcmp(a, "--itl")) {
			o->itl = true;
			takes = false;
		} else if (!strcmp(a, "--json")) {
			o->json = true;
			takes = false;
		} else if (!strcmp(a, "--first-use")) {
			o->first_use = true;
			takes = false;
		} else if (!strcmp(a, "--no-site-certs")) {
			o->no_site = true;
			takes = false;
		} else if (!strcmp(a, "--single-sast")) {
			o->single = true;
			takes = false;
		} else if (a[0] == '-' && a[1] == '-' && !val) {
			return cli_fail("ctl", "%s needs a value", a);
		} else if (!strcmp(a, "--site")) {
			o->site = val;
		} else if (!strcmp(a, "--out")) {
			o->out = val;
		} else if (!strcmp(a, "--name")) {
			o->name = val;
		} else if (!strcmp(a, "--previous")) {
			o->previous = val;
		} else if (!strcmp(a, "--crl")) {
			o->crl = val;
		} else if (!strcmp(a, "--digest")) {
			o->digest = val;
			if (!trust_md_by_name(val)) {
				return cli_fail("ctl",
				                "unknown digest %s "
				                "(sha1, sha256, sha512)",
				                val);
			}
		} else if (!strcmp(a, "--token")) {
			if (num_arg(val, 2, &v) || v < 1) {
				return cli_fail("ctl",
				                "--token must be 1 or 2");
			}
			o->sp.token = (int)v;
		} else if (!strcmp(a, "--key")) {
			o->sp.key_file = val;
		} else if (!strcmp(a, "--cert")) {
			o->sp.cert_file = val;
		} else if (!strcmp(a, "--pin")) {
			o->sp.pin = val;
		} else if (!strcmp(a, "--pin-file")) {
			o->sp.pin_file = val;
		} else if (!strcmp(a, "--module")) {
			o->sp.module = val;
		} else if (!strcmp(a, "--add")) {
			if (o->nadd == MAX_ADD) {
				return cli_fail("ctl", "too many --add");
			}
			o->add[o->nadd++] = val;
		} else if (!strcmp(a, "--timestamp")) {
			if (num_arg(val, UINT32_MAX, &v)) {
				return cli_fail("ctl", "bad --timestamp %s",
				                val);
			}
			o->timestamp = (uint32_t)v;
		} else if (!strcmp(a, "--at")) {
			if (num_arg(val, INT64_MAX, &v)) {
				return cli_fail("ctl", "bad --at %s", val);
			}
			o->at = (int64_t)v;
		} else if (a[0] == '-') {
			return cli_fail("ctl", "unknown option %s", a);
		} else if (!o->file) {
			o->file = a;
			takes = false;
		} else {
			return cli_fail("ctl", "unexpected argument %s", a);
		}
		if (takes) {
			i++;
		}
	}
	o->sp.site = o->site;
	if (o->sp.token < 0) {
		o->sp.token = (o->sp.key_file || o->sp.cert_file) ? 0 : 1;
	} else if (o->sp.key_file || o->sp.cert_file) {
		return cli_fail("ctl", "--token and --key/--cert exclude each "
		                       "other");
	}
	if (!o->sp.token && (!o->sp.key_file || !o->sp.cert_file)) {
		return cli_fail("ctl", "--key and --cert go together");
	}
	return 0;
}

static int load_signer(const struct opts *o, struct pki_key **key, X509 **cert)
{
	int err = trust_site_signer(&o->sp, key, cert);

	if (err) {
		if (o->sp.token) {
			return cli_fail("ctl",
			                "cannot open SAST token %d of %s: %s",
			                o->sp.token, o->site, tl_strerror(err));
		}
		return cli_fail("ctl", "cannot load signing key %s / %s: %s",
		                o->sp.key_file, o->sp.cert_file,
		                tl_strerror(err));
	}
	return 0;
}

static const char *build_error(int err)
{
	switch (err) {
	case -TL_EPOLICY:
		return "refused: more than two SASTs, fewer than two for "
		       "mixed mode, or a signing key that is not RSA or does "
		       "not match its certificate";
	case -TL_ETRUST:
		return "the signing certificate is not one of the SAST records";
	default:
		return tl_strerror(err);
	}
}

static int write_out(const char *path, struct buf *b)
{
	int err = trust_file_write(path, b->p, b->len, 0644);

	if (err) {
		return cli_fail("ctl", "cannot write %s: %s", path,
		                tl_strerror(err));
	}
	return 0;
}

static void default_path(const struct opts *o, char *out, size_t n)
{
	snprintf(out, n, "%s/tftp/%s", o->site,
	         o->itl ? "ITLFile.tlv" : "CTLFile.tlv");
}

static int do_build(struct opts *o)
{
	X509 **certs = NULL, *all[TLV_MAX_RECORDS], *scert = NULL;
	uint16_t *roles = NULL, allr[TLV_MAX_RECORDS];
	struct pki_key *key = NULL;
	char path[4096];
	size_t n = 0, m = 0;
	struct buf b;
	int err, rc = CLI_EFAIL;

	buf_init(&b, 0);
	if (!o->no_site) {
		err = trust_site_records(o->site, o->itl, &certs, &roles, &n);
		if (err) {
			return cli_fail("ctl",
			                "cannot read the site's "
			                "certificates in %s/pki: %s "
			                "(use --no-site-certs and --add)",
			                o->site, tl_strerror(err));
		}
	}
	for (size_t i = 0; i < n; i++) {
		all[m] = certs[i];
		allr[m++] = roles[i];
	}
	for (size_t i = 0; i < o->nadd; i++) {
		const char *colon = strchr(o->add[i], ':');
		char role[32];
		uint16_t r;

		if (!colon || (size_t)(colon - o->add[i]) >= sizeof(role)) {
			cli_fail("ctl", "--add wants ROLE:CERT, got %s",
			         o->add[i]);
			goto out;
		}
		memcpy(role, o->add[i], (size_t)(colon - o->add[i]));
		role[colon - o->add[i]] = 0;
		if (tlv_role_parse(role, &r)) {
			cli_fail("ctl", "unknown role %s", role);
			goto out;
		}
		if (m == TLV_MAX_RECORDS) {
			cli_fail("ctl", "too many records");
			goto out;
		}
		err = trust_cert_read(&all[m], colon + 1);
		if (err) {
			cli_fail("ctl", "cannot read certificate %s: %s",
			         colon + 1, tl_strerror(err));
			goto out;
		}
		allr[m++] = r;
	}
	if (m == 0) {
		cli_fail("ctl", "no records to list");
		goto out;
	}
	{
		size_t nsast = 0;

		for (size_t i = 0; i < m; i++) {
			nsast += allr[i] == TLV_ROLE_SAST;
		}
		if (nsast > 2) {
			cli_fail("ctl",
			         "a CTL lists at most two SASTs (got %zu)",
			         nsast);
			goto out;
		}
		if (nsast < 2 && !o->itl && !o->single) {
			cli_fail("ctl",
			         "mixed mode needs two SASTs (got %zu); "
			         "--single-sast for a test list",
			         nsast);
			goto out;
		}
	}
	if (load_signer(o, &key, &scert)) {
		goto out;
	}
	{
		struct trust_sign s = {
		        .key = key,
		        .cert = scert,
		        .md = o->digest ? trust_md_by_name(o->digest) : NULL,
		        .filename = o->name  ? o->name
		                    : o->itl ? "ITLFile.tlv"
		                             : "CTLFile.tlv",
		        .timestamp = o->timestamp,
		};
		unsigned flags = (o->itl || o->single) ? 0 : TRUST_BUILD_MIXED;

		err = trust_ctl_build(&b, &s, all, allr, m, flags);
	}
	if (err) {
		cli_fail("ctl", "cannot build: %s", build_error(err));
		goto out;
	}
	if (!o->out) {
		default_path(o, path, sizeof(path));
	}
	if (write_out(o->out ? o->out : path, &b)) {
		goto out;
	}
	printf("wrote %s (%zu records, %zu bytes)\n", o->out ? o->out : path, m,
	       b.len);
	rc = CLI_OK;
out:
	/* the first n belong to the site arrays */
	for (size_t i = n; i < m; i++) {
		X509_free(all[i]);
	}
	trust_site_records_free(certs, roles, n);
	pki_key_free(key);
	X509_free(scert);
	buf_free(&b);
	return rc;
}

static int read_ctl(const char *path, struct trust_ctl **ctl)
{
	const char *why = NULL;
	struct buf b;
	int err;

	buf_init(&b, 0);
	err = trust_file_read(path, MAX_FILE, &b);
	if (err) {
		buf_free(&b);
		return cli_fail("ctl", "cannot read %s: %s", path,
		                tl_strerror(err));
	}
	err = trust_ctl_parse(ctl, b.p, b.len, &why);
	buf_free(&b);
	if (err) {
		return cli_fail("ctl", "%s: %s (%s)", path,
		                why ? why : "malformed", tl_strerror(err));
	}
	return 0;
}

static int do_sign(struct opts *o)
{
	struct trust_ctl *ctl = NULL;
	X509 *certs[TLV_MAX_RECORDS], *scert = NULL;
	uint16_t roles[TLV_MAX_RECORDS];
	struct pki_key *key = NULL;
	size_t n;
	struct buf b;
	int err, rc = CLI_EFAIL;

	buf_init(&b, 0);
	if (!o->file) {
		cli_fail("ctl", "sign: which file? see --help");
		return CLI_EUSAGE;
	}
	if (read_ctl(o->file, &ctl)) {
		return CLI_EFAIL;
	}
	n = trust_ctl_count(ctl);
	for (size_t i = 0; i < n; i++) {
		struct trust_entry e;

		if (trust_ctl_entry(ctl, i, &e)) {
			cli_fail("ctl", "%s: record %zu: certificate does not "
			                "decode or does not match its serial",
			         o->file, i);
			goto out;
		}
		certs[i] = e.cert;
		roles[i] = e.role;
	}
	if (load_signer(o, &key, &scert)) {
		goto out;
	}
	{
		struct trust_sign s = {
		        .key = key,
		        .cert = scert,
		        .md = o->digest ? trust_md_by_name(o->digest) : NULL,
		        .filename = o->name ? o->name : "",
		        .timestamp = o->timestamp,
		};
		char name[256];

		if (!o->name) {
			struct slice fn = trust_ctl_header(ctl)->filename;

			if (slice_to_cstr(fn, name, sizeof(name))) {
				goto out;
			}
			s.filename = name;
		}
		err = trust_ctl_build(&b, &s, certs, roles, n, 0);
	}
	if (err) {
		cli_fail("ctl", "cannot sign: %s", build_error(err));
		goto out;
	}
	if (write_out(o->out ? o->out : o->file, &b)) {
		goto out;
	}
	printf("signed %s with %s\n", o->out ? o->out : o->file,
	       o->sp.token ? (o->sp.token == 1 ? "SAST1" : "SAST2")
	                   : o->sp.key_file);
	rc = CLI_OK;
out:
	pki_key_free(key);
	X509_free(scert);
	trust_ctl_free(ctl);
	buf_free(&b);
	return rc;
}

static const char *hash_name(uint8_t code)
{
	switch (code) {
	case TLV_HASH_SHA1:
		return "sha1";
	case TLV_HASH_SHA256:
		return "sha256";
	case TLV_HASH_SHA512:
		return "sha512";
	default:
		return "?";
	}
}

static void iso_time(uint32_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
		snprintf(out, n, "%u", t);
	}
}

static void cstr(struct slice s, char *out, size_t n)
{
	if (slice_to_cstr(s, out, n)) {
		snprintf(out, n, "(unprintable)");
	}
}

static int do_show(struct opts *o)
{
	struct trust_ctl *ctl = NULL;
	const struct tlv_hdr *h;
	char path[4096], name[1024], issuer[1024], serial[80], when[32];
	json_t *root = NULL, *recs = NULL;
	int rc = CLI_EFAIL;

	if (!o->file) {
		default_path(o, path, sizeof(path));
	}
	if (read_ctl(o->file ? o->file : path, &ctl)) {
		return CLI_EFAIL;
	}
	h = trust_ctl_header(ctl);
	cstr(h->signer_name, name, sizeof(name));
	cstr(h->issuer_name, issuer, sizeof(issuer));
	trust_hex(h->serial, serial, sizeof(serial));
	iso_time(h->timestamp, when, sizeof(when));
	if (o->json) {
		char fn[256], ver[8], sv[8];

		cstr(h->filename, fn, sizeof(fn));
		snprintf(ver, sizeof(ver), "%u.%u", h->ver_major, h->ver_minor);
		snprintf(sv, sizeof(sv), "%u.%u", h->sv_major, h->sv_minor);
		recs = json_array();
		root = json_pack(
		        "{s:s, s:s, s:s?, s:{s:s, s:s, s:s}, s:s, "
		        "s:i, s:s, s:i, s:o}",
		        "filename", fn, "version", ver, "signer_version",
		        h->has_signer_version ? sv : NULL, "signer", "name",
		        name, "serial", serial, "issuer", issuer, "hash",
		        hash_name(h->hash_alg), "signature_bits",
		        (int)h->signature.len * 8, "time", when, "timestamp",
		        (json_int_t)h->timestamp, "records", recs);
		if (!root) {
			goto out;
		}
	} else {
		char fn[256];

		cstr(h->filename, fn, sizeof(fn));
		printf("file:       %s (format %u.%u", fn, h->ver_major,
		       h->ver_minor);
		if (h->has_signer_version) {
			printf(", signer version %u.%u", h->sv_major,
			       h->sv_minor);
		}
		printf(")\nsigner:     %s\n  serial:   %s\n  issuer:   %s\n"
		       "signature:  RSA-%zu %s\ntimestamp:  %s (%u)\n"
		       "records:    %zu\n",
		       name, serial, issuer, h->signature.len * 8,
		       hash_name(h->hash_alg), when, h->timestamp,
		       trust_ctl_count(ctl));
	}
	for (size_t i = 0; i < trust_ctl_count(ctl); i++) {
		struct trust_entry e;
		const char *role;
		char subj[1024], rs[80], sha[65], md5[33], rolebuf[16];

		if (trust_ctl_entry(ctl, i, &e) ||
		    trust_cert_sha256(e.cert, sha) ||
		    trust_cert_hash(e.cert, md5)) {
			cli_fail("ctl", "record %zu: certificate does not "
			                "decode or does not match its serial",
			         i);
			goto out;
		}
		role = tlv_role_name(e.role);
		if (!role) {
			snprintf(rolebuf, sizeof(rolebuf), "role-%u", e.role);
			role = rolebuf;
		}
		cstr(e.subject, subj, sizeof(subj));
		trust_hex(e.serial, rs, sizeof(rs));
		if (o->json) {
			if (json_array_append_new(
			            recs,
			            json_pack("{s:s, s:i, s:s, s:s, "
			                      "s:s, s:s}",
			                      "role", role, "role_code",
			                      (int)e.role, "subject", subj,
			                      "serial", rs, "sha256", sha,
			                      "md5", md5))) {
				goto out;
			}
		} else {
			printf("[%zu] %-10s %s\n    serial %s\n    sha256 %s\n"
			       "    md5    %s\n",
			       i, role, subj, rs, sha, md5);
		}
	}
	if (o->json) {
		char *s = json_dumps(root, JSON_INDENT(2));

		if (!s) {
			goto out;
		}
		printf("%s\n", s);
		free(s);
	}
	rc = CLI_OK;
out:
	json_decref(root);
	trust_ctl_free(ctl);
	return rc;
}

static int read_crl(const char *path, X509_CRL **out)
{
	struct buf b;
	BIO *bio;
	X509_CRL *crl = NULL;
	int err;

	buf_init(&b, 0);
	err = trust_file_read(path, MAX_FILE, &b);
	if (err) {
		buf_free(&b);
		return cli_fail("ctl", "cannot read CRL %s: %s", path,
		                tl_strerror(err));
	}
	bio = BIO_new_mem_buf(b.p, (int)b.len);
	if (bio) {
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (!crl) {
		const unsigned char *d = b.p;

		crl = d2i_X509_CRL(NULL, &d, (long)b.len);
	}
	buf_free(&b);
	if (!crl) {
		return cli_fail("ctl", "%s is not a CRL (PEM or DER)", path);
	}
	*out = crl;
	return 0;
}

static int do_verify(struct opts *o)
{
	struct trust_ctl *ctl = NULL, *prev = NULL;
	struct trust_opts to = {.first_use = o->first_use, .now = o->at};
	const char *why = NULL;
	int err, rc = CLI_EFAIL;

	if (!o->file) {
		cli_fail("ctl", "verify: which file? see --help");
		return CLI_EUSAGE;
	}
	if (o->previous && o->first_use) {
		cli_fail("ctl", "--previous and --first-use exclude "
		                "each other");
		return CLI_EUSAGE;
	}
	if (!o->previous && !o->first_use) {
		cli_fail("ctl", "verify needs --previous OLD.tlv or "
		                "--first-use");
		return CLI_EUSAGE;
	}
	if (read_ctl(o->file, &ctl) ||
	    (o->previous && read_ctl(o->previous, &prev)) ||
	    (o->crl && read_crl(o->crl, &to.crl))) {
		goto out;
	}
	err = trust_ctl_verify(ctl, prev, &to, &why);
	if (o->json) {
		json_t *j = json_pack(
		        "{s:s, s:b, s:s?}", "file", o->file, "valid", !err,
		        "reason", err ? (why ? why : tl_strerror(err)) : NULL);
		char *s = j ? json_dumps(j, 0) : NULL;

		if (s) {
			printf("%s\n", s);
		}
		free(s);
		json_decref(j);
	}
	if (err) {
		if (!o->json) {
			cli_fail("ctl", "%s: not valid: %s", o->file,
			         why ? why : tl_strerror(err));
		}
		goto out;
	}
	if (!o->json) {
		printf("%s: valid\n", o->file);
	}
	rc = CLI_OK;
out:
	X509_CRL_free(to.crl);
	trust_ctl_free(ctl);
	trust_ctl_free(prev);
	return rc;
}

int cmd_ctl(int argc, char **argv)
{
	struct opts o = {0};

	if (cli_wants_help(argc, argv)) {
		usage();
		return CLI_OK;
	}
	if (parse_args(argc, argv, &o)) {
		return CLI_EUSAGE;
	}
	if (!strcmp(o.sub, "build")) {
		return do_build(&o);
	}
	if (!strcmp(o.sub, "sign")) {
		return do_sign(&o);
	}
	if (!strcmp(o.sub, "show")) {
		return do_show(&o);
	}
	if (!strcmp(o.sub, "verify")) {
		return do_verify(&o);
	}
	cli_fail("ctl", "unknown subcommand %s; see --help", o.sub);
	return CLI_EUSAGE;
}
