#!/usr/bin/env python3
"""Generates the known-answer vectors of sharenet's wire and disk formats from their
descriptions in docs/protocol.md, docs/dht.md and docs/storage.md: a second implementation,
independent of the Rust encoders, that the tests of each crate compare against.

Writes (deterministically: re-running it rewrites the same bytes)
  mpc/tests/vectors/channel.json     protocol message framing, TCP hello and frames
  dht/tests/vectors/records.json     SignedRecord envelopes, manifests, announcements,
                                     the persisted StoredRecord
  node/tests/vectors/upload.json     /sharenet/upload/1 batch and receipt
  node/tests/vectors/jobs.json       /sharenet/job/1 requests and replies
  node/tests/vectors/mpc_envelope.json  /sharenet/mpc/1 envelope, request-response frame
  node/tests/vectors/store.json      share store records, batch header, AAD, ciphertexts

Run from anywhere: python3 mpc/tests/vectors/generate_formats.py
With --check it writes nothing and fails if a committed file differs from what it would write.
Needs only the Python standard library (the primitives are in refcrypto.py, beside it)."""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import refcrypto as rc  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
REGENERATE = "python3 mpc/tests/vectors/generate_formats.py"
P127 = 2**127 - 1
ELL = 2**252 + 27742317777372353535851937790883648493


def le(n, v):
    return v.to_bytes(n, "little")


def be(n, v):
    return v.to_bytes(n, "big")


def mp127(v):
    assert 0 <= v < P127
    return le(16, v)


def label_bytes(label, n=32):
    """Arbitrary but fixed bytes for ids and hashes in the vectors."""
    return hashlib.sha256(("sharenet format vector " + label).encode()).digest()[:n]


class Identity:
    """An ed25519 identity from a fixed seed, with its libp2p encodings."""

    def __init__(self, label):
        self.seed = label_bytes("key " + label)
        self.public = rc.ed25519_public(self.seed)
        # libp2p PublicKey protobuf: field 1 (KeyType) = 1 (Ed25519), field 2 = the 32 bytes.
        self.protobuf = b"\x08\x01\x12\x20" + self.public
        # A peer id of a key whose protobuf is at most 42 bytes is its identity multihash.
        self.peer_id = b"\x00" + bytes([len(self.protobuf)]) + self.protobuf

    def sign(self, message):
        return rc.ed25519_sign(self.seed, message)


def blob(data):
    """A long encoding that ends in a run of one byte, as {"encoded": the rest, "then": the
    run}, so that the JSON stays small; anything else as {"encoded": hex}."""
    run = len(data) - len(data.rstrip(data[-1:])) if data else 0
    if len(data) <= 4096 or run < 1024:
        return {"encoded": data.hex()}
    return {"encoded": data[:-run].hex(), "then": {"byte": data[-1], "count": run}}


def err(name, **fields):
    """An expected rejection: the error variant and its fields."""
    return dict(error=name, **fields)


# ------------------------------------------------------------------ mpc: message framing

MESSAGE_KINDS = ["Input", "PrssKeys", "DoubleRandomDeal", "ToKing", "FromKing", "Open",
                 "OpenTo", "VssCommitment", "VssCombined", "RandomDeal", "Reshare",
                 "PrssConfirm", "Abort"]


def kind_byte(name):
    return MESSAGE_KINDS.index(name) + 1


def channel_message(kind, seq, payload):
    return bytes([1, kind_byte(kind)]) + le(8, seq) + payload


def element_bytes(field, values):
    size, modulus = (16, P127) if field == "Mp127" else (32, ELL)
    assert all(0 <= v < modulus for v in values)
    return b"".join(le(size, v) for v in values)


