"""Bad input tried as a user would: every case, what it gets, and the table in docs/reliability.md.

Each :class:`Case` is a command line run through :func:`xpz.cli.main` against
files this module makes (a small simulated table, the real Gaia archive files
in ``tests/data/gaia_archive``, the default and the paper model).  The test
checks the exit code, that any error is one line with the expected words, that
the inputs are untouched and, for catalogues, that every input row comes out.

``python scripts/reliability_table.py`` reruns these cases and writes what each
one printed into ``docs/reliability.md``; a test checks that the table there
lists every case, so the documentation cannot drift from the tests.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from xpz.cli import main

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "tests" / "data" / "gaia_archive"
TABLE_DOC = ROOT / "docs" / "reliability.md"
#: Set to a path to have the observed outcomes written there as a markdown table.
TABLE_ENV = "XPZ_RELIABILITY_TABLE"


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad input: the command line (placeholders in braces), and what must happen."""

    id: str
    description: str
    argv: tuple[str, ...]
    rc: int
    #: Words the one-line error (rc 2) or the output (rc 0) must contain.
    expect: str = ""
    #: For rc 0 with a catalogue: how many rows it must hold.
    rows: int | None = None
    #: Makes the bad input in the workspace before the run.
    prepare: Callable[[Path], None] | None = None
    #: Replaces what the run would reach outside this machine (the Gaia archive).
    patch: Callable[[pytest.MonkeyPatch], None] | None = None


def _write(name: str, text: str) -> Callable[[Path], None]:
    def prepare(ws: Path) -> None:
        (ws / name).write_text(text)

    return prepare


def _edit_model_json(key: str, value: float) -> Callable[[Path], None]:
    def prepare(ws: Path) -> None:
        shutil.copytree(ws / "default", ws / "edited", dirs_exist_ok=True)
        path = ws / "edited" / "model.json"
        record = json.loads(path.read_text())
        record["model"][key] = value
        path.write_text(json.dumps(record))

    return prepare


def _bad_rows(ws: Path) -> None:
    """s.csv with a NaN flux (row 4), an all-zero spectrum (row 7) and a missing BP band (row 9)."""
    from xpz.io.tables import read_spectra, write_spectra
    from xpz.layout import N_BP

    spectra = read_spectra(ws / "s.csv")
    flux = spectra.flux.copy()
    flux[4, 100] = np.nan
    flux[7] = 0.0
    flux[9, :N_BP] = np.nan
    write_spectra(spectra.replace(flux=flux), ws / "bad_rows.csv")


def _implausible(ws: Path) -> None:
    """s.csv with every flux of row 2 negative and row 5 scaled to 1e30."""
    from xpz.io.tables import read_spectra, write_spectra

    spectra = read_spectra(ws / "s.csv")
    flux = spectra.flux.copy()
    flux[2] = -np.abs(flux[2])
    flux[5] = 1e30
    write_spectra(spectra.replace(flux=flux), ws / "implausible.csv")


def _same_sources(ws: Path) -> None:
    shutil.copy(ARCHIVE / "XP_CONTINUOUS_RAW.csv", ws / "more.csv")


def _header_only_xp(ws: Path) -> None:
    lines = (ARCHIVE / "XP_CONTINUOUS_RAW.csv").read_text().splitlines()
    (ws / "header_only.csv").write_text(lines[0] + "\n")


def _xp_sampled(ws: Path) -> None:
    """A file laid out as the archive's XP_SAMPLED product (fluxes at 343 wavelengths)."""
    cells = '"(' + ", ".join(["1e-16"] * 343) + ')"'
    rows = ["source_id,solution_id,ra,dec,flux,flux_error"]
    rows += [
        f"{5853498713190525696 + i},375316653866487564,10.0,-5.0,{cells},{cells}" for i in (0, 1)
    ]
    (ws / "xp_sampled.csv").write_text("\n".join(rows) + "\n")


