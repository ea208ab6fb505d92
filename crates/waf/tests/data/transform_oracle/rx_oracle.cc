// Differential oracle for @rx: runs each pattern through libmodsecurity 3 (PCRE2) as
// `SecRule ARGS:a "@rx PATTERN"` on every payload (sent percent-encoded in the query string,
// so ARGS:a is the exact bytes). Input: argv[1] = file of hex patterns, argv[2] = file of hex
// payloads. Output: "<pattern index>\t<payload index>" for every match.
// Build: g++ -O1 -o /tmp/rx_oracle rx_oracle.cc -lmodsecurity
#include <cstdlib>
#include <cstddef>
#include <modsecurity/intervention.h>
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace modsecurity;
static std::string unhex(const std::string &h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back((char)std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}
static std::vector<std::string> read_hex_lines(const char *path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(f, line)) out.push_back(unhex(line));
  return out;
}
static std::string pct(const std::string &s) {
  static const char *d = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) { out.push_back('%'); out.push_back(d[c >> 4]); out.push_back(d[c & 15]); }
  return out;
}
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  auto patterns = read_hex_lines(argv[1]);
  auto payloads = read_hex_lines(argv[2]);
  std::vector<std::string> uris;
  for (auto &p : payloads) uris.push_back("/?a=" + pct(p));
  modsecurity::ModSecurity *ms = msc_init();
  for (size_t pi = 0; pi < patterns.size(); pi++) {
    std::string pat;
    for (char c : patterns[pi]) { if (c == '"') pat += "\\\""; else pat.push_back(c); }
    std::string rule = "SecRuleEngine On\nSecRule ARGS:a \"@rx " + pat + "\" \"id:1,phase:1,deny,status:403,t:none\"\n";
    RulesSet *rules = msc_create_rules_set();
    const char *error = nullptr;
    if (msc_rules_add(rules, rule.c_str(), &error) < 0) {
      std::cerr << "pattern " << pi << " rejected: " << (error ? error : "?") << "\n";
      msc_rules_cleanup(rules);
      continue;
    }
    for (size_t qi = 0; qi < uris.size(); qi++) {
      Transaction *t = msc_new_transaction(ms, rules, nullptr);
      msc_process_connection(t, "127.0.0.1", 40000, "127.0.0.1", 80);
      msc_process_uri(t, uris[qi].c_str(), "GET", "1.1");
      msc_process_request_headers(t);
      ModSecurityIntervention it;
      it.status = 200; it.url = nullptr; it.log = nullptr; it.disruptive = 0; it.pause = 0;
      msc_intervention(t, &it);
      if (it.disruptive) std::cout << pi << "\t" << qi << "\n";
      if (it.url) free(it.url);
      if (it.log) free(it.log);
      msc_transaction_cleanup(t);
    }
    msc_rules_cleanup(rules);
  }
  msc_cleanup(ms);
}
