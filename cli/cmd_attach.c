// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_attach.c - `portcullis attach IFACE [--mode native|skb|hw]
 * [--policy FILE]` and `portcullis detach IFACE`.
 *
 * attach compiles the policy first (a bad file attaches nothing, exit 2),
 * then loads, publishes it as version 1, pins and attaches in one step
 * (pc_attach undoes everything on failure). Without --policy everything is
 * allowed, and it says so. Returns an exit status.
 *
 * JSON (--json): attach prints {interface, attach_mode, dispatcher,
 * prog_id, version, source (null without --policy)}; detach prints
 * {interface, detached: true}.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <jansson.h>
#include "cli.h"
#include "../loader/rules.h"

/* A frame must fit one page for a driver without multi-buffer XDP: on
 * veth that is an MTU of 3,506 bytes with 4 KiB pages. */
#define SINGLE_BUFFER_MTU 3506

static int iface_mtu(const char *ifname)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), mtu = 0;

	if (fd < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
	if (!ioctl(fd, SIOCGIFMTU, &ifr))
		mtu = ifr.ifr_mtu;
	close(fd);
	return mtu;
}

static const char *mode_name(enum pc_attach_mode m)
{
	return m == PC_ATTACH_SKB ? "skb" : m == PC_ATTACH_HW ? "hw" : "native";
}

static int attach_error(const char *ifname, enum pc_attach_mode mode, int err)
{
	int mtu = iface_mtu(ifname);

	if (err == -EUCLEAN || err == -ENOMEDIUM) {
		cli_pin_error(err);
		return PC_EXIT_FAIL;
	}
	/* the program is multi-buffer aware (xdp.frags); a driver that is
	 * not refuses it above one page of frame (veth: ERANGE) */
	if (mode == PC_ATTACH_NATIVE && mtu > SINGLE_BUFFER_MTU &&
	    (err == -ERANGE || err == -EINVAL || err == -EOPNOTSUPP)) {
		cli_error("failed to attach to %s in native mode: the driver refuses "
			  "XDP at MTU %d (%s): it does not take multi-buffer (xdp.frags) "
			  "programs, so a frame must fit one page, an MTU of about %d: "
			  "lower the MTU (ip link set dev %s mtu %d) or use --mode skb",
			  ifname, mtu, strerror(-err), SINGLE_BUFFER_MTU, ifname,
			  SINGLE_BUFFER_MTU);
		return PC_EXIT_FAIL;
	}
	/* offload needs a NIC and driver that run BPF themselves; the
	 * kernel's errno for "this one cannot" varies (EINVAL, EOPNOTSUPP) */
	if (mode == PC_ATTACH_HW && err != -EEXIST && err != -ENODEV &&
	    err != -EPERM && err != -EACCES) {
		cli_error("failed to attach to %s in hw mode: %s: the driver cannot "
			  "offload this XDP program: use --mode native or --mode skb",
			  ifname, strerror(-err));
		return PC_EXIT_FAIL;
	}
	switch (-err) {
	case ENODEV:
		cli_error("no such interface: %s", ifname);
		break;
	case EEXIST:
		cli_error("%s already has a portcullis program: change its policy "
			  "with portcullis apply %s FILE, or run portcullis detach %s first",
			  ifname, ifname, ifname);
		break;
	case EBUSY:
		cli_error("failed to attach to %s: another XDP program is attached "
			  "without the libxdp dispatcher: remove it first (xdp-loader "
			  "status %s)", ifname, ifname);
		break;
	case EOPNOTSUPP:
		cli_error("failed to attach to %s in %s mode: not supported by the "
			  "driver: try --mode skb", ifname, mode_name(mode));
		break;
	case EPERM:
	case EACCES:
		/* the caller has the capabilities (cli_need_root): the kernel
		 * refused the program, its verifier most often */
		cli_error("failed to attach to %s: the kernel refused the XDP program "
			  "(%s): run with -v for the verifier's log", ifname,
			  strerror(-err));
		break;
	case EINVAL:
		cli_error("failed to attach to %s: the XDP object does not match "
			  "this portcullis build (or the mode is invalid): rebuild, "
			  "or run with -v for the loader's log", ifname);
		break;
	default:
		cli_error("failed to attach to %s: %s (run with -v for details)",
			  ifname, strerror(-err));
	}
	return PC_EXIT_FAIL;
}

static void print_attached(struct pc_instance *inst, const char *policy)
{
	struct pc_attach_info ai;
	struct pc_settings s;

	memset(&s, 0, sizeof(s));
	pc_attach_info(inst, &ai);
	pc_read_settings(inst, &s);
	if (cli.json) {
		json_t *o = json_pack("{s:o, s:s, s:b, s:I, s:I, s:s?}",
				      "interface", pc_json_str(inst->ifname),
				      "attach_mode", mode_name(ai.mode),
				      "dispatcher", ai.dispatcher,
				      "prog_id", (json_int_t)ai.prog_id,
				      "version", (json_int_t)s.version,
				      "source", policy ? s.source : NULL);

		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
		return;
	}
	printf("attached to %s: %s mode, %s, program id %u, policy version %llu\n",
	       inst->ifname, mode_name(ai.mode),
	       ai.dispatcher ? "libxdp dispatcher" : "direct attach",
	       ai.prog_id, (unsigned long long)s.version);
	if (policy)
		printf("policy: %s\n", s.source);
	else
		printf("no policy given: everything is allowed (apply one with: "
		       "portcullis apply %s FILE)\n", inst->ifname);
}

/* Policy warnings (shadowed rules, sensitive ports open to any source)
 * go to stderr, already formatted "FILE:LINE:COL: warning: ...": the
 * policy is still applied, as `check` would accept it. */
static void emit_warning(void *ctx, int line, int col, const char *text)
{
	(void)ctx; (void)line; (void)col;
	fprintf(stderr, "%s\n", text);
}

int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "policy", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	enum pc_attach_mode mode = PC_ATTACH_NATIVE;
	const char *policy = NULL, *ifname;
	struct pc_compiled *c = NULL;
	struct pc_instance *inst;
	struct pc_policy p;
	int o, err, rc;

	while ((o = getopt_long(argc, argv, "m:p:", opts, NULL)) != -1) {
		switch (o) {
		case 'm':
			if (!strcmp(optarg, "native"))
				mode = PC_ATTACH_NATIVE;
			else if (!strcmp(optarg, "skb"))
				mode = PC_ATTACH_SKB;
			else if (!strcmp(optarg, "hw"))
				mode = PC_ATTACH_HW;
			else {
				cli_error("unknown mode %s: use native, skb or hw", optarg);
				return PC_EXIT_USAGE;
			}
			break;
		case 'p':
			policy = optarg;
			break;
		case 'j':
			cli.json = 1;
			break;
		default:
			cli_error("usage: portcullis attach IFACE [--mode native|skb|hw] [--policy FILE]");
			return PC_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cli_error("usage: portcullis attach IFACE [--mode native|skb|hw] [--policy FILE]");
		return PC_EXIT_USAGE;
	}
	ifname = argv[optind];
	if (policy) {
		rc = cli_load_policy(policy, &p, &c);
		if (rc)
			return rc;
		pc_policy_warnings(&p, c, emit_warning, NULL);
	}
	rc = cli_need_root();
	if (rc)
		goto out;
	if (!if_nametoindex(ifname)) {
		cli_error("no such interface: %s", ifname);
		rc = PC_EXIT_FAIL;
		goto out;
	}
	err = pc_attach(ifname, mode, c, &inst);
	if (err) {
		rc = attach_error(ifname, mode, err);
		goto out;
	}
	if (policy)	/* its rule texts, for counters that follow them */
		pc_rules_record(inst, &p);
	print_attached(inst, policy);
	pc_close(inst);
	rc = PC_EXIT_OK;
out:
	if (c) {
		pc_compiled_free(c);
		pc_policy_free(&p);
	}
	return rc;
}

int cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	const char *ifname;
	int o, err, rc;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'j') {
			cli.json = 1;
			continue;
		}
		cli_error("usage: portcullis detach IFACE");
		return PC_EXIT_USAGE;
	}
	if (optind != argc - 1) {
		cli_error("usage: portcullis detach IFACE");
		return PC_EXIT_USAGE;
	}
	ifname = argv[optind];
	rc = cli_need_root();
	if (rc)
		return rc;
	err = pc_detach(ifname);
	if (err == -ENODEV || err == -EINVAL) {
		cli_error("no such interface: %s (an instance whose interface is "
			  "gone is freed by portcullis prune)", ifname);
		return PC_EXIT_FAIL;
	}
	if (err == -ENOENT) {
		cli_error("%s has no portcullis program: nothing to detach", ifname);
		return PC_EXIT_FAIL;
	}
	if (err == -EUCLEAN || err == -ENOMEDIUM) {
		cli_pin_error(err);
		return PC_EXIT_FAIL;
	}
	if (err) {
		cli_error("failed to detach from %s: %s", ifname, strerror(-err));
		return PC_EXIT_FAIL;
	}
	if (cli.json) {
		json_t *j = json_pack("{s:o, s:b}", "interface", pc_json_str(ifname),
				      "detached", 1);

		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else
		printf("detached from %s\n", ifname);
	return PC_EXIT_OK;
}
