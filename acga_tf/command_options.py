"""The `acga` command's options, each command's: the parser of `ops/command_line.py` (`top_parser`) with them
added, free of TensorFlow, so that `acga <command> --help` answers from `acga_tf/__main__.py` at once, where loading
the command line (`acga_tf/cli.py`, which attaches each command's run to this parser) takes 6 s and more. The values
the options state (defaults, choices, bounds) come from the layers' TensorFlow-free `defaults` modules
(docs/architecture.md).
"""

import argparse

from acga_tf.apps.defaults import (
    DEMO_PRESET,
    DEMO_TEST_FRACTION,
    DEMO_VIDEOS,
    FIGURE_DPI,
    MAX_FRAMES,
    MAX_PIXELS,
    MAX_SENTENCES,
    MAX_UPLOAD_MB,
    SERVER_TIMEOUT_S,
    VECTOR_IMAGE_DPI,
)
from acga_tf.ops import command_line
from acga_tf.ops.config import count_argument, time_argument
from acga_tf.ops.defaults import DEFAULT_SHARD_SIZE, DEFAULT_WINDOW, METADATA_NAME, RUNNERS
from acga_tf.training.defaults import DEFAULT_BACKUP_EVERY, EXPERIMENTS, POLICIES


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """`acga`'s parser with every command's options, and its subcommands' action (`.choices`: their parsers by name,
    to which the command line attaches each command's run)."""
    parser, sub = command_line.top_parser()
    for add in _SUBCOMMANDS:
        add(sub)
    command_line.add_everywhere(parser)
    return parser, sub


def _add_demo(sub) -> None:
    p = sub.choices["demo"]
    p.add_argument("--output", default="demo_output", help="output folder (default: demo_output)")

    p.add_argument("--videos", type=count_argument, default=DEMO_VIDEOS,
                   help=f"synthetic videos (default: {DEMO_VIDEOS}, {round(100 * DEMO_TEST_FRACTION)}%% held out)")
    p.add_argument("--epochs", type=count_argument, help="training epochs (default: "
                   f"{EXPERIMENTS[DEMO_PRESET]['training']['epochs']}, the {DEMO_PRESET!r} experiment's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic world (default: 0)")
    p.add_argument("--mixed-precision", default="auto", choices=("auto", *POLICIES), metavar="POLICY",
                   help="precision to train under (default: auto, what `acga train --mixed-precision` picks: on a "
                        "CPU fast in bfloat16, mixed_bfloat16_head, else float32); or one of " + ", ".join(POLICIES))
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars: training's replaced by one line per epoch, the converter's and "
                        "evaluation's left out")
    p.add_argument("--overwrite", action="store_true",
                   help="run again into a folder that holds a finished demo (refused without it)")


def _add_params(sub) -> None:
    p = sub.choices["params"]
    source = p.add_mutually_exclusive_group()  # (a --preset beside --config was passed over: a reviewer's)
    source.add_argument("--preset", help=f"{' | '.join(EXPERIMENTS)} (default: paper)")
    source.add_argument("--config", help="a config JSON file instead of a preset: {\"preset\": NAME, <fields>}, or a "
                                         "run's config.json or experiment.json")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model config field (VALUE parsed as JSON, e.g. 'fusion_resolutions=[1, 3]'); "
                        "repeatable")


