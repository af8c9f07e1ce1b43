#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ from the committed
known-answer format vectors (mpc/tests/vectors/channel.json, dht/tests/vectors/records.json,
node/tests/vectors/*.json: their valid encodings and their malformed cases), the example schema
and the queries of docs/query-language.md. Deterministic and idempotent: a seed's file name is
its case's name; files the fuzzer added beside them are left alone. Standard library only.

Run from anywhere: python3 fuzz/seed_corpus.py   (scripts/fuzz.sh runs it)"""
import json
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
CORPUS = os.path.join(HERE, "corpus")
# Seeds longer than this are left out (libFuzzer's default input length follows the longest seed).
MAX_SEED = 256 << 10


def load(path):
    with open(os.path.join(ROOT, path)) as f:
        return json.load(f)


def case_bytes(case, field="encoded"):
    """A case's bytes: `field` in hex, then `then.count` copies of `then.byte` if given."""
    data = bytes.fromhex(case[field])
    run = case.get("then")
    if run:
        data += bytes([run["byte"]]) * run["count"]
    return data


def slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:80] or "empty"


written = {}


def seed(target, name, data):
    if len(data) > MAX_SEED:
        return
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + slug(name)), "wb") as f:
        f.write(data)
    written[target] = written.get(target, 0) + 1


def script(op, arg, body):
    """One step of a scripted target: op, arg, u16 LE length, the bytes."""
    return bytes([op, arg]) + struct.pack("<H", len(body)) + body


# ------------------------------------------------------------------ node: upload
upload = load("node/tests/vectors/upload.json")
for c in upload["batches"]:
    seed("upload_batch", c["name"], case_bytes(c))
seed("upload_batch", "cut name", case_bytes(upload["batch_cut_name"]))
for c in upload["batch_malformed"]:
    seed("upload_batch", "malformed " + c["name"], case_bytes(c))
for c in upload["receipts"]:
    seed("upload_receipt", c["name"], case_bytes(c))
for c in upload["receipt_malformed"] + upload["receipt_unverifiable"]:
    seed("upload_receipt", "bad " + c["name"], case_bytes(c))

# ------------------------------------------------------------------ node: jobs
jobs = load("node/tests/vectors/jobs.json")
for group in ("requests", "replies", "reply_cut_reason", "reply_lossy_reason",
              "request_malformed", "reply_malformed"):
    for c in jobs[group]:
        seed("job_message", group + " " + c["name"], case_bytes(c))

# ------------------------------------------------------------------ node: MPC envelope, frames
mpc = load("node/tests/vectors/mpc_envelope.json")
envelopes = [case_bytes(c) for c in mpc["envelopes"]]
for c, data in zip(mpc["envelopes"], envelopes):
    seed("mpc_envelope", c["name"], data)
for c in mpc["envelope_malformed"]:
    seed("mpc_envelope", "malformed " + c["name"], case_bytes(c))
# Scripts: every envelope from peer 0, again (duplicates), from peer 1, then released.
steps = b"".join(script(0, 0, e) for e in envelopes)
steps += b"".join(script(0, 0, e) for e in envelopes)
steps += b"".join(script(0, 1, e) for e in envelopes)
steps += b"".join(script(1, 1, e[:32]) + script(2, 0, b"") for e in envelopes)
steps += b"".join(script(3, 0, e[:32]) for e in envelopes)
seed("mpc_envelope", "script deliver duplicate close release", steps)

protocols = {"upload": 0, "mpc": 1, "job": 2, "response": 3}
for c in mpc["frames"]:
    for name, selector in protocols.items():
        seed("node_frame", name + " frame of " + str(len(c["body"]) // 2),
             bytes([selector]) + case_bytes(c))
for c in mpc["frame_malformed"]:
    seed("node_frame", c["name"], bytes([protocols[c["protocol"]]]) + bytes.fromhex(c["header"]))
for name, selector in protocols.items():
    limit = mpc["frame_limits"][name]
    seed("node_frame", name + " at the limit", bytes([selector]) + struct.pack("<I", limit))

# ------------------------------------------------------------------ mpc: channel, TCP
channel = load("mpc/tests/vectors/channel.json")
MODE = {None: 0, "Mp127": 1, "RistrettoScalar": 2}
KINDS = ["Input", "PrssKeys", "DoubleRandomDeal", "ToKing", "FromKing", "Open", "OpenTo",
         "VssCommitment", "VssCombined", "RandomDeal", "Reshare"]
link = b""
for m in channel["link"]:
    op = (m["kind_byte"] - 1) + 11 * MODE[m.get("field")]
    step = script(op, len(m.get("elements", [])), case_bytes(m))
    link += step
    if m["seq"] == 0:
        seed("mpc_channel", "first " + m["kind"], step)
seed("mpc_channel", "the whole link", link)
for c in channel["malformed"]:
    e = c["expect"]
    op = KINDS.index(e["kind"]) + 11 * MODE[e.get("field")]
    seed("mpc_channel", "malformed " + c["name"], script(op, e.get("count", 0), case_bytes(c)))

tcp = channel["tcp"]
frames = b"".join(case_bytes(f) for f in tcp["frames"])
for h in tcp["hellos"]:
    seed("mpc_tcp", "hello %d then frames" % h["index"], case_bytes(h) + frames)
for h in tcp["hello_malformed"]:
    seed("mpc_tcp", "hello " + h["name"], case_bytes(h))
for f in tcp["frame_malformed"]:
    seed("mpc_tcp", "frame " + f["name"],
         case_bytes(tcp["hellos"][0]) + bytes.fromhex(f["header"]))

# ------------------------------------------------------------------ dht
records = load("dht/tests/vectors/records.json")
for group in ("manifests", "announcements"):
    for c in records[group]:
        seed("dht_record", group + " " + c["name"], case_bytes(c))
        seed("dht_payload", group + " " + c["name"], case_bytes(c, "payload"))
        if group == "manifests":
            seed("query_schema", "manifest " + c["name"], c["manifest"]["schema"].encode())
for c in records["invalid"]:
    seed("dht_record", "invalid " + c["name"], case_bytes(c))
for c in records["stored_records"]:
    seed("dht_stored_record", c["name"], case_bytes(c))
for c in records["stored_malformed"]:
    seed("dht_stored_record", "malformed " + c["name"], case_bytes(c))

# ------------------------------------------------------------------ node: share store
store = load("node/tests/vectors/store.json")
for c in store["records"]:
    seed("store_record", "dataset " + c["name"], b"\x00" + case_bytes(c))
for c in store["record_malformed"]:
    seed("store_record", "dataset malformed " + c["name"], b"\x00" + case_bytes(c))
for b in store["batches"]:
    seed("store_record", "header of batch %d" % b["index"], b"\x01" + case_bytes(b, "header"))
for c in store["header_malformed"]:
    seed("store_record", "header malformed " + c["name"], b"\x01" + case_bytes(c))

# ------------------------------------------------------------------ node: configuration
CONFIG = """data_dir = "data"
identity_key = "node.key"
chain_key = "chain.key"
at_rest_key = "at-rest.key"

[network]
listen = ["{listen}"]
bootstrap = [{bootstrap}]
request_timeout_secs = 30

[chain]
rpc_url = "http://127.0.0.1:8545"
contracts = "contracts.json"
deposit_wei = "1000000000000000000"
poll_ms = 500

[http]
listen = "127.0.0.1:9100"
"""
PEER = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
seed("node_config", "template", CONFIG.format(listen="/ip4/0.0.0.0/tcp/7000", bootstrap="").encode())
seed("node_config", "quic and a bootstrap peer", CONFIG.format(
    listen="/ip4/0.0.0.0/udp/7000/quic-v1",
    bootstrap='"/ip4/10.0.0.2/tcp/7000/p2p/%s"' % PEER).encode())

# ------------------------------------------------------------------ query
with open(os.path.join(ROOT, "examples/patients/schema.json"), "rb") as f:
    seed("query_schema", "patients", f.read())
with open(os.path.join(ROOT, "docs/query-language.md")) as f:
    doc = f.read()
queries = sorted(set(q.strip() for q in re.findall(r"SELECT\b[^`\n]*", doc)))
for i, q in enumerate(queries):
    q = re.sub(r"\bFROM\s+\w+", "FROM patients", q)
    seed("query_text", "doc %03d" % i, q.encode())

for target in sorted(written):
    print("%-18s %d seeds" % (target, written[target]))
