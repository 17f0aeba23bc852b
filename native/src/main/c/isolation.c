/* Isolation: cgroups (joined by the child, killed and waited for by the shim) and --unshare (the
 * namespaces the shim enters itself, and the pid namespace's init). Rlimits are the child's alone
 * (child.c). Comments say which process runs each function. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- cgroups: joined by the child, killed and waited for by the shim ----------------------- */

/* Writes text to DIR/FILE in one write, as cgroup files expect. Returns 0, or -1 with errno set.
 * Used by the child too, so it reports nothing itself. */
int write_cgroup_file(const char *dir, const char *file, const char *text)
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

/* The shim: 1 while DIR/cgroup.events says "populated 1"; 0 when it says 0 or DIR is gone; -1 on error. */
static int cgroup_populated(struct shim *s, const char *dir)
{
	char path[PATH_MAX], buf[256];
	snprintf(path, sizeof path, "%s/cgroup.events", dir);
	if (read_small(s, path, buf, sizeof buf) < 0) /* ENODEV: removed after the open */
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

/* The shim, after each SIGKILL sweep: cgroup.kill for every --kill-cgroup that is still populated, so that
 * processes that left the shim's tree (or the whole pid namespace) go too. Returns the first
 * one still populated, or NULL when all are empty. */
const char *kill_cgroup_members(struct shim *s)
{
	const char *populated = NULL;
	for (int k = 0; k < s->kill_count; k++) {
		int p = cgroup_populated(s, s->kill_cgroups[k]);
		if (p < 0)
			shimerr(s, "read %s/cgroup.events", s->kill_cgroups[k]); /* cannot be waited for: counts as empty */
		if (p <= 0)
			continue;
		if (populated == NULL)
			populated = s->kill_cgroups[k];
		/* No cgroup.kill before Linux 5.14: the sweeps alone have to empty it then. */
		if (write_cgroup_file(s->kill_cgroups[k], "cgroup.kill", "1") < 0 && errno != ENOENT)
			shimerr(s, "write 1 to %s/cgroup.kill", s->kill_cgroups[k]);
	}
	return populated;
}

/* ---- --unshare: the namespaces the shim enters itself, and the pid namespace's init ---------- */

/* Steps of the pid namespace's init before it settles into reaping; reported in SHIMERR. */
enum { INIT_OK, INIT_PDEATHSIG, INIT_SIGMASK, INIT_STDIO, INIT_UNSHARE_MOUNT, INIT_MOUNT_PRIVATE, INIT_MOUNT_PROC,
       INIT_COUNT };
static const char *const init_step_names[INIT_COUNT] = {
	"", "prctl(PR_SET_PDEATHSIG)", "sigprocmask", "close the signalfd, /dev/null as stdin, stdout and stderr",
	"unshare(CLONE_NEWNS) for --unshare mount", "mount(\"/\", MS_REC|MS_PRIVATE) for --unshare mount",
	"mount proc on /proc for --unshare pid,mount",
};

/* Init only: everything before it settles into reaping. Returns INIT_OK or the step that failed. */
static int set_up_init(const struct shim *s)
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
	if (close(s->sig_fd) < 0 && errno != EINTR)
		return INIT_STDIO;
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0)
		return INIT_STDIO;
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(nul, fd) < 0)
			return INIT_STDIO;
	if (close(nul) < 0 && errno != EINTR)
		return INIT_STDIO;
	if (s->unshared & NS_MOUNT) {
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
static void run_init(const struct shim *s, int report)
{
	int msg[2] = { 0, set_up_init(s) };
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
static int start_init(struct shim *s)
{
	int setup[2];
	if (pipe2(setup, O_CLOEXEC) < 0) {
		shimerr(s, "pipe2 for the pid namespace's init");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		shimerr(s, "fork the pid namespace's init");
		close_fd(s, &setup[0]);
		close_fd(s, &setup[1]);
		return -1;
	}
	if (pid == 0) {
		/* Held here, the read end would keep the write below from failing once the shim is gone. */
		if (close(setup[0]) < 0 && errno != EINTR)
			_exit(1);
		run_init(s, setup[1]);
	}
	close_fd(s, &setup[1]);
	int msg[2];
	ssize_t n;
	do
		n = read(setup[0], msg, sizeof msg);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close_fd(s, &setup[0]);
	if (n < 0) {
		errno = e;
		shimerr(s, "read the set-up pipe of the pid namespace's init");
		return -1;
	}
	if (n != (ssize_t)sizeof msg) {
		errno = n == 0 ? ECHILD : EPROTO;
		shimerr(s, "the pid namespace's init (pid %d) ended during its set-up", (int)pid);
		return -1;
	}
	if (msg[1] != INIT_OK) {
		errno = msg[0];
		shimerr(s, "the pid namespace's init: %s%s", msg[1] > 0 && msg[1] < INIT_COUNT ? init_step_names[msg[1]] : "?",
		        msg[0] == EPERM ? NEEDS_ADMIN : "");
		return -1;
	}
	if (s->unshared & NS_MOUNT) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
		s->init_mnt_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (s->init_mnt_fd < 0) {
			shimerr(s, "open %s for --unshare mount", path);
			return -1;
		}
	}
	return 0;
}

/* A new network namespace has a loopback device, but down. */
static int loopback_up(struct shim *s)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		shimerr(s, "socket(AF_INET) to bring up lo for --unshare net");
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	int r = ioctl(sock, SIOCGIFFLAGS, &ifr);
	if (r < 0) {
		shimerr(s, "ioctl(SIOCGIFFLAGS) on lo for --unshare net");
	} else {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(sock, SIOCSIFFLAGS, &ifr);
		if (r < 0)
			shimerr(s, "ioctl(SIOCSIFFLAGS) bringing lo up for --unshare net%s", errno == EPERM ? NEEDS_ADMIN : "");
	}
	close_fd(s, &sock);
	return r < 0 ? -1 : 0;
}

/* The shim, before forking Python: ipc and net it enters itself (it needs neither); pid affects only
 * the children it forks afterwards, the first of which is the init. Mount is the init's or the
 * child's to enter, never the shim's: it reads the host's /proc by host pids. Returns 0, or -1
 * after a SHIMERR. */
int isolate(struct shim *s)
{
	if ((s->unshared & NS_IPC) && unshare(CLONE_NEWIPC) < 0) {
		shimerr(s, "unshare(CLONE_NEWIPC) for --unshare ipc%s", errno == EPERM ? NEEDS_ADMIN : "");
		return -1;
	}
	if (s->unshared & NS_NET) {
		if (unshare(CLONE_NEWNET) < 0) {
			shimerr(s, "unshare(CLONE_NEWNET) for --unshare net%s", errno == EPERM ? NEEDS_ADMIN : "");
			return -1;
		}
		if (loopback_up(s) < 0)
			return -1;
	}
	if (s->unshared & NS_PID) {
		if (unshare(CLONE_NEWPID) < 0) {
			shimerr(s, "unshare(CLONE_NEWPID) for --unshare pid%s", errno == EPERM ? NEEDS_ADMIN : "");
			return -1;
		}
		return start_init(s);
	}
	return 0;
}
