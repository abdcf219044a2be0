"""Tests of acga_tf/data/text.py and acga_tf/data/vocab.py."""

import re
import shutil
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from acga_tf.data.text import has_word, tokenize, tokenize_py, tokenize_py_many
from acga_tf.data.vocab import (
    PAD,
    SentenceVectorizer,
    Vocabulary,
    check_nonempty,
    check_word_vectors,
    detect_vector_format,
    load_embedding_matrix,
    load_word_vectors,
    random_word_vector,
    save_embedding_matrix,
    save_word_vectors,
)
from acga_tf.training import artifacts

SENTENCES = ["The red square moving LEFT", "  a man's  dog, running!  ", "the blue-circle", "dog dog dog"]


def test_tokenizer_rule_and_consistency():
    assert tokenize_py("  The Man's RED-square,  moving\tleft!! ") == ["the", "mans", "red", "square", "moving", "left"]
    assert tokenize_py("Élan ÜBER café 3d") == ["élan", "über", "café", "3d"]
    assert tokenize_py("... !") == []
    # TensorFlow's UTF-8 lower-casing stops at a NUL: separators go first, so the words after it are kept.
    assert tokenize_py("the\x00YELLOW circle") == ["the", "yellow", "circle"]
    # A mark that begins a word modifies nothing (an emoji's variation selector): dropped; inside a word it stays.
    assert tokenize_py("\U0001f7e1 circle \u2b06\ufe0f \u0301\u0302") == ["circle"]
    assert tokenize_py("\u0301abc x\u0301y") == ["abc", "x\u0301y"]
    assert not has_word("\u2b06\ufe0f \u0301") and has_word("\u0301a")
    ragged = tokenize(tf.constant(SENTENCES)).to_list()
    assert [[t.decode() for t in r] for r in ragged] == tokenize_py_many(SENTENCES)
    assert [tokenize_py(s) for s in SENTENCES] == tokenize_py_many(SENTENCES)

    # the same function traced in a graph (tf.data / serving) agrees
    tricky = "THE\x00GREEN \ufe0fcircle"
    ds = tf.data.Dataset.from_tensor_slices(SENTENCES + [tricky]).batch(5).map(lambda s: tokenize(s).to_tensor(""))
    graph = next(iter(ds)).numpy()
    for row, expected in zip(graph, tokenize_py_many(SENTENCES) + [["the", "green", "circle"]], strict=True):
        assert [t.decode() for t in row if t] == expected


def test_vocabulary_build_save_load(tmp_path):
    v = Vocabulary.build(SENTENCES)
    assert v.words[0] == PAD and v.counts[0] == 0
    assert v.words[1] == "dog" and v.counts[1] == 4
    assert v.index("red") > 0 and v.index("zebra") == 0
    assert v.encode("The dog, zebra") == [v.index("the"), v.index("dog"), 0]
    assert Vocabulary.build(SENTENCES, min_count=2).words == (PAD, "dog", "the")
    p = tmp_path / "vocab.tsv"
    v.save(str(p))
    assert p.read_text().splitlines()[0] == "dog\t4"
    assert Vocabulary.load(str(p)) == v
    with pytest.raises(AttributeError):
        v.words = ()


def test_vocabulary_load_errors(tmp_path):
    p = tmp_path / "bad.tsv"
    p.write_text("dog\t4\ncat 3\n")
    with pytest.raises(ValueError, match=r"bad\.tsv:2: expected 'word<TAB>count'"):
        Vocabulary.load(str(p))
    p.write_text("dog\t4\ndog\t2\n")
    with pytest.raises(ValueError, match=r"bad\.tsv:2: word 'dog' already on line 1"):
        Vocabulary.load(str(p))
    p.write_bytes(b"dog\t4\n\xff\t1\n")
    with pytest.raises(ValueError, match=r"bad\.tsv:2: not valid UTF-8"):
        Vocabulary.load(str(p))


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    words = ["the", "dog", "red", "Square", "mans", "élan"]
    return {w: rng.standard_normal(5).astype(np.float32) for w in words}


