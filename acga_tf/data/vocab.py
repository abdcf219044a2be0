"""Vocabulary, word vectors and the in-graph sentence vectorizer (docs/model.md#text-encoder: up to L frozen word
vectors, zero-padded).

- `Vocabulary`: the words of the training sentences (index 0 is reserved: padding and unknown words, a zero
  vector), saved as `word<TAB>count` lines.
- `load_word_vectors`: word2vec binary (GoogleNews), word2vec text and GloVe text (no header) files.
- `Vocabulary.embedding_matrix`: the (V, D) float32 matrix, from a vectors file or deterministic per-word random
  vectors (the same word always gets the same vector).
- `SentenceVectorizer`: a `tf.Module` mapping tf.string sentences to (B, L, D) word vectors with a
  `StaticHashTable` and `tf.gather`: stock ops only, used in `tf.data` maps and the serving graph.
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import logging
import os
import re
import stat
import unicodedata
import zlib
from typing import Callable, Iterable, Iterator

import numpy as np
import tensorflow as tf

from acga_tf.data.text import compose, tokenize, tokenize_py_many
from acga_tf.data.types import MAX_SENTENCE_BYTES
from acga_tf.ops import files
from acga_tf.ops.wording import counted

logger = logging.getLogger(__name__)

PAD = "<pad>"  # index 0: padding and unknown words (zero vector)
VECTOR_FORMATS = ("word2vec_binary", "word2vec_text", "glove")


class Vocabulary:
    """An immutable word list with counts; `words[0]` is `PAD` (padding/unknown, zero vector).

    Attributes:
        words: tuple of words, index = row of the embedding matrix.
        counts: tuple of training counts (0 for `PAD`).
    """

    __slots__ = ("_words", "_counts", "_index")

    def __init__(self, words: Iterable[str], counts: Iterable[int] | None = None):
        """Args:
            words: the words without `PAD` (it is prepended), distinct, no whitespace.
            counts: one count per word (default 0).

        Raises:
            ValueError: duplicated words, words with whitespace or `PAD`, count length mismatch.
        """
        words = list(words)
        counts = [0] * len(words) if counts is None else [int(c) for c in counts]
        if len(counts) != len(words):
            raise ValueError(f"{len(words)} words but {len(counts)} counts")
        for w in words:
            if not w or w == PAD or any(c.isspace() for c in w):
                raise ValueError(f"invalid vocabulary word {w!r} (empty, {PAD!r} or with whitespace)")
        dup = [w for w, n in collections.Counter(words).items() if n > 1]
        if dup:
            raise ValueError(f"duplicated vocabulary words: {dup[:10]}")
        object.__setattr__(self, "_words", (PAD, *words))
        object.__setattr__(self, "_counts", (0, *counts))
        object.__setattr__(self, "_index", word_rows(self._words))

    def __setattr__(self, name, value):
        raise AttributeError("Vocabulary is immutable")

    @property
    def words(self) -> tuple[str, ...]:
        return self._words

    @property
    def counts(self) -> tuple[int, ...]:
        return self._counts

    def __len__(self) -> int:
        return len(self._words)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self._words == other._words and self._counts == other._counts

    def __hash__(self) -> int:
        return hash(self._words)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} words incl. {PAD!r})"

    def index(self, word: str) -> int:
        """Row of `word` (0 if unknown), whichever Unicode form its accents are written in (`word_forms`)."""
        row = self._index.get(word)
        return row if row is not None else self._index.get(compose(word), 0)

    def encode(self, sentence: str) -> list[int]:
        """Token ids of one sentence, with the shared tokenizer (0 for unknown words)."""
        return [self.index(t) for t in tokenize_py_many([sentence])[0]]

    @classmethod
    def build(cls, sentences: Iterable[str], min_count: int = 1) -> "Vocabulary":
        """Counts the tokens of `sentences` (shared tokenizer; each in its composed Unicode form, NFC) and keeps
        words seen at least `min_count` times.

        Words are ordered by decreasing count, then alphabetically (deterministic).

        Raises:
            ValueError: `min_count` < 1.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counter: collections.Counter = collections.Counter()
        sentences = list(sentences)
        for i in range(0, len(sentences), 4096):
            for tokens in tokenize_py_many(sentences[i:i + 4096]):
                counter.update(compose(token) for token in tokens)  # "carré" typed two ways is one word
        kept = sorted(((w, c) for w, c in counter.items() if c >= min_count), key=lambda x: (-x[1], x[0]))
        logger.info("vocabulary: %d words (min_count=%d) of %d distinct tokens", len(kept), min_count, len(counter))
        return cls([w for w, _ in kept], [c for _, c in kept])

    def save(self, path: str) -> None:
        """Writes `word<TAB>count` per line, UTF-8 (without `PAD`)."""
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for w, c in zip(self._words[1:], self._counts[1:]):
                f.write(f"{w}\t{c}\n")

    @classmethod
    def load(cls, path: str) -> "Vocabulary":
        """Reads a file written by `save`.

        Raises:
            ValueError: naming `path:line` for a malformed line, a duplicated word or non-UTF-8 bytes.
        """
        words, counts = [], []
        seen: dict[str, int] = {}
        try:
            f = open(path, "rb")
        except PermissionError as e:
            raise files.cannot_read(path, e.strerror) from None
        with f:
            for lineno, raw in enumerate(f, start=1):
                if lineno == 1:  # Windows' Notepad saves "UTF-8 with BOM": the first word was "\ufeffman", which no
                    raw = raw.removeprefix(BOM)  # sentence matches
                try:
                    line = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as e:
                    raise ValueError(f"{path}:{lineno}: not valid UTF-8 ({e.reason})") from None
                if not line:
                    continue
                parts = line.split("\t")
                count_ok = len(parts) == 2 and parts[1].isascii() and parts[1].isdigit()  # ("²" is a digit to str)
                if not count_ok or not parts[0] or parts[0] == PAD or any(c.isspace() for c in parts[0]):
                    raise ValueError(f"{path}:{lineno}: expected 'word<TAB>count', got {line!r}")
                if parts[0] in seen:
                    raise ValueError(f"{path}:{lineno}: word {parts[0]!r} already on line {seen[parts[0]]}")
                seen[parts[0]] = lineno
                words.append(parts[0])
                counts.append(int(parts[1]))
        return cls(words, counts)

    def embedding_matrix(self, vectors_path: str | None = None, *, dim: int | None = None, seed: int = 0,
                         format: str | None = None) -> tuple[np.ndarray, int]:
        """The (V, D) float32 word-vector matrix; row 0 (`PAD`) is zero.

        Args:
            vectors_path: a word2vec/GloVe file; None for deterministic random vectors.
            dim: D; required without `vectors_path`, checked against the file otherwise.
            seed: seed of the random vectors (each word's vector depends only on the word and the seed).
            format: see `load_word_vectors`.

        Returns:
            (matrix, n_unknown): words missing from the file get a zero vector and are counted (and logged).

        Raises:
            ValueError: no `dim` without a file, or `dim` differing from the file's.
        """
        if vectors_path is None:
            if dim is None or dim < 1:
                raise ValueError(f"dim must be a positive int without a vectors file, got {dim}")
            matrix = np.zeros((len(self), dim), np.float32)
            for i, w in enumerate(self._words[1:], start=1):
                matrix[i] = random_word_vector(w, dim, seed)
            return matrix, 0
        file_dim = check_word_vectors(vectors_path, dim, format=format)  # before reading the whole file
        vectors = load_word_vectors(vectors_path, format=format, words=self._words[1:])
        matrix = np.zeros((len(self), file_dim), np.float32)
        unknown = []
        for i, w in enumerate(self._words[1:], start=1):
            v = vectors.get(w)
            if v is None:
                unknown.append(w)
            else:
                matrix[i] = v
        if unknown:
            logger.warning("%d of %d vocabulary words have no vector in %s (zero vectors), e.g. %s",
                           len(unknown), len(self) - 1, vectors_path, unknown[:10])
        return matrix, len(unknown)


