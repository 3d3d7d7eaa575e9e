// SPDX-License-Identifier: GPL-2.0
/*
 * maps.c - the instance's maps: their ABI definitions, creating them,
 * checking pinned ones before trusting them, opening a pinned instance,
 * loading an unattached one, closing. Returns 0 or -errno.
 *
 * Maps are created here in user space, not by libbpf at program load, so
 * that a policy can be published into them before any program can see
 * them (the skeleton is told to reuse them): the first packet after attach
 * already meets the complete first policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "bpf/abi.h"		/* types of the skeleton's globals */
#include "portcullis.skel.h"
#include "instance_priv.h"

#define SPEC(pin_, type_, k_, v_, max_, flags_, field_)                     \
	{ .pin = pin_, .obj_name = pin_, .type = type_, .key_size = k_,      \
	  .value_size = v_,                                                  \
	  .max_entries = max_, .flags = flags_,                              \
	  .fd_off = offsetof(struct pc_instance, field_) }

const struct pc_map_spec pc_map_specs[] = {
	/* the program's global (PC_CONTROL_SECTION): mmapable like every
	 * global data map libbpf would make */
	{ .pin = PC_PIN_CONTROL, .obj_name = PC_CONTROL_SECTION,
	  .type = BPF_MAP_TYPE_ARRAY, .key_size = 4,
	  .value_size = sizeof(struct pc_control), .max_entries = 1,
	  .flags = BPF_F_MMAPABLE,
	  .fd_off = offsetof(struct pc_instance, control_fd) },
	SPEC(PC_PIN_SETTINGS, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct pc_settings),
	     PC_NUM_GENS, 0, settings_fd),
	/* mmapable: publish writes the inactive half as memory */
	SPEC(PC_PIN_PORTS, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct pc_port_entry),
	     PC_PORTS_ENTRIES, BPF_F_MMAPABLE, ports_fd),
	/* the small tier's tables, one value per generation; mmapable:
	 * publish writes the inactive generation's nodes as memory */
	SPEC(PC_PIN_PREFIX_NODES, BPF_MAP_TYPE_ARRAY, 4,
	     sizeof(struct pc_node_table_small), PC_NUM_GENS, BPF_F_MMAPABLE,
	     prefix_nodes_fd),
	/* the large tier: per generation, a table (pc_large_table_create)
	 * only while that generation needs it */
	SPEC(PC_PIN_PREFIX_LARGE, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, PC_NUM_GENS,
	     0, prefix_large_fd),
	/* counters: a row per possible CPU (max_entries 0 here: that
	 * count, pc_spec_max_entries), read by mmap (counters.c) */
	SPEC(PC_PIN_COUNTER_ROWS, BPF_MAP_TYPE_ARRAY, 4,
	     sizeof(struct pc_counter_row), 0, BPF_F_MMAPABLE, counter_rows_fd),
	SPEC(PC_PIN_COUNTER_CARRY, BPF_MAP_TYPE_ARRAY, 4,
	     sizeof(struct pc_counter_carry), 1, BPF_F_MMAPABLE, counter_carry_fd),
	SPEC(PC_PIN_COUNTER_SLOTS, BPF_MAP_TYPE_ARRAY, 4,
	     sizeof(struct pc_counter_slots), 1, 0, counter_slots_fd),
	SPEC(PC_PIN_BUCKET_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, 4,
	     sizeof(struct pc_counter), PC_BUCKET_MAX, 0, bucket_stats_fd),
	/* replies to the host's own flows, written by egress */
	SPEC(PC_PIN_REPLY_FLOWS, BPF_MAP_TYPE_LRU_HASH,
	     sizeof(struct pc_reply_key), 4, PC_REPLY_FLOWS, 0, reply_flows_fd),
	SPEC(PC_PIN_REPLY_PORTS, BPF_MAP_TYPE_ARRAY, 4, 4,
	     PC_PORT_STATS_ENTRIES, 0, reply_ports_fd),
	/* holds reply_flows (made just before it), swapped by a resize */
	SPEC(PC_PIN_REPLY_TABLES, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, 0,
	     reply_tables_fd),
	/* the drop log (bpf/droplog.h): events, each CPU's not-logged count
	 * and budget of events, and whether a reader runs */
	SPEC(PC_PIN_DROPLOG, BPF_MAP_TYPE_RINGBUF, 0, 0, PC_DROPLOG_RING_BYTES,
	     0, droplog_fd),
	SPEC(PC_PIN_DROPLOG_STATE, BPF_MAP_TYPE_PERCPU_ARRAY, 4,
	     sizeof(struct pc_droplog_state), 1, 0, droplog_state_fd),
	SPEC(PC_PIN_DROPLOG_BUDGET, BPF_MAP_TYPE_PERCPU_ARRAY, 4,
	     sizeof(__u64), 1, 0, droplog_budget_fd),
	/* the program's global (PC_DROPLOG_SECTION): whether a reader runs */
	{ .pin = PC_PIN_DROPLOG_ON, .obj_name = PC_DROPLOG_SECTION,
	  .type = BPF_MAP_TYPE_ARRAY, .key_size = 4,
	  .value_size = sizeof(struct pc_droplog_on), .max_entries = 1,
	  .flags = BPF_F_MMAPABLE,
	  .fd_off = offsetof(struct pc_instance, droplog_on_fd) },
	/* user space only; value is an inner map (a 1-entry ARRAY) */
	SPEC(PC_PIN_SYNC, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, 0, sync_fd),
	/* limits (limits.c) */
	SPEC(PC_PIN_LIMITS, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct pc_limit),
	     PC_LIMIT_SLOTS, 0, limits_fd),
	SPEC(PC_PIN_GUARD, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct pc_guard),
	     PC_GUARD_ENTRIES, 0, guard_fd),
	SPEC(PC_PIN_LIMIT_SRC, BPF_MAP_TYPE_LRU_HASH, sizeof(struct pc_limit_src_key),
	     8, PC_LIMIT_SRC_ENTRIES, 0, limit_src_fd),
	SPEC(PC_PIN_BLOCKED, BPF_MAP_TYPE_LRU_HASH, sizeof(struct pc_addr),
	     sizeof(struct pc_block), PC_BLOCK_ENTRIES, 0, blocked_fd),
	SPEC(PC_PIN_SCAN, BPF_MAP_TYPE_LRU_HASH, sizeof(struct pc_addr),
	     sizeof(struct pc_scan), PC_SCAN_ENTRIES, 0, scan_fd),
	SPEC(PC_PIN_NEVER, BPF_MAP_TYPE_LPM_TRIE, sizeof(struct pc_never_key), 1,
	     PC_NEVER_ENTRIES, BPF_F_NO_PREALLOC, never_fd),
	SPEC(PC_PIN_SKETCH, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct pc_sketch),
	     1, 0, sketch_fd),
};
const size_t pc_n_map_specs = sizeof(pc_map_specs) / sizeof(pc_map_specs[0]);