def test_three_vector_formats_agree(tmp_path, vectors):
    paths = {"word2vec_binary": tmp_path / "v.bin", "word2vec_text": tmp_path / "v.txt",
             "glove": tmp_path / "glove.6B.5d.txt"}
    for fmt, p in paths.items():
        save_word_vectors(str(p), vectors, fmt)
        assert detect_vector_format(str(p)) == fmt
    loaded = {fmt: load_word_vectors(str(p)) for fmt, p in paths.items()}
    for fmt, d in loaded.items():
        assert set(d) == set(vectors), fmt
        for w in vectors:
            np.testing.assert_allclose(d[w], vectors[w], rtol=1e-6, err_msg=fmt)
    assert (tmp_path / "glove.6B.5d.txt").read_text(encoding="utf-8").split("\n")[0].startswith("the ")

    v = Vocabulary.build(SENTENCES + ["square élan zebra"])
    mats = [v.embedding_matrix(str(p)) for p in paths.values()]
    for m, n_unknown in mats:
        np.testing.assert_allclose(m, mats[0][0], rtol=1e-6)
        unknown = [w for w in v.words[1:] if w not in vectors and w != "square"]
        assert n_unknown == len(unknown)
        assert m.shape == (len(v), 5) and m.dtype == np.float32
        assert not m[0].any()
        for w in unknown:
            assert not m[v.index(w)].any()
        np.testing.assert_allclose(m[v.index("square")], vectors["Square"], rtol=1e-6)  # case fallback
        np.testing.assert_allclose(m[v.index("dog")], vectors["dog"], rtol=1e-6)
    with pytest.raises(ValueError, match="5 dimensions, expected dim=7"):
        v.embedding_matrix(str(paths["glove"]), dim=7)