def word_forms(word: str) -> list[str]:
    """`word` as written and in Unicode's two forms of its accents, composed (NFC: "é" one character) and decomposed
    (NFD: "e" then the accent, as macOS writes file names), each once: the keys under which a vocabulary finds it,
    in Python and in the graph (TensorFlow has no op that turns one form into the other; acga_tf/data/text.py)."""
    return list(dict.fromkeys((word, compose(word), unicodedata.normalize("NFD", word))))


def word_rows(words) -> dict[str, int]:
    """Each word's row (its place in `words`) under each of its `word_forms`, the first word's where two share one:
    the keys of `Vocabulary.index` and of `SentenceVectorizer`'s lookup table."""
    rows: dict[str, int] = {}
    for row, word in enumerate(words):
        for form in word_forms(word):
            rows.setdefault(form, row)
    return rows


def random_word_vector(word: str, dim: int, seed: int = 0) -> np.ndarray:
    """A deterministic N(0, 1/dim) float32 vector for `word` (crc32 of the word + seed), same in every process."""
    rng = np.random.default_rng([zlib.crc32(word.encode("utf-8")), seed])
    return (rng.standard_normal(dim) / np.sqrt(dim)).astype(np.float32)


BOM = b"\xef\xbb\xbf"  # UTF-8's byte-order mark, which Windows' Notepad writes first


