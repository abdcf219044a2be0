"""Atomic file writes: the one helper every writer in the package uses (shards, manifests, backups, exports); and
`check_writable`, which the commands call on their outputs before the work.

A file or folder is written under a temporary sibling name and renamed into place only when complete, so a kill
mid-write leaves either the previous version or nothing, never half a file. `tf.io.gfile` makes the same code
work on local disks and on the remote filesystems TensorFlow supports (gs://, hdfs://).
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import json
import os
import re
import stat
import sys
import tempfile
import unicodedata
from collections.abc import Iterator
from typing import Any

import tensorflow as tf

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, nothing is held
    fcntl = None

TEMPORARY_SUFFIX = ".tmp"
# What `glob` and TensorFlow's file functions match by, and the backslash TensorFlow's take as an escape: a path
# holding one is a pattern to them (a folder named "dados [teste]" matched no file, and TensorFlow's checkpoint reader
# found no variables in a SavedModel there). `glob.escape` escapes all but the backslash.
GLOB_CHARACTERS = re.compile(r"[*?[\\]")


# errno by its message ("No space left on device": ENOSPC), for TensorFlow's file errors, which give the message alone
_ERRNO_OF = {os.strerror(number): number for number in errno.errorcode}


def current_folder_note(path: str) -> str:
    """"in /home/me, the current folder" for a relative `path`, "" for an absolute one: what a message about a file
    not found adds, where the path was typed in another folder than the one it is relative to."""
    return "" if os.path.isabs(path) or "://" in path else f"in {os.getcwd()}, the current folder"


def output_path(path: str) -> tuple[str, bool]:
    """Where an output named `path` is written, and whether in place: (`path`, True) for a pipe, a device or a
    socket (`/dev/null`, a FIFO a reader waits on) and for a name that leads through /proc (`/dev/stdout`,
    `/dev/fd/3`, `<(...)`: a file this process was given, which a new file renamed onto the name would not reach);
    (the file a link names, False) for a link, kept as it is, as `>` and `cp` write through one; else (`path`,
    False). Written in place, the output is opened as it is, not written beside and renamed (else `--output-json
    /dev/stdout` run as root would replace /dev/stdout with a regular file, and a link with a file)."""
    if "://" in path:
        return path, False
    if os.path.exists(path) and (_through_proc(path) or not (os.path.isfile(path) or os.path.isdir(path))):
        return path, True
    return (os.path.realpath(path) if os.path.islink(path) else path), False


def _through_proc(path: str) -> bool:
    """Whether `path`, or a link on the way to what it names, lies in /proc or /dev/fd."""
    for _ in range(40):  # the system's own limit on links followed
        if os.path.abspath(path).startswith(("/proc/", "/dev/fd/")):
            return True
        if not os.path.islink(path):
            return False
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    return False


@contextlib.contextmanager
def atomic_path(path: str, *, suffix: str = TEMPORARY_SUFFIX, overwrite: bool = True, sync: bool = True
                ) -> Iterator[str]:
    """Yields a temporary path beside `path` to write to; renames it to `path` when the block succeeds.

    On an exception the temporary file (or folder) is removed and `path` is left as it was; a temporary left over
    by a killed run is removed first. An OSError that names no file (a full disk, as Python's own writes raise it)
    is given `path` as its file name, so that its message says which file was not written. A link is written
    through (the file it names is replaced), and a pipe, a device or `/dev/stdout` is written into as it is
    (`output_path`).

    Args:
        path: the final file or folder.
        suffix: appended to `path` for the temporary name (readers skip names with this suffix).
        overwrite: replace an existing `path` (files only; a folder is never replaced).
        sync: `fsync` the file before its rename and its folder after (`_settle`); not for files written by the
            thousand that a run checks again when it goes on (a video's mask PNGs: 3 times slower with it).
    """
    target, in_place = output_path(path)
    temporary = target if in_place else target + suffix
    if not in_place:
        _remove(temporary)  # a leftover of a run killed mid-write
    try:
        yield temporary
    except BaseException as e:
        if not in_place:
            _remove(temporary)
        if isinstance(e, OSError) and e.errno is not None and e.filename in (None, temporary):
            try:
                e.filename = path  # the file the caller named, not the temporary one (PyAV names it)
            except AttributeError:  # PyAV's errors keep theirs
                raise OSError(e.errno, e.strerror, path) from e
        if isinstance(e, tf.errors.OpError) and temporary in (e.message or ""):  # TensorFlow's writers: "<the
            reason = e.message.rsplit("; ", 1)[-1].strip()  # temporary file>; No space left on device"
            raise OSError(_ERRNO_OF.get(reason), reason, path) from e
        raise
    if not in_place:
        try:
            if "://" not in target:
                _settle(temporary, target, sync)
            tf.io.gfile.rename(temporary, target, overwrite=overwrite)
        except (OSError, tf.errors.OpError) as e:  # `path` a folder now: TensorFlow names the temporary file, which
            _remove(temporary)  # would be left (a folder named provenance.json in a run folder, say)
            reason = e.message.rsplit("; ", 1)[-1].strip() if isinstance(e, tf.errors.OpError) else e.strerror
            raise OSError(_ERRNO_OF.get(reason, getattr(e, "errno", None)), reason, path) from None
        if "://" not in target and sync:
            _sync(os.path.dirname(os.path.abspath(target)))  # the rename itself, on the disk


def _settle(temporary: str, target: str, sync: bool = True) -> None:
    """Before a local temporary file (or folder) replaces `target`: its bytes on the disk (`fsync`: else after a power
    cut or a kernel's crash the new name could hold an empty or partial file, the old one gone: a run's backup, a
    manifest), and, where it replaces a file, that file's permission bits (a private 0600 or a group's 0664 file
    became 0644, a reviewer's)."""
    if os.path.isdir(temporary):
        for folder, _, names in os.walk(temporary) if sync else ():
            for name in names:
                _sync(os.path.join(folder, name))
            _sync(folder)
        return
    if sync:
        _sync(temporary)
    try:
        if os.path.isfile(target) and os.path.isfile(temporary):
            kept = os.stat(target)
            os.chmod(temporary, kept.st_mode & 0o777)  # (not set-user-id and the like)
            if hasattr(os, "chown") and kept.st_gid != os.stat(temporary).st_gid:
                os.chown(temporary, -1, kept.st_gid)  # the group the bits are for (allowed to a member of it)
    except OSError:  # (a file of another owner's or group's: replaced as the folder allows, with this process' own)
        pass


def _sync(path: str) -> None:
    """`fsync` of a local file or folder; nothing where the system cannot (a folder on Windows, a pipe)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def same_file(path: str, other: str) -> bool:
    """Whether `path` names the file (or folder) `other` names: by the file itself where both exist (another
    spelling of the path, a link to it, a hard link), else by the paths made absolute through links."""
    with contextlib.suppress(OSError, ValueError):
        return os.path.samefile(path, other)
    return os.path.realpath(path) == os.path.realpath(other)


def check_not_input(path: str, inputs, flag: str) -> None:
    """Refuses, before the work, an output `path` that names one of the command's inputs: `inputs` are (path, what
    it is: "the input video", "a file of the model (RUN)"), each compared by the file it names (`same_file`: an
    output that is a link is written through, `output_path`), so that the output would not replace what is read
    (`acga evaluate --output-csv` replaced the shard it scored; docs/reliability.md).

    Raises:
        ValueError: "`path`: is <what>; `flag` must name another path".
    """
    if "://" in path:
        return
    for given, what in inputs:
        if same_file(path, given):
            raise ValueError(f"{path}: is {what}; {flag} must name another path")


def check_writable(path: str, *, folder: bool = False, flag: str | None = None) -> None:
    """Checks, before a long job, that the local file (or `folder`) `path` can be written at its end, creating nothing:
    a temporary file is made and removed in `path` if it is an existing folder, else in the nearest existing folder
    above it.

    Args:
        path: the file (or folder) the job will write.
        folder: `path` is a folder to write files into, not a file.
        flag: the command-line option that named `path`, added to the message (e.g. "--output").

    Raises:
        ValueError: `path` is empty, is a folder (a file, with `folder`), lies under a file, or cannot be written
            there (the message names it and says why).
    """
    path = os.fspath(path)
    where = f" ({flag})" if flag else ""
    if not path:
        raise ValueError(f"the output path is empty{where}")
    try:
        os.stat(path)
    except OSError as e:  # links that lead back to each other: a file replaced the link, or "File exists"
        if e.errno == errno.ELOOP:
            raise ValueError(f"{path}: {e.strerror} (links that lead back to each other){where}") from None
        target = os.path.join(os.path.dirname(path), os.readlink(path)) if os.path.islink(path) else None
        if target is not None and (folder or not os.path.isdir(os.path.dirname(os.path.abspath(target)))):  # a
            # link to nothing: a folder's was "[Errno 17] File exists", and a file's was written at its target, the
            # folders above it made there (a security tester's: folders made outside those given)
            missing = "which does not exist; create that folder" if folder else "whose folder does not exist; create it"
            raise ValueError(f"{path}: a link to {os.readlink(path)}, {missing}, or name another path{where}") from None
    if not folder and path.endswith(("/", os.sep)) and not os.path.isdir(path):  # a folder's name, not a file's:
        # accepted, the run failed at its write ("No such file or directory: 'out/'": an evaluation reviewer's)
        raise ValueError(f"{path}: ends in '/', a folder's name: name the file to write{where}")
    if not folder:
        target, in_place = output_path(path)
        if in_place:  # a pipe, a device, /dev/stdout: written into as it is
            if not os.access(target, os.W_OK):
                raise ValueError(f"{path}: cannot be written (Permission denied){where}")
            return
        path = target  # a link: the file it names is written
    if os.path.exists(path) and os.path.isdir(path) != folder:
        found, wanted = ("a file", "folder") if folder else ("a folder", "file")
        raise ValueError(f"{path}: is {found}; name the {wanted} to write{where}")
    if not folder and os.path.isfile(path) and write_protected(path):  # the rename into place would replace it
        raise ValueError(f"{path}: exists and is write-protected ({_permissions(path)}): not replaced; remove it, "
                         f"make it writable or choose another name{where}")
    anchor = os.path.abspath(path) if folder else os.path.dirname(os.path.abspath(path))
    while not os.path.exists(anchor):
        anchor = os.path.dirname(anchor)
    if not os.path.isdir(anchor):
        raise ValueError(f"{path}: cannot be created: {anchor} is a file, not a folder{where}")
    # the longest name written: a file's temporary one; in a folder, predict's `1/00001.png.tmp` (the deepest)
    longest_path = len(os.fsencode(os.path.abspath(path))) + len("/00001/00001.png" * folder + TEMPORARY_SUFFIX)
    if longest_path >= (limit := _longest_path(anchor)):  # was "[Errno 36] File name too long" after the work
        raise ValueError(f"{path[:60]}...: a path of {len(os.fsencode(os.path.abspath(path))):,} bytes; with the "
                         f"names written {'in it' if folder else 'beside it'}, over the {limit:,} this system takes: "
                         f"choose a shorter one{where}")
    name, longest = len(os.fsencode(os.path.basename(path))), _longest_name(anchor)
    if name > longest:  # 130 accented letters, say: else "[Errno 36] File name too long: '...mp4.tmp'"
        raise ValueError(f"{path[:60]}...: its name is {name:,} bytes, over the {longest} this file system takes: "
                         f"shorten it{where}")
    to_create = os.path.relpath(os.path.abspath(path), anchor).split(os.sep)  # the folders to be made, the name last
    if (too_long := next((part for part in to_create if len(os.fsencode(part)) > longest), None)) is not None:
        raise ValueError(f"{path[:60]}...: its folder {too_long[:40]}... has a name of {len(os.fsencode(too_long)):,} "
                         f"bytes, over the {longest} this file system takes: shorten it{where}")
    if not folder and name <= longest < name + len(TEMPORARY_SUFFIX):  # a legal name, its temporary one too long
        raise ValueError(f"{path}: its name is {name} bytes, and it is written under a temporary name "
                         f"{len(TEMPORARY_SUFFIX)} bytes longer ({TEMPORARY_SUFFIX!r}), over the {longest} this file "
                         f"system takes: shorten it{where}")
    try:
        with tempfile.TemporaryFile(dir=anchor):
            pass
    except OSError as e:  # (/proc's "No such file or directory" read as if the folder were missing: a tester's)
        raise ValueError(f"{path}: cannot be written: no file can be made in {anchor} ({e.strerror or e}){where}"
                         ) from None


def _permissions(path: str) -> str:
    """The file's mode, and its owner where this process is not it: "mode -rw-r--r--, owner uid 65534"."""
    info = os.stat(path)
    owner = "" if not hasattr(os, "geteuid") or info.st_uid == os.geteuid() else f", owner uid {info.st_uid}"
    why = ""
    if info.st_mode & 0o222 and not owner and not os.access(path, os.W_OK):  # the mode allows it: something else
        read_only = hasattr(os, "statvfs") and os.statvfs(path).f_flag & os.ST_RDONLY
        why = ", on a read-only file system" if read_only else ", marked immutable (`lsattr` shows it; chattr -i)"
    return f"mode {stat.filemode(info.st_mode)}{owner}{why}"


def unreadable(path: str) -> str | None:
    """Why this process cannot read the file `path` ("Permission denied"), or None where it can (or it is missing:
    the caller names that). A file Keras, NumPy or TensorFlow cannot open otherwise reads as a damaged one in
    their messages ("not a zip archive", "export it again")."""
    try:
        if stat.S_ISFIFO(os.stat(path).st_mode):  # (opened, a pipe waits for a writer: the command hung)
            return PIPE
        with open(path, "rb"):
            return None
    except PermissionError as e:
        return e.strerror or "Permission denied"
    except OSError:
        return None


PIPE = "a pipe, not a file"  # (`unreadable`'s reason for a FIFO, which a reader's open waits on)


def cannot_read(path: str, reason: str = "Permission denied") -> ValueError:
    """The one-line error for a file or folder this process may not read: named as such, not as a damaged one."""
    remedy = "give a file" if reason == PIPE else "check its owner and permissions"
    return ValueError(f"{path}: cannot be read ({reason}): {remedy}")


def check_readable(path: str) -> None:
    """Refuses (`cannot_read`) a file this process may not read (`unreadable`), or a folder it may not list or enter
    at or below `path` (`unreadable_folder`); a missing path passes (the caller names that).

    Raises:
        ValueError: naming the file or folder.
    """
    if (folder := unreadable_folder(path)) is not None:
        raise cannot_read(folder)
    if (reason := unreadable(path)) is not None:
        raise cannot_read(path, reason)


def unreadable_folder(path: str, depth: int = 2) -> str | None:
    """The first folder at or below `path` (down to `depth` levels) this process may not list or enter, or None: a
    loader then says "not found", "missing" or "export it again" of what is only unreadable."""
    if not os.path.isdir(path):
        return None
    if not os.access(path, os.R_OK | os.X_OK):
        return path
    if depth > 0:
        with contextlib.suppress(OSError), os.scandir(path) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False) and (found := unreadable_folder(entry.path, depth - 1)):
                    return found
    return None


