/* agency-gen: a synthetic agency CSV in the dataset's format (first_name,last_name,document,
 * birthdate,number; no header; LF), for tests and benchmarks that need files of any size with a
 * known number of winners.
 *
 * The output depends only on the arguments: a private PRNG (splitmix64) seeded from --seed and
 * --agency, never rand(). Exactly --winners rows carry the winning number, spread evenly through
 * the file; documents are distinct within a file (an affine permutation of the 7-8 digit range,
 * so no set of used documents needs to be kept). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bet.h"
#include "csv.h"
#include "number.h"

#define EXIT_USAGE 2

#define DOCUMENT_FIRST 1000000u   /* the smallest 7-digit document */
#define DOCUMENT_SPAN 99000000u   /* 1000000..99999999: the most distinct documents */
#define YEAR_FIRST 1940
#define YEAR_LAST 2005
#define TRICKY_ONE_IN 50          /* how often a name needs CSV quoting */

static const char *const first_names[] = {
	"Nicolás", "Begoña", "María", "José", "Lucía", "Martín", "Sofía", "Agustín", "Valentina",
	"Joaquín", "Camila", "Tomás", "Ramón", "Inés", "Julián", "Florencia", "Matías", "Ana",
	"Santiago", "Mónica", "Germán", "Zoë", "Iñaki", "Jorge", "Paula", "Facundo", "Belén",
};
static const char *const last_names[] = {
	"González", "Rodríguez", "Gómez", "Fernández", "López", "Díaz", "Martínez", "Pérez",
	"García", "Sánchez", "Romero", "Sosa", "Álvarez", "Torres", "Ruiz", "Ramírez", "Núñez",
	"Peña", "Ibáñez", "Acuña", "Muñoz", "Benítez", "Giménez", "Suárez", "O'Connor", "Müller",
};
/* Names a CSV writer must quote: a comma, or a double quote to double. */
static const char *const tricky_first_names[] = {"María, José", "Juan \"Pepe\"", "Ana, Belén"};
static const char *const tricky_last_names[] = {"Pérez, hijo", "de la Fuente, Jr.",
                                                "\"Chiquito\" Romero"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct options {
	uint32_t rows;
	uint32_t winners;
	uint64_t seed;
	uint32_t agency;
	const char *output; /* NULL: stdout */
};

/* ---------------------------------------------------------------------------------------------
 * PRNG */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

/* Uniform in 0..n-1 (n > 0), without modulo bias. */
static uint64_t below(uint64_t *state, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do {
		x = splitmix64(state);
	} while (x >= limit);
	return x % n;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* ---------------------------------------------------------------------------------------------
 * rows */

struct generator {
	uint64_t rng;
	uint64_t rows, winners;
	uint64_t winner_phase; /* shifts where the evenly spaced winners fall */
	uint64_t doc_step, doc_offset;
};

static void generator_init(struct generator *g, const struct options *o)
{
	uint64_t mix = o->seed ^ (o->agency * 0xD1B54A32D192ED03u);
	g->rng = splitmix64(&mix);
	g->rows = o->rows;
	g->winners = o->winners;
	g->winner_phase = o->rows > 0 ? below(&g->rng, o->rows) : 0;
	do {
		g->doc_step = 1 + below(&g->rng, DOCUMENT_SPAN - 1);
	} while (gcd(g->doc_step, DOCUMENT_SPAN) != 1);
	g->doc_offset = below(&g->rng, DOCUMENT_SPAN);
}

/* Row i wins when the line k * winners / rows crosses an integer between i and i + 1: over
 * i = 0..rows-1 that happens exactly `winners` times, evenly spaced (phase < rows keeps the
 * count exact). */
static bool is_winner(const struct generator *g, uint64_t i)
{
	if (g->winners == 0)
		return false;
	return (i * g->winners + g->winner_phase) / g->rows !=
	       ((i + 1) * g->winners + g->winner_phase) / g->rows;
}

static int days_in_month(int year, int month)
{
	int days = 31;
	while (!bet_date_exists(year, month, days))
		days--;
	return days;
}

static const char *pick(uint64_t *rng, const char *const *names, size_t count,
                        const char *const *tricky, size_t tricky_count)
{
	if (below(rng, TRICKY_ONE_IN) == 0)
		return tricky[below(rng, tricky_count)];
	return names[below(rng, count)];
}

/* Appends row i as one CSV record to line at *pos. */
static int generate_row(struct generator *g, uint64_t i, char *line, size_t cap, size_t *pos)
{
	char document[24], birthdate[40], number[16];

	const char *first = pick(&g->rng, first_names, COUNT(first_names), tricky_first_names,
	                         COUNT(tricky_first_names));
	const char *last = pick(&g->rng, last_names, COUNT(last_names), tricky_last_names,
	                        COUNT(tricky_last_names));
	uint64_t doc = DOCUMENT_FIRST + (g->doc_step * i + g->doc_offset) % DOCUMENT_SPAN;
	snprintf(document, sizeof document, "%llu", (unsigned long long)doc);

	int year = YEAR_FIRST + (int)below(&g->rng, YEAR_LAST - YEAR_FIRST + 1);
	int month = 1 + (int)below(&g->rng, 12);
	int day = 1 + (int)below(&g->rng, (uint64_t)days_in_month(year, month));
	snprintf(birthdate, sizeof birthdate, "%04d-%02d-%02d", year, month, day);

	unsigned n;
	if (is_winner(g, i)) {
		n = LOTTERY_WINNER_NUMBER;
	} else {
		n = (unsigned)below(&g->rng, BET_NUMBER_MAX); /* 0..9998, then skip the winner */
		if (n >= LOTTERY_WINNER_NUMBER)
			n++;
	}
	snprintf(number, sizeof number, "%u", n);

	const char *fields[] = {first, last, document, birthdate, number};
	size_t lengths[COUNT(fields)];
	for (size_t f = 0; f < COUNT(fields); f++)
		lengths[f] = strlen(fields[f]);
	return csv_put_record(line, cap, pos, fields, lengths, COUNT(fields));
}

/* ---------------------------------------------------------------------------------------------
 * command line */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: agency-gen --rows N --winners K [--seed S] [--agency A] [--output FILE]\n"
	        "\n"
	        "Writes N synthetic bets as CSV (first_name,last_name,document,birthdate,number; no\n"
	        "header; LF line ends) to FILE or stdout. Exactly K rows (K <= N) have the winning\n"
	        "number %d, spread through the file; documents are distinct 7-8 digit numbers;\n"
	        "birthdates fall in %d..%d. The same arguments always give the same file.\n"
	        "\n"
	        "  --rows N       bets to write, 0..%u\n"
	        "  --winners K    winning bets among them\n"
	        "  --seed S       any whole number (default 0)\n"
	        "  --agency A     1..%d (default 1): agencies with one seed still differ\n"
	        "  --output FILE  write here instead of stdout\n"
	        "  --help         this text\n",
	        LOTTERY_WINNER_NUMBER, YEAR_FIRST, YEAR_LAST, DOCUMENT_SPAN, BET_AGENCY_MAX);
}

