"""A peer's own virtual environment under bench/out/peers/, created and filled on demand."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import OUT

PEERS_OUT = OUT / "peers"


class PeerInstallFailed(RuntimeError):
    pass


def _python311() -> str:
    found = shutil.which("python3.11")
    if found:
        return found
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    raise PeerInstallFailed("python3.11 was not found on PATH: it is needed for the peer's venv")


def ensure_venv(name: str, requirement: str, probe: str) -> tuple[Path, float | None]:
    """The venv bench/out/peers/<name> with `requirement` installed (pip's defaults).

    Reused when `probe` (a Python statement) succeeds in it; else created / (re)installed.
    Returns (the venv's bin directory, install seconds or None when reused)."""
    venv = PEERS_OUT / name
    bin_dir = venv / "bin"
    python = bin_dir / "python"
    if python.exists() and _probe(python, probe):
        print(f"[peer] reusing {venv} ({requirement} present)", flush=True)
        return bin_dir, None
    PEERS_OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not python.exists():
        print(f"[peer] creating {venv} with {_python311()} -m venv", flush=True)
        _run([_python311(), "-m", "venv", str(venv)], f"could not create the venv {venv}")
    print(
        f"[peer] installing {requirement!r} into {venv} (pip's defaults; takes a while)", flush=True
    )
    _run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", requirement],
        f"pip could not install {requirement!r} into {venv}: see pip's output above "
        "(no network to the package index? a wheel missing for this platform?)",
    )
    if not _probe(python, probe):
        raise PeerInstallFailed(f"{requirement!r} installed into {venv} but `{probe}` fails there")
    seconds = time.perf_counter() - t0
    print(f"[peer] {requirement!r} installed in {seconds:.0f} s", flush=True)
    return bin_dir, seconds


def _probe(python: Path, statement: str) -> bool:
    done = subprocess.run([str(python), "-c", statement], capture_output=True, timeout=120)
    return done.returncode == 0


def _run(args: list[str], failure: str) -> None:
    # pip's own progress goes straight to this terminal.
    code = subprocess.call(args)
    if code != 0:
        raise PeerInstallFailed(f"{failure} (exit status {code})")
