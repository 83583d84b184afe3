/* trustline capf set|status|enroll: pending CAPF operations of the
 * site's phones (seed 004), and our CAPF client (docs/capf.md). */
#include "cli/cli.h"
#include "cli/site.h"

#include "enroll/enroll.h"
#include "enroll/enroll_cli.h"
#include "net/net.h"
#include "pki/pki.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "capf"

const char cmd_capf_summary[] =
        "CAPF: set a phone's pending operation and auth mode, status, "
        "enroll (client)";

static const char usage[] =
        "usage: trustline capf set --device SEP<MAC>|MAC --op OP\n"
        "                          [--auth MODE] [--string S | --string-file "
        "F]\n"
        "                          [--by WHEN] [--site DIR] [--json]\n"
        "       trustline capf status [--device SEP<MAC>|MAC] [--site DIR] "
        "[--json]\n"
        "       trustline capf key [p256|p384|rsa2048|rsa3072|rsa4096] "
        "[--site DIR] [--json]\n"
        "       trustline capf enroll --server HOST:PORT --device SEP<MAC>\n"
        "                          --ca FILE --out DIR [--string S]\n"
        "                          [--cert FILE --key FILE] [--timeout MS] "
        "[--json]\n"
        "\n"
        "set: OP is install, upgrade, delete, fetch or none; MODE is string\n"
        "(a one-time auth string of 4 to 10 digits, given with --string or\n"
        "--string-file, stored hashed), null (no authentication), lsc (the\n"
        "phone's LSC, else its MIC) or mic (a MIC of the manufacturer CA).\n"
        "WHEN, the deadline, is YYYY-MM-DD (end of that day, UTC),\n"
        "YYYY-MM-DDTHH:MM:SSZ, +N followed by m, h or d (from now), Unix\n"
        "seconds, or 0 for none.\n"
        "status: every device with its CAPF settings (or one).\n"
        "key: show or set the key phones are asked to generate over CAPF\n"
        "(default p256; Cisco phones without EC need rsa2048); trustline\n"
        "serve reads it when it starts.\n"
        "enroll: run one CAPF session against a server as the phone would;\n"
        "the server certificate must chain to --ca. A new LSC is written to\n"
        "DIR/lsc.crt and its key to DIR/lsc.key (both 0600); a delete removes\n"
        "them. --cert/--key: the LSC or MIC to authenticate with (LSC and\n"
        "MIC modes, fetch). Exit 0 when the session ended normally, 1 when\n"
        "refused or failed.\n";

enum {
	O_DEVICE = 256,
	O_OP,
	O_AUTH,
	O_STRING,
	O_STRING_FILE,
	O_BY,
	O_SITE,
	O_JSON,
	O_SERVER,
	O_CA,
	O_OUT,
	O_CERT,
	O_KEY,
	O_TIMEOUT,
};

struct opts {
	const char *site, *device, *op, *auth, *string, *string_file, *by;
	const char *server, *ca, *out, *cert, *key, *timeout;
	bool json;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	        {"device", required_argument, NULL, O_DEVICE},
	        {"op", required_argument, NULL, O_OP},
	        {"auth", required_argument, NULL, O_AUTH},
	        {"string", required_argument, NULL, O_STRING},
	        {"string-file", required_argument, NULL, O_STRING_FILE},
	        {"by", required_argument, NULL, O_BY},
	        {"site", required_argument, NULL, O_SITE},
	        {"json", no_argument, NULL, O_JSON},
	        {"server", required_argument, NULL, O_SERVER},
	        {"ca", required_argument, NULL, O_CA},
	        {"out", required_argument, NULL, O_OUT},
	        {"cert", required_argument, NULL, O_CERT},
	        {"key", required_argument, NULL, O_KEY},
	        {"timeout", required_argument, NULL, O_TIMEOUT},
	        {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->site = cli_site_default();
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_DEVICE:
			o->device = optarg;
			break;
		case O_OP:
			o->op = optarg;
			break;
		case O_AUTH:
			o->auth = optarg;
			break;
		case O_STRING:
			o->string = optarg;
			break;
		case O_STRING_FILE:
			o->string_file = optarg;
			break;
		case O_BY:
			o->by = optarg;
			break;
		case O_SITE:
			o->site = optarg;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_SERVER:
			o->server = optarg;
			break;
		case O_CA:
			o->ca = optarg;
			break;
		case O_OUT:
			o->out = optarg;
			break;
		case O_CERT:
			o->cert = optarg;
			break;
		case O_KEY:
			o->key = optarg;
			break;
		case O_TIMEOUT:
			o->timeout = optarg;
			break;
		default:
			cli_fail(CMD,
			         "unknown or incomplete option '%s' (see "
			         "trustline capf --help)",
			         argv[optind - 1]);
			return CLI_EUSAGE;
		}
	}
	if (optind != argc) {
		cli_fail(CMD, "unexpected argument '%s'", argv[optind]);
		return CLI_EUSAGE;
	}
	return 0;
}

