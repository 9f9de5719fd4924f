/*
 * aether/plugin.h - the public, versioned ABI between the aether launcher
 * (the "host") and its networking backend plugins.
 *
 * This header is self-contained: it includes only standard headers and is
 * the only thing a third-party plugin needs (pkg-config --cflags
 * aether-plugin).  See aether-plugin(7) for the full contract.
 *
 * Versioning rules
 *   - AETHER_ABI_MAJOR changes only on an incompatible change.  The host
 *     refuses a plugin whose major differs from its own.
 *   - AETHER_ABI_MINOR grows when something is appended.  Structures are
 *     only ever extended at the end; every extensible structure starts with
 *     (or carries) a struct_size so each side can tell which fields the
 *     other one knows.  A plugin built against an older minor keeps working.
 *   - A structure used as an array element is indexed with the sizeof of
 *     whoever built the array: it is "frozen in 1.x" and never changes in
 *     size or layout (struct aether_option, struct aether_addr, struct
 *     aether_pollfd).  struct aether_vm is extensible only by pointer: it
 *     is never handed over as an array except, packed at its 1.0 size, to
 *     the 1.0 gc.  tests/abi-check.sh refuses any change to a frozen
 *     structure.
 *   - Capability bits the host does not know are fatal: a plugin that needs
 *     a newer host says so with a bit instead of failing in odd ways.
 *   - Reserved fields must be zero.
 *
 * Changelog
 *   1.0  First stable ABI: descriptor, options table, verbs init, fini,
 *        attach, detach, check, gc; attachment kinds TAP, VDE, USER,
 *        STREAM, VHOST_USER; host services log, options, runtime_dir,
 *        helper processes.
 *   1.1  Appended, so 1.0 plugins load and work unchanged: attachment kind
 *        FRAME (the plugin moves frames, the host relays them to the
 *        hypervisor) with struct aether_attach_frame at the end of
 *        struct aether_attachment, capability AETHER_CAP_ATTACH_FRAME;
 *        verbs addresses (what the plugin knows of the guest's IP
 *        addresses) and forward (port forwards changed at run time) at the
 *        end of struct aether_plugin.
 *   1.2  Appended, so 1.0 and 1.1 plugins load and work unchanged: verb
 *        gc_v2 at the end of struct aether_plugin (gc with an array of
 *        pointers, so struct aether_vm can grow); the host hands the 1.0
 *        gc a packed array of AETHER_VM_SIZE_1_0-byte elements.
 *        Verb validate (the plugin's own option checks, run by
 *        check-config and before init) after gc_v2; host service
 *        opt_error (an option error with file, line and key) at the end
 *        of struct aether_host, with AETHER_HOST_HAS.  Header only: the
 *        log helpers AETHER_ERR, AETHER_WARN, AETHER_NOTICE, AETHER_INFO,
 *        AETHER_DEBUG, and aether_opt_report (opt_error, or the log on an
 *        older host).  Stated, not new: which verbs are REQUIRED, which
 *        structures are frozen in 1.x, and that a positive return from
 *        any verb (addresses: above max) is taken as -EPROTO.
 *   1.3  Appended, so 1.0, 1.1 and 1.2 plugins load and work unchanged:
 *        keep_fds and n_keep_fds at the end of struct
 *        aether_helper_spec.  A spec that has them gives the helper
 *        exactly the listed descriptors (besides stdin, stdout, stderr);
 *        a shorter spec keeps the old behaviour (every descriptor of the
 *        host that is not close-on-exec is inherited).
 *        AETHER_HELPER_MAX_KEEP_FDS; AETHER_HOST_HAS_KEEP_FDS tells whether
 *        a host honours them.
 */
#ifndef AETHER_PLUGIN_H
#define AETHER_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AETHER_PLUGIN_MAGIC 0x41455448u /* "AETH" */
#define AETHER_ABI_MAJOR 1
#define AETHER_ABI_MINOR 3

#if defined(__GNUC__)
#define AETHER_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AETHER_PRINTF(f, a)
#endif

/* ------------------------------------------------------------------ */
/* Logging levels (syslog numbering).                                 */

enum aether_log_level {
	AETHER_LOG_ERR = 3,
	AETHER_LOG_WARNING = 4,
	AETHER_LOG_NOTICE = 5,
	AETHER_LOG_INFO = 6,
	AETHER_LOG_DEBUG = 7,
};

