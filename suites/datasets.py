"""The papers' real datasets by name (``--workload-param dataset=rcv1`` on the ``libsvm`` workload),
fetched with pooch into the cache on first use.

Files come from the LIBSVM collection (Chang & Lin), binary classification, training parts:

    ijcnn1    ijcnn1.bz2                    49,990 x 22        (000, 001: AsySVRG; 003: Hogwild!)
    covtype   covtype.libsvm.binary.bz2     581,012 x 54       (001: Dis-dfSDCA)
    rcv1      rcv1_train.binary.bz2         20,242 x 47,236    (000, 001)
    real-sim  real-sim.bz2                  72,309 x 20,958    (000, 001)
    news20    news20.binary.bz2             19,996 x 1,355,191 (001)
    url       url_combined.bz2              2,396,130 x 3,231,961 (001; about 2 GB unpacked)

They land in ``$HARNESS_CACHE/datasets/`` (default ``~/.cache/harness/datasets``).
``$HARNESS_DATASETS_URL`` replaces the collection's address (a mirror, or a local server in tests).
Checksums: a SHA-256 in :data:`DATASETS` is checked on download; where none is recorded here, the
first download's SHA-256 is written beside the file (``FILE.sha256``) and every later download
must match it. Without a network, the error is one line naming the file to place and where.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import MissingDependency, UserError

BASE_URL = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary/"

# name -> (file in the collection, its SHA-256 or None when not recorded here)
DATASETS: dict[str, tuple[str, str | None]] = {
    "ijcnn1": ("ijcnn1.bz2", None),
    "covtype": ("covtype.libsvm.binary.bz2", None),
    "rcv1": ("rcv1_train.binary.bz2", None),
    "real-sim": ("real-sim.bz2", None),
    "news20": ("news20.binary.bz2", None),
    "url": ("url_combined.bz2", None),
}


def data_dir() -> Path:
    from harness.cache import cache_dir

    path = cache_dir() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def fetch(name: str) -> Path:
    """The local path of dataset ``name``, downloaded first if it is not in the cache.
    Raises UserError (unknown name, no network, checksum mismatch)."""
    if name not in DATASETS:
        from harness.errors import unknown

        raise unknown("dataset", name, DATASETS)
    fname, known = DATASETS[name]
    folder = data_dir()
    target, stamp = folder / fname, folder / (fname + ".sha256")
    if known is None and stamp.exists():
        known = stamp.read_text().split()[0]
    if target.exists() and known is None:
        return target  # placed by hand (offline): trusted as placed
    try:
        import pooch
    except ImportError:
        raise MissingDependency("pooch (to download datasets by name)", "data") from None
    import sys

    url = os.environ.get("HARNESS_DATASETS_URL", BASE_URL).rstrip("/") + "/" + fname
    fresh = not target.exists()
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # our own line below, not pooch's
    try:
        path = Path(pooch.retrieve(url, known_hash=f"sha256:{known}" if known else None, fname=fname,
                                   path=folder, progressbar=False))
    except ValueError as exc:  # pooch: the hash of the download does not match
        raise UserError(f"dataset {name}: {url} failed its checksum ({str(exc).splitlines()[0]}); "
                        f"the file was not kept") from None
    except Exception as exc:  # noqa: BLE001 - no network, HTTP error, DNS: one line that says what to do
        raise UserError(f"dataset {name}: cannot download {url} ({type(exc).__name__}); place the file "
                        f"{fname} in {folder}") from None
    finally:
        logger.setLevel(level)
    if fresh:
        print(f"harness: downloaded dataset {name} ({path.stat().st_size / 1e6:.1f} MB) from {url} to {path}",
              file=sys.stderr)
    if known is None:
        stamp.write_text(f"{pooch.file_hash(str(path))}  {fname}\n")
    return path