GZIP_MAGIC = b"\x1f\x8b"
FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")  # the int32 a fastText model (`.bin`) begins with


def _open(path: str):
    """`path` opened for reading bytes, through gzip where it starts as gzip data does (whatever its name ends in).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a pipe (`<(zcat ...)`): a word-vector file is read twice, to check it, then to load it; a
            fastText model (`.bin`), whose vectors its `.vec` file holds as text.
    """
    if not os.path.isfile(path):
        if os.path.exists(path) and stat.S_ISFIFO(os.stat(path).st_mode):
            raise ValueError(f"{path}: a pipe: the word-vector file is read twice (checked, then loaded); give a file "
                             "(a .gz file is read as it is)")
        raise FileNotFoundError(f"{path}: word-vector file not found" + (" (a folder)" if os.path.isdir(path) else ""))
    with open(path, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as f:
            start = f.read(len(FASTTEXT_MAGIC))
    except (EOFError, OSError, zlib.error):  # a .gz cut short or damaged: named by the read that follows
        start = b""
    if start == FASTTEXT_MAGIC:  # (read as GloVe text: "a word without a vector", a reviewer's)
        raise ValueError(f"{path}: a fastText model (its binary .bin file), not a word-vector file: give its .vec "
                         "file, the same vectors as text (fastText publishes both)")
    return opener(path, "rb")


@contextlib.contextmanager
def _whole_gzip(path: str):
    """Names `path` in a compressed file's errors (Python's say neither the file nor what to do)."""
    try:
        yield
    except EOFError:  # "Compressed file ended before the end-of-stream marker was reached"
        raise ValueError(f"{path}: cut short (its compressed data stop before their end marker): download or copy "
                         "it again") from None
    except (gzip.BadGzipFile, zlib.error) as e:  # "CRC check failed ...", "Error -3 while decompressing data: ..."
        raise ValueError(f"{path}: damaged compressed data ({e}): download or copy it again") from None


def detect_vector_format(path: str) -> str:
    """The format of a word-vector file, from its contents: after a `<count> <dim>` first line, "word2vec_text" where
    the next line ends in `dim` numbers written as text, else "word2vec_binary"; without that header, "glove". A
    file's name does not decide it (a binary not named `.bin` was read as text: "non-numeric vector value"; a text
    file named `.bin` as binary), nor the bytes of a word (a first word in Latin-1 made a text file binary, its
    vectors garbage: a diff reviewer's)."""
    with _open(path) as f, _whole_gzip(path):
        first = f.readline().removeprefix(BOM).split()
        if not (len(first) == 2 and all(x.isdigit() for x in first)):
            return "glove"
        dim = int(first[1])  # (a text line's values are at most 32 bytes each; a binary's bytes up to a newline)
        line = f.readline(32 * min(dim, MAX_VECTOR_DIM) + 4096).rstrip(b"\r\n")
    values = _line_parts(line)[1:]
    numbers = len(values) >= dim and all(NUMBER.fullmatch(value) or value.lower().lstrip(b"+-") in NOT_FINITE
                                         for value in values[len(values) - dim:])
    return "word2vec_text" if not line or numbers else "word2vec_binary"


def check_word_vectors(path: str, dim: int | None = None, format: str | None = None) -> int:
    """The dimension of the vectors in `path`, read from its header and first vector (a quick check before a long
    read or a run: `fit` calls it before it creates the run's folder).

    Raises:
        FileNotFoundError: no such file.
        ValueError: no vector in the file, a malformed start (see `iter_word_vectors`), or vectors of a dimension
            other than `dim`.
    """
    format = format or detect_vector_format(path)
    size = _glove_size(path) if format == "glove" else None  # (as the load learns it: a malformed first line of a
    # word outside the vocabulary was refused here, and passed over by the load, a diff reviewer's)
    if size is None:  # (word2vec's header and first vector; a GloVe file without a line: no vector)
        size = next((v.shape[0] for _, v in iter_word_vectors(path, format=format)), None)
    if size is None:
        raise ValueError(f"{path}: no word vector in the file")
    if dim is not None and size != dim:
        raise ValueError(f"{path}: vectors have {size} dimensions, expected dim={dim}")
    return int(size)


GLOVE_SIZE_LINES = 1000  # the first lines (not blank) of a GloVe file among which a vector's size is looked for


def _glove_size(path: str) -> int | None:
    """The size of a GloVe file's first line of a word and numbers alone among its first `GLOVE_SIZE_LINES`: the
    vectors' size, learnt before any line is read as a vector, by the check before a run and the load alike (the
    load learnt it from the first line of a word it kept: "new york 0.1 ..." was "new"'s, refused as "non-numeric",
    and a file whose first thousand lines were malformed was refused by the check and loaded; docs/data.md#pipeline);
    None for a file of blank lines alone (of no vector).

    Raises:
        ValueError: no such line among the first `GLOVE_SIZE_LINES` (or the whole file, where shorter): not a
            word-vector file, its first line named.
    """
    first, read = None, 0  # the first line that is not blank (its number, the line); the lines not blank read
    with _open(path) as f, _whole_gzip(path):
        for lineno, raw in enumerate(f, start=1):
            # (split as the load splits: on spaces alone; a vocabulary's "the<TAB>12345" was read as a vector of 1)
            parts = _line_parts(raw.removeprefix(BOM) if lineno == 1 else raw)
            if not parts:
                continue
            if read == GLOVE_SIZE_LINES:
                break
            if size := _clean_size(parts):
                return size
            first, read = first or (lineno, raw), read + 1
    if first is None:
        return None
    lineno, raw = first
    among = f"among its first {GLOVE_SIZE_LINES:,} " if read == GLOVE_SIZE_LINES else ""
    raise ValueError(f"{path}:{lineno}: no line {among}is a word and its vector ({raw[:80]!r} the first): not a "
                     "word-vector file, whose lines are 'WORD V1 V2 ...' (word2vec text, GloVe) after an optional "
                     "'<count> <dim>' line")


def _line_parts(raw: bytes) -> list[bytes]:
    """A text file's line as its space-separated parts (a word, then its values)."""
    return [part for part in raw.rstrip(b"\r\n").split(b" ") if part]


def _clean_size(parts: list[bytes]) -> int | None:
    """The vector size of a line that is a word and numbers alone, or None."""
    return len(parts) - 1 if len(parts) > 1 and all(NUMBER.fullmatch(part) for part in parts[1:]) else None


def iter_word_vectors(path: str, format: str | None = None,
                      keep: Callable[[str], bool] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """Streams (word, float32 vector) pairs from a word2vec binary, word2vec text or GloVe text file.

    Args:
        path: the file (gzip data accepted, whatever the name ends in).
        format: one of `VECTOR_FORMATS`, or None to detect it (`detect_vector_format`).
        keep: where given, only the words it keeps are yielded, and only their values are read as numbers (and
            checked): a text file of 100,000 words took 7.7 s for a few words, most of it reading the others (they
            are passed over unchecked).

    A GloVe file's vector size is that of its first line of a word and numbers alone among its first
    `GLOVE_SIZE_LINES` (`_glove_size`, as `check_word_vectors` reads it), learnt before any line is read: a line of
    more parts than a word and that many numbers is then a word with spaces ("new york 0.1 ...", GloVe 840B's
    ". . ."), wherever it is.

    Raises:
        ValueError: unknown format, or a malformed header/line/entry (naming `path:line` or the entry).
    """
    format = format or detect_vector_format(path)
    if format not in VECTOR_FORMATS:
        raise ValueError(f"unknown word-vector format {format!r}, expected one of {VECTOR_FORMATS}")
    with _open(path) as f, _whole_gzip(path):
        if format == "word2vec_binary":
            header = f.readline().removeprefix(BOM).split()
            if len(header) != 2 or not all(x.isdigit() for x in header):
                raise ValueError(f"{path}:1: word2vec header is {b' '.join(header)!r}, expected '<count> <dim>'")
            count, dim = int(header[0]), _dimension(path, int(header[1]))
            for i in range(count):
                chars = bytearray()
                while True:
                    c = f.read(1)
                    if not c:
                        raise ValueError(f"{path}: entry {i + 1} of {count}: unexpected end of file")
                    if c == b" ":
                        break
                    if c != b"\n" or chars:
                        chars += c
                data = f.read(4 * dim)
                if len(data) != 4 * dim:
                    raise ValueError(f"{path}: entry {i + 1} of {count}: truncated vector")
                word = chars.decode("utf-8", errors="replace")
                if keep is not None and not keep(word):
                    continue
                vec = np.frombuffer(data, "<f4").astype(np.float32)
                if not np.isfinite(vec).all():  # (as in a text file: a NaN trained the run to NaN, rc 0)
                    raise ValueError(f"{path}: entry {i + 1} of {count} ({word[:40]!r}): a value that is not a finite "
                                     "number")
                yield word, vec
            return
        dim = _glove_size(path) if format == "glove" else None  # (word2vec text: its header's)
        count = None
        vectors = 0
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1:
                raw = raw.removeprefix(BOM)  # (the first word's vector was lost, or the header unread)
            parts = _line_parts(raw)
            if lineno == 1 and format == "word2vec_text":
                if len(parts) != 2 or not all(p.isdigit() for p in parts):
                    raise ValueError(f"{path}:1: word2vec header is {raw[:80]!r}, expected '<count> <dim>'")
                count, dim = int(parts[0]), _dimension(path, int(parts[1]))
                continue
            if not parts:
                continue
            word = parts[0]
            if dim is not None and len(parts) > dim + 1 and not _numbers(parts[1:-dim]):  # GloVe 840B's ". . ." and
                word, parts = b" ".join(parts[:-dim]), [b"", *parts[-dim:]]  # "at name@domain.com": words with spaces
            if keep is not None and not keep(word.decode("utf-8", errors="replace")):
                vectors += 1  # (a vector all the same, for the header's count)
                continue
            try:
                vec = np.array([float(x) for x in parts[1:]], np.float32)
            except ValueError:
                raise ValueError(f"{path}:{lineno}: non-numeric vector value in {raw[:80]!r}") from None
            if not np.isfinite(vec).all():  # (a NaN vector trained to NaN, blamed on the training)
                line = raw.rstrip(b"\r\n")[:80]
                raise ValueError(f"{path}:{lineno}: a value that is not a finite number in {line!r}")
            if vec.shape[0] != dim:
                raise ValueError(f"{path}:{lineno}: {vec.shape[0]} values, expected {dim}")
            vectors += 1
            yield word.decode("utf-8", errors="replace"), vec
        if count is not None and vectors < count:  # (a copy cut at a line's end: the words after it had zero vectors,
            # said only as "words without a vector", a reviewer's)
            raise ValueError(f"{path}: {vectors} vectors where its header says {count}: the file is cut short; "
                             "download or copy it again")


MAX_VECTOR_DIM = 100_000  # a word2vec header past this is not a word-vector file's (300 in the paper)


def _dimension(path: str, dim: int) -> int:
    """A header's vector size, refused where no word-vector file has it (a binary's `1 99999999999` asked for 400 GB
    a word: "out of memory", naming no file, a reviewer's)."""
    if not 0 < dim <= MAX_VECTOR_DIM:
        raise ValueError(f"{path}:1: its word2vec header gives vectors of {dim} values: not a word-vector file "
                         f"(1 to {MAX_VECTOR_DIM:,})")
    return dim


NOT_FINITE = (b"nan", b"inf", b"infinity")  # as text files may write them (refused as values, but text: named there)
NUMBER = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # a vector value as files write it (not Python's
# float() "nan", "infinity" or "1_000", which are words: "to infinity" was refused as a value, a reviewer's)


def _numbers(parts: list[bytes]) -> bool:
    """Whether any of `parts` reads as a number: a line with more values than the vectors' dimension is a malformed
    line then, not a word with spaces in it."""
    return any(NUMBER.fullmatch(part) for part in parts)


def load_word_vectors(path: str, format: str | None = None,
                      words: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Reads word vectors into a dict, keeping only `words` when given (GoogleNews has 3M words).

    A word missing in its own case falls back to the first file entry whose lower case equals it.

    Raises:
        ValueError: see `iter_word_vectors`.
    """
    wanted = None if words is None else set(words)
    exact: dict[str, np.ndarray] = {}
    composed: dict[str, np.ndarray] = {}  # a file's words of decomposed accents (NFD: macOS), composed as the
    # vocabulary's are; after the words as written (a decomposed duplicate took a word's own vector: a reviewer's)
    folded: dict[str, np.ndarray] = {}

    def kept(w: str) -> bool:  # what the loop below keeps
        return w in wanted or w.lower() in wanted or (not w.isascii() and ((nfc := compose(w)) in wanted
                                                                           or nfc.lower() in wanted))
    for w, v in iter_word_vectors(path, format=format, keep=None if wanted is None else kept):
        if not w.isascii() and (nfc := compose(w)) != w:
            if wanted is None or nfc in wanted:
                composed.setdefault(nfc, v)
            elif nfc.lower() in wanted:  # (a decomposed "Café" for "café", as a word as written is folded)
                folded.setdefault(nfc.lower(), v)
            continue
        if wanted is None:
            exact.setdefault(w, v)
        elif w in wanted:
            exact.setdefault(w, v)
        else:
            lw = w.lower()
            if lw in wanted:
                folded.setdefault(lw, v)
    for w, v in (*composed.items(), *folded.items()):
        exact.setdefault(w, v)
    return exact


def save_word_vectors(path: str, vectors: dict[str, np.ndarray], format: str) -> None:
    """Writes vectors as word2vec binary, word2vec text or GloVe text (for tests and small demo files)."""
    items = list(vectors.items())
    dim = len(items[0][1]) if items else 0
    with open(path, "wb") as f:
        if format in ("word2vec_binary", "word2vec_text"):
            f.write(f"{len(items)} {dim}\n".encode())
        for w, v in items:
            v = np.asarray(v, np.float32)
            if format == "word2vec_binary":
                f.write(w.encode("utf-8") + b" " + v.astype("<f4").tobytes() + b"\n")
            elif format in ("word2vec_text", "glove"):
                f.write((w + " " + " ".join(repr(float(x)) for x in v) + "\n").encode("utf-8"))
            else:
                raise ValueError(f"unknown word-vector format {format!r}, expected one of {VECTOR_FORMATS}")


def save_embedding_matrix(path: str, matrix: np.ndarray) -> None:
    """Saves a (V, D) float32 matrix as `.npy`."""
    np.save(path, np.asarray(matrix, np.float32), allow_pickle=False)


def load_embedding_matrix(path: str, vocabulary: Vocabulary | None = None,
                          vocabulary_path: str | None = None) -> np.ndarray:
    """Loads a `.npy` matrix written by `save_embedding_matrix`; `vocabulary_path`: the file `vocabulary` was read
    from, which a message about their row counts names (an emptied vocab.txt is the likelier damage: it read as
    "the vocabulary has 1 words").

    Raises:
        ValueError: not a 2-D float matrix, row 0 not zero, or its row count differs from `len(vocabulary)`.
    """
    try:
        m = np.load(path, allow_pickle=False)
    except PermissionError as e:
        raise files.cannot_read(path, e.strerror) from None
    except (ValueError, OSError, EOFError) as e:  # NumPy names no file: not a .npy file, or a truncated one
        raise ValueError(f"{path}: not a .npy matrix ({str(e).strip().splitlines()[0] if str(e).strip() else e!r})"
                         ) from None
    if not isinstance(m, np.ndarray):
        raise ValueError(f"{path}: expected a (V, D) float matrix, got a .npz archive")
    if m.ndim != 2 or not np.issubdtype(m.dtype, np.floating):
        raise ValueError(f"{path}: expected a (V, D) float matrix, got {m.dtype} {m.shape}")
    if np.any(m[0] != 0):
        raise ValueError(f"{path}: row 0 (padding/unknown) must be zero")
    if vocabulary is not None and m.shape[0] != len(vocabulary):
        rows, words, named = m.shape[0], len(vocabulary) - 1, vocabulary_path or "the vocabulary"
        held = (f"holds no word (empty or damaged); put back the {os.path.basename(vocabulary_path or 'vocab.txt')} "
                f"saved with it" if not words else
                f"holds {counted(words, 'word')}: they were not saved together; put back the pair "
                "saved together")
        raise ValueError(f"{path}: {counted(rows, 'row')} (one per word and the padding row), but "
                         f"{named} {held}")
    return m.astype(np.float32)


class SentenceVectorizer(tf.Module):
    """Sentences → first L word vectors, zero-padded (docs/model.md#text-encoder), with stock TF ops only.

    Args:
        words: the vocabulary words, `words[0]` the padding/unknown entry (e.g. `Vocabulary.words`).
        matrix: float (V, D), row 0 zeros.
        sentence_length: L.
    """

    def __init__(self, words, matrix: np.ndarray, sentence_length: int, name: str | None = None):
        super().__init__(name=name)
        words = list(words)
        matrix = np.asarray(matrix, np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise ValueError(f"matrix has shape {matrix.shape}, expected ({len(words)}, D) for {len(words)} words")
        if sentence_length < 1:
            raise ValueError(f"sentence_length must be >= 1, got {sentence_length}")
        self.sentence_length = int(sentence_length)
        self.dim = int(matrix.shape[1])
        # each word in both Unicode forms of its accents (`word_forms`), from row 1: row 0 (padding and unknown
        # words) is the table's default, not a key
        rows = {form: row + 1 for form, row in word_rows(words[1:]).items()}
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(list(rows), tf.string),
                                                tf.constant(list(rows.values()), tf.int64)),
            default_value=tf.constant(0, tf.int64))
        self.matrix = tf.Variable(matrix, trainable=False, name="word_vectors")

    @classmethod
    def from_vocabulary(cls, vocabulary: Vocabulary, matrix: np.ndarray, sentence_length: int) -> "SentenceVectorizer":
        """Builds a vectorizer from a `Vocabulary` and its embedding matrix."""
        return cls(vocabulary.words, matrix, sentence_length)

    def ids(self, sentences: tf.Tensor) -> tf.Tensor:
        """int64 (B, L) token ids (0 for padding and unknown words) of tf.string (B,) sentences."""
        tokens = tokenize(sentences)  # (B, None)
        ids = tf.ragged.map_flat_values(self.table.lookup, tokens)[:, :self.sentence_length]
        return ids.to_tensor(default_value=0, shape=[None, self.sentence_length])

    def lengths(self, sentences: tf.Tensor) -> tf.Tensor:
        """int32 (B,) number of tokens, clipped to L (unknown words count)."""
        n = tf.cast(tokenize(sentences).row_lengths(), tf.int32)
        return tf.minimum(n, self.sentence_length)

    def __call__(self, sentences: tf.Tensor) -> tf.Tensor:
        """float32 (B, L, D) word vectors of tf.string (B,) sentences; padding and unknown words are zeros."""
        return tf.gather(self.matrix, self.ids(sentences))  # (B, L, D)

    def describe(self, sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        """What the model will read of each sentence (docs/serving.md#signatures): how many words it has, how
        many of the first L are in the vocabulary, and which are not.

        Args:
            sentences: tf.string (B,).

        Returns:
            `{"words": int32 (B,) tokens before cutting to L, "known_words": int32 (B,) vocabulary words among the
            first L (the only ones that reach the model), "unknown_words": tf.string (B,) the words among the first L
            that get a zero vector, space-separated}`.
        """
        tokens = tokenize(sentences)  # (B, None)
        ids = tf.ragged.map_flat_values(self.table.lookup, tokens)
        read = tokens[:, :self.sentence_length]  # the words past L are dropped, not given zero vectors
        unknown = tf.ragged.boolean_mask(read, tf.equal(ids[:, :self.sentence_length], 0))
        return {"words": tf.cast(tokens.row_lengths(), tf.int32),
                "known_words": tf.reduce_sum(tf.cast(ids[:, :self.sentence_length] > 0, tf.int32), axis=1),
                "unknown_words": tf.strings.reduce_join(unknown, axis=1, separator=" ")}


EMPTY_QUERY = "query is empty: a sentence has no word (letters or digits) after tokenization"


def check_length(sentences: tf.Tensor) -> tf.Tensor:
    """Fails with `tf.errors.InvalidArgumentError` if a sentence is longer than `MAX_SENTENCE_BYTES` in UTF-8, as
    `acga predict` refuses it; returns `sentences` with the check as a control dependency. The SavedModel checked
    none: a 50 MB sentence was tokenized, at a peak of 2.8 GB (a security tester's)."""
    sentences = tf.convert_to_tensor(sentences, tf.string)
    lengths = tf.strings.length(sentences)  # bytes
    long = lengths > MAX_SENTENCE_BYTES
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(long)),
        [f"query is longer than the {MAX_SENTENCE_BYTES} bytes a sentence may have (in UTF-8); positions (from 0):",
         tf.where(long)[:, 0], "bytes:", tf.boolean_mask(lengths, long)], summarize=8)
    with tf.control_dependencies([check]):
        return tf.identity(sentences)


def check_nonempty(sentences: tf.Tensor, lengths: tf.Tensor | None = None) -> tf.Tensor:
    """Fails with `tf.errors.InvalidArgumentError` ("query is empty") if a sentence has no token.

    Args:
        sentences: tf.string (B,).
        lengths: their token counts (default: computed with `tokenize`).

    Returns:
        `sentences`, with the check as a control dependency (use the result so graphs keep the check).
    """
    sentences = tf.convert_to_tensor(sentences, tf.string)
    if lengths is None:
        lengths = tokenize(sentences).row_lengths()
    empty = tf.cast(lengths, tf.int64) <= 0
    check = tf.debugging.Assert(  # which sentences (position, text), not TensorFlow's list of every word count
        tf.logical_not(tf.reduce_any(empty)),
        [EMPTY_QUERY + "; positions (from 0):", tf.where(empty)[:, 0], "sentences:",
         tf.strings.join(["<", tf.boolean_mask(sentences, empty), ">"])],  # each between < and >: an empty one
        # showed as "[]", one of spaces as "[   ]", several ran together (reviewers')
        summarize=8)
    with tf.control_dependencies([check]):
        return tf.identity(sentences)


NO_KNOWN_WORD = ("query has no known word: none of its first sentence_length words is in the vocabulary of the "
                 "model, so every word would get a zero vector and the mask would ignore the sentence")


def check_known(sentences: tf.Tensor, known_words: tf.Tensor) -> tf.Tensor:
    """Fails with `tf.errors.InvalidArgumentError` (`NO_KNOWN_WORD`, then the sentences at fault) if a sentence
    has no vocabulary word the model reads; the pattern of `check_nonempty`.

    Args:
        sentences: tf.string (B,).
        known_words: int (B,), `SentenceVectorizer.describe(sentences)["known_words"]`.

    Returns:
        `sentences`, with the check as a control dependency.
    """
    sentences = tf.convert_to_tensor(sentences, tf.string)
    known = tf.cast(known_words, tf.int64)
    check = tf.debugging.Assert(tf.reduce_all(known > 0),
                                [NO_KNOWN_WORD + "; sentences:", tf.boolean_mask(sentences, known <= 0)], summarize=8)
    with tf.control_dependencies([check]):
        return tf.identity(sentences)


def check_sentences(vectorizer: SentenceVectorizer, sentences: tf.Tensor) -> tf.Tensor:
    """`sentences` (tf.string (B,)) with the checks of the serving graph as control dependencies: each is at most
    `MAX_SENTENCE_BYTES` long (`check_length`, before anything reads it), has a word (`check_nonempty`) and a
    vocabulary word among the first L (`check_known`); eagerly, the first that fails raises its
    `tf.errors.InvalidArgumentError`."""
    sentences = check_length(sentences)  # first: a 50 MB sentence tokenized held 2.8 GB (a security tester's)
    info = vectorizer.describe(sentences)  # one tokenisation for both checks
    sentences = check_nonempty(sentences, info["words"])
    # After check_nonempty (its result feeds this check), so a sentence without any word says "query is empty".
    return check_known(sentences, info["known_words"])
