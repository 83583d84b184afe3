/* trustline device add|list|show|set|del|config: the phones of a site,
 * their security profile, firmware load, CAPF operation (seed 004) and
 * certificate, and the configuration file each one is served. */
#include "cli/cli.h"
#include "cli/site.h"

#include "base/buf.h"
#include "base/log.h"
#include "pki/pki_key.h"
#include "prov/cnf_sign.h"
#include "prov/cnf_xml.h"
#include "store/store.h"
#include "trust/trust_site.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char cmd_device_summary[] =
        "phones: add, list, show, set (profile, load, CAPF, certificate), del";

static const char usage[] =
        "usage: trustline device add --mac MAC [--model M] [--profile P]\n"
        "                            [--name SEP...] [--load IMAGE]\n"
        "                            [--description TEXT]\n"
        "       trustline device list [--json]\n"
        "       trustline device show MAC [--json]\n"
        "       trustline device set MAC [options below]\n"
        "       trustline device del MAC\n"
        "       trustline device config MAC [--file xml|sgn|enc]\n"
        "                            [--sign [--out FILE]]\n"
        "\n"
        "MAC: 12 hex digits, or six pairs separated by ':' or '-'; stored as\n"
        "12 upper-case digits. The name defaults to SEP<MAC>, the profile to\n"
        "nonsecure.\n"
        "set options:\n"
        "  --profile P             security profile (trustline profile list)\n"
        "  --load IMAGE            firmware load name ('' clears it)\n"
        "  --model M, --name N, --description TEXT\n"
        "  --capf-op OP            pending CAPF operation: install, upgrade,\n"
        "                          delete, fetch or none\n"
        "  --capf-auth-mode MODE   0 none, 1 auth-string, 2 null-string,\n"
        "                          3 lsc (then MIC), 4 mic\n"
        "  --capf-auth-string S    the one-time CAPF auth string (stored\n"
        "                          hashed, never shown); or\n"
        "  --capf-auth-string-file F   read it from F ('-': stdin)\n"
        "  --clear-capf-auth-string\n"
        "  --capf-complete-by WHEN the operation's deadline: YYYY-MM-DD "
        "(UTC),\n"
        "                          Unix seconds, or 0 for none\n"
        "  --cert FILE             the device certificate (LSC or MIC; PEM or\n"
        "                          DER): its MD5 is the certHash of the\n"
        "                          encrypted config\n"
        "  --clear-cert\n"
        "config: print the XML of SEP<MAC>.cnf.xml (xml), the body of\n"
        "  SEP<MAC>.cnf.xml.sgn (sgn) or of .enc.sgn (enc) as the site's\n"
        "  cluster mode serves them (default: the first served); line\n"
        "  passwords are never included.\n"
        "  --sign       the file as served: signed with pki/tftp.key and\n"
        "               pki/tftp.crt; enc encrypted to the device\n"
        "               certificate first\n"
        "  --out FILE   write it to FILE (atomically) instead of stdout\n"
        "Common options:\n"
        "  --site DIR              the site directory (default ./site)\n"
        "  --json                  machine-readable output\n";

#define CMD        "device"
#define SECRET_MAX 64

struct opts {
	const char *site;
	bool json;
	const char *mac, *model, *profile, *name, *load, *description;
	const char *capf_op, *capf_auth_mode, *capf_auth_string;
	const char *capf_auth_file, *capf_complete_by, *cert, *file, *out;
	bool clear_auth, clear_cert, sign;
	const char *arg; /* positional MAC */
};

