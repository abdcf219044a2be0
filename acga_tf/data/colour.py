"""HDR video as an SDR picture: what a phone's HLG video (or a PQ one) looks like on an ordinary screen.

A phone records HDR video by default (iPhones since the 12: 10-bit HEVC, BT.2020 primaries, HLG transfer). Its
signal is not the SDR picture the model learnt from: read as it is stored, its reference white sits at 75% and its
colours are squeezed towards grey (BT.2020 primaries read as BT.709's). `sdr_from_hdr` converts it as ITU-R BT.2408
relates the two, by display light: the HDR signal's light on a 1000 cd/m² display (BT.2100), scaled so that HDR's
reference white (203 cd/m²) is SDR's white, turned into BT.709 primaries, and encoded for an SDR display (BT.1886,
gamma 2.4). Colours brighter than reference white are dimmed along their own hue to white's brightness, as an SDR
camera clips them; colours outside BT.709's gamut are clipped per channel. An SDR picture carried in HDR by the
inverse mapping (`hdr_from_sdr`, BT.2408's SDR-to-HDR conversion, which tests and `benchmarks/twins.py` use to make
HDR videos) comes back within a level or two at 16 bits (docs/data.md#videos).
"""

from __future__ import annotations

import concurrent.futures
import functools
import os

import numpy as np

# The transfer characteristics (ISO/IEC 23091-2, FFmpeg's AVColorTransferCharacteristic) converted here.
HDR_TRANSFERS = {16: "pq", 18: "hlg"}
BT709 = 1  # BT.709's number as a matrix, primaries and transfer (AVColorSpace, AVColorPrimaries, ...)

REFERENCE_WHITE = 203.0  # cd/m², HDR's reference white (BT.2408): SDR's 100%
HLG_PEAK = 1000.0  # cd/m², the display HLG is rendered for (BT.2100's reference; system gamma 1.2)
HLG_GAMMA = 1.2
SDR_GAMMA = 2.4  # BT.1886
_HLG_A = 0.17883277
_HLG_B = 1 - 4 * _HLG_A
_HLG_C = 0.5 - _HLG_A * np.log(4 * _HLG_A)
_PQ_M1, _PQ_M2 = 2610 / 16384, 2523 / 4096 * 128
_PQ_C1, _PQ_C2, _PQ_C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
_PRIMARIES = {"bt709": ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060)),
              "bt2020": ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046))}
_D65 = (0.3127, 0.3290)
BAND_ROWS = 64  # `sdr_from_hdr` converts a frame in bands of this many rows
_LIGHT_STEPS = 4096  # SDR light is looked up by its square root at 12 bits: below a level apart down to black


def _to_xyz(primaries: str) -> np.ndarray:
    """The 3 × 3 matrix from linear RGB with the named primaries (D65 white) to CIE XYZ."""
    xy = np.array(_PRIMARIES[primaries])
    columns = np.stack([xy[:, 0] / xy[:, 1], np.ones(3), (1 - xy.sum(1)) / xy[:, 1]])  # XYZ of each primary, Y = 1
    white = np.array([_D65[0] / _D65[1], 1.0, (1 - sum(_D65)) / _D65[1]])
    return columns * np.linalg.solve(columns, white)


@functools.cache
def primaries_matrix(source: str, target: str) -> np.ndarray:
    """The 3 × 3 matrix taking linear RGB in `source`'s primaries to `target`'s ("bt709", "bt2020")."""
    return (np.linalg.inv(_to_xyz(target)) @ _to_xyz(source)).astype(np.float32)


@functools.cache
def _luminance(primaries: str) -> np.ndarray:
    """The weights of R, G, B in luminance Y (the middle row of `_to_xyz`)."""
    return _to_xyz(primaries)[1].astype(np.float32)


def hlg_to_scene(signal: np.ndarray) -> np.ndarray:
    """HLG's inverse OETF (BT.2100): the signal E' in [0, 1] → scene light E in [0, 1]."""
    signal = np.asarray(signal, np.float64)
    high = (np.exp((np.maximum(signal, 0.5) - _HLG_C) / _HLG_A) + _HLG_B) / 12
    return np.where(signal <= 0.5, signal ** 2 / 3, high)


def scene_to_hlg(scene: np.ndarray) -> np.ndarray:
    """HLG's OETF (BT.2100): scene light E in [0, 1] → the signal E'."""
    scene = np.asarray(scene, np.float64)
    high = _HLG_A * np.log(np.maximum(12 * scene - _HLG_B, 1e-12)) + _HLG_C
    return np.where(scene <= 1 / 12, np.sqrt(3 * np.maximum(scene, 0)), high)


def pq_to_light(signal: np.ndarray) -> np.ndarray:
    """PQ's EOTF (SMPTE ST 2084, BT.2100): the signal E' in [0, 1] → display light in cd/m²."""
    power = np.asarray(signal, np.float64) ** (1 / _PQ_M2)
    return 10000 * (np.maximum(power - _PQ_C1, 0) / (_PQ_C2 - _PQ_C3 * power)) ** (1 / _PQ_M1)


def light_to_pq(light: np.ndarray) -> np.ndarray:
    """PQ's inverse EOTF: display light in cd/m² → the signal E'."""
    power = (np.clip(np.asarray(light, np.float64), 0, 10000) / 10000) ** _PQ_M1
    return ((_PQ_C1 + _PQ_C2 * power) / (1 + _PQ_C3 * power)) ** _PQ_M2