static int verbose_level = -1;	/* -1: never set, quiet */

static int print_quiet(enum libbpf_print_level l, const char *f, va_list a)
{
	(void)l; (void)f; (void)a;
	return 0;
}

static int print_all(enum libbpf_print_level l, const char *f, va_list a)
{
	(void)l;
	return vfprintf(stderr, f, a);
}

static int xdp_print_quiet(enum libxdp_print_level l, const char *f, va_list a)
{
	(void)l; (void)f; (void)a;
	return 0;
}

static int xdp_print_all(enum libxdp_print_level l, const char *f, va_list a)
{
	(void)l;
	return vfprintf(stderr, f, a);
}

void pc_set_verbose(int verbose)
{
	verbose_level = verbose ? 1 : 0;
	libbpf_set_print(verbose ? print_all : print_quiet);
	libxdp_set_print(verbose ? xdp_print_all : xdp_print_quiet);
}

void pc_log_init(void)
{
	if (verbose_level < 0)
		pc_set_verbose(0);
}

uint32_t pc_obj_id(int fd)
{
	/* bpf_prog_info and bpf_map_info both start with type, id */
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

struct pc_instance *pc_instance_new(void)
{
	struct pc_instance *inst = calloc(1, sizeof(*inst));
	size_t i;

	if (!inst)
		return NULL;
	inst->prog_fd = -1;
	inst->link_fd = -1;
	inst->egress_link_fd = -1;
	inst->lock_fd = -1;
	for (i = 0; i < pc_n_map_specs; i++)
		*pc_spec_fd(inst, &pc_map_specs[i]) = -1;
	inst->ncpus = libbpf_num_possible_cpus();
	if (inst->ncpus <= 0)
		inst->ncpus = 1;
	return inst;
}

/* reply_flows: its size is the policy's `replies table` at attach */
static int is_reply_flows(const struct pc_map_spec *s)
{
	return s->fd_off == offsetof(struct pc_instance, reply_flows_fd);
}

uint32_t pc_spec_max_entries(const struct pc_map_spec *s)
{
	int n;

	if (s->max_entries)
		return s->max_entries;
	n = libbpf_num_possible_cpus();	/* cached by libbpf */
	return n > 0 ? (uint32_t)n : 1;
}

static int is_rows(const struct pc_map_spec *s)
{
	return s->fd_off == offsetof(struct pc_instance, counter_rows_fd);
}

/* Whether counter_rows fd holds lean rows (bpf/abi.h). */
static int rows_lean(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       info.value_size == PC_COUNTER_ROW_LEAN;
}

int pc_map_check(int fd, const struct pc_map_spec *s)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (is_reply_flows(s) && info.max_entries >= PC_REPLY_FLOWS_MIN &&
	    info.max_entries <= PC_REPLY_FLOWS_MAX)
		info.max_entries = s->max_entries;
	if (is_rows(s) && info.value_size == PC_COUNTER_ROW_LEAN)
		info.value_size = s->value_size;	/* the lean rows */
	if (info.type != s->type || info.key_size != s->key_size ||
	    info.value_size != s->value_size ||
	    info.max_entries != pc_spec_max_entries(s) ||
	    info.map_flags != s->flags)	/* e.g. prefix_nodes must be mmapable */
		return -EINVAL;
	return 0;
}