enum {
	O_SITE = 256,
	O_JSON,
	O_MAC,
	O_MODEL,
	O_PROFILE,
	O_NAME,
	O_LOAD,
	O_DESC,
	O_CAPF_OP,
	O_CAPF_MODE,
	O_CAPF_STR,
	O_CAPF_FILE,
	O_CAPF_CLEAR,
	O_CAPF_BY,
	O_CERT,
	O_CERT_CLEAR,
	O_FILE,
	O_SIGN,
	O_OUT,
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	        {"site", required_argument, NULL, O_SITE},
	        {"json", no_argument, NULL, O_JSON},
	        {"mac", required_argument, NULL, O_MAC},
	        {"model", required_argument, NULL, O_MODEL},
	        {"profile", required_argument, NULL, O_PROFILE},
	        {"name", required_argument, NULL, O_NAME},
	        {"load", required_argument, NULL, O_LOAD},
	        {"description", required_argument, NULL, O_DESC},
	        {"capf-op", required_argument, NULL, O_CAPF_OP},
	        {"capf-auth-mode", required_argument, NULL, O_CAPF_MODE},
	        {"capf-auth-string", required_argument, NULL, O_CAPF_STR},
	        {"capf-auth-string-file", required_argument, NULL, O_CAPF_FILE},
	        {"clear-capf-auth-string", no_argument, NULL, O_CAPF_CLEAR},
	        {"capf-complete-by", required_argument, NULL, O_CAPF_BY},
	        {"cert", required_argument, NULL, O_CERT},
	        {"clear-cert", no_argument, NULL, O_CERT_CLEAR},
	        {"file", required_argument, NULL, O_FILE},
	        {"sign", no_argument, NULL, O_SIGN},
	        {"out", required_argument, NULL, O_OUT},
	        {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->site = cli_site_default();
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (c) {
		case O_SITE:
			o->site = optarg;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_MAC:
			o->mac = optarg;
			break;
		case O_MODEL:
			o->model = optarg;
			break;
		case O_PROFILE:
			o->profile = optarg;
			break;
		case O_NAME:
			o->name = optarg;
			break;
		case O_LOAD:
			o->load = optarg;
			break;
		case O_DESC:
			o->description = optarg;
			break;
		case O_CAPF_OP:
			o->capf_op = optarg;
			break;
		case O_CAPF_MODE:
			o->capf_auth_mode = optarg;
			break;
		case O_CAPF_STR:
			o->capf_auth_string = optarg;
			break;
		case O_CAPF_FILE:
			o->capf_auth_file = optarg;
			break;
		case O_CAPF_CLEAR:
			o->clear_auth = true;
			break;
		case O_CAPF_BY:
			o->capf_complete_by = optarg;
			break;
		case O_CERT:
			o->cert = optarg;
			break;
		case O_CERT_CLEAR:
			o->clear_cert = true;
			break;
		case O_FILE:
			o->file = optarg;
			break;
		case O_SIGN:
			o->sign = true;
			break;
		case O_OUT:
			o->out = optarg;
			break;
		case ':':
			cli_fail(CMD, "%s needs a value", argv[optind - 1]);
			return CLI_EUSAGE;
		default:
			cli_fail(CMD, "unknown option '%s' (try --help)",
			         argv[optind - 1]);
			return CLI_EUSAGE;
		}
	}
	if (optind < argc) {
		o->arg = argv[optind++];
	}
	if (optind < argc) {
		cli_fail(CMD, "unexpected argument '%s'", argv[optind]);
		return CLI_EUSAGE;
	}
	return 0;
}

/* ---- output ---- */

static json_t *line_json(const struct store_line *l)
{
	return json_pack("{s:s, s:i, s:s, s:s, s:b}", "dn", l->dn, "index",
	                 l->line_index, "display", l->display, "user",
	                 *l->user ? l->user : l->dn, "password_set",
	                 *l->ha1_md5 != '\0');
}

static int lines_json_h(const struct store_line *l, void *arg)
{
	return json_array_append_new(arg, line_json(l)) ? -ENOMEM : 0;
}

static json_t *device_json(struct store *st, const struct store_device *d,
                           bool with_lines)
{
	json_t *j = json_pack(
	        "{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:i, s:s, s:I, s:b}, "
	        "s:I, s:I}",
	        "mac", d->mac, "name", d->name, "model", d->model, "profile",
	        d->profile, "load", d->load, "description", d->description,
	        "capf", "auth_mode", d->capf_auth_mode, "operation",
	        store_capf_op_name(d->capf_op), "complete_by",
	        (json_int_t)d->capf_deadline, "auth_string_set",
	        d->capf_has_auth_string, "created", (json_int_t)d->created,
	        "updated", (json_int_t)d->updated);
	json_t *lines;

	if (!j) {
		return NULL;
	}
	if (*d->cert_md5) {
		json_object_set_new(j, "certificate",
		                    json_pack("{s:s, s:s}", "md5", d->cert_md5,
		                              "serial", d->cert_serial));
	} else {
		json_object_set_new(j, "certificate", json_null());
	}
	if (with_lines) {
		lines = json_array();
		if (!lines ||
		    store_line_list(st, d->mac, lines_json_h, lines)) {
			json_decref(lines);
			json_decref(j);
			return NULL;
		}
		json_object_set_new(j, "lines", lines);
	}
	return j;
}

