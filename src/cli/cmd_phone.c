/* trustline phone: the phone agent (src/phone, docs/phone.md), one phone
 * or a fleet in one process, and `phone ctl` to drive one through its
 * control socket. */
#include "cli/cli.h"

#include "base/buf.h"
#include "base/log.h"
#include "phone/phone.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char cmd_phone_summary[] =
        "phone agent: boot (CTL, signed config, CAPF), register, calls; ctl";

static const char usage[] =
        "usage: trustline phone --mac MAC --tftp HOST:PORT --state DIR "
        "[options]\n"
        "       trustline phone ctl SOCKET COMMAND [ARGS...]\n"
        "\n"
        "Boots like a secure Cisco phone: fetches and verifies the CTL (first\n"
        "use, then only updates signed by a listed SAST), its signed config\n"
        "(decrypting an encrypted one with its certificate key), its firmware\n"
        "image, runs the pending CAPF operation, then registers every line\n"
        "(UDP/TCP, or TLS with the server checked against the CTL's CCM role)\n"
        "and serves its control socket until SIGINT/SIGTERM.\n"
        "\n"
        "  --mac MAC             the phone's MAC (12 hex digits)\n"
        "  --tftp HOST:PORT      the TFTP server (DHCP option 150)\n"
        "  --state DIR           its flash: CTL, config, image, LSC (0700)\n"
        "  --mic CERT --mic-key KEY   manufacturer certificate and key (PEM)\n"
        "  --auth-string S       CAPF auth string (capfAuthMode 1)\n"
        "  --password [DN=]PW    line password when the config has none\n"
        "                        (nonsecure phones); repeatable\n"
        "  --password-from-dn P  (load tests) a line without one gets P+DN\n"
        "  --ctl-socket PATH     control socket (default DIR/ctl.sock)\n"
        "  --bind IP             local address for SIP and RTP (127.0.0.1)\n"
        "  --tone HZ             send a tone in calls (default silence)\n"
        "  --play WAV            send a WAV file (8 kHz mono), looped\n"
        "  --record WAV          write received audio of the call to WAV\n"
        "  --detect HZ           report a received tone of HZ (default 1000)\n"
        "  --auto-answer         answer incoming calls at once\n"
        "  --pcma                offer G.711 A-law first (default µ-law)\n"
        "  --gcm                 offer AEAD_AES_128_GCM first\n"
        "  --expires S           registration expiry asked (default 3600)\n"
        "  --boot-only           boot, print the status, exit (0: booted)\n"
        "  --json                print the final/boot status as JSON\n"
        "  --fleet N             run N phones, MACs MAC, MAC+1, ... (state in\n"
        "                        DIR/SEP<MAC>/), boot them with --workers\n"
        "                        threads (default 8), report the time until\n"
        "                        all are registered\n"
        "  --exit-registered     (fleet) exit once all are registered\n"
        "  --sync                (fleet) fsync every state file, as a single\n"
        "                        phone does (default off in a fleet)\n"
        "  --timeout S           (fleet) give up after S seconds (default "
        "120)\n"
        "  -q, --quiet           log failures only\n"
        "\n"
        "ctl commands: status [json] | dial NUMBER | answer | hangup | hold |\n"
        "  resume | transfer NUMBER | dtmf DIGITS | (fleet) phone N|MAC CMD,\n"
        "  fleet. Exit 0 when the phone answers ok.\n";

static volatile sig_atomic_t stop_sig;

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	struct event_base *base = arg;

	(void)fd;
	(void)what;
	stop_sig = 1;
	event_base_loopbreak(base);
}

