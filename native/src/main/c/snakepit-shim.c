/*
 * snakepit-shim: runs one Python worker in a session and process group of its own, reports on stdout,
 * and makes sure nothing it started is alive when it writes its last line. The contract is
 * docs/SHIM-PROTOCOL.md. Linux only; single-threaded; one poll loop; no signal handlers (signalfd).
 *
 *   JVM (NuProcess) ── stdin: commands, EOF = JVM gone; stdout: report lines ──▶ shim (session leader, subreaper)
 *                                                                                 └─ Python (fd 0 lifeline, 1/2 relayed, 3 readiness)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
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
#define EX_USAGE 64
#define EX_SOFTWARE 70

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

/* Steps of the child that can fail before Python runs; reported in EXECFAIL. */
enum { STEP_EXEC, STEP_PDEATHSIG, STEP_SIGACTION, STEP_SIGMASK, STEP_DUP, STEP_CLOSE, STEP_SETENV, STEP_COUNT };
static const char *const step_names[STEP_COUNT] = {
	"execvp", "prctl(PR_SET_PDEATHSIG)", "sigaction", "sigprocmask", "dup", "close", "setenv",
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

/* Reads /proc/PID/stat. comm (field 2) may hold spaces and ')', so fields count from the last ')'. */
static int read_stat(pid_t pid, struct pstat *ps)
{
	char path[32], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, sizeof buf - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close_fd(&fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = '\0';
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

/* Signals through a pidfd and checks membership again once the pidfd pins the process,
 * so a pid reused between the /proc scan and the signal is never hit. */
static void signal_member(pid_t pid, int sig)
{
#ifdef SYS_pidfd_open
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0U);
	if (pfd >= 0) {
		struct pstat ps;
		if (read_stat(pid, &ps) == 0 && is_member(&ps) &&
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

/* Sends sig to every live member but the shim. */
static void sweep(int sig)
{
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
		signal_member((pid_t)pid, sig);
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

/* SIGKILLs the members until waitpid reports no child: with the shim as subreaper,
 * no child left means no descendant left. Returns 0 then, -1 if that could not be reached. */
static int teardown(void)
{
	long long give_up = now_ms() + TEARDOWN_LIMIT_MS;
	for (;;) {
		sweep(SIGKILL);
		int r = reap();
		if (r != 0)
			return r > 0 ? 0 : -1;
		if (now_ms() >= give_up) {
			failed = 1;
			emitf("SHIMERR teardown: children still alive %d ms after SIGKILL", TEARDOWN_LIMIT_MS);
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

/* Child only: tells the shim why Python could not be started, then gives up. */
__attribute__((noreturn))
static void child_fail(int report_fd, int step)
{
	int msg[2] = { errno, step };
	if (write(report_fd, msg, sizeof msg) < 0) {
		/* nothing left to tell with: the shim sees exit status 127 alone */
	}
	_exit(127);
}

/* Runs in the child between fork and exec; never returns. fds: stdin's read end, stdout's and
 * stderr's write ends, the readiness pipe's write end. The shim is single-threaded, so opendir
 * and setenv (which allocate) are safe here after fork. */
__attribute__((noreturn))
static void run_child(char *const argv[], const int fds[4], int report_fd)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(report_fd, STEP_PDEATHSIG);
	/* The shim may have died before the line above: then nobody would ever kill us. */
	if (getppid() != self_pid)
		_exit(1);
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
	execvp(argv[0], argv);
	child_fail(report_fd, STEP_EXEC);
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
		run_child(argv, fds, rep[1]);
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
	out_relay.fd = out[0];
	err_relay.fd = err[0];
	ready_fd = rdy[0];

	/* Blocks until exec succeeds (EOF, close-on-exec) or the child reports why it failed. */
	int msg[2];
	ssize_t n;
	do
		n = read(rep[0], msg, sizeof msg);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		shimerr("read the exec report pipe");
	} else if (n == (ssize_t)sizeof msg) {
		if (msg[1] == STEP_EXEC || msg[1] < 0 || msg[1] >= STEP_COUNT)
			emitf("EXECFAIL %d %s", msg[0], strerror(msg[0]));
		else
			emitf("EXECFAIL %d %s: %s", msg[0], step_names[msg[1]], strerror(msg[0]));
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

/* ---- main --------------------------------------------------------------------------------- */

static void usage(void)
{
	fputs("usage: snakepit-shim [--grace-ms N] [--] PROGRAM [ARGS...]\n"
	      "Runs PROGRAM in a new session and reports on stdout (see docs/SHIM-PROTOCOL.md).\n"
	      "  --grace-ms N  milliseconds from SIGTERM to SIGKILL when stdin closes (default 2000)\n",
	      stderr);
}

int main(int argc, char *argv[])
{
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--grace-ms") == 0) {
			if (i + 1 >= argc || parse_ms(argv[i + 1], &default_grace) < 0) {
				fprintf(stderr, "snakepit-shim: --grace-ms needs milliseconds from 0 to %d, got '%s'\n",
				        INT_MAX, i + 1 < argc ? argv[i + 1] : "");
				usage();
				return EX_USAGE;
			}
			i++;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "snakepit-shim: unknown option '%s'\n", argv[i]);
			usage();
			return EX_USAGE;
		} else {
			break;
		}
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
	if (torn_down == 0 && !py_reaped) {
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
