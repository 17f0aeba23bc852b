/* The shim's command line (docs/SHIM-PROTOCOL.md, "Command line") into struct shim. Runs in the shim
 * before anything else; a bad option is said on stderr with the usage, and the shim exits 64. */
#include "shim.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Indexed like struct shim's limits. */
const struct limit_kind limit_kinds[LIMIT_COUNT] = {
	{ .name = "as", .resource = RLIMIT_AS },       { .name = "nofile", .resource = RLIMIT_NOFILE },
	{ .name = "cpu", .resource = RLIMIT_CPU },     { .name = "core", .resource = RLIMIT_CORE },
	{ .name = "nproc", .resource = RLIMIT_NPROC }, { .name = "fsize", .resource = RLIMIT_FSIZE },
};

static const struct {
	const char *name;
	int flag;
} namespaces[] = { { "pid", NS_PID }, { "ipc", NS_IPC }, { "mount", NS_MOUNT }, { "net", NS_NET } };

/* Milliseconds, 0 to INT_MAX: --grace-ms and the STOP command. */
int parse_ms(const char *s, long *ms)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > INT_MAX)
		return -1;
	*ms = v;
	return 0;
}

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
static int parse_rlimit(struct shim *s, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct limit *l = NULL;
	for (int k = 0; eq != NULL && k < LIMIT_COUNT; k++)
		if (strlen(limit_kinds[k].name) == (size_t)(eq - arg) &&
		    strncmp(arg, limit_kinds[k].name, (size_t)(eq - arg)) == 0)
			l = &s->limits[k];
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
static int parse_unshare(struct shim *s, const char *list)
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
	s->unshared |= flags;
	return 0;
}

/* Reads the options into s and points s->program at PROGRAM. Returns 0, or EX_USAGE after saying why. */
int parse_options(struct shim *s, int argc, char *argv[])
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
			if (i + 1 >= argc || parse_ms(argv[i + 1], &s->default_grace) < 0) {
				fprintf(stderr, "snakepit-shim: --grace-ms needs milliseconds from 0 to %d, got '%s'\n",
				        INT_MAX, i + 1 < argc ? argv[i + 1] : "");
				usage();
				return EX_USAGE;
			}
			i++;
		} else if (strcmp(argv[i], "--rlimit") == 0) {
			bad = parse_rlimit(s, value);
			i++;
		} else if (strcmp(argv[i], "--cgroup") == 0) {
			bad = add_cgroup(argv[i], value, s->join_cgroups, &s->join_count);
			i++;
		} else if (strcmp(argv[i], "--kill-cgroup") == 0) {
			bad = add_cgroup(argv[i], value, s->kill_cgroups, &s->kill_count);
			i++;
		} else if (strcmp(argv[i], "--unshare") == 0) {
			bad = parse_unshare(s, value);
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
	s->program = argv + i;
	return 0;
}