static const char *when(int64_t t, char *out, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0) {
		return "-";
	}
	if (!gmtime_r(&tt, &tm) ||
	    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		snprintf(out, n, "%" PRId64, t);
	}
	return out;
}

static int lines_text_h(const struct store_line *l, void *arg)
{
	printf("  line %-3d %-12s %-24s user %s%s\n", l->line_index, l->dn,
	       *l->display ? l->display : "-", *l->user ? l->user : l->dn,
	       *l->ha1_md5 ? "" : " (no password)");
	return 0;
}

static int show_text(struct store *st, const struct store_device *d)
{
	char t1[32], t2[32], t3[32];

	printf("mac:          %s\nname:         %s\nmodel:        %s\n"
	       "profile:      %s\nload:         %s\ndescription:  %s\n"
	       "capf:         auth mode %d, operation %s, complete by %s, "
	       "auth string %s\n",
	       d->mac, d->name, *d->model ? d->model : "-", d->profile,
	       *d->load ? d->load : "-", *d->description ? d->description : "-",
	       d->capf_auth_mode, store_capf_op_name(d->capf_op),
	       when(d->capf_deadline, t1, sizeof(t1)),
	       d->capf_has_auth_string ? "set" : "not set");
	if (*d->cert_md5) {
		printf("certificate:  serial %s, MD5 %s\n", d->cert_serial,
		       d->cert_md5);
	} else {
		printf("certificate:  none\n");
	}
	printf("created:      %s\nupdated:      %s\nlines:\n",
	       when(d->created, t2, sizeof(t2)),
	       when(d->updated, t3, sizeof(t3)));
	return store_line_list(st, d->mac, lines_text_h, NULL) ? CLI_EFAIL
	                                                       : CLI_OK;
}

/* ---- input ---- */

static int get_mac(const struct opts *o, const char *sub, char mac[13])
{
	const char *in = o->mac ? o->mac : o->arg;

	if (o->mac && o->arg) {
		cli_fail(CMD, "give the MAC once");
		return CLI_EUSAGE;
	}
	if (!in) {
		cli_fail(CMD, "%s needs a MAC", sub);
		return CLI_EUSAGE;
	}
	if (store_mac_parse(in, mac)) {
		cli_fail(CMD,
		         "bad MAC '%s' (12 hex digits, or AA:BB:CC:DD:EE:FF)",
		         in);
		return CLI_EUSAGE;
	}
	return 0;
}

static int copy_field(const char *opt, const char *v, char *dst, size_t n)
{
	if (strlen(v) >= n) {
		cli_fail(CMD, "%s too long (max %zu characters)", opt, n - 1);
		return CLI_EUSAGE;
	}
	snprintf(dst, n, "%s", v);
	return 0;
}

static int parse_when(const char *s, int64_t *out)
{
	struct tm tm;
	char *end;
	long long v;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && *end == '\0') {
		tm.tm_hour = 23;
		tm.tm_min = 59;
		tm.tm_sec = 59;
		*out = (int64_t)timegm(&tm);
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s || v < 0 || strlen(s) > 12) {
		return -TL_EPARSE;
	}
	*out = v;
	return 0;
}

static int parse_auth_mode(const char *s, int *out)
{
	static const char *const names[] = {"none", "auth-string",
	                                    "null-string", "lsc", "mic"};

	for (int i = 0; i < 5; i++) {
		char digit[2] = {(char)('0' + i), 0};

		if (!strcmp(s, names[i]) || !strcmp(s, digit)) {
			*out = i;
			return 0;
		}
	}
	return -TL_EPARSE;
}

/* A certificate file, PEM or DER, as DER. */
static int read_cert(const char *path, uint8_t **der, int *len)
{
	BIO *b = BIO_new_file(path, "rb");
	X509 *x = NULL;

	*der = NULL;
	if (!b) {
		return -ENOENT;
	}
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!x) {
		(void)BIO_reset(b);
		x = d2i_X509_bio(b, NULL);
	}
	BIO_free(b);
	if (!x) {
		return -TL_EPARSE;
	}
	*len = i2d_X509(x, der);
	X509_free(x);
	return *len > 0 ? 0 : -TL_ECRYPTO;
}

