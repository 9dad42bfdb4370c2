#!/usr/bin/env python3
"""Writes the seed corpus tests/fuzz/corpus/<harness>/: a few valid inputs of every kind, made up
here (none comes from the course's dataset). Run from the repository's root; the files are
committed, so this is only needed to change them."""
import os
import shutil
import struct

ROOT = os.path.join("tests", "fuzz", "corpus")


def write(harness, name, data):
    folder = os.path.join(ROOT, harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def s(text):
    raw = text.encode()
    return bytes([len(raw)]) + raw


def frame(kind, payload):
    return struct.pack(">BBBBI", 0xFE, 1, kind, 0, len(payload)) + payload


def bet(first, last, document, birthdate, number):
    return s(first) + s(last) + s(document) + s(birthdate) + struct.pack(">H", number)


def proto():
    b1 = bet("Ana", "Gómez", "30904465", "1999-03-17", 7574)
    b2 = bet("Juan Pablo", "O'Neil", "1", "2000-02-29", 0)
    b3 = bet("Zoë", "Ñandú", "9999999999", "1970-01-01", 9999)
    write("fuzz_proto", "bet", frame(0x01, struct.pack(">I", 1) + b1))
    write("fuzz_proto", "bet-nul", frame(0x01, struct.pack(">I", 2) + bet("Ju\0an", "X", "12", "1990-01-01", 5)))
    write("fuzz_proto", "batch-3", frame(0x02, struct.pack(">IIH", 3, 0, 3) + b1 + b2 + b3))
    write("fuzz_proto", "batch-empty", frame(0x02, struct.pack(">IIH", 3, 7, 0)))
    write("fuzz_proto", "done", frame(0x03, struct.pack(">II", 4, 3)))
    write("fuzz_proto", "query", frame(0x04, struct.pack(">II", 5, 0)))
    write("fuzz_proto", "ack", frame(0x81, struct.pack(">II", 9, 15)))
    write("fuzz_proto", "reject", frame(0x82, struct.pack(">BH", 6, 2) + s("invalid birthdate")))
    write("fuzz_proto", "winners", frame(0x83, struct.pack(">IIH", 3, 0, 3) + s("30904465") + s("1") + s("9999999999")))
    write("fuzz_proto", "error", frame(0x84, struct.pack(">B", 8) + s("batch out of sequence")))
    write("fuzz_proto", "error-empty", frame(0x84, struct.pack(">B", 10) + s("")))
    write("fuzz_proto", "bad-magic", b"hello\n\0\0\0")


def csv():
    write("fuzz_csv", "plain", "Ana,Gómez,30904465,1999-03-17,7574\nJuan,Pérez,1,2000-02-29,0\n")
    write("fuzz_csv", "quoted", '"Smith, John","O""Neil","12","1980-05-05","42"\r\n"multi\nline",b,c,d,e')
    write("fuzz_csv", "empty-lines", "\n\na,b\n\r\n,,\n")
    write("fuzz_csv", "bad-quote", 'a"b,c\n"open,d\n')
    write("fuzz_csv", "many-fields", ",".join(str(i) for i in range(20)) + "\n")


def duration():
    for i, text in enumerate(["300ms", "5s", "1m30s", "1.5h", "2h45m", "-1.5s", "0", "1.5µs",
                              "2μs", "100ns", "+3us", ".5s", "2562047h47m16.854775807s",
                              "-2562047h47m16.854775808s", "1h0m0s"]):
        write("fuzz_duration", "d%02d" % i, text)


def configs():
    shutil.copy(os.path.join("supervisor", "config.ini"), os.path.join(ROOT, "fuzz_config_server", "config.ini"))
    write("fuzz_config_server", "full.ini",
          "[DEFAULT]\nSERVER_PORT = 0\nSERVER_IP = localhost\nSERVER_LISTEN_BACKLOG = 128\n"
          "LOGGING_LEVEL = DEBUG\nAGENCIES = 9999\nMAX_WORKERS = 4096\nIDLE_TIMEOUT = 1m30s\n"
          "BETS_FILE = /tmp/bets.csv\nFSYNC = 0\nLOG_SETTLE = 0\n; comment\n[other]\nX = 1\n")
    write("fuzz_config_server", "bad.ini", "[DEFAULT]\nSERVER_PORT = 70000\nIDLE_TIMEOUT = 5x\n")
    write("fuzz_config_client", "config.yaml",
          "id: 1\n" + open(os.path.join("client", "config.yaml")).read())
    write("fuzz_config_client", "full.yaml",
          "id: 7\nserver:\n  address: \"127.0.0.1:12345\"\n  timeout: 2s\nloop: {amount: 3, period: 10ms}\n"
          "log:\n  level: DEBUG\nbatch:\n  maxAmount: 100\n  window: 16\nmode: bet\n"
          "bets:\n  file: \"agency-7.csv\"\nretry:\n  attempts: 3\ndraw:\n  timeout: 1m\n"
          "extra: [1, 2, {a: b}]\n")
    write("fuzz_config_client", "anchors.yaml", "base: &b {amount: 1}\nid: 2\nloop: *b\nmode: echo\n")


os.makedirs(os.path.join(ROOT, "fuzz_config_server"), exist_ok=True)
proto()
csv()
duration()
configs()