def test_vector_file_errors(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("2 3\nthe 1 2 3\ndog 1 x 3\n")
    with pytest.raises(ValueError, match=r"bad\.txt:3: non-numeric"):
        load_word_vectors(str(p))
    p.write_text("the 1 2 3\ndog 1 2\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2: 2 values, expected 3"):
        load_word_vectors(str(p))
    b = tmp_path / "bad.bin"
    b.write_bytes(b"2 3\nthe " + np.zeros(3, "<f4").tobytes() + b"\ndog " + b"\x00" * 5)
    with pytest.raises(ValueError, match=r"bad\.bin: entry 2 of 2: truncated"):
        load_word_vectors(str(b))
    with pytest.raises(FileNotFoundError, match=r"nope\.txt: word-vector file not found$"):
        load_word_vectors(str(tmp_path / "nope.txt"))
    with pytest.raises(FileNotFoundError, match=r"word-vector file not found \(a folder\)"):
        load_word_vectors(str(tmp_path))
    # check_word_vectors reads only the start: the dimension, before a malformed line further on
    p.write_text("the 1 2 3\ndog 1 x 3\n")
    assert check_word_vectors(str(p)) == 3 and check_word_vectors(str(p), 3) == 3
    with pytest.raises(ValueError, match=r"bad\.txt: vectors have 3 dimensions, expected dim=300"):
        check_word_vectors(str(p), 300)
    with pytest.raises(ValueError, match=r"bad\.txt: vectors have 3 dimensions, expected dim=300"):
        Vocabulary.build(["the dog"]).embedding_matrix(str(p), dim=300)


def test_word_vector_files_cut_short_damaged_misnamed_or_not_finite_are_named(tmp_path, vectors):
    """A reviewer's: a word2vec binary holding NaN trained the run to NaN (status 0; text files were refused); a .gz
    cut short was a traceback (EOFError), a damaged one a line without the file; a text file cut at a line's end
    gave the words after the cut zero vectors, unsaid; a binary not named .bin was "non-numeric vector value", a
    text file named .bin read as binary; `<(zcat ...)` was "not found"."""
    import gzip
    import os

    nan = tmp_path / "nan.bin"
    nan.write_bytes(b"2 3\nthe " + np.ones(3, "<f4").tobytes() + b"\ndog " + np.array([1, np.nan, 2], "<f4").tobytes())
    with pytest.raises(ValueError, match=r"nan\.bin: entry 2 of 2 \('dog'\): a value that is not a finite number$"):
        load_word_vectors(str(nan))
    text = tmp_path / "v.txt"
    save_word_vectors(str(text), vectors, "word2vec_text")
    data = gzip.compress(text.read_bytes())
    (tmp_path / "cut.txt.gz").write_bytes(data[:-30])
    with pytest.raises(ValueError, match=r"cut\.txt\.gz: cut short \(its compressed data stop before their end "
                                         r"marker\): download or copy it again$"):
        load_word_vectors(str(tmp_path / "cut.txt.gz"))
    damaged = bytearray(data)
    damaged[-6] ^= 1  # (in the CRC)
    (tmp_path / "crc.txt.gz").write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match=r"crc\.txt\.gz: damaged compressed data \(CRC check failed .*\): download "):
        load_word_vectors(str(tmp_path / "crc.txt.gz"))
    lines = text.read_bytes().splitlines(keepends=True)
    (tmp_path / "cut.txt").write_bytes(b"".join(lines[:-1]))
    with pytest.raises(ValueError, match=rf"cut\.txt: {len(lines) - 2} vectors where its header says "
                                         rf"{len(lines) - 1}: the file is cut short; download or copy it again$"):
        load_word_vectors(str(tmp_path / "cut.txt"))
    # the format and the compression are read from the contents, not the name
    binary = tmp_path / "v.bin"
    save_word_vectors(str(binary), vectors, "word2vec_binary")
    misnamed = {"binary.txt": binary.read_bytes(), "text.bin": text.read_bytes(), "text.gz": text.read_bytes(),
                "gzip.txt": data, "binary.vectors": gzip.compress(binary.read_bytes())}
    for name, contents in misnamed.items():
        (tmp_path / name).write_bytes(contents)
        loaded = load_word_vectors(str(tmp_path / name))
        assert set(loaded) == set(vectors) and all(np.allclose(loaded[w], vectors[w]) for w in vectors), name
    assert [detect_vector_format(str(tmp_path / name)) for name in misnamed] == [
        "word2vec_binary", "word2vec_text", "word2vec_text", "word2vec_text", "word2vec_binary"]
    # a diff reviewer's: a text file whose first word is Latin-1 was read as binary (garbage vectors, one warning),
    # and tiny binaries whose value bytes happened to be UTF-8 as text
    (tmp_path / "latin1.txt").write_bytes(b"2 3\nm\xfcde 1 2 3\nthe 4 5 6\n")
    assert detect_vector_format(str(tmp_path / "latin1.txt")) == "word2vec_text"
    assert load_word_vectors(str(tmp_path / "latin1.txt"), words=["the"])["the"].tolist() == [4, 5, 6]
    rng, tiny = np.random.default_rng(0), str(tmp_path / "tiny.vectors")
    for dim in (1, 2, 3):
        for _ in range(100):
            save_word_vectors(tiny, {"the": rng.standard_normal(dim).astype("f4")}, "word2vec_binary")
            assert detect_vector_format(tiny) == "word2vec_binary", open(tiny, "rb").read()
    (tmp_path / "huge.bin").write_bytes(b"1 99999999999\nthe " + bytes(12))  # (400 GB a word: "out of memory")
    with pytest.raises(ValueError, match=r"huge\.bin:1: its word2vec header gives vectors of 99999999999 values: not "
                                         r"a word-vector file \(1 to 100,000\)$"):
        load_word_vectors(str(tmp_path / "huge.bin"))
    (tmp_path / "bom.bin").write_bytes(b"\xef\xbb\xbf" + binary.read_bytes())  # (Notepad's mark on a binary's header)
    assert set(load_word_vectors(str(tmp_path / "bom.bin"))) == set(vectors)
    read, write = os.pipe()
    try:
        with pytest.raises(ValueError, match=rf"^/dev/fd/{read}: a pipe: the word-vector file is read twice"):
            check_word_vectors(f"/dev/fd/{read}")
    finally:
        os.close(read)
        os.close(write)


