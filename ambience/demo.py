"""``./run demo``: show ambience working on this machine.

For now the demo lists the shipped presets and shows one as a timeline; it grows into the
full room demo (broker, simulated devices, daemon, music) as those parts land.
"""

from __future__ import annotations

import sys

from .cli import main as cli


def main(argv: list[str] | None = None) -> int:
    preset = (argv or sys.argv[1:] or ["swedish-relaxation-60"])[0]
    print("== the shipped presets (ambience presets list)\n")
    code = cli(["presets", "list"])
    print(f"\n== one preset as a timeline (ambience presets show {preset})\n")
    code = code or cli(["presets", "show", preset])
    print("\nNext: write your own preset (presets/README.md) and check it with `ambience presets check FILE`.")
    print("The ambience command is in .venv/bin: `source .venv/bin/activate`.")
    return code


if __name__ == "__main__":
    sys.exit(main())
