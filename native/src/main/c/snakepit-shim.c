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
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RELAY_MAX 8192           /* longest OUT/ERR text; longer lines are split */
#define CMD_MAX 64               /* longest command line accepted on stdin */
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

/* The shim is single-threaded: its whole state is file-static. */
static pid_t self_pid;
static unsigned long long self_start;
static char boot_id[64];
static long default_grace = DEFAULT_GRACE_MS;

static pid_t py_pid = -1;
static int py_status;
static int py_reaped;

static int sig_fd = -1;
static int stdin_open = 1;
static int ready_fd = -1;
static int ready_sent;
static long long stop_deadline = -1; /* CLOCK_MONOTONIC ms of the SIGKILL phase; -1: not stopping */
static int kill_now;
static int stdout_gone;
static int failed;
static int shimerr_lines;

/* Isolation, from the command line. Limits are indexed by name; a later --rlimit for a name wins. */
struct limit {
	const char *name;
	int resource;
	int set;
	struct rlimit value;
};
static struct limit limits[] = {
	{ .name = "as", .resource = RLIMIT_AS },       { .name = "nofile", .resource = RLIMIT_NOFILE },
	{ .name = "cpu", .resource = RLIMIT_CPU },     { .name = "core", .resource = RLIMIT_CORE },
	{ .name = "nproc", .resource = RLIMIT_NPROC }, { .name = "fsize", .resource = RLIMIT_FSIZE },
};
#define LIMIT_COUNT ((int)(sizeof limits / sizeof limits[0]))

static const char *join_cgroups[CGROUPS_MAX]; /* --cgroup: Python joins each before exec */
static int join_count;
static const char *kill_cgroups[CGROUPS_MAX]; /* --kill-cgroup: cgroup.kill at teardown, then wait until empty */
static int kill_count;

enum { NS_PID = 1, NS_IPC = 2, NS_MOUNT = 4, NS_NET = 8 };
static const struct {
	const char *name;
	int flag;
} namespaces[] = { { "pid", NS_PID }, { "ipc", NS_IPC }, { "mount", NS_MOUNT }, { "net", NS_NET } };
static int unshared;         /* NS_* of --unshare */
static int init_mnt_fd = -1; /* with --unshare pid,mount: the init's mount namespace, for Python to join */

struct relay {
	int fd;
	const char *tag;  /* "OUT " or "ERR " */
	const char *name; /* for error messages */
	size_t len;
	char buf[RELAY_MAX + 1]; /* one byte more than a line, so an exactly RELAY_MAX line + '\n' is not split */
};
static struct relay out_relay = { .fd = -1, .tag = "OUT ", .name = "Python's stdout" };
static struct relay err_relay = { .fd = -1, .tag = "ERR ", .name = "Python's stderr" };

struct pstat {
	char state;
	int ppid, pgrp, sid;
	unsigned long long start; /* field 22: clock ticks since boot */
};

/* Steps of the child that can fail before Python runs; reported in EXECFAIL. STEP_RLIMIT and
 * STEP_CGROUP are followed by the limit's name or the cgroup's directory. */
enum {
	STEP_EXEC, STEP_PDEATHSIG, STEP_SIGACTION, STEP_SIGMASK, STEP_DUP, STEP_CLOSE, STEP_SETENV,
	STEP_RLIMIT, STEP_CGROUP, STEP_GETCWD, STEP_UNSHARE_MOUNT, STEP_MOUNT_PRIVATE, STEP_SETNS_MOUNT, STEP_CHDIR,
	STEP_COUNT
};
static const char *const step_names[STEP_COUNT] = {
	"execvp", "prctl(PR_SET_PDEATHSIG)", "sigaction", "sigprocmask", "dup", "close", "setenv",
	"rlimit", "cgroup", "getcwd",
	"unshare(CLONE_NEWNS) for --unshare mount",
	"mount(\"/\", MS_REC|MS_PRIVATE) for --unshare mount",
	"setns(CLONE_NEWNS) into the pid namespace's mount namespace for --unshare mount",
	"chdir back to the working directory after joining the mount namespace",
};

/* Steps of the pid namespace's init before it settles into reaping; reported in SHIMERR. */
enum { INIT_OK, INIT_PDEATHSIG, INIT_SIGMASK, INIT_STDIO, INIT_UNSHARE_MOUNT, INIT_MOUNT_PRIVATE, INIT_MOUNT_PROC,
       INIT_COUNT };
static const char *const init_step_names[INIT_COUNT] = {
	"", "prctl(PR_SET_PDEATHSIG)", "sigprocmask", "close the signalfd, /dev/null as stdin, stdout and stderr",
	"unshare(CLONE_NEWNS) for --unshare mount", "mount(\"/\", MS_REC|MS_PRIVATE) for --unshare mount",
	"mount proc on /proc for --unshare pid,mount",
};

static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

/* ---- reporting ---------------------------------------------------------------------------- */

/* Writes one whole line to the JVM; a reader that is gone (EPIPE) must not stop the teardown. */
static void emit(const char *line, size_t len)
{
	while (len > 0 && !stdout_gone) {
		ssize_t n = write(STDOUT_FILENO, line, len);
		if (n > 0) {
			line += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			/* stdout was inherited non-blocking: wait until the JVM drains it. */
			struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
			if (poll(&p, 1, -1) < 0 && errno != EINTR) {
				fprintf(stderr, "snakepit-shim: poll stdout: %s\n", strerror(errno));
				stdout_gone = 1;
				failed = 1;
			}
		} else {
			if (errno != EPIPE) {
				fprintf(stderr, "snakepit-shim: write stdout: %s\n", strerror(errno));
				failed = 1;
			}
			stdout_gone = 1;
		}
	}
}

__attribute__((format(printf, 1, 2)))
static void emitf(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2; /* truncated, but still one line */
	line[n] = '\n';
	emit(line, (size_t)n + 1);
}

