/* Adoption (docs/SHIM-PROTOCOL.md, "Adoption"): DETACH opens a control socket, LEAVE lets the owner go,
 * and a next owner that connects within the window takes over the commands and the report lines. If
 * none does, the window's end takes the tree down as the lifeline's EOF does. Everything here runs in
 * the shim, in its loop; the owner's end is either the pipes it started with or one connection. */
#include "shim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* DETACH could not be carried out: the owner keeps the shim as before, and is told why. */
static void detach_failed(struct shim *s, int err, const char *what)
{
	emitf(s, "DETACHFAIL %d %s: %s", err, what, strerror(err));
}

/* Stops listening and removes the socket's path; nothing once no DETACH is pending. */
void close_control(struct shim *s)
{
	if (s->adopt.listen_fd < 0)
		return;
	close_fd(s, &s->adopt.listen_fd);
	if (unlink(s->adopt.path) < 0 && errno != ENOENT)
		fprintf(stderr, "snakepit-shim: unlink %s: %s\n", s->adopt.path, strerror(errno));
	s->adopt.path[0] = '\0';
}

/* `DETACH <window_ms> <path>`: listens on a Unix socket at path (mode 0600), so that after LEAVE a next
 * owner can attach. Nothing else changes yet: the lifeline's EOF still takes the tree down. */
void detach(struct shim *s, const char *args)
{
	char ms[16];
	long window;
	const char *space = strchr(args, ' ');
	size_t ms_len = space == NULL ? 0 : (size_t)(space - args);
	if (space == NULL || ms_len == 0 || ms_len >= sizeof ms) {
		detach_failed(s, EINVAL, "DETACH needs '<window_ms> <socket path>'");
		return;
	}
	memcpy(ms, args, ms_len);
	ms[ms_len] = '\0';
	const char *path = space + 1;
	if (parse_ms(ms, &window) < 0) {
		detach_failed(s, EINVAL, "DETACH's window needs milliseconds from 0 to 2147483647");
		return;
	}
	if (path[0] != '/' || strchr(path, ' ') != NULL) {
		detach_failed(s, EINVAL, "DETACH's socket path must be absolute and hold no space");
		return;
	}
	if (strlen(path) >= sizeof s->adopt.path) {
		detach_failed(s, ENAMETOOLONG, "DETACH's socket path must be shorter than 108 bytes");
		return;
	}
	if (s->stop_deadline >= 0 || s->kill_now) {
		detach_failed(s, ECANCELED, "DETACH while a stop is under way");
		return;
	}
	close_control(s); /* a second DETACH replaces the first */

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		detach_failed(s, errno, "socket(AF_UNIX)");
		return;
	}
	struct sockaddr_un addr;
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	/* Owner-only from its creation: bind() applies the umask to the socket file. Python was forked
	 * already, so the change is the shim's alone, and undone at once. */
	mode_t old_mask = umask(077);
	int bound = bind(fd, (struct sockaddr *)&addr, sizeof addr);
	int bind_err = errno;
	umask(old_mask);
	if (bound < 0) {
		close_fd(s, &fd);
		detach_failed(s, bind_err, path); /* EADDRINUSE: the path exists; it is never removed here */
		return;
	}
	memcpy(s->adopt.path, path, strlen(path) + 1);
	s->adopt.listen_fd = fd;
	if (listen(fd, 4) < 0) {
		int e = errno;
		close_control(s);
		detach_failed(s, e, "listen");
		return;
	}
	s->adopt.window_ms = window;
	emitf(s, "DETACHED %ld %s", window, path);
}

/* `LEAVE`: the owner goes. After `LEFT`, nothing more is read from it nor written to it, and the window
 * starts; Python's output is still read (so it never blocks) and dropped until an owner attaches. */
void leave(struct shim *s)
{
	if (s->adopt.listen_fd < 0) {
		fprintf(stderr, "snakepit-shim: ignoring LEAVE without a DETACH that succeeded: the lifeline stays\n");
		return;
	}
	emitf(s, "LEFT %ld", s->adopt.window_ms);
	s->in_fd = -1;
	s->out_fd = -1;
	close_fd(s, &s->adopt.conn_fd); /* an adopting owner's connection; the starting pipes just stay unused */
	s->adopt.deadline = now_ms(s) + s->adopt.window_ms;
}

/* A connection on the control socket while no one owns the shim: the first one from the shim's own user
 * becomes the owner, its EOF the lifeline's. */
void attach(struct shim *s)
{
	for (;;) {
		int fd = accept4(s->adopt.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				shimerr(s, "accept on the control socket %s", s->adopt.path);
			return;
		}
		struct ucred peer;
		socklen_t len = sizeof peer;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0) {
			shimerr(s, "getsockopt(SO_PEERCRED) on the control socket");
			close_fd(s, &fd);
			return;
		}
		if (peer.uid != geteuid()) {
			fprintf(stderr, "snakepit-shim: refusing pid %d of uid %u on the control socket: not the shim's uid %u\n",
			        (int)peer.pid, (unsigned)peer.uid, (unsigned)geteuid());
			close_fd(s, &fd);
			continue;
		}
		s->adopt.conn_fd = fd;
		s->in_fd = fd;
		s->out_fd = fd;
		s->stdout_gone = 0;
		s->adopt.deadline = -1;
		s->cmd.len = 0;
		s->cmd.overlong = 0;
		close_control(s); /* one owner at a time; a later DETACH listens again */
		report_identity(s, "ATTACHED");
		return;
	}
}

/* No owner attached within the window: the tree goes down as on the lifeline's EOF. */
void window_over(struct shim *s)
{
	s->adopt.deadline = -1;
	close_control(s);
	begin_stop(s, s->default_grace);
}