static int cmd_ctl(int argc, char **argv)
{
	struct buf line, reply;
	bool ok = false;
	int err;

	if (argc < 4) {
		fprintf(stderr, "trustline phone: ctl needs SOCKET COMMAND\n");
		return CLI_EUSAGE;
	}
	buf_init(&line, 1024);
	buf_init(&reply, 1u << 20);
	for (int i = 3; i < argc; i++) {
		buf_printf(&line, "%s%s", i > 3 ? " " : "", argv[i]);
	}
	buf_put_u8(&line, 0);
	err = buf_err(&line);
	if (err) {
		buf_free(&line);
		buf_free(&reply);
		fprintf(stderr, "trustline phone: command too long\n");
		return CLI_EUSAGE;
	}
	err = phone_ctl_call(argv[2], (const char *)line.p, 15000, &reply, &ok);
	buf_free(&line);
	if (err) {
		buf_free(&reply);
		return cli_fail("phone", "ctl %s: %s", argv[2],
		                tl_strerror(err));
	}
	/* "ok" / "error ..." then the body. */
	const char *s = (const char *)reply.p;
	size_t n = reply.len;
	const char *nl = memchr(s, '\n', n);
	if (ok) {
		if (nl && (size_t)(nl + 1 - s) < n) {
			fwrite(nl + 1, 1, n - (size_t)(nl + 1 - s), stdout);
		}
	} else {
		fprintf(stderr, "trustline phone: %.*s\n",
		        (int)(nl ? (size_t)(nl - s) : n), s);
	}
	buf_free(&reply);
	return ok ? CLI_OK : CLI_EFAIL;
}

