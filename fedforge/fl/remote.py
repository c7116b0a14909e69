"""Helpers for a SuperLink you run yourself, with SuperNodes on other machines (README: "Hospitals on other machines").

    python -m fedforge.fl.remote app   --phase A --out flower-app     # the app folder to `flwr run`
    python -m fedforge.fl.remote certs --out certs --hosts 10.0.0.5 server.example.org
    python -m fedforge.fl.remote key   --out keys --name client_0     # a SuperNode's auth key pair

`flower-superlink`, `flower-supernode` and `flwr` do the rest (README shows the commands); run_deployment
does all of it on one machine.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from fedforge import config
from fedforge.fl.appconfig import app_config
from fedforge.fl.certs import supernode_keys, tls_files
from fedforge.fl.deployment import write_app


def main(argv: list[str] | None = None) -> None:
    """Parse the sub-command and write the app folder, the TLS files or a SuperNode key pair."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    app = sub.add_parser("app", help="write the Flower app folder of one phase (run_config embedded)")
    app.add_argument("--phase", required=True, help="phase name from params.yaml (A, B, C ...)")
    app.add_argument("--out", default="flower-app")
    app.add_argument("--params", default="params.yaml")
    app.add_argument("--repo-root", default=".", help="where the SERVER keeps artifacts/ (outputs land here)")
    certs = sub.add_parser("certs", help="a private CA + SuperLink certificate (ca.crt, server.pem, server.key)")
    certs.add_argument("--out", default="certs")
    certs.add_argument("--hosts", nargs="+", default=["127.0.0.1", "localhost"],
                       help="every IP / DNS name SuperNodes use to reach the SuperLink (127.0.0.1 is always added)")
    key = sub.add_parser("key", help="a SuperNode's EC P-384 key pair, OpenSSH format (<name>, <name>.pub)")
    key.add_argument("--out", default="keys")
    key.add_argument("--name", required=True, help="e.g. client_0")
    args = parser.parse_args(argv)

    if args.command == "app":
        cfg = config.load(args.params)
        out = write_app(Path(args.out), app_config(cfg, args.phase, "deployment", repo_root=args.repo_root))
        print(f"wrote {out / 'pyproject.toml'}; submit with: flwr run {out} <connection> --stream")
    elif args.command == "certs":
        hosts = tuple(dict.fromkeys([*args.hosts, "127.0.0.1"]))  # the SuperLink's own SuperExec dials 127.0.0.1
        files = tls_files(Path(args.out), hosts)
        print(f"wrote {files.ca_cert} {files.server_cert} {files.server_key} for {', '.join(hosts)}")
    else:
        private, public = supernode_keys(Path(args.out), args.name)
        print(f"wrote {private} (keep on the SuperNode) and {public} (register on the SuperLink)")


if __name__ == "__main__":
    main()
