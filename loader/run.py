"""pgshift command line: load, scaffold, verify, migrate.

Usage::

    python loader/run.py [load]       # snapshot-extract the source into raw
    python loader/run.py scaffold     # (re)generate the dbt models from the source
    python loader/run.py verify       # reconcile and write MIGRATION_REPORT.md
    python loader/run.py migrate      # load, dbt build, verify
    python loader/run.py dbt build    # any dbt command, against TARGET_DATABASE_URL
    python loader/run.py sample       # create the sample marketplace source
    python loader/run.py demo         # all of it on an embedded PostgreSQL

Exit codes: 0 all good, 1 a check failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import logging
import sys

from pgshift import cli
from pgshift.settings import EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, set up logging once, run the command.

    Args:
        argv: The arguments (default: sys.argv[1:]).

    Returns:
        The process exit code.
    """
    parser = cli.build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=(
            logging.DEBUG
            if args.debug
            else logging.INFO
            if args.verbose
            else logging.WARNING
        ),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return cli.dispatch(args)
    except KeyboardInterrupt:
        print(
            "pgshift: interrupted. Run the same command again to start over.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except cli.UserFacingError as exc:
        if args.debug:
            raise
        print(f"pgshift: error: {exc}", file=sys.stderr)
        return cli.EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
