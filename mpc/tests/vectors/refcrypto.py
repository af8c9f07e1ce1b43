"""Reference implementations, in plain Python, of the primitives the format vectors need:
BLAKE3 (hash, keyed hash, key derivation), Ed25519 (RFC 8032 key generation and signing),
XChaCha20-Poly1305 (RFC 8439 with HChaCha20), Keccak-256 (the pre-standard SHA-3 padding Ethereum
uses) and secp256k1 ECDSA (RFC 6979 nonces, low s, Ethereum's recovery byte and addresses). Written from the specifications, independent of
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


# ------------------------------------------------------------------ Keccak-256

_KECCAK_RC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
_KECCAK_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61],
               [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M64 = (1 << 64) - 1


def _rol64(x, n):
    return ((x << n) | (x >> (64 - n))) & _M64 if n else x


def _keccak_f(a):
    for rc in _KECCAK_RC:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol64(c[(x + 1) % 5], 1) for x in range(5)]
        a = [[a[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol64(a[x][y], _KECCAK_ROT[x][y])
        a = [[b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y]) for y in range(5)]
             for x in range(5)]
        a[0][0] ^= rc
    return a


def keccak256(data):
    rate = 136
    padded = bytearray(data) + b"\x01"
    while len(padded) % rate:
        padded += b"\0"
    padded[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for off in range(0, len(padded), rate):
        block = padded[off:off + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            a[x][y] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        a = _keccak_f(a)
    out = b"".join(a[i % 5][i // 5].to_bytes(8, "little") for i in range(4))
    return out


# ------------------------------------------------------------------ secp256k1 ECDSA

K1_P = 2**256 - 2**32 - 977
K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
K1_G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
        0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _k1_add(p, q):
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % K1_P == 0:
        return None
    if p == q:
        m = 3 * p[0] * p[0] * pow(2 * p[1], K1_P - 2, K1_P)
    else:
        m = (q[1] - p[1]) * pow(q[0] - p[0], K1_P - 2, K1_P)
    x = (m * m - p[0] - q[0]) % K1_P
    return (x, (m * (p[0] - x) - p[1]) % K1_P)


def _k1_mul(k, p):
    r = None
    while k:
        if k & 1:
            r = _k1_add(r, p)
        p = _k1_add(p, p)
        k >>= 1
    return r


def eth_address(secret):
    """The Ethereum account of a 32-byte secp256k1 secret key."""
    x, y = _k1_mul(int.from_bytes(secret, "big"), K1_G)
    return keccak256(x.to_bytes(32, "big") + y.to_bytes(32, "big"))[12:]


def _rfc6979_nonce(secret, digest):
    import hmac
    x = secret
    h = (int.from_bytes(digest, "big") % K1_N).to_bytes(32, "big")
    v, k = b"\x01" * 32, b"\0" * 32
    k = hmac.new(k, v + b"\0" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        candidate = int.from_bytes(v, "big")
        if 1 <= candidate < K1_N:
            return candidate
        k = hmac.new(k, v + b"\0", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def secp256k1_sign_prehash(secret, digest):
    """ECDSA over a 32-byte digest: RFC 6979 nonce (HMAC-SHA-256), s in the low half, and the
    65-byte Ethereum form r ‖ s ‖ v with v = 27 + the parity of R's y (flipped with s)."""
    d = int.from_bytes(secret, "big")
    z = int.from_bytes(digest, "big") % K1_N
    k = _rfc6979_nonce(secret, digest)
    rx, ry = _k1_mul(k, K1_G)
    r = rx % K1_N
    s = pow(k, K1_N - 2, K1_N) * (z + r * d) % K1_N
    parity = ry & 1
    if s > K1_N // 2:
        s = K1_N - s
        parity ^= 1
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + parity])


def eip191_hash(message):
    """Ethereum's personal-message hash (EIP-191 version 0x45)."""
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message)


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
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
    # The first account of anvil's and Hardhat's test mnemonic.
    dev0 = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
    assert eth_address(dev0).hex() == "f39fd6e51aad88f6f4ce6ab8827279cfffb92266"
