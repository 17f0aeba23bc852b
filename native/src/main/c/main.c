/* The shim's own run: its set-up as a clean parent, the poll loop and what it reads (Python's output
 * and readiness, the JVM's commands, signals), the teardown and the EXIT line. Everything here runs
 * in the shim; the child's and the init's code is in child.c and isolation.c. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* The shim's one state, handed by pointer to every function. Static storage: its sweep tree
 * (512 KiB) does not belong on the stack. */
static struct shim shim = {
	.default_grace = DEFAULT_GRACE_MS,
	.py_pid = -1,
	.sig_fd = -1,
	.in_fd = STDIN_FILENO,
	.out_fd = STDOUT_FILENO,
	.ready_fd = -1,
	.out_relay = { .fd = -1, .tag = "OUT", .name = "Python's stdout" },
	.err_relay = { .fd = -1, .tag = "ERR", .name = "Python's stderr" },
	.init_mnt_fd = -1,
	.stop_deadline = -1,
	.adopt = { .listen_fd = -1, .deadline = -1, .conn_fd = -1 },
	.tree = { .children_files = -1 },
};

static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

/* A shim started with 0, 1 or 2 closed would hand out those numbers to its own pipes. */
static void ensure_std_fds(struct shim *s)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		if (errno != EBADF)
			die(s, "fcntl F_GETFD");
		int nul = open("/dev/null", O_RDWR);
		if (nul < 0)
			die(s, "open /dev/null");
		if (nul != fd) {
			errno = EBADF;
			die(s, "open /dev/null as a standard descriptor");
		}
	}
}

/* Starts a stop, or brings its SIGKILL deadline forward. No grace: straight to the SIGKILL
 * teardown, without a SIGTERM sweep nobody would get the time to act on (a JVM killed with 100
 * workers has 100 shims walking their trees at once). A stop ends any DETACH: no one attaches to a
 * tree on its way down. */
void begin_stop(struct shim *s, long grace_ms)
{
	close_control(s);
	s->adopt.deadline = -1;
	if (grace_ms <= 0) {
		s->kill_now = 1;
		return;
	}
	long long deadline = now_ms(s) + grace_ms;
	if (s->stop_deadline < 0) {
		sweep(s, SIGTERM);
		s->stop_deadline = deadline;
	} else if (deadline < s->stop_deadline) {
		s->stop_deadline = deadline;
	}
}

/* ---- what the loop reads ------------------------------------------------------------------ */

static void relay_flush(struct shim *s)
{
	emit(s, s->batch.text, s->batch.len);
	s->batch.len = 0;
}

/* Queues one relayed line: `OUT text`, or `OUT+ text` when the line goes on in the next piece. */
static void relay_line(struct shim *s, const struct relay *r, const char *text, size_t len, int continued)
{
	if (s->batch.len + 5 + len + 1 > sizeof s->batch.text)
		relay_flush(s);
	char *line = s->batch.text + s->batch.len;
	memcpy(line, r->tag, 3);
	size_t head = 3;
	if (continued)
		line[head++] = '+';
	line[head++] = ' ';
	memcpy(line + head, text, len);
	line[head + len] = '\n';
	s->batch.len += head + len + 1;
}

/* One read from Python's stdout or stderr, emitting every complete line, all in one write. With
 * `final` (after the teardown, every writer dead), an empty pipe counts as closed: nothing more can come. */
static void relay_read(struct shim *s, struct relay *r, int final)
{
	ssize_t n = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
	if (n < 0 && (errno == EINTR || (errno == EAGAIN && !final)))
		return;
	if (n <= 0) {
		if (n < 0 && errno != EAGAIN)
			shimerr(s, "read %s", r->name);
		if (r->len > 0)
			relay_line(s, r, r->buf, r->len, 0); /* a last line without its newline */
		relay_flush(s);
		r->len = 0;
		close_fd(s, &r->fd);
		return;
	}
	r->len += (size_t)n;
	char *p = r->buf, *end = r->buf + r->len, *nl;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		relay_line(s, r, p, (size_t)(nl - p), 0);
		p = nl + 1;
	}
	r->len = (size_t)(end - p);
	if (r->len == sizeof r->buf) { /* more than RELAY_MAX bytes without a newline: a piece, continued */
		relay_line(s, r, p, RELAY_MAX, 1);
		p += RELAY_MAX;
		r->len = 1;
	}
	memmove(r->buf, p, r->len);
	relay_flush(s);
}