/* Reports a failed system call (errno); the shim then heads for the teardown and exits 70. */
__attribute__((format(printf, 1, 2)))
static void shimerr(const char *fmt, ...)
{
	int e = errno;
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	failed = 1;
	if (shimerr_lines++ < SHIMERR_MAX)
		emitf("SHIMERR %s: %s (errno %d)", what, strerror(e), e);
	errno = e;
}

/* Before the fork there is nothing to tear down. */
__attribute__((noreturn))
static void die(const char *what)
{
	shimerr("%s", what);
	exit(EX_SOFTWARE);
}

static void close_fd(int *fd)
{
	/* Linux releases the descriptor even when close reports EINTR. */
	if (*fd >= 0 && close(*fd) < 0 && errno != EINTR)
		shimerr("close fd %d", *fd);
	*fd = -1;
}

static long long now_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0) {
		shimerr("clock_gettime");
		return 0;
	}
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_ms(const char *s, long *ms)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > INT_MAX)
		return -1;
	*ms = v;
	return 0;
}

/* ---- descriptors, signals, /proc ---------------------------------------------------------- */

/* Closes every descriptor >= lowfd. Used by the shim at start (3) and by the child before exec (5). */
static int close_fds_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned int)lowfd, ~0U, 0U) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
#endif
	/* Kernels before 5.9: walk /proc/self/fd. */
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end != '\0' || end == e->d_name || fd < lowfd || fd == dirfd(d))
			continue;
		if (close((int)fd) < 0 && errno == EBADF)
			return -1;
	}
	return closedir(d);
}

/* A shim started with 0, 1 or 2 closed would hand out those numbers to its own pipes. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		if (errno != EBADF)
			die("fcntl F_GETFD");
		int nul = open("/dev/null", O_RDWR);
		if (nul < 0)
			die("open /dev/null");
		if (nul != fd) {
			errno = EBADF;
			die("open /dev/null as a standard descriptor");
		}
	}
}

/* The kernel's own sigaction layout, for the signals glibc's sigaction() refuses to touch. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask[_NSIG / (8 * sizeof(unsigned long))];
};

/* Every disposition back to SIG_DFL: NuProcess leaves SIGPIPE ignored, a JVM may ignore others. */
static int reset_signal_dispositions(void)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < _NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, &dfl, NULL) == 0)
			continue;
		if (errno != EINVAL)
			return -1;
		/* glibc keeps signals 32 and 33 for itself and refuses them, yet a JVM leaves 32 ignored,
		 * and an ignored disposition survives exec: reset it through the system call. */
		struct kernel_sigaction kdfl;
		memset(&kdfl, 0, sizeof kdfl);
		kdfl.handler = SIG_DFL;
		if (syscall(SYS_rt_sigaction, sig, &kdfl, NULL, sizeof kdfl.mask) < 0)
			return -1;
	}
	return 0;
}

/* Reads a small file (a /proc or cgroup file) into buf, NUL-terminated; returns its length, or -1
 * with errno set. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close_fd(&fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

/* Reads /proc/PID/stat. comm (field 2) may hold spaces and ')', so fields count from the last ')'. */
static int read_stat(pid_t pid, struct pstat *ps)
{
	char path[32], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof buf) < 0)
		return -1;
	char *p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %c %d %d %d", &ps->state, &ps->ppid, &ps->pgrp, &ps->sid) != 4) {
		errno = EPROTO;
		return -1;
	}
	for (int field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' '); /* p: the space before field `field + 1` */
	char *end;
	if (p == NULL || (ps->start = strtoull(p + 1, &end, 10), end == p + 1)) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* ---- stopping: members are signalled by pid, because the shim belongs to its own group ------ */

/* The shim's group and session, and its children (escaped descendants come back to it as subreaper). */
static int is_member(const struct pstat *ps)
{
	return ps->state != 'Z' && ps->state != 'X' &&
	       (ps->pgrp == self_pid || ps->sid == self_pid || ps->ppid == self_pid);
}

/* Whether pid is still what a sweep found: a member (parent 0), or a live child of parent. */
static int still_ours(const struct pstat *ps, pid_t parent)
{
	if (parent == 0)
		return is_member(ps);
	return ps->state != 'Z' && ps->state != 'X' && ps->ppid == parent;
}

/* Signals through a pidfd and checks again, once the pidfd pins the process, that it is what the
 * sweep found (see still_ours), so a pid reused between the sweep and the signal is never hit. */
static void signal_member(pid_t pid, pid_t parent, int sig)
{
#ifdef SYS_pidfd_open
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0U);
	if (pfd >= 0) {
		struct pstat ps;
		if (read_stat(pid, &ps) == 0 && still_ours(&ps, parent) &&
		    syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0U) < 0 && errno != ESRCH)
			shimerr("pidfd_send_signal pid %d signal %d", (int)pid, sig);
		close_fd(&pfd);
		return;
	}
	if (errno == ESRCH)
		return;
	if (errno != ENOSYS) {
		shimerr("pidfd_open pid %d", (int)pid);
		return;
	}
#endif
	/* Kernels before 5.3: a plain kill right after the membership check. */
	if (kill(pid, sig) < 0 && errno != ESRCH)
		shimerr("kill pid %d signal %d", (int)pid, sig);
}

/* The shim's descendants, breadth first, each with the parent it was found under. */
static pid_t tree_pid[TREE_MAX];
static pid_t tree_parent[TREE_MAX];
static int children_files = -1; /* /proc/PID/task/TID/children exists (CONFIG_PROC_CHILDREN): 1, 0, or unknown */

/* Appends the children of every thread of pid to the tree. Returns -1 when the tree is full or a
 * children list did not fit its buffer: the caller then scans /proc instead. */
static int add_children(pid_t pid, size_t *n)
{
	char path[48];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (d == NULL)
		return 0; /* gone meanwhile */
	int full = 0;
	struct dirent *e;
	while (!full && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char file[96], buf[4096];
		snprintf(file, sizeof file, "/proc/%d/task/%.16s/children", (int)pid, e->d_name);
		ssize_t len = read_small(file, buf, sizeof buf);
		if (len < 0)
			continue; /* the thread or the process ended meanwhile */
		if ((size_t)len == sizeof buf - 1)
			full = 1;
		for (char *p = buf; !full;) {
			char *end;
			long child = strtol(p, &end, 10);
			if (end == p)
				break;
			if (*n >= TREE_MAX) {
				full = 1;
				break;
			}
			tree_pid[*n] = (pid_t)child;
			tree_parent[*n] = pid;
			(*n)++;
			p = end;
		}
	}
	closedir(d);
	return full ? -1 : 0;
}