def _not_safetensors(ws: Path) -> None:
    """A model whose weights file is not safetensors, its checksums updated to match."""
    import hashlib

    from xpz.models.modelfile import config_sha256

    shutil.copytree(ws / "default", ws / "broken")
    weights = ws / "broken" / "model.safetensors"
    weights.write_bytes(b"this is not a safetensors file")
    record = json.loads((ws / "broken" / "model.json").read_text())
    record["weights"]["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    record["integrity"]["sha256"] = config_sha256(record)
    (ws / "broken" / "model.json").write_text(json.dumps(record))


def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Gaia archive unreachable (DNS fails), with retries that do not wait."""
    import socket

    import xpz.io.archive.fetch as fetch_module
    from xpz.io.archive.retry import RetryPolicy

    class Offline:
        def query(self, adql, upload=None):
            raise socket.gaierror(-2, "Name or service not known")

        def load_xp_continuous(self, ids):
            raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(fetch_module, "default_client", Offline)
    monkeypatch.setattr(fetch_module, "DEFAULT_RETRY", RetryPolicy(attempts=3, first_delay_s=0.0))


def _labels(z_of_row3: float) -> Callable[[Path], None]:
    def prepare(ws: Path) -> None:
        from xpz.io.tables import read_spectra, write_spectra

        spectra = read_spectra(ws / "s.csv")
        z = spectra.z.copy()
        z[3] = z_of_row3
        write_spectra(spectra.replace(z=z), ws / "labels.csv")

    return prepare


CASES = (
    Case(
        "predict-replaces-input",
        "`xpz predict` whose output is its own input",
        ("predict", "{ws}/default", "{ws}/s.csv", "-o", "{ws}/s.csv"),
        2,
        "would replace the input",
    ),
    Case(
        "predict-into-input-folder",
        "catalogue written inside a folder given as input",
        ("predict", "{ws}/default", "{ws}/gaia", "-o", "{ws}/gaia/cat.parquet"),
        2,
        "inside the input folder",
    ),
    Case(
        "output-is-directory",
        "`-o` naming an existing directory where a file is written",
        ("predict", "{ws}/default", "{ws}/s.csv", "-o", "{ws}/gaia"),
        2,
        "is a directory",
    ),
    Case(
        "output-empty",
        '`-o ""`',
        ("predict", "{ws}/default", "{ws}/s.csv", "-o", ""),
        2,
        "needs a name",
    ),
    Case(
        "train-over-data",
        "`xpz train DATA -o DATA`",
        ("train", "{ws}/s.csv", "-o", "{ws}/s.csv"),
        2,
        "would replace the input",
    ),
    Case(
        "evaluate-over-data",
        "`xpz evaluate MODEL DATA -o DATA`",
        ("evaluate", "{ws}/default", "{ws}/s.csv", "-o", "{ws}/s.csv"),
        2,
        "would replace the input",
    ),
    Case(
        "unwritable-directory",
        "output in a directory nobody may write (sysfs)",
        ("simulate", "-n", "3", "--seed", "1", "-o", "/sys/xpz-reliability.parquet"),
        2,
        "cannot write here",
    ),
    Case(
        "simulate-impossible-cut",
        "`xpz simulate --g-limit 5` (no galaxy is that bright)",
        ("simulate", "-n", "20", "--seed", "1", "--g-limit", "5", "-o", "{ws}/sim.parquet"),
        2,
        "too few for 20 spectra",
    ),
    Case(
        "evaluate-nan-labels",
        "`xpz evaluate` on labels with a NaN redshift",
        ("evaluate", "{ws}/default", "{ws}/labels.csv", "-o", "{ws}/eval"),
        2,
        "column 'z', row 3: redshift is NaN",
        prepare=_labels(float("nan")),
    ),
    Case(
        "evaluate-labels-out-of-range",
        "`xpz evaluate` on labels outside [0, 0.6]",
        ("evaluate", "{ws}/default", "{ws}/labels.csv", "-o", "{ws}/eval"),
        2,
        "column 'z', row 3: redshift outside [0.0, 0.6]",
        prepare=_labels(0.9),
    ),
    Case(
        "predict-bad-rows",
        "rows with a NaN flux, an all-zero spectrum and a missing band, default model",
        ("predict", "{ws}/default", "{ws}/bad_rows.csv", "-o", "{ws}/cat.parquet", "--no-progress"),
        0,
        "NO_ESTIMATE: 3",
        rows=30,
        prepare=_bad_rows,
    ),
    Case(
        "predict-implausible",
        "all fluxes negative (one row), all 1e30 (another)",
        (
            "predict",
            "{ws}/default",
            "{ws}/implausible.csv",
            "-o",
            "{ws}/cat.parquet",
            "--no-progress",
        ),
        0,
        "IMPLAUSIBLE_FLUX: 2",
        rows=30,
        prepare=_implausible,
    ),
    Case(
        "predict-same-sources-two-files",
        "the same sources in two input files of one catalogue",
        (
            "predict",
            "{ws}/default",
            "{ws}/gaia",
            "{ws}/more.csv",
            "-o",
            "{ws}/cat.parquet",
            "--no-progress",
        ),
        2,
        "duplicate source_id",
        prepare=_same_sources,
    ),
    Case(
        "predict-header-only-xp",
        "a header-only XP_CONTINUOUS file",
        (
            "predict",
            "{ws}/default",
            "{ws}/header_only.csv",
            "-o",
            "{ws}/cat.parquet",
            "--no-progress",
        ),
        2,
        "no data rows",
        prepare=_header_only_xp,
    ),
    Case(
        "predict-xp-sampled",
        "the archive's sampled product (XP_SAMPLED / XP_SPECTRA_RAW)",
        (
            "predict",
            "{ws}/default",
            "{ws}/xp_sampled.csv",
            "-o",
            "{ws}/cat.parquet",
            "--no-progress",
        ),
        2,
        "XP_SAMPLED product",
        prepare=_xp_sampled,
    ),
    Case(
        "model-json-edited",
        "`z_max` edited from 0.6 to 0.3 in the default model's model.json",
        ("predict", "{ws}/edited", "{ws}/s.csv", "-o", "{ws}/cat.parquet", "--no-progress"),
        2,
        "checksum mismatch",
        prepare=_edit_model_json("z_max", 0.3),
    ),
    Case(
        "model-weights-not-safetensors",
        "model.safetensors replaced by another file, its checksum updated",
        ("predict", "{ws}/broken", "{ws}/s.csv", "-o", "{ws}/cat.parquet", "--no-progress"),
        2,
        "model.safetensors",
        prepare=_not_safetensors,
    ),
    Case(
        "fetch-offline",
        "`xpz fetch` with the Gaia archive unreachable (DNS fails)",
        ("fetch", "{ws}/fetched", "--limit", "10", "--no-progress"),
        2,
        "cannot be reached",
        patch=_offline,
    ),
    Case(
        "predict-real-archive-files",
        "`xpz predict` on the real archive files (one source lacks BP), default model",
        ("predict", "{ws}/default", "{ws}/gaia", "-o", "{ws}/cat.parquet", "--no-progress"),
        0,
        "wrote 3 rows",
        rows=3,
    ),
    Case(
        "predict-real-archive-files-paper",
        "the same with the paper model",
        ("predict", "{ws}/paper", "{ws}/gaia", "-o", "{ws}/cat.parquet", "--no-progress"),
        0,
        "wrote 3 rows",
        rows=3,
    ),
)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """The default model (xpz preset, small) and the paper model, untrained, saved once."""
    from xpz.models.modelfile import save_model
    from xpz.models.paper import PaperConfig
    from xpz.models.registry import build_model
    from xpz.models.xpznet import XpzNetConfig
    from xpz.recipes import Recipe, xpz_recipe
    from xpz.simulate import simulate

    folder = tmp_path_factory.mktemp("models")
    spectra = simulate(200, seed=11)
    default = xpz_recipe()
    small = XpzNetConfig(conv_filters=(4, 8), conv_kernels=(5, 3), hidden_units=16, n_bins=60)
    for name, recipe in (
        ("default", Recipe(small, default.training, default.scaling, name="xpz")),
        (
            "paper",
            Recipe(
                PaperConfig(conv_filters=(4,), conv_kernels=(5,), dense_units=(8,)),
                default.training,
            ),
        ),
    ):
        scaler = recipe.make_scaler().fit(spectra.flux)
        save_model(folder / name, build_model(recipe.model, seed=0), scaler)
    return folder


@pytest.fixture
def workspace(tmp_path, models) -> Path:
    """Fresh copies of the inputs for one case: models, a sampled CSV, the archive files."""
    from xpz.io.tables import write_spectra
    from xpz.simulate import simulate

    shutil.copytree(models / "default", tmp_path / "default")
    shutil.copytree(models / "paper", tmp_path / "paper")
    write_spectra(simulate(30, seed=5), tmp_path / "s.csv")
    gaia = tmp_path / "gaia"
    gaia.mkdir()
    shutil.copy(ARCHIVE / "XP_CONTINUOUS_RAW_with_missing_BP.fits", gaia)
    return tmp_path


def _read_only(folder: str) -> bool:
    import tempfile

    try:
        fd, name = tempfile.mkstemp(dir=folder)
    except OSError:
        return os.path.isdir(folder)
    os.close(fd)
    os.unlink(name)
    return False


def _snapshot(ws: Path) -> dict[str, bytes]:
    return {str(p.relative_to(ws)): p.read_bytes() for p in sorted(ws.rglob("*")) if p.is_file()}


_OBSERVED: dict[str, tuple[int, str]] = {}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, workspace: Path, capsys, monkeypatch) -> None:
    if case.id == "unwritable-directory" and not _read_only("/sys"):
        pytest.skip("no read-only directory (/sys) here")
    if case.prepare is not None:
        case.prepare(workspace)
    if case.patch is not None:
        case.patch(monkeypatch)
    before = _snapshot(workspace)
    argv = [a.format(ws=workspace) for a in case.argv]
    rc = main(argv)
    out, err = capsys.readouterr()
    if rc:
        line = (err.strip().splitlines() or [""])[-1]
    else:
        line = "; ".join(s.strip() for s in out.strip().splitlines())
    _OBSERVED[case.id] = (rc, line.replace(str(workspace), "…"))
    assert rc == case.rc, err
    if rc == 2:
        assert len(err.strip().splitlines()) == 1, err
        assert line.startswith(f"xpz {argv[0]}: error: ")
    assert case.expect in line, line
    after = _snapshot(workspace)
    changed = [name for name, content in before.items() if after.get(name) != content]
    assert not changed, f"inputs changed: {changed}"
    if case.rows is not None:
        from astropy.table import Table

        catalogue = Table.read(argv[argv.index("-o") + 1])
        assert len(catalogue) == case.rows
        assert len(np.unique(np.asarray(catalogue["source_id"]))) == case.rows


def test_the_documented_table_lists_every_case() -> None:
    text = TABLE_DOC.read_text(encoding="utf-8")
    missing = [c.id for c in CASES if f"`{c.id}`" not in text]
    assert not missing, f"rerun: python scripts/reliability_table.py (missing {missing})"


def pytest_sessionfinish_table() -> str:
    """The observed outcomes as markdown rows (what scripts/reliability_table.py writes)."""
    rows = ["| case | bad input | exit | what the user sees |", "|---|---|---|---|"]
    for case in CASES:
        rc, line = _OBSERVED.get(case.id, (None, "not run"))
        shown = line.replace("|", "\\|")
        rows.append(f"| `{case.id}` | {case.description} | {rc} | `{shown}` |")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module", autouse=True)
def _write_table():
    yield
    target = os.environ.get(TABLE_ENV)
    if target:
        Path(target).write_text(pytest_sessionfinish_table(), encoding="utf-8")