/* `READY` (tag "READY") or `ATTACHED` (which adds whether READY was reported): Python's and the shim's identity. */
void report_identity(struct shim *s, const char *tag)
{
	struct pstat ps;
	if (s->py_reaped || s->py_pid <= 0)
		return; /* its identity can no longer be read */
	if (read_stat(s, s->py_pid, &ps) < 0) {
		shimerr(s, "read /proc/%d/stat", (int)s->py_pid);
		return;
	}
	pid_t pgid = getpgid(s->py_pid);
	if (pgid < 0) {
		shimerr(s, "getpgid %d", (int)s->py_pid);
		return;
	}
	if (strcmp(tag, "READY") == 0)
		emitf(s, "READY %d %d %llu %s %d %llu", (int)s->py_pid, (int)pgid, ps.start, s->boot_id, (int)s->self_pid,
		      s->self_start);
	else
		emitf(s, "%s %d %d %llu %s %d %llu %d", tag, (int)s->py_pid, (int)pgid, ps.start, s->boot_id,
		      (int)s->self_pid, s->self_start, s->ready_sent);
}

static void report_ready(struct shim *s)
{
	s->ready_sent = 1;
	report_identity(s, "READY");
}

/* Python's fd 3: the first line means ready; the rest is read and dropped. */
static void read_ready(struct shim *s)
{
	char buf[256];
	while (s->ready_fd >= 0) {
		ssize_t n = read(s->ready_fd, buf, sizeof buf);
		if (n > 0) {
			if (!s->ready_sent && memchr(buf, '\n', (size_t)n) != NULL)
				report_ready(s);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return;
		} else {
			if (n < 0)
				shimerr(s, "read the readiness pipe");
			close_fd(s, &s->ready_fd); /* EOF: polling it further would spin on POLLHUP */
		}
	}
}

static void run_command(struct shim *s, const char *cmd)
{
	long ms;
	if (strcmp(cmd, "KILL") == 0)
		s->kill_now = 1;
	else if (strncmp(cmd, "STOP ", 5) == 0 && parse_ms(cmd + 5, &ms) == 0)
		begin_stop(s, ms);
	else if (strncmp(cmd, "DETACH ", 7) == 0)
		detach(s, cmd + 7);
	else if (strcmp(cmd, "LEAVE") == 0)
		leave(s);
	else
		fprintf(stderr, "snakepit-shim: ignoring unknown command '%s' (expected 'STOP <grace_ms>', 'KILL', "
		                "'DETACH <window_ms> <path>' or 'LEAVE')\n", cmd);
}

/* The owner's end (stdin, or an adopting owner's connection) is the lifeline: commands, and EOF when
 * the owner is gone. */
static void read_commands(struct shim *s)
{
	char buf[256];
	ssize_t n = read(s->in_fd, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (n < 0 && errno != ECONNRESET)
			shimerr(s, s->in_fd == STDIN_FILENO ? "read stdin" : "read the owner's connection");
		s->in_fd = -1; /* stop polling it: it would spin on POLLHUP */
		begin_stop(s, s->default_grace);
		return;
	}
	for (ssize_t i = 0; i < n && s->in_fd >= 0; i++) { /* after LEAVE, what the owner sent later is not read */
		if (buf[i] == '\n') {
			s->cmd.text[s->cmd.len] = '\0';
			if (!s->cmd.overlong)
				run_command(s, s->cmd.text);
			s->cmd.len = 0;
			s->cmd.overlong = 0;
		} else if (s->cmd.len < CMD_MAX - 1) {
			s->cmd.text[s->cmd.len++] = buf[i];
		} else {
			s->cmd.overlong = 1;
		}
	}
}