/* Sends sig to every descendant of the shim, found by walking the children lists from the shim
 * down: the cost follows the size of the tree, not of the host (a hundred shims tearing down at
 * once would otherwise each read every /proc/PID/stat on the host, again and again). Every member
 * is a descendant: a process in the shim's session or group descends from it, and orphans come back
 * to it as their subreaper. Returns -1 where the walk cannot be trusted (no children files, or more
 * than fits): sweep() then scans /proc. */
static int sweep_tree(int sig)
{
	if (children_files < 0) {
		char file[64];
		snprintf(file, sizeof file, "/proc/%d/task/%d/children", (int)self_pid, (int)self_pid);
		children_files = access(file, R_OK) == 0;
	}
	if (!children_files)
		return -1;
	size_t n = 0;
	if (add_children(self_pid, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (add_children(tree_pid[i], &n) < 0)
			return -1;
	/* The children lists are read without stopping anyone: a process re-parented during the walk
	 * may be missed, which the next sweep of the teardown loop catches (it runs until no child is
	 * left). */
	for (size_t i = 0; i < n; i++)
		signal_member(tree_pid[i], tree_parent[i], sig);
	return 0;
}

/* Sends sig to every live member but the shim. */
static void sweep(int sig)
{
	if (sweep_tree(sig) == 0)
		return;
	DIR *d = opendir("/proc");
	if (d == NULL) {
		shimerr("opendir /proc");
		return;
	}
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (e == NULL)
			break;
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		struct pstat ps;
		if (*end != '\0' || pid <= 0 || pid == self_pid)
			continue;
		if (read_stat((pid_t)pid, &ps) < 0 || !is_member(&ps))
			continue; /* gone meanwhile, or not ours */
		signal_member((pid_t)pid, 0, sig);
	}
	if (errno != 0)
		shimerr("readdir /proc");
	if (closedir(d) < 0)
		shimerr("closedir /proc");
}

/* Reaps every ended child: Python (its status is kept) and re-parented orphans (silently).
 * Returns 1 once no child is left, 0 while some still run, -1 on error. */
static int reap(void)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid > 0) {
			if (pid == py_pid) {
				py_status = st;
				py_reaped = 1;
			}
		} else if (pid == 0) {
			return 0;
		} else if (errno == ECHILD) {
			return 1;
		} else if (errno != EINTR) {
			shimerr("waitpid");
			return -1;
		}
	}
}

/* Starts a stop, or brings its SIGKILL deadline forward. */
static void begin_stop(long grace_ms)
{
	long long deadline = now_ms() + grace_ms;
	if (stop_deadline < 0) {
		sweep(SIGTERM);
		stop_deadline = deadline;
	} else if (deadline < stop_deadline) {
		stop_deadline = deadline;
	}
}

/* ---- what the loop reads ------------------------------------------------------------------ */

static void relay_line(const struct relay *r, const char *text, size_t len)
{
	static char line[4 + RELAY_MAX + 1];
	memcpy(line, r->tag, 4);
	memcpy(line + 4, text, len);
	line[4 + len] = '\n';
	emit(line, len + 5);
}

/* One read from Python's stdout or stderr, emitting every complete line. With `final` (after the
 * teardown, every writer dead), an empty pipe counts as closed: nothing more can come. */
static void relay_read(struct relay *r, int final)
{
	ssize_t n = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
	if (n < 0 && (errno == EINTR || (errno == EAGAIN && !final)))
		return;
	if (n <= 0) {
		if (n < 0 && errno != EAGAIN)
			shimerr("read %s", r->name);
		if (r->len > 0)
			relay_line(r, r->buf, r->len); /* a last line without its newline */
		r->len = 0;
		close_fd(&r->fd);
		return;
	}
	r->len += (size_t)n;
	char *p = r->buf, *end = r->buf + r->len, *nl;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		relay_line(r, p, (size_t)(nl - p));
		p = nl + 1;
	}
	r->len = (size_t)(end - p);
	if (r->len == sizeof r->buf) { /* more than RELAY_MAX bytes without a newline: split */
		relay_line(r, p, RELAY_MAX);
		p += RELAY_MAX;
		r->len = 1;
	}
	memmove(r->buf, p, r->len);
}

static void report_ready(void)
{
	struct pstat ps;
	ready_sent = 1;
	if (py_reaped)
		return; /* its identity can no longer be read */
	if (read_stat(py_pid, &ps) < 0) {
		shimerr("read /proc/%d/stat", (int)py_pid);
		return;
	}
	pid_t pgid = getpgid(py_pid);
	if (pgid < 0) {
		shimerr("getpgid %d", (int)py_pid);
		return;
	}
	emitf("READY %d %d %llu %s %d %llu", (int)py_pid, (int)pgid, ps.start, boot_id, (int)self_pid, self_start);
}

/* Python's fd 3: the first line means ready; the rest is read and dropped. */
static void read_ready(void)
{
	char buf[256];
	while (ready_fd >= 0) {
		ssize_t n = read(ready_fd, buf, sizeof buf);
		if (n > 0) {
			if (!ready_sent && memchr(buf, '\n', (size_t)n) != NULL)
				report_ready();
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return;
		} else {
			if (n < 0)
				shimerr("read the readiness pipe");
			close_fd(&ready_fd); /* EOF: polling it further would spin on POLLHUP */
		}
	}
}

static void run_command(const char *cmd)
{
	long ms;
	if (strcmp(cmd, "KILL") == 0)
		kill_now = 1;
	else if (strncmp(cmd, "STOP ", 5) == 0 && parse_ms(cmd + 5, &ms) == 0)
		begin_stop(ms);
	else
		fprintf(stderr, "snakepit-shim: ignoring unknown command '%s' (expected 'STOP <grace_ms>' or 'KILL')\n", cmd);
}

