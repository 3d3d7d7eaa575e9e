// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_exporter.c - `portcullis exporter [--listen ADDR:PORT] [--top N] [--once]`
 *
 * Serves GET /metrics (Prometheus text format, see metrics.h) for every
 * portcullis instance of this network namespace, read at each scrape.
 * HTTP is libmicrohttpd's: a small pool of threads, each polling many
 * connections with epoll, so a slow or idle client holds no thread and
 * cannot keep a scrape out (the limits are below); scrapes themselves are
 * serialised by a lock. Listens on 127.0.0.1:9477 unless told otherwise;
 * ADDR is numeric: 127.0.0.1:9477, 0.0.0.0:9477, [::1]:9477, [::]:9477.
 * The socket is made here, not by libmicrohttpd, so that "address in use"
 * and friends reach the user as such. SIGTERM / SIGINT stop it (exit 0).
 * --once prints one scrape on stdout and exits (benchmarks, debugging).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <arpa/inet.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "cli.h"
#include "metrics.h"

#define DEFAULT_LISTEN "127.0.0.1:9477"
#define DEFAULT_TOP 50

/* HTTP limits. A client silent for IDLE_TIMEOUT seconds is dropped (a
 * scrape sends its request at once); one address holds at most PER_IP
 * connections (Prometheus needs one), all clients together MAX_CONNS,
 * each with libmicrohttpd's default 32 KiB of buffers: 8 MiB at most. */
#define HTTP_THREADS 4
#define IDLE_TIMEOUT 3
#define PER_IP 8
#define MAX_CONNS 256
/* libmicrohttpd's messages shown per minute at most (see http_log) */
#define LOG_BURST 10

static struct pc_metrics_opts mopts = { .top = DEFAULT_TOP, .log_skips = 1 };
static pthread_mutex_t scrape_lock = PTHREAD_MUTEX_INITIALIZER;

static void usage(void)
{
	fprintf(stderr, "usage: portcullis exporter [--listen ADDR:PORT] [--top N] [--once]\n"
		"       default --listen %s, --top %d (port series per protocol); IPv6 as [::1]:9477\n",
		DEFAULT_LISTEN, DEFAULT_TOP);
}

/* The port of --listen: decimal digits only, no sign, space or leading
 * zero, 1-65535. Returns it, or 0 when s is not one. */
static unsigned parse_port(const char *s)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n < 1 || n > 5 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v <= 65535 ? (unsigned)v : 0;
}

/* "A.B.C.D:PORT" or "[IPV6]:PORT", numeric and strict: inet_pton takes
 * only four decimal parts for IPv4 (no 127.1, 0x7f000001, leading zeros
 * or spaces) and no zone for IPv6. Returns 0 or -EINVAL with *why set. */
static int parse_listen(const char *s, struct sockaddr_storage *ss,
			socklen_t *sl, const char **why)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	const char *port_at, *end;
	char host[INET6_ADDRSTRLEN];
	unsigned port;
	int v6 = s[0] == '[';

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		end = strchr(s, ']');
		if (!end || end[1] != ':') {
			*why = "IPv6 addresses go in brackets, then the port: [::1]:9477";
			return -EINVAL;
		}
		s++;
		port_at = end + 2;
	} else {
		end = strrchr(s, ':');
		if (!end) {
			*why = "want ADDR:PORT, e.g. 127.0.0.1:9477";
			return -EINVAL;
		}
		if (memchr(s, ':', (size_t)(end - s))) {
			*why = "IPv6 addresses go in brackets: [::1]:9477";
			return -EINVAL;
		}
		port_at = end + 1;
	}
	if ((size_t)(end - s) >= sizeof(host)) {
		*why = "the address is too long";
		return -EINVAL;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(end - s), s);
	port = parse_port(port_at);
	if (!port) {
		*why = "the port must be a decimal number 1-65535 (no sign, space or leading zero)";
		return -EINVAL;
	}
	if (v6 && inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*a6);
		return 0;
	}
	if (!v6 && inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*a4);
		return 0;
	}
	*why = v6 ? "not a numeric IPv6 address (no zone, no name)" :
		    "not a numeric IPv4 address of four decimal parts, e.g. 127.0.0.1 (IPv6 goes in brackets)";
	return -EINVAL;
}

/* The exporter only reads: it needs CAP_BPF (CAP_SYS_ADMIN before Linux
 * 5.8) to load its counter-summing program, not CAP_NET_ADMIN as the
 * verbs that attach do. */
static int can_read_instances(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return geteuid() == 0;
	return (d[CAP_BPF / 32].effective >> (CAP_BPF % 32) & 1) ||
	       (d[CAP_SYS_ADMIN / 32].effective >> (CAP_SYS_ADMIN % 32) & 1);
}

