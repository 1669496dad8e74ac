"""The command line the vector generators share: write the vectors file, or with --check exit
1 if the file in docs/ is not exactly what a fresh run would write."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable


def run(description: str, file_name: str, script_name: str, generate: Callable[[], str]) -> int:
    """Parses --check and --output, calls `generate` for the file's text, writes or compares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="exit 1 if the vectors file is not up to date")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", file_name))
    arguments = parser.parse_args()
    path = os.path.normpath(arguments.output)

    text = generate()
    if arguments.check:
        try:
            with open(path, encoding="utf-8") as file:
                current = file.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print(f"{path} is out of date: run python3 scripts/{script_name}", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
    print(f"wrote {path}")
    return 0