/* stdin is the JVM's lifeline: commands, and EOF when the JVM is gone. */
static void read_commands(void)
{
	static char cmd[CMD_MAX];
	static size_t len;
	static int overlong;
	char buf[256];
	ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (n < 0)
			shimerr("read stdin");
		stdin_open = 0; /* stop polling it: it would spin on POLLHUP */
		begin_stop(default_grace);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			cmd[len] = '\0';
			if (!overlong)
				run_command(cmd);
			len = 0;
			overlong = 0;
		} else if (len < CMD_MAX - 1) {
			cmd[len++] = buf[i];
		} else {
			overlong = 1;
		}
	}
}

/* act = 0 during the teardown: signals are only drained there. */
static void read_signals(int act)
{
	struct signalfd_siginfo si;
	int chld = 0;
	for (;;) {
		ssize_t n = read(sig_fd, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n != (ssize_t)sizeof si) {
			if (n >= 0)
				errno = EIO;
			shimerr("read signalfd");
			break;
		}
		if (si.ssi_signo == SIGCHLD)
			chld = 1;
		else if (act && stop_deadline < 0) /* stop signals while stopping change nothing */
			begin_stop(default_grace);
	}
	if (chld && act) {
		read_ready(); /* Python may have written it just before exiting: read its identity before reaping it */
		reap();
	}
}

/* ---- cgroups: joined by the child, killed and waited for by the shim ----------------------- */

/* Writes text to DIR/FILE in one write, as cgroup files expect. Returns 0, or -1 with errno set.
 * Used by the child too, so it reports nothing itself. */
static int write_cgroup_file(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, file); /* fits: checked when the options were read */
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t n;
	do
		n = write(fd, text, len);
	while (n < 0 && errno == EINTR);
	int e = n < 0 ? errno : EIO;
	int closed = close(fd) == 0 || errno == EINTR;
	if (n != (ssize_t)len) {
		errno = e;
		return -1;
	}
	return closed ? 0 : -1;
}

/* 1 while DIR/cgroup.events says "populated 1"; 0 when it says 0 or DIR is gone; -1 on error. */
static int cgroup_populated(const char *dir)
{
	char path[PATH_MAX], buf[256];
	snprintf(path, sizeof path, "%s/cgroup.events", dir);
	if (read_small(path, buf, sizeof buf) < 0) /* ENODEV: removed after the open */
		return errno == ENOENT || errno == ENOTDIR || errno == ENODEV ? 0 : -1;
	for (char *line = buf; *line != '\0';) {
		if (strncmp(line, "populated ", 10) == 0)
			return line[10] == '1';
		char *nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	errno = EPROTO;
	return -1;
}

/* After each SIGKILL sweep: cgroup.kill for every --kill-cgroup that is still populated, so that
 * processes that left the shim's tree (or the whole pid namespace) go too. Returns the first
 * one still populated, or NULL when all are empty. */
static const char *kill_cgroup_members(void)
{
	const char *populated = NULL;
	for (int k = 0; k < kill_count; k++) {
		int p = cgroup_populated(kill_cgroups[k]);
		if (p < 0)
			shimerr("read %s/cgroup.events", kill_cgroups[k]); /* cannot be waited for: counts as empty */
		if (p <= 0)
			continue;
		if (populated == NULL)
			populated = kill_cgroups[k];
		/* No cgroup.kill before Linux 5.14: the sweeps alone have to empty it then. */
		if (write_cgroup_file(kill_cgroups[k], "cgroup.kill", "1") < 0 && errno != ENOENT)
			shimerr("write 1 to %s/cgroup.kill", kill_cgroups[k]);
	}
	return populated;
}

/* SIGKILLs the members until waitpid reports no child: with the shim as subreaper,
 * no child left means no descendant left. Each --kill-cgroup must be empty as well.
 * Returns 0 then, -1 if that could not be reached. */
static int teardown(void)
{
	long long give_up = now_ms() + TEARDOWN_LIMIT_MS;
	for (;;) {
		sweep(SIGKILL);
		const char *populated = kill_cgroup_members();
		int r = reap();
		if (r < 0)
			return -1;
		if (r > 0 && populated == NULL)
			return 0;
		if (now_ms() >= give_up) {
			failed = 1;
			if (r == 0)
				emitf("SHIMERR teardown: children still alive %d ms after SIGKILL", TEARDOWN_LIMIT_MS);
			else
				emitf("SHIMERR teardown: cgroup %s still populated %d ms after SIGKILL", populated,
				      TEARDOWN_LIMIT_MS);
			return -1;
		}
		/* Wake on SIGCHLD, or after a short pause to catch members that only now became children. */
		struct pollfd p = { .fd = sig_fd, .events = POLLIN };
		if (poll(&p, 1, TEARDOWN_POLL_MS) < 0 && errno != EINTR) {
			shimerr("poll");
			return -1;
		}
		read_signals(0);
	}
}

/* ---- the child: from fork to exec --------------------------------------------------------- */

/* Child only: tells the shim why Python could not be started, then gives up. arg: for STEP_RLIMIT
 * and STEP_CGROUP, the index of the limit or the directory; -1 otherwise. */
__attribute__((noreturn))
static void child_fail_at(int report_fd, int step, int arg)
{
	int msg[3] = { errno, step, arg };
	if (write(report_fd, msg, sizeof msg) < 0) {
		/* nothing left to tell with: the shim sees exit status 127 alone */
	}
	_exit(127);
}

__attribute__((noreturn))
static void child_fail(int report_fd, int step)
{
	child_fail_at(report_fd, step, -1);
}

/* Child only: whether the shim has died. stdin_writer: the child's copy of the write end of
 * Python's stdin, which it closes here. */
static int shim_gone(int stdin_reader, int stdin_writer)
{
	if (!(unshared & NS_PID))
		return getppid() != self_pid;
	/* In a new pid namespace getppid() reads 0 whatever became of the shim. Instead: once this
	 * copy is closed, only the shim holds a write end of Python's stdin, so a hang-up means it is gone. */
	if (close(stdin_writer) < 0 && errno != EINTR)
		return 1;
	struct pollfd p = { .fd = stdin_reader, .events = POLLIN };
	return poll(&p, 1, 0) < 0 || (p.revents & POLLHUP) != 0;
}

/* Child only: with --unshare mount, a mount namespace of Python's own (mount alone), or the one the
 * pid namespace's init set up with its own /proc (pid,mount). */
static void enter_mount_namespace(int report_fd)
{
	if (!(unshared & NS_MOUNT))
		return;
	if (!(unshared & NS_PID)) {
		if (unshare(CLONE_NEWNS) < 0)
			child_fail(report_fd, STEP_UNSHARE_MOUNT);
		/* Private, so that nothing mounted inside propagates back to the host. */
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			child_fail(report_fd, STEP_MOUNT_PRIVATE);
		return;
	}
	/* setns() moves the working directory to the namespace's root: come back to the same path. */
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof cwd) == NULL)
		child_fail(report_fd, STEP_GETCWD);
	if (setns(init_mnt_fd, CLONE_NEWNS) < 0)
		child_fail(report_fd, STEP_SETNS_MOUNT);
	if (chdir(cwd) < 0)
		child_fail(report_fd, STEP_CHDIR);
}