static int create_inner(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pc_sync_inner", 4, 4, 1,
				NULL);
	return fd < 0 ? -errno : fd;
}

int pc_large_table_create(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pc_prefix_table", 4,
				sizeof(struct pc_node_table), 1, &opts);

	return fd < 0 ? -errno : fd;
}

static int is_sync(const struct pc_map_spec *s)
{
	return s->fd_off == offsetof(struct pc_instance, sync_fd);
}

/* in_fd: the inner map of an ARRAY_OF_MAPS (its template and entry 0),
 * or -1 for a 1-entry ARRAY made here */
static int create_one(const struct pc_map_spec *s, __u32 max_entries,
		      int in_fd, int lean)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = s->flags);
	int inner = -1, fd, err;
	char name[16];

	if (s->type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
		/* sync: a 1-entry array of ours; reply_tables: the flow
		 * table (in_fd); prefix_large: a template of its tables,
		 * made for this moment (16 MiB, freed with inner below) and
		 * not inserted */
		inner = in_fd >= 0 ? in_fd :
			is_sync(s) ? create_inner() : pc_large_table_create();
		if (inner < 0)
			return inner;
		opts.inner_map_fd = inner;
	}
	/* kernel map names: 15 chars, [A-Za-z0-9_.] */
	snprintf(name, sizeof(name), "pc_%s", s->pin);
	fd = bpf_map_create(s->type, name, s->key_size,
			    lean && is_rows(s) ? PC_COUNTER_ROW_LEAN : s->value_size,
			    max_entries, &opts);
	err = fd < 0 ? -errno : 0;
	if (fd >= 0 && inner >= 0 && (is_sync(s) || inner == in_fd)) {
		__u32 key = 0;

		if (bpf_map_update_elem(fd, &key, &inner, BPF_ANY)) {
			err = -errno;
			close(fd);
			fd = -1;
		}
	}
	if (inner >= 0 && inner != in_fd)
		close(inner);
	return fd < 0 ? err : fd;
}

int pc_maps_create(struct pc_instance *inst)
{
	size_t i;

	for (i = 0; i < pc_n_map_specs; i++) {
		const struct pc_map_spec *s = &pc_map_specs[i];
		int fd = create_one(s, is_reply_flows(s) && inst->reply_flows_size ?
				    inst->reply_flows_size : pc_spec_max_entries(s),
				    s->fd_off == offsetof(struct pc_instance, reply_tables_fd) ?
				    inst->reply_flows_fd : -1, inst->counters_lean);

		if (fd < 0)
			return fd;
		*pc_spec_fd(inst, &pc_map_specs[i]) = fd;
	}
	return 0;
}

/* Whether the kernel has bpf_cast_to_kern_ctx (Linux 6.2+), which
 * portcullis_xdp uses to read a frame's length without a helper call; where
 * it has not, or has no BTF to tell, portcullis_compat is loaded instead.
 * PORTCULLIS_FRAME_LEN_HELPER=1 forces the latter (the tests use it). */