def write_protected(path: str) -> bool:
    """Whether the file `path` may not be written by this process, or by anyone (no write permission bit: a file
    `chmod 444` made read-only, which a process with root's rights could otherwise write). A file is replaced by
    renaming its new version onto it (`atomic_path`), which the folder's permissions allow whatever the file's own:
    a command checks this before it writes over an existing file."""
    return not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222


# What to do where Python reads file names and arguments in ASCII: the C locale with its UTF-8 mode turned off
# (`python -X utf8=0`, PYTHONUTF8=0), which Python otherwise turns on there.
UTF8_HINT = ("run under a UTF-8 locale (LC_ALL=C.UTF-8; LC_ALL outranks LANG), or in Python's UTF-8 mode "
             "(PYTHONUTF8=1, which -X utf8=0 turns off)")


def unnameable(path: str) -> str | None:
    """Why `path` cannot name a file here (its characters outside the file system encoding Python uses: ASCII under
    the C locale without UTF-8 mode), or None: such a name was "not found", whether the file is there or not."""
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        return (f"{path}: this name cannot be written in the encoding Python gives file names here "
                f"({sys.getfilesystemencoding()}); {UTF8_HINT}")
    return None


def as_stored(path: str) -> str:
    """`path`, or where no file has it and one has its names with the accents in the other Unicode form (NFC "é" or
    NFD "e" and an accent: a list written on a Mac, a file copied from one; Linux keeps a name's bytes as given),
    that file's path; each folder and the file's name are looked up in either form.

    Raises:
        ValueError: a name that cannot be encoded here (`unnameable`).
    """
    if os.path.exists(path):
        return path
    if (reason := unnameable(path)) is not None:
        raise ValueError(reason)
    head, tail = os.path.split(path)
    if not tail or head == path:
        return path
    parent = as_stored(head) if head else head
    for name in (tail, unicodedata.normalize("NFC", tail), unicodedata.normalize("NFD", tail)):
        candidate = os.path.join(parent, name)
        if os.path.exists(candidate):
            return candidate
    return path


