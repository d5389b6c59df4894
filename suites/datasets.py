"""The papers' real datasets by name, fetched with pooch into the cache on first use:
``--workload-param dataset=rcv1`` on the ``libsvm`` workload, and MNIST (``data=mnist`` on the
``mlp`` / ``resnet`` network workloads).

LIBSVM collection (Chang & Lin), binary classification, training parts:

    ijcnn1    ijcnn1.bz2                    49,990 x 22        (Huo & Huang 2017, Huo 2020; Nguyen et al. 2021)
    covtype   covtype.libsvm.binary.bz2     581,012 x 54       (Dis-dfSDCA: Huo 2020)
    rcv1      rcv1_train.binary.bz2         20,242 x 47,236    (Huo & Huang 2017, Huo 2020)
    real-sim  real-sim.bz2                  72,309 x 20,958    (Huo & Huang 2017, Huo 2020)
    news20    news20.binary.bz2             19,996 x 1,355,191 (Huo 2020)
    url       url_combined.bz2              2,396,130 x 3,231,961 (Huo 2020; about 2 GB unpacked)

MNIST (LeCun, Cortes & Burges; Huo & Huang 2017 train on it): the four gzipped IDX files, 60,000 training
and 10,000 test images of 28 x 28 bytes, from the mirror torchvision uses (yann.lecun.com no longer
serves them). Their SHA-256 sums are recorded in :data:`FILES` (the same sums TensorFlow Datasets
and torchvision's mirror publish), so pooch refuses a file that differs.

scikit-learn's digits (the ``digits`` workloads, linear and network) are read from the file the
package ships (:func:`digits`), without importing scikit-learn.

Files land in ``$HARNESS_CACHE/datasets/`` (default ``~/.cache/harness/datasets``).
``$HARNESS_DATASETS_URL`` replaces every collection's address (a mirror holding the files side by
side, or a local server in tests); ``$HARNESS_DATASETS_REGISTRY`` names a pooch registry file
(``FILE sha256:HEX`` per line) whose sums replace the recorded ones (a mirror that serves other
bytes). Where no SHA-256 is recorded (the LIBSVM files: their site publishes none), the first
download's is written beside the file (``FILE.sha256``) and every later download must match it.
Without a network, the error is one line naming the files to place and where.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

from harness.api import MissingDependency, UserError

LIBSVM_URL = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary/"
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

# file -> (collection's address, SHA-256 or None when not recorded here, size in bytes or None)
FILES: dict[str, tuple[str, str | None, int | None]] = {
    "ijcnn1.bz2": (LIBSVM_URL, None, None),
    "covtype.libsvm.binary.bz2": (LIBSVM_URL, None, None),
    "rcv1_train.binary.bz2": (LIBSVM_URL, None, None),
    "real-sim.bz2": (LIBSVM_URL, None, None),
    "news20.binary.bz2": (LIBSVM_URL, None, None),
    "url_combined.bz2": (LIBSVM_URL, None, None),
    "train-images-idx3-ubyte.gz": (MNIST_URL, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                                   9_912_422),
    "train-labels-idx1-ubyte.gz": (MNIST_URL, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                                   28_881),
    "t10k-images-idx3-ubyte.gz": (MNIST_URL, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                                  1_648_877),
    "t10k-labels-idx1-ubyte.gz": (MNIST_URL, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                                  4_542),
}

# dataset name (``dataset=NAME`` of the libsvm workload) -> its file
DATASETS: dict[str, str] = {
    "ijcnn1": "ijcnn1.bz2",
    "covtype": "covtype.libsvm.binary.bz2",
    "rcv1": "rcv1_train.binary.bz2",
    "real-sim": "real-sim.bz2",
    "news20": "news20.binary.bz2",
    "url": "url_combined.bz2",
}

# MNIST's four files: training images, training labels, test images, test labels
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz")


def data_dir() -> Path:
    from harness.api import cache_dir

    path = cache_dir() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def fetch(name: str) -> Path:
    """The local path of LIBSVM dataset ``name``, downloaded first if it is not in the cache.
    Raises UserError (unknown name, no network, checksum mismatch)."""
    if name not in DATASETS:
        from harness.api import unknown

        raise unknown("dataset", name, DATASETS)
    return fetch_files(name, [DATASETS[name]])[0]


def fetch_mnist() -> list[Path]:
    """MNIST's four files (:data:`MNIST_FILES` order) in the cache, each downloaded if missing. A
    file placed by hand may be the gzipped one or its unpacked IDX file (the name without ``.gz``)."""
    folder = data_dir()
    have = {f: folder / f.removesuffix(".gz") for f in MNIST_FILES if (folder / f.removesuffix(".gz")).exists()}
    fetched = fetch_files("mnist", [f for f in MNIST_FILES if f not in have]) if len(have) < len(MNIST_FILES) else []
    got = iter(fetched)
    return [have[f] if f in have else next(got) for f in MNIST_FILES]


def fetch_files(name: str, fnames: Sequence[str]) -> list[Path]:
    """Each file in the cache (downloaded with pooch if missing, its SHA-256 checked), in order.
    Offline, one UserError names every file still missing and the folder to place them in."""
    folder = data_dir()
    override = _registry_override()
    out, missing, failure = [], [], None
    for fname in fnames:
        base, known, _size = FILES[fname]
        known = override.get(fname, known)
        target, stamp = folder / fname, folder / (fname + ".sha256")
        if known is None and stamp.exists():
            known = stamp.read_text().split()[0]
        if target.exists() and known is None:
            out.append(target)  # placed by hand (offline): trusted as placed
            continue
        if failure is not None:  # offline: the rest is not tried (each try could wait for a timeout)
            missing.append(fname)
            continue
        url = os.environ.get("HARNESS_DATASETS_URL", base).rstrip("/") + "/" + fname
        try:
            out.append(_download(name, url, fname, folder, known))
        except _Offline as exc:
            missing.append(fname)
            failure = exc.args[0]
    if missing:
        files = "the file " + missing[0] if len(missing) == 1 else "the files " + ", ".join(missing)
        raise UserError(f"dataset {name}: cannot download {failure}; place {files} in {folder}")
    return out


class _Offline(Exception):
    """No network, an HTTP error, DNS: the file must be placed by hand."""


def _download(name: str, url: str, fname: str, folder: Path, known: str | None) -> Path:
    try:
        import pooch
    except ImportError:
        raise MissingDependency("pooch (to download datasets by name)", "data") from None
    fresh = not (folder / fname).exists()
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # our own line below, not pooch's
    try:
        path = Path(pooch.retrieve(url, known_hash=_pooch_hash(known), fname=fname, path=folder, progressbar=False))
    except ValueError as exc:  # pooch: the hash of the download does not match
        raise UserError(f"dataset {name}: {url} failed its checksum ({str(exc).splitlines()[0]}); "
                        f"the file was not kept") from None
    except Exception as exc:  # noqa: BLE001 - no network, HTTP error, DNS: one line that says what to do
        raise _Offline(f"{url} ({type(exc).__name__})") from None
    finally:
        logger.setLevel(level)
    if fresh:
        print(f"harness: downloaded dataset {name} file {fname} ({path.stat().st_size / 1e6:.1f} MB) from {url} "
              f"to {path}", file=sys.stderr)
    if known is None:
        (folder / (fname + ".sha256")).write_text(f"{pooch.file_hash(str(path))}  {fname}\n")
    return path


def _pooch_hash(known: str | None) -> str | None:
    if known is None:
        return None
    return known if ":" in known else f"sha256:{known}"


def _registry_override() -> dict[str, str]:
    """``$HARNESS_DATASETS_REGISTRY``: a pooch registry file (``FILE HASH`` per line) read by pooch."""
    path = os.environ.get("HARNESS_DATASETS_REGISTRY")
    if not path:
        return {}
    try:
        import pooch
    except ImportError:
        raise MissingDependency("pooch (to download datasets by name)", "data") from None
    reg = pooch.create(path=str(data_dir()), base_url="", registry={})
    try:
        reg.load_registry(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"$HARNESS_DATASETS_REGISTRY {path}: {exc}") from None
    return dict(reg.registry)


def stream_sha256(url: str, chunk: int = 1 << 20, max_bytes: int | None = None) -> tuple[int, str | None]:
    """(bytes, SHA-256) of the file at ``url``, read as a stream (nothing kept on disk): how the
    sums in :data:`FILES` are made (``python -m harness.suites.datasets`` prints them all). A file
    whose announced size (Content-Length) exceeds ``max_bytes`` is not read: (its size, None)."""
    import hashlib
    import urllib.request

    h, n = hashlib.sha256(), 0
    with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - the collections' https addresses
        announced = int(resp.headers.get("Content-Length") or 0)
        if max_bytes is not None and announced > max_bytes:
            return announced, None
        while block := resp.read(chunk):
            h.update(block)
            n += len(block)
    return n, h.hexdigest()


def digits() -> tuple["np.ndarray", "np.ndarray"]:
    """scikit-learn's digits, (images (1797, 8, 8) in 0..16, labels): read from the CSV file the
    package ships, as ``sklearn.datasets.load_digits`` does, without importing scikit-learn (about
    2 s per process, paid by every torch rank at start-up); ``load_digits`` if the file is not there."""
    import gzip
    import importlib.util

    import numpy as np

    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt") as fh:
                data = np.loadtxt(fh, delimiter=",")
            return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images, d.target


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool, needs the collections' sites
    for fname, (base, known, _) in FILES.items():
        try:
            size, digest = stream_sha256(base + fname, max_bytes=300_000_000)
        except Exception as exc:  # noqa: BLE001 - one line per file that cannot be read
            print(f"{fname}\tunreachable: {base + fname} ({type(exc).__name__}: {exc})")
            continue
        if digest is None:
            print(f"{fname}\t{size}\tnot read (over 300 MB)")
            continue
        print(f"{fname}\t{size}\t{digest}\t{'matches' if digest == known else 'recorded: ' + str(known)}")
