"""Tests of sssd_hf.plotting: ECG paper scale, layout, labels, calibration and bad inputs."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from sssd_hf.leads import STANDARD_LEADS
from sssd_hf.plotting import (
    MAJOR_GRID_COLOR,
    STANDARD_LAYOUT,
    figure_to_png_bytes,
    paper_layout,
    plot_ecg,
    save_ecg_png,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"  # real records vendored from ../shared/data
FS = 100


def synthetic_ecg(seconds: float = 10.0, fs: int = FS, seed: int = 0) -> np.ndarray:
    """(12, L) mV: a 1 Hz train of narrow 1 mV 'QRS' spikes, a different offset per lead."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    spikes = np.exp(-(((t % 1.0) - 0.3) ** 2) / (2 * 0.02**2))
    return np.stack([spikes * (0.5 + 0.1 * i) + 0.02 * rng.standard_normal(t.size) for i in range(12)]).astype(
        np.float32
    )


def artists_by_gid(fig, gid):
    return [a for a in fig.axes[0].get_children() if a.get_gid() == gid]


def test_png_has_the_paper_size_at_25_mm_per_s():
    fig = plot_ecg(synthetic_ecg(), FS, dpi=100)
    layout = paper_layout(1000, FS)
    # 10 s at 25 mm/s = 250 mm of trace plus the calibration margin, rounded to a 5 mm line.
    assert layout.grid_width == 265.0
    image = Image.open(io.BytesIO(figure_to_png_bytes(fig)))
    assert image.size == layout.pixel_size(100) == (1043, 500)  # 265 x 127 mm at 100 dpi
    # Twice the dpi gives twice the pixels: the page size is physical.
    image2 = Image.open(io.BytesIO(figure_to_png_bytes(fig, dpi=200)))
    assert abs(image2.size[0] - 2 * image.size[0]) <= 1