static int open_listener(const struct sockaddr_storage *ss, socklen_t sl)
{
	int one = 1, fd;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* restart right after a stop without waiting out TIME_WAIT */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sl) || listen(fd, 64)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* libmicrohttpd's messages (a client gone mid-request, the connection
 * limit reached), at most LOG_BURST a minute: every slow or rejected
 * client makes one, and a flood of them must not flood the log too. */
static void http_log(void *cls, const char *fmt, va_list ap)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static unsigned shown, held_back;
	static time_t window;
	time_t now = time(NULL);

	(void)cls;
	pthread_mutex_lock(&lock);
	if (now - window >= 60) {
		if (held_back)
			fprintf(stderr, "portcullis exporter: http: %u more messages in the last minute not shown\n",
				held_back);
		window = now;
		shown = held_back = 0;
	}
	if (shown < LOG_BURST) {
		fputs("portcullis exporter: http: ", stderr);
		vfprintf(stderr, fmt, ap);
		shown++;
	} else {
		held_back++;
	}
	pthread_mutex_unlock(&lock);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
			     const char *type, void *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_len, void **con_cls)
{
	static const char text[] = "text/plain; charset=utf-8";
	char *buf;
	size_t len;
	int err;

	(void)cls; (void)version; (void)upload; (void)upload_len; (void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text,
			     (void *)"only GET and HEAD\n", 18, MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/"))
		return reply(conn, MHD_HTTP_OK, text,
			     (void *)"portcullis exporter: metrics at /metrics\n", 41,
			     MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, text,
			     (void *)"not found: try /metrics\n", 24,
			     MHD_RESPMEM_PERSISTENT);
	pthread_mutex_lock(&scrape_lock);
	err = pc_metrics_scrape(&mopts, &buf, &len);
	pthread_mutex_unlock(&scrape_lock);
	if (err)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text,
			     (void *)"scrape failed: out of memory\n", 29,
			     MHD_RESPMEM_PERSISTENT);
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		     buf, len, MHD_RESPMEM_MUST_FREE);
}

static int run_once(void)
{
	char *buf;
	size_t len;
	int err = pc_metrics_scrape(&mopts, &buf, &len);

	if (err) {
		cli_error("scrape failed: %s", strerror(-err));
		return PC_EXIT_FAIL;
	}
	fwrite(buf, 1, len, stdout);
	free(buf);
	return fflush(stdout) ? PC_EXIT_FAIL : PC_EXIT_OK;
}

int cmd_exporter(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "top", required_argument, NULL, 'n' },
		{ "once", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *listen_at = DEFAULT_LISTEN, *why = NULL;
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	socklen_t sl = 0;
	sigset_t set;
	int c, fd, sig, once = 0;
	char *end;
	long v;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "l:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_at = optarg;
			break;
		case 'n':
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 0 || v > 65536) {
				cli_error("--top wants a count 0-65536, not '%s'", optarg);
				return PC_EXIT_USAGE;
			}
			mopts.top = (unsigned)v;
			break;
		case '1':
			once = 1;
			break;
		case 'h':
			usage();
			return PC_EXIT_USAGE;
		default:
			cli_error("exporter: unknown option or missing value: %s",
				  argv[optind - 1]);
			usage();
			return PC_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_error("exporter takes no interface: it serves every attached one");
		usage();
		return PC_EXIT_USAGE;
	}
	if (parse_listen(listen_at, &ss, &sl, &why)) {
		cli_error("bad --listen '%s': %s", listen_at, why);
		return PC_EXIT_USAGE;
	}
	if (!can_read_instances()) {
		cli_error("exporter: need CAP_BPF (run as root, or see "
			  "portcullis-exporter.service for the capabilities it needs)");
		return PC_EXIT_FAIL;
	}
	if (once)
		return run_once();

	fd = open_listener(&ss, sl);
	if (fd < 0) {
		cli_error("cannot listen on %s: %s%s", listen_at, strerror(-fd),
			  fd == -EADDRINUSE ? " (another exporter? pick another port with --listen)" :
			  fd == -EADDRNOTAVAIL ? " (no interface here has that address)" : "");
		return PC_EXIT_FAIL;
	}
	/* block the stop signals in every thread (libmicrohttpd's inherits
	 * the mask) and take them synchronously below */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			     MHD_USE_ERROR_LOG,
			     0, NULL, NULL, handle, NULL,
			     MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_IP,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNS,
			     MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
			     MHD_OPTION_END);
	if (!d) {
		close(fd);
		cli_error("cannot start the HTTP server on %s", listen_at);
		return PC_EXIT_FAIL;
	}
	fprintf(stderr, "portcullis exporter: serving http://%s/metrics\n", listen_at);
	while (sigwait(&set, &sig) != 0)
		;
	/* closes the listen socket too: it is MHD's once the daemon started */
	MHD_stop_daemon(d);
	fprintf(stderr, "portcullis exporter: stopped by signal %d\n", sig);
	return PC_EXIT_OK;
}