def test_only_the_vocabularys_words_are_read_as_numbers(tmp_path):
    """A reviewer's: every value of every line was read as a number, the vocabulary's few words or not (7.7 s for
    100,000 words of 300 values; GloVe 840B's 2.2 million took minutes at every run): the other words' lines are
    passed over unread, a malformed one too."""
    path = tmp_path / "glove.txt"
    path.write_text("the 1 2 3\nzebra 1 x 3\nDog 4 5 6\nyak nan 1 2\n")
    loaded = load_word_vectors(str(path), words=["the", "dog"])
    assert sorted(loaded) == ["dog", "the"] and loaded["dog"].tolist() == [4, 5, 6]
    with pytest.raises(ValueError, match=r"glove\.txt:2: non-numeric vector value"):
        load_word_vectors(str(path))  # every word: every line read
    with pytest.raises(ValueError, match=r"glove\.txt:4: a value that is not a finite number"):
        load_word_vectors(str(path), words=["yak"])


def test_word_vector_files_as_notepad_glove_840b_and_macos_write_them(tmp_path):
    """A vocabulary reviewer's: a BOM (Notepad's "UTF-8 with BOM") lost a GloVe file's first word and made a word2vec
    text file's header a one-dimensional vector; GloVe 840B's words with spaces (". . .") refused the whole file; a
    word with decomposed accents (macOS) matched nothing; NaN values were taken; a vocabulary's BOM made its first
    word unmatchable, and a count "²" was a bare ValueError."""
    bom = b"\xef\xbb\xbf"
    p = tmp_path / "glove.txt"
    p.write_bytes(bom + b"the 1 2 3\n. . . 4 5 6\nat name@domain.com 7 8 9\ncafe\xcc\x81 1 1 1\ndog 0 0 1\n")
    loaded = load_word_vectors(str(p))
    assert set(loaded) == {"the", ". . .", "at name@domain.com", "café", "dog"}
    np.testing.assert_array_equal(loaded["the"], [1, 2, 3])
    np.testing.assert_array_equal(loaded[". . ."], [4, 5, 6])
    assert unicodedata.is_normalized("NFC", next(w for w in loaded if w.startswith("caf")))
    w2v = tmp_path / "w2v.txt"
    w2v.write_bytes(bom + b"2 3\nthe 1 2 3\ndog 0 0 1\n")
    assert detect_vector_format(str(w2v)) == "word2vec_text" and check_word_vectors(str(w2v), 3) == 3
    vocab = Vocabulary.build(["the café dog"])
    matrix, unknown = vocab.embedding_matrix(str(p), dim=3)
    assert unknown == 0 and matrix[vocab.index("café")].tolist() == [1, 1, 1]
    # words without a vector are named once (they were counted twice, by the vectorizer's loader too)
    import logging  # noqa: PLC0415

    from acga_tf.data.config import DataConfig  # noqa: PLC0415
    from acga_tf.data.datasets import load_vectorizer  # noqa: PLC0415

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("acga_tf").addHandler(handler)
    try:
        load_vectorizer(str(tmp_path), DataConfig(word_dim=3, sentence_length=4), str(w2v), vocabulary=vocab)
    finally:
        logging.getLogger("acga_tf").removeHandler(handler)
    assert [r.getMessage() for r in records if "no vector" in r.getMessage()] == [
        f"1 of 3 vocabulary words have no vector in {w2v} (zero vectors), e.g. ['café']"]
    # a diff reviewer's: a decomposed duplicate took the word's own vector; "to infinity" was read as a value
    p.write_bytes(b"the 1 2 3\ncafe\xcc\x81 9 9 9\ncaf\xc3\xa9 1 1 1\nto infinity 5 5 5\n")
    loaded = load_word_vectors(str(p))
    assert loaded["café"].tolist() == [1, 1, 1] and loaded["to infinity"].tolist() == [5, 5, 5]
    p.write_bytes(b"the 1 2 3\nCafe\xcc\x81 7 7 7\n")  # a decomposed "Caf\u00e9" is folded for "caf\u00e9" too
    assert load_word_vectors(str(p), words=["café"])["café"].tolist() == [7, 7, 7]
    p.write_bytes(b"the 1 2 3\ndog 1 2 3 4\n")  # a value too many is a malformed line, not a word with a space
    with pytest.raises(ValueError, match=r"glove\.txt:2: 4 values, expected 3"):
        load_word_vectors(str(p))
    p.write_bytes(b"the 1 2 3\ndog nan inf 3\n")
    with pytest.raises(ValueError, match=r"glove\.txt:2: a value that is not a finite number in b'dog nan inf 3'"):
        load_word_vectors(str(p))
    v = tmp_path / "vocab.txt"
    v.write_bytes(bom + b"man\t5\nred\t2\n")
    assert Vocabulary.load(str(v)).index("man") == 1
    v.write_bytes("man\t5\nred\t\u00b2\n".encode())
    with pytest.raises(ValueError, match=r"vocab\.txt:2: expected 'word<TAB>count', got 'red\\t²'"):
        Vocabulary.load(str(v))


