/*
 * A login through the system's libpam, for the hosted macOS job
 * (ci/hosted/macos.sh; there is no pamtester on macOS):
 *
 *   pam-login SERVICE USER RHOST WERBOT-ID CODE
 *
 * pam_start(SERVICE, USER), PAM_RHOST set to RHOST, then pam_authenticate
 * and pam_acct_mgmt. The conversation answers a prompt that names the
 * Werbot ID with WERBOT-ID and one that asks for the code with CODE (an
 * empty CODE asks for a U2F push), prints every message, and fails on any
 * other prompt. Exit 0 when both calls return PAM_SUCCESS, 1 when one
 * refuses, 2 on a usage or conversation error.
 *
 * Built on the runner: clang -Wall -Wextra -Werror -o pam-login pam-login.c -lpam
 */
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct answers {
	const char *id;
	const char *code;
	int unexpected;
};

static int
conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct answers *a = data;
	struct pam_response *r;
	int i;

	if (n <= 0 || (r = calloc((size_t)n, sizeof *r)) == NULL)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++) {
		const char *text = msg[i]->msg != NULL ? msg[i]->msg : "";
		const char *answer = NULL;

		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_ON:
		case PAM_PROMPT_ECHO_OFF:
			if (strstr(text, "Werbot ID") != NULL)
				answer = a->id;
			else if (strstr(text, "code") != NULL)
				answer = a->code;
			printf("pam-login: prompt (%s): %s\n",
			    msg[i]->msg_style == PAM_PROMPT_ECHO_ON ? "echo on" : "echo off", text);
			if (answer == NULL) {
				printf("pam-login: no answer for that prompt\n");
				a->unexpected = 1;
				goto fail;
			}
			if ((r[i].resp = strdup(answer)) == NULL)
				goto fail;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			printf("pam-login: message: %s\n", text);
			break;
		default:
			a->unexpected = 1;
			goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++)
		free(r[i].resp);
	free(r);
	return PAM_CONV_ERR;
}

int
main(int argc, char **argv)
{
	struct answers a = { NULL, NULL, 0 };
	struct pam_conv conv = { conversation, &a };
	pam_handle_t *pamh = NULL;
	int rc;

	if (argc != 6) {
		fprintf(stderr, "usage: pam-login SERVICE USER RHOST WERBOT-ID CODE\n");
		return 2;
	}
	a.id = argv[4];
	a.code = argv[5];
	if ((rc = pam_start(argv[1], argv[2], &conv, &pamh)) != PAM_SUCCESS) {
		fprintf(stderr, "pam-login: pam_start: %d\n", rc);
		return 2;
	}
	if ((rc = pam_set_item(pamh, PAM_RHOST, argv[3])) != PAM_SUCCESS) {
		fprintf(stderr, "pam-login: pam_set_item(PAM_RHOST): %s\n", pam_strerror(pamh, rc));
		pam_end(pamh, rc);
		return 2;
	}
	rc = pam_authenticate(pamh, 0);
	printf("pam-login: pam_authenticate: %s\n", pam_strerror(pamh, rc));
	if (rc == PAM_SUCCESS) {
		rc = pam_acct_mgmt(pamh, 0);
		printf("pam-login: pam_acct_mgmt: %s\n", pam_strerror(pamh, rc));
	}
	pam_end(pamh, rc);
	if (a.unexpected)
		return 2;
	return rc == PAM_SUCCESS ? 0 : 1;
}