/* ------------------------------------------------------------------ */
/* Options a plugin accepts in its [network.<name>] config section.   */

enum aether_option_type {
	AETHER_OPT_STRING = 1, /* any text */
	AETHER_OPT_BOOL = 2,   /* yes/no, true/false, on/off, 1/0 */
	AETHER_OPT_INT = 3,    /* signed decimal, within [min, max] */
	AETHER_OPT_PATH = 4,   /* absolute path, no NUL, no ".." component */
	AETHER_OPT_IFNAME = 5, /* network interface name, 1..15 chars */
};

/* Option flags. */
#define AETHER_OPTF_REQUIRED 0x1u /* must be set in the config */
#define AETHER_OPTF_REPEAT 0x2u   /* may appear several times */

/* Frozen in 1.x (an array element: the plugin's option table). */
struct aether_option {
	const char *key;     /* NULL ends the table */
	uint32_t type;       /* enum aether_option_type */
	uint32_t flags;      /* AETHER_OPTF_* */
	const char *def;     /* default value as text, or NULL */
	const char *help;    /* one line */
	int64_t min, max;    /* bounds for AETHER_OPT_INT (both 0: none) */
};

/* ------------------------------------------------------------------ */
/* The VM a verb is about.                                            */

/*
 * Extensible only by pointer: a later minor may append members (check
 * struct_size before reading one), so a plugin must never index an array
 * of struct aether_vm with its own sizeof.  The verbs get one by pointer;
 * gc_v2 (1.2) gets an array of pointers.  The 1.0 gc, which takes an
 * array, is handed a packed copy whose elements are exactly
 * AETHER_VM_SIZE_1_0 bytes (the 1.0 members, struct_size set to that).
 */
struct aether_vm {
	uint32_t struct_size; /* sizeof(struct aether_vm) of the host */
	uint32_t index;       /* small number unique among live VMs */
	const char *id;       /* stable unique id (also the runtime dir name) */
	const char *name;     /* the VM's name, [A-Za-z0-9_.-]{1,64} */
	uint8_t mac[6];       /* the guest NIC's MAC address */
	uint16_t nic;         /* NIC number within the VM, 0 for the first */
	uid_t uid;            /* the user QEMU runs as */
	gid_t gid;            /* the group QEMU runs as */
	const char *runtime_dir; /* the VM's private dir (0700), exists */
};

/* sizeof(struct aether_vm) in ABI 1.0: the stride of the 1.0 gc's array.
 * runtime_dir is the last 1.0 member. */
#define AETHER_VM_SIZE_1_0                                                    \
	(offsetof(struct aether_vm, runtime_dir) + sizeof(const char *))

/* ------------------------------------------------------------------ */
/* Attachments: what the hypervisor connects the NIC to.  Typed data,  */
/* never a command line; the host builds QEMU's arguments from it.    */

enum aether_attach_kind {
	AETHER_ATTACH_NONE = 0,
	AETHER_ATTACH_TAP = 1,        /* open TAP fds (+ optional vhost fds) */
	AETHER_ATTACH_VDE = 2,        /* a VDE switch control socket */
	AETHER_ATTACH_USER = 3,       /* the hypervisor's built-in user NAT */
	AETHER_ATTACH_STREAM = 4,     /* a connected stream socket or path */
	AETHER_ATTACH_VHOST_USER = 5, /* a vhost-user unix socket path */
	AETHER_ATTACH_FRAME = 6,      /* 1.1: frames through the host relay */
};

#define AETHER_MAX_QUEUES 16

struct aether_attach_tap {
	int fds[AETHER_MAX_QUEUES];      /* one per queue; -1 unused */
	int vhostfds[AETHER_MAX_QUEUES]; /* -1 when vhost is off */
	uint32_t queues;                 /* 1..AETHER_MAX_QUEUES */
	uint32_t vnet_hdr;               /* IFF_VNET_HDR was set */
	char ifname[16];                 /* the host-side device name */
};

struct aether_attach_vde {
	const char *sock; /* switch control socket (directory) path */
	int32_t port;     /* switch port, 0 for any */
	const char *group;/* group of the port or NULL */
	uint32_t mode;    /* octal permission of the port, 0 default */
};