/* Runs in the child between fork and exec; never returns. fds: stdin's read end, stdout's and
 * stderr's write ends, the readiness pipe's write end; stdin_writer: the shim's end of stdin.
 * The shim is single-threaded, so opendir and setenv (which allocate) are safe here after fork. */
__attribute__((noreturn))
static void run_child(char *const argv[], const int fds[4], int stdin_writer, int report_fd)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(report_fd, STEP_PDEATHSIG);
	/* The shim may have died before the line above: then nobody would ever kill us. */
	if (shim_gone(fds[0], stdin_writer))
		_exit(1);
	/* Cgroups first, by host paths, before a mount namespace could change what a path means.
	 * Everything Python forks from now on is inside; the shim is not. */
	char pid_text[16];
	snprintf(pid_text, sizeof pid_text, "%d", (int)getpid());
	for (int k = 0; k < join_count; k++)
		if (write_cgroup_file(join_cgroups[k], "cgroup.procs", pid_text) < 0)
			child_fail_at(report_fd, STEP_CGROUP, k);
	enter_mount_namespace(report_fd);
	if (reset_signal_dispositions() < 0)
		child_fail(report_fd, STEP_SIGACTION);
	sigset_t none;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(report_fd, STEP_SIGMASK);

	/* Lift every source above the targets 0-4 first, so no dup2 overwrites a source not yet moved. */
	int high[5];
	for (int i = 0; i < 5; i++) {
		high[i] = fcntl(i < 4 ? fds[i] : report_fd, F_DUPFD_CLOEXEC, 5);
		if (high[i] < 0)
			child_fail(report_fd, STEP_DUP);
	}
	for (int i = 0; i < 4; i++) /* dup2 clears close-on-exec on the target */
		if (dup2(high[i], i) < 0)
			child_fail(report_fd, STEP_DUP);
	if (dup3(high[4], 4, O_CLOEXEC) < 0) /* the report pipe stays close-on-exec: EOF tells exec worked */
		child_fail(report_fd, STEP_DUP);
	report_fd = 4;
	if (close_fds_from(5) < 0)
		child_fail(report_fd, STEP_CLOSE);
	if (setenv("SNAKEPIT_READY_FD", "3", 1) < 0)
		child_fail(report_fd, STEP_SETENV);
	/* Limits last: a low nofile or as would fail the steps above. */
	for (int k = 0; k < LIMIT_COUNT; k++)
		if (limits[k].set && setrlimit(limits[k].resource, &limits[k].value) < 0)
			child_fail_at(report_fd, STEP_RLIMIT, k);
	execvp(argv[0], argv);
	child_fail(report_fd, STEP_EXEC);
}

/* EXECFAIL <errno> [<step>[ <what>]: ]<strerror>, from what the child reported. */
static void report_exec_failure(int e, int step, int arg)
{
	const char *hint = "";
	if (e == EPERM && step == STEP_RLIMIT)
		hint = " (raising a hard limit needs CAP_SYS_RESOURCE; nofile stops at /proc/sys/fs/nr_open)";
	else if (e == EPERM && step >= STEP_UNSHARE_MOUNT && step <= STEP_SETNS_MOUNT)
		hint = NEEDS_ADMIN;
	if (step == STEP_RLIMIT && arg >= 0 && arg < LIMIT_COUNT)
		emitf("EXECFAIL %d rlimit %s%s: %s", e, limits[arg].name, hint, strerror(e));
	else if (step == STEP_CGROUP && arg >= 0 && arg < join_count)
		emitf("EXECFAIL %d cgroup %s: %s", e, join_cgroups[arg], strerror(e));
	else if (step == STEP_EXEC || step < 0 || step >= STEP_COUNT)
		emitf("EXECFAIL %d %s", e, strerror(e));
	else
		emitf("EXECFAIL %d %s%s: %s", e, step_names[step], hint, strerror(e));
}

static void set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK");
}

