"""`ponos keys generate`: create an ECDSA or BN254 keystore and print its public identity."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from ponos.crypto.bn254 import Bn254PrivateKey
from ponos.crypto.ecdsa import EcdsaPrivateKey
from ponos.crypto.errors import KeystoreError
from ponos.crypto.keystore import (
    create_bn254_keystore,
    create_ecdsa_keystore,
    read_password_file,
    write_keystore_file,
)
from ponos.errors import ConfigError

PASSWORD_ENV = "PONOS_KEYSTORE_PASSWORD"


def register(subparsers: argparse._SubParsersAction) -> None:
    keys = subparsers.add_parser("keys", help="signing keys and keystores")
    keys_sub = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    generate = keys_sub.add_parser(
        "generate",
        help="create a new key in an encrypted keystore",
        description=(
            "Create a new ECDSA (Ethereum keystore v3) or BN254 (EIP-2335-style, curveType "
            "bn254) keystore in DIR and print the address or public keys. The password comes "
            f"from --password-file, then ${PASSWORD_ENV}, then a prompt (terminals only)."
        ),
    )
    generate.add_argument("--curve", required=True, choices=["ecdsa", "bn254"])
    generate.add_argument("--out", required=True, metavar="DIR", help="directory for the keystore")
    generate.add_argument("--password-file", metavar="FILE", help="file holding the password")
    generate.add_argument(
        "--name", metavar="FILE", help="keystore file name (default: <curve>-<id>.json)"
    )
    generate.set_defaults(handler=generate_key)


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        password = read_password_file(args.password_file)
        if not password:
            raise ConfigError(f"--password-file {args.password_file} is empty")
        return password
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if sys.stdin.isatty():
        first = getpass.getpass("Keystore password: ")
        if not first:
            raise ConfigError("the keystore password must not be empty")
        if getpass.getpass("Repeat password: ") != first:
            raise ConfigError("the passwords do not match")
        return first
    raise ConfigError(
        f"no keystore password: pass --password-file FILE or set {PASSWORD_ENV} "
        "(stdin is not a terminal, so there is no prompt)"
    )


def generate_key(args: argparse.Namespace) -> int:
    password = _password(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    if args.curve == "ecdsa":
        key = EcdsaPrivateKey.generate()
        keystore = create_ecdsa_keystore(key, password)
        identity = {"curve": "ecdsa", "address": key.address}
        default_name = f"ecdsa-{key.address[2:10].lower()}.json"
    else:
        bls = Bn254PrivateKey.generate()
        keystore = create_bn254_keystore(bls, password)
        identity = {
            "curve": "bn254",
            "publicKeyG1": "0x" + bls.public_g1.to_bytes().hex(),
            "publicKeyG2": "0x" + bls.public_g2.to_bytes().hex(),
        }
        default_name = f"bn254-{keystore['uuid'][:8]}.json"
    path = out / (args.name or default_name)
    try:
        write_keystore_file(path, keystore)
    except KeystoreError as exc:
        raise ConfigError(exc.message) from None
    print(json.dumps({**identity, "keystore": str(path)}, indent=2))
    return 0