/* SEP<MAC> or a MAC -> 12 upper-case hex digits */
static int device_mac(const char *s, char mac[13])
{
	if (enroll_device_mac(s, mac) == 0) {
		return 0;
	}
	return store_mac_parse(s, mac);
}

static int parse_when(const char *s, int64_t *out)
{
	struct tm tm;
	char *end;
	long long v;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end && *end == '\0') {
		*out = (int64_t)timegm(&tm);
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && *end == '\0') {
		tm.tm_hour = 23;
		tm.tm_min = 59;
		tm.tm_sec = 59;
		*out = (int64_t)timegm(&tm);
		return 0;
	}
	bool rel = s[0] == '+';
	const char *num = rel ? s + 1 : s;
	errno = 0;
	v = strtoll(num, &end, 10);
	if (errno || end == num || v < 0 || strlen(num) > 12) {
		return -TL_EPARSE;
	}
	if (!rel) {
		if (*end != '\0') {
			return -TL_EPARSE;
		}
		*out = v;
		return 0;
	}
	long long unit = !strcmp(end, "m")   ? 60
	                 : !strcmp(end, "h") ? 3600
	                 : !strcmp(end, "d") ? 86400
	                                     : 0;
	if (unit == 0 || v > 100000) {
		return -TL_EPARSE;
	}
	*out = (int64_t)time(NULL) + v * unit;
	return 0;
}

static int parse_auth(const char *s, int *mode)
{
	static const char *const names[] = {"", "string", "null", "lsc", "mic"};

	for (int i = 1; i < 5; i++) {
		if (!strcmp(s, names[i])) {
			*mode = i;
			return 0;
		}
	}
	return -TL_EPARSE;
}

static const char *auth_name(int mode)
{
	static const char *const names[] = {"none", "string", "null", "lsc",
	                                    "mic"};
	return mode >= 0 && mode <= 4 ? names[mode] : "?";
}

/* CUCM's auth strings are 4 to 10 digits (phones take them from the
 * keypad). */
static bool string_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 4 || n > 10) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	return true;
}

static int read_string_file(const char *path, char *out, size_t outlen)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	int err = 0;

	if (!f) {
		return -errno;
	}
	if (!fgets(out, (int)outlen, f)) {
		err = -TL_EPARSE;
	}
	if (f != stdin) {
		fclose(f);
	}
	out[strcspn(out, "\r\n")] = '\0';
	return err;
}

static json_t *device_json(const struct store_device *d)
{
	bool expired = d->capf_op != STORE_CAPF_NONE && d->capf_deadline &&
	               (int64_t)time(NULL) > d->capf_deadline;

	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:b, s:s}", "device",
	                 d->name, "mac", d->mac, "auth",
	                 auth_name(d->capf_auth_mode), "op",
	                 store_capf_op_name(d->capf_op), "complete_by",
	                 (json_int_t)d->capf_deadline, "expired", expired,
	                 "auth_string_set", d->capf_has_auth_string,
	                 "cert_serial", d->cert_serial);
}

static void device_text(const struct store_device *d)
{
	char when[32] = "-";

	if (d->capf_deadline) {
		time_t t = (time_t)d->capf_deadline;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (d->capf_op != STORE_CAPF_NONE &&
		    (int64_t)time(NULL) > d->capf_deadline) {
			snprintf(when + strlen(when),
			         sizeof(when) - strlen(when), "!");
		}
	}
	printf("%-16s %-7s %-8s %-21s %s\n", d->name,
	       auth_name(d->capf_auth_mode), store_capf_op_name(d->capf_op),
	       when, d->cert_serial[0] ? d->cert_serial : "-");
}

