"""Mints a Centrifugo connection token (HS256 JWT) for one user.

Usage: python -m tools.mint_token USER [--ttl SECONDS] [--stack STACK]

The HMAC key comes from $ZKM_TOKEN_HMAC_SECRET, or else from the stack output
`tokenHmacSecret`. The token goes to stdout, alone on its line.
"""

from __future__ import annotations

import argparse
import sys
import time

import jwt

from tools.stack import StackValueError, stack_value

SECRET_ENV = "ZKM_TOKEN_HMAC_SECRET"
# One hour: long enough to try things by hand, short enough to be harmless if leaked.
DEFAULT_TTL = 3600


def mint_token(secret: str, user: str, ttl: int, now: float | None = None) -> str:
    """Returns a token that connects `user` to Centrifugo until `ttl` seconds pass.

    Raises:
        ValueError: The user is empty or the lifetime is not positive.
    """
    if not user:
        raise ValueError("the user ID must not be empty")
    if ttl <= 0:
        raise ValueError(f"the token lifetime must be above 0 seconds, not {ttl!r}")
    issued = int(now if now is not None else time.time())
    claims = {"sub": user, "iat": issued, "exp": issued + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


def main(argv: list[str] | None = None) -> int:
    """Runs the command; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.mint_token", description=__doc__.splitlines()[0]
    )
    parser.add_argument("user", help="user ID; becomes the token's `sub` claim")
    parser.add_argument(
        "--ttl", type=int, default=DEFAULT_TTL, help="lifetime in seconds (3600)"
    )
    parser.add_argument("--stack", help="stack to read the key from (selected one)")
    args = parser.parse_args(argv)

    try:
        secret = stack_value("tokenHmacSecret", SECRET_ENV, args.stack)
        print(mint_token(secret, args.user, args.ttl))
    except (StackValueError, ValueError) as exc:
        print(f"mint_token: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