def test_random_vectors_are_deterministic_per_word(tmp_path):
    a = Vocabulary.build(["red dog"])
    b = Vocabulary.build(["the dog dog ran"])
    ma, n = a.embedding_matrix(dim=8, seed=1)
    mb, _ = b.embedding_matrix(dim=8, seed=1)
    assert n == 0
    np.testing.assert_array_equal(ma[a.index("dog")], mb[b.index("dog")])
    np.testing.assert_array_equal(ma[a.index("dog")], random_word_vector("dog", 8, 1))
    assert not np.allclose(ma[a.index("dog")], a.embedding_matrix(dim=8, seed=2)[0][a.index("dog")])
    assert not ma[0].any()
    p = tmp_path / "emb.npy"
    save_embedding_matrix(str(p), ma)
    np.testing.assert_array_equal(load_embedding_matrix(str(p), a), ma)
    with pytest.raises(ValueError, match=r"rows \(one per word and the padding row\), but the vocabulary holds \d+ "
                                         "words: they were not saved"):
        load_embedding_matrix(str(p), b)
    with pytest.raises(ValueError, match="dim must be"):
        a.embedding_matrix()


def test_word_vectors_with_an_emptied_vocabulary_name_it(run_dir, tmp_path):
    """A tester's run with an empty vocab.txt said "embeddings.npy: 17 rows, the vocabulary has 1 words": the file
    likely damaged is named (`load_embedding_matrix`'s `vocabulary_path`, as `artifacts.load_trained` passes it)."""
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    rows = np.load(run / "embeddings.npy").shape[0]
    (run / "vocab.txt").write_text("")
    with pytest.raises(ValueError) as raised:
        artifacts.load_trained(str(run))
    assert str(raised.value) == (f"{run / 'embeddings.npy'}: {rows} rows (one per word and the padding row), but "
                                 f"{run / 'vocab.txt'} holds no word (empty or damaged); put back the vocab.txt saved "
                                 "with it")
    (run / "vocab.txt").write_text("dog\t3\n")
    with pytest.raises(ValueError, match=f": {rows} rows .*, but {re.escape(str(run / 'vocab.txt'))} holds 1 word: "):
        artifacts.load_trained(str(run))


def test_sentence_vectorizer_matches_numpy():
    v = Vocabulary.build(SENTENCES)
    m, _ = v.embedding_matrix(dim=6, seed=0)
    vec = SentenceVectorizer.from_vocabulary(v, m, sentence_length=4)
    queries = ["the red zebra", "a man's dog running the blue circle", "DOG", "zebra"]
    out = vec(tf.constant(queries)).numpy()
    assert out.shape == (4, 4, 6) and out.dtype == np.float32
    expected = np.zeros_like(out)
    for b, q in enumerate(queries):
        for i, t in enumerate(tokenize_py(q)[:4]):
            expected[b, i] = m[v.index(t)]
    np.testing.assert_allclose(out, expected)
    np.testing.assert_array_equal(vec.lengths(tf.constant(queries)).numpy(), [3, 4, 1, 1])
    assert not out[0, 2].any()  # unknown word -> zeros

    # the same module inside a tf.data map and a tf.function
    ds = tf.data.Dataset.from_tensor_slices(queries).batch(2).map(vec)
    np.testing.assert_allclose(np.concatenate([x.numpy() for x in ds]), expected)
    fn = tf.function(vec.__call__, input_signature=[tf.TensorSpec([None], tf.string)])
    np.testing.assert_allclose(fn(tf.constant(queries)).numpy(), expected)