def channel_vectors():
    # One link, endpoint 0 → endpoint 1, in send order: sequence numbers 0, 1, 2, ...
    link = [
        ("Input", "Mp127", [0, 1, P127 - 1, 2**64, 12345678901234567890]),
        ("PrssKeys", None, label_bytes("prss keys", 32)),
        ("ToKing", "Mp127", [7]),
        ("FromKing", "Mp127", []),
        ("Open", "Mp127", [P127 // 2, 3]),
        ("VssCommitment", None, label_bytes("commitment")),
        ("VssCombined", "RistrettoScalar", [0, ELL - 1]),
        ("OpenTo", "Mp127", [42]),
        ("DoubleRandomDeal", "Mp127", [1, 2, 3, 4]),
        ("RandomDeal", "Mp127", [2**126]),
        ("Reshare", "Mp127", [5, 6]),
    ]
    messages = []
    for seq, (kind, field, content) in enumerate(link):
        if field is None:
            payload, item = content, {"payload": content.hex()}
        else:
            payload = element_bytes(field, content)
            size = 16 if field == "Mp127" else 32
            item = {"field": field, "elements": [le(size, v).hex() for v in content]}
        messages.append(dict(kind=kind, kind_byte=kind_byte(kind), seq=seq, **item,
                             encoded=channel_message(kind, seq, payload).hex()))

    def bad(name, encoded, kind, count, error, field="Mp127"):
        return {"name": name, "expect": {"kind": kind, "field": field, "count": count},
                "encoded": encoded.hex(), "error": error}

    good = channel_message("Open", 0, mp127(9) + mp127(10))
    malformed = [
        bad("empty message", b"", "Open", 2,
            err("Malformed", reason="short message or unknown version")),
        bad("header cut to 9 bytes", good[:9], "Open", 2,
            err("Malformed", reason="short message or unknown version")),
        bad("version 2", b"\x02" + good[1:], "Open", 2,
            err("Malformed", reason="short message or unknown version")),
        bad("an Input message where Open is expected", channel_message("Input", 0, good[10:]),
            "Open", 2, err("UnexpectedMessage", expected="Open", got="Input")),
        bad("unknown kind 200", bytes([1, 200]) + good[2:], "Open", 2,
            err("UnexpectedMessage", expected="Open", got="unknown")),
        bad("sequence number 1 first", channel_message("Open", 1, good[10:]), "Open", 2,
            err("OutOfOrder", expected=0, got=1)),
        bad("sequence number 2^64 - 1", channel_message("Open", 2**64 - 1, good[10:]), "Open",
            2, err("OutOfOrder", expected=0, got=2**64 - 1)),
        bad("one element short", good[:-16], "Open", 2,
            err("WrongLength", expected_bytes=32, got_bytes=16)),
        bad("one byte too many", good + b"\0", "Open", 2,
            err("WrongLength", expected_bytes=32, got_bytes=33)),
        bad("elements where none are expected", good, "Open", 0,
            err("WrongLength", expected_bytes=0, got_bytes=32)),
        bad("element equal to the modulus", channel_message("Open", 0, mp127(1) + le(16, P127)),
            "Open", 2, err("Field", source="NonCanonical")),
        bad("element with the top bit set", channel_message("Open", 0, b"\xff" * 16 + mp127(1)),
            "Open", 2, err("Field", source="NonCanonical")),
        bad("scalar equal to the group order", channel_message("VssCombined", 0, le(32, ELL)),
            "VssCombined", 1, err("Field", source="NonCanonical"),
            field="RistrettoScalar"),
    ]

    session = label_bytes("tcp session", 16)
    hellos = [{"session": session.hex(), "index": i,
               "encoded": (b"SNMPCv1\0" + session + le(4, i)).hex()} for i in (1, 2, 6)]
    good_hello = b"SNMPCv1\0" + session + le(4, 1)
    hello_malformed = [
        {"name": "wrong magic", "encoded": (b"SNMPCv2\0" + good_hello[8:]).hex()},
        {"name": "another session", "encoded": (good_hello[:8] + label_bytes("other", 16)
                                                + le(4, 1)).hex()},
        {"name": "the listener's own index", "encoded": (good_hello[:24] + le(4, 0)).hex()},
        {"name": "index beyond the session", "encoded": (good_hello[:24] + le(4, 2)).hex()},
        {"name": "cut short", "encoded": good_hello[:27].hex()},
    ]
    frames = [{"message": m.hex(), "encoded": (le(4, len(m)) + m).hex()}
              for m in (b"", bytes.fromhex(messages[0]["encoded"]), b"\x00" * 3)]
    max_frame = 64 << 20
    frame_malformed = [
        {"name": "one byte over 64 MiB", "header": le(4, max_frame + 1).hex(),
         "error": err("TooLarge", size=max_frame + 1, max=max_frame)},
        {"name": "2^32 - 1 bytes", "header": le(4, 2**32 - 1).hex(),
         "error": err("TooLarge", size=2**32 - 1, max=max_frame)},
    ]
    return {
        "description": "sharenet-mpc message framing (docs/protocol.md, Message framing): "
                       "version 1, kind, sequence number u64 LE, payload; and the loopback "
                       "TCP transport's hello and length-prefixed frames",
        "regenerate": REGENERATE,
        "link": messages,
        "malformed": malformed,
        "tcp": {"session": session.hex(), "hellos": hellos, "hello_malformed": hello_malformed,
                "frames": frames, "frame_malformed": frame_malformed},
    }


# ------------------------------------------------------------------ dht: records

def u16_bytes(b):
    return be(2, len(b)) + b


def manifest_payload(m):
    out = b"\x01" + m["dataset_id"] + m["owner"]
    out += u16_bytes(m["pool"].encode()) + u16_bytes(m["name"].encode())
    out += m["schema_hash"] + u16_bytes(m["schema"].encode())
    out += be(4, m["min_cohort"]) + be(8, m["rows"]) + be(4, m["columns"])
    out += bytes([m["threshold"]]) + be(8, m["committee_epoch"]) + be(2, len(m["members"]))
    for peer_key, receipt_hash in m["members"]:
        out += peer_key + receipt_hash
    return out + be(8, m["version"]) + be(8, m["created_at"])


def announcement_payload(a):
    out = b"\x02" + a["peer_key"] + be(8, a["epoch"]) + be(8, a["timestamp"])
    out += bytes([len(a["addresses"])])
    for addr in a["addresses"]:
        out += u16_bytes(addr.encode())
    return out


SIGNING_DOMAIN = b"sharenet dht record v1\0"


def envelope(kind, signer_public, signature, payload):
    return (b"SNDR\x01" + bytes([kind]) + signer_public + signature + be(4, len(payload))
            + payload)


def signed(kind, identity, payload):
    signature = identity.sign(SIGNING_DOMAIN + bytes([kind]) + payload)
    return signature, envelope(kind, identity.public, signature, payload)


def dataset_key(dataset_id):
    return rc.blake3_derive_key("sharenet 2026-11 dht dataset key v1", dataset_id)


def node_key(peer_key):
    return rc.blake3_derive_key("sharenet 2026-11 dht node key v1", peer_key)


def manifest_json(m):
    return {"dataset_id": m["dataset_id"].hex(), "owner": m["owner"].hex(), "pool": m["pool"],
            "name": m["name"], "schema_hash": m["schema_hash"].hex(), "schema": m["schema"],
            "min_cohort": m["min_cohort"], "rows": m["rows"], "columns": m["columns"],
            "threshold": m["threshold"], "committee_epoch": m["committee_epoch"],
            "members": [{"peer_key": k.hex(), "receipt_hash": h.hex()} for k, h in m["members"]],
            "version": m["version"], "created_at": m["created_at"]}


def invalid_point():
    """A canonical 32-byte y (sign bit clear) that is not the y of any Edwards25519 point."""
    y = 2
    while True:
        x2 = (y * y - 1) * pow(rc.ED_D * y * y + 1, rc.ED_P - 2, rc.ED_P) % rc.ED_P
        if pow(x2, (rc.ED_P - 1) // 2, rc.ED_P) == rc.ED_P - 1:
            return le(32, y)
        y += 1


def dht_vectors():
    owner = Identity("dataset owner")
    nodes = [Identity(f"node {i}") for i in range(5)]
    schema = ('{"columns":[{"name":"age","type":"integer","min":0,"max":150},'
              '{"name":"smoker","type":"boolean"}]}')
    base = {
        "dataset_id": label_bytes("dataset clinic"), "owner": label_bytes("owner account", 20),
        "pool": "default", "name": "clinic visits 2026", "schema_hash": label_bytes("schema"),
        "schema": schema, "min_cohort": 10, "rows": 1_000_000, "columns": 2, "threshold": 1,
        "committee_epoch": 7,
        "members": [(n.public, label_bytes(f"receipt {i}")) for i, n in enumerate(nodes[:3])],
        "version": 1, "created_at": 1_790_000_000,
    }
    appended = dict(base, rows=1_250_000, version=1_250_000, created_at=1_790_086_400,
                    threshold=2, members=[(n.public, label_bytes(f"receipt b {i}"))
                                          for i, n in enumerate(nodes)],
                    pool="p" * 128, name="é" * 32, committee_epoch=2**64 - 1,
                    min_cohort=2**32 - 1, owner=b"\xff" * 20)
    manifests = []
    for name, m in [("three members, version 1", base),
                    ("five members after an append, longest pool and name", appended)]:
        payload = manifest_payload(m)
        signature, encoded = signed(1, owner, payload)
        manifests.append({
            "name": name, "signer_seed": owner.seed.hex(), "signer_public_key": owner.public.hex(),
            "manifest": manifest_json(m), "payload": payload.hex(),
            "manifest_hash": rc.blake3_derive_key("sharenet 2026-11 dataset manifest hash v1",
                                                  payload).hex(),
            "record_key": dataset_key(m["dataset_id"]).hex(),
            "signature": signature.hex(), "encoded": encoded.hex(),
        })

    node = nodes[0]
    ann = {"peer_key": node.public, "epoch": 7, "timestamp": 1_790_000_100,
           "addresses": ["/ip4/10.0.0.1/tcp/4001", "/ip6/::1/udp/4001/quic-v1",
                         "/dns4/node.example/tcp/443"]}
    one = dict(ann, addresses=["/ip4/127.0.0.1/tcp/1"], epoch=0, timestamp=0)
    announcements = []
    for name, a in [("three addresses", ann), ("one address, epoch 0, time 0", one)]:
        payload = announcement_payload(a)
        signature, encoded = signed(2, node, payload)
        announcements.append({
            "name": name, "signer_seed": node.seed.hex(),
            "announcement": {"peer_key": a["peer_key"].hex(), "addresses": a["addresses"],
                             "epoch": a["epoch"], "timestamp": a["timestamp"]},
            "payload": payload.hex(), "record_key": node_key(a["peer_key"]).hex(),
            "signature": signature.hex(), "encoded": encoded.hex(),
        })

    # Malformed and invalid records: `encoded` is validated under `key` at local time `now`.
    m_payload = manifest_payload(base)
    m_sig, m_env = signed(1, owner, m_payload)
    m_key = dataset_key(base["dataset_id"])
    a_payload = announcement_payload(ann)
    a_sig, a_env = signed(2, node, a_payload)
    a_key = node_key(node.public)
    now = 1_790_000_200
    cases = []

    def case(name, encoded, error, key=m_key, at=now):
        cases.append({"name": name, **blob(encoded), "key": key.hex(), "now": at,
                      "error": error})

    def resigned(kind, payload, who=owner):
        return signed(kind, who, payload)[1]

    def decode_error(kind, **fields):
        return err("Malformed", decode=err(kind, **fields))

    case("empty", b"", decode_error(kind="Truncated", field="magic"))
    case("bad magic", b"SNDX" + m_env[4:], err("BadMagic"))
    case("envelope version 2", m_env[:4] + b"\x02" + m_env[5:], err("UnsupportedVersion",
                                                                   version=2))
    case("kind 3", m_env[:5] + b"\x03" + m_env[6:], err("UnknownKind", kind=3))
    case("kind 0", m_env[:5] + b"\x00" + m_env[6:], err("UnknownKind", kind=0))
    case("cut inside the signature", m_env[:80],
         decode_error(kind="Truncated", field="signature"))
    case("cut inside the payload length", m_env[:104],
         decode_error(kind="Truncated", field="payload_len"))
    case("payload length 0", m_env[:102] + be(4, 0),
         decode_error(kind="BadLength", field="payload", len=0, min=1, max=65430))
    case("payload length 65431", m_env[:102] + be(4, 65431) + m_payload,
         decode_error(kind="BadLength", field="payload", len=65431, min=1, max=65430))
    case("payload shorter than its length", m_env[:-1],
         decode_error(kind="Truncated", field="payload"))
    case("a byte after the payload", m_env + b"\0",
         decode_error(kind="TrailingBytes", count=1))
    case("larger than 65536 bytes", m_env + b"\0" * (65537 - len(m_env)),
         err("TooLarge", size=65537, max=65536))
    case("envelope says manifest, payload is an announcement",
         envelope(1, owner.public, m_sig, a_payload),
         err("KindMismatch", envelope="DatasetManifest", payload=2))
    case("manifest payload with a trailing byte", resigned(1, m_payload + b"\0"),
         decode_error(kind="TrailingBytes", count=1))
    case("manifest cut inside created_at", resigned(1, m_payload[:-1]),
         decode_error(kind="Truncated", field="created_at"))
    bad_pool = dict(base, pool="")
    case("empty pool", resigned(1, manifest_payload(bad_pool)),
         decode_error(kind="BadLength", field="pool", len=0, min=1, max=128))
    bad_name = dict(base, name="n" * 65)
    case("name of 65 bytes", resigned(1, manifest_payload(bad_name)),
         decode_error(kind="BadLength", field="name", len=65, min=1, max=64))
    utf8 = manifest_payload(base).replace(u16_bytes(b"default"), u16_bytes(b"defa\xffl\xc3"))
    case("pool is not UTF-8", resigned(1, utf8), decode_error(kind="InvalidUtf8", field="pool"))
    case("no members", resigned(1, manifest_payload(dict(base, members=[]))),
         decode_error(kind="BadLength", field="members", len=0, min=1, max=64))
    many = [(label_bytes(f"m{i}"), label_bytes(f"r{i}")) for i in range(65)]
    case("65 members", resigned(1, manifest_payload(dict(base, members=many, threshold=1))),
         decode_error(kind="BadLength", field="members", len=65, min=1, max=64))
    case("threshold 0", resigned(1, manifest_payload(dict(base, threshold=0))),
         err("InvalidField", field="threshold"))
    case("threshold 2 of 3 members", resigned(1, manifest_payload(dict(base, threshold=2))),
         err("InvalidField", field="threshold"))
    twice = [base["members"][0], base["members"][1], (base["members"][0][0], b"\0" * 32)]
    case("a member listed twice", resigned(1, manifest_payload(dict(base, members=twice))),
         err("InvalidField", field="members"))
    other_key = dataset_key(label_bytes("another dataset"))
    case("stored under another dataset's key", m_env,
         err("KeyMismatch", expected=m_key.hex(), found=other_key.hex()), key=other_key)
    case("manifest under its owner's node key", m_env,
         err("KeyMismatch", expected=m_key.hex(), found=node_key(owner.public).hex()),
         key=node_key(owner.public))
    case("signer key not on the curve", envelope(1, invalid_point(), m_sig, m_payload),
         err("InvalidSignerKey"))
    case("one signature bit flipped",
         envelope(1, owner.public, m_sig[:10] + bytes([m_sig[10] ^ 1]) + m_sig[11:], m_payload),
         err("BadSignature"))
    s_plus_ell = le(32, int.from_bytes(m_sig[32:], "little") + ELL)
    case("signature with s + l (malleated)", envelope(1, owner.public, m_sig[:32] + s_plus_ell,
                                                      m_payload), err("BadSignature"))
    case("signed by another key", envelope(1, nodes[1].public, m_sig, m_payload),
         err("BadSignature"))
    case("signature over the payload without the domain",
         envelope(1, owner.public, owner.sign(b"\x01" + m_payload), m_payload),
         err("BadSignature"))
    # The small-order point (0, -1)... here the identity (y = 1): verify_strict refuses it.
    identity_point = le(32, 1)
    case("small-order signer key", envelope(1, identity_point, m_sig, m_payload),
         err("BadSignature"))
    future = dict(base, created_at=now + 301)
    case("created 301 s in the future", resigned(1, manifest_payload(future)),
         err("FromTheFuture", timestamp=now + 301, now=now))
    case("announcement signed by another node",
         envelope(2, nodes[1].public, nodes[1].sign(SIGNING_DOMAIN + b"\x02" + a_payload),
                  a_payload),
         err("SignerNotAnnouncedPeer", announced=node.public.hex(), signer=nodes[1].public.hex()),
         key=a_key)
    case("announcement 48 h old", a_env,
         err("Expired", timestamp=ann["timestamp"], expired_at=ann["timestamp"] + 48 * 3600,
             now=ann["timestamp"] + 48 * 3600), key=a_key, at=ann["timestamp"] + 48 * 3600)
    case("announcement without addresses",
         resigned(2, announcement_payload(dict(ann, addresses=[])), node),
         decode_error(kind="BadLength", field="addresses", len=0, min=1, max=16), key=a_key)
    case("announcement with 17 addresses",
         resigned(2, announcement_payload(dict(ann, addresses=["/ip4/1.2.3.4/tcp/1"] * 17)),
                  node),
         decode_error(kind="BadLength", field="addresses", len=17, min=1, max=16), key=a_key)
    case("an address that is not a multiaddr",
         resigned(2, announcement_payload(dict(ann, addresses=["10.0.0.1:4001"])), node),
         err("InvalidField", field="addresses"), key=a_key)
    case("an address of 257 bytes",
         resigned(2, announcement_payload(dict(ann, addresses=["/dns4/" + "a" * 251])), node),
         decode_error(kind="BadLength", field="addresses", len=257, min=1, max=256), key=a_key)

    # The persisted form of a Kademlia record (docs/dht.md §4, StoredRecord).
    def stored(key, publisher, expires_at, value):
        out = b"\x01" + u16_bytes(key)
        out += b"\x00" if publisher is None else b"\x01" + u16_bytes(publisher)
        out += b"\x00" if expires_at is None else b"\x01" + be(8, expires_at)
        return out + be(4, len(value)) + value

    stored_records = []
    for name, key, publisher, expires, value in [
            ("manifest, no publisher, no expiry", m_key, None, None, m_env),
            ("announcement, published by the node, expiring", a_key, node.peer_id,
             ann["timestamp"] + 48 * 3600, a_env)]:
        stored_records.append({
            "name": name, "key": key.hex(),
            "publisher": None if publisher is None else publisher.hex(),
            "expires_at": expires, "value": value.hex(),
            "encoded": stored(key, publisher, expires, value).hex()})
    good_stored = stored(m_key, None, None, m_env)
    stored_malformed = [
        {"name": "version 2", "encoded": (b"\x02" + good_stored[1:]).hex(),
         "error": err("UnsupportedVersion", version=2)},
        {"name": "key of 31 bytes", "encoded": stored(m_key[:31], None, None, m_env).hex(),
         "error": decode_error(kind="BadLength", field="key", len=31, min=32, max=32)},
        {"name": "publisher flag 2", "encoded": (good_stored[:35] + b"\x02"
                                                 + good_stored[36:]).hex(),
         "error": decode_error(kind="BadValue", field="publisher",
                               reason="presence flag is not 0 or 1")},
        {"name": "publisher that is not a peer id",
         "encoded": stored(m_key, b"\xab\xcd\xef", None, m_env).hex(),
         "error": decode_error(kind="BadValue", field="publisher", reason="not a peer id")},
        {"name": "publisher of 65 bytes", "encoded": stored(m_key, b"\0" * 65, None, m_env).hex(),
         "error": decode_error(kind="BadLength", field="publisher", len=65, min=1, max=64)},
        {"name": "expiry flag 2", "encoded": (good_stored[:36] + b"\x02"
                                              + good_stored[37:]).hex(),
         "error": decode_error(kind="BadValue", field="expires_at",
                               reason="presence flag is not 0 or 1")},
        {"name": "value shorter than an envelope header",
         "encoded": stored(m_key, None, None, m_env[:105]).hex(),
         "error": decode_error(kind="BadLength", field="value", len=105, min=106, max=65536)},
        {"name": "cut inside the value", "encoded": good_stored[:-1].hex(),
         "error": decode_error(kind="Truncated", field="value")},
        {"name": "a byte after the value", "encoded": (good_stored + b"\0").hex(),
         "error": decode_error(kind="TrailingBytes", count=1)},
    ]
    return {
        "description": "sharenet-dht SignedRecord envelopes and payloads (docs/dht.md §3) and "
                       "the persisted StoredRecord (§4); ed25519 keys from the given seeds",
        "regenerate": REGENERATE,
        "manifests": manifests,
        "announcements": announcements,
        "invalid": cases,
        "stored_records": stored_records,
        "stored_malformed": stored_malformed,
    }


# ------------------------------------------------------------------ node: upload

def batch_body(b):
    out = b"SNUP\x03" + b["owner"] + b["salt"] + le(8, b["batch"]) + le(8, b["first_row"])
    out += le(4, b["rows"]) + le(4, b["columns"]) + le(2, b["party"]) + bytes([b["t"]])
    out += bytes([len(b["committee"])])
    for peer in b["committee"]:
        out += bytes([len(peer)]) + peer
    name = b["name"].encode()[:255]
    out += bytes([len(name)]) + name
    return out + b"".join(mp127(v) for v in b["shares"] + [b["mask"]])


def batch_signing_message(b):
    """What the owner signs (EIP-191 personal_sign): a fixed line, then blake3 of the body, hex."""
    return b"sharenet upload batch v3\n" + rc.blake3_hash(batch_body(b)).hex().encode()


def batch_signature(b):
    """The owner's signature; all zeros for a batch without an owner key (an unsigned batch)."""
    if b.get("owner_key") is None:
        return b"\0" * 65
    return rc.secp256k1_sign_prehash(b["owner_key"], rc.eip191_hash(batch_signing_message(b)))


def encode_batch(b):
    return batch_body(b) + batch_signature(b)


def batch_json(b):
    return {"owner": b["owner"].hex(), "salt": b["salt"].hex(), "name": b["name"], "batch": b["batch"],
            "owner_signature": batch_signature(b).hex(),
            "first_row": b["first_row"], "rows": b["rows"], "columns": b["columns"],
            "party": b["party"], "t": b["t"], "committee": [p.hex() for p in b["committee"]],
            "shares": [mp127(v).hex() for v in b["shares"]], "mask": mp127(b["mask"]).hex()}


def receipt_signed_bytes(r):
    return (b"SNRC\x01" + r["dataset"] + le(8, r["batch"]) + le(2, r["party"])
            + bytes([1 if r["accepted"] else 0]) + r["commitment"])


def upload_vectors():
    nodes = [Identity(f"node {i}") for i in range(7)]
    three = [n.peer_id for n in nodes[:3]]
    clinic_key = label_bytes("owner key clinic")
    wide_key = label_bytes("owner key wide")
    base = {"owner_key": clinic_key, "owner": rc.eth_address(clinic_key),
            "salt": label_bytes("salt clinic"), "name": "clinic", "batch": 2, "first_row": 512, "rows": 2,
            "columns": 3, "party": 1, "t": 1, "committee": three,
            "shares": [0, 1, P127 - 1, 2**64, 5, 2**126], "mask": 99}
    wide = {"owner_key": wide_key, "owner": rc.eth_address(wide_key), "salt": label_bytes("salt wide"), "name": "é" * 100 + "x" * 55,
            "batch": 2**64 - 1, "first_row": 2**40, "rows": 1, "columns": 1, "party": 6, "t": 3,
            "committee": [n.peer_id for n in nodes], "shares": [P127 // 3], "mask": 0}
    # A batch under another account's name: the signature is the clinic key's, the owner field
    # the wide one's. It decodes (the decoder does not check signatures) and is not the owner's.
    forged = dict(base, owner=rc.eth_address(wide_key))
    unsigned = dict(base, owner_key=None)
    batches = [{"name": n, "input": batch_json(b), "encoded": encode_batch(b).hex(),
                # The key that signed, for a test to sign again and compare: owner batches only.
                "owner_key": b["owner_key"].hex() if signed else None,
                "signing_message": batch_signing_message(b).decode(),
                "signed_by_owner": signed}
               for n, b, signed in [("3 members, 2 rows × 3 columns", base, True),
                                    ("7 members, t = 3, last party, 255-byte name", wide, True),
                                    ("signed by another key than its owner's", forged, False),
                                    ("unsigned (zero signature)", unsigned, False)]]
    # The encoder cuts a name to its first 255 bytes.
    long_name = dict(base, name="n" * 300)
    cut = {"name": "300-byte name, cut to 255 bytes", "input": batch_json(long_name),
           "encoded": encode_batch(long_name).hex(), "decoded_name": "n" * 255}

    good = encode_batch(base)
    header = 5 + 20 + 32 + 8 + 8 + 4 + 4 + 2 + 1  # up to the committee size byte
    name_at = header + 1 + sum(1 + len(p) for p in three)

    def bad(name, encoded, reason):
        return {"name": name, "encoded": encoded.hex(),
                "error": err("Malformed", reason=reason)}

    def with_fields(**changes):
        return encode_batch(dict(base, **changes))

    range_reason = "committee size, threshold or party index out of range"
    count_reason = "share count does not match rows × columns"
    batch_malformed = [
        bad("empty", b"", "truncated"),
        bad("three bytes", good[:3], "truncated"),
        bad("wrong magic", b"SNUX" + good[4:], "not an upload batch"),
        bad("magic only", good[:4], "truncated"),
        bad("version 2", good[:4] + b"\x02" + good[5:], "not an upload batch"),
        bad("cut inside the salt", good[:40], "truncated"),
        bad("cut before the committee size", good[:header], "truncated"),
        bad("committee of 2", with_fields(committee=three[:2], party=0, t=0), range_reason),
        bad("committee of 65", with_fields(committee=[nodes[0].peer_id] * 65), range_reason),
        bad("2t = n", with_fields(committee=[n.peer_id for n in nodes[:4]], t=2), range_reason),
        bad("party = n", with_fields(party=3), range_reason),
        bad("cut inside a peer id", good[:header + 10], "truncated"),
        bad("a peer id that is not a multihash", with_fields(committee=[b"\xab\xcd\xef"] + three[1:]),
            "bad peer id"),
        bad("an empty peer id", with_fields(committee=[b""] + three[1:]), "bad peer id"),
        bad("cut before the name", good[:name_at], "truncated"),
        bad("name is not UTF-8", good[:name_at] + b"\x02\xc3\x28" + good[name_at + 7:],
            "name is not UTF-8"),
        bad("one share short", good[:-16], count_reason),
        bad("without its signature", good[:-65], count_reason),
        bad("one share too many", good + mp127(1), count_reason),
        bad("a byte too many", good + b"\0", count_reason),
        bad("zero rows", with_fields(rows=0, shares=[]), count_reason),
        bad("rows × columns overflows", with_fields(rows=2**31, columns=2**31, shares=[]),
            count_reason),
        bad("rows × columns far beyond the shares", with_fields(rows=2**32 - 1,
                                                                columns=2**32 - 1, shares=[]),
            count_reason),
        bad("a share equal to the modulus", good[:-97] + le(16, P127) + good[-81:],
            "non-canonical field element"),
        bad("a mask with the top bit set", good[:-81] + b"\xff" * 16 + good[-65:],
            "non-canonical field element"),
    ]

    receipts = []
    for i, (name, fields) in enumerate([
            ("accepted", {"dataset": label_bytes("dataset clinic"), "batch": 2, "party": 1, "accepted": True,
                          "commitment": label_bytes("commitment 1")}),
            ("rejected, last batch index, party 63",
             {"dataset": label_bytes("dataset wide"), "batch": 2**64 - 1, "party": 63,
              "accepted": False, "commitment": b"\0" * 32})]):
        signer = nodes[i + 1]
        signed_bytes = receipt_signed_bytes(fields)
        signature = signer.sign(signed_bytes)
        encoded = (signed_bytes + bytes([len(signer.protobuf)]) + signer.protobuf
                   + bytes([len(signature)]) + signature)
        receipts.append({
            "name": name, "signer_seed": signer.seed.hex(), "peer_id": signer.peer_id.hex(),
            "input": {"dataset": fields["dataset"].hex(), "batch": fields["batch"],
                      "party": fields["party"], "accepted": fields["accepted"],
                      "commitment": fields["commitment"].hex()},
            "signed_bytes": signed_bytes.hex(), "signer": signer.protobuf.hex(),
            "signature": signature.hex(), "encoded": encoded.hex(),
            "hash": rc.blake3_hash(encoded).hex()})

    good_receipt = bytes.fromhex(receipts[0]["encoded"])
    flag_at = 5 + 32 + 8 + 2
    receipt_malformed = [
        bad("empty", b"", "truncated"),
        bad("wrong magic", b"SNUP" + good_receipt[4:], "not a receipt"),
        bad("version 0", good_receipt[:4] + b"\x00" + good_receipt[5:], "not a receipt"),
        bad("accepted flag 2", good_receipt[:flag_at] + b"\x02" + good_receipt[flag_at + 1:],
            "bad accepted flag"),
        bad("cut inside the commitment", good_receipt[:flag_at + 10], "truncated"),
        bad("cut inside the signature", good_receipt[:-1], "truncated"),
        bad("a byte after the signature", good_receipt + b"\0", "trailing bytes"),
    ]
    sig_at = len(good_receipt) - 64
    signer = receipts[0]
    unverifiable = [
        {"name": "signature bit flipped", "peer_id": signer["peer_id"],
         "encoded": (good_receipt[:sig_at] + bytes([good_receipt[sig_at] ^ 0x80])
                     + good_receipt[sig_at + 1:]).hex()},
        {"name": "accepted flipped after signing", "peer_id": signer["peer_id"],
         "encoded": (good_receipt[:flag_at] + b"\x00" + good_receipt[flag_at + 1:]).hex()},
        {"name": "checked against another peer", "peer_id": nodes[0].peer_id.hex(),
         "encoded": good_receipt.hex()},
        {"name": "signer is not a protobuf key", "peer_id": signer["peer_id"],
         "encoded": (good_receipt[:flag_at + 33] + b"\x20" + nodes[2].public
                     + good_receipt[flag_at + 33 + 37:]).hex()},
    ]
    return {
        "description": "/sharenet/upload/1 (docs/protocol.md, Wire formats): one party's batch "
                       "of shares and the node's signed receipt; ed25519 keys from the seeds",
        "regenerate": REGENERATE,
        "batches": batches,
        "batch_cut_name": cut,
        "batch_malformed": batch_malformed,
        "receipts": receipts,
        "receipt_malformed": receipt_malformed,
        "receipt_unverifiable": unverifiable,
    }


# ------------------------------------------------------------------ node: jobs

def job_header(kind):
    return b"SNJB\x01" + bytes([kind])


def jobs_vectors():
    program = "SELECT AVG(age), COUNT(*) FROM clinic WHERE smoker GROUP BY region"
    requests = []
    for name, req in [
            ("hello", {"kind": "Hello", "job": 7, "program": program}),
            ("hello with an empty text and the largest job id",
             {"kind": "Hello", "job": 2**256 - 1, "program": ""}),
            ("hello with non-ASCII text", {"kind": "Hello", "job": 2**64,
                                           "program": "SELECT COUNT(*) FROM données"}),
            ("start", {"kind": "Start", "job": 7, "attempt": 2, "live": [0, 2, 3, 4],
                       "security": "semi-honest"}),
            ("start, malicious", {"kind": "Start", "job": 7, "attempt": 0, "live": [0, 1, 2],
                                  "security": "malicious"}),
            ("start with no live member", {"kind": "Start", "job": 1, "attempt": 0, "live": [],
                                           "security": "malicious"}),
            ("start with 64 members", {"kind": "Start", "job": 2**200, "attempt": 255,
                                       "live": list(range(64)), "security": "semi-honest"})]:
        if req["kind"] == "Hello":
            encoded = job_header(1) + be(32, req["job"]) + req["program"].encode()
        else:
            encoded = (job_header(2) + be(32, req["job"]) + bytes([req["attempt"]])
                       + le(2, len(req["live"])) + b"".join(le(2, i) for i in req["live"])
                       + bytes([{"semi-honest": 0, "malicious": 1}[req["security"]]]))
        requests.append({"name": name, "input": dict(req, job=str(req["job"])),
                         "encoded": encoded.hex()})
    replies = [{"name": "ready", "input": {"kind": "Ready"}, "encoded": job_header(1).hex()},
               {"name": "accepted", "input": {"kind": "Accepted"},
                "encoded": job_header(2).hex()},
               {"name": "refused", "input": {"kind": "Refused", "reason": "grant revoked"},
                "encoded": (job_header(3) + b"grant revoked").hex()},
               {"name": "refused without a reason", "input": {"kind": "Refused", "reason": ""},
                "encoded": job_header(3).hex()},
               {"name": "refused, 1024-byte reason", "input": {"kind": "Refused",
                                                               "reason": "r" * 1024},
                "encoded": (job_header(3) + b"r" * 1024).hex()},
               {"name": "busy", "input": {"kind": "Busy", "reason": "no slot now"},
                "encoded": (job_header(4) + b"no slot now").hex()}]
    # The encoder cuts a reason to 1024 bytes on a character boundary.
    long_reason = "é" * 600
    cut = [{"name": "1200-byte reason of 2-byte characters, cut to 1024 bytes",
            "input": {"kind": "Refused", "reason": long_reason},
            "encoded": (job_header(3) + ("é" * 512).encode()).hex(),
            "decoded_reason": "é" * 512},
           {"name": "1025 bytes ending in a 2-byte character, cut to 1023 bytes",
            "input": {"kind": "Refused", "reason": "r" * 1023 + "é"},
            "encoded": (job_header(3) + b"r" * 1023).hex(), "decoded_reason": "r" * 1023}]
    # A reason that is not UTF-8 decodes with U+FFFD in place of each bad sequence.
    lossy = [{"name": "reason with an invalid byte", "encoded": (job_header(3) + b"bad \xff!").hex(),
              "decoded_reason": "bad \ufffd!"}]

    def bad(name, encoded, error):
        return {"name": name, **blob(encoded), "error": error}

    def malformed(reason):
        return err("Malformed", reason=reason)

    hello = bytes.fromhex(requests[0]["encoded"])
    start = bytes.fromhex(requests[3]["encoded"])
    request_malformed = [
        bad("empty", b"", malformed("bad magic")),
        bad("header of 5 bytes", hello[:5], malformed("bad magic")),
        bad("wrong magic", b"SNJX" + hello[4:], malformed("bad magic")),
        bad("version 2", hello[:4] + b"\x02" + hello[5:], malformed("unknown version")),
        bad("header only", hello[:6], malformed("truncated")),
        bad("cut inside the job id", hello[:37], malformed("truncated")),
        bad("kind 3", job_header(3) + hello[6:], malformed("unknown request kind")),
        bad("kind 3 without a job id", job_header(3), malformed("truncated")),
        bad("text is not UTF-8", hello[:38] + b"\xc3\x28", malformed("program text is not UTF-8")),
        bad("start without an attempt", start[:38], malformed("truncated")),
        bad("start cut inside the count", start[:40], malformed("truncated")),
        bad("start with 65 members", start[:39] + le(2, 65) + b"\0" * 130,
            malformed("too many live members")),
        bad("start with fewer members than counted", start[:-2], malformed("truncated")),
        bad("start without its security level", start[:-1], malformed("truncated")),
        bad("start with security level 7", start[:-1] + b"\x07",
            malformed("unknown security level")),
        bad("start with a trailing byte", start + b"\0", malformed("trailing bytes")),
        bad("over 16 KiB", hello + b"x" * (16385 - len(hello)), err("TooLarge", size=16385)),
        bad("16 KiB of zeros and one more", b"\0" * 16385, err("TooLarge", size=16385)),
    ]
    reply_malformed = [
        bad("empty", b"", malformed("bad magic")),
        bad("wrong magic", b"XXXX\x01\x01", malformed("bad magic")),
        bad("version 0", b"SNJB\x00\x01", malformed("unknown version")),
        bad("ready with a trailing byte", job_header(1) + b"\0", malformed("unknown reply")),
        bad("accepted with a trailing byte", job_header(2) + b"x", malformed("unknown reply")),
        bad("kind 5", job_header(5), malformed("unknown reply")),
        bad("busy with a 1025-byte reason", job_header(4) + b"r" * 1025, malformed("unknown reply")),
        bad("kind 0", job_header(0), malformed("unknown reply")),
        bad("reason of 1025 bytes", job_header(3) + b"r" * 1025, malformed("unknown reply")),
        bad("over 16 KiB", job_header(3) + b"r" * 16379, err("TooLarge", size=16385)),
    ]
    return {
        "description": "/sharenet/job/1 (docs/protocol.md, Wire formats): requests (Hello, "
                       "Start) and replies (Ready, Accepted, Refused, Busy); job ids are decimal",
        "regenerate": REGENERATE,
        "requests": requests,
        "replies": replies,
        "reply_cut_reason": cut,
        "reply_lossy_reason": lossy,
        "request_malformed": request_malformed,
        "reply_malformed": reply_malformed,
    }


# ------------------------------------------------------------------ node: MPC envelope

def mpc_envelope_vectors():
    session = rc.blake3_derive_key("sharenet vector session", b"job 7")
    channel = channel_message("Open", 3, mp127(5) + mp127(P127 - 1))
    envelopes = []
    for name, sess, seq, payload in [
            ("an Open message of two elements", session, 3, channel),
            ("empty payload, largest sequence number", b"\xff" * 32, 2**64 - 1, b""),
            ("first message of a session", label_bytes("session b"), 0, b"\x01")]:
        envelopes.append({"name": name, "session": sess.hex(), "seq": seq,
                          "payload": payload.hex(),
                          "encoded": (sess + le(8, seq) + payload).hex()})
    malformed = [{"name": "empty", "encoded": ""},
                 {"name": "39 bytes", "encoded": (session + le(8, 1))[:39].hex()}]
    limits = {"upload": 64 << 20, "mpc": (1 << 20) + (1 << 12) + 64, "job": 16 << 10,
              "response": 64 << 10}
    frames = [{"body": b.hex(), "encoded": (le(4, len(b)) + b).hex()}
              for b in (b"", bytes.fromhex(envelopes[0]["encoded"]), b"ERR not in committee")]
    frame_malformed = [
        {"name": "an MPC request one byte over the limit", "protocol": "mpc",
         "header": le(4, limits["mpc"] + 1).hex()},
        {"name": "a response one byte over the limit", "protocol": "response",
         "header": le(4, limits["response"] + 1).hex()},
        {"name": "a job request of 2^32 - 1 bytes", "protocol": "job",
         "header": le(4, 2**32 - 1).hex()},
        {"name": "an upload one byte over 64 MiB", "protocol": "upload",
         "header": le(4, limits["upload"] + 1).hex()},
    ]
    return {
        "description": "/sharenet/mpc/1 envelope (docs/protocol.md, Wire formats): session id, "
                       "sequence number u64 LE, one protocol message; and the request-response "
                       "frame every sharenet protocol uses: u32 LE length, then the body",
        "regenerate": REGENERATE,
        "envelopes": envelopes,
        "envelope_malformed": malformed,
        "frame_limits": limits,
        "frames": frames,
        "frame_malformed": frame_malformed,
    }


# ------------------------------------------------------------------ node: share store

AEAD_CONTEXT = "sharenet share store v1 2026-11 share column AEAD key"
DIGEST_CONTEXT = "sharenet share store v1 2026-11 batch content digest key"
DIGEST_DOMAIN = b"sharenet share store v1 batch digest"
KEY_CHECK_AAD = b"sharenet share store v1 key check"
KEY_CHECK_PLAINTEXT = b"sharenet share store key check, not a secret"
STATES = {"Receiving": 1, "Verified": 2, "Registered": 3}


def share_aad(dataset, column, batch, party, first_row, rows, share_format=1):
    return (b"sharenet-share-1" + dataset + le(4, column) + le(8, batch) + le(2, share_format)
            + le(4, party) + le(8, first_row) + le(4, rows))


def dataset_record(state, columns, party, name, share_format=1):
    name = name.encode()
    return (bytes([1, STATES[state]]) + le(2, share_format) + le(4, columns) + le(4, party)
            + le(2, len(name)) + name)


def batch_header(first_row, rows, digest):
    return b"\x01" + le(8, first_row) + le(4, rows) + digest


def store_vectors():
    at_rest = label_bytes("at-rest key")
    aead_key = rc.blake3_derive_key(AEAD_CONTEXT, at_rest)
    digest_key = rc.blake3_derive_key(DIGEST_CONTEXT, at_rest)
    dataset = label_bytes("dataset stored")
    columns, party, name = 3, 2, "clinic visits"

    def values(batch, column, rows):
        return [int.from_bytes(label_bytes(f"v {batch} {column} {r}", 16), "little") % P127
                for r in range(rows)]

    batches = []
    for index, first_row, rows in [(0, 0, 24), (24, 24, 1), (25, 25, 3)]:
        cols = [values(index, c, rows) for c in range(columns)]
        plain = [b"".join(mp127(v) for v in col) for col in cols]
        digest_aad = share_aad(dataset, columns, index, party, first_row, rows)
        digest = rc.blake3_keyed(digest_key, DIGEST_DOMAIN + digest_aad + b"".join(plain))
        shares = []
        for c in range(columns):
            aad = share_aad(dataset, c, index, party, first_row, rows)
            nonce = label_bytes(f"nonce {index} {c}", 24)
            stored = nonce + rc.xchacha20poly1305_seal(aead_key, nonce, plain[c], aad)
            shares.append({"column": c, "key": (dataset + be(4, c) + be(8, index)).hex(),
                           "aad": aad.hex(), "nonce": nonce.hex(), "stored": stored.hex()})
        batches.append({
            "index": index, "first_row": first_row, "rows": rows,
            "columns": [[mp127(v).hex() for v in col] for col in cols],
            "key": (dataset + be(8, index)).hex(), "digest_aad": digest_aad.hex(),
            "digest": digest.hex(), "header": batch_header(first_row, rows, digest).hex(),
            "shares": shares})

    records = [{"state": s, "name": name, "columns": columns, "party": party,
                "encoded": dataset_record(s, columns, party, name).hex()} for s in STATES]
    records.append({"state": "Registered", "name": "", "columns": 65536, "party": 64,
                    "encoded": dataset_record("Registered", 65536, 64, "").hex()})
    good = dataset_record("Receiving", columns, party, name)
    record_malformed = [
        {"name": "empty", "encoded": ""},
        {"name": "version 2", "encoded": (b"\x02" + good[1:]).hex()},
        {"name": "state 0", "encoded": (good[:1] + b"\x00" + good[2:]).hex()},
        {"name": "state 4", "encoded": (good[:1] + b"\x04" + good[2:]).hex()},
        {"name": "share format 2", "encoded": dataset_record("Receiving", 3, 2, name, 2).hex()},
        {"name": "zero columns", "encoded": dataset_record("Receiving", 0, 2, name).hex()},
        {"name": "65537 columns", "encoded": dataset_record("Receiving", 65537, 2, name).hex()},
        {"name": "party 0", "encoded": dataset_record("Receiving", 3, 0, name).hex()},
        {"name": "name cut short", "encoded": good[:-1].hex()},
        {"name": "a byte after the name", "encoded": (good + b"\0").hex()},
        {"name": "name is not UTF-8", "encoded": (good[:14] + b"\xff" + good[15:]).hex()},
    ]
    header_malformed = [
        {"name": "empty", "encoded": ""},
        {"name": "version 2", "encoded": (b"\x02" + batch_header(0, 1, b"\0" * 32)[1:]).hex()},
        {"name": "zero rows", "encoded": batch_header(5, 0, b"\0" * 32).hex()},
        {"name": "rows past 2^64", "encoded": batch_header(2**64 - 1, 1, b"\0" * 32).hex()},
        {"name": "44 bytes", "encoded": batch_header(0, 1, b"\0" * 32)[:44].hex()},
        {"name": "46 bytes", "encoded": (batch_header(0, 1, b"\0" * 32) + b"\0").hex()},
    ]
    key_check_nonce = label_bytes("key check nonce", 24)
    key_check = key_check_nonce + rc.xchacha20poly1305_seal(aead_key, key_check_nonce,
                                                            KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)
    return {
        "description": "the share store's values (docs/storage.md): dataset records, batch "
                       "headers with their keyed digest, the associated data of each column "
                       "ciphertext and ciphertexts sealed with the given (fixed) nonces",
        "regenerate": REGENERATE,
        "at_rest_key": at_rest.hex(),
        "aead_key": aead_key.hex(),
        "digest_key": digest_key.hex(),
        "dataset": {"id": dataset.hex(), "name": name, "columns": columns, "party": party,
                    "record": good.hex()},
        "batches": batches,
        "key_check": key_check.hex(),
        "format_version": le(4, 1).hex(),
        "records": records,
        "record_malformed": record_malformed,
        "header_malformed": header_malformed,
    }


# ------------------------------------------------------------------ main

OUTPUTS = [
    ("mpc/tests/vectors/channel.json", channel_vectors),
    ("dht/tests/vectors/records.json", dht_vectors),
    ("node/tests/vectors/upload.json", upload_vectors),
    ("node/tests/vectors/jobs.json", jobs_vectors),
    ("node/tests/vectors/mpc_envelope.json", mpc_envelope_vectors),
    ("node/tests/vectors/store.json", store_vectors),
]


def main():
    check = "--check" in sys.argv[1:]
    rc.self_test()
    stale = []
    for path, build in OUTPUTS:
        text = json.dumps(build(), indent=1, ensure_ascii=False) + "\n"
        full = os.path.join(ROOT, path)
        if check:
            try:
                with open(full, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(path)
            except FileNotFoundError:
                stale.append(path)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        print("stale format vectors (run: " + REGENERATE + "): " + ", ".join(stale),
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