__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	fprintf(stderr, "agency-gen: %s\nTry 'agency-gen --help'.\n", why);
	return EXIT_USAGE;
}

#define PARSE_RUN (-1)

/* PARSE_RUN to go on, or the exit code (EXIT_SUCCESS after --help). */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const char *const names[] = {"--rows", "--winners", "--seed", "--agency", "--output"};
	bool seen[COUNT(names)] = {false};

	*o = (struct options){.seed = 0, .agency = 1};
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			usage(stdout);
			return EXIT_SUCCESS;
		}
		size_t which = COUNT(names);
		const char *value = NULL;
		for (size_t n = 0; n < COUNT(names); n++) {
			size_t len = strlen(names[n]);
			if (strncmp(arg, names[n], len) != 0)
				continue;
			if (arg[len] == '=') {
				which = n;
				value = arg + len + 1;
			} else if (arg[len] == '\0') {
				which = n;
				if (i + 1 >= argc)
					return bad_usage("%s needs a value", names[n]);
				value = argv[++i];
			}
		}
		if (which == COUNT(names))
			return bad_usage("unknown argument \"%s\"", arg);
		seen[which] = true;

		int bad = 0;
		switch (which) {
		case 0:
			bad = number_parse_u32(value, 0, UINT32_MAX, &o->rows);
			break;
		case 1:
			bad = number_parse_u32(value, 0, UINT32_MAX, &o->winners);
			break;
		case 2:
			bad = number_parse_u64(value, 0, UINT64_MAX, &o->seed);
			break;
		case 3:
			bad = number_parse_u32(value, 0, UINT32_MAX, &o->agency);
			break;
		default:
			if (value[0] == '\0')
				return bad_usage("%s: empty file name", names[which]);
			o->output = value;
			break;
		}
		if (bad != 0)
			return bad_usage("%s: not a whole number in range", names[which]);
	}
	if (!seen[0])
		return bad_usage("%s is required", "--rows");
	if (!seen[1])
		return bad_usage("%s is required", "--winners");
	if (o->rows > DOCUMENT_SPAN)
		return bad_usage("%s: too many rows (documents would repeat)", "--rows");
	if (o->winners > o->rows)
		return bad_usage("%s: more winners than rows", "--winners");
	if (o->agency < 1 || o->agency > BET_AGENCY_MAX)
		return bad_usage("%s: out of range", "--agency");
	return PARSE_RUN;
}

static int write_rows(const struct options *o, FILE *out)
{
	struct generator g;
	char line[1024];

	generator_init(&g, o);
	for (uint64_t i = 0; i < o->rows; i++) {
		size_t pos = 0;
		if (generate_row(&g, i, line, sizeof line, &pos) != 0) {
			errno = EOVERFLOW; /* cannot happen with the built-in names */
			return -1;
		}
		if (fwrite(line, 1, pos, out) != pos)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	int rc = parse_args(argc, argv, &o);
	if (rc != PARSE_RUN)
		return rc;

	const char *name = o.output != NULL ? o.output : "stdout";
	FILE *out = o.output != NULL ? fopen(o.output, "w") : stdout;
	if (out == NULL) {
		fprintf(stderr, "agency-gen: %s: cannot open: %s\n", name, strerror(errno));
		return EXIT_FAILURE;
	}
	int failed = write_rows(&o, out);
	int saved = errno;
	if (fclose(out) != 0 && failed == 0) {
		failed = -1;
		saved = errno;
	}
	if (failed != 0) {
		fprintf(stderr, "agency-gen: %s: cannot write: %s\n", name, strerror(saved));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
