"""`python -m skyway.services [--root DIR] NAME`: run one service."""

from __future__ import annotations

import argparse
import logging
import sys

from skyway.errors import SkywayError

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m skyway.services")
    parser.add_argument("--root", help="Skyway root (default: SKYWAY_ROOT)")
    parser.add_argument("name", help="the service: cloud-ACCOUNT or billing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=FORMAT)

    from skyway import config
    from skyway.services.serve import serve

    try:
        return serve(config.load(args.root), args.name)
    except SkywayError as exc:
        logging.getLogger("skyway.services").error("%s", exc)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
