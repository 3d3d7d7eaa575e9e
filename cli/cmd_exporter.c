// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_exporter.c - `portcullis exporter [--listen ADDR:PORT] [--top N] [--once]`
 *
 * Serves GET /metrics (Prometheus text format, see metrics.h) for every
 * portcullis instance of this network namespace, read from the pins at each
 * scrape. HTTP is libmicrohttpd's, one internal polling thread, so scrapes
 * never run concurrently. Listens on 127.0.0.1:9477 unless told otherwise;
 * ADDR is numeric: 127.0.0.1:9477, 0.0.0.0:9477, [::1]:9477, [::]:9477.
 * The socket is made here, not by libmicrohttpd, so that "address in use"
 * and friends reach the user as such. SIGTERM / SIGINT stop it (exit 0).
 * --once prints one scrape on stdout and exits (benchmarks, debugging).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "cli.h"
#include "metrics.h"

#define DEFAULT_LISTEN "127.0.0.1:9477"
#define DEFAULT_TOP 50

static struct pc_metrics_opts mopts = { .top = DEFAULT_TOP, .log_skips = 1 };
static pthread_mutex_t scrape_lock = PTHREAD_MUTEX_INITIALIZER;

static void usage(void)
{
	fprintf(stderr, "usage: portcullis exporter [--listen ADDR:PORT] [--top N] [--once]\n"
		"       default --listen %s, --top %d; IPv6 as [::1]:9477\n",
		DEFAULT_LISTEN, DEFAULT_TOP);
}

/* "ADDR:PORT" or "[ADDR6]:PORT", numeric only. Returns 0 or -EINVAL with
 * *why set. */
static int parse_listen(const char *s, struct sockaddr_storage *ss,
			socklen_t *sl, const char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res;
	char host[128];
	const char *port, *colon;
	char *end;
	long p;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':') {
			*why = "IPv6 addresses go in brackets: [::1]:9477";
			return -EINVAL;
		}
		if ((size_t)(close - s - 1) >= sizeof(host) || close == s + 1) {
			*why = "bad address";
			return -EINVAL;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(close - s - 1), s + 1);
		port = close + 2;
		hints.ai_family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s) {
			*why = "want ADDR:PORT, e.g. 127.0.0.1:9477";
			return -EINVAL;
		}
		if (strchr(s, ':') != colon) {
			*why = "IPv6 addresses go in brackets: [::1]:9477";
			return -EINVAL;
		}
		if ((size_t)(colon - s) >= sizeof(host)) {
			*why = "bad address";
			return -EINVAL;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
		port = colon + 1;
		hints.ai_family = AF_INET;
	}
	p = strtol(port, &end, 10);
	if (!*port || *end || p < 1 || p > 65535) {
		*why = "the port must be a number 1-65535";
		return -EINVAL;
	}
	if (getaddrinfo(host, port, &hints, &res) || !res) {
		*why = hints.ai_family == AF_INET ?
		       "not a numeric IPv4 address (IPv6 goes in brackets)" :
		       "not a numeric IPv6 address";
		return -EINVAL;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
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
	int c, fd, sig, once = 0, ret;
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
	ret = cli_need_root();
	if (ret)
		return ret;
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

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
			     0, NULL, NULL, handle, NULL,
			     MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
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
