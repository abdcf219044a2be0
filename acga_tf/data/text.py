"""The one tokenizer of acga-tf (docs/model.md#text-encoder: sentence → lower-case tokens), in stock TF string ops.

The same function runs when the vocabulary is built (eagerly, through `tokenize_py`), in the `tf.data` map
and in the serving graph, so the three can never disagree. Rule: write full-width ASCII as ASCII ("ｒｅｄ" →
"red", as CJK input methods type it) and half-width katakana as full-width ("ﾎﾞｰﾙ" → "ボール", as older Japanese
systems write it), delete apostrophes ("man's" → "mans"), the zero-width joiners and
Arabic's short-vowel marks and tatweel, set each Chinese character (Han: Chinese, Japanese kanji) apart as a
word of its own ("红色的圆" → "红 色 的 圆", as BERT's tokenizer does: these languages put no space between words)
and each run of katakana ("ボール"), turn every other character that is not a letter, mark or digit into a
space, drop the marks that begin a word (an emoji's variation selector would otherwise be a word of its
own), lower-case (UTF-8 aware; Turkish "İ" as "i"), split on whitespace.

A letter with an accent has two Unicode forms, one character (NFC, what most keyboards type) or a letter then an
accent (NFD, macOS file names): stock TensorFlow has no op that turns one into the other, so the sentences read from
files and typed to `acga predict` are made NFC in Python (`compose`), and the vocabulary's lookup table knows each
word in both forms (`acga_tf.data.vocab.SentenceVectorizer`): either form reads as the same word in every path.
"""

from __future__ import annotations

import unicodedata

import tensorflow as tf

# Apostrophes (ASCII and typographic) are deleted so "man's" stays one token.
APOSTROPHES = r"['\x{2019}\x{2018}`]"
# Everything that is not a Unicode letter, mark or digit separates tokens (RE2 syntax).
SEPARATORS = r"[^\p{L}\p{M}\p{N}]+"
# Chinese characters (and Japanese kanji) are words of their own: Chinese and Japanese put no space between words,
# so a sentence was one token, known to no vocabulary but its own sentence's. As BERT's tokenizer does, each Han
# character is set apart; the kana between them stay together.
HAN = r"(\p{Han})"
# A run of katakana (and its long-vowel and sound marks, which Unicode counts as no script's) is a word of its own:
# Japanese writes loanwords in it ("ボール", ball) between particles and verbs in hiragana, and runs of hiragana stay
# whole ("いボールがジャンプする" read as one word before).
# (U+3099, U+309A: the sound marks as NFD writes them, inside a run only: after hiragana they are hiragana's.)
KATAKANA = (r"([\p{Katakana}\x{30FC}\x{309B}\x{309C}\x{FF70}\x{FF9E}\x{FF9F}]"
            r"[\p{Katakana}\x{30FC}\x{3099}-\x{309C}\x{FF70}\x{FF9E}\x{FF9F}]*)")
# Deleted, as apostrophes are: the joiners (Persian writes "می‌رود" with a zero-width non-joiner inside one word),
# Arabic's short-vowel marks and tatweel (the same word is written with or without them: "الدَّائِرَةُ", "الدائرة",
# "الدائـــرة").
# (Not hamza above and below, U+0654 and U+0655: they are letters' parts, "أ" written decomposed.)
TATWEEL = "\u0640"  # Arabic's stretching stroke: a letter (Lm) to Unicode, the one letter deleted (`has_word`)
JOINERS_AND_ARABIC_MARKS = (r"[\x{200C}\x{200D}\x{%04X}\x{064B}-\x{0653}\x{0656}-\x{065F}\x{0670}]"
                            % ord(TATWEEL))
# Turkish "İ" lower-cases to "i" and a combining dot above ("DAİRE" read as "dai̇re", not "daire"): the dot is dropped.
DOTTED_I = "i\u0307"
# Marks at the start of a word (after SEPARATORS made every boundary a space): they modify nothing of the word.
LEADING_MARKS = r"(^| )\p{M}+"


FULL_WIDTH = (0xFF01, 0xFF5E)  # the full-width forms of ASCII's "!" to "~", each 0xFEE0 above it
# Half-width katakana and Japanese punctuation (U+FF61 to U+FF9F) and their full-width forms (Unicode's compatibility
# mapping, NFKC, one character each): "ﾎﾞｰﾙ" is "ホ", the sound mark U+3099 (the decomposed form of "ボ", which the
# vocabulary knows), "ー", "ル".
HALF_WIDTH_KATAKANA = (0xFF61, 0xFF9F)
FULL_FOR_HALF_WIDTH = tuple(ord(unicodedata.normalize("NFKC", chr(c)))
                            for c in range(HALF_WIDTH_KATAKANA[0], HALF_WIDTH_KATAKANA[1] + 1))