struct aether_attach_user {
	const char *net;       /* "10.0.2.0/24" or NULL for default */
	const char *host;      /* host (gateway) address or NULL */
	const char *dhcpstart; /* first DHCP address or NULL */
	const char *dns;       /* DNS server address or NULL */
	const char *hostname;  /* name handed out by DHCP or NULL */
	const char *domain;    /* DNS search domain or NULL */
	const char *const *hostfwd; /* "tcp:127.0.0.1:2222-:22" ... */
	uint32_t n_hostfwd;
	uint32_t restrict_;    /* isolate the guest from the host network */
	uint32_t ipv6;         /* 0 off, 1 on */
	uint32_t reserved;     /* must be zero */
};

struct aether_attach_stream {
	int fd;           /* connected SOCK_STREAM socket, or -1 */
	const char *path; /* unix socket path to connect to, when fd < 0 */
};

struct aether_attach_vhost_user {
	const char *path; /* vhost-user unix socket (the backend listens) */
	uint32_t queues;  /* 1..AETHER_MAX_QUEUES */
};

/* 1.1: a frame port.  The plugin moves Ethernet frames itself (a userspace
 * network such as libslirp, an overlay, a switch); the host owns the
 * hypervisor side and relays frames between it and the plugin from its
 * event loop, in the thread that calls the verbs.  Frames are plain
 * Ethernet frames (no virtio-net header, no FCS), one per call.  The
 * hypervisor side is the host's business (aether: a SOCK_DGRAM socketpair
 * given to QEMU as -netdev dgram,local.type=fd); the plugin never sees
 * it.  Before the first fill() the host may call input() at any time
 * after attach returned; after detach() it calls nothing. */
/* Frozen in 1.x (an array element: fill and dispatch). */
struct aether_pollfd { /* same meaning as struct pollfd */
	int fd;
	short events;
	short revents;
};

struct aether_frame_ops {
	uint32_t struct_size; /* sizeof(struct aether_frame_ops) */
	uint32_t reserved;    /* must be zero */
	/* A frame the guest sent.  The buffer is only valid during the call. */
	void (*input)(void *port, const void *frame, size_t len);
	/* Before each poll: add up to max fds the port wants watched to fds,
	 * return how many, and lower *timeout_ms (-1: none) to the port's
	 * next timer. */
	int (*fill)(void *port, struct aether_pollfd *fds, unsigned max,
		    int *timeout_ms);
	/* After each poll (also on timeout): fds as filled, with revents
	 * (n is the count fill returned). */
	void (*dispatch)(void *port, const struct aether_pollfd *fds,
			 unsigned n);
};

struct aether_attach_frame {
	/* Set by the host before attach (and not touched by the plugin):
	 * send a frame to the guest.  The host copies the frame if it must
	 * queue it.  Returns 0, or -EAGAIN when the guest side is full, or
	 * -EPIPE when the hypervisor is gone (the frame is dropped and
	 * counted).  Only call it from the verbs or the frame ops. */
	int (*output)(void *sink, const void *frame, size_t len);
	void *sink;
	/* Set by the plugin. */
	void *port;
	const struct aether_frame_ops *ops;
};

/* 1.1: an address the plugin knows the guest has (DHCP lease, ARP/NDP).
 * Frozen in 1.x (an array element: addresses). */
struct aether_addr {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* network byte order; 4 bytes used for AF_INET */
	uint8_t prefix;    /* prefix length, 0 if unknown */
	uint8_t reserved[3];
	const char *source; /* static string: "dhcp", "neigh", ... */
};

/* 1.1: a port forward from the host into the guest. */
struct aether_forward {
	uint32_t struct_size;
	int proto;          /* IPPROTO_TCP or IPPROTO_UDP */
	const char *host_addr; /* host address to bind, NULL or "": any */
	uint16_t host_port;
	uint16_t guest_port;
	const char *guest_addr; /* NULL: the guest's DHCP address */
};

/*
 * Ownership: after attach() returns 0 the host owns every fd in the
 * attachment: it hands them to the hypervisor and closes its copies.  A
 * plugin never closes them afterwards (detach included).  Strings and
 * arrays stay owned by the plugin and must stay valid until detach()
 * returns for this attachment.
 */
