/* Python's start: the shim forks; the child, from fork to exec, puts itself in its place (cgroups,
 * mount namespace, signals, descriptors, limits) and execs; the shim reports SPAWNED, then EXECFAIL
 * if the child could not exec. Comments say which of the two runs each function. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The kernel's own sigaction layout, for the signals glibc's sigaction() refuses to touch. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask[_NSIG / (8 * sizeof(unsigned long))];
};

/* Every disposition back to SIG_DFL: NuProcess leaves SIGPIPE ignored, a JVM may ignore others.
 * Run by the shim at start and by the child before exec. */
int reset_signal_dispositions(void)
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
static int shim_gone(const struct shim *s, int stdin_reader, int stdin_writer)
{
	if (!(s->unshared & NS_PID))
		return getppid() != s->self_pid;
	/* In a new pid namespace getppid() reads 0 whatever became of the shim. Instead: once this
	 * copy is closed, only the shim holds a write end of Python's stdin, so a hang-up means it is gone. */
	if (close(stdin_writer) < 0 && errno != EINTR)
		return 1;
	struct pollfd p = { .fd = stdin_reader, .events = POLLIN };
	return poll(&p, 1, 0) < 0 || (p.revents & POLLHUP) != 0;
}

/* Child only: with --unshare mount, a mount namespace of Python's own (mount alone), or the one the
 * pid namespace's init set up with its own /proc (pid,mount). */
static void enter_mount_namespace(const struct shim *s, int report_fd)
{
	if (!(s->unshared & NS_MOUNT))
		return;
	if (!(s->unshared & NS_PID)) {
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
	if (setns(s->init_mnt_fd, CLONE_NEWNS) < 0)
		child_fail(report_fd, STEP_SETNS_MOUNT);
	if (chdir(cwd) < 0)
		child_fail(report_fd, STEP_CHDIR);
}

/* Runs in the child between fork and exec; never returns. fds: stdin's read end, stdout's and
 * stderr's write ends, the readiness pipe's write end; stdin_writer: the shim's end of stdin.
 * The shim is single-threaded, so opendir and setenv (which allocate) are safe here after fork. */
__attribute__((noreturn))
static void run_child(const struct shim *s, const int fds[4], int stdin_writer, int report_fd)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(report_fd, STEP_PDEATHSIG);
	/* The shim may have died before the line above: then nobody would ever kill us. */
	if (shim_gone(s, fds[0], stdin_writer))
		_exit(1);
	/* Cgroups first, by host paths, before a mount namespace could change what a path means.
	 * Everything Python forks from now on is inside; the shim is not. */
	char pid_text[16];
	snprintf(pid_text, sizeof pid_text, "%d", (int)getpid());
	for (int k = 0; k < s->join_count; k++)
		if (write_cgroup_file(s->join_cgroups[k], "cgroup.procs", pid_text) < 0)
			child_fail_at(report_fd, STEP_CGROUP, k);
	enter_mount_namespace(s, report_fd);
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
		if (s->limits[k].set && setrlimit(limit_kinds[k].resource, &s->limits[k].value) < 0)
			child_fail_at(report_fd, STEP_RLIMIT, k);
	execvp(s->program[0], s->program);
	child_fail(report_fd, STEP_EXEC);
}

/* The shim: EXECFAIL <errno> [<step>[ <what>]: ]<strerror>, from what the child reported. */
static void report_exec_failure(struct shim *s, int e, int step, int arg)
{
	const char *hint = "";
	if (e == EPERM && step == STEP_RLIMIT)
		hint = " (raising a hard limit needs CAP_SYS_RESOURCE; nofile stops at /proc/sys/fs/nr_open)";
	else if (e == EPERM && step >= STEP_UNSHARE_MOUNT && step <= STEP_SETNS_MOUNT)
		hint = NEEDS_ADMIN;
	if (step == STEP_RLIMIT && arg >= 0 && arg < LIMIT_COUNT)
		emitf(s, "EXECFAIL %d rlimit %s%s: %s", e, limit_kinds[arg].name, hint, strerror(e));
	else if (step == STEP_CGROUP && arg >= 0 && arg < s->join_count)
		emitf(s, "EXECFAIL %d cgroup %s: %s", e, s->join_cgroups[arg], strerror(e));
	else if (step == STEP_EXEC || step < 0 || step >= STEP_COUNT)
		emitf(s, "EXECFAIL %d %s", e, strerror(e));
	else
		emitf(s, "EXECFAIL %d %s%s: %s", e, step_names[step], hint, strerror(e));
}

/* Forks Python; returns in the shim only. */
void spawn(struct shim *s)
{
	int in[2], out[2], err[2], rdy[2], rep[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(rdy, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0)
		die(s, "pipe2");
	/* Only the shim's read ends: Python's ends stay blocking, as any program expects. */
	set_nonblocking(s, out[0]);
	set_nonblocking(s, err[0]);
	set_nonblocking(s, rdy[0]);

	pid_t pid = fork();
	if (pid < 0)
		die(s, "fork");
	if (pid == 0) {
		const int fds[4] = { in[0], out[1], err[1], rdy[1] };
		run_child(s, fds, in[1], rep[1]);
	}

	/* The shim, from here on. It keeps in[1] open and never writes to it: Python's stdin
	 * reaches EOF exactly when the shim is gone. */
	s->py_pid = pid;
	emitf(s, "SPAWNED %d", (int)pid);
	close_fd(s, &in[0]);
	close_fd(s, &out[1]);
	close_fd(s, &err[1]);
	close_fd(s, &rdy[1]);
	close_fd(s, &rep[1]);
	close_fd(s, &s->init_mnt_fd); /* the child has joined it, or holds its own copy */
	s->out_relay.fd = out[0];
	s->err_relay.fd = err[0];
	s->ready_fd = rdy[0];

	/* Blocks until exec succeeds (EOF, close-on-exec) or the child reports why it failed. */
	int msg[3];
	ssize_t n;
	do
		n = read(rep[0], msg, sizeof msg);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		shimerr(s, "read the exec report pipe");
	} else if (n == (ssize_t)sizeof msg) {
		report_exec_failure(s, msg[0], msg[1], msg[2]);
		while (waitpid(pid, &s->py_status, 0) < 0) {
			if (errno != EINTR) {
				shimerr(s, "waitpid %d", (int)pid);
				break;
			}
		}
		s->py_reaped = !s->failed;
	} else if (n != 0) {
		errno = EPROTO;
		shimerr(s, "read the exec report pipe: %zd bytes", n);
	}
	close_fd(s, &rep[0]);
}
