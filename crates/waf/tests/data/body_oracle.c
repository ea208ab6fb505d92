/* Differential oracle for the body processor tests (tests/body_oracle.rs): runs one request
 * body through libmodsecurity 3 and prints the log lines of the rules in body_oracle.conf. */
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>
#include <modsecurity/intervention.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cb(void *data, const void *msg) { printf("LOG %s\n", (const char *)msg); }

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb"); if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END); *len = ftell(f); fseek(f, 0, SEEK_SET);
    char *b = malloc(*len + 1); fread(b, 1, *len, f); b[*len] = 0; fclose(f); return b;
}

int main(int argc, char **argv) {
    /* argv[1] = content type, argv[2] = body file, argv[3] = rules file */
    if (argc != 4) { fprintf(stderr, "usage: oracle CONTENT-TYPE BODY-FILE RULES-FILE\n"); return 2; }
    ModSecurity *ms = msc_init();
    msc_set_log_cb(ms, cb);
    RulesSet *rules = msc_create_rules_set();
    const char *err = NULL;
    size_t rl; char *rtext = slurp(argv[3], &rl);
    if (msc_rules_add(rules, rtext, &err) < 0) { printf("RULES ERROR %s\n", err); return 1; }
    Transaction *tx = msc_new_transaction(ms, rules, NULL);
    msc_process_connection(tx, "127.0.0.1", 4000, "127.0.0.1", 80);
    msc_process_uri(tx, "/post", "POST", "1.1");
    msc_add_request_header(tx, (const unsigned char *)"Host", (const unsigned char *)"localhost");
    msc_add_request_header(tx, (const unsigned char *)"Content-Type", (const unsigned char *)argv[1]);
    msc_process_request_headers(tx);
    size_t bl; char *body = slurp(argv[2], &bl);
    msc_append_request_body(tx, (const unsigned char *)body, bl);
    msc_process_request_body(tx);
    msc_process_logging(tx);
    return 0;
}