struct aether_attachment {
	uint32_t struct_size; /* set by the host before attach() */
	uint32_t kind;        /* enum aether_attach_kind, set by the plugin */
	uint32_t mtu;         /* 0: hypervisor default */
	uint32_t reserved;    /* must be zero */
	struct aether_attach_tap tap;
	struct aether_attach_vde vde;
	struct aether_attach_user user;
	struct aether_attach_stream stream;
	struct aether_attach_vhost_user vhost_user;
	/* 1.1 (only when struct_size covers it) */
	struct aether_attach_frame frame;
};

/* ------------------------------------------------------------------ */
/* Services the host gives a plugin.                                  */

struct aether_host;
struct aether_helper; /* opaque: a helper process the host supervises */

/* Flags for aether_helper_spec.flags. */
#define AETHER_HELPER_DETACHED 0x1u /* outlive this host (shared daemon);
				       the host neither waits for nor kills it
				       at exit, and only stops it on request */

/* The most descriptors a helper spec may list in keep_fds (1.3). */
#define AETHER_HELPER_MAX_KEEP_FDS 64

/*
 * What helper_start runs.  Descriptors the helper gets:
 *   - struct_size covers keep_fds and n_keep_fds (1.3 and later): stdin
 *     (/dev/null), stdout and stderr (log_path, or the host's stderr) and
 *     exactly the n_keep_fds descriptors listed in keep_fds, at the same
 *     numbers, whether or not they are close-on-exec in the host (they
 *     stay as they are there).  Every other descriptor is closed in the
 *     helper.  Each listed descriptor must be open and above 2, and
 *     n_keep_fds at most AETHER_HELPER_MAX_KEEP_FDS (keep_fds may be NULL
 *     when n_keep_fds is 0): otherwise helper_start returns -EINVAL and
 *     starts nothing.
 *   - a shorter spec (built against 1.0 to 1.2): stdin, stdout and stderr
 *     as above, and every descriptor of the host process that is not
 *     close-on-exec, whoever opened it (the behaviour of 1.2 hosts).
 * A 1.2 host ignores keep_fds: a plugin that may run there and needs a
 * descriptor in its helper checks AETHER_HOST_HAS_KEEP_FDS and, when it is
 * false, leaves that descriptor without close-on-exec for the call.
 */
struct aether_helper_spec {
	uint32_t struct_size;
	uint32_t flags;            /* AETHER_HELPER_* */
	const char *const *argv;   /* argv[0] is looked up in PATH */
	const char *const *envp;   /* NULL: the host's environment */
	const char *log_path;      /* stdout+stderr appended here (created
				      0600); NULL: the host's stderr */
	int32_t stop_signal;       /* 0: SIGTERM */
	int32_t stop_timeout_ms;   /* then SIGKILL; 0: 5000 */

	/* ABI 1.3 (used only when struct_size covers them; see above). */
	const int *keep_fds;       /* the descriptors the helper gets */
	uint32_t n_keep_fds;       /* how many; 0..AETHER_HELPER_MAX_KEEP_FDS */
};

struct aether_host {
	uint32_t struct_size; /* sizeof(struct aether_host) of the host */
	uint16_t abi_major, abi_minor; /* the host's ABI version */
	const char *host_version;      /* the launcher's version string */

	/* Log a message; the host prefixes the plugin's name. */
	void (*log)(const struct aether_host *h, int level, const char *fmt,
		    ...) AETHER_PRINTF(3, 4);
	void (*vlog)(const struct aether_host *h, int level, const char *fmt,
		     va_list ap);

	/*
	 * The plugin's options, already validated against its table.
	 * opt_get returns the idx-th value of key (idx > 0 only for
	 * AETHER_OPTF_REPEAT keys), the default when unset and idx == 0,
	 * NULL when there is none.  opt_bool and opt_int return 0, or
	 * -ENOENT when unset without default, -EINVAL when not of the type.
	 */
	const char *(*opt_get)(const struct aether_host *h, const char *key,
			       unsigned idx);
	int (*opt_bool)(const struct aether_host *h, const char *key,
			int *out);
	int (*opt_int)(const struct aether_host *h, const char *key,
		       int64_t *out);

