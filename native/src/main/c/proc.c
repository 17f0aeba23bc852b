/* The shim's view of /proc: reading a process's stat, finding the members of its tree and signalling
 * them, reaping. The shim only, apart from close_fds_from, which the child runs too. */
#include "shim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Closes every descriptor >= lowfd. Used by the shim at start (3) and by the child before exec (5). */
int close_fds_from(int lowfd)
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

/* Reads a small file (a /proc or cgroup file) into buf, NUL-terminated; returns its length, or -1
 * with errno set. */
ssize_t read_small(struct shim *s, const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close_fd(s, &fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

/* Reads /proc/PID/stat. comm (field 2) may hold spaces and ')', so fields count from the last ')'. */
int read_stat(struct shim *s, pid_t pid, struct pstat *ps)
{
	char path[32], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_small(s, path, buf, sizeof buf) < 0)
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
static int is_member(struct shim *s, const struct pstat *ps)
{
	return ps->state != 'Z' && ps->state != 'X' &&
	       (ps->pgrp == s->self_pid || ps->sid == s->self_pid || ps->ppid == s->self_pid);
}

/* Whether pid is still what a sweep found: a member (parent 0), or a live child of parent. */
static int still_ours(struct shim *s, const struct pstat *ps, pid_t parent)
{
	if (parent == 0)
		return is_member(s, ps);
	return ps->state != 'Z' && ps->state != 'X' && ps->ppid == parent;
}

/* Signals through a pidfd and checks again, once the pidfd pins the process, that it is what the
 * sweep found (see still_ours), so a pid reused between the sweep and the signal is never hit. */
static void signal_member(struct shim *s, pid_t pid, pid_t parent, int sig)
{
#ifdef SYS_pidfd_open
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0U);
	if (pfd >= 0) {
		struct pstat ps;
		if (read_stat(s, pid, &ps) == 0 && still_ours(s, &ps, parent) &&
		    syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0U) < 0 && errno != ESRCH)
			shimerr(s, "pidfd_send_signal pid %d signal %d", (int)pid, sig);
		close_fd(s, &pfd);
		return;
	}
	if (errno == ESRCH)
		return;
	if (errno != ENOSYS) {
		shimerr(s, "pidfd_open pid %d", (int)pid);
		return;
	}
#endif
	/* Kernels before 5.3: a plain kill right after the membership check. */
	if (kill(pid, sig) < 0 && errno != ESRCH)
		shimerr(s, "kill pid %d signal %d", (int)pid, sig);
}

/* Appends the children of every thread of pid to the tree. Returns -1 when the tree is full or a
 * children list did not fit its buffer: the caller then scans /proc instead. */
static int add_children(struct shim *s, pid_t pid, size_t *n)
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
		ssize_t len = read_small(s, file, buf, sizeof buf);
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
			s->tree.pid[*n] = (pid_t)child;
			s->tree.parent[*n] = pid;
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
static int sweep_tree(struct shim *s, int sig)
{
	if (s->tree.children_files < 0) {
		char file[64];
		snprintf(file, sizeof file, "/proc/%d/task/%d/children", (int)s->self_pid, (int)s->self_pid);
		s->tree.children_files = access(file, R_OK) == 0;
	}
	if (!s->tree.children_files)
		return -1;
	size_t n = 0;
	if (add_children(s, s->self_pid, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (add_children(s, s->tree.pid[i], &n) < 0)
			return -1;
	/* The children lists are read without stopping anyone: a process re-parented during the walk
	 * may be missed, which the next sweep of the teardown loop catches (it runs until no child is
	 * left). */
	for (size_t i = 0; i < n; i++)
		signal_member(s, s->tree.pid[i], s->tree.parent[i], sig);
	return 0;
}

/* Sends sig to every live member but the shim. */
void sweep(struct shim *s, int sig)
{
	if (sweep_tree(s, sig) == 0)
		return;
	DIR *d = opendir("/proc");
	if (d == NULL) {
		shimerr(s, "opendir /proc");
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
		if (*end != '\0' || pid <= 0 || pid == s->self_pid)
			continue;
		if (read_stat(s, (pid_t)pid, &ps) < 0 || !is_member(s, &ps))
			continue; /* gone meanwhile, or not ours */
		signal_member(s, (pid_t)pid, 0, sig);
	}
	if (errno != 0)
		shimerr(s, "readdir /proc");
	if (closedir(d) < 0)
		shimerr(s, "closedir /proc");
}

/* Reaps every ended child: Python (its status is kept) and re-parented orphans (silently).
 * Returns 1 once no child is left, 0 while some still run, -1 on error. */
int reap(struct shim *s)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid > 0) {
			if (pid == s->py_pid) {
				s->py_status = st;
				s->py_reaped = 1;
			}
		} else if (pid == 0) {
			return 0;
		} else if (errno == ECHILD) {
			return 1;
		} else if (errno != EINTR) {
			shimerr(s, "waitpid");
			return -1;
		}
	}
}