static bool kern_ctx_available(void)
{
	static int avail = -1;
	const char *force = secure_getenv("PORTCULLIS_FRAME_LEN_HELPER");
	struct btf *vmlinux;

	if (force && !strcmp(force, "1"))
		return false;
	if (avail < 0) {
		/* about 12 ms, once per process that attaches; NULL: no BTF */
		vmlinux = btf__load_vmlinux_btf();
		avail = vmlinux && btf__find_by_name_kind(vmlinux, "bpf_cast_to_kern_ctx",
							  BTF_KIND_FUNC) > 0;
		btf__free(vmlinux);
	}
	return avail;
}

int pc_skel_open(struct pc_instance *inst, void **skel_out)
{
	struct portcullis_bpf *skel;
	size_t i;
	int err;

	pc_log_init();
	skel = portcullis_bpf__open();
	if (!skel)
		return errno ? -errno : -ENOMEM;
	for (i = 0; i < pc_n_map_specs; i++) {
		const struct pc_map_spec *s = &pc_map_specs[i];
		struct bpf_map *m;

		if (is_sync(s) || is_reply_flows(s) ||
		    s->fd_off == offsetof(struct pc_instance, counter_slots_fd))
			continue;	/* sync and counter_slots are ours alone;
					 * the programs reach reply_flows in
					 * reply_tables */
		m = bpf_object__find_map_by_name(skel->obj, s->obj_name);
		/* the object and the ABI must agree, or the verifier would
		 * judge the program against maps of another shape */
		if (!m || bpf_map__type(m) != s->type ||
		    bpf_map__key_size(m) != s->key_size ||
		    bpf_map__value_size(m) != s->value_size ||
		    bpf_map__max_entries(m) != (s->max_entries ? s->max_entries : 1)) {
			err = -EINVAL;
			goto fail;
		}
		err = bpf_map__reuse_fd(m, *pc_spec_fd(inst, s));
		if (err)
			goto fail;
	}
	/* the rows' layout, a constant to the verifier (bpf/abi.h) */
	skel->rodata->pc_counters_lean = inst->counters_lean ? 1 : 0;
	/* one of the two programs: the other is never verified */
	if (kern_ctx_available())
		err = bpf_program__set_autoload(skel->progs.portcullis_compat, false);
	else
		err = bpf_program__set_autoload(skel->progs.portcullis_xdp, false);
	if (err)
		goto fail;
	*skel_out = skel;
	return 0;
fail:
	portcullis_bpf__destroy(skel);
	return err;
}

void pc_skel_destroy(void *skel)
{
	portcullis_bpf__destroy(skel);
}

struct bpf_object *pc_skel_obj(void *skel)
{
	return ((struct portcullis_bpf *)skel)->obj;
}

struct bpf_program *pc_skel_prog(void *skel)
{
	struct portcullis_bpf *s = skel;

	return bpf_program__autoload(s->progs.portcullis_xdp) ? s->progs.portcullis_xdp
							      : s->progs.portcullis_compat;
}

int pc_skel_load(void *skel)
{
	int err = portcullis_bpf__load(skel);

	return err ? (err < 0 ? err : -err) : 0;
}

void pc_close(struct pc_instance *inst)
{
	size_t i;

	if (!inst)
		return;
	pc_counters_release(inst);
	free(inst->live_ports);
	for (i = 0; i < pc_n_map_specs; i++) {
		int fd = *pc_spec_fd(inst, &pc_map_specs[i]);

		if (fd >= 0)
			close(fd);
	}
	/* a skeleton owns its program fd */
	if (inst->skel)
		portcullis_bpf__destroy(inst->skel);
	else if (inst->prog_fd >= 0)
		close(inst->prog_fd);
	if (inst->link_fd >= 0)
		close(inst->link_fd);
	if (inst->egress_link_fd >= 0)
		close(inst->egress_link_fd);
	if (inst->lock_fd >= 0)
		close(inst->lock_fd);
	free(inst);
}

int pc_load_unattached(const struct pc_compiled *c, struct pc_instance **out)
{
	struct pc_instance *inst = pc_instance_new();
	int err;

	if (!inst)
		return -ENOMEM;
	if (c)
		inst->reply_flows_size = c->reply_table;
	inst->counters_lean = c && c->settings.counters == PC_COUNTERS_CLASSES;
	err = pc_maps_create(inst);
	if (!err)
		err = pc_skel_open(inst, &inst->skel);
	if (!err)
		err = pc_skel_load(inst->skel);
	if (!err) {
		inst->prog_fd = bpf_program__fd(pc_skel_prog(inst->skel));
		err = pc_publish(inst, c);
	}
	if (err) {
		pc_close(inst);
		return err;
	}
	*out = inst;
	return 0;
}

