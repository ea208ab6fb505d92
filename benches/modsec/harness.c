/*
 * libmodsecurity 3 side of the WAF comparison (benches/waf-compare.sh).
 *
 *   harness verdicts RULES REQUESTS   one line per request: name, status (0 = pass),
 *                                     expected status, matched rule ids; exit 1 on mismatch
 *   harness bench RULES REQUESTS N    rule load time, RSS, then per request the median and
 *                                     p90 microseconds over N transactions (checks verdicts)
 *
 * RULES is a SecLang file (with Includes), REQUESTS the format written by
 * `waf-requests bench|tables` (benches/src/bin/waf-requests.rs). Each transaction makes the
 * calls a connector makes for a request: msc_new_transaction, msc_process_connection,
 * msc_process_uri, msc_add_request_header..., msc_process_request_headers,
 * msc_append_request_body, msc_process_request_body, msc_process_logging.
 */
#define _GNU_SOURCE
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>
#include <modsecurity/intervention.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct header { char *name; char *value; };
struct request {
    char *name;
    int expect;
    char *method, *uri, *version;
    struct header *headers;
    size_t nheaders;
    unsigned char *body;
    size_t body_len;
};

static char matched[4096];

static void log_cb(void *data, const void *msg) {
    (void)data;
    const char *text = msg, *p = text;
    while ((p = strstr(p, "[id \"")) != NULL) {
        p += 5;
        const char *end = strchr(p, '"');
        if (!end) break;
        size_t used = strlen(matched);
        if (used + (size_t)(end - p) + 2 < sizeof matched) {
            if (used) strcat(matched, " ");
            strncat(matched, p, (size_t)(end - p));
        }
    }
}

static void die(const char *what) { fprintf(stderr, "harness: %s\n", what); exit(2); }

static char *chomp_dup(const char *s) {
    char *d = strdup(s);
    size_t n = strlen(d);
    while (n && (d[n - 1] == '\n' || d[n - 1] == '\r')) d[--n] = 0;
    return d;
}

static struct request *read_requests(const char *path, size_t *count) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open requests file");
    struct request *reqs = NULL;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    struct request *cur = NULL;
    while (getline(&line, &cap, f) > 0) {
        if (!strncmp(line, "REQ ", 4)) {
            reqs = realloc(reqs, (n + 1) * sizeof *reqs);
            cur = &reqs[n++];
            memset(cur, 0, sizeof *cur);
            cur->name = chomp_dup(line + 4);
            cur->expect = -1;
        } else if (!cur) {
            die("requests file does not start with REQ");
        } else if (!strncmp(line, "EXPECT ", 7)) {
            cur->expect = atoi(line + 7);
        } else if (!strncmp(line, "LINE ", 5)) {
            char *l = chomp_dup(line + 5);
            char *sp1 = strchr(l, ' '), *sp2 = sp1 ? strrchr(l, ' ') : NULL;
            if (!sp1 || sp1 == sp2) die("bad LINE");
            *sp1 = 0; *sp2 = 0;
            cur->method = l;
            cur->uri = sp1 + 1;
            /* msc_process_uri wants "1.1", not "HTTP/1.1" */
            cur->version = strncmp(sp2 + 1, "HTTP/", 5) ? sp2 + 1 : sp2 + 6;
        } else if (!strncmp(line, "H ", 2)) {
            char *h = chomp_dup(line + 2);
            char *colon = strchr(h, ':');
            if (!colon) die("bad H");
            *colon = 0;
            char *v = colon + 1;
            while (*v == ' ') v++;
            cur->headers = realloc(cur->headers, (cur->nheaders + 1) * sizeof *cur->headers);
            cur->headers[cur->nheaders].name = h;
            cur->headers[cur->nheaders].value = v;
            cur->nheaders++;
        } else if (!strncmp(line, "BODY ", 5)) {
            cur->body_len = strtoul(line + 5, NULL, 10);
            cur->body = malloc(cur->body_len + 1);
            if (fread(cur->body, 1, cur->body_len, f) != cur->body_len) die("short BODY");
            fgetc(f); /* the newline after the body */
        }
    }
    free(line);
    fclose(f);
    *count = n;
    return reqs;
}