/* ---- subcommands ---- */

/* Say which constraint failed: probe the store for the likely cause. */
static int fail_err(struct store *st, int err, const struct opts *o,
                    const char *mac)
{
	struct store_device d;
	struct store_profile p;

	switch (err) {
	case -TL_EEXIST:
		if (store_device_get(st, mac, &d) == 0) {
			return cli_fail(CMD, "device %s already exists", mac);
		}
		return cli_fail(CMD, "the name %s is taken by another device",
		                o->name ? o->name : "SEP<MAC>");
	case -TL_ENOTFOUND:
		if (o->profile &&
		    store_profile_get(st, o->profile, &p) == -TL_ENOTFOUND) {
			return cli_fail(CMD,
			                "no profile '%s' (trustline "
			                "profile list)",
			                o->profile);
		}
		return cli_fail(CMD, "no device %s", mac);
	case -TL_EPARSE:
		return cli_fail(CMD, "bad value (names, models and loads: "
		                     "letters, digits, '.', '-', '_')");
	default:
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
}

static int apply_fields(const struct opts *o, struct store_device *d)
{
	if ((o->model &&
	     copy_field("--model", o->model, d->model, sizeof(d->model))) ||
	    (o->name &&
	     copy_field("--name", o->name, d->name, sizeof(d->name))) ||
	    (o->load &&
	     copy_field("--load", o->load, d->load, sizeof(d->load))) ||
	    (o->description &&
	     copy_field("--description", o->description, d->description,
	                sizeof(d->description))) ||
	    (o->profile && copy_field("--profile", o->profile, d->profile,
	                              sizeof(d->profile)))) {
		return CLI_EUSAGE;
	}
	if (o->capf_op && store_capf_op_parse(o->capf_op, &d->capf_op)) {
		cli_fail(CMD,
		         "bad --capf-op '%s' (install, upgrade, delete, "
		         "fetch, none)",
		         o->capf_op);
		return CLI_EUSAGE;
	}
	if (o->capf_auth_mode &&
	    parse_auth_mode(o->capf_auth_mode, &d->capf_auth_mode)) {
		cli_fail(CMD,
		         "bad --capf-auth-mode '%s' (0-4 or none, "
		         "auth-string, null-string, lsc, mic)",
		         o->capf_auth_mode);
		return CLI_EUSAGE;
	}
	if (o->capf_complete_by &&
	    parse_when(o->capf_complete_by, &d->capf_deadline)) {
		cli_fail(CMD,
		         "bad --capf-complete-by '%s' (YYYY-MM-DD or Unix "
		         "seconds)",
		         o->capf_complete_by);
		return CLI_EUSAGE;
	}
	return 0;
}

static int do_add(struct store *st, const struct opts *o)
{
	struct store_device d = {0};
	char mac[13];
	char detail[256];
	int rc = get_mac(o, "add", mac);
	int err;

	if (rc) {
		return rc;
	}
	if (o->capf_auth_string || o->capf_auth_file || o->cert ||
	    o->clear_auth || o->clear_cert || o->file) {
		cli_fail(CMD, "add takes the device fields; set the CAPF auth "
		              "string and certificate with device set");
		return CLI_EUSAGE;
	}
	snprintf(d.mac, sizeof(d.mac), "%s", mac);
	rc = apply_fields(o, &d);
	if (rc) {
		return rc;
	}
	err = store_tx_begin(st);
	if (err) {
		return fail_err(st, err, o, mac);
	}
	err = store_device_add(st, &d);
	if (!err) {
		snprintf(detail, sizeof(detail), "%s profile=%s model=%s", mac,
		         *d.profile ? d.profile : "nonsecure", d.model);
		err = store_audit(st, cli_actor(), "device.add", detail);
	}
	if (err) {
		store_tx_rollback(st);
		return fail_err(st, err, o, mac);
	}
	err = store_tx_commit(st);
	if (err) {
		return fail_err(st, err, o, mac);
	}
	if (store_device_get(st, mac, &d)) {
		return cli_fail(CMD, "device %s vanished", mac);
	}
	if (o->json) {
		return cli_print_json(CMD, device_json(st, &d, false));
	}
	printf("device %s added: %s, profile %s\n", d.mac, d.name, d.profile);
	return CLI_OK;
}

static int do_set(struct store *st, const struct opts *o)
{
	struct store_device d;
	char mac[13];
	char secret[SECRET_MAX];
	char detail[384];
	uint8_t *der = NULL;
	int der_len = 0;
	const char *auth = NULL;
	int rc = get_mac(o, "set", mac);
	int err;

	if (rc) {
		return rc;
	}
	if ((o->capf_auth_string != NULL) + (o->capf_auth_file != NULL) +
	            o->clear_auth >
	    1) {
		cli_fail(CMD, "give one of --capf-auth-string, "
		              "--capf-auth-string-file, "
		              "--clear-capf-auth-string");
		return CLI_EUSAGE;
	}
	if (o->cert && o->clear_cert) {
		cli_fail(CMD, "give --cert or --clear-cert, not both");
		return CLI_EUSAGE;
	}
	err = store_device_get(st, mac, &d);
	if (err) {
		return fail_err(st, err, o, mac);
	}
	rc = apply_fields(o, &d);
	if (rc) {
		return rc;
	}
	if (o->capf_auth_file) {
		err = cli_read_secret(o->capf_auth_file, secret, sizeof(secret));
		if (err) {
			return cli_fail(CMD, "--capf-auth-string-file %s: %s",
			                o->capf_auth_file, tl_strerror(err));
		}
		auth = secret;
	} else if (o->capf_auth_string) {
		auth = o->capf_auth_string;
	}
	if (o->cert) {
		err = read_cert(o->cert, &der, &der_len);
		if (err) {
			rc = cli_fail(CMD,
			              "--cert %s: not a readable "
			              "certificate (PEM or DER)",
			              o->cert);
			goto out;
		}
	}
	/* one transaction: every change and its audit line, or nothing */
	err = store_tx_begin(st);
	if (!err) {
		err = store_device_update(st, &d);
	}
	if (!err && (auth || o->clear_auth)) {
		err = store_device_capf_auth_set(st, mac, auth);
	}
	if (!err && (der || o->clear_cert)) {
		err = store_device_cert_set(st, mac, der, (size_t)der_len);
	}
	if (!err) {
		snprintf(detail, sizeof(detail),
		         "%s profile=%s load=%s capf_op=%s "
		         "capf_auth_mode=%d%s%s",
		         mac, d.profile, d.load, store_capf_op_name(d.capf_op),
		         d.capf_auth_mode,
		         auth ? " auth_string=set"
		              : (o->clear_auth ? " auth_string=cleared" : ""),
		         der ? " cert=set"
		             : (o->clear_cert ? " cert=cleared" : ""));
		err = store_audit(st, cli_actor(), "device.set", detail);
	}
	if (err) {
		store_tx_rollback(st);
		if (err == -TL_EPARSE && der) {
			rc = cli_fail(CMD, "--cert %s: not a certificate",
			              o->cert);
		} else if (err == -TL_EPARSE && auth) {
			rc = cli_fail(CMD, "bad CAPF auth string (1-63 "
			                   "printable characters)");
		} else {
			rc = fail_err(st, err, o, mac);
		}
		goto out;
	}
	err = store_tx_commit(st);
	if (err) {
		rc = fail_err(st, err, o, mac);
		goto out;
	}
	if (store_device_get(st, mac, &d)) {
		rc = cli_fail(CMD, "device %s vanished", mac);
		goto out;
	}
	if (o->json) {
		rc = cli_print_json(CMD, device_json(st, &d, false));
	} else {
		printf("device %s updated\n", mac);
		rc = CLI_OK;
	}
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_free(der);
	return rc;
}

static int list_h(const struct store_device *d, void *arg)
{
	json_t *arr = arg;

	if (arr) {
		return json_array_append_new(arr, device_json(NULL, d, false))
		               ? -ENOMEM
		               : 0;
	}
	printf("%-12s %-15s %-8s %-16s %-4s %s\n", d->mac, d->name,
	       *d->model ? d->model : "-", d->profile,
	       *d->cert_md5 ? "yes" : "no", *d->load ? d->load : "-");
	return 0;
}

static int do_list(struct store *st, const struct opts *o)
{
	json_t *arr = o->json ? json_array() : NULL;
	int err;

	if (o->arg || o->mac) {
		json_decref(arr);
		cli_fail(CMD, "list takes no MAC");
		return CLI_EUSAGE;
	}
	if (o->json && !arr) {
		return cli_fail(CMD, "out of memory");
	}
	if (!o->json) {
		printf("%-12s %-15s %-8s %-16s %-4s %s\n", "MAC", "NAME",
		       "MODEL", "PROFILE", "CERT", "LOAD");
	}
	err = store_device_list(st, list_h, arr);
	if (err) {
		json_decref(arr);
		return cli_fail(CMD, "%s", tl_strerror(err));
	}
	return o->json ? cli_print_json(CMD, arr) : CLI_OK;
}

static int do_show(struct store *st, const struct opts *o)
{
	struct store_device d;
	char mac[13];
	int rc = get_mac(o, "show", mac);
	int err;

	if (rc) {
		return rc;
	}
	err = store_device_get(st, mac, &d);
	if (err) {
		return fail_err(st, err, o, mac);
	}
	if (o->json) {
		return cli_print_json(CMD, device_json(st, &d, true));
	}
	return show_text(st, &d);
}

static int do_del(struct store *st, const struct opts *o)
{
	char mac[13];
	int rc = get_mac(o, "del", mac);
	int err;

	if (rc) {
		return rc;
	}
	err = store_tx_begin(st);
	if (err) {
		return fail_err(st, err, o, mac);
	}
	err = store_device_del(st, mac);
	if (!err) {
		err = store_audit(st, cli_actor(), "device.del", mac);
	}
	if (err) {
		store_tx_rollback(st);
		return fail_err(st, err, o, mac);
	}
	err = store_tx_commit(st);
	if (err) {
		return fail_err(st, err, o, mac);
	}
	printf("device %s deleted (with its lines)\n", mac);
	return CLI_OK;
}

/* Write all of b to path atomically: a temporary file beside it, fsync,
 * rename. Never a half-written file. */
static int write_atomic(const char *path, const struct buf *b, mode_t mode)
{
	char tmp[SITE_PATH_MAX + 16];
	int fd;
	size_t off = 0;
	int err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		return -TL_ETOOBIG;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		return -errno;
	}
	while (!err && off < b->len) {
		ssize_t n = write(fd, b->p + off, b->len - off);

		if (n < 0 && errno != EINTR) {
			err = -errno;
		} else if (n > 0) {
			off += (size_t)n;
		}
	}
	if (!err && (fchmod(fd, mode) || fsync(fd))) {
		err = -errno;
	}
	if (close(fd) && !err) {
		err = -errno;
	}
	if (!err && rename(tmp, path)) {
		err = -errno;
	}
	if (err) {
		unlink(tmp);
	}
	return err;
}