def _longest_path(folder: str) -> int:
    """The longest path, in bytes, that `folder`'s system takes (4096 where it does not say)."""
    try:
        return os.pathconf(folder, "PC_PATH_MAX")
    except (AttributeError, OSError, ValueError):
        return 4096


def _longest_name(folder: str) -> int:
    """The longest file name, in bytes, that `folder`'s file system takes (255 where it does not say)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows), or no answer
        return 255


def _remove(path: str) -> None:
    if "://" not in path and os.path.islink(path):  # a link left where a temporary file goes: the link, never what
        os.remove(path)  # it points to (TensorFlow's rmtree of a link to a folder emptied that folder)
        return
    if tf.io.gfile.exists(path):
        (tf.io.gfile.rmtree if tf.io.gfile.isdir(path) else tf.io.gfile.remove)(path)


def write_text(path: str, text: str, *, suffix: str = TEMPORARY_SUFFIX) -> None:
    """Writes `text` to `path` atomically (UTF-8), through a temporary name ending in `suffix` (`atomic_path`)."""
    with atomic_path(path, suffix=suffix) as temporary, tf.io.gfile.GFile(temporary, "w") as f:
        f.write(text)


def write_json(path: str, obj: Any, *, suffix: str = TEMPORARY_SUFFIX) -> None:
    """Writes `obj` as indented JSON to `path` atomically (`write_text`, `suffix`), in UTF-8 with its letters as
    they are ("数据/分片", not "\\u6570\\u636e/..."; in manifests and evaluation records), or as escapes where a
    string holds what UTF-8 cannot write (a lone surrogate: a file name's undecodable bytes)."""
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, indent=2, sort_keys=True)
    write_text(path, text + "\n", suffix=suffix)