/* act = 0 during the teardown: signals are only drained there. */
static void read_signals(struct shim *s, int act)
{
	struct signalfd_siginfo si;
	int chld = 0;
	for (;;) {
		ssize_t n = read(s->sig_fd, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n != (ssize_t)sizeof si) {
			if (n >= 0)
				errno = EIO;
			shimerr(s, "read signalfd");
			break;
		}
		if (si.ssi_signo == SIGCHLD)
			chld = 1;
		else if (act && s->stop_deadline < 0) /* stop signals while stopping change nothing */
			begin_stop(s, s->default_grace);
	}
	if (chld && act) {
		read_ready(s); /* Python may have written it just before exiting: read its identity before reaping it */
		reap(s);
	}
}

/* SIGKILLs the members until waitpid reports no child: with the shim as subreaper,
 * no child left means no descendant left. Each --kill-cgroup must be empty as well.
 * Returns 0 then, -1 if that could not be reached. */
static int teardown(struct shim *s)
{
	long long give_up = now_ms(s) + TEARDOWN_LIMIT_MS;
	for (;;) {
		sweep(s, SIGKILL);
		const char *populated = kill_cgroup_members(s);
		int r = reap(s);
		if (r < 0)
			return -1;
		if (r > 0 && populated == NULL)
			return 0;
		if (now_ms(s) >= give_up) {
			s->failed = 1;
			if (r == 0)
				emitf(s, "SHIMERR teardown: children still alive %d ms after SIGKILL", TEARDOWN_LIMIT_MS);
			else
				emitf(s, "SHIMERR teardown: cgroup %s still populated %d ms after SIGKILL", populated,
				      TEARDOWN_LIMIT_MS);
			return -1;
		}
		/* Wake on SIGCHLD, or after a short pause to catch members that only now became children. */
		struct pollfd p = { .fd = s->sig_fd, .events = POLLIN };
		if (poll(&p, 1, TEARDOWN_POLL_MS) < 0 && errno != EINTR) {
			shimerr(s, "poll");
			return -1;
		}
		read_signals(s, 0);
	}
}

/* The shim, before the fork: make itself a clean parent, whatever NuProcess left it. */
static void set_up(struct shim *s)
{
	s->self_pid = getpid();
	ensure_std_fds(s);
	if (close_fds_from(3) < 0)
		die(s, "close inherited descriptors");
	/* Its own session and group (pgid = sid = shim pid). Fails with EPERM if started as a group
	 * leader, e.g. as a lone job of an interactive shell: run it through setsid(1) or in a pipeline. */
	if (setsid() < 0)
		die(s, "setsid (the shim must not start as a process-group leader)");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		die(s, "prctl(PR_SET_CHILD_SUBREAPER)");

	/* Block before resetting, so a SIGTERM arriving in between is queued, not fatal. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t k = 0; k < sizeof stop_signals / sizeof stop_signals[0]; k++)
		sigaddset(&set, stop_signals[k]);
	if (sigprocmask(SIG_SETMASK, &set, NULL) < 0)
		die(s, "sigprocmask");
	/* An inherited SIG_IGN would discard signals before the signalfd sees them (and an ignored
	 * SIGCHLD would make the kernel reap Python, losing its status). */
	if (reset_signal_dispositions() < 0)
		die(s, "sigaction SIG_DFL");
	/* In the shim only: a JVM that is gone must turn writes into EPIPE, not kill the shim. */
	struct sigaction ign;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &ign, NULL) < 0)
		die(s, "sigaction SIGPIPE");
	s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sig_fd < 0)
		die(s, "signalfd");
}

/* What READY reports of the shim itself: its start time and the boot it belongs to. */
static void read_identity(struct shim *s)
{
	struct pstat self;
	if (read_stat(s, s->self_pid, &self) < 0)
		die(s, "read /proc/self/stat");
	s->self_start = self.start;
	int bfd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (bfd < 0)
		die(s, "open /proc/sys/kernel/random/boot_id");
	ssize_t bn = read(bfd, s->boot_id, sizeof s->boot_id - 1);
	if (bn <= 0)
		die(s, "read /proc/sys/kernel/random/boot_id");
	s->boot_id[bn] = '\0';
	s->boot_id[strcspn(s->boot_id, "\n")] = '\0';
	close_fd(s, &bfd);
}