/* Forks Python; returns in the shim only. */
static void spawn(char *const argv[])
{
	int in[2], out[2], err[2], rdy[2], rep[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(rdy, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0)
		die("pipe2");
	/* Only the shim's read ends: Python's ends stay blocking, as any program expects. */
	set_nonblocking(out[0]);
	set_nonblocking(err[0]);
	set_nonblocking(rdy[0]);

	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		const int fds[4] = { in[0], out[1], err[1], rdy[1] };
		run_child(argv, fds, in[1], rep[1]);
	}

	/* The shim, from here on. It keeps in[1] open and never writes to it: Python's stdin
	 * reaches EOF exactly when the shim is gone. */
	py_pid = pid;
	emitf("SPAWNED %d", (int)pid);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&rdy[1]);
	close_fd(&rep[1]);
	close_fd(&init_mnt_fd); /* the child has joined it, or holds its own copy */
	out_relay.fd = out[0];
	err_relay.fd = err[0];
	ready_fd = rdy[0];

	/* Blocks until exec succeeds (EOF, close-on-exec) or the child reports why it failed. */
	int msg[3];
	ssize_t n;
	do
		n = read(rep[0], msg, sizeof msg);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		shimerr("read the exec report pipe");
	} else if (n == (ssize_t)sizeof msg) {
		report_exec_failure(msg[0], msg[1], msg[2]);
		while (waitpid(pid, &py_status, 0) < 0) {
			if (errno != EINTR) {
				shimerr("waitpid %d", (int)pid);
				break;
			}
		}
		py_reaped = !failed;
	} else if (n != 0) {
		errno = EPROTO;
		shimerr("read the exec report pipe: %zd bytes", n);
	}
	close_fd(&rep[0]);
}

/* ---- --unshare: the namespaces the shim enters itself, and the pid namespace's init ---------- */

/* Init only: everything before it settles into reaping. Returns INIT_OK or the step that failed. */
static int set_up_init(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return INIT_PDEATHSIG;
	/* All blocked: a namespace's init drops unhandled signals anyway, and SIGCHLD must stay pending
	 * for sigwaitinfo. */
	sigset_t all;
	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
		return INIT_SIGMASK;
	/* Nothing of the shim's: not its signals, not its stdio (the init must never write to the JVM). */
	if (close(sig_fd) < 0 && errno != EINTR)
		return INIT_STDIO;
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0)
		return INIT_STDIO;
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(nul, fd) < 0)
			return INIT_STDIO;
	if (close(nul) < 0 && errno != EINTR)
		return INIT_STDIO;
	if (unshared & NS_MOUNT) {
		if (unshare(CLONE_NEWNS) < 0)
			return INIT_UNSHARE_MOUNT;
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			return INIT_MOUNT_PRIVATE;
		/* A proc of the new pid namespace, so that /proc inside shows its pids only. */
		if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			return INIT_MOUNT_PROC;
	}
	return INIT_OK;
}

/* The init: pid 1 of the new pid namespace, forked by the shim before Python. Orphans inside the
 * namespace are re-parented to it (not to the shim), so it reaps them; it never execs and does
 * nothing else. When it dies (SIGKILL in the teardown, or its PDEATHSIG when the shim dies) the
 * kernel kills everything left in the namespace, setsid() or not. report: the set-up pipe. */
__attribute__((noreturn))
static void run_init(int report)
{
	int msg[2] = { 0, set_up_init() };
	if (msg[1] != INIT_OK)
		msg[0] = errno;
	/* getppid() reads 0 in a namespace's init whatever became of the shim. The shim alone holds the
	 * read end of this pipe, so EPIPE here means it died before PR_SET_PDEATHSIG was in place. */
	if (write(report, msg, sizeof msg) != (ssize_t)sizeof msg || msg[1] != INIT_OK)
		_exit(1);
	if (close(report) < 0 && errno != EINTR)
		_exit(1);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG | __WALL) > 0)
			continue;
		/* No child yet (ECHILD) or none ended: sleep until one does. There is no one to report
		 * an error to, and sigwaitinfo on a blocked SIGCHLD can only be interrupted. */
		sigwaitinfo(&chld, NULL);
	}
}

/* The shim: forks the init and waits until its set-up is done, so that Python can join its mount
 * namespace. Returns 0, or -1 after a SHIMERR (the teardown then takes the init down). */
static int start_init(void)
{
	int setup[2];
	if (pipe2(setup, O_CLOEXEC) < 0) {
		shimerr("pipe2 for the pid namespace's init");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		shimerr("fork the pid namespace's init");
		close_fd(&setup[0]);
		close_fd(&setup[1]);
		return -1;
	}
	if (pid == 0) {
		/* Held here, the read end would keep the write below from failing once the shim is gone. */
		if (close(setup[0]) < 0 && errno != EINTR)
			_exit(1);
		run_init(setup[1]);
	}
	close_fd(&setup[1]);
	int msg[2];
	ssize_t n;
	do
		n = read(setup[0], msg, sizeof msg);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close_fd(&setup[0]);
	if (n < 0) {
		errno = e;
		shimerr("read the set-up pipe of the pid namespace's init");
		return -1;
	}
	if (n != (ssize_t)sizeof msg) {
		errno = n == 0 ? ECHILD : EPROTO;
		shimerr("the pid namespace's init (pid %d) ended during its set-up", (int)pid);
		return -1;
	}
	if (msg[1] != INIT_OK) {
		errno = msg[0];
		shimerr("the pid namespace's init: %s%s", msg[1] > 0 && msg[1] < INIT_COUNT ? init_step_names[msg[1]] : "?",
		        msg[0] == EPERM ? NEEDS_ADMIN : "");
		return -1;
	}
	if (unshared & NS_MOUNT) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
		init_mnt_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (init_mnt_fd < 0) {
			shimerr("open %s for --unshare mount", path);
			return -1;
		}
	}
	return 0;
}

/* A new network namespace has a loopback device, but down. */
static int loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		shimerr("socket(AF_INET) to bring up lo for --unshare net");
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	int r = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (r < 0) {
		shimerr("ioctl(SIOCGIFFLAGS) on lo for --unshare net");
	} else {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
		if (r < 0)
			shimerr("ioctl(SIOCSIFFLAGS) bringing lo up for --unshare net%s", errno == EPERM ? NEEDS_ADMIN : "");
	}
	close_fd(&s);
	return r < 0 ? -1 : 0;
}

/* The shim, before forking Python: ipc and net it enters itself (it needs neither); pid affects only
 * the children it forks afterwards, the first of which is the init. Mount is the init's or the
 * child's to enter, never the shim's: it reads the host's /proc by host pids. Returns 0, or -1
 * after a SHIMERR. */