	/* A private directory for this plugin's own state (0700, exists),
	 * shared by every aether process of the same user: e.g.
	 * $XDG_RUNTIME_DIR/aether/plugins/<name> or
	 * /run/aether/plugins/<name>. */
	const char *runtime_dir;

	/*
	 * Start a helper process (no shell) with stdin on /dev/null and its
	 * own process group; the descriptors it gets are those struct
	 * aether_helper_spec describes.  Returns 0 and a handle, or a
	 * negative errno.
	 * helper_stop sends the stop signal, waits stop_timeout_ms, then
	 * SIGKILL, reaps, and frees the handle.  helper_pid gives the pid,
	 * helper_alive returns 1 while it runs, 0 when it has exited.
	 * Non-detached helpers are stopped by the host when the plugin is
	 * unloaded at the latest.
	 */
	int (*helper_start)(const struct aether_host *h,
			    const struct aether_helper_spec *spec,
			    struct aether_helper **out);
	int (*helper_stop)(const struct aether_host *h,
			   struct aether_helper *helper);
	pid_t (*helper_pid)(const struct aether_host *h,
			    const struct aether_helper *helper);
	int (*helper_alive)(const struct aether_host *h,
			    const struct aether_helper *helper);

	void *host_data; /* the host's own; plugins must not touch it */

	/* ABI 1.2 (check with AETHER_HOST_HAS before use). */

	/*
	 * Report a bad value of option key (its idx-th value, as opt_get
	 * numbers them) with its location: the host prints
	 *   FILE:LINE: [network.NAME] KEY = VALUE: message
	 * (the section's file and header line for a default).  For the
	 * validate verb and for any verb that checks options; the verb then
	 * returns -EINVAL.
	 */
	void (*opt_error)(const struct aether_host *h, const char *key,
			  unsigned idx, const char *fmt, ...) AETHER_PRINTF(4, 5);
};

/* Does host table h (of h->struct_size bytes) have member m? */
#define AETHER_HOST_HAS(h, m)                                                 \
	((h)->struct_size >= offsetof(struct aether_host, m) +                \
				     sizeof((h)->m) &&                        \
	 (h)->m != NULL)

/* Does host h honour aether_helper_spec.keep_fds (a host of ABI 1.3 or
 * later)?  An older one ignores them and passes on every descriptor that
 * is not close-on-exec. */
#define AETHER_HOST_HAS_KEEP_FDS(h)                                           \
	((h)->abi_major == AETHER_ABI_MAJOR && (h)->abi_minor >= 3)

/*
 * Report a bad option value (header only, no ABI of its own): through
 * opt_error when the host has it (1.2: the host adds file, line and key),
 * else through log, prefixed with the key.  The verb then returns
 * -EINVAL itself.
 *
 *   aether_opt_report(host, "net", 0, "%s: not a subnet", value);
 */
static inline void aether_opt_report(const struct aether_host *h,
				     const char *key, unsigned idx,
				     const char *fmt, ...) AETHER_PRINTF(4, 5);
static inline void aether_opt_report(const struct aether_host *h,
				     const char *key, unsigned idx,
				     const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (AETHER_HOST_HAS(h, opt_error))
		h->opt_error(h, key, idx, "%s", msg);
	else
		h->log(h, AETHER_LOG_ERR, "%s: %s", key, msg);
}

/*
 * Logging helpers (header only, no ABI of their own): a plugin logs
 * through the host, never to stdout or stderr, and needs no macro of its
 * own.  host is a const struct aether_host * and is evaluated twice.
 *
 *   AETHER_ERR(host, "tap %s: %s", name, strerror(-rc));
 */
#define AETHER_LOG_AT(host, level, ...)                                       \
	((host)->log((host), (level), __VA_ARGS__))
#define AETHER_ERR(host, ...) AETHER_LOG_AT(host, AETHER_LOG_ERR, __VA_ARGS__)
#define AETHER_WARN(host, ...)                                                \
	AETHER_LOG_AT(host, AETHER_LOG_WARNING, __VA_ARGS__)
#define AETHER_NOTICE(host, ...)                                              \
	AETHER_LOG_AT(host, AETHER_LOG_NOTICE, __VA_ARGS__)