/* The interface of pin_dir: from its name (IFINDEX-NAME) when it has that
 * shape, else ifname (a directory of a test). Its name now, or the name at
 * attach time when it is gone. */
static void set_interface(struct pc_instance *inst, const char *pin_dir,
			  const char *ifname)
{
	const char *base = strrchr(pin_dir, '/');
	char attached_as[IF_NAMESIZE * 4], now[IF_NAMESIZE];
	int ifindex;

	base = base ? base + 1 : pin_dir;
	if (pc_parse_inst_dir(base, &ifindex, attached_as, sizeof(attached_as))) {
		ifindex = if_nametoindex(ifname);
		snprintf(attached_as, sizeof(attached_as), "%s", ifname);
	}
	inst->ifindex = ifindex;
	inst->iface_gone = ifindex && !if_indextoname(ifindex, now);
	snprintf(inst->ifname, sizeof(inst->ifname), "%s",
		 ifindex && !inst->iface_gone ? now : attached_as);
}


static int pin_exists(const char *pin_dir, const char *name)
{
	char path[600];

	return !pc_path(path, sizeof(path), pin_dir, name) && !access(path, F_OK);
}

int pc_open_dir(const char *pin_dir, const char *ifname,
		struct pc_instance **out)
{
	struct pc_instance *inst;
	struct bpf_prog_info pinfo;
	__u32 plen = sizeof(pinfo), orphan;
	size_t i;
	int err;

	pc_log_init();
	err = pc_check_dir(pin_dir);
	if (err)
		return err;
	inst = pc_instance_new();
	if (!inst)
		return -ENOMEM;
	snprintf(inst->pin_dir, sizeof(inst->pin_dir), "%s", pin_dir);
	set_interface(inst, pin_dir, ifname);

	for (i = 0; i < pc_n_map_specs && !err; i++) {
		const struct pc_map_spec *s = &pc_map_specs[i];
		int fd = pc_get_pin(pin_dir, s->pin);

		if (fd < 0) {
			err = fd;
			/* the program is pinned last: with it there, a missing
			 * map is one an older build did not make (the drop log's) */
			if (err == -ENOENT && pin_exists(pin_dir, PC_PIN_PROG))
				err = -EINVAL;
			break;
		}
		*pc_spec_fd(inst, s) = fd;
		err = pc_map_check(fd, s);
		if (!err && is_rows(s))
			inst->counters_lean = rows_lean(fd);
	}
	if (!err) {
		inst->prog_fd = pc_get_pin(pin_dir, PC_PIN_PROG);
		if (inst->prog_fd < 0)
			err = inst->prog_fd;
	}
	if (err == -ENOENT && inst->control_fd >= 0 &&
	    (orphan = pc_orphan_prog_id(pin_dir, inst->ifindex))) {
		/* shown, so that detach is run on it */
		inst->prog_fd = bpf_prog_get_fd_by_id(orphan);
		inst->interrupted = 1;
		err = inst->prog_fd < 0 ? -errno : 0;
	}
	if (!err) {
		memset(&pinfo, 0, sizeof(pinfo));
		if (bpf_obj_get_info_by_fd(inst->prog_fd, &pinfo, &plen))
			err = -errno;
		/* EXT: loaded as a libxdp dispatcher component */
		else if (pinfo.type != BPF_PROG_TYPE_XDP &&
			 pinfo.type != BPF_PROG_TYPE_EXT)
			err = -EINVAL;
	}
	if (!err) {
		/* no link: attached through libxdp's dispatcher */
		inst->link_fd = pc_get_pin(pin_dir, PC_PIN_LINK);
		err = inst->link_fd == -ENOENT ? 0 : inst->link_fd < 0 ?
		      inst->link_fd : 0;
	}
	if (!err) {
		inst->lock_fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (inst->lock_fd < 0)
			err = -errno;
	}
	if (err) {
		pc_close(inst);
		return err;
	}
	*out = inst;
	return 0;
}

int pc_open(const char *ifname, struct pc_instance **out)
{
	struct pc_attach_info ai;
	struct pc_instance *inst;
	char dir[512];
	int err = pc_find_dir(ifname, dir, sizeof(dir));

	if (!err)
		err = pc_open_dir(dir, ifname, &inst);
	if (err)
		return err;
	/* every verb checks that what it acts on is what the link runs */
	err = pc_attach_info(inst, &ai);
	if (!err && !ai.attached)
		err = -ENOLINK;
	if (err) {
		pc_close(inst);
		return err;
	}
	*out = inst;
	return 0;
}
