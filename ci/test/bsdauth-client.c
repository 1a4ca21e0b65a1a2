/*
 * BSD Authentication the ways its callers use it, for ci/hosted/bsd-vm-openbsd.sh
 * (OpenBSD only; built there with the base cc and -lutil; ci/test/bsd.sh
 * compiles it for OpenBSD with zig to catch mistakes early):
 *
 *   challenge USER ANSWER       sshd's keyboard-interactive "bsdauth"
 *                               device: auth_userchallenge(3) with type
 *                               auth-ssh, then auth_userresponse(3)
 *   okay USER PASSWORD [RUNAS]  the password path (su, doas, screen lockers):
 *                               auth_userokay(3), the style gets -s response
 *                               and the password on fd 3. With RUNAS, first
 *                               become that user with effective group auth,
 *                               which is what a setgid-auth screen locker is
 *   login USER CLASS ANSWER     login(1): auth_verify(3) runs the style with
 *                               -s login on the caller's terminal (a pty
 *                               here); ANSWER is typed at its prompt
 *   wheelno USER CLASS          su(1) for a caller not in group wheel:
 *                               auth_setoption(3) wheel=no, so the style
 *                               gets -v wheel=no; refused (1) only when
 *                               the reply's errormsg is base styles' "you
 *                               are not in group wheel"
 *
 * Exit status 0 authenticated, 1 refused, 2 usage, 3 setup error. alarm(3)
 * ends any run after 90 s, so a style that hangs fails the step.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <bsd_auth.h>
#include <err.h>
#include <grp.h>
#include <login_cap.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <util.h>

static int
challenge(char *user, char *answer)
{
	auth_session_t *as;
	char *text = NULL;

	as = auth_userchallenge(user, NULL, "auth-ssh", &text);
	if (as == NULL || text == NULL) {
		warnx("no challenge for %s", user);
		return 3;
	}
	printf("challenge: %s\n", text);
	return auth_userresponse(as, answer, 0) ? 0 : 1;
}

/* The credentials of a setgid-auth program run by `name`. */
static int
become(const char *name)
{
	struct passwd *pw;
	struct group *gr;

	if ((pw = getpwnam(name)) == NULL || (gr = getgrnam("auth")) == NULL)
		return -1;
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, gr->gr_gid, gr->gr_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		return -1;
	printf("running as uid %u, gid %u, egid %u (auth)\n",
	    (unsigned)getuid(), (unsigned)getgid(), (unsigned)getegid());
	return 0;
}

static int
okay(char *user, char *password, const char *runas)
{
	if (runas != NULL && become(runas) == -1) {
		warn("become %s", runas);
		return 3;
	}
	return auth_userokay(user, NULL, "auth-ssh", password) ? 0 : 1;
}

static int
on_terminal(char *user, char *class, const char *answer)
{
	auth_session_t *as;
	struct pollfd pfd;
	char buf[512];
	ssize_t n;
	pid_t pid;
	int master, status;

	pid = forkpty(&master, NULL, NULL, NULL);
	if (pid == -1) {
		warn("forkpty");
		return 3;
	}
	if (pid == 0) {
		/* On the pty: what login(1) does for a style of the class. */
		as = auth_verify(NULL, "-wpam", user, class, (char *)NULL);
		_exit(as != NULL && auth_close(as) != 0 ? 0 : 1);
	}
	/*
	 * The style turns echo off, then prompts: answer once the prompt is
	 * there (typed earlier, TCSAFLUSH would drop it).
	 */
	pfd.fd = master;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 30 * 1000) != 1 ||
	    (n = read(master, buf, sizeof(buf) - 1)) <= 0) {
		warnx("no prompt on the terminal");
		return 3;
	}
	buf[n] = '\0';
	printf("prompt: %s\n", buf);
	if (dprintf(master, "%s\n", answer) < 0) {
		warn("type the answer");
		return 3;
	}
	/* Drain the terminal until the session ends (EIO then). */
	while (read(master, buf, sizeof(buf)) > 0)
		;
	if (waitpid(pid, &status, 0) == -1) {
		warn("waitpid");
		return 3;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

static int
wheel_no(char *user, char *class)
{
	auth_session_t *as;
	char *msg;
	int state;

	if ((as = auth_open()) == NULL) {
		warn("auth_open");
		return 3;
	}
	if (auth_setoption(as, "wheel", "no") == -1) {
		warn("auth_setoption");
		auth_close(as);
		return 3;
	}
	/* -s login: the style must answer before it looks for a terminal. */
	if ((as = auth_verify(as, "-wpam", user, class, (char *)NULL)) == NULL) {
		warnx("auth_verify");
		return 3;
	}
	state = auth_getstate(as);
	msg = auth_getvalue(as, "errormsg");
	printf("errormsg: %s\n", msg != NULL ? msg : "(none)");
	if (state & AUTH_OKAY) {
		free(msg);
		auth_close(as);
		return 0;
	}
	state = msg != NULL && strcmp(msg, "you are not in group wheel") == 0 ? 1 : 3;
	free(msg);
	auth_close(as);
	return state;
}

int
main(int argc, char *argv[])
{
	alarm(90);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "challenge") == 0)
		return challenge(argv[2], argv[3]);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "okay") == 0)
		return okay(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (argc == 5 && strcmp(argv[1], "login") == 0)
		return on_terminal(argv[2], argv[3], argv[4]);
	if (argc == 4 && strcmp(argv[1], "wheelno") == 0)
		return wheel_no(argv[2], argv[3]);
	fprintf(stderr, "usage: bsdauth-client challenge USER ANSWER | "
	    "okay USER PASSWORD [RUNAS] | login USER CLASS ANSWER | "
	    "wheelno USER CLASS\n");
	return 2;
}
