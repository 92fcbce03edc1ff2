"""``ambience serve`` and its limits on open files."""

from __future__ import annotations

import resource
from pathlib import Path

from daemon_proc import DaemonProcess
from test_daemon import CONFIG


def test_the_daemon_raises_its_open_file_limit_to_the_hard_limit(broker, tmp_path):
    cfg = tmp_path / "ambience.yaml"
    cfg.write_text(CONFIG.format(url=broker.url))
    (tmp_path / "presets").mkdir()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else min(hard, 4096)

    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, target))

    daemon = DaemonProcess(cfg, tmp_path / "state", preexec_fn=low_soft_limit).start()
    try:
        assert daemon.proc is not None
        limits = Path(f"/proc/{daemon.proc.pid}/limits").read_text()
        soft = next(line.split()[3] for line in limits.splitlines() if line.startswith("Max open files"))
        shown = "unlimited" if target == resource.RLIM_INFINITY else str(target)
        assert soft == shown
        assert daemon.log.read_text().count(f"open files: up to {shown}") == 1
    finally:
        daemon.stop()