def test_grid_lines_every_mm_and_every_5_mm():
    fig = plot_ecg(synthetic_ecg(), FS)
    layout = paper_layout(1000, FS)
    (minor,) = artists_by_gid(fig, "grid-minor")
    (major,) = artists_by_gid(fig, "grid-major")
    nx, ny = int(layout.grid_width), int(layout.grid_height)
    assert len(major.get_segments()) == (nx // 5 + 1) + (ny // 5 + 1)
    assert len(minor.get_segments()) == (nx + 1) + (ny + 1) - len(major.get_segments())
    vertical_x = sorted(seg[0][0] for seg in major.get_segments() if seg[0][0] == seg[1][0])
    assert np.allclose(np.diff(vertical_x), 5.0)
    # The red major grid is visible in the rendered pixels.
    pixels = np.asarray(Image.open(io.BytesIO(figure_to_png_bytes(fig))).convert("RGB"), dtype=float) / 255
    close_to_major = np.all(np.abs(pixels - np.array(to_rgb(MAJOR_GRID_COLOR))) < 0.12, axis=-1)
    assert close_to_major.mean() > 0.02


def test_all_twelve_lead_labels_and_rhythm_strip():
    fig = plot_ecg(synthetic_ecg(), FS, title="NORM - normal ECG")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert set(STANDARD_LEADS) <= set(texts)
    assert texts.count("II") == 2  # in the 3 x 4 block and on the rhythm strip
    assert "NORM - normal ECG" in texts
    assert any("25 mm/s" in t and "10 mm/mV" in t for t in texts)
    (rhythm,) = artists_by_gid(fig, "rhythm-II")
    x = rhythm.get_xdata()
    assert x[-1] - x[0] == pytest.approx(9.99 * 25.0)  # full 10 s on the strip


def test_calibration_pulse_is_1_mv_by_200_ms_on_every_row():
    fig = plot_ecg(synthetic_ecg(), FS)
    pulses = artists_by_gid(fig, "calibration")
    assert len(pulses) == 4
    for pulse in pulses:
        y, x = np.asarray(pulse.get_ydata()), np.asarray(pulse.get_xdata())
        assert y.max() - y.min() == pytest.approx(10.0)  # 1 mV at 10 mm/mV
        top = x[y == y.max()]
        assert top.max() - top.min() == pytest.approx(5.0)  # 0.2 s at 25 mm/s


def test_amplitude_and_time_scale_of_each_segment():
    signal = np.zeros((12, 1000), dtype=np.float32)
    signal[STANDARD_LEADS.index("V1")] = 1.0  # constant 1 mV
    fig = plot_ecg(signal, FS, amplitude_gain=10.0, paper_speed=25.0)
    layout = paper_layout(1000, FS)
    for row, names in enumerate(STANDARD_LAYOUT):
        for col, name in enumerate(names):
            (line,) = artists_by_gid(fig, f"trace-{name}")
            x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
            assert x[0] == pytest.approx(layout.trace_x0 + col * 2.5 * 25.0)  # column = 2.5 s
            assert len(x) == 250
            expected = layout.baseline(row) + (10.0 if name == "V1" else 0.0)
            assert np.allclose(y, expected)


def test_lead_order_and_case_do_not_matter():
    signal = synthetic_ecg()
    order = np.random.default_rng(1).permutation(12)
    names = [STANDARD_LEADS[i].lower() for i in order]
    a = plot_ecg(signal, FS)
    b = plot_ecg(signal[order], FS, lead_names=names)
    for name in STANDARD_LEADS:
        (la,) = artists_by_gid(a, f"trace-{name}")
        (lb,) = artists_by_gid(b, f"trace-{name}")
        assert np.array_equal(la.get_ydata(), lb.get_ydata())


@pytest.mark.parametrize(
    "signal, names, message",
    [
        (np.zeros((12, 1000)), STANDARD_LEADS[:11], "12 leads but 11"),
        (np.zeros((1000,)), STANDARD_LEADS, "shape"),
        (np.zeros((2, 1000)), ["MLII", "V5"], "missing"),
        (np.zeros((12, 3)), STANDARD_LEADS, "samples"),
    ],
)
def test_bad_shapes_and_leads_are_named(signal, names, message):
    with pytest.raises(ValueError, match=message):
        plot_ecg(signal, FS, lead_names=names)


def test_nan_signal_names_the_lead_and_writes_nothing(tmp_path):
    signal = synthetic_ecg()
    signal[STANDARD_LEADS.index("V3"), 10] = np.nan
    with pytest.raises(ValueError, match="V3"):
        save_ecg_png(signal, tmp_path / "ecg.png", FS)
    assert list(tmp_path.iterdir()) == []


def test_bad_sampling_rate():
    with pytest.raises(ValueError, match="sampling_rate"):
        plot_ecg(synthetic_ecg(), 0)


def test_save_ecg_png_writes_a_png(tmp_path):
    path = save_ecg_png(synthetic_ecg(), tmp_path / "sub" / "ecg.png", FS, title="AFIB")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["ecg.png"]


def test_module_does_not_touch_pyplot_or_the_backend():
    import matplotlib

    import sssd_hf.plotting as plotting

    backend, rc = matplotlib.get_backend(), dict(matplotlib.rcParams)
    pyplot = sys.modules.get("matplotlib.pyplot")
    open_figures = pyplot.get_fignums() if pyplot else []
    figure_to_png_bytes(plot_ecg(synthetic_ecg(), FS))
    assert matplotlib.get_backend() == backend
    assert dict(matplotlib.rcParams) == rc
    if pyplot:  # our figures are never registered with pyplot (no leak, no GUI window)
        assert pyplot.get_fignums() == open_figures
    assert not any(getattr(v, "__name__", "") == "matplotlib.pyplot" for v in vars(plotting).values())


def test_real_ptb_record_with_lowercase_and_frank_leads():
    record_path = FIXTURES / "ptb" / "s0010_re"  # the first 10 s of the real record
    from sssd_hf.data.wfdb_io import read_wfdb_record

    record = read_wfdb_record(record_path)
    assert record.signal.shape[0] == 15  # 12 standard leads (lower case) + vx, vy, vz
    fig = plot_ecg(record.signal, record.sampling_rate, lead_names=record.lead_names, max_seconds=10.0)
    (rhythm,) = artists_by_gid(fig, "rhythm-II")
    assert len(rhythm.get_xdata()) == 10_000  # 10 s at 1000 Hz, not the whole 38.4 s
    image = Image.open(io.BytesIO(figure_to_png_bytes(fig)))
    assert image.size == paper_layout(10_000, 1000).pixel_size(100)


def _real_ptbxl_record_scaled(r_wave_mv: float) -> np.ndarray:
    """Real PTB-XL record 1 (tests/fixtures, 100 Hz, mV) scaled so its largest |sample| is ``r_wave_mv``."""
    import wfdb

    signal = wfdb.rdrecord(str(FIXTURES / "ptbxl" / "records100" / "00000" / "00001_lr")).p_signal.T
    signal = signal - np.median(signal, axis=1, keepdims=True)
    return signal * (r_wave_mv / np.abs(signal).max())


def test_a_5_7_mv_r_wave_gets_a_smaller_gain_and_is_not_clipped():
    signal = _real_ptbxl_record_scaled(5.7)
    fig = plot_ecg(signal, 100)
    assert fig.ecg_gain in (5.0, 2.5) and fig.ecg_clipped == []
    assert not [a for a in fig.axes[0].get_children() if str(a.get_gid()).startswith("clipped-")]
    layout = paper_layout(1000, 100)
    for row, names in enumerate(STANDARD_LAYOUT):
        for name in names:
            (line,) = artists_by_gid(fig, f"trace-{name}")
            y = np.asarray(line.get_ydata())
            assert np.abs(y - layout.baseline(row)).max() <= layout.row_height + 1e-9  # the largest wave fits its rows
            assert 0.0 < y.min() and y.max() < layout.grid_height  # never at the grid edge
    (scale,) = artists_by_gid(fig, "scale")
    assert f"{fig.ecg_gain:g} mm/mV" in scale.get_text() and "gain reduced to fit" in scale.get_text()
    pulse = artists_by_gid(fig, "calibration")[0]
    assert np.ptp(pulse.get_ydata()) == pytest.approx(fig.ecg_gain)  # 1 mV at the printed gain
    assert plot_ecg(_real_ptbxl_record_scaled(1.5), 100).ecg_gain == 10.0  # an ordinary ECG keeps 10 mm/mV


def test_clipping_at_a_fixed_gain_is_marked():
    fig = plot_ecg(_real_ptbxl_record_scaled(5.7), 100, amplitude_gain=10.0)
    assert fig.ecg_gain == 10.0 and fig.ecg_clipped
    lead = fig.ecg_clipped[0].replace("rhythm ", "")
    assert artists_by_gid(fig, f"clipped-{lead}")
    (scale,) = artists_by_gid(fig, "scale")
    assert "CLIPPED" in scale.get_text()
    huge = plot_ecg(_real_ptbxl_record_scaled(40.0), 100)  # beyond what 2.5 mm/mV fits: marked, not hidden
    assert huge.ecg_gain == 2.5 and huge.ecg_clipped
    with pytest.raises(ValueError, match="amplitude_gain"):
        plot_ecg(_real_ptbxl_record_scaled(1.0), 100, amplitude_gain="big")