#define AETHER_INFO(host, ...) AETHER_LOG_AT(host, AETHER_LOG_INFO, __VA_ARGS__)
#define AETHER_DEBUG(host, ...)                                               \
	AETHER_LOG_AT(host, AETHER_LOG_DEBUG, __VA_ARGS__)

/* ------------------------------------------------------------------ */
/* The plugin descriptor.                                             */

/* Capability bits: what a plugin provides or needs. */
#define AETHER_CAP_ATTACH_TAP (1ull << 0)
#define AETHER_CAP_ATTACH_VDE (1ull << 1)
#define AETHER_CAP_ATTACH_USER (1ull << 2)
#define AETHER_CAP_ATTACH_STREAM (1ull << 3)
#define AETHER_CAP_ATTACH_VHOST_USER (1ull << 4)
#define AETHER_CAP_NEEDS_NET_ADMIN (1ull << 5) /* needs CAP_NET_ADMIN */
#define AETHER_CAP_HELPERS (1ull << 6)  /* uses helper processes */
#define AETHER_CAP_MULTIQUEUE (1ull << 7)
#define AETHER_CAP_KNOWN_1_0 ((1ull << 8) - 1)
#define AETHER_CAP_ATTACH_FRAME (1ull << 8) /* 1.1 */
#define AETHER_CAP_KNOWN_1_1 ((1ull << 9) - 1)
#define AETHER_CAP_KNOWN AETHER_CAP_KNOWN_1_1

/*
 * Verb contracts (every verb returns 0 or a negative errno, and logs its
 * own error with context through host->log; plugins never print).  Each
 * verb is REQUIRED (the host refuses to load a plugin whose descriptor
 * has it NULL) or optional (NULL, or beyond the descriptor's struct_size:
 * the host does without it, as said below).  A positive return where the
 * contract has none is a broken plugin: the host takes it as -EPROTO.
 *
 * init(host, &state)                             REQUIRED
 *                      Plugin-wide setup from the plugin's validated
 *                      options.  Called once per load before any other
 *                      verb.  host stays valid until fini returns.
 * fini(state)                                    optional
 *                      Release what init made.  Never fails.
 * attach(state, vm, att, &att_state)             REQUIRED
 *                      Make the network for one VM NIC and fill att.  On
 *                      failure nothing is left behind (no device, no
 *                      socket, no helper).  att_state is handed back to
 *                      detach and check.
 * detach(state, vm, att_state)                   REQUIRED
 *                      Undo attach.  Idempotent and best effort: it must
 *                      cope with things already gone (hypervisor crashed,
 *                      device deleted by hand) and must free att_state.
 *                      Returns the first error but keeps going.
 * check(state, vm, att_state)                    optional
 *                      0 when the attachment is healthy, else a negative
 *                      errno and a log message saying what is wrong.
 *                      Without it the attachment counts as healthy.
 * gc(state, live, n_live)                        optional
 *                      Remove everything this plugin made (in any process,
 *                      including crashed ones) for VMs whose id is not in
 *                      live[].  Safe to run at any time.  Without gc
 *                      and gc_v2 there is nothing to collect.  Superseded by
 *                      gc_v2: live[] is a packed array of n_live elements
 *                      of AETHER_VM_SIZE_1_0 bytes each (the 1.0 layout),
 *                      whatever the host's sizeof(struct aether_vm).
 * addresses(state, vm, att_state, out, max)      optional (1.1)
 *                      Fill up to max addresses the plugin knows the
 *                      guest uses; return how many (0 if none known,
 *                      never more than max).  Without it: -EOPNOTSUPP.
 * forward(state, vm, att_state, fwd, add)        optional (1.1)
 *                      Add (add = 1) or remove (add = 0) a port forward
 *                      while the VM runs.  -EADDRINUSE, -ENOENT (no such
 *                      forward), -EINVAL (bad forward), -EOPNOTSUPP.
 *                      For remove only proto, host_addr and host_port
 *                      count.  When the hypervisor's own network carries
 *                      the attachment (AETHER_ATTACH_USER), return
 *                      -EOPNOTSUPP (or leave the verb NULL): the host then
 *                      changes the forward in the hypervisor itself
 *                      (QEMU: hostfwd_add/hostfwd_remove over QMP).
 * validate(host)                                 optional (1.2)
 *                      Check the plugin's options (opt_get, opt_bool,
 *                      opt_int) beyond the types of its table: every value
 *                      init or attach would refuse.  Report each bad value
 *                      with host->opt_error and return -EINVAL.  Called
 *                      with no state, after the host checked the table and
 *                      before init, by `aether check-config` (which never
 *                      calls init) and before init in every run; only log,
 *                      vlog, the opt_* services and opt_error may be used
 *                      (runtime_dir is NULL).  init and attach should run
 *                      the same checks (one function, not two parsers).
 *                      Without it only the table is checked.
 * gc_v2(state, live, n_live)                     optional (1.2)
 *                      As gc, with live[] an array of n_live pointers (each
 *                      struct aether_vm may be longer than the plugin
 *                      knows: read members only as its struct_size
 *                      allows).  When a plugin has gc_v2 the host calls it
 *                      and never gc (a plugin may set both to be
 *                      collected by 1.0 and 1.1 hosts too).
 *
 * Verbs are called from one thread.  A plugin must not install signal
 * handlers, fork without exec, or call exit.
 */
