#!/usr/bin/env python3
"""Regenerates ../operator_libinjection.tsv: argument values taken from the CRS go-ftw tests
(942xxx/941xxx payloads and all others), plus mutations, labelled by the C libinjection inside
Debian's libmodsecurity3 through modsec_oracle.cc. Usage:
python3 generate_libinjection.py /tmp/oracle /path/to/crs/tests > ../operator_libinjection.tsv"""
import os, random, subprocess, sys, urllib.parse

def values(tests_dir):
    out = set()
    for root, _, files in os.walk(tests_dir):
        for f in files:
            if not f.endswith(".yaml"):
                continue
            for line in open(os.path.join(root, f), encoding="utf-8", errors="replace"):
                t = line.strip()
                for key in ("data:", "uri:"):
                    if t.startswith(key):
                        v = t[len(key):].strip().strip('"').strip("'")
                        v = v.replace('\\"', '"').replace("\\\\", "\\")
                        if "?" in v and key == "uri:":
                            v = v.split("?", 1)[1]
                        for part in v.split("&"):
                            val = part.split("=", 1)[-1]
                            dec = urllib.parse.unquote_to_bytes(val.replace("+", " "))
                            if 0 < len(dec) <= 300:
                                out.add(dec)
    return sorted(out)

BENIGN = [b"hello world", b"John O'Reilly", b"1234", b"select a product", b"<b>bold</b>", b"a@b.com",
          b"it's 5 o'clock", b"1 or 2 items", b"rock & roll", b"SELECT", b"union station", b"-- comment",
          b"'", b"\"", b"<", b"1=1", b"x' or 'x'='x", b"<img src=x onerror=alert(1)>", b"javascript:alert(1)"]

def main():
    oracle, tests_dir = sys.argv[1], sys.argv[2]
    rng = random.Random(7)
    base = values(tests_dir) + BENIGN
    inputs = list(base)
    for v in base:
        for _ in range(1):
            b = bytearray(v)
            for _ in range(rng.randint(1, 3)):
                pos = rng.randint(0, len(b))
                op = rng.randint(0, 2)
                if op == 0 and pos < len(b):
                    del b[pos]
                elif op == 1:
                    b[pos:pos] = bytes([rng.choice(b" '\"()<>;/\\=-*#%&|a0x\n`")])
                elif pos < len(b):
                    b[pos] = rng.randint(0x20, 0x7e)
            inputs.append(bytes(b))
    inputs = sorted(set(inputs))
    lines = "".join(f"{k}\t{v.hex()}\n" for v in inputs for k in ("sqli", "xss"))
    out = subprocess.run([oracle], input=lines.encode(), capture_output=True, check=True).stdout.decode().splitlines()
    print("# kind\tinput (hex)\tlibinjection result (sqli: 1:fingerprint or 0:, xss: 1/0) — libmodsecurity 3.0.9")
    i = 0
    for v in inputs:
        for k in ("sqli", "xss"):
            print(f"{k}\t{v.hex()}\t{out[i]}")
            i += 1

main()
