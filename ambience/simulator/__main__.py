"""``python -m ambience.simulator [--config FILE] [--url URL] [--tick S]``."""

from __future__ import annotations

import argparse
import logging
import sys

from ambience.simulator import main


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ambience.simulator",
        description="Simulate the rooms' thermostats and lights on the MQTT broker, each with its bridge's topics.",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="the config file (default: $AMBIENCE_CONFIG, else ./ambience.yaml)"
    )
    parser.add_argument(
        "--devices", metavar="FILE", help="the simulator's devices file: a profile per device (docs/simulator.md)"
    )
    parser.add_argument("--url", help="the broker, mqtt://HOST[:PORT] or mqtts://… (default: the config's mqtt.url)")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between fade reports and thermostat steps")
    parser.add_argument("--drift", type=float, default=0.1, help="°C the room moves towards the setpoint per tick")
    parser.add_argument("-v", "--verbose", action="store_true", help="log connections and errors")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s")
    return main(args.config, args.url, args.devices, tick=args.tick, drift=args.drift)


if __name__ == "__main__":
    sys.exit(cli())