static int isolate(void)
{
	if ((unshared & NS_IPC) && unshare(CLONE_NEWIPC) < 0) {
		shimerr("unshare(CLONE_NEWIPC) for --unshare ipc%s", errno == EPERM ? NEEDS_ADMIN : "");
		return -1;
	}
	if (unshared & NS_NET) {
		if (unshare(CLONE_NEWNET) < 0) {
			shimerr("unshare(CLONE_NEWNET) for --unshare net%s", errno == EPERM ? NEEDS_ADMIN : "");
			return -1;
		}
		if (loopback_up() < 0)
			return -1;
	}
	if (unshared & NS_PID) {
		if (unshare(CLONE_NEWPID) < 0) {
			shimerr("unshare(CLONE_NEWPID) for --unshare pid%s", errno == EPERM ? NEEDS_ADMIN : "");
			return -1;
		}
		return start_init();
	}
	return 0;
}

/* ---- main --------------------------------------------------------------------------------- */

static void usage(void)
{
	fputs("usage: snakepit-shim [--grace-ms N] [--rlimit NAME=SOFT[:HARD]]... [--cgroup DIR]...\n"
	      "                     [--kill-cgroup DIR]... [--unshare LIST] [--] PROGRAM [ARGS...]\n"
	      "Runs PROGRAM in a new session and reports on stdout (see docs/SHIM-PROTOCOL.md).\n"
	      "  --grace-ms N               milliseconds from SIGTERM to SIGKILL when stdin closes (default 2000)\n"
	      "  --rlimit NAME=SOFT[:HARD]  setrlimit for PROGRAM, not the shim. NAME: as, nofile, cpu, core, nproc,\n"
	      "                             fsize; SOFT, HARD: a decimal integer or 'unlimited'; HARD defaults to SOFT.\n"
	      "                             Repeatable; the last one for a NAME wins\n"
	      "  --cgroup DIR               PROGRAM writes its pid to DIR/cgroup.procs before exec; the shim stays\n"
	      "                             outside. Repeatable (up to 16)\n"
	      "  --kill-cgroup DIR          at teardown write 1 to DIR/cgroup.kill (cgroup v2) and wait until\n"
	      "                             DIR/cgroup.events says populated 0. Repeatable (up to 16)\n"
	      "  --unshare LIST             new namespaces for PROGRAM, LIST a comma-separated subset of\n"
	      "                             pid,ipc,mount,net (needs root or CAP_SYS_ADMIN). Repeatable\n",
	      stderr);
}

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("snakepit-shim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	usage();
	return EX_USAGE;
}

/* A limit as --rlimit writes it: decimal digits only (no sign, no spaces) or "unlimited". */
static int parse_rlim(const char *s, size_t len, rlim_t *v)
{
	if (len == 9 && strncmp(s, "unlimited", 9) == 0) {
		*v = RLIM_INFINITY;
		return 0;
	}
	if (len == 0)
		return -1;
	rlim_t x = 0;
	for (size_t k = 0; k < len; k++) {
		if (s[k] < '0' || s[k] > '9')
			return -1;
		rlim_t digit = (rlim_t)(s[k] - '0');
		if (x > (RLIM_INFINITY - digit) / 10)
			return -1;
		x = x * 10 + digit;
	}
	*v = x;
	return 0;
}

/* --rlimit NAME=SOFT[:HARD]. Returns 0, or EX_USAGE after saying why. */
static int parse_rlimit(const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct limit *l = NULL;
	for (int k = 0; eq != NULL && k < LIMIT_COUNT; k++)
		if (strlen(limits[k].name) == (size_t)(eq - arg) && strncmp(arg, limits[k].name, (size_t)(eq - arg)) == 0)
			l = &limits[k];
	struct rlimit v;
	const char *soft = eq != NULL ? eq + 1 : "";
	const char *colon = strchr(soft, ':');
	size_t soft_len = colon != NULL ? (size_t)(colon - soft) : strlen(soft);
	if (l == NULL || parse_rlim(soft, soft_len, &v.rlim_cur) < 0 ||
	    (colon != NULL && parse_rlim(colon + 1, strlen(colon + 1), &v.rlim_max) < 0))
		return usage_error("--rlimit needs NAME=SOFT[:HARD], NAME one of as, nofile, cpu, core, nproc, fsize, "
		                   "SOFT and HARD each a decimal integer or 'unlimited'; got '%s'", arg);
	if (colon == NULL)
		v.rlim_max = v.rlim_cur;
	if (v.rlim_cur > v.rlim_max)
		return usage_error("--rlimit %s: the soft limit is above the hard limit (NAME=SOFT[:HARD] needs SOFT <= HARD)",
		                   arg);
	l->value = v;
	l->set = 1;
	return 0;
}

/* --cgroup DIR and --kill-cgroup DIR. Returns 0, or EX_USAGE after saying why. */
static int add_cgroup(const char *option, const char *dir, const char *dirs[], int *count)
{
	if (dir[0] == '\0' || strchr(dir, '\n') != NULL || strlen(dir) >= PATH_MAX - CGROUP_FILE_MAX)
		return usage_error("%s needs a cgroup directory DIR (not empty, no newline, under %d bytes); got '%s'",
		                   option, PATH_MAX - CGROUP_FILE_MAX, dir);
	if (*count == CGROUPS_MAX)
		return usage_error("%s DIR can be given at most %d times; '%s' is one too many", option, CGROUPS_MAX, dir);
	dirs[(*count)++] = dir;
	return 0;
}

/* --unshare LIST. Returns 0, or EX_USAGE after saying why. */
static int parse_unshare(const char *list)
{
	int flags = 0;
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		int flag = 0;
		for (size_t k = 0; k < sizeof namespaces / sizeof namespaces[0]; k++)
			if (strlen(namespaces[k].name) == len && strncmp(p, namespaces[k].name, len) == 0)
				flag = namespaces[k].flag;
		if (flag == 0)
			return usage_error("--unshare needs LIST, a comma-separated subset of pid,ipc,mount,net; got '%s'", list);
		flags |= flag;
		p += len;
		if (*p == '\0')
			break;
	}
	unshared |= flags;
	return 0;
}