/* Runs one transaction; returns the deny status (0 = pass). */
static int run(ModSecurity *ms, RulesSet *rules, const struct request *r) {
    matched[0] = 0;
    Transaction *t = msc_new_transaction(ms, rules, NULL);
    ModSecurityIntervention it;
    int status = 0;
    msc_process_connection(t, "127.0.0.1", 40000, "127.0.0.1", 8443);
    msc_process_uri(t, r->uri, r->method, r->version);
    for (size_t i = 0; i < r->nheaders; i++)
        msc_add_request_header(t, (const unsigned char *)r->headers[i].name,
                               (const unsigned char *)r->headers[i].value);
    msc_process_request_headers(t);
    memset(&it, 0, sizeof it);
    it.status = 200;
    if (msc_intervention(t, &it) && it.disruptive) status = it.status;
    free(it.log); free(it.url);
    if (!status) {
        if (r->body_len) msc_append_request_body(t, r->body, r->body_len);
        msc_process_request_body(t);
        memset(&it, 0, sizeof it);
        it.status = 200;
        if (msc_intervention(t, &it) && it.disruptive) status = it.status;
        free(it.log); free(it.url);
    }
    msc_process_logging(t);
    msc_transaction_cleanup(t);
    return status;
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = atol(line + 6);
    if (f) fclose(f);
    return kib;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 4) die("usage: harness verdicts|bench RULES REQUESTS [N]");
    int bench = !strcmp(argv[1], "bench");
    long iterations = argc > 4 ? atol(argv[4]) : 2000;
    size_t count;
    struct request *reqs = read_requests(argv[3], &count);

    long rss_before = rss_kib();
    double t0 = now_us();
    ModSecurity *ms = msc_init();
    msc_set_connector_info(ms, "portcullis-bench-harness");
    msc_set_log_cb(ms, log_cb);
    RulesSet *rules = msc_create_rules_set();
    const char *error = NULL;
    if (msc_rules_add_file(rules, argv[2], &error) < 0) {
        fprintf(stderr, "harness: loading rules: %s\n", error ? error : "?");
        return 2;
    }
    double load_ms = (now_us() - t0) / 1e3;

    int mismatches = 0;
    if (!bench) {
        for (size_t i = 0; i < count; i++) {
            int status = run(ms, rules, &reqs[i]);
            int bad = reqs[i].expect >= 0 && status != reqs[i].expect;
            mismatches += bad;
            printf("%s\t%d\t%d\t%s\t%s\n", bad ? "MISMATCH" : "ok", status, reqs[i].expect,
                   matched, reqs[i].name);
        }
        fprintf(stderr, "%zu requests, %d mismatches\n", count, mismatches);
        return mismatches ? 1 : 0;
    }

    for (size_t i = 0; i < count; i++) { /* warm up, check verdicts */
        int status = run(ms, rules, &reqs[i]);
        if (reqs[i].expect >= 0 && status != reqs[i].expect) {
            fprintf(stderr, "harness: %s: status %d, expected %d (matched %s)\n", reqs[i].name,
                    status, reqs[i].expect, matched);
            return 1;
        }
    }
    printf("load_ms\t%.1f\n", load_ms);
    printf("rss_kib\t%ld\t(before rules %ld)\n", rss_kib(), rss_before);
    double *times = malloc(iterations * sizeof *times);
    for (size_t i = 0; i < count; i++) {
        for (long k = 0; k < iterations; k++) {
            double s = now_us();
            run(ms, rules, &reqs[i]);
            times[k] = now_us() - s;
        }
        qsort(times, iterations, sizeof *times, cmp_double);
        printf("median_us\t%s\t%.2f\tp90_us\t%.2f\n", reqs[i].name, times[iterations / 2],
               times[iterations * 9 / 10]);
    }
    return 0;
}
