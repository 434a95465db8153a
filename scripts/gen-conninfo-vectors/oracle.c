/*
 * oracle.c -- ask the installed libpq how it parses connection strings.
 *
 * Built and driven by scripts/gen-conninfo-vectors.mjs; not part of the
 * package.  Uses only libpq's public API (libpq-fe.h).
 *
 * Usage:
 *   oracle [--regress] [--timeout S] < inputs
 *                                    one JSON line per NUL-terminated input
 *   oracle --version                 PQlibVersion(), e.g. 150018
 *   oracle --keywords                JSON array of PQconndefaults() keywords
 *
 * For each input (the bytes up to a NUL; a trailing chunk without a NUL is
 * treated as one more input) it prints exactly one line:
 *
 *   {"ok":false,"error":"<PQconninfoParse error, trailing newline removed>"}
 *   {"ok":true,"params":{<kw>:<val>,...},"connectError":<string|null>
 *    [,"firstAttemptError":"..."] [,"regress":"..."]}
 *
 * "params" holds every option whose val is not NULL, in the order of
 * libpq's option table (PQconninfoParse applies no defaults, so this is
 * exactly what the string sets).
 *
 * The connect step runs only when the parse succeeded: PQconnectStart(input),
 * read PQstatus() immediately, PQfinish() at once.  If the status is
 * CONNECTION_BAD, PQerrorMessage() (trailing newlines removed) is classified:
 *
 *   RULE: the message is a connect-time OPTION VALIDATION error
 *   (pqConnectOptions2, which runs before any host is contacted and stops at
 *   the first failure) when it starts with one of the prefixes in
 *   VALIDATION_PREFIXES below:
 *       could not match <n> host names to <m> hostaddr values
 *       could not match <n> port numbers to <m> hosts
 *       invalid channel_binding value: "..."
 *       invalid sslmode value: "..."
 *       invalid ssl_min_protocol_version value: "..."
 *       invalid ssl_max_protocol_version value: "..."
 *       invalid SSL protocol version range
 *       invalid gssencmode value: "..."
 *       invalid target_session_attrs value: "..."
 *       sslmode value "..." invalid when SSL support is not compiled in
 *       gssencmode value "..." invalid when GSSAPI support is not compiled in
 *   Such a message goes to "connectError".  Anything else came out of the
 *   first PQconnectPoll() call that PQconnectStart makes (the host walk:
 *   "could not translate host name ...", "could not parse network address
 *   ...", "invalid integer value "..." for connection option "port"",
 *   "invalid port number: ...", "connection to server ... failed: ..."), and
 *   goes to "firstAttemptError" with "connectError": null.  A status other
 *   than CONNECTION_BAD gives "connectError": null and no firstAttemptError.
 *
 * Note: the validation messages are a closed set (checked against the
 * strings in libpq 15.18); the generator cross-checks that every
 * firstAttemptError line matches a known host-walk message so that a
 * validation message missing from the list cannot be misfiled silently.
 *
 * With --regress, "regress" is also printed for parsed inputs: the line
 * PostgreSQL's URI test driver would print -- every parsed option whose
 * value differs from PQconndefaults() as kw='val' followed by a space, then
 * "(inet)" if hostaddr is non-empty or host is non-empty and does not start
 * with '/', else "(local)" (as described in section 5.1 of
 * /work/shared/reference/libpq-multihost.md).
 *
 * JSON strings escape '"', '\\', control characters and DEL as \u00XX.
 * Inputs are ASCII, but %XX in a URI can decode to a byte >= 0x80; such a
 * byte is also written as \u00XX (that is, read as Latin-1).  The generator
 * leaves such inputs out.
 *
 * Run it with a clean environment (no PG* variables, LC_ALL=C), as the
 * generator does.  Every case is guarded by alarm(): a case that takes more
 * than --timeout seconds (default ORACLE_CASE_TIMEOUT) aborts the whole run
 * with exit status 3, so a slow DNS server cannot hang the generator.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define ORACLE_CASE_TIMEOUT 5		/* seconds; --timeout N overrides */
