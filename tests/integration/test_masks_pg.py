#!/usr/bin/env python3
"""test_masks_pg.py PDP -- every mask's PostgreSQL expression, executed.

Compiles tests/integration/maskmesh (one PII category per mask), asks
`pdp eval` for the postgres SQL of each masked column, starts a real
PostgreSQL (Debian's, in a temporary data directory, on a free port,
as the postgres user), runs each expression over sample rows and checks
that the value really is masked as documented. Prints `N passed, N failed`.
"""
import glob
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PDP = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/pdp")
SALT = "pepper'1"
res = {"p": 0, "f": 0}


def check(name, cond, detail=""):
    res["p" if cond else "f"] += 1
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": %r" % (detail,)))


def pg_bin(name):
    hits = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name))
    return hits[-1] if hits else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def mask_sql(tmp):
    bundle = os.path.join(tmp, "m.bundle")
    subprocess.run([PDP, "compile", "tests/integration/maskmesh", "-o", bundle], check=True, capture_output=True)
    req = {"subject": {"id": "u", "domain": "t", "groups": ["t-team"]}, "action": "read",
           "resource": {"product": "t.people"}, "context": {"dialect": "postgres"}}
    out = subprocess.run([PDP, "eval", "--bundle", bundle, "--mask-salt", SALT, "-"], input=json.dumps(req),
                         check=True, capture_output=True, text=True).stdout
    cols = json.loads(out)["columns"]
    return {c: v["sql"] for c, v in cols.items() if v["access"] == "mask"}


def start_pg(tmp):
    data, sock = os.path.join(tmp, "pg"), os.path.join(tmp, "sock")
    os.makedirs(sock)
    shutil.chown(tmp, "postgres")
    for d in (sock,):
        shutil.chown(d, "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_pg + [pg_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres"], check=True,
                   capture_output=True)
    port = free_port()
    subprocess.run(as_pg + [pg_bin("pg_ctl"), "-D", data, "-l", os.path.join(tmp, "pg.log"), "-w", "-o",
                            "-p %d -k %s -c listen_addresses=''" % (port, sock), "start"],
                   check=True, capture_output=True)
    return as_pg, data, sock, port


def psql(sock, port, sql):
    p = subprocess.run(["psql", "-h", sock, "-p", str(port), "-U", "postgres", "-At", "-P", "null=<null>",
                        "-v", "ON_ERROR_STOP=1",
                        "-c", sql], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(p.stderr)
    return p.stdout.splitlines()


ROWS = """CREATE TABLE people (id int, dob date, card text, phone text, "e-mail" text, ident text,
    full_name text, ssn text);
INSERT INTO people VALUES
 (1, '1990-05-17', '4111222233334444', '+15551234567', 'alice@example.com', 'abc', 'Alice Smith', '123-45-6789'),
 (2, '2001-12-31', '12', '5678', 'bob@corp.example', 'x''y', 'Bob', '987-65-4321'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"""

EXPECT = {
    "dob": ["1990-01-01", "2001-01-01", "<null>"],
    "card": ["4111************", "12", "<null>"],
    "phone": ["********4567", "5678", "<null>"],
    "e-mail": ["***@example.com", "***@corp.example", "<null>"],
    "ident": [hashlib.sha256(("abc" + SALT).encode()).hexdigest(),
              hashlib.sha256(("x'y" + SALT).encode()).hexdigest(), "<null>"],
    "full_name": ["[REDACTED]", "[REDACTED]", "<null>"],
    "ssn": ["<null>", "<null>", "<null>"],
}


def main():
    if not pg_bin("initdb"):
        check("PostgreSQL installed", False, "postgresql not installed (make deps)")
        return
    tmp = tempfile.mkdtemp(prefix="pdp-pg-")
    pg = None
    try:
        sql = mask_sql(tmp)
        check("a SQL expression for each of the 7 masks", len(sql) == 7, sorted(sql))
        pg = start_pg(tmp)
        psql(pg[2], pg[3], ROWS)
        for col, expr in sorted(sql.items()):
            try:
                got = psql(pg[2], pg[3], "SELECT %s FROM people ORDER BY id" % expr)
            except RuntimeError as e:
                check("mask of %s runs in PostgreSQL" % col, False, str(e)[:300])
                continue
            check("mask of %s masks (%s)" % (col, expr[:50]), got == EXPECT[col], got)
    finally:
        if pg:
            subprocess.run(pg[0] + [pg_bin("pg_ctl"), "-D", pg[1], "-m", "immediate", "stop"],
                           capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    print("%d passed, %d failed" % (res["p"], res["f"]))
    sys.exit(1 if res["f"] else 0)