/* The site's TFTP signer (pki/tftp.key, pki/tftp.crt). */
static int load_signer(const struct site *s, struct trust_sign *ts)
{
	char kp[SITE_PATH_MAX + 32], cp[SITE_PATH_MAX + 32];
	int err;

	memset(ts, 0, sizeof(*ts));
	if (site_path(s, "pki/tftp.key", kp, sizeof(kp)) ||
	    site_path(s, "pki/tftp.crt", cp, sizeof(cp))) {
		return -TL_ETOOBIG;
	}
	err = pki_key_load_file(&ts->key, kp, NULL);
	if (err) {
		cli_fail(CMD, "%s: %s", kp, tl_strerror(err));
		return err;
	}
	err = trust_cert_read(&ts->cert, cp);
	if (err) {
		cli_fail(CMD, "%s: %s", cp, tl_strerror(err));
		pki_key_free(ts->key);
		ts->key = NULL;
	}
	return err;
}

static int do_config(struct store *st, const struct site *s,
                     const struct opts *o)
{
	static const char *const names[CNF_FILE_MAX] = {"xml", "sgn", "enc"};
	struct cnf_files files;
	struct cnf_site cs = {
	        .host = s->host,
	        .sip_port = s->ports.sip,
	        .sip_tls_port = s->ports.sip_tls,
	        .capf_port = s->ports.capf,
	};
	struct trust_sign ts = {0};
	struct buf signed_bytes;
	const struct buf *b;
	uint8_t *der = NULL;
	size_t der_len = 0;
	char vm[64];
	char fname[64];
	int f = -1;
	char mac[13];
	int rc = get_mac(o, "config", mac);
	int err;

	if (rc) {
		return rc;
	}
	if (o->out && !o->sign) {
		cli_fail(CMD,
		         "--out goes with --sign (the XML goes to stdout)");
		return CLI_EUSAGE;
	}
	if (!store_setting_get(st, "voicemail", vm, sizeof(vm))) {
		cs.voicemail = vm;
	}
	buf_init(&signed_bytes, 0);
	/* passwords: none (no secret source here), by design */
	err = cnf_build(&files, st, &cs, mac, NULL, NULL);
	if (err) {
		return fail_err(st, err, o, mac);
	}
	for (int i = 0; i < CNF_FILE_MAX; i++) {
		if (o->file ? !strcmp(o->file, names[i])
		            : CNF_SERVES(files.serve, i)) {
			f = i;
			break;
		}
	}
	if (f < 0) {
		cli_fail(CMD, "bad --file '%s' (xml, sgn or enc)", o->file);
		rc = CLI_EUSAGE;
		goto out;
	}
	if (cnf_file_name((enum cnf_file)f, mac, fname, sizeof(fname))) {
		fname[0] = '\0';
	}
	if (!CNF_SERVES(files.serve, f)) {
		rc = cli_fail(CMD,
		              "%s is not served in this cluster mode for this "
		              "device",
		              fname);
		goto out;
	}
	b = &files.body[f];
	if (o->sign && f != CNF_FILE_XML) {
		if (load_signer(s, &ts)) {
			rc = CLI_EFAIL;
			goto out;
		}
		if (f == CNF_FILE_ENC &&
		    store_device_cert_get(st, mac, &der, &der_len)) {
			rc = cli_fail(CMD, "device %s has no certificate", mac);
			goto out;
		}
		err = cnf_sign_transform((enum cnf_file)f, mac, buf_slice(b),
		                         der, der_len, &signed_bytes, &ts);
		if (err) {
			rc = cli_fail(CMD, "signing %s: %s", fname,
			              tl_strerror(err));
			goto out;
		}
		b = &signed_bytes;
	}
	if (o->out) {
		err = write_atomic(o->out, b, f == CNF_FILE_ENC ? 0600 : 0644);
		if (err) {
			rc = cli_fail(CMD, "%s: %s", o->out, tl_strerror(err));
			goto out;
		}
		fprintf(stderr, "wrote %s (%s, %zu bytes)\n", o->out, fname,
		        b->len);
		rc = CLI_OK;
	} else {
		fwrite(b->p, 1, b->len, stdout);
		rc = fflush(stdout) ? CLI_EFAIL : CLI_OK;
	}
out:
	free(der);
	pki_key_free(ts.key);
	X509_free(ts.cert);
	buf_free(&signed_bytes);
	cnf_files_free(&files);
	return rc;
}

