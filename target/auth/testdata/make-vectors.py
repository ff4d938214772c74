#!/usr/bin/env python3
# Known-answer vectors for DH-HMAC-CHAP, computed independently of the TypeScript code (Python's hashlib,
# hmac and pow), following the Linux kernel's algorithm step by step:
#   drivers/nvme/common/auth.c  nvme_auth_transform_key, nvme_auth_augmented_challenge
#   drivers/nvme/host/auth.c    nvme_auth_dhchap_setup_host_response / _setup_ctrl_response
#   crypto/dh.c                 public value and shared secret, zero-padded to the prime's length
# The primes are rebuilt from RFC 7919's formula, never copied. Run: python3 make-vectors.py > dhchap-vectors.json
import hashlib, hmac, json, struct, zlib, base64
from decimal import Decimal, getcontext

X = {2048: 560316, 3072: 2625351, 4096: 5736041, 6144: 15705020, 8192: 10965728}

def e_fixed(bits):
    # floor(e * 2^bits) from the series sum 1/k!, with guard bits.
    guard = 64
    one = 1 << (bits + guard)
    term, total, k = one, 0, 0
    while term:
        total += term
        k += 1
        term //= k
    return total >> guard

def ffdhe(b):
    return 2**b - 2**(b - 64) + (e_fixed(b - 130) + X[b]) * 2**64 - 1

HASH = {1: 'sha256', 2: 'sha384', 3: 'sha512'}
GROUP_BITS = {1: 2048, 2: 3072, 3: 4096, 4: 6144, 5: 8192}

def secret_text(hh, key):
    crc = struct.pack('<I', zlib.crc32(key) & 0xffffffff)
    return 'DHHC-1:%02x:%s:' % (hh, base64.b64encode(key + crc).decode())

def transform(hh, key, nqn):
    if hh == 0:
        return key
    return hmac.new(key, nqn.encode() + b'NVMe-over-Fabrics', HASH[hh]).digest()

def aug(hash_id, skey, chal):
    if skey is None:
        return chal
    hk = hashlib.new(HASH[hash_id], skey).digest()
    return hmac.new(hk, chal, HASH[hash_id]).digest()

def resp(hash_id, key, chal, skey, seq, tid, role, a, b):
    m = aug(hash_id, skey, chal) + struct.pack('<IH', seq, tid) + b'\x00' + role + a.encode() + b'\x00' + b.encode()
    return hmac.new(key, m, HASH[hash_id]).digest()

def pattern(n, seed):
    return bytes(((i * 31 + seed * 17 + 5) & 0xff) for i in range(n))

HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001'
SUBNQN = 'nqn.2024-01.io.nvmeof:kat'
vectors = []
cases = [(1, 0, 0), (2, 2, 0), (3, 3, 0), (1, 1, 1), (2, 0, 2), (3, 1, 1)]  # (hash, host key hh, dh group)
for n, (hid, hh, gid) in enumerate(cases):
    hlen = hashlib.new(HASH[hid]).digest_size
    host_key = pattern([32, 48, 64][n % 3], n + 1)
    ctrl_key = pattern(32, n + 101)
    c1 = pattern(hlen, n + 201)
    c2 = pattern(hlen, n + 301)
    s1, s2, tid = 0x01020304 + n, 0x0a0b0c0d + n, 0x10 + n
    v = {
        'hash': hid, 'dhGroup': gid, 'hostnqn': HOSTNQN, 'subnqn': SUBNQN, 'tid': tid, 's1': s1, 's2': s2,
        'hostSecret': secret_text(hh, host_key), 'ctrlSecret': secret_text(1, ctrl_key),
        'c1': c1.hex(), 'c2': c2.hex(),
    }
    kh = transform(hh, host_key, HOSTNQN)
    kc = transform(1, ctrl_key, SUBNQN)
    v['hostKeyTransformed'] = kh.hex()
    v['ctrlKeyTransformed'] = kc.hex()
    skey = None
    if gid:
        bits = GROUP_BITS[gid]
        p = ffdhe(bits)
        size = bits // 8
        x = int.from_bytes(pattern(48, n + 401), 'big')  # the controller's private exponent
        y = int.from_bytes(pattern(48, n + 501), 'big')  # the host's
        v['ctrlPrivate'] = x.to_bytes(48, 'big').hex()
        v['ctrlPublic'] = pow(2, x, p).to_bytes(size, 'big').hex()
        v['hostPublic'] = pow(2, y, p).to_bytes(size, 'big').hex()
        skey = pow(pow(2, y, p), x, p).to_bytes(size, 'big')
        v['sessionKey'] = skey.hex()
    v['r1'] = resp(hid, kh, c1, skey, s1, tid, b'HostHost', HOSTNQN, SUBNQN).hex()
    v['r2'] = resp(hid, kc, c2, skey, s2, tid, b'Controller', SUBNQN, HOSTNQN).hex()
    vectors.append(v)
print(json.dumps(vectors, indent=1))
