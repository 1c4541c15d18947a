"""Schemathesis hooks of scripts/contract-test.sh: sign device requests like a real RSU.

Without them every device request would be refused at the signature check and the contract test
would only see 401s there. With them, the generated bodies reach the handlers: each request to
/v1/rsu/* (but enrollment) is sent as exact JSON bytes and signed with an enrolled device's
Ed25519 key over the eight lines of docs/protocol.md section 2, with a fresh nonce and timestamp.

    python3 contract_hooks.py enroll SERVER TOKEN > device.json   # enrolls a device
    RSU_CONTRACT_DEVICE=device.json SCHEMATHESIS_HOOKS=contract_hooks schemathesis run ...
"""

import hashlib
import json
import os
import secrets
import sys
import time
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def _public_hex(key):
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def enroll(server, token):
    """Enrolls a new device with the one-time token; prints what the hook needs as JSON."""
    key = Ed25519PrivateKey.generate()
    body = json.dumps(
        {
            "token": token,
            "publicKey": _public_hex(key),
            "deviceIdentifier": "CONTRACT-TEST-" + secrets.token_hex(4),
            "appVersion": "contract-test",
            "appHash": "0" * 64,
        }
    ).encode()
    req = urllib.request.Request(
        server + "/v1/rsu/enroll", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        answer = json.load(res)
    seed = key.private_bytes_raw().hex()
    print(json.dumps({"rsuId": answer["rsuId"], "keyId": answer["keyId"], "seed": seed}))


_DEVICE = None


def _device():
    global _DEVICE
    if _DEVICE is None:
        path = os.environ.get("RSU_CONTRACT_DEVICE")
        if not path:
            _DEVICE = {}
        else:
            with open(path) as f:
                d = json.load(f)
            d["key"] = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(d["seed"]))
            _DEVICE = d
    return _DEVICE


try:
    import schemathesis
    from schemathesis.core import NotSet
except ImportError:  # `enroll` runs without schemathesis too
    schemathesis = None

if schemathesis is not None:

    @schemathesis.hook
    def before_call(context, case, kwargs):
        dev = _device()
        path = case.formatted_path
        if not dev or not path.startswith("/v1/rsu/") or path == "/v1/rsu/enroll":
            return
        if case.query:
            return  # the device API has no query parameters: leave such a request unsigned
        body = b""
        if not isinstance(case.body, NotSet):
            try:
                body = json.dumps(case.body).encode("utf-8")
            except (TypeError, ValueError):
                return  # not JSON: sent as generated, unsigned
            kwargs["data"] = body
        ts = str(int(time.time()))
        nonce = secrets.token_hex(16)
        message = "\n".join(
            [
                "RSU-ED25519-V1",
                case.method.upper(),
                path,
                dev["rsuId"],
                dev["keyId"],
                ts,
                nonce,
                hashlib.sha256(body).hexdigest(),
            ]
        ).encode()
        headers = dict(case.headers or {})
        headers.update(
            {
                "X-Rsu-Id": dev["rsuId"],
                "X-Rsu-Key-Id": dev["keyId"],
                "X-Rsu-Timestamp": ts,
                "X-Rsu-Nonce": nonce,
                "X-Rsu-Signature": dev["key"].sign(message).hex(),
            }
        )
        case.headers = headers


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "enroll":
        enroll(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: contract_hooks.py enroll SERVER TOKEN")