int cmd_device(int argc, char **argv)
{
	static const char *const subs[] = {"add", "list", "show",
	                                   "set", "del",  "config"};
	struct opts o;
	struct site s;
	struct store *st = NULL;
	const char *sub;
	bool known = false;
	int rc;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (argc < 2) {
		cli_fail(CMD, "missing subcommand (try --help)");
		return CLI_EUSAGE;
	}
	sub = argv[1];
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		known |= !strcmp(sub, subs[i]);
	}
	if (!known) {
		cli_fail(CMD, "unknown subcommand '%s' (try --help)", sub);
		return CLI_EUSAGE;
	}
	rc = parse_opts(argc - 1, argv + 1, &o);
	if (rc) {
		return rc;
	}
	cli_quiet();
	if (cli_open_store(CMD, o.site, &s, &st)) {
		return CLI_EFAIL;
	}
	if (!strcmp(sub, "add")) {
		rc = do_add(st, &o);
	} else if (!strcmp(sub, "list")) {
		rc = do_list(st, &o);
	} else if (!strcmp(sub, "show")) {
		rc = do_show(st, &o);
	} else if (!strcmp(sub, "set")) {
		rc = do_set(st, &o);
	} else if (!strcmp(sub, "del")) {
		rc = do_del(st, &o);
	} else {
		rc = do_config(st, &s, &o);
	}
	store_close(st);
	return rc;
}