def _add_prepare(sub) -> None:
    """`acga prepare`'s datasets (`a2d`, `jhmdb`, `custom`), each a subcommand with its options."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--output", required=True, help="output directory of shards, manifest.json, vocab.txt")
    common.add_argument("--split", default="all", choices=("train", "test", "all"),
                        help="which split's shards to write: train, test or all (default: all; J-HMDB Sentences has "
                             "a test split only)")
    common.add_argument("--workers", type=count_argument, default=1, help="parallel processes (default: 1)")
    common.add_argument("--shard-size", type=count_argument, default=DEFAULT_SHARD_SIZE,
                        help=f"annotated frames per shard (default: {DEFAULT_SHARD_SIZE})")
    common.add_argument("--skip-bad", action="store_true", help="leave bad items out, listed in skipped.csv")
    common.add_argument("--runner", default="local", choices=RUNNERS, help="local pool or Apache Beam (default: local)")
    common.add_argument("--window", type=count_argument, default=DEFAULT_WINDOW,
                        help=f"frames stored around each annotated frame (default: {DEFAULT_WINDOW})")
    common.add_argument("--vocabulary", help="copy this vocab.txt instead of building one from training sentences")
    common.add_argument("--no-progress", action="store_true", help="no progress bar")
    common.add_argument("--overwrite", action="store_true",
                        help="write into a folder of other files or another dataset's shards (removes the latter)")
    common.add_argument("--beam-option", action="append", default=[], metavar="OPT",
                        help="a Beam PipelineOptions flag for --runner beam, e.g. --beam-option=--runner=FlinkRunner "
                             "(repeatable; default: DirectRunner)")
    datasets = sub.choices["prepare"].add_subparsers(dest="dataset", required=True)

    def dataset(name: str, help: str, root: str) -> argparse.ArgumentParser:
        first = argparse.ArgumentParser(add_help=False)  # --root first in the usage, described for this dataset
        first.add_argument("--root", required=True, help=root)
        return datasets.add_parser(name, parents=[first, common], help=help)

    dataset("a2d", "convert A2D Sentences (docs/data.md#datasets) to TFRecord shards",
            "the dataset's folder: a2d_sentences/ (docs/data.md#datasets)")
    jhmdb = dataset("jhmdb", "convert J-HMDB Sentences (a test split only) to TFRecord shards",
                    "the dataset's folder: jhmdb_sentences/ (docs/data.md#datasets)")
    custom = dataset("custom", "convert your own videos, sentences and mask images, listed in a CSV table "
                     "(docs/data.md#your-own-data), to TFRecord shards",
                     "the folder of annotations.csv, or the table itself")
    custom.add_argument("--keep-absent", action="store_true",
                        help="a row whose mask lacks its actor (empty, or no pixel of its instance value) is the "
                             "actor absent from the frame: kept as an empty mask, as A2D's are (default: refused)")
    jhmdb.add_argument("--frames", choices=("uniform", "metadata"),
                       help="3 uniform frames per video, or MTTR's metadata JSON (default: uniform; metadata where "
                            "--metadata is given)")
    jhmdb.add_argument("--metadata", help=f"MTTR's metadata JSON (default: ROOT/{METADATA_NAME})")


def _add_convert_weights(sub) -> None:
    p = sub.choices["convert-weights"]
    p.add_argument("--checkpoint", required=True, help="the reference ACGA .pth / .pth.tar file")
    p.add_argument("--output", required=True, help="NAME.weights.h5 (NAME.config.json is written beside it)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--preset", help="model preset matching the checkpoint (default: paper)")
    source.add_argument("--config", help="a config JSON file instead of a preset: {\"preset\": NAME, <fields>}, or a "
                                         "run's config.json or experiment.json")


# `acga predict`'s options for many videos alone
PREDICT_LIST_OPTIONS = ("--list", "--output-dir", "--overlays", "--json")
PREDICT_SHARED_OPTIONS = ("--model", "--batch-size", "--timeout", "--no-audio", "--smooth-edges", "--soft-masks",
                          "--no-progress", "--help")  # and both's


def _add_predict(sub) -> None:
    p = sub.choices["predict"]
    p.add_argument("--model", required=True, help="a trained run directory, a .keras file (vocab.txt and "
                   "embeddings.npy beside it), an exported SavedModel (saved_models/NAME or saved_models/NAME/N) "
                   "or a TF Serving URL: http://HOST:8501/v1/models/NAME (REST) or grpc://HOST:8500/NAME")
    p.add_argument("--video", help="a video file (any format FFmpeg reads), or a folder of PNG or JPEG frames "
                                      "(read in name order, at 24 fps)")
    p.add_argument("--query", action="append",
                   help="a sentence describing an actor; repeat for several (one mask and colour each)")
    p.add_argument("--list", help="many videos: a CSV file with the columns video,query (one row per video and "
                                  "sentence; '-': standard input), in place of --video and --query; needs "
                                  "--output-dir")
    p.add_argument("--output-dir", help="with --list: the folder to write, one folder per video (masks/<k>/*.png, "
                                        "summary.json) and results.csv; a video done earlier is passed over")
    p.add_argument("--overlays", choices=("mp4", "gif"), help="with --list: an overlay per video, of this format "
                                                                   "(default: none)")
    p.add_argument("--json", action="store_true", help="with --list: each video's masks also as masks.json (COCO "
                                                       "run-length encoding, as --output-json writes)")
    p.add_argument("--output", help="overlay video to write: FILE.mp4 (with the video's sound) or FILE.gif; or "
                                    "FILE.png for a photo or one frame (--start/--end around it)")
    p.add_argument("--no-audio", action="store_true", help="an MP4 overlay without the video's sound")
    p.add_argument("--frames-dir", help="folder for one mask PNG per frame (00001.png, ..., or a frames folder's "
                                        "frames' names; with several queries DIR/1/00001.png, DIR/2/..., and "
                                        "DIR/queries.txt)")
    p.add_argument("--output-json", help="JSON file of every frame's masks, each as COCO run-length encoding with "
                                         "its box and area, and the frame's time (FILE.jsonl: JSON Lines, a frame a "
                                         "line); '-': to standard output, the summary then on stderr")
    p.add_argument("--smooth-edges", action="store_true",
                   help="masks thresholded at the frame's size on the bilinear probabilities: edges follow the model "
                        "between its output cells, not their steps (not the evaluation protocol's masks)")
    p.add_argument("--soft-masks", action="store_true",
                   help="the mask PNGs hold the probabilities, 0 to 255 (a soft matte), in place of 0 and 255 (with "
                        "--frames-dir or --list; the overlay and JSON keep the masks)")
    p.add_argument("--start", type=time_argument, help="segment from this time, in seconds or [HH:]MM:SS[.fff] "
                                                       "(default: the first frame); mask PNGs keep the video's frame "
                                                       "numbers")
    p.add_argument("--end", type=time_argument, help="segment until before this time, in seconds or "
                                                     "[HH:]MM:SS[.fff] (default: the last frame)")
    p.add_argument("--batch-size", type=count_argument, default=4,
                   help="clips per forward pass (default: 4, the fastest on a 2-core CPU, where the forward "
                        "passes took 2.3x as long at 1); memory grows with it; a SavedModel takes them in one call "
                        "for one sentence, one clip a call otherwise; a server one clip a request")
    p.add_argument("--timeout", type=float, help=f"seconds a TF Serving URL has for each whole answer (default: "
                                                 f"{SERVER_TIMEOUT_S:g})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # Every other option is one video's, refused with --list where given (a new option is so until `predict_list`
    # takes it, so that none is ignored under --list without a word)
    single = tuple((a.dest, a.option_strings[-1], a.default) for a in p._actions
                   if a.option_strings and not set(a.option_strings) & {*PREDICT_LIST_OPTIONS, *PREDICT_SHARED_OPTIONS})
    p.set_defaults(single_video_options=single)


def _add_visualize(sub) -> None:
    p = sub.choices["visualize"]
    p.add_argument("--model", required=True, help="a trained run directory, its model.keras, or a checkpoint "
                                                  "(RUN/checkpoints/epoch-NN.keras)")
    p.add_argument("--output", required=True, help="figure file (FIG.png, .pdf, .svg)")
    p.add_argument("--video", help="attention figure: a video file")
    p.add_argument("--query", help="attention figure: the sentence")
    p.add_argument("--point", help="attention figure (required for it): query pixel X,Y of the frame as "
                                    "players show it (an anamorphic video's in square pixels)")
    p.add_argument("--frame", type=int, help="attention figure: centre frame, counted from 0 (the mask PNG "
                                                  "00001.png is frame 0; default: the middle one)")
    p.add_argument("--data", help="qualitative grid: glob of prepared TFRecord shards")
    p.add_argument("--samples", type=count_argument, help="qualitative grid: rows, the shards' first samples "
                                                          "(default: 4)")
    p.add_argument("--sample", action="append", metavar="ID", help="qualitative grid: a row for this sample id "
                                                                    "(VIDEO/FRAME/INSTANCE, as evaluate --output-csv "
                                                                    "lists them); repeat it for more rows, in order")
    p.add_argument("--dpi", type=count_argument,
                   help=f"pixels per inch of a PNG or JPEG figure (default: {FIGURE_DPI}; 300 for print), and of "
                        f"the images inside a PDF, SVG or EPS one (default: {VECTOR_IMAGE_DPI})")


def _add_export(sub) -> None:
    p = sub.choices["export"]
    p.add_argument("--model", required=True, help="a trained run directory, its model.keras, or a checkpoint "
                                                  "(RUN/checkpoints/epoch-NN.keras)")
    p.add_argument("--output", required=True, help="version folder to create, e.g. saved_models/acga/1")
    p.add_argument("--no-warmup", action="store_true", help="no assets.extra/tf_serving_warmup_requests")
    p.add_argument("--float32", action="store_true", help="compute in float32 throughout, whatever precision the run "
                   "trained in (for CPUs without bfloat16 units, where bfloat16 runs far slower)")
    p.add_argument("--no-host-paths", action="store_true", help="cut each path in assets.extra/acga_provenance.json to "
                   "its last name (the run's folder, its shards, its commands), for a model shipped to others")


def _add_train(sub) -> None:
    p = sub.choices["train"]
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="an experiment JSON file ({\"model\": ..., \"data\": ..., \"training\": "
                        "...}, flat fields, or {\"preset\": NAME, ...}); this or --preset is required")
    source.add_argument("--preset", help="one of " + ", ".join(EXPERIMENTS) + "; this or --config is required")
    p.add_argument("--data", help="glob of training shards, e.g. 'data/a2d/train-*.tfrecord' (required)")
    p.add_argument("--val-data", help="glob of validation shards, evaluated after every epoch")
    p.add_argument("--output", default="runs/acga", help="run directory (default: runs/acga)")
    p.add_argument("--epochs", type=count_argument, help="epochs (default: the config's)")
    p.add_argument("--batch-size", type=count_argument, help="batch size per replica (default: the config's)")
    p.add_argument("--steps-per-epoch", type=count_argument,
                   help="optimizer steps per epoch (default: samples // batch)")
    p.add_argument("--word-vectors", help="word2vec / GloVe file (default: random vectors, a warning)")
    p.add_argument("--init-weights", metavar="PATH", help="start from these weights: DeepMind's Kinetics I3D "
                   "checkpoint (rgb_imagenet/model.ckpt; the video encoder), a .weights.h5 file (acga "
                   "convert-weights), or a run directory or .keras file to fine-tune (default: fresh weights)")
    p.add_argument("--feature-cache", action="store_true",
                   help="run the frozen I3D blocks once into OUTPUT/feature_cache and train only the rest")
    p.add_argument("--backup-every", type=count_argument, default=DEFAULT_BACKUP_EVERY,
                   help=f"optimizer steps between backups a killed run resumes from (default: {DEFAULT_BACKUP_EVERY}; "
                        "one is also written at every epoch's end)")
    p.add_argument("--resume", action="store_true", help="train a finished run in --output further, from its backup "
                   "(--epochs is the new total)")
    p.add_argument("--overwrite", action="store_true", help="remove the run files already in --output and start over")
    p.add_argument("--no-progress", action="store_true",
                   help="no live progress bar: one line per epoch, as into a file or a pipe")
    p.add_argument("--mixed-precision", nargs="?", const="auto", default=None, choices=("auto", *POLICIES),
                   metavar="POLICY",
                   help="alone or `auto`: mixed_float16 (loss-scaled) on a GPU; on a CPU mixed_bfloat16_head (I3D in "
                        "float32, the rest in mixed_bfloat16) where it convolves faster in bfloat16, else float32 (the "
                        "choice and why are printed); or one of " + ", ".join(POLICIES) + " (default: float32; "
                        "with --resume, or the same command after a stop: the run's; mixed_float16 needs a GPU "
                        "under TensorFlow)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (VALUE parsed as JSON, else a string); repeatable")


def _add_evaluate(sub) -> None:
    p = sub.choices["evaluate"]
    p.add_argument("--model", required=True, help="a trained run directory, its model.keras, a checkpoint, or the "
                                                  "run's checkpoints folder (each epoch scored: one row each)")
    p.add_argument("--data", required=True, help="glob of shards, e.g. 'data/a2d/test-*.tfrecord'")
    p.add_argument("--output-csv", help="write one row per sample (IoU at the original resolution); '-': to "
                                        "standard output, the table then on stderr")
    p.add_argument("--output-json", help="write the scores with what was scored (model, shards, version, time), to "
                                         "compare runs by; '-': to standard output, the table then on stderr")
    p.add_argument("--batch-size", type=count_argument, default=8, help="samples per forward pass (default: 8)")
    p.add_argument("--word-vectors", help="word vectors, only for a bare .keras model without vocabulary")
    p.add_argument("--by-class", action="store_true", help="also the table by A2D actor and by action (A2D shards "
                                                           "that record classes; docs/evaluation.md#by-class)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_app(sub) -> None:
    p = sub.choices["app"]
    p.add_argument("--model", required=True, help="any artifact acga predict takes (the attention figure needs a run "
                   "directory or a .keras file)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    p.add_argument("--max-frames", type=int, default=MAX_FRAMES,
                   help=f"the most frames a video may have (default: {MAX_FRAMES}; 0: no limit)")
    p.add_argument("--max-upload-mb", type=int, default=MAX_UPLOAD_MB,
                   help=f"the largest upload, in MB (default: {MAX_UPLOAD_MB})")
    p.add_argument("--max-sentences", type=int, default=MAX_SENTENCES,
                   help=f"the most sentences a request may have (default: {MAX_SENTENCES}, one overlay colour each; 0: "
                        "no limit)")
    p.add_argument("--max-pixels", type=int, default=MAX_PIXELS,
                   help=f"the most pixels a frame may have, width x height (default: {MAX_PIXELS:,}, 4K UHD; 0: up to "
                        "8K UHD, the reader's bound)")


_SUBCOMMANDS = [_add_demo, _add_params, _add_prepare, _add_convert_weights, _add_predict, _add_visualize, _add_export,
               _add_train, _add_evaluate, _add_app]