@functools.cache
def _signal_table(transfer: str) -> np.ndarray:
    """float32 (65536,): the linear value of each 16-bit signal level: HLG's scene light, PQ's display light over
    reference white. (At 12 bits, a saturated colour's dark channel came back up to 11 levels off: BT.709's channels
    are differences of BT.2020's, and gamma 2.4 is steep near black.)"""
    signal = np.arange(65536) / 65535
    table = hlg_to_scene(signal) if transfer == "hlg" else pq_to_light(signal) / REFERENCE_WHITE
    return table.astype(np.float32)


@functools.cache
def _sdr_table() -> np.ndarray:
    """uint8 (_LIGHT_STEPS,): the SDR level of light q² (relative to white) for q in [0, 1] (BT.1886's inverse)."""
    root = np.arange(_LIGHT_STEPS) / (_LIGHT_STEPS - 1)
    return np.round(255 * root ** (2 / SDR_GAMMA)).astype(np.uint8)


def sdr_from_hdr(image: np.ndarray, transfer: str, primaries: str = "bt2020") -> np.ndarray:
    """An HDR frame's RGB signal → the SDR picture of it (BT.2408's display-light mapping; the module's docstring).

    Args:
        image: uint16 (H, W, 3) RGB signal, full range (0..65535), as FFmpeg converts the YUV frame (`rgb48le`).
        transfer: "hlg" or "pq".
        primaries: the signal's: "bt2020" (HDR video's) or "bt709".

    Returns:
        uint8 (H, W, 3) RGB, BT.709 primaries, for an SDR (gamma 2.4) display.
    """
    if transfer not in ("hlg", "pq"):
        raise ValueError(f"transfer must be 'hlg' or 'pq', got {transfer!r}")
    out = np.empty(image.shape, np.uint8)
    # In bands of rows that stay in the CPU's cache, on every core (numpy lets go of the GIL): 1080p HLG took 51 ms
    # whole, 32 ms in bands and 21 ms in bands on two cores (a 2-core AMD EPYC).
    bands = [slice(top, top + BAND_ROWS) for top in range(0, image.shape[0], BAND_ROWS)]
    list(_pool(os.getpid()).map(lambda rows: _sdr_band(image[rows], transfer, primaries, out[rows]), bands))
    return out


@functools.cache
def _pool(process: int) -> concurrent.futures.ThreadPoolExecutor:
    """The threads of `process` (a process forked after the pool was made has its own, not the parent's dead ones)."""
    return concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1), thread_name_prefix="sdr_from_hdr")


def _sdr_band(image: np.ndarray, transfer: str, primaries: str, out: np.ndarray) -> None:
    """`sdr_from_hdr` of some rows, written into `out`."""
    # Channel by channel (contiguous planes are several times faster than (H, W, 3) arithmetic in numpy).
    table = _signal_table(transfer)
    signal = [table[image[..., k]] for k in range(3)]  # linear, (H, W) float32 each
    if primaries == "bt709":
        light = signal  # scaled in place at the end, after HLG's luminance is taken from `signal`
    else:
        matrix = primaries_matrix(primaries, "bt709")
        light = [sum(matrix[k, j] * signal[j] for j in range(3)) for k in range(3)]
    scale = np.maximum(np.maximum(light[0], light[1]), light[2])  # the brightest channel
    if transfer == "hlg":  # the OOTF: display light = peak · Ys^(γ - 1) · E, in units of reference white
        weights = _luminance(primaries)
        gain = np.power(sum(w * e for w, e in zip(weights, signal)), HLG_GAMMA - 1, dtype=np.float32)
        gain *= HLG_PEAK / REFERENCE_WHITE
        scale *= gain
        scale = gain / np.maximum(scale, 1.0)  # brighter than white: dimmed along its hue
    else:
        scale = 1.0 / np.maximum(scale, 1.0)
    sdr = _sdr_table()
    for k in range(3):
        steps = light[k]
        steps *= scale
        np.maximum(steps, 0.0, out=steps)  # outside BT.709's gamut
        np.sqrt(steps, out=steps)
        steps *= _LIGHT_STEPS - 1
        steps += 0.5
        out[..., k] = sdr[steps.astype(np.uint16)]


def hdr_from_sdr(image: np.ndarray, transfer: str) -> np.ndarray:
    """An SDR picture carried in HDR (BT.2408's display-light mapping, the inverse of `sdr_from_hdr` for colours in
    BT.709's gamut and no brighter than white): SDR white becomes HDR's reference white.

    Args:
        image: uint8 (..., 3) RGB, BT.709 primaries, for an SDR (gamma 2.4) display.
        transfer: "hlg" or "pq".

    Returns:
        float64 (..., 3) RGB signal in [0, 1], BT.2020 primaries (encode it as 10-bit video tagged BT.2020 and the
        transfer, e.g. PyAV's `VideoFrame.from_ndarray(..., format="rgb48le")`).
    """
    if transfer not in ("hlg", "pq"):
        raise ValueError(f"transfer must be 'hlg' or 'pq', got {transfer!r}")
    light = (np.asarray(image, np.float64) / 255) ** SDR_GAMMA @ primaries_matrix("bt709", "bt2020").T.astype(
        np.float64)
    light = np.maximum(light, 0) * REFERENCE_WHITE  # cd/m²
    if transfer == "pq":
        return light_to_pq(light)
    # The inverse OOTF: Ys = (Yd / peak)^(1 / γ), E = light / (peak · Ys^(γ - 1)).
    scene_y = (light @ _luminance("bt2020").astype(np.float64) / HLG_PEAK) ** (1 / HLG_GAMMA)
    scene = light / HLG_PEAK * np.maximum(scene_y, 1e-12)[..., None] ** (1 - HLG_GAMMA)
    return scene_to_hlg(np.clip(scene, 0, 1))
