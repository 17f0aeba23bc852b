/*
 * snakepit-shim: runs one Python worker in a session and process group of its own, reports on stdout,
 * and makes sure nothing it started is alive when it writes its last line. The contract is
 * docs/SHIM-PROTOCOL.md. Linux only; single-threaded; one poll loop; no signal handlers (signalfd).
 *
 *   JVM (NuProcess) ── stdin: commands, EOF = JVM gone; stdout: report lines ──▶ shim (session leader, subreaper)
 *                                                                                 ├─ init (only with --unshare pid: pid 1 there)
 *                                                                                 └─ Python (fd 0 lifeline, 1/2 relayed, 3 readiness)
 *
 * Isolation options: --rlimit and --cgroup are applied by the child to itself between fork and exec;
 * --unshare ipc/net/pid are entered by the shim (pid only affects its later children), mount by the
 * init or the child, never by the shim, which must keep reading the host's /proc.
 *
 * The files, each saying which process runs what:
 *   main.c       the shim: its set-up, the poll loop, what the loop reads, the teardown, EXIT
 *   options.c    the shim: the command line into struct shim, usage errors (exit 64)
 *   report.c     the shim: report lines on stdout (SHIMERR and the rest), small checked helpers
 *   proc.c       the shim: /proc reads, finding and signalling the members, reaping
 *   child.c      the child from fork to exec, and the shim's side of that fork (SPAWNED, EXECFAIL)
 *   isolation.c  cgroups (joined by the child, killed by the shim), --unshare and the pid namespace's init
 *   control.c    the shim: DETACH and LEAVE, the control socket a next owner attaches through (adoption)
 */
#ifndef SNAKEPIT_SHIM_H
#define SNAKEPIT_SHIM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/resource.h>
#include <sys/types.h>

#define RELAY_MAX 8192           /* longest OUT/ERR text; longer lines are split into OUT+/ERR+ pieces */
#define RELAY_BATCH 65536        /* relayed lines of one read are written to the JVM together, up to this */
#define CMD_MAX 256              /* longest command line accepted on stdin (DETACH carries a socket path) */
#define DEFAULT_GRACE_MS 2000
#define TEARDOWN_POLL_MS 10      /* pause between SIGKILL sweeps */
#define TEARDOWN_LIMIT_MS 10000  /* give up (SHIMERR) if children survive SIGKILL this long */
#define SHIMERR_MAX 16           /* a failing sweep repeats every 10 ms: don't flood the JVM */
#define TREE_MAX 65536           /* descendants a sweep follows through children lists; more: /proc scan */
#define CGROUPS_MAX 16           /* --cgroup and --kill-cgroup directories, each */
#define CGROUP_FILE_MAX 16       /* room for the longest file name appended to a cgroup DIR, "/cgroup.events" */
#define EX_USAGE 64
#define EX_SOFTWARE 70
#define NEEDS_ADMIN " (needs root or CAP_SYS_ADMIN)"

/* The resources --rlimit names; the table is options.c's, indexed like struct shim's limits. */
#define LIMIT_COUNT 6
struct limit_kind {
	const char *name;
	int resource;
};
extern const struct limit_kind limit_kinds[LIMIT_COUNT];

/* One --rlimit, as the child applies it; a later --rlimit for a name wins. */
struct limit {
	int set;
	struct rlimit value;
};

enum { NS_PID = 1, NS_IPC = 2, NS_MOUNT = 4, NS_NET = 8 };

/* Python's stdout or stderr, relayed line by line as OUT or ERR (OUT+ or ERR+ for a piece of a longer line). */
struct relay {
	int fd;
	const char *tag;  /* "OUT" or "ERR" */
	const char *name; /* for error messages */
	size_t len;
	char buf[RELAY_MAX + 1]; /* one byte more than a line, so an exactly RELAY_MAX line + '\n' is not split */
};

/* The fields of /proc/PID/stat the shim reads. */
struct pstat {
	char state;
	int ppid, pgrp, sid;
	unsigned long long start; /* field 22: clock ticks since boot */
};

/*
 * Everything the shim knows. There is one, in main.c, passed to every function that reads or changes
 * it; the child and the init start with a copy (fork) and only read theirs. No signal handler touches
 * it: signals arrive through a signalfd and are read in the loop.
 */