def test_check_nonempty():
    s = tf.constant(["the dog", "red"])
    assert check_nonempty(s).numpy().tolist() == [b"the dog", b"red"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="query is empty"):
        check_nonempty(tf.constant(["the dog", " ?! "]))
    fn = tf.function(check_nonempty, input_signature=[tf.TensorSpec([None], tf.string)])
    with pytest.raises(tf.errors.InvalidArgumentError,  # which sentence (before: every sentence's word count)
                       match=r"\[query is empty: .*; positions \(from 0\):\] \[1\] \[sentences:\] \[< \?! >\]"):
        fn(tf.constant(["the dog", " ?! "]))
    # an empty one showed as "[]", as if no sentence were sent (a notebook reviewer's); several ran together
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0 1 2\] \[sentences:\] \[<> <   > <\?!>\]"):
        fn(tf.constant(["", "   ", "?!"]))


def test_chinese_characters_and_katakana_runs_are_words_of_their_own():
    """A sentence in Chinese (no spaces between words) was one token, which no other sentence shares: a custom
    dataset's vocabulary held its sentences, and a query rephrased had no known word. Each Han character is a word
    now, in the vocabulary and in the graph alike; kana between kanji stay together, Korean splits at its spaces."""
    assert tokenize_py("红色的圆圈在滚动") == ["红", "色", "的", "圆", "圈", "在", "滚", "动"]
    assert tokenize_py("赤い円が転がる") == ["赤", "い", "円", "が", "転", "がる"]
    # a run of katakana is a word (a multilingual tester's "赤いボールがジャンプする" gave "いボールがジャンプする")
    assert tokenize_py("赤いボールがジャンプする") == ["赤", "い", "ボール", "が", "ジャンプ", "する"]
    # Arabic's short vowels and tatweel, and the joiners, are not letters of the word; Turkish "İ" lower-cases to "i"
    assert tokenize_py("الدَّائِرَةُ الدائـــرة") == ["الدائرة", "الدائرة"]
    assert tokenize_py("می\u200cرود KIRMIZI DAİRE") == ["میرود", "kirmizi", "daire"]
    assert not has_word("\u0640\u0640\u0640") and tokenize_py("\u0640\u0640") == []  # tatweel alone: no word
    # either Unicode form is the same word in the graph (a QA tester's decomposed katakana and hamza were not)
    sentences = ["赤いボールがジャンプする", "أحمر كرة", "ぶどうとバナナ"]
    words = Vocabulary.build(sentences)
    matrix, _ = words.embedding_matrix(dim=4, seed=0)
    ids = SentenceVectorizer.from_vocabulary(words, matrix, sentence_length=8).ids
    decomposed = [unicodedata.normalize("NFD", s) for s in sentences]
    assert decomposed != sentences
    np.testing.assert_array_equal(ids(tf.constant(decomposed)).numpy(), ids(tf.constant(sentences)).numpy())
    # half-width katakana (older Japanese systems' "ﾎﾞｰﾙ") are the full-width words, in the vocabulary and the graph
    # (they were words of their own: unknown to a vocabulary built from full-width text)
    half_width = ["赤いﾎﾞｰﾙがｼﾞｬﾝﾌﾟする｡", "ぶどうとﾊﾞﾅﾅ"]
    np.testing.assert_array_equal(ids(tf.constant(half_width)).numpy(), ids(tf.constant(sentences[::2])).numpy())
    assert Vocabulary.build(half_width).words == Vocabulary.build(sentences[::2]).words
    assert tokenize_py("the red 圆circle, 빨간 원이") == ["the", "red", "圆", "circle", "빨간", "원이"]
    vocabulary = Vocabulary.build(["红色的圆圈在滚动", "蓝色的方块"])
    matrix, _ = vocabulary.embedding_matrix(dim=4, seed=0)
    vectorizer = SentenceVectorizer.from_vocabulary(vocabulary, matrix, sentence_length=4)
    described = vectorizer.describe(tf.constant(["红色的方块"]))  # words of both training sentences
    assert described["known_words"].numpy().tolist() == [4]


NFC, NFD = "le carr\u00e9 bleu", "le carre\u0301 bleu"  # "é" as one character, and as "e" then the accent