static int open_store(const struct opts *o, struct store **st)
{
	struct site site;
	int err = site_load(&site, o->site);

	if (err) {
		return cli_fail(CMD, "no site in %s: %s", o->site,
		                tl_strerror(err));
	}
	err = store_open(st, site.db);
	if (err) {
		return cli_fail(CMD, "cannot open %s: %s", site.db,
		                tl_strerror(err));
	}
	return 0;
}

static int cmd_set(const struct opts *o)
{
	struct store *st = NULL;
	struct store_device d;
	enum store_capf_op op;
	char mac[13], str[64] = "", detail[200];
	int mode = -1, rc = CLI_EFAIL, err;
	int64_t by = -1;

	if (!o->device || !o->op) {
		cli_fail(CMD, "set needs --device and --op");
		return CLI_EUSAGE;
	}
	if (device_mac(o->device, mac) != 0) {
		cli_fail(CMD, "bad --device '%s' (SEP<MAC> or a MAC)",
		         o->device);
		return CLI_EUSAGE;
	}
	if (store_capf_op_parse(o->op, &op) != 0) {
		cli_fail(CMD,
		         "bad --op '%s' (install, upgrade, delete, fetch "
		         "or none)",
		         o->op);
		return CLI_EUSAGE;
	}
	if (o->auth && parse_auth(o->auth, &mode) != 0) {
		cli_fail(CMD, "bad --auth '%s' (string, null, lsc or mic)",
		         o->auth);
		return CLI_EUSAGE;
	}
	if (o->by && parse_when(o->by, &by) != 0) {
		cli_fail(CMD,
		         "bad --by '%s' (YYYY-MM-DD, "
		         "YYYY-MM-DDTHH:MM:SSZ, +Nm/h/d, Unix seconds)",
		         o->by);
		return CLI_EUSAGE;
	}
	if (o->string && o->string_file) {
		cli_fail(CMD, "--string and --string-file exclude each other");
		return CLI_EUSAGE;
	}
	if (o->string) {
		snprintf(str, sizeof(str), "%s", o->string);
	} else if (o->string_file &&
	           read_string_file(o->string_file, str, sizeof(str)) != 0) {
		cli_fail(CMD, "cannot read the auth string from %s",
		         o->string_file);
		return CLI_EFAIL;
	}
	if (str[0] && !string_ok(str)) {
		OPENSSL_cleanse(str, sizeof(str));
		cli_fail(CMD, "the auth string must be 4 to 10 digits");
		return CLI_EUSAGE;
	}
	if (str[0] && mode != -1 && mode != 1) {
		OPENSSL_cleanse(str, sizeof(str));
		cli_fail(CMD, "an auth string goes with --auth string");
		return CLI_EUSAGE;
	}
	if (open_store(o, &st) != 0) {
		OPENSSL_cleanse(str, sizeof(str));
		return CLI_EFAIL;
	}
	err = store_device_get(st, mac, &d);
	if (err) {
		cli_fail(CMD, "no device %s: %s", o->device, tl_strerror(err));
		goto out;
	}
	if (mode == -1) {
		mode = d.capf_auth_mode ? d.capf_auth_mode : 2;
	}
	if (mode == 1 && !str[0] && !d.capf_has_auth_string &&
	    op != STORE_CAPF_NONE) {
		cli_fail(CMD, "auth string mode needs --string or "
		              "--string-file");
		rc = CLI_EUSAGE;
		goto out;
	}
	d.capf_auth_mode = mode;
	d.capf_op = op;
	if (by >= 0) {
		d.capf_deadline = by;
	} else if (op == STORE_CAPF_NONE) {
		d.capf_deadline = 0;
	}
	err = store_tx_begin(st);
	if (!err) {
		err = store_device_update(st, &d);
	}
	if (!err && str[0]) {
		err = store_device_capf_auth_set(st, mac, str);
	}
	if (!err) {
		snprintf(detail, sizeof(detail), "%s op %s auth %s by %lld%s",
		         d.name, store_capf_op_name(op), auth_name(mode),
		         (long long)d.capf_deadline,
		         str[0] ? " (auth string set)" : "");
		err = store_audit(st, "cli", "capf.set", detail);
	}
	if (err) {
		store_tx_rollback(st);
		cli_fail(CMD, "cannot update %s: %s", d.name, tl_strerror(err));
		goto out;
	}
	err = store_tx_commit(st);
	if (err) {
		cli_fail(CMD, "cannot update %s: %s", d.name, tl_strerror(err));
		goto out;
	}
	if (store_device_get(st, mac, &d) == 0) {
		if (o->json) {
			json_t *j = device_json(&d);
			json_dumpf(j, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(j);
		} else {
			device_text(&d);
		}
	}
	rc = CLI_OK;
out:
	OPENSSL_cleanse(str, sizeof(str));
	store_close(st);
	return rc;
}

struct list_ctx {
	json_t *arr;
};

static int list_h(const struct store_device *d, void *arg)
{
	struct list_ctx *l = arg;

	if (l->arr) {
		return json_array_append_new(l->arr, device_json(d)) ? -ENOMEM
		                                                     : 0;
	}
	device_text(d);
	return 0;
}

static int cmd_status(const struct opts *o)
{
	struct store *st = NULL;
	struct store_device d;
	struct list_ctx l = {0};
	char mac[13];
	int rc = CLI_EFAIL, err;

	if (o->device && device_mac(o->device, mac) != 0) {
		cli_fail(CMD, "bad --device '%s' (SEP<MAC> or a MAC)",
		         o->device);
		return CLI_EUSAGE;
	}
	if (open_store(o, &st) != 0) {
		return CLI_EFAIL;
	}
	if (o->device) {
		err = store_device_get(st, mac, &d);
		if (err) {
			cli_fail(CMD, "no device %s: %s", o->device,
			         tl_strerror(err));
			goto out;
		}
		if (o->json) {
			json_t *j = device_json(&d);
			json_dumpf(j, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(j);
		} else {
			device_text(&d);
		}
		rc = CLI_OK;
		goto out;
	}
	if (o->json) {
		l.arr = json_array();
		if (!l.arr) {
			goto out;
		}
	} else {
		printf("%-16s %-7s %-8s %-21s %s\n", "DEVICE", "AUTH", "OP",
		       "COMPLETE-BY", "CERT-SERIAL");
	}
	err = store_device_list(st, list_h, &l);
	if (err) {
		cli_fail(CMD, "cannot list devices: %s", tl_strerror(err));
		goto out;
	}
	if (l.arr) {
		json_dumpf(l.arr, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	rc = CLI_OK;
out:
	json_decref(l.arr);
	store_close(st);
	return rc;
}

static int cmd_key(const struct opts *o, int argc, char **argv)
{
	struct store *st = NULL;
	enum pki_alg alg;
	char cur[32] = "p256", detail[64];
	int rc = CLI_EFAIL, err;

	/* the positional ALG, if any, after "key" and before the options */
	const char *want = argc > 2 && argv[2][0] != '-' ? argv[2] : NULL;
	if (want && pki_alg_parse(want, &alg) != 0) {
		cli_fail(CMD,
		         "bad key '%s' (p256, p384, rsa2048, rsa3072, "
		         "rsa4096)",
		         want);
		return CLI_EUSAGE;
	}
	if (open_store(o, &st) != 0) {
		return CLI_EFAIL;
	}
	if (want) {
		snprintf(detail, sizeof(detail), "key %s", pki_alg_name(alg));
		err = store_setting_set(st, "capf.key_alg", pki_alg_name(alg));
		if (!err) {
			err = store_audit(st, "cli", "capf.key", detail);
		}
		if (err) {
			cli_fail(CMD, "cannot set the key: %s",
			         tl_strerror(err));
			goto out;
		}
	}
	err = store_setting_get(st, "capf.key_alg", cur, sizeof(cur));
	if (err && err != -TL_ENOTFOUND) {
		cli_fail(CMD, "cannot read the key: %s", tl_strerror(err));
		goto out;
	}
	if (o->json) {
		json_t *j = json_pack("{s:s}", "key_alg", cur);
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else {
		printf("%s\n", cur);
	}
	rc = CLI_OK;
out:
	store_close(st);
	return rc;
}

static int read_pem(const char *path, X509 **x, EVP_PKEY **k)
{
	FILE *f = fopen(path, "r");

	if (!f) {
		return -errno;
	}
	if (x) {
		*x = PEM_read_X509(f, NULL, NULL, NULL);
	} else {
		*k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	}
	fclose(f);
	return (x ? *x != NULL : *k != NULL) ? 0 : -TL_EPARSE;
}

static int cmd_enroll(const struct opts *o)
{
	struct capf_cli_conf c = {0};
	struct capf_cli_result r = {0};
	struct net_addr a;
	char host[NET_ADDR_STRLEN], lsc[4096], key[4096];
	X509 *cert = NULL;
	EVP_PKEY *ck = NULL;
	int rc = CLI_EFAIL, err;

	if (!o->server || !o->device || !o->ca || !o->out) {
		cli_fail(CMD,
		         "enroll needs --server, --device, --ca and --out");
		return CLI_EUSAGE;
	}
	if (net_addr_parse(&a, o->server, 3804) != 0 ||
	    net_addr_fmt_host(&a, host, sizeof(host)) != 0) {
		cli_fail(CMD, "bad --server '%s' (HOST:PORT, numeric)",
		         o->server);
		return CLI_EUSAGE;
	}
	if (!!o->cert != !!o->key) {
		cli_fail(CMD, "--cert and --key go together");
		return CLI_EUSAGE;
	}
	if (o->timeout) {
		char *end;
		unsigned long v = strtoul(o->timeout, &end, 10);
		if (*end || v == 0 || v > 600000) {
			cli_fail(CMD, "bad --timeout '%s' (milliseconds)",
			         o->timeout);
			return CLI_EUSAGE;
		}
		c.timeout_ms = (unsigned)v;
	}
	if (o->cert && (read_pem(o->cert, &cert, NULL) != 0 ||
	                read_pem(o->key, NULL, &ck) != 0)) {
		cli_fail(CMD, "cannot read --cert %s / --key %s", o->cert,
		         o->key);
		goto out;
	}
	snprintf(lsc, sizeof(lsc), "%s/lsc.crt", o->out);
	snprintf(key, sizeof(key), "%s/lsc.key", o->out);
	c.host = host;
	c.port = net_addr_port(&a);
	c.ca_file = o->ca;
	c.device = o->device;
	c.auth_string = o->string;
	c.cert = cert;
	c.cert_key = ck;
	c.cert_out = lsc;
	c.key_out = key;
	err = capf_cli_run(&c, &r);
	static const char *const done[] = {"none", "installed", "fetched",
	                                   "deleted"};
	if (o->json) {
		json_t *j = json_pack(
		        "{s:s, s:s, s:i, s:s}", "device", o->device, "result",
		        err ? "failed" : done[r.done], "reason", (int)r.reason,
		        "error", err ? tl_strerror(err) : "");
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	}
	if (err) {
		cli_fail(CMD, "%s: %s (reason %u)", o->device, tl_strerror(err),
		         r.reason);
		goto out;
	}
	if (!o->json) {
		printf("%s: %s (reason %u)%s%s\n", o->device, done[r.done],
		       r.reason,
		       r.done == CAPF_CLI_INSTALLED ? ", LSC in " : "",
		       r.done == CAPF_CLI_INSTALLED ? lsc : "");
	}
	rc = CLI_OK;
out:
	capf_cli_result_clear(&r);
	X509_free(cert);
	EVP_PKEY_free(ck);
	return rc;
}

int cmd_capf(int argc, char **argv)
{
	struct opts o;
	int rc;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EUSAGE : CLI_OK;
	}
	if (!strcmp(argv[1], "key")) {
		/* an optional positional ALG before the options */
		int skip = argc > 2 && argv[2][0] != '-' ? 1 : 0;
		char *sub[64];
		int n = 0;
		sub[n++] = argv[1];
		for (int i = 2 + skip; i < argc && n < 63; i++) {
			sub[n++] = argv[i];
		}
		sub[n] = NULL;
		rc = parse_opts(n, sub, &o);
		return rc ? rc : cmd_key(&o, argc, argv);
	}
	rc = parse_opts(argc - 1, argv + 1, &o);
	if (rc) {
		return rc;
	}
	if (!strcmp(argv[1], "set")) {
		return cmd_set(&o);
	}
	if (!strcmp(argv[1], "status")) {
		return cmd_status(&o);
	}
	if (!strcmp(argv[1], "enroll")) {
		return cmd_enroll(&o);
	}
	cli_fail(CMD, "unknown subcommand '%s' (set, status, key, enroll)",
	         argv[1]);
	return CLI_EUSAGE;
}