/* The shim's loop, until Python is gone, the grace is over, KILL came, or a system call failed. */
static void run_loop(struct shim *s)
{
	enum { P_SIG, P_STDIN, P_READY, P_OUT, P_ERR, P_CONTROL, P_COUNT };
	struct pollfd pfd[P_COUNT];
	while (!s->failed && !s->py_reaped && !s->kill_now) {
		int timeout = -1;
		if (s->adopt.deadline >= 0 && s->adopt.deadline <= now_ms(s)) {
			window_over(s); /* no owner attached in time: a stop, as on the lifeline's EOF */
			continue;       /* with no grace that is kill_now, which ends the loop */
		}
		if (s->stop_deadline >= 0 || s->adopt.deadline >= 0) {
			long long left = (s->stop_deadline >= 0 ? s->stop_deadline : s->adopt.deadline) - now_ms(s);
			if (s->stop_deadline >= 0 && left <= 0)
				break; /* the grace is over: SIGKILL */
			if (left < 0)
				left = 0;
			timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		pfd[P_SIG] = (struct pollfd){ .fd = s->sig_fd, .events = POLLIN };
		pfd[P_STDIN] = (struct pollfd){ .fd = s->in_fd, .events = POLLIN };
		pfd[P_READY] = (struct pollfd){ .fd = s->ready_fd, .events = POLLIN };
		pfd[P_OUT] = (struct pollfd){ .fd = s->out_relay.fd, .events = POLLIN };
		pfd[P_ERR] = (struct pollfd){ .fd = s->err_relay.fd, .events = POLLIN };
		/* Connections wait in the backlog while an owner holds the shim. */
		pfd[P_CONTROL] = (struct pollfd){ .fd = s->adopt.deadline >= 0 ? s->adopt.listen_fd : -1, .events = POLLIN };
		if (poll(pfd, P_COUNT, timeout) < 0) {
			if (errno != EINTR)
				shimerr(s, "poll");
			continue;
		}
		/* Readiness before SIGCHLD: Python's identity must be read before it is reaped. */
		if (pfd[P_READY].revents)
			read_ready(s);
		if (pfd[P_OUT].revents)
			relay_read(s, &s->out_relay, 0);
		if (pfd[P_ERR].revents)
			relay_read(s, &s->err_relay, 0);
		if (pfd[P_STDIN].revents)
			read_commands(s);
		if (pfd[P_SIG].revents)
			read_signals(s, 1);
		if (pfd[P_CONTROL].revents && s->adopt.deadline >= 0)
			attach(s);
	}
}

/* Python has exited or is to be killed: nothing of the tree may remain when EXIT is written.
 * Returns the shim's exit status: 0 after EXIT, 70 after a SHIMERR. */
static int finish(struct shim *s)
{
	close_control(s);
	int torn_down = teardown(s);
	while (s->out_relay.fd >= 0)
		relay_read(s, &s->out_relay, 1);
	while (s->err_relay.fd >= 0)
		relay_read(s, &s->err_relay, 1);
	if (torn_down == 0 && !s->py_reaped && s->py_pid > 0) {
		errno = ECHILD;
		shimerr(s, "no wait status was collected for Python (pid %d)", (int)s->py_pid);
	}
	if (torn_down < 0 || s->failed)
		return EX_SOFTWARE;
	if (WIFEXITED(s->py_status))
		emitf(s, "EXIT %d exited %d", s->py_status, WEXITSTATUS(s->py_status));
	else
		emitf(s, "EXIT %d signaled %d %d", s->py_status, WTERMSIG(s->py_status), WCOREDUMP(s->py_status) ? 1 : 0);
	return s->failed ? EX_SOFTWARE : 0;
}

int main(int argc, char *argv[])
{
	struct shim *s = &shim;
	int bad = parse_options(s, argc, argv);
	if (bad)
		return bad;
	set_up(s);
	read_identity(s);
	/* After a failed --unshare set-up there is no Python: the loop below is skipped and the
	 * teardown takes down what was started (the init). */
	if (isolate(s) == 0)
		spawn(s);
	run_loop(s);
	return finish(s);
}