int main(int argc, char *argv[])
{
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		/* Every option but "--" takes a value; a missing one reads as "" and is refused below. */
		const char *value = i + 1 < argc ? argv[i + 1] : "";
		int bad = 0;
		if (strcmp(argv[i], "--grace-ms") == 0) {
			if (i + 1 >= argc || parse_ms(argv[i + 1], &default_grace) < 0) {
				fprintf(stderr, "snakepit-shim: --grace-ms needs milliseconds from 0 to %d, got '%s'\n",
				        INT_MAX, i + 1 < argc ? argv[i + 1] : "");
				usage();
				return EX_USAGE;
			}
			i++;
		} else if (strcmp(argv[i], "--rlimit") == 0) {
			bad = parse_rlimit(value);
			i++;
		} else if (strcmp(argv[i], "--cgroup") == 0) {
			bad = add_cgroup(argv[i], value, join_cgroups, &join_count);
			i++;
		} else if (strcmp(argv[i], "--kill-cgroup") == 0) {
			bad = add_cgroup(argv[i], value, kill_cgroups, &kill_count);
			i++;
		} else if (strcmp(argv[i], "--unshare") == 0) {
			bad = parse_unshare(value);
			i++;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "snakepit-shim: unknown option '%s'\n", argv[i]);
			usage();
			return EX_USAGE;
		} else {
			break;
		}
		if (bad)
			return bad;
	}
	if (i >= argc) {
		fprintf(stderr, "snakepit-shim: no PROGRAM given\n");
		usage();
		return EX_USAGE;
	}

	/* The shim, before the fork: make itself a clean parent, whatever NuProcess left it. */
	self_pid = getpid();
	ensure_std_fds();
	if (close_fds_from(3) < 0)
		die("close inherited descriptors");
	/* Its own session and group (pgid = sid = shim pid). Fails with EPERM if started as a group
	 * leader, e.g. as a lone job of an interactive shell: run it through setsid(1) or in a pipeline. */
	if (setsid() < 0)
		die("setsid (the shim must not start as a process-group leader)");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		die("prctl(PR_SET_CHILD_SUBREAPER)");

	/* Block before resetting, so a SIGTERM arriving in between is queued, not fatal. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t s = 0; s < sizeof stop_signals / sizeof stop_signals[0]; s++)
		sigaddset(&set, stop_signals[s]);
	if (sigprocmask(SIG_SETMASK, &set, NULL) < 0)
		die("sigprocmask");
	/* An inherited SIG_IGN would discard signals before the signalfd sees them (and an ignored
	 * SIGCHLD would make the kernel reap Python, losing its status). */
	if (reset_signal_dispositions() < 0)
		die("sigaction SIG_DFL");
	/* In the shim only: a JVM that is gone must turn writes into EPIPE, not kill the shim. */
	struct sigaction ign;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &ign, NULL) < 0)
		die("sigaction SIGPIPE");
	sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig_fd < 0)
		die("signalfd");

	struct pstat self;
	if (read_stat(self_pid, &self) < 0)
		die("read /proc/self/stat");
	self_start = self.start;
	int bfd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (bfd < 0)
		die("open /proc/sys/kernel/random/boot_id");
	ssize_t bn = read(bfd, boot_id, sizeof boot_id - 1);
	if (bn <= 0)
		die("read /proc/sys/kernel/random/boot_id");
	boot_id[bn] = '\0';
	boot_id[strcspn(boot_id, "\n")] = '\0';
	close_fd(&bfd);

	/* After a failed --unshare set-up there is no Python: the loop below is skipped and the
	 * teardown takes down what was started (the init). */
	if (isolate() == 0)
		spawn(argv + i);

	/* The shim's loop, until Python is gone, the grace is over, KILL came, or a system call failed. */
	enum { P_SIG, P_STDIN, P_READY, P_OUT, P_ERR, P_COUNT };
	struct pollfd pfd[P_COUNT];
	while (!failed && !py_reaped && !kill_now) {
		int timeout = -1;
		if (stop_deadline >= 0) {
			long long left = stop_deadline - now_ms();
			if (left <= 0)
				break; /* the grace is over: SIGKILL */
			timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		pfd[P_SIG] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		pfd[P_STDIN] = (struct pollfd){ .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN };
		pfd[P_READY] = (struct pollfd){ .fd = ready_fd, .events = POLLIN };
		pfd[P_OUT] = (struct pollfd){ .fd = out_relay.fd, .events = POLLIN };
		pfd[P_ERR] = (struct pollfd){ .fd = err_relay.fd, .events = POLLIN };
		if (poll(pfd, P_COUNT, timeout) < 0) {
			if (errno != EINTR)
				shimerr("poll");
			continue;
		}
		/* Readiness before SIGCHLD: Python's identity must be read before it is reaped. */
		if (pfd[P_READY].revents)
			read_ready();
		if (pfd[P_OUT].revents)
			relay_read(&out_relay, 0);
		if (pfd[P_ERR].revents)
			relay_read(&err_relay, 0);
		if (pfd[P_STDIN].revents)
			read_commands();
		if (pfd[P_SIG].revents)
			read_signals(1);
	}

	/* Python has exited or is to be killed: nothing of the tree may remain when EXIT is written. */
	int torn_down = teardown();
	while (out_relay.fd >= 0)
		relay_read(&out_relay, 1);
	while (err_relay.fd >= 0)
		relay_read(&err_relay, 1);
	if (torn_down == 0 && !py_reaped && py_pid > 0) {
		errno = ECHILD;
		shimerr("no wait status was collected for Python (pid %d)", (int)py_pid);
	}
	if (torn_down < 0 || failed)
		return EX_SOFTWARE;
	if (WIFEXITED(py_status))
		emitf("EXIT %d exited %d", py_status, WEXITSTATUS(py_status));
	else
		emitf("EXIT %d signaled %d %d", py_status, WTERMSIG(py_status), WCOREDUMP(py_status) ? 1 : 0);
	return failed ? EX_SOFTWARE : 0;
}
