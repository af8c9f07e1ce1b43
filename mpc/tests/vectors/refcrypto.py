"""Reference implementations, in plain Python, of the primitives the format vectors need:
BLAKE3 (hash, keyed hash, key derivation), Ed25519 (RFC 8032 key generation and signing) and
XChaCha20-Poly1305 (RFC 8439 with HChaCha20). Written from the specifications, independent of
the Rust crates the node uses, and slow: they are for generating known answers only.
Only the Python standard library is used."""
import hashlib

MASK32 = 0xFFFFFFFF


def _rotr(x, n):
    return ((x >> n) | (x << (32 - n))) & MASK32


def _rotl(x, n):
    return ((x << n) | (x >> (32 - n))) & MASK32


def _words(b):
    return [int.from_bytes(b[i:i + 4], "little") for i in range(0, len(b), 4)]


def _bytes(words):
    return b"".join(w.to_bytes(4, "little") for w in words)


# ---------------------------------------------------------------- BLAKE3 (spec, section 2)

B3_IV = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
         0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]
B3_PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8]
CHUNK_START, CHUNK_END, PARENT, ROOT = 1, 2, 4, 8
KEYED_HASH, DERIVE_KEY_CONTEXT, DERIVE_KEY_MATERIAL = 16, 32, 64
B3_BLOCK, B3_CHUNK = 64, 1024