struct shim {
	/* Who the shim is, read once at start and reported in READY. */
	pid_t self_pid;
	unsigned long long self_start;
	char boot_id[64];

	/* The command line (options.c). */
	long default_grace;               /* --grace-ms: SIGTERM to SIGKILL on stdin EOF or a stop signal */
	struct limit limits[LIMIT_COUNT]; /* --rlimit, indexed like limit_kinds */
	const char *join_cgroups[CGROUPS_MAX]; /* --cgroup: Python joins each before exec */
	int join_count;
	const char *kill_cgroups[CGROUPS_MAX]; /* --kill-cgroup: cgroup.kill at teardown, then wait until empty */
	int kill_count;
	int unshared;   /* NS_* of --unshare */
	char **program; /* PROGRAM [ARGS...], NULL-terminated */

	/* Python. */
	pid_t py_pid;
	int py_status;
	int py_reaped;

	/* What the loop polls. */
	int sig_fd;
	int in_fd;  /* the owner's commands: stdin, or an adopting owner's connection; -1 once closed or left */
	int out_fd; /* where report lines go: stdout, or that connection; -1 while no owner (lines are dropped) */
	int ready_fd;
	struct relay out_relay;
	struct relay err_relay;
	/* Relayed lines not yet written: one write per read of Python's output, not one per line. */
	struct {
		char text[RELAY_BATCH];
		size_t len;
	} batch;
	int init_mnt_fd; /* with --unshare pid,mount: the init's mount namespace, for Python to join */

	/* A command line from stdin, read in pieces. */
	struct {
		char text[CMD_MAX];
		size_t len;
		int overlong;
	} cmd;

	/* Adoption (control.c): after DETACH the control socket listens; after LEAVE no one owns the shim
	 * until a next owner connects, or the window ends and the tree goes down. */
	struct {
		int listen_fd;            /* bound and listening after DETACH; -1 otherwise */
		char path[108];           /* its path (sun_path's size), unlinked when it closes */
		long window_ms;           /* DETACH's window */
		long long deadline;       /* CLOCK_MONOTONIC ms at which the window ends; -1: an owner holds the shim */
		int conn_fd;              /* the adopting owner's connection, once one attached */
	} adopt;

	/* Where the shim stands. */
	int ready_sent;
	long long stop_deadline; /* CLOCK_MONOTONIC ms of the SIGKILL phase; -1: not stopping */
	int kill_now;
	int stdout_gone;
	int failed;
	int shimerr_lines;

	/* The shim's descendants, breadth first, each with the parent it was found under (proc.c). */
	struct {
		pid_t pid[TREE_MAX];
		pid_t parent[TREE_MAX];
		int children_files; /* /proc/PID/task/TID/children exists (CONFIG_PROC_CHILDREN): 1, 0, or unknown */
	} tree;
};

/* report.c */
void emit(struct shim *s, const char *line, size_t len);
__attribute__((format(printf, 2, 3))) void emitf(struct shim *s, const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void shimerr(struct shim *s, const char *fmt, ...);
__attribute__((noreturn)) void die(struct shim *s, const char *what);
void begin_stop(struct shim *s, long grace_ms);
void report_identity(struct shim *s, const char *tag);
void close_fd(struct shim *s, int *fd);
long long now_ms(struct shim *s);
void set_nonblocking(struct shim *s, int fd);

/* options.c */
int parse_options(struct shim *s, int argc, char *argv[]);
int parse_ms(const char *s, long *ms);

/* proc.c */
int close_fds_from(int lowfd);
ssize_t read_small(struct shim *s, const char *path, char *buf, size_t size);
int read_stat(struct shim *s, pid_t pid, struct pstat *ps);
void sweep(struct shim *s, int sig);
int reap(struct shim *s);

/* child.c */
int reset_signal_dispositions(void);
void spawn(struct shim *s);

/* control.c */
void detach(struct shim *s, const char *args);
void leave(struct shim *s);
void attach(struct shim *s);
void window_over(struct shim *s);
void close_control(struct shim *s);

/* isolation.c */
int write_cgroup_file(const char *dir, const char *file, const char *text);
const char *kill_cgroup_members(struct shim *s);
int isolate(struct shim *s);

#endif