struct aether_plugin {
	uint32_t magic;       /* AETHER_PLUGIN_MAGIC */
	uint16_t abi_major;   /* AETHER_ABI_MAJOR */
	uint16_t abi_minor;   /* AETHER_ABI_MINOR the plugin was built with */
	uint32_t struct_size; /* sizeof(struct aether_plugin) */
	uint32_t reserved0;   /* must be zero */
	uint64_t caps;        /* AETHER_CAP_* */

	const char *name;        /* the backend name, [a-z0-9_]{1,31} */
	const char *version;     /* the plugin's own version */
	const char *description; /* one line */
	const struct aether_option *options; /* NULL-key terminated */

	/* REQUIRED: init, attach, detach.  The rest is optional. */
	int (*init)(const struct aether_host *host, void **state);
	void (*fini)(void *state);
	int (*attach)(void *state, const struct aether_vm *vm,
		      struct aether_attachment *att, void **att_state);
	int (*detach)(void *state, const struct aether_vm *vm,
		      void *att_state);
	int (*check)(void *state, const struct aether_vm *vm,
		     void *att_state);
	int (*gc)(void *state, const struct aether_vm *live, size_t n_live);

	uint64_t reserved[4]; /* must be zero */

	/* ABI 1.1: used only when struct_size covers them. */
	int (*addresses)(void *state, const struct aether_vm *vm,
			 void *att_state, struct aether_addr *out, size_t max);
	int (*forward)(void *state, const struct aether_vm *vm,
		       void *att_state, const struct aether_forward *fwd,
		       int add);

	/* ABI 1.2: used only when struct_size covers them. */
	int (*gc_v2)(void *state, const struct aether_vm *const *live,
		     size_t n_live);
	int (*validate)(const struct aether_host *host);
};

/* Does descriptor d (of d->struct_size bytes) have member m? */
#define AETHER_PLUGIN_HAS(d, m)                                               \
	((d)->struct_size >= offsetof(struct aether_plugin, m) +              \
				     sizeof((d)->m) &&                        \
	 (d)->m != NULL)

/*
 * Declare the exported descriptor.  NAME must be the plugin's file name
 * without extension (the libtool module name, with '-' as '_'), so that
 * the libtool "NAME_LTX_" prefix lets the plugin be preloaded into a
 * static build as well as loaded from a shared object:
 *
 *   AETHER_PLUGIN_DEFINE(mynet) = {
 *       .magic = AETHER_PLUGIN_MAGIC, ...
 *   };
 */
#define AETHER_PLUGIN_SYMBOL "aether_plugin"
#define AETHER_PLUGIN_DEFINE(NAME)                                            \
	extern const struct aether_plugin NAME##_LTX_aether_plugin;           \
	const struct aether_plugin NAME##_LTX_aether_plugin

/* Fill in the header fields of a descriptor. */
#define AETHER_PLUGIN_HEADER                                                  \
	.magic = AETHER_PLUGIN_MAGIC, .abi_major = AETHER_ABI_MAJOR,          \
	.abi_minor = AETHER_ABI_MINOR,                                        \
	.struct_size = sizeof(struct aether_plugin)

#ifdef __cplusplus
}
#endif
#endif /* AETHER_PLUGIN_H */