def test_full_width_letters_and_both_forms_of_an_accent_read_as_the_same_words():
    """An i18n tester's: a full-width sentence (a CJK input method's) had no known word, and "carré" typed with a
    combining accent (macOS) was a word of its own: an unknown word in predict, a second vocabulary entry in prepare."""
    typed = "Ｔｈｅ\u3000ｒｅｄ＿ｏｂｊｅｃｔ＇ｓ！ ３ｄ"
    assert tokenize_py(typed) == ["the", "red", "objects", "3d"]
    assert tokenize_py(b"caf\xe9 red".decode("latin-1")) == ["café", "red"]
    graph = tokenize(tf.constant([b"caf\xe9 red"])).to_list()  # bytes that are not UTF-8: a separator
    assert graph == [[b"caf", b"red"]]

    vocabulary = Vocabulary.build([NFC, NFD, "the blue square"])
    assert "carr\u00e9" in vocabulary.words and "carre\u0301" not in vocabulary.words
    assert vocabulary.counts[vocabulary.index("carr\u00e9")] == 2
    assert vocabulary.index("carre\u0301") == vocabulary.index("carr\u00e9") > 0
    assert vocabulary.encode(NFD) == vocabulary.encode(NFC)
    old = Vocabulary(["carre\u0301", "bleu"])  # a vocabulary built before, from decomposed text
    assert old.index("carr\u00e9") == old.index("carre\u0301") == 1

    for words in (vocabulary, old):
        matrix, _ = words.embedding_matrix(dim=4, seed=0)
        vectorizer = SentenceVectorizer.from_vocabulary(words, matrix, sentence_length=4)
        ids = vectorizer.ids(tf.constant([NFC, NFD, "\uff42\uff4c\uff45\uff55"])).numpy()  # "ｂｌｅｕ"
        assert (ids[0] == ids[1]).all() and ids[0][1] > 0 and ids[2][0] == words.index("bleu") > 0
        unknown = vectorizer.describe(tf.constant([NFD]))["unknown_words"].numpy().tolist()
        assert unknown == ([b""] if words is vocabulary else [b"le"])  # "carré", decomposed, is known to both


def test_a_fasttext_model_is_named_as_such(tmp_path):
    """A word-vector reviewer's: fastText's `.bin` model given as word vectors was "a word without a vector"."""
    import gzip
    import re
    import struct

    model = struct.pack("<ii", 793712314, 12) + bytes(range(256)) * 4  # fastText's magic number, then its version
    (tmp_path / "cc.en.300.bin").write_bytes(model)
    (tmp_path / "cc.en.300.bin.gz").write_bytes(gzip.compress(model))
    for name in ("cc.en.300.bin", "cc.en.300.bin.gz"):
        message = (rf"^{re.escape(str(tmp_path / name))}: a fastText model \(its binary \.bin file\), not a "
                   r"word-vector file: give its \.vec file, the same vectors as text \(fastText publishes both\)$")
        with pytest.raises(ValueError, match=message):
            load_word_vectors(str(tmp_path / name), words=["the"])
        with pytest.raises(ValueError, match=message):
            check_word_vectors(str(tmp_path / name))
        with pytest.raises(ValueError, match=message):
            detect_vector_format(str(tmp_path / name))