def _b3_g(s, a, b, c, d, x, y):
    s[a] = (s[a] + s[b] + x) & MASK32
    s[d] = _rotr(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = _rotr(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b] + y) & MASK32
    s[d] = _rotr(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = _rotr(s[b] ^ s[c], 7)


def _b3_compress(cv, block_words, counter, block_len, flags):
    s = list(cv) + B3_IV[:4] + [counter & MASK32, counter >> 32, block_len, flags]
    m = list(block_words)
    for r in range(7):
        _b3_g(s, 0, 4, 8, 12, m[0], m[1])
        _b3_g(s, 1, 5, 9, 13, m[2], m[3])
        _b3_g(s, 2, 6, 10, 14, m[4], m[5])
        _b3_g(s, 3, 7, 11, 15, m[6], m[7])
        _b3_g(s, 0, 5, 10, 15, m[8], m[9])
        _b3_g(s, 1, 6, 11, 12, m[10], m[11])
        _b3_g(s, 2, 7, 8, 13, m[12], m[13])
        _b3_g(s, 3, 4, 9, 14, m[14], m[15])
        if r < 6:
            m = [m[i] for i in B3_PERMUTATION]
    return [s[i] ^ s[i + 8] for i in range(8)] + [s[i + 8] ^ cv[i] for i in range(8)]


def _b3_chunk_output(key_words, chunk, counter, flags):
    """The last block of a chunk, not yet compressed: (cv, block, counter, len, flags)."""
    cv = list(key_words)
    blocks = [chunk[i:i + B3_BLOCK] for i in range(0, len(chunk), B3_BLOCK)] or [b""]
    for i, block in enumerate(blocks):
        block_flags = flags | (CHUNK_START if i == 0 else 0)
        words = _words(block.ljust(B3_BLOCK, b"\0"))
        if i == len(blocks) - 1:
            return (cv, words, counter, len(block), block_flags | CHUNK_END)
        cv = _b3_compress(cv, words, counter, B3_BLOCK, block_flags)[:8]
    raise AssertionError("unreachable")


def _b3_node(key_words, chunks, first, flags):
    """The output of the subtree over `chunks` (the first one numbered `first`)."""
    if len(chunks) == 1:
        return _b3_chunk_output(key_words, chunks[0], first, flags)
    left = 1
    while left * 2 < len(chunks):
        left *= 2
    lcv = _b3_cv(_b3_node(key_words, chunks[:left], first, flags))
    rcv = _b3_cv(_b3_node(key_words, chunks[left:], first + left, flags))
    return (list(key_words), lcv + rcv, 0, B3_BLOCK, flags | PARENT)


def _b3_cv(output):
    cv, words, counter, block_len, flags = output
    return _b3_compress(cv, words, counter, block_len, flags)[:8]


def _b3(key_words, data, flags, length=32):
    chunks = [data[i:i + B3_CHUNK] for i in range(0, len(data), B3_CHUNK)] or [b""]
    cv, words, _, block_len, out_flags = _b3_node(key_words, chunks, 0, flags)
    out = b""
    counter = 0
    while len(out) < length:
        out += _bytes(_b3_compress(cv, words, counter, block_len, out_flags | ROOT))
        counter += 1
    return out[:length]


def blake3_hash(data):
    return _b3(B3_IV, bytes(data), 0)


def blake3_keyed(key, data):
    assert len(key) == 32
    return _b3(_words(key), bytes(data), KEYED_HASH)


def blake3_derive_key(context, material):
    context_key = _b3(B3_IV, context.encode(), DERIVE_KEY_CONTEXT)
    return _b3(_words(context_key), bytes(material), DERIVE_KEY_MATERIAL)


# ---------------------------------------------------------------- Ed25519 (RFC 8032, 5.1)

ED_P = 2**255 - 19
ED_L = 2**252 + 27742317777372353535851937790883648493
ED_D = -121665 * pow(121666, ED_P - 2, ED_P) % ED_P
_ED_SQRT_M1 = pow(2, (ED_P - 1) // 4, ED_P)


def _ed_recover_x(y, sign):
    x2 = (y * y - 1) * pow(ED_D * y * y + 1, ED_P - 2, ED_P) % ED_P
    x = pow(x2, (ED_P + 3) // 8, ED_P)
    if (x * x - x2) % ED_P:
        x = x * _ED_SQRT_M1 % ED_P
    if x % 2 != sign:
        x = ED_P - x
    return x


_ED_GY = 4 * pow(5, ED_P - 2, ED_P) % ED_P
_ED_GX = _ed_recover_x(_ED_GY, 0)
ED_BASE = (_ED_GX, _ED_GY, 1, _ED_GX * _ED_GY % ED_P)


def _ed_add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % ED_P
    b = (p[1] + p[0]) * (q[1] + q[0]) % ED_P
    c = 2 * p[3] * q[3] * ED_D % ED_P
    d = 2 * p[2] * q[2] % ED_P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % ED_P, g * h % ED_P, f * g % ED_P, e * h % ED_P)


def _ed_mul(s, p):
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _ed_add(q, p)
        p = _ed_add(p, p)
        s >>= 1
    return q


def _ed_encode(p):
    zinv = pow(p[2], ED_P - 2, ED_P)
    x, y = p[0] * zinv % ED_P, p[1] * zinv % ED_P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _ed_expand(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public(seed):
    a, _ = _ed_expand(seed)
    return _ed_encode(_ed_mul(a, ED_BASE))


def ed25519_sign(seed, message):
    a, prefix = _ed_expand(seed)
    public = _ed_encode(_ed_mul(a, ED_BASE))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % ED_L
    big_r = _ed_encode(_ed_mul(r, ED_BASE))
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % ED_L
    s = (r + k * a) % ED_L
    return big_r + s.to_bytes(32, "little")


# ---------------------------------------------------------------- XChaCha20-Poly1305

def _qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & MASK32
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK32
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = _rotl(s[b] ^ s[c], 7)


def _chacha_rounds(state):
    s = list(state)
    for _ in range(10):
        _qr(s, 0, 4, 8, 12)
        _qr(s, 1, 5, 9, 13)
        _qr(s, 2, 6, 10, 14)
        _qr(s, 3, 7, 11, 15)
        _qr(s, 0, 5, 10, 15)
        _qr(s, 1, 6, 11, 12)
        _qr(s, 2, 7, 8, 13)
        _qr(s, 3, 4, 9, 14)
    return s


_SIGMA = _words(b"expand 32-byte k")


def _chacha20_block(key, counter, nonce12):
    state = _SIGMA + _words(key) + [counter] + _words(nonce12)
    out = _chacha_rounds(state)
    return _bytes([(x + y) & MASK32 for x, y in zip(out, state)])


def _hchacha20(key, nonce16):
    s = _chacha_rounds(_SIGMA + _words(key) + _words(nonce16))
    return _bytes(s[0:4] + s[12:16])


def _chacha20_xor(key, counter, nonce12, data):
    out = bytearray()
    for i in range(0, len(data), 64):
        stream = _chacha20_block(key, counter + i // 64, nonce12)
        out += bytes(x ^ y for x, y in zip(data[i:i + 64], stream))
    return bytes(out)


def _poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = 2**130 - 5
    acc = 0
    for i in range(0, len(msg), 16):
        block = msg[i:i + 16] + b"\x01"
        acc = (acc + int.from_bytes(block, "little")) * r % p
    return ((acc + s) % 2**128).to_bytes(16, "little")


def _pad16(b):
    return b"\0" * (-len(b) % 16)


def xchacha20poly1305_seal(key, nonce24, plaintext, aad):
    """`ciphertext || tag` (the nonce is not included)."""
    assert len(key) == 32 and len(nonce24) == 24
    subkey = _hchacha20(key, nonce24[:16])
    nonce12 = b"\0\0\0\0" + nonce24[16:]
    poly_key = _chacha20_block(subkey, 0, nonce12)[:32]
    ciphertext = _chacha20_xor(subkey, 1, nonce12, plaintext)
    mac_data = (aad + _pad16(aad) + ciphertext + _pad16(ciphertext)
                + len(aad).to_bytes(8, "little") + len(ciphertext).to_bytes(8, "little"))
    return ciphertext + _poly1305(poly_key, mac_data)


def self_test():
    """Known answers from the specifications, so a slip here is caught before any vector is
    written."""
    assert blake3_hash(b"").hex() == (
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")
    # RFC 8032 7.1, test 1 (empty message).
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    assert ed25519_public(seed).hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    assert ed25519_sign(seed, b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    # draft-irtf-cfrg-xchacha-03 2.2.1 (HChaCha20).
    key = bytes(range(32))
    nonce = bytes.fromhex("000000090000004a0000000031415927")
    assert _hchacha20(key, nonce).hex() == (
        "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc")
    # RFC 8439 2.5.2 (Poly1305).
    pkey = bytes.fromhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
    assert _poly1305(pkey, b"Cryptographic Forum Research Group").hex() == (
        "a8061dc1305136c6c22b8baf0c0127a9")
