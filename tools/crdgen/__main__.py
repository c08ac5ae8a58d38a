"""``python -m tools.crdgen [--check]``: write crds/*.yaml, or verify they are up to date."""

from __future__ import annotations

import argparse
import sys

from . import CRDS_DIR, stale_files, write_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.crdgen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if crds/ differs from the generator output")
    options = parser.parse_args(argv)
    if options.check:
        stale = stale_files()
        if stale:
            print(f"stale CRD manifests in {CRDS_DIR}: {', '.join(stale)}; run python -m tools.crdgen", file=sys.stderr)
            return 1
        return 0
    for path in write_all():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