def read_json(path: str) -> Any:
    """Reads a JSON file (local or remote).

    Raises:
        json.JSONDecodeError: not JSON.
        ValueError: not UTF-8 text (the message names the file).
    """
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    try:
        return json.loads(data.decode("utf-8-sig"))  # (Windows' Notepad saves "UTF-8 with BOM")
    except UnicodeDecodeError as e:  # (the position past the BOM, which the decoder leaves out)
        raise ValueError(f"{path}: not UTF-8 text (byte {e.start + 3 * data.startswith(codecs.BOM_UTF8)})") from None
    except RecursionError:
        raise ValueError(f"{path}: not JSON this reader can read (nested too deep)") from None


def read_record(path: str) -> dict | None:
    """The JSON object a local file holds, or None where there is none to read (no file, not readable, not JSON, not
    an object): a record a run wrote, which a later run reads to know what was done."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            record = json.load(f)
    except (OSError, ValueError, RecursionError):  # (a UnicodeDecodeError is a ValueError; objects nested 200,000
        return None  # deep: Python's recursion)
    return record if isinstance(record, dict) else None


@contextlib.contextmanager
def locked_folder(path: str, flag: str) -> Iterator[None]:
    """Holds an exclusive lock (`WriteLock`) on the local folder `path`, made if missing, while a command writes in
    it: a second command given the same folder (`flag`, "--output") meanwhile is refused in one line (`OutputInUse`,
    exit 75) before it reads or writes anything there. Else two `acga train` would both train and report success,
    the folder holding only the later run's files; two `acga prepare` would make one of them fail naming the other's
    temporary file. The folders made here and still empty when the command fails are removed (a refused command
    leaves none). A bucket (`gs://`) is not locked; where the folder cannot be made, the caller's own check names it.
    Locks held by a killed process vanish with it."""
    if "://" in path:
        yield
        return
    made, folder = [], os.path.abspath(path)  # the folders made here, deepest first
    while not os.path.isdir(folder) and folder != os.path.dirname(folder):
        made.append(folder)
        folder = os.path.dirname(folder)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        yield
        return
    lock = WriteLock(path, f"{path} ({flag})")
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            for folder in made:  # each only if still empty
                os.rmdir(folder)
        raise
    finally:
        lock.release()


class OutputInUse(ValueError):
    """Another run is writing the output now (`WriteLock`): the same command may succeed once it has ended (`acga`
    exits 75, EX_TEMPFAIL, for it)."""


class WriteLock:
    """An exclusive advisory lock (`flock`) on a local file or folder that one run is writing, held until `release`.

    A second run writing the same output at once is refused in one line, before it writes anything there: else
    two `acga predict` runs with one `--output` would write into one temporary file and both report a broken overlay
    as written, and one run's mask folder would remove the other's masks. The lock is on the open file, so a run killed
    (even by SIGKILL) holds none, and its leftover temporary file is taken over by the next run. Where locks are not
    available (Windows, a filesystem without them), nothing is held.

    Args:
        path: the file (created if missing, empty) or folder (which must exist) to lock.
        name: what the message calls it, the output the user named (default: `path`).

    Raises:
        OutputInUse: another process holds the lock (a ValueError).
    """

    def __init__(self, path: str, name: str | None = None):
        self.fd = None
        if fcntl is None:
            return
        folder = os.path.isdir(path)
        if not folder and os.path.islink(path):  # a temporary file's name taken by a link: the link goes (opening it
            os.remove(path)  # with O_CREAT made the file it points to)
        fd = os.open(path, os.O_RDONLY if folder else os.O_RDONLY | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputInUse(f"{name or path}: another run is writing it now; wait for it to end, or write "
                              "elsewhere") from None
        except OSError:  # a filesystem without locks
            os.close(fd)
            return
        self.fd = fd

    def release(self) -> None:
        """Releases the lock (again: nothing)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