def test_a_glove_files_first_line_outside_the_vocabulary_is_not_read_as_numbers(tmp_path):
    """A word-vector reviewer's: a GloVe file's first line was read as numbers, to learn the vectors' size, whatever
    its word: a malformed first line of a word outside the vocabulary refused the whole file."""
    path = tmp_path / "glove.txt"
    for first in (b"zebra 1 x 3\n", b"yak nan 1 2\n", b"odd\n", b". . . 4 5 6\n"):
        path.write_bytes(first + b"the 1 2 3\nzebra 1 x\nDog 4 5 6\n")
        loaded = load_word_vectors(str(path), words=["the", "dog"])
        assert {w: v.tolist() for w, v in loaded.items()} == {"the": [1, 2, 3], "dog": [4, 5, 6]}, first
        # as the check before a run, and the embedding matrix, read it (a diff reviewer's: they still refused it)
        assert check_word_vectors(str(path), 3) == 3, first
        matrix, _ = Vocabulary(["the", "dog"]).embedding_matrix(str(path), dim=3)
        assert matrix[1:].tolist() == [[1, 2, 3], [4, 5, 6]], first
    # the size is learnt from a line passed over, where it is a word and numbers: a word with spaces after it is one
    path.write_bytes(b"zebra 1 2 3\nat name@domain.com 7 8 9\nthe 1 2 3\n")
    assert load_word_vectors(str(path), words=["at", "the"])["the"].tolist() == [1, 2, 3]
    # a vocabulary word's line is still read and checked, the first line too
    path.write_bytes(b"the 1 x 3\ndog 4 5 6\n")
    with pytest.raises(ValueError, match=r"glove\.txt:1: non-numeric vector value"):
        load_word_vectors(str(path), words=["the", "dog"])
    # a vocabulary ("word<TAB>count") is no word-vector file to the check before a run either (a mends reviewer's: it
    # was read as vectors of 1, "vectors have 1 dimensions, expected dim=300")
    path.write_bytes(b"the\t12345\nman\t5\n")
    with pytest.raises(ValueError, match=r"glove\.txt:1: no line is a word and its vector \(b'the\\t12345\\n' the "
                                         r"first\): not a word-vector file"):
        check_word_vectors(str(path), 300)
    # a file of no line of a word and numbers (a vocabulary, say) is still refused, by every reader alike
    path.write_bytes(b"man\t5\nred\t2\n")
    for read in (lambda: load_word_vectors(str(path), words=["the"]), lambda: load_word_vectors(str(path)),
                 lambda: check_word_vectors(str(path))):
        with pytest.raises(ValueError, match=r"glove\.txt:1: no line is a word and its vector \(b'man\\t5\\n' the "
                                             r"first\): not a word-vector file"):
            read()


def test_the_check_and_the_load_learn_a_glove_files_size_alike(tmp_path):
    """A fixer's brief: a GloVe file whose first 1,000 lines were malformed was refused by the check before a run and
    loaded (each line passed over, the size learnt further on); a first line of a word with spaces ("new york 0.1
    ...") whose first word the vocabulary has was read as that word's vector (refused: "non-numeric vector value").
    Both learn the size before any line is read now, from the first line of a word and numbers among the first
    1,000 (docs/data.md#pipeline)."""
    path = tmp_path / "glove.txt"
    path.write_bytes(b"new york 0.1 0.2 0.3\nthe 1 2 3\nnew 4 5 6\n")
    assert check_word_vectors(str(path), 3) == 3
    loaded = load_word_vectors(str(path), words=["new", "the"])
    assert {w: v.tolist() for w, v in loaded.items()} == {"new": [4, 5, 6], "the": [1, 2, 3]}
    assert load_word_vectors(str(path), words=["new york"])["new york"].tolist() == np.float32([.1, .2, .3]).tolist()
    assert sorted(load_word_vectors(str(path))) == ["new", "new york", "the"]
    # a thousand malformed lines first: no word-vector file, to the check and the load alike, its first line named
    malformed = b"".join(b"w%d x y\n" % i for i in range(1000))
    path.write_bytes(b"\n" + malformed + b"the 1 2 3\n")
    message = (rf"^{re.escape(str(path))}:2: no line among its first 1,000 is a word and its vector \(b'w0 x y\\n' the "
               r"first\): not a word-vector file, whose lines are 'WORD V1 V2 \.\.\.' \(word2vec text, GloVe\) after "
               r"an optional '<count> <dim>' line$")
    for read in (lambda: check_word_vectors(str(path), 3), lambda: load_word_vectors(str(path), words=["the"]),
                 lambda: load_word_vectors(str(path)), lambda: Vocabulary(["the"]).embedding_matrix(str(path), dim=3)):
        with pytest.raises(ValueError, match=message):
            read()
    # the size on the thousandth line is found by both (blank lines not counted)
    path.write_bytes(b"\n\n" + malformed[malformed.index(b"\n") + 1:] + b"the 1 2 3\n")
    assert check_word_vectors(str(path), 3) == 3
    assert load_word_vectors(str(path), words=["the"])["the"].tolist() == [1, 2, 3]