struct fleet {
	struct phone **ph;
	size_t n;
	size_t next; /* boot queue */
	size_t refused;
	unsigned char *booted; /* 1: boot returned (set by the workers) */
	size_t next_reg;       /* registration queue (event loop only) */
	bool stop;
	pthread_mutex_t mu;
	struct timespec t0;
	bool done;
	bool exit_registered;
	struct event_base *base;
	struct event *tick;
	double deadline_s;
};

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void *boot_worker(void *arg)
{
	struct fleet *f = arg;

	for (;;) {
		size_t i;
		pthread_mutex_lock(&f->mu);
		i = f->stop ? f->n : f->next++;
		pthread_mutex_unlock(&f->mu);
		if (i >= f->n) {
			break;
		}
		int err = phone_boot(f->ph[i]);
		pthread_mutex_lock(&f->mu);
		f->refused += err != 0;
		f->booted[i] = 1;
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

static void fleet_counts(const struct fleet *f, size_t *reg, size_t *failed)
{
	*reg = *failed = 0;
	for (size_t i = 0; i < f->n; i++) {
		enum phone_state s = phone_state(f->ph[i]);
		*reg += s == PHONE_REGISTERED;
		*failed += s == PHONE_REFUSED || s == PHONE_UNREGISTERED;
	}
}

/* CPU seconds of the process so far, user and system, every thread. */
static double cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0) {
		return 0;
	}
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void fleet_tick(evutil_socket_t fd, short what, void *arg)
{
	struct fleet *f = arg;
	size_t reg, failed;
	double t = since(&f->t0);

	(void)fd;
	(void)what;
	/* Register the phones booted so far, a batch per tick, so that the
	 * REGISTERs of a storm are paced instead of sent all at once. */
	pthread_mutex_lock(&f->mu);
	for (unsigned k = 0;
	     k < 100 && f->next_reg < f->n && f->booted[f->next_reg];
	     k++, f->next_reg++) {
		struct phone *p = f->ph[f->next_reg];
		pthread_mutex_unlock(&f->mu);
		if (phone_state(p) != PHONE_REFUSED && phone_register(p) != 0) {
			log_warn("phone", "%s: SIP not started", phone_mac(p));
		}
		pthread_mutex_lock(&f->mu);
		if (f->next_reg + 1 == f->n) {
			printf("fleet: %zu booted in %.3f s, %zu refused\n",
			       f->n - f->refused, since(&f->t0), f->refused);
			fflush(stdout);
		}
	}
	bool all_started = f->next_reg >= f->n;
	pthread_mutex_unlock(&f->mu);
	/* Counting walks every phone: not while some have yet to start
	 * registering (none of them is registered then), except for the
	 * deadline's report. */
	if (f->done || (!all_started && t <= f->deadline_s)) {
		return;
	}
	fleet_counts(f, &reg, &failed);
	if (!f->done && reg == f->n) {
		f->done = true;
		printf("fleet: %zu/%zu registered in %.3f s (%.1f phones/s), "
		       "CPU %.2f s\n",
		       reg, f->n, t, t > 0 ? (double)reg / t : 0.0, cpu_s());
		fflush(stdout);
		if (f->exit_registered) {
			event_base_loopbreak(f->base);
		}
	} else if (!f->done && t > f->deadline_s) {
		f->done = true;
		printf("fleet: timeout after %.1f s: %zu/%zu registered, %zu "
		       "failed\n",
		       t, reg, f->n, failed);
		fflush(stdout);
		if (f->exit_registered) {
			event_base_loopbreak(f->base);
		}
	}
}

struct ctl_ctx {
	struct phone **ph;
	size_t n;
	struct fleet *f;
};

static void ctl_handler(const char *line, struct buf *reply, void *arg)
{
	struct ctl_ctx *c = arg;

	if (c->n == 1 && strncmp(line, "phone ", 6) != 0 &&
	    strcmp(line, "fleet") != 0) {
		phone_command(c->ph[0], line, reply);
		return;
	}
	if (strcmp(line, "fleet") == 0) {
		size_t reg = 0, failed = 0;
		for (size_t i = 0; i < c->n; i++) {
			enum phone_state s = phone_state(c->ph[i]);
			reg += s == PHONE_REGISTERED;
			failed += s == PHONE_REFUSED || s == PHONE_UNREGISTERED;
		}
		buf_printf(reply, "ok\nphones %zu registered %zu failed %zu",
		           c->n, reg, failed);
		return;
	}
	/* "phone N|MAC COMMAND..." */
	char sel[32];
	int off = 0;
	if (sscanf(line, "phone %31s %n", sel, &off) < 1 || off == 0) {
		buf_put_str(reply, "error usage: phone N|MAC COMMAND");
		return;
	}
	for (size_t i = 0; i < c->n; i++) {
		char idx[24];
		snprintf(idx, sizeof(idx), "%zu", i);
		if (strcmp(sel, idx) == 0 ||
		    strcasecmp(sel, phone_mac(c->ph[i])) == 0) {
			phone_command(c->ph[i], line + off, reply);
			return;
		}
	}
	buf_put_str(reply, "error no such phone");
}

static int mac_add(const char *mac, size_t k, char out[13])
{
	unsigned long long v = 0;
	size_t n = 0;

	for (const char *c = mac; *c; c++) {
		if (*c == ':' || *c == '-') {
			continue;
		}
		int d = (*c >= '0' && *c <= '9')   ? *c - '0'
		        : (*c >= 'a' && *c <= 'f') ? *c - 'a' + 10
		        : (*c >= 'A' && *c <= 'F') ? *c - 'A' + 10
		                                   : -1;
		if (d < 0 || ++n > 12) {
			return -TL_EPARSE;
		}
		v = v * 16 + (unsigned)d;
	}
	if (n != 12 || v + k > 0xffffffffffffULL) {
		return -TL_EPARSE;
	}
	snprintf(out, 13, "%012llX", v + k);
	return 0;
}

int cmd_phone(int argc, char **argv)
{
	enum {
		O_MAC = 256,
		O_TFTP,
		O_STATE,
		O_MIC,
		O_MIC_KEY,
		O_AUTH,
		O_PW,
		O_SOCK,
		O_BIND,
		O_TONE,
		O_PLAY,
		O_REC,
		O_DETECT,
		O_AA,
		O_PCMA,
		O_GCM,
		O_EXP,
		O_BOOT_ONLY,
		O_JSON,
		O_FLEET,
		O_EXIT_REG,
		O_TIMEOUT,
		O_WORKERS,
		O_PW_DN,
		O_SYNC,
	};
	static const struct option opts[] = {
	        {"mac", required_argument, NULL, O_MAC},
	        {"tftp", required_argument, NULL, O_TFTP},
	        {"state", required_argument, NULL, O_STATE},
	        {"mic", required_argument, NULL, O_MIC},
	        {"mic-key", required_argument, NULL, O_MIC_KEY},
	        {"auth-string", required_argument, NULL, O_AUTH},
	        {"password", required_argument, NULL, O_PW},
	        {"ctl-socket", required_argument, NULL, O_SOCK},
	        {"bind", required_argument, NULL, O_BIND},
	        {"tone", required_argument, NULL, O_TONE},
	        {"play", required_argument, NULL, O_PLAY},
	        {"record", required_argument, NULL, O_REC},
	        {"detect", required_argument, NULL, O_DETECT},
	        {"auto-answer", no_argument, NULL, O_AA},
	        {"pcma", no_argument, NULL, O_PCMA},
	        {"gcm", no_argument, NULL, O_GCM},
	        {"expires", required_argument, NULL, O_EXP},
	        {"boot-only", no_argument, NULL, O_BOOT_ONLY},
	        {"json", no_argument, NULL, O_JSON},
	        {"fleet", required_argument, NULL, O_FLEET},
	        {"exit-registered", no_argument, NULL, O_EXIT_REG},
	        {"timeout", required_argument, NULL, O_TIMEOUT},
	        {"workers", required_argument, NULL, O_WORKERS},
	        {"password-from-dn", required_argument, NULL, O_PW_DN},
	        {"sync", no_argument, NULL, O_SYNC},
	        {"quiet", no_argument, NULL, 'q'},
	        {NULL, 0, NULL, 0},
	};
	struct phone_conf pc = {0};
	const char *pws[16];
	const char *tftp = NULL, *sock = NULL;
	bool boot_only = false, json = false, exit_reg = false;
	bool sync_state = false;
	unsigned long fleet = 1, timeout_s = 120, workers = 8;
	char sockbuf[1100];
	char *end;
	int c, rc = CLI_EFAIL;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (argc >= 2 && strcmp(argv[1], "ctl") == 0) {
		return cmd_ctl(argc, argv);
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		switch (c) {
		case O_MAC:
			pc.mac = optarg;
			break;
		case O_TFTP:
			tftp = optarg;
			break;
		case O_STATE:
			pc.state_dir = optarg;
			break;
		case O_MIC:
			pc.mic_cert = optarg;
			break;
		case O_MIC_KEY:
			pc.mic_key = optarg;
			break;
		case O_AUTH:
			pc.auth_string = optarg;
			break;
		case O_PW:
			if (pc.n_passwords >= 16) {
				fprintf(stderr, "trustline phone: at most 16 "
				                "--password\n");
				return CLI_EUSAGE;
			}
			pws[pc.n_passwords++] = optarg;
			break;
		case O_SOCK:
			sock = optarg;
			break;
		case O_PW_DN:
			pc.password_prefix = optarg;
			break;
		case O_SYNC:
			sync_state = true;
			break;
		case O_BIND:
			pc.bind_host = optarg;
			break;
		case O_TONE:
		case O_DETECT:
		case O_EXP:
		case O_FLEET:
		case O_TIMEOUT:
		case O_WORKERS: {
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || v == 0 ||
			    v > (c == O_FLEET     ? 100000UL
			         : c == O_WORKERS ? 64UL
			                          : 86400UL) ||
			    ((c == O_TONE || c == O_DETECT) && v > 3999)) {
				fprintf(stderr,
				        "trustline phone: bad number '%s'\n",
				        optarg);
				return CLI_EUSAGE;
			}
			if (c == O_TONE) {
				pc.tone_hz = (unsigned)v;
			} else if (c == O_DETECT) {
				pc.detect_hz = (unsigned)v;
			} else if (c == O_EXP) {
				pc.register_expires = (unsigned)v;
			} else if (c == O_FLEET) {
				fleet = v;
			} else if (c == O_TIMEOUT) {
				timeout_s = v;
			} else {
				workers = v;
			}
			break;
		}
		case O_PLAY:
			pc.play_wav = optarg;
			break;
		case O_REC:
			pc.rec_wav = optarg;
			break;
		case O_AA:
			pc.auto_answer = true;
			break;
		case O_PCMA:
			pc.prefer_pcma = true;
			break;
		case O_GCM:
			pc.prefer_gcm = true;
			break;
		case O_BOOT_ONLY:
			boot_only = true;
			break;
		case O_JSON:
			json = true;
			break;
		case O_EXIT_REG:
			exit_reg = true;
			break;
		case 'q':
			pc.quiet = true;
			break;
		default:
			fprintf(stderr, "trustline phone: bad option (see "
			                "--help)\n");
			return CLI_EUSAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "trustline phone: unexpected argument '%s'\n",
		        argv[optind]);
		return CLI_EUSAGE;
	}
	if (!pc.mac || !tftp || !pc.state_dir) {
		fprintf(stderr, "trustline phone: --mac, --tftp and --state "
		                "are required\n");
		return CLI_EUSAGE;
	}
	if ((pc.mic_cert == NULL) != (pc.mic_key == NULL)) {
		fprintf(stderr, "trustline phone: --mic and --mic-key go "
		                "together\n");
		return CLI_EUSAGE;
	}
	if (net_addr_parse(&pc.tftp, tftp, 69) != 0) {
		fprintf(stderr,
		        "trustline phone: bad --tftp '%s' (numeric "
		        "HOST:PORT)\n",
		        tftp);
		return CLI_EUSAGE;
	}
	char mac0[13];
	if (mac_add(pc.mac, fleet - 1, mac0) != 0) {
		fprintf(stderr, "trustline phone: bad --mac '%s'\n", pc.mac);
		return CLI_EUSAGE;
	}
	pc.passwords = pws;
	/* one phone: its flash writes are durable; a fleet: see --sync */
	pc.no_sync = fleet > 1 && !sync_state;
	if (pc.quiet || fleet > 1) {
		log_set_level(LOG_WARN);
		pc.quiet = true;
	}
	if (mkdir(pc.state_dir, 0700) != 0 && errno != EEXIST) {
		return cli_fail("phone", "state %s: %s", pc.state_dir,
		                strerror(errno));
	}
	if (!sock) {
		snprintf(sockbuf, sizeof(sockbuf), "%s/ctl.sock", pc.state_dir);
		sock = sockbuf;
	}
	if (fleet > 1) {
		/* one socket or two per phone */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}

	struct event_base *base = event_base_new();
	struct phone **ph = calloc(fleet, sizeof(*ph));
	struct phone_ctl *ctl = NULL;
	struct event *sigi = NULL, *sigt = NULL;
	struct fleet f = {0};
	struct ctl_ctx cc = {0};
	struct buf out;
	char **dirs = calloc(fleet, sizeof(*dirs));
	pthread_t th[64];
	size_t nw = 0;
	int err = 0;

	buf_init(&out, 0);
	if (!base || !ph || !dirs) {
		cli_fail("phone", "out of memory");
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < fleet; i++) {
		struct phone_conf k = pc;
		char mac[13];
		if (mac_add(pc.mac, i, mac) != 0) {
			goto out;
		}
		k.mac = mac;
		if (fleet > 1) {
			size_t l = strlen(pc.state_dir) + 20;
			dirs[i] = malloc(l);
			if (!dirs[i]) {
				cli_fail("phone", "out of memory");
				goto out;
			}
			snprintf(dirs[i], l, "%s/SEP%s", pc.state_dir, mac);
			k.state_dir = dirs[i];
		}
		err = phone_new(&ph[i], base, &k);
		if (err) {
			cli_fail("phone", "%s: %s", mac, tl_strerror(err));
			goto out;
		}
	}
	cc.ph = ph;
	cc.n = fleet;
	cc.f = &f;
	f.ph = ph;
	f.n = fleet;
	f.base = base;
	f.exit_registered = exit_reg;
	f.deadline_s = (double)timeout_s;
	pthread_mutex_init(&f.mu, NULL);
	clock_gettime(CLOCK_MONOTONIC, &f.t0);

	if (fleet == 1) {
		err = phone_boot(ph[0]);
		if (err || boot_only) {
			if (phone_status(ph[0], &out, json) == 0 &&
			    buf_err(&out) == 0) {
				fwrite(out.p, 1, out.len, stdout);
				if (json) {
					fputc('\n', stdout);
				}
			}
			if (err) {
				cli_fail("phone", "%s: boot refused", pc.mac);
			}
			rc = err ? CLI_EFAIL : CLI_OK;
			goto out;
		}
	} else {
		f.booted = calloc(fleet, 1);
		if (!f.booted) {
			cli_fail("phone", "out of memory");
			goto out;
		}
		nw = workers < fleet ? workers : fleet;
		for (size_t w = 0; w < nw; w++) {
			if (pthread_create(&th[w], NULL, boot_worker, &f) !=
			    0) {
				nw = w;
				break;
			}
		}
		if (nw == 0) {
			cli_fail("phone", "cannot start boot threads");
			goto out;
		}
	}
	if (fleet == 1 && phone_register(ph[0]) != 0) {
		cli_fail("phone", "cannot start SIP");
	}
	err = phone_ctl_new(&ctl, base, sock, ctl_handler, &cc);
	if (err) {
		cli_fail("phone", "control socket %s: %s", sock,
		         tl_strerror(err));
		goto out;
	}
	sigi = evsignal_new(base, SIGINT, on_signal, base);
	sigt = evsignal_new(base, SIGTERM, on_signal, base);
	if (!sigi || !sigt || evsignal_add(sigi, NULL) != 0 ||
	    evsignal_add(sigt, NULL) != 0) {
		cli_fail("phone", "cannot catch signals");
		goto out;
	}
	f.tick = event_new(base, -1, EV_PERSIST, fleet_tick, &f);
	if (fleet > 1 && f.tick) {
		struct timeval tv = {0, 10000};
		event_add(f.tick, &tv);
	}
	event_base_dispatch(base);
	/* The boot threads take no new phone now; wait for the others. */
	pthread_mutex_lock(&f.mu);
	f.stop = true;
	pthread_mutex_unlock(&f.mu);
	for (size_t w = 0; w < nw; w++) {
		pthread_join(th[w], NULL);
	}
	nw = 0;
	/* Unregister and give the answers a moment. */
	for (size_t i = 0; i < fleet; i++) {
		phone_shutdown(ph[i]);
	}
	if (fleet <= 16) {
		struct timeval tv = {0, 300000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	if (json && fleet == 1) {
		if (phone_status(ph[0], &out, true) == 0) {
			fwrite(out.p, 1, out.len, stdout);
			fputc('\n', stdout);
		}
	}
	rc = CLI_OK;
out:
	if (nw) {
		pthread_mutex_lock(&f.mu);
		f.stop = true;
		pthread_mutex_unlock(&f.mu);
		for (size_t w = 0; w < nw; w++) {
			pthread_join(th[w], NULL);
		}
	}
	free(f.booted);
	buf_free(&out);
	phone_ctl_free(ctl);
	if (sigi) {
		event_free(sigi);
	}
	if (sigt) {
		event_free(sigt);
	}
	if (f.tick) {
		event_free(f.tick);
	}
	for (size_t i = 0; ph && i < fleet; i++) {
		phone_free(ph[i]);
		if (dirs) {
			free(dirs[i]);
		}
	}
	free(dirs);
	free(ph);
	if (base) {
		event_base_free(base);
	}
	return rc;
}
