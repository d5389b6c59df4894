"""The file system at the boundary: every path a user gives is checked here, before any work starts.

- input files (suite TOML, LIBSVM data, exports, hostfiles): :func:`input_file` (exists, is a
  regular file, readable) and :func:`text_file` (also: not binary, decodes as UTF-8);
- output files (``runs export FILE``, ``gate --save-baseline FILE``): :func:`output_file`;
- output folders (``--report DIR``, ``compare --out DIR``): :func:`output_dir`;
- names that become one path component (suite names, report names): :func:`safe_name`;
- writing an output file: :func:`replaced_atomically` / :func:`write_atomic` (a temporary file in
  the same folder, renamed over the target: the old bytes or the new, never a truncated file).
- a file found by name inside a folder (a dataset's batches): :func:`inside_folder`;
- folders the harness keeps pickles and caches in: :func:`private_dir` (see docs/security.md).

Writability is tried, not guessed: ``os.access`` says yes to root everywhere, even on /proc or a
read-only mount, so the checks create (and remove) a probe file. Every failure is a
:class:`~harness._core.errors.UserError` of one line naming the path and what was expected.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import UserError

SNIFF_BYTES = 64 * 1024


def path_of(path: str | os.PathLike, what: str) -> Path:
    """A Path from a user's text: not empty, no NUL byte (the OS cannot take one: ``os.stat`` raises
    ValueError and ``Path.exists`` says False)."""
    text = os.fspath(path)
    if not str(text).strip():
        raise UserError(f"{what}: empty path")
    if "\x00" in str(text):
        raise UserError(f"{what} {str(text)!r}: a path cannot contain a NUL byte")
    return Path(text)


def input_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a readable regular file, else a UserError: ``{what} not found: PATH`` / ``... is a directory``."""
    p = path_of(path, what)
    try:
        if not p.exists():
            raise UserError(f"{what} not found: {p}")
        if p.is_dir():
            raise UserError(f"{what} {p} is a directory, expected a file")
        if not p.is_file():
            raise UserError(f"{what} {p} is not a regular file")
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise UserError(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    return p


def binary_reason(head: bytes) -> str | None:
    """Why these first bytes of a file are not text (``None`` if they are): NUL bytes or not UTF-8."""
    if b"\x00" in head:
        return "it contains NUL bytes"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        cut = len(head) >= SNIFF_BYTES and exc.reason == "unexpected end of data"
        if not cut:  # a multi-byte character cut by the sniff window is fine
            return f"byte {exc.start} is not UTF-8"
    return None


def text_file(path: str | os.PathLike, what: str) -> Path:
    """:func:`input_file`, and the first 64 KiB are UTF-8 text: ``{what} PATH is binary, not text (...)``."""
    p = input_file(path, what)
    with open(p, "rb") as fh:
        why = binary_reason(fh.read(SNIFF_BYTES))
    if why:
        raise UserError(f"{what} {p} is binary or not UTF-8 text ({why})")
    return p


def _probe_dir(folder: Path, what: str, target: Path) -> None:
    """Create and remove a file in ``folder``: the only honest writability test (root passes os.access)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".harness-probe-", dir=folder)
    except OSError as exc:  # /proc refuses a new file with ENOENT: "No such file or directory" of a folder that exists
        why = ("it accepts no new files" if exc.errno == errno.ENOENT and folder.is_dir() else exc.strerror or exc)
        raise UserError(f"cannot write {what} {target}: {folder} is not writable ({why})") from None
    os.close(fd)
    os.unlink(name)


def _existing_ancestor(p: Path) -> Path:
    a = p.absolute()
    while not a.exists() and a != a.parent:
        a = a.parent
    return a


def output_file(path: str | os.PathLike, what: str) -> Path:
    """A file path we may (over)write: not a directory, its folder exists and is writable, and an
    existing file can be opened for writing. Nothing is created or changed."""
    p = path_of(path, what)
    if p.is_dir():
        raise UserError(f"{what} {p} is a directory, expected a file name")
    parent = p.absolute().parent
    if not parent.exists():
        raise UserError(f"cannot write {what} {p}: folder {parent} does not exist")
    if not parent.is_dir():
        raise UserError(f"cannot write {what} {p}: {parent} is not a folder")
    if p.exists() and not p.is_file():  # a FIFO blocks open(); a device would be replaced by the rename
        raise UserError(f"{what} {p} is not a regular file: give a file name")
    if p.exists():
        try:
            with open(p, "ab"):  # append mode: opens for writing without changing the file
                pass
        except OSError as exc:
            raise UserError(f"cannot write {what} {p}: {exc.strerror or exc}") from None
    else:
        _probe_dir(parent, what, p)
    return p


def output_dir(path: str | os.PathLike, what: str) -> Path:
    """A folder we may create and write into: it is a folder (or does not exist yet) and its nearest
    existing ancestor is a writable folder. Nothing is created."""
    p = path_of(path, what)
    if p.exists() and not p.is_dir():
        raise UserError(f"{what} {p} is a file, expected a folder")
    anc = _existing_ancestor(p)
    if not anc.is_dir():
        raise UserError(f"cannot write {what} {p}: {anc} is a file, not a folder")
    _probe_dir(anc, what, p)
    return p


_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


def safe_name(name: str, default: str = "unnamed") -> str:
    """One harmless path component from a user's name: ``'../../x y'`` -> ``'x-y'``. Characters
    outside ``A-Z a-z 0-9 . _ + = -`` become '-', leading dots and dashes go (no '..', no hidden
    files, no option-like names), and the result is at most 100 characters."""
    out = _UNSAFE.sub("-", str(name)).lstrip(".-").rstrip("-")
    out = re.sub(r"\.\.+", ".", out)[:100]
    return out or default


@contextmanager
def replaced_atomically(path: str | os.PathLike, what: str = "file") -> Iterator[Path]:
    """A temporary path in ``path``'s folder to write the new content to; when the block ends
    without an error it is flushed to disk and renamed over ``path`` (``os.replace``: atomic on
    POSIX), so a reader, a full disk or a crash sees the old bytes or the new ones, never a
    truncated file. On any error the temporary file goes and ``path`` is untouched; an OSError
    (e.g. ENOSPC) becomes a UserError ``cannot write {what} PATH: No space left on device``.
    A replaced file keeps its permission bits; a new one gets ``0o666`` less the umask."""
    p = Path(path)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.absolute().parent)
    except OSError as exc:
        raise UserError(f"cannot write {what} {p}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        try:
            mode = p.stat().st_mode & 0o7777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {what} {p}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, text: str, what: str = "file") -> Path:
    """``text`` (UTF-8) written to ``path`` through :func:`replaced_atomically`; returns ``path``."""
    with replaced_atomically(path, what) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def save_figure(fig, path: str | os.PathLike, **kwargs) -> Path:
    """A matplotlib figure saved to ``path`` (format from its suffix, 110 dpi) through
    :func:`replaced_atomically`: a full disk leaves the previous plot, not half a PNG."""
    p = Path(path)
    with replaced_atomically(p, "plot") as tmp:
        fig.savefig(tmp, format=p.suffix.lstrip(".") or "png", dpi=110, **kwargs)
    return p


@contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Exclusive use of ``folder`` among processes (``flock`` on ``folder/.lock``, released when the
    block ends or the process dies): two reports written to one folder at once take turns."""
    import fcntl

    with open(Path(folder) / ".lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def full_disk_note(path: str | os.PathLike) -> str:
    """' (no space left on the device holding it)' when the file system of ``path``'s folder has no
    free block (SQLite reports a full disk as 'disk I/O error' when it cannot grow its WAL index),
    else ''."""
    try:
        st = os.statvfs(Path(path).absolute().parent)
    except OSError:
        return ""
    return " (no space left on the device holding it)" if st.f_bavail == 0 else ""


def inside_folder(path: str | os.PathLike, folder: str | os.PathLike, what: str) -> Path:
    """``path``, a file found by name in ``folder``, as a regular file that lies in that folder once
    links are followed: a symbolic link to a file elsewhere is refused (``{what} PATH is a link to
    TARGET, outside FOLDER``), so a shared folder cannot make a run read, hash or report another
    file of the user's. A link within the folder is followed."""
    p, root = Path(path), Path(folder).resolve()
    try:
        real = p.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UserError(f"{what} {p}: not found (a broken or looping link?)") from None
    if not real.is_relative_to(root):
        raise UserError(f"{what} {p} is a link to {real}, outside {root}: refused (copy the file into the folder)")
    if not real.is_file():
        raise UserError(f"{what} {p} is not a regular file")
    return p


def private_dir(path: str | os.PathLike, what: str, *, quiet: bool = False) -> Path:
    """``path`` as a folder only this user can write (created 0700 where missing, parents
    included): a folder the harness loads pickles or cached results from must not be writable by
    anyone else, since whoever can write there can make the next run execute their code. An existing
    folder of ours that others may write is made private, said in one line on stderr (unless
    ``quiet``); one owned by another user, or a shared one such as /tmp (writable by others with
    the sticky bit), is refused (UserError). Returns the path."""
    import stat
    import sys

    p = path_of(path, what)
    try:
        p.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = p.stat()
    except OSError as exc:
        raise UserError(f"cannot create {what} {p}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UserError(f"{what} {p} is not a folder")
    if st.st_uid != os.getuid():
        raise UserError(f"{what} {p} belongs to another user (uid {st.st_uid}): refused, since the harness loads "
                        f"code-bearing files from it; choose a folder of your own")
    if st.st_mode & 0o022 and st.st_mode & stat.S_ISVTX:  # /tmp and its kind: shared by design, never ours to close
        raise UserError(f"{what} {p} is a shared folder (writable by others, sticky): refused, since the harness "
                        f"loads code-bearing files from it; choose a folder of your own")
    if st.st_mode & 0o022:
        try:
            os.chmod(p, stat.S_IMODE(st.st_mode) & ~0o077)
        except OSError as exc:
            raise UserError(f"{what} {p} is writable by others and cannot be made private: "
                            f"{exc.strerror or exc}") from None
        if not quiet:
            print(f"harness: {what} {p} was writable by others (mode {stat.S_IMODE(st.st_mode):o}): made private "
                  f"(0{stat.S_IMODE(st.st_mode) & ~0o077:o}), since the harness loads pickles from it",
                  file=sys.stderr)
    return p