def compose(text: str) -> str:
    """`text` in Unicode's composed form (NFC): "é" written as "e" and a combining accent becomes the one character,
    so the two forms are one sentence and one word (module docstring)."""
    return unicodedata.normalize("NFC", text)


def _usual_widths(sentences: tf.Tensor) -> tf.Tensor:
    """Full-width ASCII ("ｒｅｄ", U+FF01 to U+FF5E) written as ASCII, half-width katakana as full-width
    (`FULL_FOR_HALF_WIDTH`); bytes that are not UTF-8 become U+FFFD (a separator)."""
    points = tf.strings.unicode_decode(sentences, "UTF-8", errors="replace")
    low, high = FULL_WIDTH
    half_low, half_high = HALF_WIDTH_KATAKANA
    full_for_half = tf.constant(FULL_FOR_HALF_WIDTH, tf.int32)

    def usual(p):
        half = tf.gather(full_for_half, tf.clip_by_value(p - half_low, 0, half_high - half_low))
        p = tf.where((p >= half_low) & (p <= half_high), half, p)
        return tf.where((p >= low) & (p <= high), p - (low - ord("!")), p)

    return tf.strings.unicode_encode(tf.ragged.map_flat_values(usual, points), "UTF-8")


def tokenize(sentences: tf.Tensor) -> tf.RaggedTensor:
    """Splits sentences into lower-case word tokens.

    Args:
        sentences: tf.string (B,).

    Returns:
        tf.RaggedTensor tf.string (B, None) of tokens; a sentence without letters or digits has no token.
    """
    s = _usual_widths(tf.convert_to_tensor(sentences, tf.string))
    s = tf.strings.regex_replace(s, APOSTROPHES, "")
    s = tf.strings.regex_replace(s, JOINERS_AND_ARABIC_MARKS, "")
    s = tf.strings.regex_replace(s, HAN, r" \1 ")
    s = tf.strings.regex_replace(s, KATAKANA, r" \1 ")
    s = tf.strings.regex_replace(s, SEPARATORS, " ")
    s = tf.strings.regex_replace(s, LEADING_MARKS, r"\1")
    # Lower-cased last: with encoding="utf-8" TensorFlow's lower stops at a NUL character, which SEPARATORS removed.
    s = tf.strings.regex_replace(tf.strings.lower(s, encoding="utf-8"), DOTTED_I, "i")
    return tf.strings.split(s)


# English words that name no actor, colour, shape or motion: articles, pronouns, prepositions, conjunctions and
# auxiliaries. A sentence of which the model knows only these ("the zebra galloping" to a vocabulary without "zebra"
# and "galloping") is read as no description at all: `acga_tf.apps.predict.judge_queries` refuses it as it refuses a
# sentence with no known word (docs/serving.md#predict).
FUNCTION_WORDS = frozenset("""
    a an the this that these those its his her their our my your some any each every another other
    it he she they we you i who whom whose which what there here
    is are was were be been being am has have had do does did will would can could shall should may might must
    of in on at to from by with into onto for as than then and or but nor so if while not no very just too also
""".split())  # not "up", "down", "behind", "near": a motion or a place tells actors apart


def tokenize_py_many(sentences: list[str]) -> list[list[str]]:
    """`tokenize` run eagerly on a list of Python strings.

    Returns:
        One list of tokens per sentence.
    """
    if not sentences:
        return []
    tokens = tokenize(tf.constant(list(sentences), tf.string)).to_list()
    return [[t.decode("utf-8") for t in row] for row in tokens]


def typable_words(words) -> list[str]:
    """Those of `words` a sentence can hold as written: the tokenizer reads each as itself (lower case, no
    punctuation); a hand-built vocabulary's "Red" or "don't" is never read. One tokenizer call for them all."""
    words = list(words)
    return [word for word, tokens in zip(words, tokenize_py_many(words)) if tokens == [word]]


def tokenize_py(sentence: str) -> list[str]:
    """`tokenize` run eagerly on one Python string.

    Returns:
        The tokens.
    """
    return tokenize_py_many([sentence])[0]


def has_word(sentence: str) -> bool:
    """Whether `tokenize` gives `sentence` at least one token: a Unicode letter or digit (a mark alone makes no word;
    Arabic's tatweel, a letter to Unicode, is deleted), checked in Python, so readers can refuse a sentence without
    words at no TensorFlow cost."""
    return any(unicodedata.category(c)[0] in "LN" and c != TATWEEL for c in sentence)
