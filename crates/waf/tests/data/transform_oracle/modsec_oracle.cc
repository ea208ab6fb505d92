// Differential oracle: runs libmodsecurity 3's own transformation code and libinjection.
// Input lines: "<name>\t<hex input>"; output lines: "<hex output>".
// Build: g++ -O1 -o oracle oracle.cc -lmodsecurity
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

namespace modsecurity {
class Transaction;
namespace actions { namespace transformations {
#define T(C) class C { public: std::string evaluate(const std::string &, modsecurity::Transaction *); };
T(LowerCase) T(UpperCase) T(UrlDecode) T(UrlDecodeUni) T(UrlEncode) T(HtmlEntityDecode) T(JsDecode)
T(CssDecode) T(Utf8ToUnicode) T(RemoveNulls) T(ReplaceNulls) T(RemoveWhitespace) T(CompressWhitespace)
T(ReplaceComments) T(RemoveComments) T(RemoveCommentsChar) T(CmdLine) T(NormalisePath) T(NormalisePathWin)
T(EscapeSeqDecode) T(Base64Decode) T(Base64DecodeExt) T(Base64Encode) T(HexEncode) T(HexDecode)
T(SqlHexDecode) T(Sha1) T(Md5) T(Length) T(Trim) T(TrimLeft) T(TrimRight) T(ParityEven7bit)
T(ParityOdd7bit) T(ParityZero7bit)
#undef T
}}}
extern "C" {
int libinjection_sqli(const char *s, size_t slen, char fingerprint[]);
int libinjection_xss(const char *s, size_t slen);
}
using namespace modsecurity::actions::transformations;

static std::string unhex(const std::string &h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back((char)std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}
static std::string tohex(const std::string &s) {
  static const char *d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) { out.push_back(d[c >> 4]); out.push_back(d[c & 15]); }
  return out;
}
static char dummy[4096];
#define RUN(C) if (name == #C) { return reinterpret_cast<C *>(dummy)->evaluate(in, nullptr); }
static std::string run(const std::string &name, const std::string &in) {
  RUN(LowerCase) RUN(UpperCase) RUN(UrlDecode) RUN(UrlDecodeUni) RUN(UrlEncode) RUN(HtmlEntityDecode)
  RUN(JsDecode) RUN(CssDecode) RUN(Utf8ToUnicode) RUN(RemoveNulls) RUN(ReplaceNulls) RUN(RemoveWhitespace)
  RUN(CompressWhitespace) RUN(ReplaceComments) RUN(RemoveComments) RUN(RemoveCommentsChar) RUN(CmdLine)
  RUN(NormalisePath) RUN(NormalisePathWin) RUN(EscapeSeqDecode) RUN(Base64Decode) RUN(Base64DecodeExt)
  RUN(Base64Encode) RUN(HexEncode) RUN(HexDecode) RUN(SqlHexDecode) RUN(Sha1) RUN(Md5) RUN(Length)
  RUN(Trim) RUN(TrimLeft) RUN(TrimRight) RUN(ParityEven7bit) RUN(ParityOdd7bit) RUN(ParityZero7bit)
  if (name == "sqli") {
    char fp[8] = {0};
    int r = libinjection_sqli(in.data(), in.size(), fp);
    return r ? std::string("1:") + fp : std::string("0:");
  }
  if (name == "xss") return libinjection_xss(in.data(), in.size()) ? "1" : "0";
  return "?";
}
int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    size_t tab = line.find('\t');
    if (tab == std::string::npos) { std::cout << "?\n"; continue; }
    std::string name = line.substr(0, tab);
    std::string out = run(name, unhex(line.substr(tab + 1)));
    if (name == "sqli" || name == "xss") std::cout << out << "\n"; else std::cout << tohex(out) << "\n";
    std::cout.flush();
  }
}