#define ORACLE_SLOW_MS 200.0

static const char *const VALIDATION_PREFIXES[] = {
	"could not match ",
	"invalid channel_binding value: ",
	"invalid sslmode value: ",
	"invalid ssl_min_protocol_version value: ",
	"invalid ssl_max_protocol_version value: ",
	"invalid SSL protocol version range",
	"invalid gssencmode value: ",
	"invalid target_session_attrs value: ",
	"sslmode value \"",
	"gssencmode value \"",
	NULL
};

static long current_case = -1;
static unsigned int case_timeout = ORACLE_CASE_TIMEOUT;

static void
on_alarm(int sig)
{
	char		msg[128];
	int			n;

	(void) sig;
	n = snprintf(msg, sizeof msg,
				 "oracle: case %ld took more than %u s, aborting\n",
				 current_case, case_timeout);
	if (n > 0)
		(void) !write(2, msg, (size_t) n);
	_exit(3);
}

/* Print s as a JSON string literal (with quotes). */
static void
json_string(FILE *out, const char *s)
{
	const unsigned char *p;

	fputc('"', out);
	for (p = (const unsigned char *) s; *p; p++)
	{
		if (*p == '"')
			fputs("\\\"", out);
		else if (*p == '\\')
			fputs("\\\\", out);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\u%04x", *p);	/* bytes >= 0x80 read as Latin-1 */
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* Copy of msg without trailing newlines (caller frees). */
static char *
chomp(const char *msg)
{
	size_t		len = strlen(msg);
	char	   *copy;

	while (len > 0 && msg[len - 1] == '\n')
		len--;
	copy = malloc(len + 1);
	if (copy == NULL)
	{
		fputs("oracle: out of memory\n", stderr);
		exit(2);
	}
	memcpy(copy, msg, len);
	copy[len] = '\0';
	return copy;
}

static int
is_validation_error(const char *msg)
{
	int			i;

	for (i = 0; VALIDATION_PREFIXES[i] != NULL; i++)
	{
		if (strncmp(msg, VALIDATION_PREFIXES[i], strlen(VALIDATION_PREFIXES[i])) == 0)
			return 1;
	}
	return 0;
}

/* The driver-style summary line for --regress (see header comment). */
static void
print_regress(FILE *out, const PQconninfoOption *opts)
{
	PQconninfoOption *defs = PQconndefaults();
	const PQconninfoOption *opt;
	int			inet = 0;
	size_t		cap = 256,
				len = 0;
	char	   *line = malloc(cap);

	if (defs == NULL || line == NULL)
	{
		fputs("oracle: out of memory\n", stderr);
		exit(2);
	}
	line[0] = '\0';
	for (opt = opts; opt->keyword != NULL; opt++)
	{
		const PQconninfoOption *def;
		const char *defval = NULL;
		size_t		need;

		if (opt->val == NULL)
			continue;
		for (def = defs; def->keyword != NULL; def++)
		{
			if (strcmp(def->keyword, opt->keyword) == 0)
			{
				defval = def->val;
				break;
			}
		}
		if (defval == NULL || strcmp(defval, opt->val) != 0)
		{
			need = len + strlen(opt->keyword) + strlen(opt->val) + 8;
			if (need > cap)
			{
				cap = need * 2;
				line = realloc(line, cap);
				if (line == NULL)
				{
					fputs("oracle: out of memory\n", stderr);
					exit(2);
				}
			}
			len += (size_t) sprintf(line + len, "%s='%s' ", opt->keyword, opt->val);
		}
		if (opt->val[0] != '\0' &&
			(strcmp(opt->keyword, "hostaddr") == 0 ||
			 (strcmp(opt->keyword, "host") == 0 && opt->val[0] != '/')))
			inet = 1;
	}
	if (len + 8 > cap)
	{
		line = realloc(line, len + 8);
		if (line == NULL)
		{
			fputs("oracle: out of memory\n", stderr);
			exit(2);
		}
	}
	strcpy(line + len, inet ? "(inet)" : "(local)");
	fputs(",\"regress\":", out);
	json_string(out, line);
	free(line);
	PQconninfoFree(defs);
}

static void
run_case(FILE *out, const char *input, int regress)
{
	char	   *err = NULL;
	PQconninfoOption *opts;
	const PQconninfoOption *opt;
	PGconn	   *conn;
	int			first = 1;

	opts = PQconninfoParse(input, &err);
	if (opts == NULL)
	{
		char	   *msg = chomp(err ? err : "(no error message: out of memory?)");

		fputs("{\"ok\":false,\"error\":", out);
		json_string(out, msg);
		fputs("}\n", out);
		free(msg);
		if (err)
			PQfreemem(err);
		return;
	}

	fputs("{\"ok\":true,\"params\":{", out);
	for (opt = opts; opt->keyword != NULL; opt++)
	{
		if (opt->val == NULL)
			continue;
		if (!first)
			fputc(',', out);
		first = 0;
		json_string(out, opt->keyword);
		fputc(':', out);
		json_string(out, opt->val);
	}
	fputc('}', out);

	conn = PQconnectStart(input);
	if (conn == NULL)
	{
		fputs("oracle: PQconnectStart returned NULL\n", stderr);
		exit(2);
	}
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		char	   *msg = chomp(PQerrorMessage(conn));

		if (is_validation_error(msg))
		{
			fputs(",\"connectError\":", out);
			json_string(out, msg);
		}
		else
		{
			fputs(",\"connectError\":null,\"firstAttemptError\":", out);
			json_string(out, msg);
		}
		free(msg);
	}
	else
		fputs(",\"connectError\":null", out);
	PQfinish(conn);

	if (regress)
		print_regress(out, opts);
	fputs("}\n", out);
	PQconninfoFree(opts);
}

static char *
read_all(FILE *in, size_t *lenp)
{
	size_t		cap = 1 << 16,
				len = 0,
				n;
	char	   *buf = malloc(cap + 1);

	if (buf == NULL)
		return NULL;
	while ((n = fread(buf + len, 1, cap - len, in)) > 0)
	{
		len += n;
		if (len == cap)
		{
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (buf == NULL)
				return NULL;
		}
	}
	if (ferror(in))
		return NULL;
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

int
main(int argc, char **argv)
{
	int			regress = 0;
	char	   *buf;
	size_t		len,
				pos = 0;
	int			i;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--version") == 0)
		{
			printf("%d\n", PQlibVersion());
			return 0;
		}
		else if (strcmp(argv[i], "--keywords") == 0)
		{
			PQconninfoOption *defs = PQconndefaults();
			const PQconninfoOption *d;

			if (defs == NULL)
				return 2;
			fputc('[', stdout);
			for (d = defs; d->keyword != NULL; d++)
			{
				if (d != defs)
					fputc(',', stdout);
				json_string(stdout, d->keyword);
			}
			fputs("]\n", stdout);
			PQconninfoFree(defs);
			return 0;
		}
		else if (strcmp(argv[i], "--regress") == 0)
			regress = 1;
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0)
			case_timeout = (unsigned int) atoi(argv[++i]);
		else
		{
			fprintf(stderr, "usage: %s [--regress] [--timeout SECONDS] < NUL-separated inputs\n"
					"       %s --version | --keywords\n", argv[0], argv[0]);
			return 2;
		}
	}

	signal(SIGALRM, on_alarm);
	buf = read_all(stdin, &len);
	if (buf == NULL)
	{
		fputs("oracle: could not read stdin\n", stderr);
		return 2;
	}

	current_case = 0;
	while (pos < len)
	{
		const char *input = buf + pos;
		size_t		ilen = strlen(input);	/* stops at the NUL (or buf end) */
		struct timespec t0,
					t1;
		double		ms;

		alarm(case_timeout);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		run_case(stdout, input, regress);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		alarm(0);
		ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (ms > ORACLE_SLOW_MS)
			fprintf(stderr, "oracle: slow case %ld: %.0f ms\n", current_case, ms);
		fflush(stdout);
		pos += ilen + 1;
		current_case++;
	}
	free(buf);
	return 0;
}
